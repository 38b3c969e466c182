"""verify_audit, record_approval, create_token."""

from __future__ import annotations

from pathlib import Path

import pytest
from agent_safe import AgentSafe, AgentSafeError, AuditReport, DecisionResult
from conftest import STAGING_API, audit_lines, cli_json


def some_checks(safe: AgentSafe, n: int = 3) -> None:
    for _ in range(n):
        safe.check("restart-deployment", target="staging/api", params=dict(STAGING_API))


def test_verify_ok(safe: AgentSafe, project: Path) -> None:
    some_checks(safe)
    r = safe.verify_audit()
    assert isinstance(r, AuditReport)
    assert r.ok
    assert (r.events, r.first_seq, r.last_seq, r.recoveries) == (3, 1, 3, 0)
    assert r.problem is None and r.torn_tail is None
    assert r.last_hash == audit_lines(project / "audit" / "audit.jsonl")[-1]["hash"]
    assert str(r).startswith("ok: 3 events")
    for path in (
        project / "audit",
        project / "audit" / "audit.jsonl",
        [str(project / "audit" / "audit.jsonl")],
    ):
        assert safe.verify_audit(path).events == 3


def test_verify_finds_tampering(safe: AgentSafe, project: Path) -> None:
    some_checks(safe)
    log = project / "audit" / "audit.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    lines[1] = lines[1].replace('"decision":"allow"', '"decision":"deny"')
    log.write_text("".join(lines))
    r = safe.verify_audit()
    assert not r.ok
    assert r.problem is not None
    assert (r.problem.file, r.problem.line) == (str(log), 2)
    assert r.problem.kind == "hash"
    assert r.events == 1
    assert f"{log}:2:" in str(r)


def test_verify_reports_a_torn_tail(safe: AgentSafe, project: Path) -> None:
    some_checks(safe, 2)
    log = project / "audit" / "audit.jsonl"
    with log.open("a") as f:
        f.write('{"v":1,"seq":3')
    # A break by default: a verifier cannot tell a torn write from tampering.
    r = safe.verify_audit()
    assert not r.ok
    assert r.problem is not None and r.problem.kind == "torn_tail"
    assert r.torn_tail is not None
    assert (r.torn_tail.line, r.torn_tail.bytes) == (3, len('{"v":1,"seq":3'))
    assert r.torn_tail.event_prefix is False  # not how an event line begins
    # Accepted for a live log: a warning.
    r = safe.verify_audit(accept_torn_tail=True)
    assert r.ok and r.torn_tail is not None and r.problem is None
    # The next check quarantines the torn bytes and the chain goes on.
    some_checks(safe, 1)
    r = safe.verify_audit()
    assert r.ok and r.torn_tail is None and r.recoveries == 1


def test_verify_a_fresh_log_and_missing_paths(safe: AgentSafe, tmp_path: Path) -> None:
    # No complete event: never "chain intact".
    r = safe.verify_audit()
    assert (r.ok, r.events) == (False, 0)
    assert r.problem is not None
    assert (r.problem.kind, r.problem.line) == ("empty", None)
    with pytest.raises(FileNotFoundError):
        safe.verify_audit(tmp_path / "nope.jsonl")


@pytest.mark.parametrize("tamper", ["hash", "torn", "junk-only", "not-canonical"])
def test_verify_report_is_the_cli_json(
    safe: AgentSafe, project: Path, config: Path, tamper: str
) -> None:
    """One representation, from the core: the SDK's report is the CLI's JSON
    (snake_case kinds, ``None``/``null`` for a problem of the whole file)."""
    some_checks(safe, 3)
    log = project / "audit" / "audit.jsonl"
    lines = log.read_text().splitlines(keepends=True)
    if tamper == "hash":
        lines[1] = lines[1].replace('"decision":"allow"', '"decision":"deny"')
    elif tamper == "torn":
        lines.append('{"action":"restart-deployment","acti')
    elif tamper == "junk-only":
        lines = ["twenty-seven bytes of junk!"]
    else:
        lines[1] = lines[1].replace(',"v":2}', ',"v":2 }')
    log.write_text("".join(lines))
    for accept in (False, True):
        flags = ["--accept-torn-tail"] if accept else []
        cli = cli_json("--config", str(config), "audit", "verify", *flags)
        sdk = safe.verify_audit(accept_torn_tail=accept)
        assert sdk.to_dict() == cli
        assert not cli["ok"] or accept
        kinds = {"hash": "hash", "torn": "torn_tail", "junk-only": "torn_tail"}
        if not accept:
            assert cli["problem"]["kind"] == kinds.get(tamper, "not_canonical")
    if tamper == "junk-only":
        assert cli["problem"] == {
            "file": str(log),
            "line": None,
            "kind": "empty",
            "message": "no complete event: there is no chain to verify",
        }
    if tamper == "torn":
        assert cli["torn_tail"]["event_prefix"] is True


def test_a_huge_float_in_context_is_logged(safe: AgentSafe, project: Path) -> None:
    """1e20 (a whole double beyond 2^53) used to make the append fail: DENY
    "audit log unavailable" with no audit id. It is logged as its digits."""
    d = safe.check(
        "restart-deployment",
        target="staging/api",
        caller="ops-agent",
        params=dict(STAGING_API),
        context={"x": 1e20, "big": 2**65, "neg": -0.0},
    )
    assert d.audit_id is not None, d.reason
    assert "audit log" not in d.reason
    # The same decision as the CLI gives for the same input.
    cli = cli_json(
        "--config",
        str(project / "agent-safe.yaml"),
        "check",
        "restart-deployment",
        "--target",
        "staging/api",
        "--caller",
        "ops-agent",
        "--params",
        '{"namespace":"staging","deployment":"api"}',
        "--context",
        '{"x":1e20,"big":36893488147419103232,"neg":-0.0}',
    )
    assert cli["audit_id"] is not None
    assert (cli["result"], cli["reason"]) == (d.result.value, d.reason)
    events = audit_lines(project / "audit" / "audit.jsonl")
    assert [e["context"] for e in events] == [
        # 2**65 is beyond 64 bits: a double for the SDK and the CLI alike,
        # recorded in its ECMAScript digits.
        {"x": "100000000000000000000", "big": "36893488147419103000", "neg": 0}
    ] * 2
    assert safe.verify_audit().ok


def test_record_approval(safe: AgentSafe, project: Path) -> None:
    d = safe.check(
        "drain-node", target="prod/node-1", caller="ops-agent", params={"node": "prod-node-1"}
    )
    assert d.result is DecisionResult.REQUIRE_APPROVAL
    event_id = safe.record_approval(
        d, approver="alice@example.com", approved=True, comment="kernel patch window"
    )
    assert isinstance(event_id, str)
    check, approval = audit_lines(project / "audit" / "audit.jsonl")
    assert approval["kind"] == "approval"
    assert approval["event_id"] == event_id
    assert approval["correlation_id"] == d.correlation_id == check["correlation_id"]
    assert approval["context"] == {"audit_id": d.audit_id}
    assert approval["decision"] == "approve"
    assert approval["caller"] == "alice@example.com"
    assert approval["reason"] == "kernel patch window"
    assert approval["action"] == "drain-node"
    assert approval["target"] == "prod/node-1"
    safe.record_approval(d, approver="bob", approved=False)
    assert audit_lines(project / "audit" / "audit.jsonl")[-1]["decision"] == "reject"
    assert safe.verify_audit().ok


def test_record_approval_needs_a_require_approval_decision(safe: AgentSafe) -> None:
    d = safe.check("restart-deployment", target="staging/api", params=dict(STAGING_API))
    with pytest.raises(ValueError, match="only a `require_approval` decision"):
        safe.record_approval(d, approver="alice", approved=True)
    pending = safe.check("drain-node", target="prod/node-1", params={"node": "prod-node-1"})
    with pytest.raises(ValueError, match="approver"):
        safe.record_approval(pending, approver="", approved=True)
    with pytest.raises(TypeError):
        safe.record_approval(pending.to_dict(), approver="a", approved=True)  # type: ignore[arg-type]


def test_create_token(safe: AgentSafe) -> None:
    token = safe.create_token("ci-bot", roles=("deployer",), groups=["platform"], ttl=5)
    d = safe.check(
        "restart-deployment",
        target="prod/api",
        caller=token,
        params={"namespace": "prod", "deployment": "api"},
    )
    assert d.caller == "ci-bot"
    assert d.allowed
    with pytest.raises(ValueError, match="ttl"):
        safe.create_token("ci-bot", ttl=0)
    with pytest.raises(ValueError, match="agent id"):
        safe.create_token("not valid!")
    with pytest.raises(AgentSafeError, match="key id `unknown` is not configured"):
        safe.create_token("ci-bot", kid="unknown")
    with pytest.raises(TypeError):
        safe.create_token("ci-bot", roles="deployer")  # type: ignore[arg-type]


def test_create_token_without_a_key(tmp_path: Path) -> None:
    safe = AgentSafe(audit_log=tmp_path / "a.jsonl")
    with pytest.raises(AgentSafeError, match="cannot create a token"):
        safe.create_token("ci-bot")
