"""Masterless renders of the pkgsources formula, as `salt-call --local` on a host would do them:
nothing without its pillar, the Debian archives on a mirror for a bookworm and a trixie host
from one pillar block, the OS's own sources moved aside only on request and only after the
mirror's are written, one index refresh when a source changed, the RedHat family's
repositories, a vendor's repository as one entry, the clean state's order, the pillar the
formula refuses, and its place before every other state of a highstate.

One real run, twice, with every path it writes under tmp_path; no index refresh runs, and
nothing here touches this machine's /etc/apt.
"""

from collections.abc import Callable
from typing import Any

import pytest

from tests.functional.harness import SHAPES, Minion, state_arguments

HOST = "dc1-compute-1"
BOOKWORM = {"os_family": "Debian", "oscodename": "bookworm"}
TRIXIE = {"os_family": "Debian", "oscodename": "trixie"}
ROCKY = {"os_family": "RedHat", "os": "Rocky", "oscodename": "Blue Onyx"}
MIRROR = "http://mirror.example:8080"
FILE_ID = "pkgsources-os-debian-file-managed"
REPLACE_ID = "pkgsources-os-replace-file-rename"
RESTORE_ID = "pkgsources-os-restore-file-rename"
REFRESH_ID = "pkgsources-refresh-db-module-run"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
DEBIAN_MIRROR = {
    "mirror": f"{MIRROR}/debian",
    "security": {"mirror": f"{MIRROR}/debian-security"},
    "replace_os_sources": True,
}
MESOS_REPOSITORY = {
    "name": f"deb [signed-by=/etc/apt/keyrings/aventer.asc] {MIRROR}/aventer {{codename}} main",
    "file": "/etc/apt/sources.list.d/aventer.list",
    "aptkey": False,
}


@pytest.fixture
def host(minion: Callable[..., Minion]) -> Callable[..., Minion]:
    """``host(pkgsources=, grains=)``: a compute host of a one-datacenter plan with pillar
    ``pkgsources`` (none if None) and ``grains`` (default: a bookworm host)."""

    def make(pkgsources: dict[str, Any] | None = None, grains: dict[str, Any] | None = None):
        site = {} if pkgsources is None else {"pkgsources": pkgsources}
        return minion(
            HOST, ["compute"], datacenters=SHAPES["one-dc"], site=site, grains=grains or BOOKWORM
        )

    return make


def archive_stanzas(text: str) -> list[list[str]]:
    """The deb822 stanzas of a sources file, comments left out."""
    stanzas = [stanza.splitlines() for stanza in text.split("\n\n")]
    return [
        [line for line in stanza if not line.startswith("#")]
        for stanza in stanzas
        if any(not line.startswith("#") for line in stanza)
    ]


@pytest.mark.parametrize(
    ("pkgsources", "grains"),
    [(None, BOOKWORM), (None, ROCKY), ({"debian": None, "redhat": {}}, BOOKWORM)],
    ids=["absent-debian", "absent-redhat", "empty-blocks"],
)
def test_without_its_pillar_the_formula_renders_nothing(host, pkgsources, grains):
    assert host(pkgsources, grains).salt_call("state.show_sls", "pkgsources") == {}


def test_a_site_without_the_pillar_block_gets_no_new_state_in_its_highstate(host):
    highstate = host().highstate()

    assert not [state_id for state_id in highstate if state_id.startswith("pkgsources-")]


@pytest.mark.parametrize(
    ("grains", "codename"), [(BOOKWORM, "bookworm"), (TRIXIE, "trixie")], ids=["bookworm", "trixie"]
)
def test_one_block_gives_each_host_the_suites_of_its_own_release(tmp_path, host, grains, codename):
    debian = host({"debian": DEBIAN_MIRROR}, grains)
    text = debian.render_managed_file(
        debian.show_sls("pkgsources"), FILE_ID, tmp_path / "pkgsources.sources"
    )

    assert archive_stanzas(text) == [
        [
            "Types: deb",
            f"URIs: {MIRROR}/debian",
            f"Suites: {codename} {codename}-updates",
            "Components: main",
            f"Signed-By: {KEYRING}",
        ],
        [
            "Types: deb",
            f"URIs: {MIRROR}/debian-security",
            f"Suites: {codename}-security",
            "Components: main",
            f"Signed-By: {KEYRING}",
        ],
    ]


def test_a_flat_repository_gets_one_stanza_without_components_or_keyring(tmp_path, host):
    flat = {"mirror": f"{MIRROR}/flat", "suites": ["./"], "components": [], "signed_by": ""}
    debian = host({"debian": flat})
    text = debian.render_managed_file(
        debian.show_sls("pkgsources"), FILE_ID, tmp_path / "pkgsources.sources"
    )

    assert archive_stanzas(text) == [["Types: deb", f"URIs: {MIRROR}/flat", "Suites: ./"]]


def test_the_os_sources_are_moved_aside_only_after_the_mirror_file_is_written(host):
    rendered = host({"debian": DEBIAN_MIRROR}).show_sls("pkgsources")
    replace = state_arguments(rendered, REPLACE_ID)

    assert replace["names"] == [
        {"/etc/apt/sources.list.disabled": [{"source": "/etc/apt/sources.list"}]},
        {
            "/etc/apt/sources.list.d/debian.sources.disabled": [
                {"source": "/etc/apt/sources.list.d/debian.sources"}
            ]
        },
    ]
    assert replace["require"] == [{"sls": "pkgsources.os.debian"}]
    assert RESTORE_ID not in rendered


def test_without_replace_the_os_sources_stay_and_come_back_if_moved(host):
    rendered = host({"debian": {"mirror": f"{MIRROR}/debian"}}).show_sls("pkgsources")

    assert state_arguments(rendered, RESTORE_ID)["names"] == [
        {"/etc/apt/sources.list": [{"source": "/etc/apt/sources.list.disabled"}]},
        {
            "/etc/apt/sources.list.d/debian.sources": [
                {"source": "/etc/apt/sources.list.d/debian.sources.disabled"}
            ]
        },
    ]
    assert REPLACE_ID not in rendered


def test_the_index_is_refreshed_once_and_only_when_a_source_changed(host):
    pkgsources = {"debian": {**DEBIAN_MIRROR, "repos": {"mesos": MESOS_REPOSITORY}}}
    rendered = host(pkgsources).show_sls("pkgsources")
    refresh = state_arguments(rendered, REFRESH_ID)

    assert refresh["pkg.refresh_db"] == [{"failhard": True}]
    assert refresh["onchanges"] == [
        {"sls": "pkgsources.os.debian"},
        {"sls": "pkgsources.os.replace"},
        {"sls": "pkgsources.repos.managed"},
    ]
    assert [state_id for state_id in rendered if "refresh" in state_id] == [REFRESH_ID]


def test_a_vendor_repository_mirror_is_one_entry(host):
    rendered = host({"debian": {"repos": {"mesos": MESOS_REPOSITORY}}}, TRIXIE).show_sls(
        "pkgsources"
    )
    repository = state_arguments(rendered, "pkgsources-repos-managed-pkgrepo-managed-mesos")
    del repository["order"]

    assert repository == {
        **MESOS_REPOSITORY,
        "name": f"deb [signed-by=/etc/apt/keyrings/aventer.asc] {MIRROR}/aventer trixie main",
    }
    assert FILE_ID not in rendered, "no mirror: the OS's archives are left as they are"


def test_a_redhat_host_gets_the_mirror_repositories_under_ids_of_its_own(host):
    redhat = {
        "mirror": f"{MIRROR}/rocky/",
        "replace_os_sources": True,
        # A default repository the mirror lacks, dropped.
        "os_repos": {"extras": None},
    }
    pkgsources = {"debian": DEBIAN_MIRROR, "redhat": redhat}
    rendered = host(pkgsources, ROCKY).show_sls("pkgsources")
    repositories = {
        state_id: state_arguments(rendered, state_id)
        for state_id in rendered
        if state_id.startswith("pkgsources-os-redhat-pkgrepo-managed-")
    }

    assert {arguments["name"]: arguments["baseurl"] for arguments in repositories.values()} == {
        "pkgsources-baseos": f"{MIRROR}/rocky/$releasever/BaseOS/$basearch/os/",
        "pkgsources-appstream": f"{MIRROR}/rocky/$releasever/AppStream/$basearch/os/",
    }
    assert all(arguments["gpgcheck"] == 1 for arguments in repositories.values())
    assert state_arguments(rendered, REPLACE_ID)["require"] == [{"sls": "pkgsources.os.redhat"}]
    assert FILE_ID not in rendered


def test_a_debian_block_never_reaches_a_redhat_host(host):
    assert host({"debian": DEBIAN_MIRROR}, ROCKY).salt_call("state.show_sls", "pkgsources") == {}


@pytest.mark.parametrize(
    ("grains", "removal_id"),
    [(BOOKWORM, "pkgsources-os-clean-file-absent"), (ROCKY, "pkgsources-os-clean-pkgrepo-absent")],
    ids=["debian", "redhat"],
)
def test_clean_brings_the_os_sources_back_before_the_mirrors_go(host, grains, removal_id):
    rendered = host({"debian": DEBIAN_MIRROR}, grains).show_sls("pkgsources.clean")

    assert state_arguments(rendered, removal_id)["require"] == [{"sls": "pkgsources.os.restore"}]
    assert state_arguments(rendered, "pkgsources-refresh-clean-module-run")["onchanges"] == [
        {"sls": "pkgsources.os.clean"}
    ]


BAD_PILLAR = {
    "mirror-without-scheme": (
        {"debian": {"mirror": "mirror.example:8080/debian"}},
        "pillar pkgsources:debian:mirror is 'mirror.example:8080/debian', which is not a URL",
        "http://mirror.example:8080/debian",
    ),
    "security-mirror-without-scheme": (
        {"debian": {"mirror": f"{MIRROR}/debian", "security": {"mirror": "mirror.example"}}},
        "pillar pkgsources:debian:security:mirror is 'mirror.example'",
        "http://mirror.example",
    ),
    "replace-without-mirror": (
        {"debian": {"replace_os_sources": True}},
        "pillar pkgsources:debian:replace_os_sources is true but pkgsources:debian:mirror is "
        "empty",
        "set replace_os_sources: false",
    ),
    "formula-file-among-the-os-files": (
        {"debian": {**DEBIAN_MIRROR, "file": "/etc/apt/sources.list.d/debian.sources"}},
        "pillar pkgsources:debian:file is /etc/apt/sources.list.d/debian.sources, which is also",
        "give the formula's file another name",
    ),
    "no-os-files": (
        {"debian": {"mirror": f"{MIRROR}/debian", "os_source_files": []}},
        "pillar pkgsources:debian:os_source_files is empty",
        "list the OS's default source files",
    ),
    "repository-without-name": (
        {"debian": {"repos": {"mesos": {"file": "/etc/apt/sources.list.d/aventer.list"}}}},
        "pillar pkgsources:debian:repos:mesos has no name",
        "deb [signed-by=KEYRING] URL SUITE COMPONENTS",
    ),
}


@pytest.mark.parametrize("bad", BAD_PILLAR.values(), ids=BAD_PILLAR.keys())
def test_bad_pillar_fails_the_render_naming_the_key_and_the_fix(host, bad):
    pkgsources, key, fix = bad

    process = host(pkgsources).run("state.show_sls", "pkgsources")

    assert process.returncode != 0, "the render should have failed"
    assert key in process.stdout + process.stderr
    assert fix in process.stdout + process.stderr


def test_package_sources_come_before_every_other_state_of_the_highstate(host):
    """Salt runs a highstate's states in the order of the top file (state_auto_order), and no
    pkgsources state requires another formula's: every package install comes after them."""
    pkgsources = {"debian": {**DEBIAN_MIRROR, "repos": {"mesos": MESOS_REPOSITORY}}}
    highstate = host(pkgsources).highstate()
    order = {state_id: state_arguments(highstate, state_id)["order"] for state_id in highstate}
    sources = [order[state_id] for state_id in order if state_id.startswith("pkgsources-")]
    others = [order[state_id] for state_id in order if not state_id.startswith("pkgsources-")]

    assert len(sources) == 4
    assert max(sources) < min(others)


def test_applied_twice_it_replaces_the_os_sources_once_and_clean_brings_them_back(
    tmp_path, host
):
    """pkgsources.os for real (no index refresh), on files under tmp_path: test=True changes
    nothing, the first run writes the mirror's file and moves the OS's aside, the second
    changes nothing, and the clean state gives the host its own sources back."""
    sources_list = tmp_path / "sources.list"
    debian_sources = tmp_path / "sources.list.d" / "debian.sources"
    mirror_file = tmp_path / "sources.list.d" / "pkgsources.sources"
    debian_sources.parent.mkdir()
    sources_list.write_text("deb http://deb.debian.org/debian bookworm main\n")
    debian_sources.write_text("Types: deb\n")
    os_source_files = [str(sources_list), str(debian_sources)]
    pkgsources = {
        "debian": {**DEBIAN_MIRROR, "file": str(mirror_file), "os_source_files": os_source_files}
    }
    debian = host(pkgsources)

    dry_run = debian.apply("pkgsources.os", test=True)
    untouched = not mirror_file.exists() and sources_list.exists() and debian_sources.exists()
    first = debian.apply("pkgsources.os")
    second = debian.apply("pkgsources.os")
    moved_aside = sorted(path.name for path in tmp_path.rglob("*.disabled"))
    cleaned = debian.apply("pkgsources.os.clean")

    assert {state_id: result["result"] for state_id, result in dry_run.items()} == {
        FILE_ID: None, REPLACE_ID: None,
    }
    assert untouched
    assert all(result["result"] and result["changes"] for result in first.values()), first
    assert moved_aside == ["debian.sources.disabled", "sources.list.disabled"]
    assert all(result["result"] and not result["changes"] for result in second.values()), second
    assert all(result["result"] for result in cleaned.values()), cleaned
    assert sources_list.read_text() == "deb http://deb.debian.org/debian bookworm main\n"
    assert debian_sources.read_text() == "Types: deb\n"
    assert not mirror_file.exists()
    assert not list(tmp_path.rglob("*.disabled"))
