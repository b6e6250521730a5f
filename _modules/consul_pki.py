"""
TLS certificates of the Consul agents, signed with the site's CA where templates render, or by
the salt-master.

The CA's private key is a file on the machine that renders (``secrets:consul:ca:key_file``;
see docs/secrets.md), never pillar: every pillar value reaches the hosts it is given to. So the
agents' certificates are signed there, while their configuration renders, and a host receives
only the CA certificate, its own certificate and its own key. Under salt-ssh this module runs
as a wrapper module on the operator's machine (``_wrapper/consul_pki.py`` is a link to it); a
masterless host that holds the key is its own renderer. Under a salt-master, minions render
their own templates and must not hold the key: the master issues each minion's pair as an
external pillar (``_pillar/consul_pki.py`` is a link to this file, see ext_pillar), and
agent_certificate, which the consul formula calls, takes the pair from pillar
``consul_pki:agent`` when the master gave one.

Issued pairs are kept next to the CA key, ``consul-certs/<datacenter>/<node>.pem`` and
``.key``, and given again unchanged while they still fit (same CA, same names, not about to
expire), so that a second highstate changes nothing. salt-ssh renders hosts in parallel
processes: a lock on ``consul-certs/.lock`` makes them check and issue one at a time.

The private functions take plain data (keys, certificates, paths, a clock) so that signing
and the reuse rules are tested without a loader; the public functions read ``__pillar__``.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import ipaddress
import logging
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import salt.utils.data
from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    CRYPTOGRAPHY_ERROR = None
except ImportError as err:
    CRYPTOGRAPHY_ERROR = str(err)

__virtualname__ = "consul_pki"

log = logging.getLogger(__name__)

KEY_FILE_PILLAR = "secrets:consul:ca:key_file"
CERT_PILLAR = "secrets:consul:ca:cert"
# Where the salt-master's external pillar puts the pair of the minion that asks.
AGENT_PILLAR = "consul_pki:agent"
# Consul's domain, as the consul formula reads it (its defaults.yaml says consul).
DOMAIN_PILLAR = "consul:tls:domain"
# The command that makes the site's secrets (platform_secrets, docs/secrets.md).
SECRETS_COMMAND = "scripts/secrets init pillar"
STORE_DIRECTORY = "consul-certs"
LOCK_FILE = ".lock"
VALIDITY = datetime.timedelta(days=365)
# A clock a little behind this machine's still accepts the certificate from the start.
BACKDATE = datetime.timedelta(minutes=5)
RENEW_BEFORE = datetime.timedelta(days=60)
# Node and datacenter name the cached files: one path component each.
PATH_COMPONENT = re.compile(r"[A-Za-z0-9_-]+")
DOMAIN = re.compile(r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")


def __virtual__():
    if CRYPTOGRAPHY_ERROR is not None:
        return False, f"consul_pki needs the Python package cryptography: {CRYPTOGRAPHY_ERROR}"
    return __virtualname__


def _check_path_component(what: str, value: Any) -> None:
    if not isinstance(value, str) or not PATH_COMPONENT.fullmatch(value):
        raise SaltInvocationError(
            f"{what} is {value!r}: use letters, digits, '-' and '_' only (it names the "
            "certificate's cached files)"
        )


def _ip_addresses(addresses: Any) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """127.0.0.1, then ``addresses`` in their order, each once."""
    if not isinstance(addresses, list | tuple):
        raise SaltInvocationError(
            f"addresses is a {type(addresses).__name__}: pass a list of the agent's IP addresses"
        )
    parsed = [ipaddress.ip_address("127.0.0.1")]
    for address in addresses:
        try:
            # As text: ip_address() would take an integer as an address too.
            parsed.append(ipaddress.ip_address(str(address)))
        except ValueError as err:
            raise SaltInvocationError(
                f"address {address!r} is not an IP address: pass the agent's IPv4 (10.0.1.11) "
                "or IPv6 (fd00::11) addresses"
            ) from err
    return list(dict.fromkeys(parsed))


def _common_name(datacenter: str, server: bool, domain: str) -> str:
    return f"{'server' if server else 'client'}.{datacenter}.{domain}"


def _subject_alt_names(
    node: str, datacenter: str, server: bool, addresses: Any, domain: str
) -> list[x509.GeneralName]:
    """The names Consul's TLS checks (``verify_server_hostname``), localhost and addresses."""
    dns_names = [_common_name(datacenter, server, domain)]
    if server:
        dns_names.append(f"{node}.server.{datacenter}.{domain}")
    dns_names.append("localhost")
    return [x509.DNSName(name) for name in dns_names] + [
        x509.IPAddress(address) for address in _ip_addresses(addresses)
    ]


def _authority_key_identifier(ca_cert: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """The CA's own key identifier, which a verifier matches; computed if the CA has none."""
    try:
        identifier = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_cert.public_key())
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(identifier.value)


def _issue(
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    node: str,
    datacenter: str,
    server: bool,
    addresses: Any,
    domain: str,
    now: datetime.datetime,
) -> tuple[str, str]:
    """A new key and its certificate, signed by the CA and valid for VALIDITY from ``now``:
    (certificate PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    common_name = _common_name(datacenter, server, domain)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=True,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    extended_usage = x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    names = _subject_alt_names(node, datacenter, server, addresses, domain)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now - BACKDATE + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(extended_usage, critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(_authority_key_identifier(ca_cert), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def _same_public_key(one: Any, other: Any) -> bool:
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return one.public_bytes(*der) == other.public_bytes(*der)


def _reusable(
    cert_pem: str,
    key_pem: str,
    ca_cert: x509.Certificate,
    wanted_names: list[x509.GeneralName],
    now: datetime.datetime,
) -> bool:
    """Whether a cached pair may be given again: signed by this CA, of this key, with the
    names wanted now, and valid for more than RENEW_BEFORE."""
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem.encode())
        key = serialization.load_pem_private_key(key_pem.encode(), password=None)
        certificate.verify_directly_issued_by(ca_cert)
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (ValueError, TypeError, UnsupportedAlgorithm, InvalidSignature, x509.ExtensionNotFound):
        return False
    return (
        _same_public_key(certificate.public_key(), key.public_key())
        and set(names.value) == set(wanted_names)
        and certificate.not_valid_after_utc - now > RENEW_BEFORE
    )


def _private_directory(path: Path) -> None:
    try:
        path.mkdir(mode=0o700, exist_ok=True)
        path.chmod(0o700)
    except OSError as err:
        raise CommandExecutionError(f"cannot make {path} (mode 0700): {err.strerror}") from err


def _write_private(path: Path, content: str) -> None:
    """Write ``content`` to a temporary file (0600) beside ``path`` and rename it over
    ``path``: a reader sees the old file or the new one, never a part."""
    try:
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(descriptor, "w") as stream:
                stream.write(content)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError as err:
        raise CommandExecutionError(f"cannot write {path}: {err.strerror}") from err


def _read_cached(cert_file: Path, key_file: Path) -> tuple[str, str] | None:
    """The cached pair as written, or None if a file is missing or unreadable."""
    try:
        return cert_file.read_text(encoding="ascii"), key_file.read_text(encoding="ascii")
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def _locked(store: Path) -> Iterator[None]:
    """Hold the store: another render process waits rather than issue a second pair."""
    try:
        descriptor = os.open(store / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as err:
        raise CommandExecutionError(f"cannot lock {store / LOCK_FILE}: {err.strerror}") from err
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _cached_or_issued(
    store: Path,
    ca_key: ec.EllipticCurvePrivateKey,
    ca_cert: x509.Certificate,
    node: str,
    datacenter: str,
    server: bool,
    addresses: Any,
    domain: str,
    now: datetime.datetime,
) -> tuple[str, str]:
    """(certificate PEM, key PEM) of ``node``: the cached pair if reusable, else a new one,
    cached in ``store/<datacenter>/<node>.pem`` and ``.key``."""
    wanted_names = _subject_alt_names(node, datacenter, server, addresses, domain)
    _private_directory(store)
    with _locked(store):
        directory = store / datacenter
        _private_directory(directory)
        cert_file, key_file = directory / f"{node}.pem", directory / f"{node}.key"
        cached = _read_cached(cert_file, key_file)
        if cached and _reusable(*cached, ca_cert, wanted_names, now):
            return cached
        cert_pem, key_pem = _issue(
            ca_key, ca_cert, node, datacenter, server, addresses, domain, now
        )
        # The key first: after a crash between the two, the old certificate is not of the new
        # key and the next call issues again.
        _write_private(key_file, key_pem)
        _write_private(cert_file, cert_pem)
        return cert_pem, key_pem


def _required(pillar: Mapping, key: str) -> str:
    value = salt.utils.data.traverse_dict_and_list(pillar, key, None, delimiter=":")
    if not value or not isinstance(value, str):
        raise SaltInvocationError(
            f"pillar {key} is missing or not a string: make the site's secrets with "
            f"`{SECRETS_COMMAND}` and give pillar `secrets` to every host (docs/secrets.md)"
        )
    return value


def _read_key_file(path: Path) -> bytes:
    if not path.is_absolute():
        raise SaltInvocationError(
            f"pillar {KEY_FILE_PILLAR} is {str(path)!r}, not an absolute path: set it to "
            "where the CA key is on the machine that renders"
        )
    try:
        return path.read_bytes()
    except FileNotFoundError as err:
        raise SaltInvocationError(
            f"{path} (pillar {KEY_FILE_PILLAR}) does not exist here: the CA key is kept only "
            "on the machine that renders (the salt-ssh operator's machine, or the salt-master, "
            f"whose external pillar consul_pki gives each minion its pair in pillar "
            f"{AGENT_PILLAR}: docs/security.md); set {KEY_FILE_PILLAR} to where the key is on "
            "that machine (restore it from a backup if it is lost)"
        ) from err
    except OSError as err:
        raise CommandExecutionError(f"cannot read {path}: {err.strerror}") from err


def _load_ca(key_file: str, cert_pem: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """The CA's key and certificate, refused unless the key is the certificate's."""
    path = Path(key_file)
    # Read first: SaltInvocationError is a TypeError too.
    key_pem = _read_key_file(path)
    # The library's messages say nothing of the content; they are not repeated anyway.
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        raise SaltInvocationError(
            f"{path} (pillar {KEY_FILE_PILLAR}) is not an unencrypted PEM private key: "
            "restore the CA key from a backup"
        ) from err
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SaltInvocationError(
            f"{path} (pillar {KEY_FILE_PILLAR}) is not an EC private key: restore the CA key "
            "from a backup"
        )
    try:
        certificate = x509.load_pem_x509_certificate(cert_pem.encode())
    except ValueError as err:
        raise SaltInvocationError(
            f"pillar {CERT_PILLAR} is not a PEM certificate: let `{SECRETS_COMMAND}` make it "
            f"again from {path} (remove it and run the command)"
        ) from err
    if not _same_public_key(certificate.public_key(), key.public_key()):
        raise SaltInvocationError(
            f"pillar {CERT_PILLAR} is not the certificate of the key in {path} "
            f"({KEY_FILE_PILLAR}): restore the key that goes with it, or remove {CERT_PILLAR} "
            f"and let `{SECRETS_COMMAND}` make it again from this key"
        )
    return key, certificate


class Authority(NamedTuple):
    """The site's CA as pillar gives it: where its key is, the key, the certificate as parsed
    and as written."""

    key_file: Path
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    certificate_pem: str


def _pillar_authority() -> Authority:
    key_file = _required(__pillar__, KEY_FILE_PILLAR)
    cert_pem = _required(__pillar__, CERT_PILLAR)
    return Authority(Path(key_file), *_load_ca(key_file, cert_pem), cert_pem)


def _checked_arguments(node: Any, datacenter: Any, addresses: Any, domain: Any) -> str:
    """Check the arguments of certificate() before anything is read; returns the domain
    without Consul's trailing dot (``consul.``), which a certificate's names do not have."""
    _check_path_component("node", node)
    _check_path_component("datacenter", datacenter)
    _ip_addresses(addresses)
    if not isinstance(domain, str) or not DOMAIN.fullmatch(domain.rstrip(".")):
        raise SaltInvocationError(
            f"domain is {domain!r}: give Consul's domain as dot-separated labels of letters, "
            "digits and '-' (consul)"
        )
    return domain.rstrip(".")


def certificate(
    node: str,
    datacenter: str,
    server: bool = False,
    addresses: list[str] | None = None,
    domain: str = "consul",
) -> dict[str, str]:
    """
    The TLS certificate and key of Consul agent ``node``, signed by the site's CA.

    Returns ``{"cert": PEM, "key": PEM (the agent's private key), "ca": PEM}``. The
    certificate names ``server.<datacenter>.<domain>`` and ``<node>.server.<datacenter>.<domain>``
    (servers) or ``client.<datacenter>.<domain>`` (clients), ``localhost``, ``127.0.0.1`` and
    every IP address in ``addresses``. The pair issued last is given again unchanged until the
    CA, the names or the server flag change, or it expires within 60 days.

    Raises SaltInvocationError naming the argument or pillar key and the fix.

    CLI Example:

    .. code-block:: bash

        salt-ssh dc1-control-1 consul_pki.certificate dc1-control-1 dc1 server=True
        salt-ssh dc1-compute-1 consul_pki.certificate dc1-compute-1 dc1 addresses='[10.0.1.21]'
    """
    addresses = [] if addresses is None else addresses
    domain = _checked_arguments(node, datacenter, addresses, domain)
    authority = _pillar_authority()
    cert_pem, key_pem = _cached_or_issued(
        authority.key_file.parent / STORE_DIRECTORY,
        authority.key,
        authority.certificate,
        node,
        datacenter,
        server,
        addresses,
        domain,
        datetime.datetime.now(datetime.timezone.utc),
    )
    return {"cert": cert_pem, "key": key_pem, "ca": authority.certificate_pem}


def check_ca() -> bool:
    """
    Check that pillar names the CA key and certificate and that the key is the certificate's.

    Raises SaltInvocationError naming the pillar key and the fix; signs nothing.

    CLI Example:

    .. code-block:: bash

        salt-ssh dc1-control-1 consul_pki.check_ca
    """
    _pillar_authority()
    return True


def _plan_request(plan: Mapping) -> dict[str, Any]:
    """What certificate() is asked for the host of ``plan`` (quorum.plan): its id and
    datacenter, a server's names if it is a control node, its LAN and WAN addresses."""
    host = plan["host"]
    return {
        "node": host["id"],
        "datacenter": plan["datacenter"],
        "server": plan["is_control"],
        "addresses": list(dict.fromkeys([host["address"], host["wan_address"]])),
    }


def _names_in(cert_pem: Any) -> set[x509.GeneralName]:
    """The subject alternative names of a PEM certificate; none if it is not one."""
    try:
        certificate = x509.load_pem_x509_certificate(str(cert_pem).encode())
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (ValueError, x509.ExtensionNotFound):
        return set()
    return set(names.value)


def agent_certificate(plan: Mapping, domain: str = "consul") -> dict[str, str]:
    """
    The TLS certificate and key of this host's Consul agent, for templates: the pair the
    salt-master issued in pillar ``consul_pki:agent`` (see ext_pillar) when it gave one, else
    the pair certificate() signs here (salt-ssh, salt-call) for the host of ``plan``.

    ``plan`` is quorum.plan(); the pair names what certificate() would sign for its host: its
    id, a server's names if it is a control node, its address and WAN address. Returns what
    certificate() returns. Raises SaltInvocationError when the master's pair names something
    else (the master's plan and this host's differ).

    CLI Example:

    .. code-block:: bash

        salt-call consul_pki.agent_certificate \\
            '{host: {id: dc1-control-1, address: 10.0.1.11, wan_address: 10.0.0.11},
              datacenter: dc1, is_control: true}'
    """
    request = _plan_request(plan)
    issued = salt.utils.data.traverse_dict_and_list(__pillar__, AGENT_PILLAR, None, delimiter=":")
    if not issued:
        return certificate(**request, domain=domain)
    domain = _checked_arguments(
        request["node"], request["datacenter"], request["addresses"], domain
    )
    wanted_names = _subject_alt_names(**request, domain=domain)
    if not isinstance(issued, Mapping) or _names_in(issued.get("cert")) != set(wanted_names):
        raise SaltInvocationError(
            f"pillar {AGENT_PILLAR}, the pair the salt-master issued for {request['node']}, "
            f"does not name what this render asks for ({', '.join(map(str, wanted_names))}): "
            "the master computed another plan for this host (a pillar given on the command "
            f"line, or {DOMAIN_PILLAR} missing on the master); refresh the pillar "
            "(saltutil.refresh_pillar) and render without pillar=..."
        )
    return dict(issued)


def ext_pillar(minion_id: str, pillar: Mapping, *args: Any, **kwargs: Any) -> dict[str, Any]:
    """
    External pillar of a salt-master: the Consul agent's pair of the minion that asks, in
    pillar ``consul_pki:agent``, signed here, where the CA key is, by certificate() (the
    cached pair while it fits, as under salt-ssh). Nothing when the site's security stage has
    no TLS, and nothing when the quorum module refuses the plan: the minion's render then fails
    with the plan's own message, rather than all of its states with a pillar error.

    Security: the request is quorum.plan() as the master computes it. The id is the one the
    minion authenticated as (the master sets grain ``id`` to it); a server certificate goes
    only to an id listed in pillar ``datacenters:<dc>:control_nodes``, whatever the minion's
    grains say (a host with grain role ``control`` that is not listed gets nothing), with the
    addresses of its entry there; a client's addresses are its grain ``platform_address`` or
    routes, as its own render takes them. The plan and the CA are read from the pillar the
    master compiled from its own tree (``__pillar__``), never from the ``pillar`` argument:
    Salt merges into it the pillar a minion may send with its request (``pillar=...``), with
    which a minion could list itself as a control node.

    Configuration (the master's; its ``module_dirs`` must load _modules, ``pillar_dirs``
    _pillar, as etc/salt/master does)::

        ext_pillar:
          - consul_pki: {}
    """
    if "quorum.plan" not in __salt__:
        raise CommandExecutionError(
            "the quorum module is not loaded on the salt-master: add the repository to its "
            "module_dirs (etc/salt/master)"
        )
    try:
        plan = __salt__["quorum.plan"]()
    except SaltInvocationError as err:
        log.warning("consul_pki: no Consul certificate for %s: %s", minion_id, err)
        return {}
    if plan["host"]["id"] != minion_id:
        raise CommandExecutionError(
            f"grain id is {plan['host']['id']!r}, not {minion_id!r} that asks: the master "
            "must compile the pillar of the minion that authenticated"
        )
    if not plan["security"]["tls"]:
        return {}
    domain = salt.utils.data.traverse_dict_and_list(
        __pillar__, DOMAIN_PILLAR, "consul", delimiter=":"
    )
    pair = certificate(**_plan_request(plan), domain=domain)
    branch, leaf = AGENT_PILLAR.split(":")
    return {branch: {leaf: pair}}
