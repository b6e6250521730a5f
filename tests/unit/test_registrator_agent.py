"""The registrator's reconciliation against fake engines and agents: what it asks Consul to do
on resync and on events, and how it behaves while Docker or Consul is unreachable."""

import json
import queue
import threading
import time

import docker
import pytest
import requests

from registrator import agent, mapping

CONFIG = agent.Config(hostname="dc1-compute-1", address="10.231.1.101", retry_max=0.05)


def running(name: str, container_id: str, host_port: int) -> dict:
    return {
        "Id": container_id,
        "Name": f"/{name}",
        "State": {"Running": True},
        "Config": {"Image": "busybox", "Env": ["SERVICE_NAME=web"], "Labels": {}},
        "HostConfig": {"NetworkMode": "default"},
        "NetworkSettings": {
            "IPAddress": "172.17.0.2",
            "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(host_port)}]},
        },
    }


class FakeDocker:
    """The two calls of the engine's API the registrator makes."""

    def __init__(self, *containers: dict) -> None:
        self.containers_by_id = {item["Id"]: item for item in containers}
        self.down = False

    def containers(self) -> list[dict]:
        if self.down:
            raise requests.ConnectionError("docker.sock: connection refused")
        return [{"Id": container_id} for container_id in self.containers_by_id]

    def inspect_container(self, container_id: str) -> dict:
        if container_id not in self.containers_by_id:
            raise docker.errors.NotFound(f"no such container {container_id}")
        return self.containers_by_id[container_id]


class FakeConsul:
    """An agent's service registry; ``failures`` calls fail before it answers again."""

    def __init__(self, services: dict | None = None, failures: int = 0) -> None:
        self.registry = dict(services or {})
        self.failures = failures
        self.calls: list[tuple[str, str]] = []
        self.agent = self
        self.service = self
        self.catalog = self
        # Services of the registry the servers refused (not in the catalog).
        self.refused: set[str] = set()

    def _answer(self) -> None:
        if self.failures:
            self.failures -= 1
            raise requests.ConnectionError("127.0.0.1:8500: connection refused")

    def self(self) -> dict:
        self._answer()
        return {"Member": {"Addr": "10.231.1.199"}, "Config": {"NodeName": "dc1-compute-1"}}

    def node(self, name: str) -> tuple[None, dict]:
        self._answer()
        assert name == "dc1-compute-1"
        return None, {"Services": {key: value for key, value in self.registry.items()
                                   if key not in self.refused}}

    def services(self) -> dict:
        self._answer()
        return {key: dict(value) for key, value in self.registry.items()}

    def register(self, name, service_id, address, port, tags, meta, check) -> None:
        self._answer()
        self.calls.append(("register", service_id))
        self.registry[service_id] = {"ID": service_id, "Service": name, "Address": address,
                                     "Port": port, "Tags": tags, "Meta": meta}

    def deregister(self, service_id: str) -> None:
        self._answer()
        self.calls.append(("deregister", service_id))
        del self.registry[service_id]


FOREIGN = {"consul-ui": {"ID": "consul-ui", "Service": "ui", "Tags": [], "Meta": {},
                         "Port": 80, "Address": ""}}


def test_resync_registers_running_containers_and_keeps_foreign_services():
    consul = FakeConsul(FOREIGN)
    registrator = agent.Registrator(CONFIG, FakeDocker(running("web1", "aaa", 8080)), consul)
    registrator.resync()
    assert sorted(consul.registry) == ["consul-ui", "dc1-compute-1:web1:80"]


def test_a_second_resync_changes_nothing():
    consul = FakeConsul()
    registrator = agent.Registrator(CONFIG, FakeDocker(running("web1", "aaa", 8080)), consul)
    registrator.resync()
    consul.calls.clear()
    registrator.resync()
    assert consul.calls == []


def test_resync_registers_again_a_service_the_catalog_lacks():
    """Consul 1.8 syncs a service an agent held across its restart with the anonymous token;
    refused, it is in the agent but never in the catalog until registered again."""
    consul = FakeConsul()
    registrator = agent.Registrator(CONFIG, FakeDocker(running("web", "c1", 8080)), consul)
    registrator.resync()
    consul.calls.clear()
    service_id = next(iter(consul.registry))
    consul.refused.add(service_id)

    plan = registrator.resync()

    assert [service.id for service in plan.register] == [service_id]
    assert consul.calls == [("register", service_id)]


def test_resync_removes_its_services_of_containers_that_are_gone():
    engine = FakeDocker(running("web1", "aaa", 8080), running("web2", "bbb", 8081))
    consul = FakeConsul(FOREIGN)
    registrator = agent.Registrator(CONFIG, engine, consul)
    registrator.resync()
    del engine.containers_by_id["bbb"]
    registrator.resync()
    assert sorted(consul.registry) == ["consul-ui", "dc1-compute-1:web1:80"]


def test_a_container_that_died_loses_only_its_own_services():
    engine = FakeDocker(running("web1", "aaa", 8080), running("web2", "bbb", 8081))
    consul = FakeConsul()
    registrator = agent.Registrator(CONFIG, engine, consul)
    registrator.resync()
    engine.containers_by_id["bbb"] = {**engine.containers_by_id["bbb"], "State": {}}
    registrator.container_changed("bbb")
    assert sorted(consul.registry) == ["dc1-compute-1:web1:80"]


def test_a_container_that_started_is_registered():
    engine = FakeDocker()
    consul = FakeConsul()
    registrator = agent.Registrator(CONFIG, engine, consul)
    engine.containers_by_id["aaa"] = running("web1", "aaa", 8080)
    registrator.container_changed("aaa")
    assert consul.registry["dc1-compute-1:web1:80"]["Port"] == 8080


def test_an_event_about_a_removed_container_deregisters_it():
    engine = FakeDocker(running("web1", "aaa", 8080))
    consul = FakeConsul()
    registrator = agent.Registrator(CONFIG, engine, consul)
    registrator.resync()
    engine.containers_by_id.clear()
    registrator.container_changed("aaa")
    assert consul.registry == {}


def test_an_unreachable_engine_deregisters_nothing():
    engine = FakeDocker(running("web1", "aaa", 8080))
    consul = FakeConsul()
    registrator = agent.Registrator(CONFIG, engine, consul)
    registrator.resync()
    engine.down = True
    with pytest.raises(requests.ConnectionError):
        registrator.resync()
    assert list(consul.registry) == ["dc1-compute-1:web1:80"]


def test_without_a_configured_address_the_consul_agent_address_is_used():
    config = agent.Config(hostname="h")
    consul = FakeConsul()
    agent.Registrator(config, FakeDocker(running("web1", "aaa", 8080)), consul).resync()
    assert consul.registry["h:web1:80"]["Address"] == "10.231.1.199"


def test_run_retries_while_consul_is_down_then_syncs_and_stops(monkeypatch):
    # Its warnings would reach Salt's deferred log handler, which flushes after pytest closed
    # stderr.
    monkeypatch.setattr(agent.log, "disabled", True)
    consul = FakeConsul(failures=3)
    registrator = agent.Registrator(CONFIG, FakeDocker(running("web1", "aaa", 8080)), consul)
    inbox: queue.Queue = queue.Queue()
    inbox.put(agent.RESYNC)
    worker = threading.Thread(target=registrator.run, args=(inbox,), daemon=True)
    worker.start()
    deadline = time.monotonic() + 5
    while not consul.registry and time.monotonic() < deadline:
        time.sleep(0.01)
    inbox.put(agent.STOP)
    worker.join(timeout=5)
    assert list(consul.registry) == ["dc1-compute-1:web1:80"]
    assert not worker.is_alive()


def test_failed_resyncs_wait_for_the_backoff_instead_of_spinning(monkeypatch):
    monkeypatch.setattr(agent.log, "disabled", True)
    consul = FakeConsul(failures=10**6)
    config = agent.Config(hostname="h", address="10.0.0.1", retry_max=0.1)
    registrator = agent.Registrator(config, FakeDocker(running("web1", "aaa", 8080)), consul)
    inbox: queue.Queue = queue.Queue()
    inbox.put(agent.RESYNC)
    worker = threading.Thread(target=registrator.run, args=(inbox,), daemon=True)
    worker.start()
    time.sleep(0.55)
    inbox.put(agent.STOP)
    worker.join(timeout=5)
    # One attempt at once, then one per 0.1 s: about six, never a busy loop.
    assert 3 <= 10**6 - consul.failures <= 8


def test_backoff_doubles_up_to_its_cap_and_resets():
    backoff = agent.Backoff(cap=5)
    assert [backoff.next() for _ in range(5)] == [1, 2, 4, 5, 5]
    backoff.reset()
    assert backoff.next() == 1


def test_config_rejects_an_unknown_key(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"resync": 10, "consul": "x"}))
    with pytest.raises(ValueError, match=r"unknown settings \['consul'\]"):
        agent.Config.load(path)


def test_config_reads_every_key(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"tags": ["docker"], "internal": True, "resync": 5}))
    assert agent.Config.load(path) == agent.Config(tags=("docker",), internal=True, resync=5)


def test_config_rejects_a_consul_url_that_is_not_http_host_port(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"consul_url": "127.0.0.1:8500"}))
    with pytest.raises(ValueError, match=r"consul_url: Consul URL '127.0.0.1:8500' is not of"):
        agent.Config.load(path)


def test_the_consul_client_reaches_an_ipv6_agent_as_the_salt_modules_do(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"consul_url": "https://[2001:db8::11]"}))
    client = agent.consul_client(agent.Config.load(path))
    assert client.http.base_uri == "https://[2001:db8::11]:443"


def test_the_consul_client_presents_the_token_of_the_token_file(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("b1gs3cr3t-t0k3n\n")
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"token_file": str(token_file)}))

    client = agent.consul_client(agent.Config.load(path))

    assert client.http.session.headers["X-Consul-Token"] == "b1gs3cr3t-t0k3n"


def test_the_consul_client_presents_no_token_without_a_token_file(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({}))

    client = agent.consul_client(agent.Config.load(path))

    assert "X-Consul-Token" not in client.http.session.headers


def test_services_carry_the_registrator_mark():
    consul = FakeConsul()
    agent.Registrator(CONFIG, FakeDocker(running("web1", "aaa", 8080)), consul).resync()
    assert mapping.is_managed(consul.registry["dc1-compute-1:web1:80"])
