"""An OpenAI Agents SDK agent whose Kubernetes tool calls agent-safe checks first.

    python -m examples.openai_agents              # offline; asks at the approval prompt (y/N)
    python -m examples.openai_agents --approve    # offline, non-interactive
    python -m examples.openai_agents --live --model gpt-4.1   # needs OPENAI_API_KEY

The agent's function tools ``restart_deployment``, ``scale_deployment`` and
``drain_node`` touch no cluster: each prints and records what it would do. The
agent-safe project is the LangGraph demo's (``examples/k8s_agent/project``):
real policies, a real inventory, a real audit log, a caller in a signed token
minted with a throw-away key. Offline (the default), the model is the SDK's own
``agents.testing.ScriptedModel``, which makes one scripted tool call per
request; the SDK's Runner, approvals and guardrails run for real.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

from agent_safe import AgentSafe, ToolMapping
from agent_safe.openai_agents import AgentSafeGuard
from agents import Agent, Runner, function_tool, set_tracing_disabled
from agents.items import ToolCallItem, ToolCallOutputItem
from agents.testing import ScriptedModel, assistant_message, function_call

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent / "k8s_agent" / "project" / "agent-safe.yaml"
MAPPING = HERE / "tools.yaml"
AGENT_ID = "openai-demo-agent"

# (what the user asks, the tool call the scripted model makes)
STEPS: list[tuple[str, tuple[str, dict[str, Any]]]] = [
    (
        "Restart the api deployment in staging.",
        (
            "restart_deployment",
            {"namespace": "staging", "name": "api", "reason": "Pods leak memory"},
        ),
    ),
    (
        "Scale prod/api to 10 replicas.",
        (
            "scale_deployment",
            {"namespace": "prod", "name": "api", "replicas": 10, "reason": "Traffic peak"},
        ),
    ),
    (
        "Drain prod-node-1 for a kernel upgrade.",
        ("drain_node", {"node": "prod-node-1", "reason": "Kernel upgrade"}),
    ),
]


def make_tools(ran: list[str]) -> list[Any]:
    """The agent's tools: they print and record what they would do, nothing more."""

    @function_tool
    def restart_deployment(namespace: str, name: str, reason: str) -> str:
        """Rolling restart of a Deployment."""
        ran.append(f"(simulated) restarted deployment {namespace}/{name}")
        return ran[-1]

    @function_tool
    def scale_deployment(namespace: str, name: str, replicas: int, reason: str) -> str:
        """Scale a Deployment."""
        ran.append(f"(simulated) scaled {namespace}/{name} to {replicas}")
        return ran[-1]

    @function_tool
    def drain_node(node: str, reason: str) -> str:
        """Cordon and drain a node."""
        ran.append(f"(simulated) drained node {node}")
        return ran[-1]

    return [restart_deployment, scale_deployment, drain_node]


def new_events(audit: Path, seen: int) -> list[dict[str, Any]]:
    """The audit events after the first ``seen``."""
    if not audit.exists():
        return []
    return [json.loads(line) for line in audit.read_text().splitlines()[seen:]]


def show(items: list[Any]) -> None:
    """Print the tool calls and tool outputs of a run."""
    for item in items:
        if isinstance(item, ToolCallItem):
            raw = item.raw_item
            print(f"  agent      → {getattr(raw, 'name', '?')}({getattr(raw, 'arguments', '')})")
        elif isinstance(item, ToolCallOutputItem):
            print(f"  tool       ← {item.output}")


async def ask(choice: str | None) -> bool:
    """The flag's answer, else a y/N prompt (no terminal: reject)."""
    if choice is not None:
        return choice == "approve"
    if sys.stdin.isatty():
        line = await asyncio.to_thread(input, "  approve? [y/N] ")
        return line.strip().lower() in ("y", "yes")
    return False  # no terminal, no flag: not approved


async def run(args: argparse.Namespace) -> int:
    """The scenario: one agent run per user request, resumed after each review."""
    if not args.live:
        set_tracing_disabled(True)  # offline: nowhere to send traces
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="agent-safe-openai-"))
    workdir.mkdir(parents=True, exist_ok=True)
    audit = workdir / "audit.jsonl"
    safe = AgentSafe(config=PROJECT, audit_log=audit, signing_key=secrets.token_urlsafe(32))
    token = safe.create_token(AGENT_ID, roles=["operator"], ttl=3600)
    guard = AgentSafeGuard(safe, ToolMapping.from_file(MAPPING), caller=token)
    ran: list[str] = []
    tools = guard.protect(make_tools(ran))
    choice = "approve" if args.approve else "reject" if args.reject else None
    print("agent-safe with the OpenAI Agents SDK — every tool call is checked first")
    model_text = f"{args.model} (live)" if args.live else "agents.testing.ScriptedModel, offline"
    print(f"  model      : {model_text}")
    print("  tools      : function tools; simulated, they touch no cluster")
    print(f"  agent-safe : project {PROJECT.parent}, audit log {audit}")
    print(f"  caller     : {AGENT_ID}, role operator, in a signed token")
    seen = 0
    for prompt, (tool_name, tool_args) in STEPS:
        print(f"\n== user: {prompt}")
        ran_before = len(ran)
        model: Any = (
            args.model
            if args.live
            else ScriptedModel(
                [
                    [function_call(tool_name, tool_args, call_id=f"call_{tool_name}")],
                    [assistant_message("Done; see the tool's answer above.")],
                ]
            )
        )
        agent = Agent(name="k8s-ops", instructions="Operate Kubernetes.", model=model, tools=tools)
        result = await Runner.run(agent, prompt)
        show(result.new_items)
        while result.interruptions:
            state = result.to_state()
            for item in result.interruptions:
                print("  ⏸ approval : the run is paused (needs_approval); agent-safe says:")
                print(f"               {guard.describe(item)}")
                approved = await ask(choice)
                verdict = "APPROVE" if approved else "REJECT"
                print(f"  human      : {verdict} by {args.approver}")
                if approved:
                    await guard.approve(state, item, approver=args.approver, comment="demo")
                else:
                    await guard.reject(state, item, approver=args.approver, message="not now")
            if not args.live:
                agent.model = ScriptedModel([[assistant_message("Done after the review.")]])
            before = len(result.new_items)
            result = await Runner.run(agent, state)
            show(result.new_items[before:] if len(result.new_items) > before else result.new_items)
        print(f"  agent      : {result.final_output}")
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
        prog="python -m examples.openai_agents", description=(__doc__ or "").split("\n")[0]
    )
    g = p.add_mutually_exclusive_group()
    g.add_argument("--approve", action="store_true", help="approve the drain without asking")
    g.add_argument("--reject", action="store_true", help="reject the drain without asking")
    p.add_argument("--approver", default="on-call-sre", help="the name recorded as approver")
    p.add_argument("--workdir", help="where the audit log goes (default: a new temp dir)")
    p.add_argument("--live", action="store_true", help="a real model (needs OPENAI_API_KEY)")
    p.add_argument("--model", default="gpt-4.1", help="the model for --live")
    return asyncio.run(run(p.parse_args(argv)))
