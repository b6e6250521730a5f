"""The platform's registrator: puts the published ports of Docker containers into Consul.

It follows gliderlabs/registrator's documented contract (``SERVICE_*`` environment variables
and labels, one service per port, ids ``<hostname>:<container>:<port>[:udp]``) with the
Docker SDK and py-consul. ``mapping`` holds the rules and does no I/O; ``agent`` talks to the
engine and the local Consul agent.
"""
