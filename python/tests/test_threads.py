"""One AgentSafe shared by many threads: every check decided and audited once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agent_safe import AgentSafe, Decision, DecisionResult
from conftest import STAGING_API, audit_lines

THREADS = 16
CHECKS = 200


def test_many_threads_share_one_instance(safe: AgentSafe, project: Path) -> None:
    start = threading.Barrier(THREADS)

    def worker(n: int) -> list[Decision]:
        start.wait()
        out = []
        for i in range(CHECKS):
            if i % 3 == 2:
                d = safe.check(
                    "drain-node",
                    target="prod/node-1",
                    caller=f"agent-{n}",
                    params={"node": "prod-node-1"},
                    correlation_id=f"t{n}-{i}",
                )
                assert d.result is DecisionResult.REQUIRE_APPROVAL, d
            else:
                d = safe.check(
                    "restart-deployment",
                    target="staging/api",
                    caller=f"agent-{n}",
                    params=dict(STAGING_API),
                    correlation_id=f"t{n}-{i}",
                )
                assert d.result is DecisionResult.ALLOW, d
            out.append(d)
        return out

    with ThreadPoolExecutor(THREADS) as pool:
        results = [d for ds in pool.map(worker, range(THREADS)) for d in ds]

    assert len(results) == THREADS * CHECKS
    ids = {d.audit_id for d in results}
    assert None not in ids
    assert len(ids) == THREADS * CHECKS, "every check has its own audit event"

    report = safe.verify_audit()
    assert report.ok, report
    assert report.torn_tail is None
    assert report.events == THREADS * CHECKS
    events = audit_lines(project / "audit" / "audit.jsonl")
    assert [e["seq"] for e in events] == list(range(1, THREADS * CHECKS + 1))
    assert {e["event_id"] for e in events} == ids
    by_corr = {e["correlation_id"]: e for e in events}
    for d in results:
        assert by_corr[d.correlation_id]["event_id"] == d.audit_id


def test_threads_run_while_one_reloads(safe: AgentSafe) -> None:
    stop = threading.Event()
    errors: list[BaseException] = []

    def reloader() -> None:
        try:
            while not stop.is_set():
                safe.reload()
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    t = threading.Thread(target=reloader)
    t.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            allowed = list(
                pool.map(
                    lambda _: (
                        safe.check(
                            "restart-deployment", target="staging/api", params=dict(STAGING_API)
                        ).allowed
                    ),
                    range(400),
                )
            )
    finally:
        stop.set()
        t.join()
    assert not errors
    assert all(allowed)
    assert safe.verify_audit().events == 400
