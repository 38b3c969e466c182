"""The shared parity fixture (tests/parity): the Rust API, the CLI, the HTTP
API and the SDK must give the same decisions."""

from __future__ import annotations

import json
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
