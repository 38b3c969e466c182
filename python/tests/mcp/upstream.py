"""A real MCP server for the gateway's tests: it records every tool call it
receives (one JSON line per call in the file named by $MCP_UPSTREAM_LOG)
and answers with what it got.

Run: python upstream.py            (stdio)
     python upstream.py http PORT  (streamable HTTP at /mcp)
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import anyio
from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("agent-safe-test-upstream")


def _record(tool: str, args: dict[str, Any]) -> str:
    line = json.dumps({"tool": tool, "arguments": args}, sort_keys=True)
    with open(os.environ["MCP_UPSTREAM_LOG"], "a", encoding="utf-8") as f:
        f.write(line + "\n")
    return f"upstream ran {tool} with {json.dumps(args, sort_keys=True)}"


@server.tool(description="Scale a deployment.")
def scale(ns: str, name: str, count: int, note: str = "") -> str:
    return _record("scale", {"ns": ns, "name": name, "count": count, "note": note})


@server.tool(description="Scale a deployment in steps, reporting progress.")
async def scale_slowly(ns: str, name: str, count: int, ctx: Context) -> str:
    for step in range(1, 4):
        await ctx.report_progress(step, 3, f"step {step} of 3")
    return _record("scale_slowly", {"ns": ns, "name": name, "count": count})


@server.tool(description="Wait until cancelled (records the cancellation).")
async def hang(ns: str, name: str) -> str:
    _record("hang", {"ns": ns, "name": name})
    try:
        await anyio.sleep(60)
    except anyio.get_cancelled_exc_class():
        _record("hang-cancelled", {})
        raise
    return "not cancelled"


@server.tool(description="Delete a namespace.")
def delete_namespace(name: str) -> str:
    return _record("delete_namespace", {"name": name})


@server.tool(description="Read a secret (never mapped: must stay hidden).")
def read_secret(name: str) -> str:
    return _record("read_secret", {"name": name})


@server.tool(description="Show rollout status, then crash mid-call.")
def crash(ns: str, name: str) -> str:
    _record("crash", {"ns": ns, "name": name})
    os._exit(3)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
