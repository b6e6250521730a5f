"""ZooKeeper's authentication at each security stage, rendered by masterless salt-call: the
zoo.cfg settings of ZooKeeper's rolling procedure for quorum SASL, the members' JAAS file (the
quorum login from the site's secrets, readable by the zookeeper group only) and the JVM flag
that points at it. The lab proves the running ensemble (tests/integration/test_zookeeper.py)."""

from pathlib import Path

import pytest
import yaml

from tests.functional.harness import SHAPES, site_secrets, state_arguments

JAAS_FILE = "/etc/zookeeper/jaas.conf"
LOGIN_FLAG = f"-Djava.security.auth.login.config={JAAS_FILE}"
QUORUM_SASL = {
    "quorum.auth.enableSasl": True,
    "quorum.auth.learner.saslLoginContext": "QuorumLearner",
    "quorum.auth.server.saslLoginContext": "QuorumServer",
}


def render(minion, site, grains=None):
    host = minion(
        "dc1-control-1", ["control"], datacenters=SHAPES["one-dc"], site=site, grains=grains
    )
    return host, host.show_sls("zookeeper.config")


def zoo_cfg(rendered):
    arguments = state_arguments(rendered, "zookeeper-config-file-file-managed-zoo.cfg")
    return arguments["context"]["config"]["settings"]


def jvm_flags(rendered):
    arguments = state_arguments(rendered, "zookeeper-config-file-file-managed-environment")
    sections = arguments["context"]["config"]["sections"]
    return next(
        section["variables"]["SERVER_JVMFLAGS"]
        for section in sections
        if "SERVER_JVMFLAGS" in section["variables"]
    ).split()


def authentication_settings(settings):
    return {
        key: value
        for key, value in settings.items()
        if key.startswith(("quorum.auth.", "enforce.auth."))
    }


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("accept", {
            **QUORUM_SASL,
            "quorum.auth.learnerRequireSasl": False,
            "quorum.auth.serverRequireSasl": False,
        }),
        ("verify", {
            **QUORUM_SASL,
            "quorum.auth.learnerRequireSasl": True,
            "quorum.auth.serverRequireSasl": False,
        }),
        ("secure", {
            **QUORUM_SASL,
            "quorum.auth.learnerRequireSasl": True,
            "quorum.auth.serverRequireSasl": True,
            "enforce.auth.enabled": True,
            "enforce.auth.schemes": "digest",
        }),
    ],
)
def test_each_stage_adds_one_step_of_zookeepers_rolling_procedure_for_quorum_sasl(
    minion, stage, expected
):
    _, rendered = render(minion, {"security": {"stage": stage}})

    assert authentication_settings(zoo_cfg(rendered)) == expected
    assert LOGIN_FLAG in jvm_flags(rendered)
    jaas = state_arguments(rendered, "zookeeper-config-file-file-managed-jaas")
    assert (jaas["name"], jaas["user"], jaas["group"], jaas["mode"]) == (
        JAAS_FILE, "root", "zookeeper", "0640"
    )
    assert jaas["show_changes"] is False


def test_an_open_site_has_no_authentication_and_no_jaas_file(minion):
    _, rendered = render(minion, {"security": {"open": True}})

    assert authentication_settings(zoo_cfg(rendered)) == {}
    assert not [flag for flag in jvm_flags(rendered) if "login.config" in flag]
    assert state_arguments(rendered, "zookeeper-config-file-file-absent-jaas")["name"] == JAAS_FILE


def test_the_jaas_file_holds_the_quorum_login_of_the_sites_secrets(minion, tmp_path: Path):
    host, _ = render(minion, {"security": {"stage": "secure"}})
    login = yaml.safe_load(site_secrets())["secrets"]["zookeeper"]["quorum"]
    target = tmp_path / "jaas.conf"

    host.salt_call("cp.get_template", "salt://zookeeper/files/jaas.conf.jinja", str(target))
    text = target.read_text()

    server = text[text.index("QuorumServer {"):text.index("};")]
    learner = text[text.index("QuorumLearner {"):]
    assert f'user_{login["user"]}="{login["password"]}";' in server
    assert f'username="{login["user"]}"' in learner
    assert f'password="{login["password"]}";' in learner
    assert text.count("org.apache.zookeeper.server.auth.DigestLoginModule required") == 2


@pytest.mark.parametrize(
    ("current", "reached"),
    [("open", "accept"), ("accept", "verify"), ("verify", "secure"), ("secure", "secure")],
)
def test_a_running_member_moves_one_stage_per_highstate_whatever_pillar_asks(
    minion, current, reached
):
    """A site secured by an earlier tree: Consul at secure, its ZooKeeper members without SASL
    (grain zookeeper_security_stage of their zoo.cfg). Each highstate takes them one step of
    ZooKeeper's rolling procedure, and says so until they are there."""
    _, rendered = render(
        minion, {"security": {"stage": "secure"}}, {"zookeeper_security_stage": current}
    )
    _, expected = render(minion, {"security": {"stage": reached}})

    assert authentication_settings(zoo_cfg(rendered)) == authentication_settings(
        zoo_cfg(expected)
    )
    notification = "zookeeper-config-file-test-show-notification-stage"
    if reached == "secure":
        assert notification not in rendered
    else:
        text = state_arguments(rendered, notification)["text"]
        assert f"from security stage {current} to {reached}" in text
        assert "run the highstate again to reach secure" in text
