#!/usr/bin/env python3
"""Latency of ``AgentSafe.check`` from Python, with and without the audit log.

Runs the parity fixture's project (tests/parity/project) from a temporary
copy: an allowed ``restart-deployment`` on ``staging/api`` by a plain agent
id, timed one call at a time with ``time.perf_counter_ns`` after a warm-up.
Prints p50/p90/p99 per row. Budget (DESIGN.md): p50 < 3 us without the audit
log, < 10 us with it (``durability: process``), also with signed checkpoints
(every 1000 events, the default).

    python scripts/py-bench.py [--checks 20000] [--warmup 2000]
"""

from __future__ import annotations

import argparse
import gc
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from agent_safe import AgentSafe, Decision

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "parity" / "project"
KEY = "cGFyaXR5LWZpeHR1cmUta2V5LW5vdC1hLXNlY3JldC0wMDAwMDA"
PARAMS = {"namespace": "staging", "deployment": "api"}


def project(root: Path, audit: str) -> Path:
    """A copy of the parity project with the given ``audit:`` section."""
    shutil.copytree(FIXTURE, root, ignore=shutil.ignore_patterns("audit"))
    (root / "agent-safe.yaml").write_text(
        "policies: policies\n"
        "inventory: inventory.yaml\n"
        f"audit:\n{audit}"
        "identity:\n"
        "  keys:\n"
        "    - kid: parity\n"
        f"      secret: {KEY}\n"
    )
    return root / "agent-safe.yaml"


def measure(call: Callable[[], Decision], checks: int, warmup: int) -> list[int]:
    """Nanoseconds of each of ``checks`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    gc.collect()
    clock = time.perf_counter_ns
    out = [0] * checks
    for i in range(checks):
        t0 = clock()
        call()
        out[i] = clock() - t0
    return out


def main() -> int:
    """Runs the benchmark and prints the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--checks", type=int, default=20_000)
    ap.add_argument("--warmup", type=int, default=2_000)
    args = ap.parse_args()

    rows: list[tuple[str, list[int]]] = []
    with tempfile.TemporaryDirectory(prefix="agent-safe-bench-") as tmp:
        quiet = AgentSafe(config=project(Path(tmp) / "quiet", "  enabled: false\n"))
        logged = AgentSafe(
            config=project(
                Path(tmp) / "logged", "  path: audit/audit.jsonl\n  durability: process\n"
            )
        )
        checkpointed_cfg = project(
            Path(tmp) / "checkpointed",
            "  path: audit/audit.jsonl\n  durability: process\n"
            "  checkpoint:\n    origin: bench.example/py\n    key_file: checkpoint.key\n",
        )
        (checkpointed_cfg.parent / "checkpoint.key").write_text(
            # A fixed test key (C2SP signer key form); never use it elsewhere.
            "PRIVATE+KEY+bench.example/py+9eb57600+AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f\n"
        )
        checkpointed = AgentSafe(config=checkpointed_cfg)
        token = logged.create_token("deploy-agent", roles=["deployer"])
        cases: list[tuple[str, Callable[[], Decision]]] = [
            (
                "check, no audit log",
                lambda: quiet.check(
                    "restart-deployment", target="staging/api", caller="any-agent", params=PARAMS
                ),
            ),
            (
                "check, audit log (process)",
                lambda: logged.check(
                    "restart-deployment", target="staging/api", caller="any-agent", params=PARAMS
                ),
            ),
            (
                "check, audit log, checkpoints",
                lambda: checkpointed.check(
                    "restart-deployment", target="staging/api", caller="any-agent", params=PARAMS
                ),
            ),
            (
                "check, no audit log, JWT caller",
                lambda: quiet.check(
                    "restart-deployment", target="staging/api", caller=token, params=PARAMS
                ),
            ),
        ]
        for name, call in cases:
            assert call().allowed, name
            rows.append((name, measure(call, args.checks, args.warmup)))
        report = logged.verify_audit()
        assert report.ok, report
        assert checkpointed.verify_audit().ok
        checkpointed.audit_checkpoint()

    print(f"agent-safe Python SDK: {args.checks} checks per row after {args.warmup} warm-up")
    print(f"Python {sys.version.split()[0]}")
    print()
    print(f"{'path':<34}{'p50 us':>9}{'p90 us':>9}{'p99 us':>9}{'mean us':>9}")
    for name, ns in rows:
        q = statistics.quantiles(ns, n=100)
        print(
            f"{name:<34}{q[49] / 1e3:>9.2f}{q[89] / 1e3:>9.2f}{q[98] / 1e3:>9.2f}"
            f"{statistics.fmean(ns) / 1e3:>9.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
