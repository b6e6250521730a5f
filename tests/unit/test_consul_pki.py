"""Agents' certificates signed where templates render: _modules/consul_pki.py, with a CA made
as ``scripts/secrets init`` makes it (platform_secrets.authority) in a temporary directory."""

import datetime
import importlib.util
import ipaddress
import json
import multiprocessing
import stat
from pathlib import Path
from typing import NamedTuple
from unittest.mock import patch

import pytest
import salt._logging
import salt.config
import salt.loader
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store
from salt.exceptions import SaltInvocationError

from platform_secrets import authority
from platform_secrets.make import init as init_secrets

REPO = Path(__file__).resolve().parents[2]
MODULE_PATH = REPO / "_modules" / "consul_pki.py"
_spec = importlib.util.spec_from_file_location("consul_pki", MODULE_PATH)
consul_pki = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(consul_pki)

SERVER = {"node": "dc1-control-1", "datacenter": "dc1", "server": True, "addresses": ["10.0.1.11"]}
CLIENT = {"node": "dc1-compute-1", "datacenter": "dc1", "addresses": ["10.0.1.21", "fd00::21"]}


class Authority(NamedTuple):
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    key_file: Path
    cert_pem: str


def make_authority(directory: Path) -> Authority:
    key = authority.new_key()
    cert_pem = authority.certificate_pem(key)
    key_file = directory / "consul-ca.key"
    key_file.write_bytes(authority.key_pem(key))
    key_file.chmod(0o600)
    return Authority(key, x509.load_pem_x509_certificate(cert_pem.encode()), key_file, cert_pem)


def ca_pillar(key_file: object, cert_pem: object) -> dict:
    return {"secrets": {"consul": {"ca": {"key_file": key_file, "cert": cert_pem}}}}


@pytest.fixture
def ca(tmp_path) -> Authority:
    return make_authority(tmp_path)


@pytest.fixture
def configure_loader_modules(ca):
    return {consul_pki: {"__pillar__": ca_pillar(str(ca.key_file), ca.cert_pem)}}


def parsed(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def subject_alt_names(pem: str) -> set:
    extension = parsed(pem).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    return set(extension.value)


def cached_files(ca: Authority, datacenter: str, node: str) -> tuple[Path, Path]:
    directory = ca.key_file.parent / "consul-certs" / datacenter
    return directory / f"{node}.pem", directory / f"{node}.key"


def cache(ca: Authority, datacenter: str, node: str, cert_pem: str, key_pem: str) -> None:
    cert_file, key_file = cached_files(ca, datacenter, node)
    cert_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    cert_file.write_text(cert_pem)
    key_file.write_text(key_pem)


def issued_at(ca: Authority, days_ago: int, **request) -> tuple[str, str]:
    """A pair of ``request`` as the module would have issued it ``days_ago``."""
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=days_ago)
    return consul_pki._issue(
        ca.key,
        ca.certificate,
        request["node"],
        request["datacenter"],
        request.get("server", False),
        request.get("addresses", []),
        request.get("domain", "consul"),
        now,
    )


def test_certificate_is_signed_by_the_ca_and_chains_for_tls(ca):
    issued = consul_pki.certificate(**SERVER)

    certificate = parsed(issued["cert"])
    certificate.verify_directly_issued_by(ca.certificate)
    assert certificate.issuer == ca.certificate.subject
    assert issued["ca"] == ca.cert_pem
    # As a Consul server's TLS peer checks it (verify_server_hostname) and as a client's.
    store = Store([ca.certificate])
    policy = PolicyBuilder().store(store).time(datetime.datetime.now(datetime.timezone.utc))
    chain = policy.build_server_verifier(x509.DNSName("server.dc1.consul")).verify(certificate, [])
    assert chain[-1] == ca.certificate
    policy.build_client_verifier().verify(certificate, [])


def test_certificate_carries_its_own_key_and_the_agent_profile(ca):
    issued = consul_pki.certificate(**SERVER)

    certificate = parsed(issued["cert"])
    assert issued["key"].startswith("-----BEGIN EC PRIVATE KEY-----")
    key = serialization.load_pem_private_key(issued["key"].encode(), password=None)
    assert isinstance(key.curve, ec.SECP256R1)
    der = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert certificate.public_key().public_bytes(*der) == key.public_key().public_bytes(*der)
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime == datetime.timedelta(days=365)
    assert certificate.not_valid_before_utc < datetime.datetime.now(datetime.timezone.utc)
    extensions = certificate.extensions
    constraints = extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and not constraints.value.ca
    usage = extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.key_encipherment
    assert not usage.value.key_cert_sign
    assert set(extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == {
        ExtendedKeyUsageOID.SERVER_AUTH,
        ExtendedKeyUsageOID.CLIENT_AUTH,
    }
    ca_key_id = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    authority_key_id = extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    assert authority_key_id.value.key_identifier == ca_key_id.value.digest
    assert extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest == (
        x509.SubjectKeyIdentifier.from_public_key(key.public_key()).digest
    )


def test_server_certificate_names_the_servers_and_its_node():
    issued = consul_pki.certificate(**SERVER)

    common_name = parsed(issued["cert"]).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert [attribute.value for attribute in common_name] == ["server.dc1.consul"]
    assert subject_alt_names(issued["cert"]) == {
        x509.DNSName("server.dc1.consul"),
        x509.DNSName("dc1-control-1.server.dc1.consul"),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("10.0.1.11")),
    }


def test_client_certificate_names_the_clients_of_its_datacenter():
    issued = consul_pki.certificate(**CLIENT, domain="site.internal.")

    common_name = parsed(issued["cert"]).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert [attribute.value for attribute in common_name] == ["client.dc1.site.internal"]
    assert subject_alt_names(issued["cert"]) == {
        x509.DNSName("client.dc1.site.internal"),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("10.0.1.21")),
        x509.IPAddress(ipaddress.ip_address("fd00::21")),
    }


def test_second_call_gives_the_same_pair_byte_for_byte(ca):
    first = consul_pki.certificate(**SERVER)
    second = consul_pki.certificate(**SERVER)

    assert second == first
    cert_file, key_file = cached_files(ca, "dc1", "dc1-control-1")
    assert (cert_file.read_text(), key_file.read_text()) == (first["cert"], first["key"])


def test_nodes_and_datacenters_get_pairs_of_their_own(ca):
    server = consul_pki.certificate(**SERVER)
    client = consul_pki.certificate(**CLIENT)
    other_datacenter = consul_pki.certificate(**{**SERVER, "datacenter": "dc2"})

    assert len({server["key"], client["key"], other_datacenter["key"]}) == 3
    assert cached_files(ca, "dc2", "dc1-control-1")[0].read_text() == other_datacenter["cert"]


@pytest.mark.parametrize(
    "change",
    [
        {"addresses": ["10.0.1.12"]},
        {"addresses": ["10.0.1.11", "192.0.2.11"]},
        {"server": False},
        {"domain": "site.internal"},
    ],
    ids=["address-changed", "address-added", "server-to-client", "domain-changed"],
)
def test_changed_names_issue_a_new_pair(change):
    first = consul_pki.certificate(**SERVER)
    changed = consul_pki.certificate(**{**SERVER, **change})

    assert changed["cert"] != first["cert"]
    assert changed["key"] != first["key"]
    assert subject_alt_names(changed["cert"]) != subject_alt_names(first["cert"])
    assert consul_pki.certificate(**{**SERVER, **change}) == changed


def test_duplicate_addresses_are_named_once():
    issued = consul_pki.certificate(**{**SERVER, "addresses": ["10.0.1.11", "127.0.0.1"]})

    assert consul_pki.certificate(**SERVER) == issued


@pytest.mark.parametrize(("days_ago", "kept"), [(10, True), (310, False)])
def test_a_pair_is_renewed_within_sixty_days_of_expiry(ca, days_ago, kept):
    cert_pem, key_pem = issued_at(ca, days_ago, **SERVER)
    cache(ca, "dc1", "dc1-control-1", cert_pem, key_pem)

    issued = consul_pki.certificate(**SERVER)

    assert (issued["cert"] == cert_pem) is kept
    remaining = parsed(issued["cert"]).not_valid_after_utc - datetime.datetime.now(
        datetime.timezone.utc
    )
    assert remaining > consul_pki.RENEW_BEFORE


def test_a_pair_from_another_ca_is_replaced(ca, tmp_path):
    other_directory = tmp_path / "other"
    other_directory.mkdir()
    other = make_authority(other_directory)
    cache(ca, "dc1", "dc1-control-1", *issued_at(other, 0, **SERVER))

    issued = consul_pki.certificate(**SERVER)

    parsed(issued["cert"]).verify_directly_issued_by(ca.certificate)
    assert cached_files(ca, "dc1", "dc1-control-1")[0].read_text() == issued["cert"]


def spoil_missing_key(cert_file: Path, key_file: Path) -> None:
    key_file.unlink()


def spoil_garbled_certificate(cert_file: Path, key_file: Path) -> None:
    cert_file.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")


def spoil_unreadable_certificate(cert_file: Path, key_file: Path) -> None:
    cert_file.write_bytes(b"\xff\xfe")


def spoil_another_key(cert_file: Path, key_file: Path) -> None:
    key_file.write_bytes(authority.key_pem(authority.new_key()))


@pytest.mark.parametrize(
    "spoil",
    [
        spoil_missing_key,
        spoil_garbled_certificate,
        spoil_unreadable_certificate,
        spoil_another_key,
    ],
)
def test_a_broken_cached_pair_is_replaced(ca, spoil):
    first = consul_pki.certificate(**SERVER)
    spoil(*cached_files(ca, "dc1", "dc1-control-1"))

    issued = consul_pki.certificate(**SERVER)

    assert issued["key"] != first["key"]
    parsed(issued["cert"]).verify_directly_issued_by(ca.certificate)
    assert consul_pki.certificate(**SERVER) == issued


def test_cached_files_are_private(ca):
    store = ca.key_file.parent / "consul-certs"
    # A store made by hand, readable by all, is closed.
    store.mkdir(mode=0o755)
    store.chmod(0o755)

    consul_pki.certificate(**SERVER)

    cert_file, key_file = cached_files(ca, "dc1", "dc1-control-1")
    for directory in (store, cert_file.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    for path in (cert_file, key_file, store / ".lock"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Nothing but the pair: no temporary file left behind.
    assert sorted(path.name for path in cert_file.parent.iterdir()) == [
        "dc1-control-1.key",
        "dc1-control-1.pem",
    ]


def test_parallel_renders_get_one_pair():
    """salt-ssh renders hosts in parallel processes: they wait for each other's pair."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(4)
    results = context.Queue()

    def render() -> None:
        barrier.wait()
        results.put(consul_pki.certificate(**SERVER))

    processes = [context.Process(target=render) for _ in range(4)]
    for process in processes:
        process.start()
    issued = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)

    assert all(process.exitcode == 0 for process in processes)
    assert len({pair["cert"] for pair in issued}) == 1
    assert consul_pki.certificate(**SERVER) == issued[0]


def key_material(ca: Authority) -> list[str]:
    """What of the CA key must never appear in a message: its PEM lines, its number."""
    lines = authority.key_pem(ca.key).decode().splitlines()
    return [*lines, "PRIVATE KEY", str(ca.key.private_numbers().private_value)]


def assert_no_key_material(error: pytest.ExceptionInfo, ca: Authority) -> None:
    messages = [str(error.value), str(error.value.__cause__ or "")]
    for message in messages:
        for secret in key_material(ca):
            assert secret not in message


@pytest.mark.parametrize(
    ("secrets", "missing"),
    [
        ({}, "secrets:consul:ca:key_file"),
        ({"cert": "CERT"}, "secrets:consul:ca:key_file"),
        ({"key_file": "/nowhere/consul-ca.key"}, "secrets:consul:ca:cert"),
    ],
    ids=["no-ca", "no-key-file", "no-cert"],
)
def test_missing_pillar_names_the_key_and_the_command(secrets, missing):
    with patch.dict(consul_pki.__pillar__, {"secrets": {"consul": {"ca": secrets}}}):
        with pytest.raises(SaltInvocationError, match=f"pillar {missing} is missing") as error:
            consul_pki.certificate(**SERVER)
    assert "scripts/secrets init pillar" in str(error.value)


def test_missing_key_file_says_where_signing_happens(ca):
    ca.key_file.unlink()

    with pytest.raises(SaltInvocationError, match="kept only on the machine that renders") as error:
        consul_pki.certificate(**SERVER)
    assert str(ca.key_file) in str(error.value)
    assert "or the salt-master" in str(error.value)


def test_relative_key_file_is_refused(ca):
    with patch.dict(consul_pki.__pillar__, ca_pillar("consul-ca.key", ca.cert_pem)):
        with pytest.raises(SaltInvocationError, match="not an absolute path"):
            consul_pki.check_ca()


def test_key_file_of_another_ca_is_refused(ca, tmp_path):
    other_directory = tmp_path / "other"
    other_directory.mkdir()
    other = make_authority(other_directory)

    with patch.dict(consul_pki.__pillar__, ca_pillar(str(other.key_file), ca.cert_pem)):
        with pytest.raises(
            SaltInvocationError, match="secrets:consul:ca:cert is not the certificate of the key"
        ) as error:
            consul_pki.certificate(**SERVER)
    assert_no_key_material(error, ca)
    assert_no_key_material(error, other)
    assert not (tmp_path / "consul-certs").exists()


def test_unreadable_ca_key_and_certificate_are_refused_without_their_content(ca):
    key_lines = authority.key_pem(ca.key).decode().splitlines()
    truncated = "\n".join(key_lines[:-2])
    ca.key_file.write_text(truncated)

    with pytest.raises(SaltInvocationError, match="not an unencrypted PEM private key") as error:
        consul_pki.check_ca()
    assert_no_key_material(error, ca)

    ca.key_file.write_bytes(authority.key_pem(ca.key))
    with patch.dict(consul_pki.__pillar__, ca_pillar(str(ca.key_file), "\n".join(key_lines))):
        with pytest.raises(SaltInvocationError, match="cert is not a PEM certificate") as error:
            consul_pki.check_ca()
    assert_no_key_material(error, ca)


def test_check_ca_accepts_the_pair_scripts_secrets_made():
    assert consul_pki.check_ca() is True


@pytest.mark.parametrize(
    ("request_", "named"),
    [
        ({"addresses": ["10.0.1.300"]}, "'10.0.1.300'"),
        ({"addresses": ["dc1-control-1"]}, "'dc1-control-1'"),
        ({"addresses": "10.0.1.11"}, "addresses is a str"),
        ({"node": "../dc1-control-1"}, "node is '../dc1-control-1'"),
        ({"datacenter": "dc1/x"}, "datacenter is 'dc1/x'"),
        ({"domain": "consul/.."}, "domain is 'consul/..'"),
    ],
    ids=["bad-address", "name-as-address", "address-not-list", "node", "datacenter", "domain"],
)
def test_bad_arguments_are_refused_before_anything_is_written(ca, request_, named):
    with pytest.raises(SaltInvocationError, match=named.replace(".", r"\.")):
        consul_pki.certificate(**{**SERVER, **request_})
    assert not (ca.key_file.parent / "consul-certs").exists()


def test_virtual_loads_with_cryptography_and_says_why_without():
    assert consul_pki.__virtual__() == "consul_pki"
    with patch.object(consul_pki, "CRYPTOGRAPHY_ERROR", "No module named 'cryptography'"):
        loaded, reason = consul_pki.__virtual__()
    assert loaded is False
    assert "cryptography" in reason


def test_wrapper_module_signs_where_salt_ssh_renders(ca, tmp_path):
    config = tmp_path / "minion"
    config.write_text(json.dumps({"root_dir": str(tmp_path), "module_dirs": [str(REPO)]}))
    # What salt-ssh hands the wrapper loader: the host's options with the compiled pillar.
    opts = {
        **salt.config.minion_config(str(config)),
        "id": "dc1-control-1",
        "grains": {"id": "dc1-control-1"},
        "pillar": ca_pillar(str(ca.key_file), ca.cert_pem),
    }
    wrappers = salt.loader.ssh_wrapper(opts, {}, {})

    issued = wrappers["consul_pki.certificate"]("dc1-control-1", "dc1", server=True)

    parsed(issued["cert"]).verify_directly_issued_by(ca.certificate)
    assert cached_files(ca, "dc1", "dc1-control-1")[0].read_text() == issued["cert"]


# The agents of a secured site's dc1 under a salt-master: pillar datacenters lists the control
# nodes; the compute node is reached at its grain platform_address.
CONTROL_NODES = [
    {
        "id": f"dc1-control-{position}",
        "address": f"10.0.1.1{position}",
        "wan_address": f"10.0.0.1{position}",
    }
    for position in (1, 2, 3)
]
CONTROL_GRAINS = {"id": "dc1-control-2", "roles": ["control"], "datacenter": "dc1"}
COMPUTE_GRAINS = {
    "id": "dc1-compute-1",
    "roles": ["compute"],
    "datacenter": "dc1",
    "platform_address": "10.0.1.21",
}


def site_pillar(directory: Path, **settings) -> dict:
    """A secured site's pillar as the master compiles it: the secrets `scripts/secrets init`
    makes in ``directory`` (the CA key beside them), dc1's control nodes and ``settings``."""
    secrets = yaml.safe_load(init_secrets(directory).pillar_file.read_text())
    return {**secrets, "datacenters": {"dc1": {"control_nodes": CONTROL_NODES}}, **settings}


def ca_of(pillar: dict) -> x509.Certificate:
    return parsed(pillar["secrets"]["consul"]["ca"]["cert"])


def master_ext_pillar(directory: Path, pillar: dict, grains: dict):
    """consul_pki's ext_pillar as a salt-master loads it to compile a minion's pillar: from
    pillar_dirs, with the master's execution modules (module_dirs), ``pillar`` compiled so far
    and the grains the minion sent."""
    config = directory / "master"
    config.write_text(
        json.dumps(
            {
                "root_dir": str(directory),
                "module_dirs": [str(REPO)],
                "pillar_dirs": [str(REPO / "_pillar")],
            }
        )
    )
    opts = {**salt.config.master_config(str(config)), "grains": grains}
    functions = salt.loader.minion_mods(opts, pillar=pillar)
    return salt.loader.pillars(opts, functions, pillar=pillar)["consul_pki"]


def test_master_gives_a_control_node_a_server_pair_of_its_plan(tmp_path):
    pillar = site_pillar(tmp_path / "secrets")
    ext_pillar = master_ext_pillar(tmp_path, pillar, CONTROL_GRAINS)

    issued = ext_pillar("dc1-control-2", {})["consul_pki"]["agent"]

    parsed(issued["cert"]).verify_directly_issued_by(ca_of(pillar))
    assert issued["ca"] == pillar["secrets"]["consul"]["ca"]["cert"]
    assert subject_alt_names(issued["cert"]) == {
        x509.DNSName("server.dc1.consul"),
        x509.DNSName("dc1-control-2.server.dc1.consul"),
        x509.DNSName("localhost"),
        *(
            x509.IPAddress(ipaddress.ip_address(address))
            for address in ("127.0.0.1", "10.0.1.12", "10.0.0.12")
        ),
    }
    # The pair cached beside the CA key, as under salt-ssh: the next compile gives it again.
    assert ext_pillar("dc1-control-2", {})["consul_pki"]["agent"] == issued


def test_master_gives_a_compute_node_a_client_pair_at_its_address(tmp_path):
    pillar = site_pillar(tmp_path / "secrets")
    ext_pillar = master_ext_pillar(tmp_path, pillar, COMPUTE_GRAINS)

    issued = ext_pillar("dc1-compute-1", {})["consul_pki"]["agent"]

    parsed(issued["cert"]).verify_directly_issued_by(ca_of(pillar))
    assert subject_alt_names(issued["cert"]) == {
        x509.DNSName("client.dc1.consul"),
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("10.0.1.21")),
    }


def test_grains_claiming_control_get_no_server_pair(tmp_path, caplog):
    pillar = site_pillar(tmp_path / "secrets")
    claiming = {**COMPUTE_GRAINS, "roles": ["control", "compute"]}

    assert master_ext_pillar(tmp_path, pillar, claiming)("dc1-compute-1", {}) == {}
    assert "has role control (grain roles) but is not listed" in caplog.text
    # Salt keeps records for a handler that writes them at exit, when stderr is closed.
    salt._logging.shutdown_temp_handler()


def test_pillar_a_minion_sends_does_not_make_it_a_server(tmp_path):
    """Salt merges a minion's pillar=... into ext_pillar's argument: the master's own pillar
    decides."""
    pillar = site_pillar(tmp_path / "secrets")
    as_sent = {
        **pillar,
        "datacenters": {
            "dc1": {
                "control_nodes": [
                    *CONTROL_NODES[:2],
                    {"id": "dc1-compute-1", "address": "10.0.1.21"},
                ]
            }
        },
    }
    ext_pillar = master_ext_pillar(tmp_path, pillar, COMPUTE_GRAINS)

    issued = ext_pillar("dc1-compute-1", as_sent)["consul_pki"]["agent"]

    assert x509.DNSName("client.dc1.consul") in subject_alt_names(issued["cert"])
    assert x509.DNSName("server.dc1.consul") not in subject_alt_names(issued["cert"])


def test_master_gives_no_pair_to_a_site_without_tls(tmp_path):
    pillar = {"datacenters": {"dc1": {"control_nodes": CONTROL_NODES}}, "security": {"open": True}}

    assert master_ext_pillar(tmp_path, pillar, CONTROL_GRAINS)("dc1-control-2", {}) == {}


def test_master_without_the_ca_key_names_the_pillar_key(tmp_path):
    pillar = site_pillar(tmp_path / "secrets")
    Path(pillar["secrets"]["consul"]["ca"]["key_file"]).unlink()
    ext_pillar = master_ext_pillar(tmp_path, pillar, CONTROL_GRAINS)

    with pytest.raises(SaltInvocationError, match="secrets:consul:ca:key_file") as error:
        ext_pillar("dc1-control-2", {})
    assert "does not exist here" in str(error.value)


PLAN_OF_SERVER = {
    "host": {"id": "dc1-control-1", "address": "10.0.1.11", "wan_address": "10.0.1.11"},
    "datacenter": "dc1",
    "is_control": True,
}


def test_render_takes_the_pair_the_master_gave_without_the_ca_key(ca):
    given = issued_at(ca, 0, **SERVER)
    pair = {"cert": given[0], "key": given[1], "ca": ca.cert_pem}
    ca.key_file.unlink()

    with patch.dict(consul_pki.__pillar__, {"consul_pki": {"agent": pair}}):
        assert consul_pki.agent_certificate(PLAN_OF_SERVER) == pair
    assert not (ca.key_file.parent / "consul-certs").exists()


def test_render_without_a_pair_from_the_master_signs_here(ca):
    issued = consul_pki.agent_certificate(PLAN_OF_SERVER)

    assert issued == consul_pki.certificate(**SERVER)


def test_render_refuses_a_pair_from_the_master_of_other_names(ca):
    given = issued_at(ca, 0, **{**SERVER, "server": False})
    pair = {"cert": given[0], "key": given[1], "ca": ca.cert_pem}

    with patch.dict(consul_pki.__pillar__, {"consul_pki": {"agent": pair}}):
        with pytest.raises(SaltInvocationError, match="pillar consul_pki:agent") as error:
            consul_pki.agent_certificate(PLAN_OF_SERVER)
    assert "server.dc1.consul" in str(error.value)
