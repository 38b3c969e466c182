"""Opening a project: discovery, explicit arguments, errors, reload."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from agent_safe import AgentSafe, AgentSafeError, ConfigError, DecisionResult, Diagnostic
from conftest import STAGING_API, run_cli

OTHER_KEY = "b3RoZXIta2V5LWZvci10aGUtcHl0aG9uLXRlc3RzLTAwMDAwMDAw"


def staging_restart(safe: AgentSafe, caller: str = "any-agent") -> DecisionResult:
    return safe.check(
        "restart-deployment", target="staging/api", caller=caller, params=dict(STAGING_API)
    ).result


def test_from_config_and_properties(config: Path) -> None:
    safe = AgentSafe.from_config(config)
    assert isinstance(safe, AgentSafe)
    assert safe.config_path == str(config)
    assert safe.audit_log_path == str(config.parent / "audit" / "audit.jsonl")
    assert "AgentSafe(config=" in repr(safe)
    assert staging_restart(safe) is DecisionResult.ALLOW


def test_path_like_arguments(config: Path) -> None:
    safe = AgentSafe(config=os.fspath(config), policies=config.parent / "policies")
    assert staging_restart(safe) is DecisionResult.ALLOW


def test_discovery_from_a_subdirectory(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sub = project / "deep" / "er"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    safe = AgentSafe()
    assert safe.config_path == str(project / "agent-safe.yaml")
    assert staging_restart(safe) is DecisionResult.ALLOW


def test_discovery_by_environment(config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_SAFE_CONFIG", str(config))
    assert AgentSafe().config_path == str(config)


def test_environment_naming_a_missing_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nope.yaml"
    monkeypatch.setenv("AGENT_SAFE_CONFIG", str(missing))
    with pytest.raises(ConfigError) as info:
        AgentSafe()
    assert info.value.file == str(missing)
    assert "AGENT_SAFE_CONFIG" in info.value.message


def test_no_config_denies_everything_and_says_so() -> None:
    with pytest.warns(UserWarning, match="every check is denied"):
        safe = AgentSafe()
    assert safe.config_path is None
    assert safe.audit_log_path is None
    d = safe.check("restart-deployment", target="staging/api", params=dict(STAGING_API))
    assert d.result is DecisionResult.DENY
    assert d.audit_id is None
    assert len(safe.list_actions()) >= 29, "the built-in catalogue is there"
    with pytest.raises(AgentSafeError, match="no audit log is configured"):
        safe.verify_audit()


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        AgentSafe(config=tmp_path / "missing.yaml")
    e = info.value
    assert e.file == str(tmp_path / "missing.yaml")
    assert (e.line, e.column) == (None, None)
    assert "does not exist" in e.message
    assert e.help
    assert str(e).startswith(f"{tmp_path / 'missing.yaml'}: error: ")
    assert isinstance(e, AgentSafeError)


@pytest.mark.parametrize("arg", ["registry", "policies", "inventory"])
def test_missing_explicit_paths(config: Path, tmp_path: Path, arg: str) -> None:
    kwargs: dict[str, Any] = {arg: tmp_path / "nowhere"}
    with pytest.raises(ConfigError) as info:
        AgentSafe(config=config, **kwargs)
    assert info.value.file == str(tmp_path / "nowhere")
    assert f"`{arg}`" in info.value.message


def test_malformed_yaml_has_line_and_column(project: Path) -> None:
    policy = project / "policies" / "parity.yaml"
    policy.write_text("rules:\n  - name: broken\n    match: {actions: [x]\n    decision: allow\n")
    with pytest.raises(ConfigError) as info:
        AgentSafe(config=project / "agent-safe.yaml")
    e = info.value
    assert e.file == str(policy)
    assert e.line is not None and e.line >= 3
    assert e.column is not None and e.column >= 1
    assert str(e).startswith(f"{policy}:{e.line}:{e.column}: error: ")


def test_every_diagnostic_is_reported(project: Path) -> None:
    (project / "policies" / "parity.yaml").write_text(
        "rules:\n  - name: one\n    decisoin: allow\n  - name: two\n    decision: perhaps\n"
    )
    with pytest.raises(ConfigError) as info:
        AgentSafe(config=project / "agent-safe.yaml")
    e = info.value
    assert len(e.diagnostics) >= 2
    assert all(isinstance(d, Diagnostic) for d in e.diagnostics)
    assert e.diagnostics[0].line == 3
    assert "decision" in (e.diagnostics[0].help or "") + e.diagnostics[0].message
    lines = [ln for ln in str(e).splitlines() if not ln.startswith("  help:")]
    assert len(lines) == len(e.diagnostics)
    # The same lines as the CLI prints, in the same order; the CLI also
    # shows each problem's source line with carets, which str() leaves out.
    cli = run_cli("--config", str(project / "agent-safe.yaml"), "check", "x")
    assert cli.returncode == 2
    printed = iter(cli.stderr.splitlines())
    for line in str(e).splitlines():
        assert any(p == line for p in printed), f"{line!r} not in the CLI's output, in order"
    assert "^^^^^^^" in cli.stderr  # under `perhaps`


def test_config_error_pickles(tmp_path: Path) -> None:
    import pickle

    with pytest.raises(ConfigError) as info:
        AgentSafe(config=tmp_path / "missing.yaml")
    back = pickle.loads(pickle.dumps(info.value))
    assert str(back) == str(info.value)
    assert back.diagnostics == info.value.diagnostics


def test_explicit_policies_beat_the_config(config: Path, tmp_path: Path) -> None:
    other = tmp_path / "other-policies"
    other.mkdir()
    (other / "deny.yaml").write_text(
        "rules:\n"
        "  - name: nothing-on-staging\n"
        "    match: {targets: {environments: [staging]}}\n"
        "    decision: deny\n"
        "    reason: staging is frozen\n"
    )
    safe = AgentSafe(config=config, policies=other)
    d = safe.check(
        "restart-deployment", target="staging/api", caller="any-agent", params=dict(STAGING_API)
    )
    assert (d.result, d.policy_matched) == (DecisionResult.DENY, "nothing-on-staging")


def test_explicit_inventory_beats_the_config(config: Path, tmp_path: Path) -> None:
    inv = tmp_path / "inventory.yaml"
    inv.write_text("targets: []\n")
    d = AgentSafe(config=config, inventory=inv).check(
        "restart-deployment", target="staging/api", params=dict(STAGING_API)
    )
    assert "is not in the inventory" in d.reason


def test_explicit_registry_adds_project_actions(config: Path, tmp_path: Path) -> None:
    actions = tmp_path / "actions"
    actions.mkdir()
    (actions / "say-hello.yaml").write_text(
        "name: say-hello\nversion: 1.0.0\ndescription: Says hello\nrisk_class: low\n"
        "target_types: [k8s-deployment]\nparameters: []\n"
    )
    safe = AgentSafe(config=config, registry=actions)
    assert safe.get_action("say-hello")["risk_class"] == "low"
    assert staging_restart(safe) is DecisionResult.ALLOW  # the built-ins are still there


def test_explicit_audit_log_beats_the_config(config: Path, tmp_path: Path) -> None:
    log = tmp_path / "elsewhere" / "log.jsonl"
    safe = AgentSafe(config=config, audit_log=log)
    assert safe.audit_log_path == str(log)
    staging_restart(safe)
    assert log.is_file()
    assert not (config.parent / "audit").exists()
    assert safe.verify_audit().events == 1


def test_explicit_signing_key_replaces_the_configured_keys(config: Path) -> None:
    configured = AgentSafe(config=config)
    old_token = configured.create_token("deploy-agent", roles=["deployer"])
    safe = AgentSafe(config=config, signing_key=OTHER_KEY)
    new_token = safe.create_token("deploy-agent", roles=["deployer"])
    prod = {"namespace": "prod", "deployment": "api"}
    assert safe.check(
        "restart-deployment", target="prod/api", caller=new_token, params=prod
    ).allowed
    d = safe.check("restart-deployment", target="prod/api", caller=old_token, params=prod)
    assert d.result is DecisionResult.DENY
    assert "key id `parity` is not configured" in d.reason


def test_arguments_without_any_config(tmp_path: Path, config: Path) -> None:
    safe = AgentSafe(
        policies=config.parent / "policies",
        inventory=config.parent / "inventory.yaml",
        audit_log=tmp_path / "a.jsonl",
    )
    assert safe.config_path is None
    assert staging_restart(safe) is DecisionResult.ALLOW
    assert safe.verify_audit().events == 1


@pytest.mark.parametrize("key", ["", "too-short", "not base64 at all!!"])
def test_bad_signing_key(config: Path, key: str) -> None:
    with pytest.raises(ConfigError, match="invalid `signing_key` argument"):
        AgentSafe(config=config, signing_key=key)


def test_keyword_only_options(config: Path) -> None:
    with pytest.raises(TypeError):
        AgentSafe(str(config))  # type: ignore[call-arg]


def test_reload_picks_up_changes(safe: AgentSafe, project: Path) -> None:
    assert staging_restart(safe) is DecisionResult.ALLOW
    policy = project / "policies" / "parity.yaml"
    policy.write_text(
        policy.read_text().replace(
            "decision: allow\n    reason: Low", "decision: deny\n    reason: Low"
        )
    )
    assert staging_restart(safe) is DecisionResult.ALLOW, "nothing changes before reload()"
    safe.reload()
    assert staging_restart(safe) is DecisionResult.DENY


def test_failed_reload_keeps_the_old_rules(safe: AgentSafe, project: Path) -> None:
    policy = project / "policies" / "parity.yaml"
    policy.write_text("rules:\n  - name: [broken\n")
    with pytest.raises(ConfigError) as info:
        safe.reload()
    assert info.value.file == str(policy)
    assert info.value.line is not None
    assert staging_restart(safe) is DecisionResult.ALLOW


def test_relative_paths_survive_a_chdir(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.parent)
    safe = AgentSafe(config="project/agent-safe.yaml", inventory="project/inventory.yaml")
    monkeypatch.chdir(tmp_path / "cwd")
    safe.reload()
    assert staging_restart(safe) is DecisionResult.ALLOW
    assert safe.verify_audit().events == 1
