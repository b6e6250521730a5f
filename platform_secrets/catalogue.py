"""What a site needs: every entry of pillar ``secrets``, and how a missing one is made.

The catalogue is a tree shaped like the pillar; each leaf is a function that makes a new value.
Adding a secret to the platform is adding a leaf here: the next run makes it and keeps the
rest.
"""

import base64
import secrets
import uuid
from collections.abc import Callable

Make = Callable[[], str]

# Consul ACL tokens by the client that presents them (docs/secrets.md says what each may do).
# The management token is apart: only the state that creates the others uses it; so are the
# agents' own tokens, derived from agent_seed.
CONSUL_TOKENS = ("salt", "registrator", "services", "health_checks", "replication")

# ZooKeeper clients, each with its own user (in their zk:// URLs); the quorum has one more.
ZOOKEEPER_CLIENTS = ("mesos", "marathon")

# Mesos principals: the name in the pillar and the principal the master knows it by.
MESOS_PRINCIPALS = {"agent": "mesos-agent", "marathon": "marathon", "operator": "operator"}


def gossip_key() -> str:
    """Consul's gossip key: base64 of 32 random bytes, as ``consul keygen`` prints it."""
    return base64.b64encode(secrets.token_bytes(32)).decode()


def password() -> str:
    """256 random bits in hex: no character needs quoting or escaping in a zk:// URL, a JAAS
    file, a credential file or an environment file, and none starts like a flag."""
    return secrets.token_hex(32)


def token_id() -> str:
    """A Consul token's AccessorID or SecretID: a random UUID, as Consul makes them."""
    return str(uuid.uuid4())


def fixed(value: str) -> Make:
    """A leaf that is a name rather than a secret (a user, a principal): made the same each
    time, kept as the operator may have changed it."""
    return lambda: value


def acl_token() -> dict:
    # Both ids are chosen here, so that the state that creates the token through the API finds
    # it again by its AccessorID and never makes a second one.
    return {"accessor_id": token_id, "secret_id": token_id}


def login(user: str) -> dict:
    return {"user": fixed(user), "password": password}


def needed(ca_certificate: Make, ca_key_file: Make) -> dict:
    """The tree of pillar ``secrets``. The CA's two entries are made by the caller, who holds
    its key."""
    return {
        "consul": {
            "gossip_key": gossip_key,
            "ca": {"cert": ca_certificate, "key_file": ca_key_file},
            "acl": {
                "management": {"secret_id": token_id},
                # Every agent's own token is derived from it and the node's name.
                "agent_seed": password,
                "tokens": {name: acl_token() for name in CONSUL_TOKENS},
            },
        },
        "zookeeper": {
            "quorum": login("quorum"),
            "clients": {name: login(name) for name in ZOOKEEPER_CLIENTS},
        },
        "mesos": {
            "principals": {
                name: {"principal": fixed(principal), "secret": password}
                for name, principal in MESOS_PRINCIPALS.items()
            },
        },
        "marathon": {"http": login("operator")},
        # The edge's HAProxy stats page (basic authentication).
        "haproxy": {"stats": login("stats")},
    }
