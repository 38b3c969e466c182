"""AgentSafe.check_plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from agent_safe import AgentSafe, DecisionResult, Plan
from conftest import STAGING_API, audit_lines

STEPS: list[dict[str, Any]] = [
    {
        "action": "restart-deployment",
        "target": "staging/api",
        "caller": "any-agent",
        "params": STAGING_API,
    },
    {
        "action": "drain-node",
        "target": "prod/node-1",
        "caller": "ops-agent",
        "params": {"node": "prod-node-1"},
        "context": {"why": "kernel update"},
    },
]


def test_plan_shares_one_correlation_id(safe: AgentSafe, project: Path) -> None:
    plan = safe.check_plan(STEPS)
    assert isinstance(plan, Plan)
    assert plan.result is DecisionResult.REQUIRE_APPROVAL
    assert not plan.allowed
    assert len(plan) == 2
    steps = plan.steps
    assert [s.result for s in steps] == [DecisionResult.ALLOW, DecisionResult.REQUIRE_APPROVAL]
    assert [s.plan_step for s in steps] == [0, 1]
    assert {s.correlation_id for s in steps} == {plan.correlation_id}
    events = audit_lines(project / "audit" / "audit.jsonl")
    assert [(e["plan_step"], e["correlation_id"]) for e in events] == [
        (0, plan.correlation_id),
        (1, plan.correlation_id),
    ]
    assert events[1]["context"] == {"why": "kernel update"}
    d = plan.to_dict()
    assert set(d) == {"result", "correlation_id", "steps"}
    assert d["steps"][1]["plan_step"] == 1
    assert Plan.from_dict(d) == plan
    assert "Plan(result='require_approval'" in repr(plan)


def test_all_allowed_plan(safe: AgentSafe) -> None:
    plan = safe.check_plan([STEPS[0], STEPS[0]], correlation_id="release-42", explain=True)
    assert plan.allowed
    assert plan.result is DecisionResult.ALLOW
    assert plan.correlation_id == "release-42"
    assert all(s.trace for s in plan.steps)


def test_empty_plan_is_denied(safe: AgentSafe) -> None:
    plan = safe.check_plan([])
    assert plan.result is DecisionResult.DENY
    assert plan.steps == []


def test_bad_correlation_id_denies_every_step(safe: AgentSafe) -> None:
    plan = safe.check_plan(STEPS, correlation_id="no spaces allowed")
    assert plan.result is DecisionResult.DENY
    assert all("invalid correlation_id" in s.reason for s in plan.steps)


def test_steps_accept_any_iterable_of_mappings(safe: AgentSafe) -> None:
    plan = safe.check_plan(s for s in STEPS)
    assert len(plan) == 2


@pytest.mark.parametrize(
    ("steps", "error", "match"),
    [
        ([{"target": "staging/api"}], ValueError, r"steps\[0\]: `action` is required"),
        (
            [STEPS[0], {"action": "x", "paramz": {}}],
            ValueError,
            r"steps\[1\]: unknown key `paramz`",
        ),
        (["restart-deployment"], TypeError, r"steps\[0\]: expected a dict"),
        ([{"action": 3}], TypeError, r"`action` must be a str"),
        ([{"action": "x", "params": {"a": {1}}}], TypeError, r'steps\[0\]\["params"\]\["a"\]'),
        ({"action": "x"}, TypeError, "list of dicts"),
        ("restart-deployment", TypeError, "list of dicts"),
    ],
)
def test_malformed_steps_raise(
    safe: AgentSafe, steps: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        safe.check_plan(steps)
