"""Measures what `agent-safe mcp` adds to an MCP tool call.

The same allowed tool call is made N times straight to the upstream MCP
server (python/tests/mcp/upstream.py, over stdio), and N times through the
gateway in front of that same server. Both go over stdio from the official
Python MCP SDK. The script prints the latency percentiles of each and the
difference of the medians. The gateway checks each call against policy and
appends it to the audit log, with `durability: process`, the default.

    python scripts/mcp-overhead.py [--bin target/release/agent-safe] [-n 300]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

REPO = Path(__file__).resolve().parents[1]
UPSTREAM = REPO / "python" / "tests" / "mcp" / "upstream.py"
ARGS = {"ns": "staging", "name": "api", "count": 3, "note": "bench"}


def project(tmp: Path) -> Path:
    dest = tmp / "project"
    shutil.copytree(REPO / "tests" / "parity" / "project", dest)
    with open(dest / "agent-safe.yaml", "a", encoding="utf-8") as f:
        f.write(
            "mcp:\n"
            "  upstream:\n"
            f"    command: {json.dumps(sys.executable)}\n"
            f"    args: [{json.dumps(str(UPSTREAM))}]\n"
            f"    env: {{MCP_UPSTREAM_LOG: {json.dumps(str(tmp / 'calls.jsonl'))}}}\n"
            "  caller: bench-agent\n"
            "  tools:\n"
            "    scale:\n"
            "      action: scale-deployment\n"
            '      params: {namespace: "{ns}", deployment: "{name}", replicas: "{count}"}\n'
        )
    return dest


async def measure(params: StdioServerParameters, n: int) -> list[float]:
    out = []
    async with stdio_client(params) as (r, w), ClientSession(r, w) as s:
        await s.initialize()
        for _ in range(20):  # warm up
            await s.call_tool("scale", ARGS)
        for _ in range(n):
            t = time.perf_counter()
            res = await s.call_tool("scale", ARGS)
            out.append((time.perf_counter() - t) * 1000)
            assert not res.is_error, res
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(REPO / "target" / "release" / "agent-safe"))
    ap.add_argument("-n", type=int, default=300)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        proj = project(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SAFE_")}
        direct = StdioServerParameters(
            command=sys.executable,
            args=[str(UPSTREAM)],
            env={**env, "MCP_UPSTREAM_LOG": str(tmp / "calls.jsonl")},
        )
        gateway = StdioServerParameters(command=a.bin, args=["mcp"], cwd=str(proj), env=env)
        results: dict[str, Any] = {}
        # Alternate to spread the machine's load over both.
        d1 = anyio.run(measure, direct, a.n)
        g1 = anyio.run(measure, gateway, a.n)
        d2 = anyio.run(measure, direct, a.n)
        g2 = anyio.run(measure, gateway, a.n)
        for name, xs in (("direct", d1 + d2), ("gateway", g1 + g2)):
            results[name] = {
                "p50_ms": round(statistics.median(xs), 3),
                "p90_ms": round(pct(xs, 0.9), 3),
                "p99_ms": round(pct(xs, 0.99), 3),
            }
        results["added_p50_ms"] = round(
            results["gateway"]["p50_ms"] - results["direct"]["p50_ms"], 3
        )
        results["calls_each"] = 2 * a.n
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
