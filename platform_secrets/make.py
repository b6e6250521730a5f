"""``init``: make what the site's secrets lack, keep what they have."""

from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from . import Refusal, authority, catalogue, files


@dataclass
class Outcome:
    """What a run did, by name only: no field holds a secret."""

    pillar_file: Path
    ca_key_file: Path
    ca_key_created: bool
    created: list[str]  # pillar keys made now, named as pillar.get names them
    kept: list[str]
    fixed: list[str]  # files and directories whose modes were made private
    written: bool  # whether the pillar file was written
    not_ignored: list[Path]  # files inside a git work tree that git does not ignore


def init(directory: Path) -> Outcome:
    """Make every secret ``directory`` lacks: ``secrets.sls`` (pillar ``secrets``) and the CA's
    private key (``consul-ca.key``, or wherever ``secrets:consul:ca:key_file`` says)."""
    directory = Path(directory).absolute()
    fixed = files.private_directory(directory)
    with files.locked(directory):
        return _init(directory, fixed)


def _init(directory: Path, fixed: list[str]) -> Outcome:
    pillar_file = directory / files.PILLAR_FILE
    document = files.read_pillar(pillar_file)
    fixed += files.private_file(pillar_file)

    ca = _branch(document, ("secrets", "consul", "ca"))
    key_file = _key_file(ca.get("key_file"), directory)
    fixed += files.private_file(key_file)
    key, ca_key_created = _ca_key(key_file, has_certificate=_present(ca.get("cert")))
    if _present(ca.get("cert")):
        authority.check_pair(ca["cert"], key, key_file)

    tree = catalogue.needed(lambda: authority.certificate_pem(key), lambda: str(key_file))
    created, kept = [], []
    for name, made in _fill({"secrets": tree}, document, ()):
        (created if made else kept).append(":".join(name))
    if created:
        files.write_private(pillar_file, files.dump_pillar(document), replace=True)
    return Outcome(
        pillar_file=pillar_file,
        ca_key_file=key_file,
        ca_key_created=ca_key_created,
        created=created,
        kept=kept,
        fixed=fixed,
        written=bool(created),
        not_ignored=files.not_git_ignored([pillar_file, key_file]),
    )


def _present(value) -> bool:
    """Whether a pillar value counts as there: an empty one is made again."""
    return value not in (None, "")


def _mapping(value, name: tuple[str, ...]) -> dict:
    if not isinstance(value, dict):
        raise Refusal(
            f"{':'.join(name)} is a {type(value).__name__}, not a mapping: mend the file, or "
            "delete the key to have it made again"
        )
    return value


def _branch(document: dict, keys: tuple[str, ...]) -> dict:
    """The mapping at ``keys`` in ``document``, {} where it is missing."""
    branch = document
    for depth in range(len(keys)):
        value = branch.get(keys[depth])
        if value is None:
            return {}
        branch = _mapping(value, keys[: depth + 1])
    return branch


def _key_file(recorded, directory: Path) -> Path:
    if not _present(recorded):
        return directory / files.CA_KEY_FILE
    path = Path(str(recorded))
    if not path.is_absolute():
        raise Refusal(
            "secrets:consul:ca:key_file must be an absolute path: Salt reads it from wherever it "
            "runs"
        )
    return path


def _ca_key(key_file: Path, *, has_certificate: bool) -> tuple[ec.EllipticCurvePrivateKey, bool]:
    """The CA's key and whether it was made now. A certificate whose key is gone is never
    replaced silently: every certificate it signed would stop being trusted."""
    if key_file.exists():
        return authority.load_key(key_file), False
    if has_certificate:
        raise Refusal(
            f"{key_file} is missing, and secrets:consul:ca:cert is its certificate: restore the "
            "key from a backup (if it moved, set secrets:consul:ca:key_file to where it is). "
            "Only to start a new CA, whose certificates every agent must then be given again, "
            "delete secrets:consul:ca:cert"
        )
    key = authority.new_key()
    files.write_private(key_file, authority.key_pem(key), replace=False)
    return key, True


def _fill(needed: dict, present: dict, path: tuple[str, ...]) -> list[tuple[tuple[str, ...], bool]]:
    """Add to ``present`` every leaf of ``needed`` it lacks, made now; keep every other value as
    it is. Returns each leaf's name and whether it was made."""
    leaves = []
    for key, make in needed.items():
        name = (*path, key)
        if isinstance(make, dict):
            if present.get(key) is None:
                present[key] = {}
            leaves += _fill(make, _mapping(present[key], name), name)
        elif _present(present.get(key)):
            leaves.append((name, False))
        else:
            present[key] = make()
            leaves.append((name, True))
    return leaves
