"""The registrator's I/O: containers and events from Docker, services to the local Consul agent.

One thread follows Docker's event stream and queues the id of every container that started
or died; the main thread handles the queue one item at a time, so that registrations never
race. It reconciles everything (``resync``) when the event stream (re)connects, every
``resync`` seconds, and after a failure once a bounded backoff has passed: a restart of the
Consul agent or of the Docker engine costs at most that wait. An engine it cannot reach is
never taken for an engine without containers: a failed listing deregisters nothing.
"""

import json
import logging
import os
import queue
import socket
import time
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import consul
import docker
import requests

from . import _consul_http, mapping

log = logging.getLogger("registrator")

# Queue items besides ("container", <id>).
RESYNC = ("resync", "")
STOP = ("stop", "")
CONTAINER_EVENTS = ["start", "die"]
# An engine or agent that is down, restarting or failing: wait, then reconcile.
TRANSIENT_ERRORS = (
    consul.ConsulException,
    docker.errors.DockerException,
    requests.RequestException,
    OSError,
)


@dataclass(frozen=True)
class Config:
    """The registrator's settings (``/etc/registrator/config.json``); every key is optional."""

    consul_url: str = "http://127.0.0.1:8500"
    # A file holding the ACL token the agent presents; empty: none (an open site).
    token_file: str = ""
    # The CA of an https:// consul_url; empty: the system's CAs.
    ca_file: str = ""
    docker_url: str = "unix:///run/docker.sock"
    # Used in service ids; empty: the host name.
    hostname: str = ""
    # Address of published ports bound to every address; empty: the Consul agent's address.
    address: str = ""
    internal: bool = False
    explicit: bool = False
    tags: tuple[str, ...] = ()
    # Seconds between two reconciliations, and the longest wait after a failure.
    resync: float = 30.0
    retry_max: float = 10.0
    # Seconds one request to Docker or Consul may take.
    request_timeout: float = 10.0
    log_level: str = "INFO"

    @classmethod
    def load(cls, path: str | Path) -> "Config":
        """Read a JSON file; raise ValueError naming the key that is wrong."""
        raw = json.loads(Path(path).read_text())
        known = {setting.name for setting in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"{path}: unknown settings {unknown}; known are {sorted(known)}")
        if "tags" in raw:
            raw["tags"] = tuple(raw["tags"])
        config = cls(**raw)
        try:
            _consul_http.endpoint(config.consul_url)
        except ValueError as err:
            raise ValueError(f"{path}: consul_url: {err}") from err
        if config.resync <= 0 or config.retry_max <= 0:
            raise ValueError(f"{path}: resync and retry_max must be positive seconds")
        return config


class Backoff:
    """Waits that double after each failure, from one second (at most ``cap``) up to ``cap``."""

    def __init__(self, cap: float) -> None:
        self.cap = cap
        self.current = 0.0

    def next(self) -> float:
        self.current = min(self.cap, self.current * 2 if self.current else 1.0)
        return self.current

    def reset(self) -> None:
        self.current = 0.0


def notify(message: str) -> None:
    """Tell systemd (``Type=notify``) about readiness or status; nothing outside systemd."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(message.encode(), address)


def consul_client(config: Config) -> consul.Consul:
    """A client of the agent at ``consul_url``, built as the platform's Salt modules build theirs
    (``_consul_http``: IPv6 hosts, HTTPS), with the token of ``token_file``, read at each
    start (a restart takes a new token)."""
    token = Path(config.token_file).read_text().strip() if config.token_file else None
    return _consul_http.client(
        config.consul_url,
        token=token or None,
        ca_file=config.ca_file or None,
        request_timeout=config.request_timeout,
    )


def docker_client(config: Config) -> docker.APIClient:
    """A client of the engine; it asks the engine for its API version, so it may raise."""
    return docker.APIClient(
        base_url=config.docker_url, version="auto", timeout=config.request_timeout
    )


class Registrator:
    """Keeps the local Consul agent's services in line with the running containers."""

    def __init__(self, config: Config, docker_api: Any = None, consul_api: Any = None) -> None:
        self.config = config
        self._docker = docker_api
        self._consul = consul_api if consul_api is not None else consul_client(config)
        self._settings: mapping.Settings | None = None
        # The agent's node name, once asked (the catalog's name of this host).
        self._node: str | None = None

    @property
    def docker(self) -> Any:
        # Made on first use: making it needs the engine, which may not be up yet.
        if self._docker is None:
            self._docker = docker_client(self.config)
        return self._docker

    def settings(self) -> mapping.Settings:
        """The mapping settings; the address, unless configured, is the Consul agent's."""
        if self._settings is None:
            address = self.config.address or self._consul.agent.self()["Member"]["Addr"]
            self._settings = mapping.Settings(
                hostname=self.config.hostname or socket.gethostname(),
                address=address,
                internal=self.config.internal,
                explicit=self.config.explicit,
                tags=self.config.tags,
            )
        return self._settings

    def _inspect(self, container_id: str) -> dict | None:
        try:
            return self.docker.inspect_container(container_id)
        except docker.errors.NotFound:
            return None

    def resync(self) -> mapping.Plan:
        """Register the services of every running container, remove those of gone ones."""
        inspected = (self._inspect(summary["Id"]) for summary in self.docker.containers())
        settings = self.settings()
        desired = [
            service
            for container in inspected
            if container
            for service in mapping.services(container, settings)
        ]
        return self._apply(mapping.reconcile(desired, self._synced(self._consul.agent.services())))

    def _synced(self, registered: dict[str, Any]) -> dict[str, Any]:
        """The agent's services but those of the registrator that the catalog lacks, so that
        they are registered again. A service the agent held across its restart is synced
        with the anonymous token by Consul 1.8, and refused under default deny for as long as
        the container lives; registered again, it carries the registrator's token."""
        if self._node is None:
            self._node = self._consul.agent.self()["Config"]["NodeName"]
        _, node = self._consul.catalog.node(self._node)
        in_catalog = set(((node or {}).get("Services")) or {})
        return {
            service_id: service for service_id, service in registered.items()
            if service_id in in_catalog or not mapping.is_managed(service)
        }

    def container_changed(self, container_id: str) -> mapping.Plan:
        """Bring one container's services up to date after it started or died."""
        container = self._inspect(container_id)
        desired = mapping.services(container, self.settings()) if container else []
        registered = self._consul.agent.services()
        return self._apply(mapping.reconcile(desired, registered, [container_id]))

    def _apply(self, plan: mapping.Plan) -> mapping.Plan:
        for service in plan.register:
            self._consul.agent.service.register(**service.registration())
            log.info("registered %s as %s at %s:%d", service.id, service.name,
                     service.address, service.port)
        for service_id in plan.deregister:
            self._consul.agent.service.deregister(service_id)
            log.info("deregistered %s", service_id)
        for service_id in plan.conflicts:
            log.warning("not registering %s: the agent holds a service of that id that the "
                        "registrator did not create", service_id)
        return plan

    def run(self, inbox: "queue.Queue[tuple[str, str]]") -> None:
        """Handle queued events and reconcile on time until a STOP item arrives."""
        backoff = Backoff(self.config.retry_max)
        next_resync = time.monotonic() + self.config.resync
        ready = False
        while True:
            try:
                item = inbox.get(timeout=max(0.0, next_resync - time.monotonic()))
            except queue.Empty:
                item = RESYNC
            if item == STOP:
                return
            try:
                if item == RESYNC:
                    plan = self.resync()
                    next_resync = time.monotonic() + self.config.resync
                    backoff.reset()
                    if not ready:
                        notify("READY=1")
                        ready = True
                    notify(f"STATUS=in sync ({len(plan.register)} registered, "
                           f"{len(plan.deregister)} deregistered at the last resync)")
                else:
                    self.container_changed(item[1])
            except TRANSIENT_ERRORS as err:
                delay = backoff.next()
                log.warning("%s failed (%s); reconciling in %.0f s", item[0], err, delay)
                notify(f"STATUS=waiting for Docker or Consul: {err}")
                retry_at = time.monotonic() + delay
                # A failed resync was due already: its retry replaces it. A failed event keeps
                # an earlier resync.
                next_resync = retry_at if item == RESYNC else min(next_resync, retry_at)


def watch_events(config: Config, inbox: "queue.Queue[tuple[str, str]]") -> None:
    """Queue the containers that start or die; reconnect with a bounded backoff, forever.

    A RESYNC is queued after each (re)subscription, so whatever happened while the stream
    was down is found by reconciling.
    """
    backoff = Backoff(config.retry_max)
    while True:
        try:
            stream = docker_client(config).events(
                decode=True, filters={"type": "container", "event": CONTAINER_EVENTS}
            )
            inbox.put(RESYNC)
            backoff.reset()
            for event in stream:
                container_id = (event.get("Actor") or {}).get("ID") or event.get("id")
                if container_id:
                    inbox.put(("container", container_id))
            log.warning("the Docker event stream ended (the engine stopped?)")
        except TRANSIENT_ERRORS as err:
            log.warning("cannot follow Docker events: %s", err)
        time.sleep(backoff.next())
