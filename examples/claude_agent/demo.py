"""A Claude Agent SDK agent whose Kubernetes tool calls agent-safe checks first.

    python -m examples.claude_agent              # offline; asks at the approval prompt (y/N)
    python -m examples.claude_agent --approve    # offline, non-interactive
    python -m examples.claude_agent --live       # a real model: needs ANTHROPIC_API_KEY

The agent's tools are an in-process MCP server (``k8s``) with
``restart_deployment``, ``scale_deployment`` and ``drain_node``. They touch no
cluster: each prints and records what it would do. The agent-safe project is
the LangGraph demo's (``examples/k8s_agent/project``): real policies, a real
inventory, a real audit log, a caller in a signed token minted with a
throw-away key.

Offline (the default), the Claude Agent SDK still starts the Claude Code CLI it
bundles and runs the hooks for real; only the model is replaced, by
``fake_anthropic.py``, a scripted stand-in for the Messages API on 127.0.0.1
that asks for one tool call per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from agent_safe import AgentSafe, ToolMapping
from agent_safe.claude import AgentSafeHooks, ApprovalAnswer, ApprovalRequest
from claude_agent_sdk import (
    AssistantMessage,
    ResultMessage,
    TextBlock,
    ToolResultBlock,
    UserMessage,
    create_sdk_mcp_server,
    query,
    tool,
)

from examples.claude_agent.fake_anthropic import FakeAnthropic

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent / "k8s_agent" / "project" / "agent-safe.yaml"
MAPPING = HERE / "tools.yaml"
AGENT_ID = "claude-demo-agent"

# (what the user asks, the tool call the scripted model makes)
STEPS: list[tuple[str, tuple[str, dict[str, Any]]]] = [
    (
        "Restart the api deployment in staging.",
        (
            "mcp__k8s__restart_deployment",
            {"namespace": "staging", "name": "api", "reason": "Pods leak memory"},
        ),
    ),
    (
        "Scale prod/api to 10 replicas.",
        (
            "mcp__k8s__scale_deployment",
            {"namespace": "prod", "name": "api", "replicas": 10, "reason": "Traffic peak"},
        ),
    ),
    (
        "Drain prod-node-1 for a kernel upgrade.",
        ("mcp__k8s__drain_node", {"node": "prod-node-1", "reason": "Kernel upgrade"}),
    ),
]


def k8s_server(ran: list[str]) -> Any:
    """The agent's tools: they print and record what they would do, nothing more."""

    def done(text: str) -> dict[str, Any]:
        ran.append(text)
        return {"content": [{"type": "text", "text": text}]}

    @tool(
        "restart_deployment",
        "Rolling restart of a Deployment",
        {"namespace": str, "name": str, "reason": str},
    )
    async def restart_deployment(args: dict[str, Any]) -> dict[str, Any]:
        return done(f"(simulated) restarted deployment {args['namespace']}/{args['name']}")

    @tool(
        "scale_deployment",
        "Scale a Deployment",
        {"namespace": str, "name": str, "replicas": int, "reason": str},
    )
    async def scale_deployment(args: dict[str, Any]) -> dict[str, Any]:
        return done(f"(simulated) scaled {args['namespace']}/{args['name']} to {args['replicas']}")

    @tool("drain_node", "Cordon and drain a node", {"node": str, "reason": str})
    async def drain_node(args: dict[str, Any]) -> dict[str, Any]:
        return done(f"(simulated) drained node {args['node']}")

    return create_sdk_mcp_server("k8s", tools=[restart_deployment, scale_deployment, drain_node])


def approver_for(choice: str | None, name: str) -> Any:
    """The approver: the flag's answer, else a y/N prompt (no terminal: reject)."""

    async def approver(request: ApprovalRequest) -> ApprovalAnswer:
        print("  ⏸ approval : agent-safe wants a human before this call runs:")
        print(f"               {request.message}")
        if choice is not None:
            answer = choice == "approve"
        elif sys.stdin.isatty():
            line = await asyncio.to_thread(input, "  approve? [y/N] ")
            answer = line.strip().lower() in ("y", "yes")
        else:
            answer = False  # no terminal, no flag: not approved
        verdict = "APPROVE" if answer else "REJECT"
        print(f"  human      : {verdict} by {name}")
        return ApprovalAnswer(
            approved=answer, approver=name, comment=f"{verdict.lower()}d in the demo"
        )

    return approver


def new_events(audit: Path, seen: int) -> list[dict[str, Any]]:
    """The audit events after the first ``seen``."""
    if not audit.exists():
        return []
    return [json.loads(line) for line in audit.read_text().splitlines()[seen:]]


async def run(args: argparse.Namespace) -> int:
    """The scenario: one agent run per user request."""
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="agent-safe-claude-"))
    workdir.mkdir(parents=True, exist_ok=True)
    audit = workdir / "audit.jsonl"
    safe = AgentSafe(config=PROJECT, audit_log=audit, signing_key=secrets.token_urlsafe(32))
    token = safe.create_token(AGENT_ID, roles=["operator"], ttl=3600)
    choice = "approve" if args.approve else "reject" if args.reject else None
    guard = AgentSafeHooks(
        safe,
        ToolMapping.from_file(MAPPING),
        caller=token,
        approver=approver_for(choice, args.approver),
    )
    ran: list[str] = []
    server = k8s_server(ran)
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    print("agent-safe with the Claude Agent SDK — every tool call is checked first")
    offline = "scripted, offline (fake_anthropic.py on 127.0.0.1)"
    print(f"  model      : {'Anthropic API (live)' if args.live else offline}")
    print("  tools      : in-process MCP server `k8s`; simulated, they touch no cluster")
    print(f"  agent-safe : project {PROJECT.parent}, audit log {audit}")
    print(f"  caller     : {AGENT_ID}, role operator, in a signed token")
    seen = 0
    for prompt, call in STEPS:
        print(f"\n== user: {prompt}")
        ran_before = len(ran)
        fake = None if args.live else FakeAnthropic([call])
        env: dict[str, str] = {"HOME": str(home)}
        if fake is not None:
            fake.__enter__()
            env.update(
                ANTHROPIC_BASE_URL=fake.url,
                ANTHROPIC_API_KEY="offline-demo",
                CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
            )
        try:
            options = guard.options(
                env=env,
                setting_sources=[],
                mcp_servers={"k8s": server},
                cwd=str(workdir),
            )

            async def one(text: str = prompt) -> AsyncIterator[dict[str, Any]]:
                yield {"type": "user", "message": {"role": "user", "content": text}}

            async for message in query(prompt=one(), options=options):
                if isinstance(message, AssistantMessage):
                    for block in message.content:
                        if isinstance(block, TextBlock):
                            print(f"  agent      : {block.text}")
                        elif hasattr(block, "name"):
                            print(f"  agent      → {block.name}({json.dumps(block.input)})")
                elif isinstance(message, UserMessage) and isinstance(message.content, list):
                    for block in message.content:
                        if isinstance(block, ToolResultBlock):
                            text = block.content
                            if isinstance(text, list):
                                text = " ".join(str(c.get("text", "")) for c in text)
                            kind = "tool error" if block.is_error else "tool ok   "
                            print(f"  {kind} ← {text}")
                elif isinstance(message, ResultMessage) and message.is_error:
                    print(f"  run error  : {message.result}")
        finally:
            if fake is not None:
                fake.__exit__(None, None, None)
        for ev in new_events(audit, seen):
            seen += 1
            if ev["kind"] == "approval":
                print(
                    f"  agent-safe : approval recorded: {ev['decision'].upper()} by {ev['caller']}"
                )
            else:
                print(
                    f"  agent-safe : {ev['decision'].upper()} {ev['action']} on {ev['target']}"
                    f" — {ev['reason']} (audit {ev['event_id']})"
                )
        print(f"  tools ran  : {ran[ran_before:] or 'none'}")
    report = safe.verify_audit()
    print(f"\n== audit log: {report.events} events, chain {'intact' if report.ok else 'BROKEN'}")
    print(f"   agent-safe audit show --log {audit}")
    return 0 if report.ok else 1


def main(argv: list[str] | None = None) -> int:
    """Run the demo; the exit code is 0 when the audit log verifies."""
    p = argparse.ArgumentParser(
        prog="python -m examples.claude_agent", description=__doc__.split("\n")[0]
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument("--approve", action="store_true", help="approve the drain without asking")
    g.add_argument("--reject", action="store_true", help="reject the drain without asking")
    p.add_argument("--approver", default="on-call-sre", help="the name recorded as approver")
    p.add_argument("--workdir", help="where the audit log goes (default: a new temp dir)")
    p.add_argument("--live", action="store_true", help="a real model (needs ANTHROPIC_API_KEY)")
    return asyncio.run(run(p.parse_args(argv)))
