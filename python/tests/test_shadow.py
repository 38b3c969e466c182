"""Shadow mode through the Python SDK: the candidate is asked on every check
and plan step, never enforced, and its disagreements are in the audit log."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from agent_safe import AgentSafe, ConfigError
from conftest import STAGING_API, audit_lines

ALLOW_STAGING = "      risk_classes: [low, medium]\n    decision: allow\n"
APPROVE_STAGING = "      risk_classes: [low, medium]\n    decision: require_approval\n"


@pytest.fixture
def shadowed(project: Path) -> Path:
    """The parity project shadowed by a candidate in which staging changes
    need an approval; returns the project directory."""
    shutil.copytree(project / "policies", project / "policies.next")
    candidate = project / "policies.next" / "parity.yaml"
    text = candidate.read_text()
    assert ALLOW_STAGING in text
    candidate.write_text(text.replace(ALLOW_STAGING, APPROVE_STAGING))
    with (project / "agent-safe.yaml").open("a") as f:
        f.write("shadow:\n  policies: policies.next\n")
    return project


def test_the_candidate_is_recorded_and_never_enforced(shadowed: Path) -> None:
    safe = AgentSafe(config=shadowed / "agent-safe.yaml")
    d = safe.check("restart-deployment", target="staging/api", caller="a", params=STAGING_API)
    assert d.result == "allow"  # the enforced policy, not the candidate
    # A read on prod: both policies decide it the same way.
    safe.check(
        "rollout-status",
        target="prod/api",
        caller="a",
        params={"namespace": "prod", "deployment": "api"},
    )
    status = safe.shadow_status()
    assert status is not None
    assert status["kind"] == "policies"
    assert status["error"] is None
    assert status["snapshot"].startswith("sha256:")

    first, second = audit_lines(shadowed / "audit" / "audit.jsonl")
    assert first["decision"] == "allow"
    assert first["shadow"] == {
        "decision": "require_approval",
        "error": None,
        "policy_matched": first["policy_matched"],
        "reason": first["shadow"]["reason"],
        "snapshot": status["snapshot"],
    }
    assert first["shadow"]["snapshot"] != first["snapshot"]
    assert second["shadow"] is None

    counts = {(c["from"], c["to"]): c["count"] for c in status["disagreements"]}
    assert len(counts) == 12
    assert counts[("allow", "require_approval")] == 1
    assert sum(counts.values()) == 1
    assert safe.verify_audit().ok


def test_plan_steps_are_shadowed_one_by_one(shadowed: Path) -> None:
    safe = AgentSafe(config=shadowed / "agent-safe.yaml")
    plan = safe.check_plan(
        [
            {"action": "restart-deployment", "target": "staging/api", "params": STAGING_API},
            {"action": "restart-deployment", "target": "staging/api", "params": STAGING_API},
        ]
    )
    assert [s.result for s in plan.steps] == ["allow", "allow"]
    events = audit_lines(shadowed / "audit" / "audit.jsonl")
    assert [e["plan_step"] for e in events] == [0, 1]
    assert [e["shadow"]["decision"] for e in events] == ["require_approval"] * 2


def test_a_broken_candidate_changes_nothing_and_reload_picks_up_the_fix(shadowed: Path) -> None:
    candidate = shadowed / "policies.next" / "parity.yaml"
    good = candidate.read_text()
    candidate.write_text("rules:\n  - {name: broken, decision: nope}\n")
    # Opens: the enforced policy loads; the candidate's error is kept.
    safe = AgentSafe(config=shadowed / "agent-safe.yaml")
    status = safe.shadow_status()
    assert status is not None and status["snapshot"] is None
    assert "policies.next/parity.yaml:2:" in status["error"]
    d = safe.check("restart-deployment", target="staging/api", caller="a", params=STAGING_API)
    assert d.result == "allow"
    shadow = audit_lines(shadowed / "audit" / "audit.jsonl")[-1]["shadow"]
    assert shadow["decision"] is None
    assert shadow["error"].startswith("the shadow candidate is not loaded: ")

    candidate.write_text(good)
    safe.reload()
    status = safe.shadow_status()
    assert status is not None and status["error"] is None
    safe.check("restart-deployment", target="staging/api", caller="a", params=STAGING_API)
    shadow = audit_lines(shadowed / "audit" / "audit.jsonl")[-1]["shadow"]
    assert shadow["decision"] == "require_approval"
    assert shadow["snapshot"] == status["snapshot"]


def test_shadow_off_and_a_bad_shadow_section(project: Path) -> None:
    safe = AgentSafe(config=project / "agent-safe.yaml")
    assert safe.shadow_status() is None
    with (project / "agent-safe.yaml").open("a") as f:
        f.write("shadow:\n  policies: a\n  config: b\n")
    with pytest.raises(ConfigError) as e:
        AgentSafe(config=project / "agent-safe.yaml")
    assert "exactly one of `policies` and `config`" in str(e.value)
