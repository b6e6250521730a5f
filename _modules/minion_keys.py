"""
Salt minions' keys made on the master's side, so that a minion bootstrapped by salt-ssh (the
salt formula, ``salt.minion``) is accepted from its first connection while the master keeps
``auto_accept`` off, and a host nobody bootstrapped stays pending.

``preseed`` makes a minion's RSA pair once, with Salt's own ``salt.crypt.gen_keys``, accepts
its public key as ``salt-key -a`` leaves it (``<pki_dir>/minions/<id>``, owned like that
directory, ``0600``), keeps the private key for root only beside it
(``<pki_dir>/preseed/<id>.pem``, ``0600`` in a ``0700`` directory) so that a re-run gives the
same pair, and returns the pair with the master's public key for the host's
``/etc/salt/pki/minion``. It writes the master's files, so it runs where templates render and
the master's pki_dir is: under salt-ssh it is a wrapper module (``_wrapper/minion_keys.py`` is
a link to this file) on the operator's machine, never on the host. It uses the files of the
master's default key store (``keys.cache_driver: localfs_key``).
"""

import os
from pathlib import Path

import salt.config
import salt.crypt
import salt.utils.atomicfile
import salt.utils.files
import salt.utils.verify
from salt.exceptions import CommandExecutionError, SaltInvocationError

try:
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

    CRYPTOGRAPHY_ERROR = None
except ImportError as err:
    CRYPTOGRAPHY_ERROR = str(err)

__virtualname__ = "minion_keys"

# The private keys of the pairs made here, and the lock that makes two renders of one minion
# wait for each other (salt-ssh renders hosts in parallel processes), under the master's
# pki_dir.
STORE_DIRECTORY = "preseed"
LOCK_FILE = ".lock"
# A minion's own key size (a minion that makes its key itself makes one of this size).
KEY_SIZE = salt.config.DEFAULT_MINION_OPTS["keysize"]


def __virtual__():
    if CRYPTOGRAPHY_ERROR is not None:
        return False, f"minion_keys needs the Python package cryptography: {CRYPTOGRAPHY_ERROR}"
    return __virtualname__


def _master_pki_dir(pki_dir: str) -> Path:
    """``pki_dir`` if a salt-master has started with it: its key and its accepted keys' folder."""
    path = Path(pki_dir)
    if not (path.is_absolute() and (path / "master.pub").is_file() and (path / "minions").is_dir()):
        raise SaltInvocationError(
            f"pki_dir {pki_dir!r} (pillar salt_minion:master_pki_dir) is not the absolute path "
            "of a salt-master's pki_dir on this machine (one with master.pub and minions/): set "
            "it to the master's (/etc/salt/pki/master by default), run where it is, and start "
            "the master once before"
        )
    return path


def _checked_id(minion_id: str, pki_dir: Path) -> str:
    if not (
        isinstance(minion_id, str)
        and minion_id
        and not minion_id.startswith(".")
        and salt.utils.verify.valid_id({"pki_dir": str(pki_dir)}, minion_id)
    ):
        raise SaltInvocationError(
            f"minion id {minion_id!r} cannot name a key file: use the host's minion id "
            "(letters, digits, '.', '-' and '_')"
        )
    return minion_id


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii")
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as err:
        raise CommandExecutionError(f"cannot read {path}: {err}") from err


def _public_key(private_file: Path, private_pem: str) -> str:
    """The public key of ``private_pem``, written as ``salt.crypt.gen_keys`` writes one."""
    try:
        key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as err:
        raise CommandExecutionError(
            f"{private_file} is not an unencrypted PEM private key: delete it and the "
            "minion's key on the master (salt-key -d), then apply again"
        ) from err
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def _write(path: Path, content: str) -> None:
    """Write ``content`` to a temporary file (``0600``) beside ``path`` and rename it over
    ``path``: a reader (the master) sees no file or the whole of it."""
    try:
        with (
            salt.utils.files.set_umask(0o177),
            salt.utils.atomicfile.atomic_open(str(path), "w") as stream,
        ):
            stream.write(content)
    except OSError as err:
        raise CommandExecutionError(f"cannot write {path}: {err.strerror}") from err


def _accept(pki_dir: Path, minion_id: str, public_pem: str) -> None:
    """Accept ``public_pem`` for ``minion_id`` as ``salt-key -a`` does: in ``minions/``, owned
    like that folder (the master's user), and no longer pending: the master reads a pending
    key of the same id before the accepted one."""
    accepted = pki_dir / "minions" / minion_id
    _write(accepted, public_pem)
    try:
        owner = (pki_dir / "minions").stat()
        os.chown(accepted, owner.st_uid, owner.st_gid)
        (pki_dir / "minions_pre" / minion_id).unlink(missing_ok=True)
    except OSError as err:
        raise CommandExecutionError(f"cannot accept the key of {minion_id}: {err}") from err


def _refuse_rejected(pki_dir: Path, minion_id: str) -> None:
    if (pki_dir / "minions_rejected" / minion_id).exists():
        raise CommandExecutionError(
            f"the master rejected a key of {minion_id} ({pki_dir}/minions_rejected): if this "
            f"host is to be its minion, delete it there (salt-key -d {minion_id}) and apply again"
        )


def _pair(pki_dir: Path, minion_id: str, test: bool) -> tuple[str, str]:
    """(private PEM, public PEM): the stored pair while its public key is the accepted one,
    else a new pair, accepted (written only without ``test``)."""
    _refuse_rejected(pki_dir, minion_id)
    accepted = _read(pki_dir / "minions" / minion_id)
    private_file = pki_dir / STORE_DIRECTORY / f"{minion_id}.pem"
    stored = _read(private_file)
    if accepted is not None:
        public_pem = stored and _public_key(private_file, stored)
        if public_pem and salt.crypt.clean_key(public_pem) == salt.crypt.clean_key(accepted):
            return stored, public_pem
        raise CommandExecutionError(
            f"the master accepted a key of {minion_id} that was not made here ({pki_dir}/"
            f"minions/{minion_id} has no private key in {private_file}): its minion keeps "
            f"its own key; to bootstrap the host anew, delete it (salt-key -d {minion_id}) "
            "and apply again"
        )
    # New, or deleted on the master since (salt-key -d): never give that pair again.
    private_pem, public_pem = salt.crypt.gen_keys(KEY_SIZE)
    if not test:
        # The private key first: after a crash between the two, the next call makes a new pair.
        _write(private_file, private_pem)
        _accept(pki_dir, minion_id, public_pem)
    return private_pem, public_pem


def preseed(minion_id: str, pki_dir: str, test: bool = False) -> dict[str, str]:
    """
    The key pair of minion ``minion_id``, accepted by the salt-master whose pki_dir is
    ``pki_dir``, and the master's public key.

    Returns ``{"pem": private key, "pub": public key, "master_pub": the master's public key}``:
    the minion's ``minion.pem``, ``minion.pub`` and ``minion_master.pub``. The first call makes
    the pair and accepts its public key; later calls return the same pair while the master
    holds it as accepted. Deleted on the master (``salt-key -d``), the next call makes and
    accepts a new pair. With ``test`` nothing is written: a pair not made yet is made in
    memory only.

    Raises SaltInvocationError for a ``pki_dir`` of no master or a bad id, and
    CommandExecutionError when the master rejected the id or accepted a key of it that was
    not made here (its private key is elsewhere: that minion keeps its own), naming the fix.

    CLI Example (it prints the private key, which salt.minion writes without showing):

    .. code-block:: bash

        salt-ssh dc1-compute-1 minion_keys.preseed dc1-compute-1 /etc/salt/pki/master
    """
    pki = _master_pki_dir(pki_dir)
    minion_id = _checked_id(minion_id, pki)
    master_pub = _read(pki / "master.pub")
    if test:
        # Reads only: a writer renames whole files into place.
        private_pem, public_pem = _pair(pki, minion_id, test)
    else:
        store = pki / STORE_DIRECTORY
        try:
            store.mkdir(mode=0o700, exist_ok=True)
            store.chmod(0o700)
            with salt.utils.files.flopen(str(store / LOCK_FILE), "a"):
                private_pem, public_pem = _pair(pki, minion_id, test)
        except OSError as err:
            raise CommandExecutionError(f"cannot use {store} (mode 0700): {err}") from err
    return {"pem": private_pem, "pub": public_pem, "master_pub": master_pub}
