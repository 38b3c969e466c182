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


def test_empty_plan_is_refused_like_everywhere_else(safe: AgentSafe, project: Path) -> None:
    # Issue 13, item 8: the CLI (exit 2) and the sidecar (400) refuse it too;
    # it used to be a DENY here that no audit line recorded.
    with pytest.raises(ValueError, match="the plan has no steps"):
        safe.check_plan([])
    log = project / "audit" / "audit.jsonl"
    assert not log.exists() or audit_lines(log) == []


def test_a_step_may_ask_for_its_own_trace(safe: AgentSafe) -> None:
    plan = safe.check_plan([{**STEPS[0], "explain": True}, STEPS[1]])
    assert plan.steps[0].trace
    assert plan.steps[1].trace is None


def test_a_step_may_not_carry_its_own_correlation_id(safe: AgentSafe) -> None:
    with pytest.raises(ValueError, match=r"steps\[0\]: unknown field `correlation_id`"):
        safe.check_plan([{**STEPS[0], "correlation_id": "x"}])


def test_repeated_keys_cannot_hide_in_str_subclasses(safe: AgentSafe) -> None:
    class Key(str):
        """Two equal strings that a dict keeps apart."""

        __slots__ = ()

        def __hash__(self) -> int:
            return id(self)

        def __eq__(self, other: object) -> bool:
            return self is other

    params = {Key("namespace"): "kube-system", "deployment": "api", Key("namespace"): "staging"}
    assert len(params) == 3
    with pytest.raises(ValueError, match=r'params\["namespace"\]: duplicate key'):
        safe.check("restart-deployment", caller="a", params=params)
    with pytest.raises(ValueError, match=r'steps\[0\]\["params"\]\["namespace"\]: duplicate key'):
        safe.check_plan([{"action": "restart-deployment", "params": params}])


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
        ([{"target": "staging/api"}], ValueError, r"steps\[0\]: missing field `action`"),
        (
            [STEPS[0], {"action": "x", "paramz": {}}],
            ValueError,
            r"steps\[1\]: unknown field `paramz`",
        ),
        (["restart-deployment"], TypeError, r"steps\[0\]: expected a dict"),
        ([{"action": 3}], ValueError, r"steps\[0\]: invalid type: integer `3`, expected a string"),
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
