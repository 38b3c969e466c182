#!/usr/bin/env python3
"""Start-up cost of the ``agent-safe`` command and of ``import agent_safe``, side by side.

One run measures every row, round-robin (one process of each row in turn), so
that whatever else the machine is doing slows every row alike:

- ``native``: the cargo-built binary, ``agent-safe check ...``;
- ``installed``: the ``agent-safe`` command that installing the wheel put
  beside this interpreter, the same ``check``;
- ``python -m agent_safe``: the same CLI run inside the interpreter (what the
  wheel's command used to be: a Python console script);
- ``import agent_safe`` and ``python -c pass``: the difference of their
  medians is what ``import agent_safe`` costs.

The check is the parity project's allowed ``restart-deployment`` on
``staging/api`` by a plain agent id, with its audit log, from a temporary copy.
Budgets (issue 23): the installed command within 2x the native binary, and
``import agent_safe`` under 15 ms (p50). ``--check`` exits 1 when one is missed.

    python scripts/cli-bench.py [--runs 40] [--native target/release/agent-safe] [--check]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "parity" / "project"
CHECK = [
    "check",
    "restart-deployment",
    "--target",
    "staging/api",
    "--caller",
    "bench-agent",
    "--params",
    '{"namespace": "staging", "deployment": "api"}',
]


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Milliseconds of one process from spawn to exit; it must exit 0."""
    t0 = time.perf_counter()
    code = subprocess.call(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    elapsed = (time.perf_counter() - t0) * 1000
    if code != 0:
        raise SystemExit(f"`{' '.join(argv)}` exited {code}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=40, help="processes per row (default 40)")
    parser.add_argument(
        "--native",
        type=Path,
        default=ROOT / "target" / "release" / "agent-safe",
        help="the cargo-built binary (default target/release/agent-safe)",
    )
    parser.add_argument(
        "--installed",
        type=Path,
        default=Path(sys.executable).parent / "agent-safe",
        help="the pip-installed command (default: beside this interpreter)",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a budget is missed")
    args = parser.parse_args()
    for exe in (args.native, args.installed):
        if not os.access(exe, os.X_OK):
            raise SystemExit(f"{exe} is not an executable (build it, or pass its path)")

    py = sys.executable
    rows = {
        "native `agent-safe check`": [str(args.native), *CHECK],
        "installed `agent-safe check`": [str(args.installed), *CHECK],
        "`python -m agent_safe check`": [py, "-m", "agent_safe", *CHECK],
        '`python -c "import agent_safe"`': [py, "-c", "import agent_safe"],
        '`python -c "pass"`': [py, "-c", "pass"],
    }
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SAFE_")}
    env["NO_COLOR"] = "1"
    times: dict[str, list[float]] = {name: [] for name in rows}
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        shutil.copytree(FIXTURE, project, ignore=shutil.ignore_patterns("audit"))
        for argv in rows.values():  # warm the page cache and the .pyc files
            timed(argv, project, env)
        for _ in range(args.runs):
            for name, argv in rows.items():
                times[name].append(timed(argv, project, env))

    def p(name: str, q: float) -> float:
        data = sorted(times[name])
        return data[min(len(data) - 1, int(q * len(data)))]

    print(f"{args.runs} processes per row; milliseconds from spawn to exit")
    print(f"{'':34} {'p50':>7} {'p90':>7} {'min':>7}")
    for name in rows:
        print(f"{name:34} {p(name, 0.5):7.1f} {p(name, 0.9):7.1f} {min(times[name]):7.1f}")
    native = statistics.median(times["native `agent-safe check`"])
    installed = statistics.median(times["installed `agent-safe check`"])
    imported = statistics.median(times['`python -c "import agent_safe"`']) - statistics.median(
        times['`python -c "pass"`']
    )
    ratio = installed / native
    print(f"installed / native (p50): {ratio:.2f}x (budget 2x)")
    print(f"import agent_safe (p50, beyond the interpreter's start): {imported:.1f} ms (budget 15)")
    if args.check and (ratio > 2 or imported > 15):
        print("over budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
