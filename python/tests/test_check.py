"""AgentSafe.check: decisions, the Decision type, and what raises."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import datetime, timedelta, timezone
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from agent_safe import AgentSafe, Decision, DecisionResult
from conftest import STAGING_API, audit_lines

DECISION_KEYS = {
    "result",
    "reason",
    "policy_matched",
    "action",
    "action_version",
    "target",
    "caller",
    "risk_class",
    "effective_risk",
    "audit_id",
    "correlation_id",
    "evaluated_at",
}


def allow(safe: AgentSafe, **kw: Any) -> Decision:
    return safe.check(
        "restart-deployment",
        target="staging/api",
        caller="any-agent",
        params=dict(STAGING_API),
        **kw,
    )


def test_allow_decision_fields(safe: AgentSafe) -> None:
    d = allow(safe)
    assert d.result is DecisionResult.ALLOW
    assert d.result.value == "allow"
    assert json.dumps(d.result) == '"allow"', "a str enum serialises as its value"
    assert d.allowed
    assert d.reason == "Low and medium risk is fine on staging"
    assert d.policy_matched == "staging-low-and-medium"
    assert d.action == "restart-deployment"
    assert d.action_version == "1.0.0"
    assert d.target == "staging/api"
    assert d.caller == "any-agent"
    assert (d.risk_class, d.effective_risk) == ("medium", "medium")
    assert isinstance(d.audit_id, str)
    assert isinstance(d.correlation_id, str)
    assert d.evaluated_at.endswith("Z")
    assert d.plan_step is None
    assert d.trace is None
    assert set(d.to_dict()) == DECISION_KEYS


def test_decision_result_enum() -> None:
    assert [r.value for r in DecisionResult] == ["allow", "deny", "require_approval"]
    assert isinstance(DecisionResult.DENY, str)
    assert str(DecisionResult.REQUIRE_APPROVAL) == "require_approval"
    assert DecisionResult("deny") is DecisionResult.DENY


def test_decision_is_immutable(safe: AgentSafe) -> None:
    d = allow(safe)
    with pytest.raises(AttributeError):
        d.result = DecisionResult.DENY  # type: ignore[misc]
    with pytest.raises(AttributeError):
        d.extra = 1  # type: ignore[attr-defined]
    data = d.to_dict()
    data["result"] = "deny"
    assert d.result is DecisionResult.ALLOW, "to_dict() returns a copy"


def test_decision_repr_eq_pickle_copy(safe: AgentSafe) -> None:
    d = allow(safe)
    text = repr(d)
    assert text.startswith("Decision(result='allow', action='restart-deployment'")
    assert "policy_matched='staging-low-and-medium'" in text
    assert Decision.from_dict(d.to_dict()) == d
    assert pickle.loads(pickle.dumps(d)) == d
    assert copy.deepcopy(d) == d
    other = allow(safe)
    assert other != d  # another audit id and correlation id
    assert d != d.to_dict()
    with pytest.raises(TypeError):
        hash(d)


def test_from_dict_reads_json_and_rejects_garbage(safe: AgentSafe) -> None:
    d = allow(safe, explain=True)
    text = json.dumps(d.to_dict())
    back = Decision.from_dict(json.loads(text))
    assert back == d
    assert back.trace == d.trace
    with pytest.raises(ValueError, match="not a valid decision"):
        Decision.from_dict({"result": "maybe"})
    with pytest.raises(ValueError, match="not a valid decision"):
        Decision.from_dict({**d.to_dict(), "result": "perhaps"})


def test_explain_adds_the_trace(safe: AgentSafe) -> None:
    d = allow(safe, explain=True)
    assert d.trace is not None
    assert [t["rule"] for t in d.trace][-1] == "staging-low-and-medium"
    winner = [t for t in d.trace if t["note"] == "winner"]
    assert winner == [
        {
            "rule": "staging-low-and-medium",
            "priority": 10,
            "specificity": 2,
            "decision": "allow",
            "matched": True,
            "note": "winner",
        }
    ]
    assert "trace" in d.to_dict()


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"action": "reboot-cluster"}, "unknown action `reboot-cluster`"),
        (
            {"params": {"namespace": "staging", "deployment": "api", "colour": "blue"}},
            "unknown parameter",
        ),
        ({"params": {"namespace": "staging", "deployment": 3}}, "must be of type string"),
        ({"params": {"namespace": "staging", "deployment": "api", "n": 2**80}}, ""),
        ({"params": ["not", "an", "object"]}, ""),
        ({"caller": "eyJhbGciOiJub25lIn0.eyJhZ2VudF9pZCI6IngifQ."}, "caller rejected"),
        ({"caller": "not a valid id"}, ""),
        ({"correlation_id": "has spaces in it"}, "invalid correlation_id"),
        ({"target": "staging/ghost"}, "is not in the inventory"),
    ],
)
def test_what_a_check_finds_is_a_deny_never_an_exception(
    safe: AgentSafe, kwargs: dict[str, Any], reason: str
) -> None:
    req: dict[str, Any] = {
        "action": "restart-deployment",
        "target": "staging/api",
        "caller": "any-agent",
        "params": dict(STAGING_API),
    }
    req.update(kwargs)
    d = safe.check(req.pop("action"), **req)
    assert d.result is DecisionResult.DENY, d
    assert not d.allowed
    assert reason in d.reason
    assert d.audit_id is not None, "denied checks are audited too"


def test_huge_integers_are_denied_like_the_cli_does(safe: AgentSafe) -> None:
    d = safe.check(
        "scale-deployment",
        target="staging/api",
        caller="any-agent",
        params={"namespace": "staging", "deployment": "api", "replicas": 2**60},
    )
    assert d.result is DecisionResult.DENY
    assert "2^53" in d.reason


def test_json_like_values_are_accepted(safe: AgentSafe) -> None:
    class Ns(str, Enum):
        STAGING = "staging"

    d = safe.check(
        "restart-deployment",
        target="staging/api",
        caller="any-agent",
        params={"namespace": Ns.STAGING, "deployment": "api"},
        context={"run": ("a", 1, 2.5, True, None), "nested": {"k": [1]}},
    )
    assert d.allowed, d


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"a": {1, 2}}, TypeError, r'params\["a"\]: a value of type `set` has no JSON form'),
        ({"a": b"bytes"}, TypeError, "`bytes`"),
        ({"a": [1, object()]}, TypeError, r'params\["a"\]\[1\]'),
        ({1: "x"}, TypeError, "dict keys must be str"),
        ({"a": datetime.now(timezone.utc)}, TypeError, "`datetime`"),
        ({"a": float("nan")}, ValueError, "NaN"),
        ({"a": float("inf")}, ValueError, "infinities"),
        ("a string", TypeError, None),
    ],
)
def test_params_without_json_form_raise(
    safe: AgentSafe, params: Any, error: type[Exception], match: str | None
) -> None:
    if isinstance(params, str):
        # A str *is* JSON; the core denies it as "not an object".
        assert safe.check("restart-deployment", params=params).result is DecisionResult.DENY
        return
    with pytest.raises(error, match=match):
        safe.check("restart-deployment", target="staging/api", params=params)


def test_self_containing_and_deep_params_raise(safe: AgentSafe) -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(ValueError, match="levels deep"):
        safe.check("restart-deployment", params={"a": loop})
    deep: Any = "x"
    for _ in range(200):
        deep = {"d": deep}
    with pytest.raises(ValueError, match="levels deep"):
        safe.check("restart-deployment", context=deep)


def test_wrong_argument_types_raise_type_error(safe: AgentSafe) -> None:
    with pytest.raises(TypeError):
        safe.check(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        safe.check("restart-deployment", caller=7)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        safe.check("restart-deployment", "staging/api")  # type: ignore[call-arg]


WINDOW_POLICY = """\
rules:
  - name: night-maintenance
    match:
      actions: [restart-deployment]
      targets: {environments: [staging]}
      time_windows:
        - {start: "02:00", end: "04:00", timezone: UTC}
    decision: allow
    reason: Restarts only in the night window
"""


@pytest.fixture
def window_safe(project: Path) -> AgentSafe:
    (project / "policies" / "parity.yaml").write_text(WINDOW_POLICY)
    return AgentSafe(config=project / "agent-safe.yaml")


def test_at_evaluates_the_policy_at_that_time(window_safe: AgentSafe, project: Path) -> None:
    inside = datetime(2026, 3, 7, 2, 30, tzinfo=timezone.utc)
    d = allow(window_safe, at=inside)
    assert d.allowed, d
    assert d.evaluated_at == "2026-03-07T02:30:00.000000Z"
    # Another timezone, same instant.
    cet = timezone(timedelta(hours=1))
    assert allow(window_safe, at=datetime(2026, 3, 7, 3, 30, tzinfo=cet)).allowed
    assert allow(window_safe, at="2026-03-07T03:59:59+00:00").allowed
    assert not allow(window_safe, at="2026-03-07T04:00:00Z").allowed
    assert not allow(window_safe, at=inside + timedelta(hours=12)).allowed
    # The audit event records both the real time and the evaluation time.
    first = audit_lines(project / "audit" / "audit.jsonl")[0]
    assert first["evaluated_at"] == "2026-03-07T02:30:00.000000Z"
    assert first["timestamp"] != first["evaluated_at"]


def test_at_microseconds_are_exact(window_safe: AgentSafe) -> None:
    at = datetime(2026, 3, 7, 2, 30, 5, 123456, tzinfo=timezone(timedelta(hours=-7, minutes=-30)))
    d = allow(window_safe, at=at)
    assert d.evaluated_at == "2026-03-07T10:00:05.123456Z"


def test_at_rejects_naive_and_malformed_times(safe: AgentSafe) -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        allow(safe, at=datetime(2026, 3, 7, 2, 30))
    with pytest.raises(ValueError, match="invalid time `yesterday`"):
        allow(safe, at="yesterday")
    with pytest.raises(ValueError, match="invalid time"):
        allow(safe, at="2026-03-07T02:30:00")  # no offset
    with pytest.raises(TypeError, match="expected a datetime or a str"):
        allow(safe, at=1_700_000_000)


def test_context_and_params_are_audited(safe: AgentSafe, project: Path) -> None:
    d = safe.check(
        "restart-deployment",
        target="staging/api",
        caller="any-agent",
        params=dict(STAGING_API),
        context={"run_id": "r-1"},
        correlation_id="corr-1",
    )
    assert d.correlation_id == "corr-1"
    (event,) = audit_lines(project / "audit" / "audit.jsonl")
    assert event["event_id"] == d.audit_id
    assert event["params"] == STAGING_API
    assert event["context"] == {"run_id": "r-1"}
    assert event["correlation_id"] == "corr-1"
    assert event["decision"] == "allow"


def test_signed_caller(safe: AgentSafe) -> None:
    token = safe.create_token("deploy-agent", roles=["deployer"], name="Deployer", ttl=60)
    assert token.count(".") == 2
    d = safe.check(
        "restart-deployment",
        target="prod/api",
        caller=token,
        params={"namespace": "prod", "deployment": "api"},
    )
    assert d.allowed
    assert d.caller == "deploy-agent"
    assert d.policy_matched == "deployers-restart-prod"
