"""The site's secrets, made once: ``scripts/secrets init DIR`` (``python -m platform_secrets``).

It writes every secret a site needs into one pillar file, ``DIR/secrets.sls`` (mode 0600, under
the single pillar key ``secrets``), and the Consul CA's private key into ``DIR/consul-ca.key``
(mode 0600), which stays on the machine that renders and is never pillar. A second run keeps
every value it finds and adds only what is missing; nothing it prints is a secret.
See docs/secrets.md.

The package is not called ``secrets``: that would shadow the standard library module it uses.
"""


class Refusal(Exception):
    """The command will not go on; the message names the file or key and the fix, never a
    secret."""
