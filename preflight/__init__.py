"""Before salt-ssh touches a host: every roster entry says how to log in and its host answers.

salt-ssh itself, given a roster entry without ``priv`` (or ``passwd``), falls back to a key
of its own and asks on the terminal whether to deploy it; with no terminal it dies with a
traceback. ``scripts/salt-ssh`` runs this check first and stops with one line per problem,
naming the roster key and the fix.
"""
