"""The shared parity fixture (tests/parity): the Rust API, the CLI, the HTTP
API and the SDK must give the same decisions."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from agent_safe import AgentSafe
from conftest import PARITY

CASES: list[dict[str, Any]] = json.loads((PARITY / "cases.json").read_text())["cases"]


def caller_of(safe: AgentSafe, caller: Any) -> str | None:
    if isinstance(caller, dict):
        claims = caller["claims"]
        return safe.create_token(
            claims["agent_id"],
            roles=claims.get("roles", ()),
            groups=claims.get("groups", ()),
            ttl=300,
        )
    return caller  # type: ignore[no-any-return]


def check_case(safe: AgentSafe, case: dict[str, Any]) -> dict[str, Any]:
    r = case["request"]
    d = safe.check(
        r["action"],
        target=r.get("target"),
        caller=caller_of(safe, r.get("caller")),
        params=r.get("params"),
    )
    got = d.to_dict()
    for key, want in case["expect"].items():
        if key == "reason_contains":
            assert want in got["reason"], f"{case['name']}: {got['reason']!r} lacks {want!r}"
        else:
            assert got[key] == want, f"{case['name']}: `{key}` in {got}"
    assert isinstance(got["audit_id"], str), f"{case['name']}: every check is audited"
    return got


def test_the_fixture_has_cases() -> None:
    assert len(CASES) == 15


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_case(safe: AgentSafe, case: dict[str, Any]) -> None:
    check_case(safe, case)


def test_all_cases_in_one_log(safe: AgentSafe, project: Path) -> None:
    for case in CASES:
        check_case(safe, case)
    report = safe.verify_audit()
    assert report.ok, report
    assert report.torn_tail is None
    assert report.events == len(CASES)
    assert report.files == [str(project / "audit" / "audit.jsonl")]


REQUESTS: dict[str, Any] = json.loads((PARITY / "requests.json").read_text())


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise KeyError(key)
        out[key] = value
    return out


def _strict(text: str) -> Any:
    """The fixture text as Python objects, or None when it repeats a key (a
    Python dict cannot: the SDK has no way to send such a request)."""
    try:
        return json.loads(text, object_pairs_hook=_unique)
    except KeyError:
        return None


def _assert_plan(name: str, got: dict[str, Any], expect: dict[str, Any]) -> None:
    for key, want in expect.items():
        if key == "steps":
            assert len(got["steps"]) == len(want), name
            for i, (step, w) in enumerate(zip(got["steps"], want, strict=True)):
                assert (step.get("trace") is not None) == w["trace"], f"{name}: step {i}"
                assert step["result"] == w["result"], f"{name}: step {i}"
                if "reason_contains" in w:
                    assert w["reason_contains"] in step["reason"], f"{name}: step {i}"
                assert isinstance(step["audit_id"], str), f"{name}: step {i}"
        else:
            assert got[key] == want, f"{name}: `{key}` in {got}"


def plan_args(plan: Any) -> tuple[Any, dict[str, Any]]:
    """A plan of the fixture as check_plan's arguments."""
    if isinstance(plan, list):
        return plan, {}
    kwargs = {k: plan[k] for k in ("correlation_id", "explain") if k in plan}
    assert set(plan) <= {"steps", "correlation_id", "explain"}, plan
    return plan["steps"], kwargs


@pytest.mark.parametrize("case", REQUESTS["plans"], ids=[c["name"] for c in REQUESTS["plans"]])
def test_plan_reading_case(safe: AgentSafe, project: Path, case: dict[str, Any]) -> None:
    plan = _strict(case["plan"])
    if plan is None:
        pytest.skip("repeats a key: a Python dict cannot")
    steps, kwargs = plan_args(plan)
    expect = case["expect"]
    if "error_contains" in expect:
        with pytest.raises(ValueError, match=re.escape(expect["error_contains"])):
            safe.check_plan(steps, **kwargs)
        log = project / "audit" / "audit.jsonl"
        assert not log.exists() or log.read_text() == "", "refusals are not logged"
    else:
        _assert_plan(case["name"], safe.check_plan(steps, **kwargs).to_dict(), expect)


@pytest.mark.parametrize("case", REQUESTS["checks"], ids=[c["name"] for c in REQUESTS["checks"]])
def test_check_reading_case(safe: AgentSafe, case: dict[str, Any]) -> None:
    params, context = _strict(case["params"]), _strict(case.get("context", "null"))
    if "error_contains" in case["expect"]:
        # Only a repeated key is refused here, and a dict cannot repeat one.
        assert params is None or context is None, case["name"]
        return
    d = safe.check(case["action"], caller=case["caller"], params=params, context=context)
    _assert_plan(case["name"], d.to_dict(), case["expect"])
