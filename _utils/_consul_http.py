"""
The platform's one construction of a py-consul client: from the agent's URL
(``http(s)://host[:port]``, an IPv6 host in brackets), an ACL token and a CA file.

Two programs use this very file. In Salt, ``consul_agent`` (a util) imports it: the leading
underscore keeps Salt's loader from loading it as a util of its own, and the loader puts
the directory of the util it loads on sys.path while loading it, wherever the utils are
(the repository's ``_utils`` with ``module_dirs``, a minion's extmods after a sync, salt-ssh's
thin). The registrator, a program of its own on compute hosts without Salt, ships it in its
package: ``salt/registrator/files/registrator/_consul_http.py`` is a link to it, which the
state tree serves as a file. So it imports neither Salt nor the registrator, and raises
ValueError.
"""

from urllib.parse import urlsplit

import consul

# The port of a URL that names none: Consul's HTTP port, and the port of HTTPS URLs.
DEFAULT_PORTS = {"http": 8500, "https": 443}
TOKEN_HEADER = "X-Consul-Token"


def endpoint(url: str) -> tuple[str, str, int]:
    """
    ``(scheme, host, port)`` of ``url`` as py-consul's client takes them.

    py-consul joins host and port with a colon, so an IPv6 host keeps its brackets. Raises
    ValueError when ``url`` is not ``http(s)://host[:port]``.
    """
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError as err:
        raise ValueError(f"Consul URL {url!r} has an invalid port") from err
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"Consul URL {url!r} is not of the form http(s)://host:port")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return parts.scheme, host, port or DEFAULT_PORTS[parts.scheme]


def client(
    url: str, *, token: str | None, ca_file: str | None, request_timeout: float
) -> "consul.Consul":
    """
    A py-consul client of the agent at ``url`` that sends ``token`` (none if None) with every
    request, whatever the environment holds, and checks an HTTPS agent's certificate against
    ``ca_file`` (else against requests' CA bundle). ``request_timeout``: seconds one request
    may take. Raises ValueError for a URL that is not ``http(s)://host[:port]``.
    """
    scheme, host, port = endpoint(url)
    # host, port, scheme and verify are always given: py-consul then ignores CONSUL_HTTP_ADDR,
    # CONSUL_HTTP_SSL and CONSUL_HTTP_SSL_VERIFY.
    agent = consul.Consul(
        host=host,
        port=port,
        scheme=scheme,
        verify=ca_file or True,
        connections_timeout=request_timeout,
    )
    # The token cannot simply be given to the constructor: py-consul 1.8.0 keeps
    # os.getenv("CONSUL_HTTP_TOKEN", token), so the environment wins. And it sends its token
    # only with the calls that take one (prepare_headers); agent.self, agent.members and
    # status.* go out bare, and Consul answers them 403 or filters them under ACLs. So the
    # token is a default header of the client's HTTP session, which every request carries,
    # and also py-consul's own token, because a per-call header would replace the default.
    agent.token = token
    session = agent.http.session
    if token:
        session.headers[TOKEN_HEADER] = token
    # Nothing from the environment either on the requests side: no proxy (it would see the
    # token; agents are on the host or its datacenter's network), no REQUESTS_CA_BUNDLE in
    # place of ca_file, no ~/.netrc credentials.
    session.trust_env = False
    return agent
