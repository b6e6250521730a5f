"""The platform's registrator: puts the published ports of Docker containers into Consul.

It follows gliderlabs/registrator's documented contract (``SERVICE_*`` environment variables
and labels, one service per port, ids ``<hostname>:<container>:<port>[:udp]``) with the
Docker SDK and py-consul. ``mapping`` holds the rules and does no I/O; ``agent`` talks to the
engine and the local Consul agent, with a client built by ``_consul_http``: the very file the
platform's Salt modules build theirs with (a link to ``_utils/_consul_http.py`` in the
repository, a copy on hosts).
"""
