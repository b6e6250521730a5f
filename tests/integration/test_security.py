"""The secured site (security stage secure, the default): Consul's API answers only with a
token, RPC between agents takes only certificates of the site's CA, the HTTPS API presents
one, and DNS still answers anyone."""

import datetime
import importlib.util
import json
import socket
import ssl
import time
from pathlib import Path

import pytest
from cryptography import x509

from lab import converge
from lab.hosts import put_private_files
from lab.inventory import read_secrets
from platform_secrets import authority

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("consul_pki", REPO / "_modules" / "consul_pki.py")
consul_pki = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(consul_pki)

# Requests that need a token under default deny: a KV write, a catalog write, an agent endpoint.
GUARDED = [
    ("/v1/kv/lab/security", "PUT", "secret-less"),
    ("/v1/catalog/register", "PUT", json.dumps({"Node": "lab-intruder", "Address": "10.9.9.9"})),
    ("/v1/agent/self", "GET", None),
]
# The node check of each agent's certificate (consul.certificate).
CERTIFICATE_CHECK = "tls-certificate-expiry"
# Seconds a changed check definition may take to be loaded, run and synced to the catalog.
CHECK_TIMEOUT = 90
# Not in /run: a tmpfs, which docker's archive API does not write into.
INTRUDER_DIR = "/root/lab-intruder"
INTRUDER_HTTP_PORT = 18500
INTRUDER_SERF_PORT = 18301
# Seconds a stopped intruder may take to leave and exit.
INTRUDER_STOP_TIMEOUT = 30
# Seconds the intruder has to try its servers; Consul retries RPC every few seconds.
INTRUDER_WAIT = 20


@pytest.fixture(scope="module")
def site_secrets() -> dict:
    return read_secrets()


def test_api_refuses_requests_without_a_token_on_every_server(lab):
    for host in lab.hosts_with("control"):
        for path, method, data in GUARDED:
            status, body = lab.http(host, path, method=method, data=data, token="")
            assert status == 403, (host.name, path, status, body)


def test_api_answers_the_right_token_on_every_server(lab):
    for host in lab.hosts_with("control"):
        status, body = lab.http(host, "/v1/agent/self")
        assert status == 200, (host.name, body)
        status, body = lab.http(host, "/v1/kv/lab/security", method="PUT", data="with-token")
        assert (status, body) == (200, "true"), host.name
    lab.http(lab.hosts_with("control")[0], "/v1/kv/lab/security", method="DELETE")


def agent_token(lab, host) -> str:
    """The token the host's agent presents, read from its acl-tokens.json (never shown)."""
    code, text = lab.run(host, "cat", "/etc/consul.d/acl-tokens.json")
    assert code == 0, f"{host.name}: no acl-tokens.json"
    return json.loads(text)["acl"]["tokens"]["agent"]


def test_every_agent_presents_a_token_of_its_own_node_only(lab):
    tokens = {}
    for host in lab.hosts:
        token = tokens[host.name] = agent_token(lab, host)
        status, body = lab.http(host, "/v1/acl/token/self", token=token)
        assert status == 200, (host.name, status)
        record = json.loads(body)
        assert record["NodeIdentities"] == [
            {"NodeName": host.name, "Datacenter": host.datacenter}
        ], host.name
        assert not record.get("Policies"), host.name
    assert len(set(tokens.values())) == len(tokens)
    # It may write its own node, not another.
    host = lab.hosts_with("compute", "dc1")[0]
    other = {"Node": "lab-other-node", "Address": "10.9.9.9", "Datacenter": host.datacenter}
    status, _ = lab.http(host, "/v1/catalog/register", method="PUT", data=json.dumps(other),
                         token=tokens[host.name])
    assert status == 403
    own = {"Node": host.name, "Address": host.address, "Datacenter": host.datacenter}
    status, _ = lab.http(host, "/v1/catalog/register", method="PUT", data=json.dumps(own),
                         token=tokens[host.name])
    assert status == 200


def certificate_check(lab, host) -> dict | None:
    """The host's certificate expiry check as the catalog has it, or None."""
    checks = lab.consul(host, f"health/node/{host.name}") or []
    return next((check for check in checks if check["CheckID"] == CERTIFICATE_CHECK), None)


def test_every_agent_watches_the_expiry_of_its_certificate(lab):
    for host in lab.hosts:
        check = lab.wait_for(
            f"{CERTIFICATE_CHECK} of {host.name} in the catalog",
            lambda host=host: certificate_check(lab, host),
            timeout=CHECK_TIMEOUT,
        )
        assert check["Status"] == "passing", (host.name, check)
        # Passing from the start, until the first run (within the interval) says why.
        assert check["Output"] == "" or "Certificate will not expire" in check["Output"], check


def test_the_certificate_check_warns_within_its_window(lab):
    """With a window longer than the certificate's life (400 days of 365) the check turns
    warning, not critical (a critical node check would hide the node's services from DNS),
    and saying so; the site's own window brings it back to passing."""
    host = lab.hosts_with("compute", "dc1")[0]
    window = {"consul": {"tls": {"expiry_check": {"warning_days": 400, "interval": "5s"}}}}
    # The site's window, run as often: Consul keeps a reloaded check's status until its next
    # run, which the site's interval (5 minutes) would put off.
    site_window = {"consul": {"tls": {"expiry_check": {"interval": "5s"}}}}

    def apply(pillar: dict | None) -> None:
        extra = [f"pillar={json.dumps(pillar)}"] if pillar is not None else []
        answers, _ = converge.call(host.name, "state.apply", "consul.certificate", *extra,
                                   timeout=600)
        failed = [state["__id__"] for state in answers[host.name].values()
                  if state["result"] is False]
        assert not failed, failed

    try:
        apply(window)

        def warning() -> dict | None:
            check = certificate_check(lab, host)
            return check if check and check["Status"] == "warning" else None

        check = lab.wait_for(f"{CERTIFICATE_CHECK} of {host.name} warning", warning,
                             timeout=CHECK_TIMEOUT)
        assert "Certificate will expire" in check["Output"], check
        assert "notAfter=" in check["Output"], check
        # A warning node check leaves the node's services in DNS.
        code, output = lab.run(host, "getent", "hosts", "consul.service.consul")
        assert code == 0 and output.strip(), output
    finally:
        apply(site_window)
    try:
        lab.wait_for(
            f"{CERTIFICATE_CHECK} of {host.name} passing again",
            lambda: (certificate_check(lab, host) or {}).get("Status") == "passing",
            timeout=CHECK_TIMEOUT,
        )
    finally:
        apply(None)
    assert certificate_check(lab, host)["Status"] == "passing"


def test_dns_answers_without_a_token_from_every_host(lab):
    for host in lab.hosts:
        code, output = lab.run(host, "getent", "hosts", "consul.service.consul")
        assert code == 0 and output.strip(), (host.name, output)


def test_plaintext_http_port_is_not_reachable_from_another_host(lab):
    compute = lab.hosts_with("compute", "dc1")[0]
    for control in lab.hosts_with("control", "dc1"):
        code, output = lab.run(
            compute, "python3", "-c",
            "import socket, sys; socket.create_connection((sys.argv[1], 8500), timeout=3)",
            control.address,
        )
        assert code != 0 and "refused" in output.lower(), (control.name, output)


def test_https_presents_a_certificate_of_the_site_ca_naming_the_server(lab, site_secrets):
    context = ssl.create_default_context(cadata=site_secrets["consul"]["ca"]["cert"])
    context.check_hostname = False  # the names are checked below, all of them
    for host in lab.hosts_with("control"):
        with socket.create_connection((host.address, 8501), timeout=5) as connection:
            with context.wrap_socket(connection) as tls:
                der = tls.getpeercert(binary_form=True)
        names = x509.load_der_x509_certificate(der).extensions.get_extension_for_class(
            x509.SubjectAlternativeName
        ).value
        dns_names = set(names.get_values_for_type(x509.DNSName))
        addresses = {str(address) for address in names.get_values_for_type(x509.IPAddress)}
        assert f"server.{host.datacenter}.consul" in dns_names, (host.name, dns_names)
        assert {host.address, "127.0.0.1"} <= addresses, (host.name, addresses)


def foreign_certificate(host) -> dict[str, str]:
    """A client certificate for ``host``'s datacenter, signed by a CA that is not the site's,
    and that CA's certificate."""
    key = authority.new_key()
    ca_pem = authority.certificate_pem(key)
    ca_cert = x509.load_pem_x509_certificate(ca_pem.encode())
    cert, cert_key = consul_pki._issue(
        key, ca_cert, "lab-intruder", host.datacenter, False, [host.address], "consul",
        datetime.datetime.now(datetime.timezone.utc),
    )
    return {"ca.pem": ca_pem, "agent.pem": cert, "agent-key.pem": cert_key}


def intruder_config(lab, host, site_secrets, tls_files: dict[str, str]) -> dict:
    """A client agent of ``host``'s datacenter with the site's gossip key (so that only TLS can
    refuse it), its own ports, and the TLS files given (none: plaintext RPC)."""
    config = {
        "datacenter": host.datacenter,
        "node_name": "lab-intruder",
        "data_dir": f"{INTRUDER_DIR}/data",
        "bind_addr": host.address,
        "client_addr": "127.0.0.1",
        "ports": {"http": INTRUDER_HTTP_PORT, "dns": -1, "serf_lan": INTRUDER_SERF_PORT},
        "retry_join": [control.address for control in lab.hosts_with("control", host.datacenter)],
        "encrypt": site_secrets["consul"]["gossip_key"],
        "leave_on_terminate": True,
        "disable_update_check": True,
    }
    if tls_files:
        config.update(
            ca_file=f"{INTRUDER_DIR}/ca.pem", cert_file=f"{INTRUDER_DIR}/agent.pem",
            key_file=f"{INTRUDER_DIR}/agent-key.pem", verify_outgoing=True,
            verify_server_hostname=True,
        )
    return config


@pytest.mark.parametrize("certificate", ["none", "of another CA"])
def test_an_agent_without_a_certificate_of_the_site_ca_cannot_join(lab, site_secrets, certificate):
    host = lab.hosts_with("compute", "dc1")[0]
    tls_files = foreign_certificate(host) if certificate != "none" else {}
    config = intruder_config(lab, host, site_secrets, tls_files)
    lab.run(host, "rm", "-rf", INTRUDER_DIR)
    lab.run(host, "mkdir", "-m", "0700", INTRUDER_DIR)
    container = lab.client.containers.get(host.name)
    put_private_files(container, INTRUDER_DIR, {**tls_files, "config.json": json.dumps(config)})
    container.exec_run(
        ["sh", "-c", f"exec /usr/local/bin/consul agent -config-file {INTRUDER_DIR}/config.json "
                     f"> {INTRUDER_DIR}/log 2>&1 & echo $! > {INTRUDER_DIR}/pid"],
    )
    try:
        time.sleep(INTRUDER_WAIT)
        status, body = lab.http(host, "/v1/catalog/nodes", port=INTRUDER_HTTP_PORT, token="")
        _, log = lab.run(host, "cat", f"{INTRUDER_DIR}/log")
        nodes = lab.consul(lab.hosts_with("control", "dc1")[0], "catalog/nodes")
    finally:
        # It leaves the gossip first (leave_on_terminate): wait until it is gone.
        lab.run(
            host, "sh", "-c",
            f"pid=$(cat {INTRUDER_DIR}/pid); kill $pid; "
            f"while kill -0 $pid 2>/dev/null; do sleep 0.5; done",
            timeout=INTRUDER_STOP_TIMEOUT,
        )
        lab.run(host, "rm", "-rf", INTRUDER_DIR)
    # The agent runs and answers, but no server serves it.
    assert status == 500, (status, body, log[-2000:])
    assert "lab-intruder" not in {node["Node"] for node in nodes}
