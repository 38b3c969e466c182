"""agent-safe with LangGraph: a Kubernetes agent whose every tool call is checked first.

Run from the repository root::

    python -m examples.k8s_agent              # asks you at the approval prompt
    python -m examples.k8s_agent --approve    # non-interactive: approve the drain
    python -m examples.k8s_agent --reject     # non-interactive: reject it
    python examples/k8s_agent/run.py --approve

By default the Kubernetes API is SIMULATED (``simulated_api.py``, a small
HTTP server on 127.0.0.1 started by the demo) and the model is SCRIPTED
(``model.py``, deterministic, offline). ``--model openai:gpt-4.1`` uses a real
model (its provider package and API key must be installed and set);
``--kubeconfig PATH`` a real cluster (start with ``--dry-run``: every change
is sent with ``dryRun=All`` and nothing is persisted). See docs/LANGGRAPH.md.

The scenario, on one conversation thread:

(a) restart a staging Deployment: ALLOWED, the PATCH reaches the API server;
(b) scale a production Deployment: DENIED, nothing reaches it, the model is told why;
(c) drain a production node: REQUIRE_APPROVAL, the run pauses until a human
    answers; approved, the cordon and the evictions reach the API server;
    rejected, nothing does;
(d) the audit log is verified and summarised.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from agent_safe import AgentSafe, AuditReport
from agent_safe.langchain import AgentSafeMiddleware
from kubernetes import config as kube_config
from langchain.agents import create_agent
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from .k8s_tools import make_tools
from .model import SYSTEM_PROMPT, load_model
from .simulated_api import RecordedRequest, SimulatedKubeAPI

__all__ = ["PROJECT", "STEPS", "DemoContext", "DemoResult", "main", "run_demo"]

PROJECT = Path(__file__).resolve().parent / "project"
"""The demo's agent-safe project: config, policies, inventory, policy tests."""

AGENT_ID = "k8s-demo-agent"
AGENT_ROLES = ["operator"]

STEPS: list[tuple[str, str]] = [
    ("a", "Restart the api deployment in staging."),
    ("b", "Scale prod/api to 10 replicas."),
    ("c", "Drain prod-node-1 for a kernel upgrade."),
]
"""The user's requests, one per step of the scenario."""


@dataclass(frozen=True)
class DemoContext:
    """The run's context (``create_agent(context_schema=...)``): who the agent is.

    ``token`` is a signed agent-safe caller token; the middleware reads it from
    ``request.runtime.context`` on every tool call.
    """

    token: str


@dataclass
class DemoResult:
    """What happened, for the tests and for a caller that wants more than the printout."""

    workdir: Path
    audit_path: Path
    report: AuditReport
    events: list[dict[str, Any]]
    messages: list[BaseMessage]
    requests: dict[str, list[RecordedRequest]] = field(default_factory=dict)
    """Requests the simulated API server received during each step (empty for a real cluster)."""
    answers: list[dict[str, Any]] = field(default_factory=list)
    """The answers given to approval requests."""
    api: SimulatedKubeAPI | None = None

    @property
    def ok(self) -> bool:
        """True when the audit chain verifies."""
        return self.report.ok


class _Narrator:
    """Prints the conversation as it grows, each tool call with agent-safe's answers to it."""

    def __init__(self, out: TextIO, audit_path: Path) -> None:
        self.out = out
        self.audit_path = audit_path
        self.messages_seen = 0
        self.events: list[dict[str, Any]] = []
        self.events_printed = 0
        self.pending: dict[str, list[dict[str, Any]]] = {}

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def read_events(self) -> None:
        if not self.audit_path.exists():
            return
        lines = self.audit_path.read_text(encoding="utf-8").splitlines()
        for line in lines[len(self.events) :]:
            ev = json.loads(line)
            self.events.append(ev)
            self.pending.setdefault(ev.get("correlation_id") or "", []).append(ev)

    def flush_events(self, correlation_id: str) -> None:
        for ev in self.pending.pop(correlation_id, []):
            self.say(_event_line(ev))

    def show(self, messages: Sequence[BaseMessage]) -> None:
        self.read_events()
        for m in messages[self.messages_seen :]:
            if isinstance(m, AIMessage) and m.tool_calls:
                for tc in m.tool_calls:
                    args = ", ".join(f"{k}={v!r}" for k, v in tc["args"].items())
                    self.say(f"  agent      → {tc['name']}({args})")
                    self.flush_events(tc["id"] or "")
            elif isinstance(m, AIMessage):
                self.say(_block("  agent      : ", str(m.content)))
            elif isinstance(m, ToolMessage):
                self.flush_events(m.tool_call_id)
                self.say(
                    _block(
                        f"  tool {'error' if m.status == 'error' else 'ok':<5} ← ", str(m.content)
                    )
                )
        self.messages_seen = len(messages)

    def flush_all(self) -> None:
        self.read_events()
        for cid in list(self.pending):
            self.flush_events(cid)


def _block(label: str, text: str) -> str:
    """``label`` then ``text``, its further lines aligned under the first."""
    first, *rest = text.splitlines() or [""]
    pad = " " * len(label)
    return "\n".join([label + first, *(pad + line for line in rest)])


def _event_line(ev: dict[str, Any]) -> str:
    if ev.get("kind") == "approval":
        comment = f" ({ev['reason']})" if ev.get("reason") else ""
        return (
            f"  agent-safe : approval recorded: {ev['decision'].upper()} by {ev['caller']}"
            f"{comment}\n"
            f"               correlation {ev['correlation_id']}, audit {ev['event_id']}"
        )
    return (
        f"  agent-safe : {str(ev.get('decision', '?')).upper()} {ev.get('action')} on "
        f"{ev.get('target') or '-'} — {ev.get('reason')}\n"
        f"               rule {ev.get('policy_matched') or '-'}, effective risk "
        f"{ev.get('effective_risk')}, correlation {ev.get('correlation_id')}, "
        f"audit {ev.get('event_id')}"
    )


def _ask_human(payload: dict[str, Any], out: TextIO, approver: str) -> dict[str, Any]:
    """Ask at the terminal. No answer (or no terminal) is a rejection."""
    try:
        reply = input("  Approve this call? [y/N] ").strip().lower()
        if not sys.stdin.isatty():
            print(reply, file=out)  # what a terminal would have echoed
    except EOFError:
        print("  (no answer: stdin is closed; treated as a rejection)", file=out)
        reply = ""
    if reply in ("y", "yes"):
        return {"type": "approve", "approver": approver, "comment": "approved at the demo prompt"}
    return {"type": "reject", "approver": approver, "message": "rejected at the demo prompt"}


def run_demo(
    *,
    approve: bool | None = None,
    model: str | None = None,
    workdir: str | os.PathLike[str] | None = None,
    kubeconfig: str | None = None,
    kube_context: str | None = None,
    dry_run: bool = False,
    approver: str = "on-call-sre",
    out: TextIO | None = None,
    ask: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> DemoResult:
    """Run the scenario and return what happened.

    ``approve``: ``True``/``False`` answers the approval request without
    asking; ``None`` asks (``ask(payload)``, by default ``input()``).
    """
    out = out or sys.stdout
    work = (
        Path(workdir)
        if workdir is not None
        else Path(tempfile.mkdtemp(prefix="agent-safe-k8s-demo-"))
    )
    work.mkdir(parents=True, exist_ok=True)
    audit_path = work / "audit.jsonl"

    api: SimulatedKubeAPI | None = None
    if kubeconfig is None:
        api = SimulatedKubeAPI().start()
        kubeconfig = api.write_kubeconfig(str(work / "kubeconfig"))
    try:
        api_client = kube_config.new_client_from_config(
            config_file=kubeconfig, context=kube_context
        )

        # A throw-away signing key for this run (never written to the repository).
        # A real deployment keeps one in a secret and configures it in agent-safe.yaml.
        signing_key = secrets.token_urlsafe(32)
        safe = AgentSafe(
            config=PROJECT / "agent-safe.yaml",
            audit_log=audit_path,
            signing_key=signing_key,
        )
        token = safe.create_token(AGENT_ID, roles=AGENT_ROLES, ttl=3600)

        guard = AgentSafeMiddleware(
            safe
        )  # caller: the context's `token`; tool `x_y` is action `x-y`
        agent = create_agent(
            load_model(model),
            tools=make_tools(api_client, dry_run=dry_run),
            system_prompt=SYSTEM_PROMPT,
            middleware=[guard],
            context_schema=DemoContext,
            checkpointer=InMemorySaver(),
        )
        ctx = DemoContext(token=token)
        thread = {"configurable": {"thread_id": "k8s-demo"}}

        n = _Narrator(out, audit_path)
        n.say("agent-safe with LangGraph — a Kubernetes agent whose tool calls are checked first")
        if api is not None:
            n.say(
                f"  Kubernetes API : SIMULATED API server at {api.url} "
                "(examples/k8s_agent/simulated_api.py),"
            )
            n.say("                   not a cluster; every request it receives is recorded")
        else:
            n.say(
                f"  Kubernetes API : the cluster of {kubeconfig}"
                + (" (dryRun=All)" if dry_run else "")
            )
        n.say(
            "  model          : "
            + (model or "scripted (deterministic, offline; examples/k8s_agent/model.py)")
        )
        n.say(f"  agent-safe     : project {_rel(PROJECT)}, audit log {audit_path}")
        n.say(
            f"  caller         : {AGENT_ID}, roles {AGENT_ROLES}, "
            "in a signed token (run context `token`)"
        )

        requests: dict[str, list[RecordedRequest]] = {}
        answers: list[dict[str, Any]] = []
        for step, text in STEPS:
            n.say()
            n.say(f"== ({step}) user: {text}")
            mark = len(api.received()) if api is not None else 0
            result = agent.invoke({"messages": [HumanMessage(text)]}, thread, context=ctx)
            n.show(agent.get_state(thread).values["messages"])
            while interrupts := result.get("__interrupt__"):
                resume: dict[str, Any] = {}
                for intr in interrupts:
                    payload = intr.value
                    n.say(
                        "  ⏸ paused    : the run waits for a human (LangGraph interrupt); "
                        "the request:"
                    )
                    n.say(
                        _block(
                            "               ", str(payload.get("description", json.dumps(payload)))
                        )
                    )
                    if approve is None:
                        answer = (ask or (lambda p: _ask_human(p, out, approver)))(payload)
                    elif approve:
                        answer = {
                            "type": "approve",
                            "approver": approver,
                            "comment": "approved with --approve",
                        }
                    else:
                        answer = {
                            "type": "reject",
                            "approver": approver,
                            "message": "rejected with --reject: drain it after the release freeze",
                        }
                    n.say(
                        f"  human      : {answer['type'].upper()} by "
                        f"{answer.get('approver', '?')}; "
                        "resuming with Command(resume=...)"
                    )
                    answers.append(answer)
                    resume[intr.id] = answer
                result = agent.invoke(Command(resume=resume), thread, context=ctx)
                n.show(agent.get_state(thread).values["messages"])
            n.flush_all()
            if api is not None:
                got = api.received(mark)
                requests[step] = got
                n.say(
                    f"  API server : the simulated API server received {len(got)} request(s)"
                    + (":" if got else "")
                )
                for r in got:
                    n.say(f"               {r}")

        # (d) the audit log
        n.say()
        n.say("== (d) audit log")
        report = safe.verify_audit()
        n.read_events()
        events = n.events
        checks = [e for e in events if e.get("kind") == "decision"]
        approvals = [e for e in events if e.get("kind") == "approval"]
        by_result = Counter(e["decision"] for e in checks)
        last_hash = report.last_hash or (events[-1].get("hash") if events else None)
        n.say(
            f"  verify     : {'OK' if report.ok else 'BROKEN'}, {report.events} events, hash chain "
            f"{'intact' if report.ok else 'broken'}"
            + (f", head {last_hash[:16]}…" if last_hash else "")
        )
        n.say(
            f"  checks     : {len(checks)} ("
            + ", ".join(
                f"{k} {by_result[k]}" for k in ("allow", "deny", "require_approval") if by_result[k]
            )
            + ")"
        )
        n.say(
            f"  approvals  : {len(approvals)}"
            + "".join(f" ({a['decision']} by {a['caller']})" for a in approvals)
        )
        for a in approvals:
            linked = [e for e in checks if e.get("correlation_id") == a["correlation_id"]]
            n.say(
                f"  linked     : correlation {a['correlation_id']}: "
                + " → ".join([str(e["decision"]) for e in linked] + [a["decision"]])
                + " (the check, its re-check on resume, the human's answer)"
            )
        if api is not None:
            n.say(
                "  API server : requests per step: "
                + ", ".join(f"({s}) {len(r)}" for s, r in requests.items())
            )
        n.say(f"  inspect    : agent-safe audit show --log {audit_path}")
        return DemoResult(
            workdir=work,
            audit_path=audit_path,
            report=report,
            events=events,
            messages=list(agent.get_state(thread).values["messages"]),
            requests=requests,
            answers=answers,
            api=api,
        )
    finally:
        if api is not None:
            api.stop()


def _rel(p: Path) -> str:
    try:
        return str(p.relative_to(Path.cwd()))
    except ValueError:
        return str(p)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line: ``python -m examples.k8s_agent [--approve|--reject] [--model M]``."""
    parser = argparse.ArgumentParser(
        prog="python -m examples.k8s_agent",
        description="agent-safe with LangGraph: a Kubernetes agent whose tool calls are checked "
        "by agent-safe (simulated Kubernetes API server and scripted model by default).",
    )
    answer = parser.add_mutually_exclusive_group()
    answer.add_argument("--approve", action="store_true", help="approve the drain without asking")
    answer.add_argument("--reject", action="store_true", help="reject the drain without asking")
    parser.add_argument(
        "--approver", default="on-call-sre", help="who answers the approval (recorded)"
    )
    parser.add_argument(
        "--model",
        default=None,
        help="a real chat model, as provider:model for init_chat_model "
        "(e.g. openai:gpt-4.1); default: the scripted offline model",
    )
    parser.add_argument(
        "--kubeconfig",
        default=None,
        help="a real cluster's kubeconfig instead of the simulated API server",
    )
    parser.add_argument("--context", default=None, help="the kubeconfig context to use")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="send every change with server-side dryRun=All (nothing is persisted)",
    )
    parser.add_argument(
        "--workdir",
        default=None,
        help="where the audit log and kubeconfig go (default: a new temporary directory)",
    )
    args = parser.parse_args(argv)
    approve = True if args.approve else False if args.reject else None
    result = run_demo(
        approve=approve,
        model=args.model,
        workdir=args.workdir,
        kubeconfig=args.kubeconfig,
        kube_context=args.context,
        dry_run=args.dry_run,
        approver=args.approver,
    )
    return 0 if result.ok else 1
