"""agent_safe.claude with the real Claude Agent SDK and the Claude Code CLI it bundles.

Driven end to end, offline: ``claude_agent_sdk.query`` starts the bundled CLI,
which talks to a scripted stand-in for the Anthropic Messages API on
127.0.0.1 (``examples/claude_agent/fake_anthropic.py``) instead of a model.
The stand-in asks for one scripted tool call per run; the CLI then runs the
``PreToolUse`` hook, ``can_use_tool`` and ``PostToolUse`` through the SDK's
control protocol exactly as with a real model, and runs the tools: MCP tools
of an in-process SDK MCP server (``mcp__k8s__*``) that record each call, and
the built-in ``Bash``, which writes a file. The audit log is read back.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("claude_agent_sdk", reason="needs the `claude` extra")

from adapter_project import DRAIN, RESTART, SCALE_PROD, Project
from agent_safe.claude import AgentSafeHooks, ApprovalAnswer, ApprovalRequest
from claude_agent_sdk import (
    ClaudeAgentOptions,
    PermissionResultAllow,
    ResultMessage,
    create_sdk_mcp_server,
    query,
    tool,
)
from conftest import REPO

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from examples.claude_agent.fake_anthropic import FakeAnthropic

MAPPING = """
tools:
  mcp__k8s__restart:
    action: restart-deployment
    params: {namespace: "{ns}", deployment: "{name}"}
  mcp__k8s__scale:
    action: scale-deployment
    params: {namespace: "{ns}", deployment: "{name}", replicas: "{replicas}"}
  mcp__k8s__drain:
    action: drain-node
    params: {node: "{node}"}
  Bash:
    action: shell-command
    target: "{host}"
    params: {command: "{command}"}
    unchecked_arguments: [description, timeout]
"""
# Claude's Bash has no `host` argument: the mapping's own constant goes in a
# variant per test (see `bash_mapping`).


def bash_mapping(host: str) -> str:
    return MAPPING.replace('target: "{host}"', f'target: "{host}"')


class K8sTools:
    """An in-process SDK MCP server whose tools record every call that reaches them."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, dict[str, Any]]] = []
        ran = self.ran

        def make(name: str, schema: dict[str, type]) -> Any:
            @tool(name, f"{name} (test tool)", schema)
            async def handler(args: dict[str, Any]) -> dict[str, Any]:
                ran.append((name, dict(args)))
                return {"content": [{"type": "text", "text": f"{name} done"}]}

            return handler

        self.server = create_sdk_mcp_server(
            "k8s",
            tools=[
                make("restart", {"ns": str, "name": str}),
                make("scale", {"ns": str, "name": str, "replicas": int}),
                make("drain", {"node": str}),
                make("other", {"x": str}),
            ],
        )


class Run:
    """One agent run: the scripted calls, the fake API, the SDK's messages."""

    def __init__(self, tmp_path: Path) -> None:
        self.home = tmp_path / "home"
        self.home.mkdir(exist_ok=True)
        self.cwd = tmp_path / "work"
        self.cwd.mkdir(exist_ok=True)
        self.k8s = K8sTools()
        self.tool_results: list[dict[str, Any]] = []

    def options(self, api: FakeAnthropic, **kwargs: Any) -> dict[str, Any]:
        return {
            "env": {
                "ANTHROPIC_BASE_URL": api.url,
                "ANTHROPIC_API_KEY": "offline-test",
                "HOME": str(self.home),
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            },
            "setting_sources": [],
            "mcp_servers": {"k8s": self.k8s.server},
            "cwd": str(self.cwd),
            **kwargs,
        }

    def __call__(self, build: Any, call: tuple[str, dict[str, Any]]) -> str:
        """Run one scripted tool call; return the text of its tool result."""

        async def go() -> None:
            async def prompt() -> Any:
                yield {"type": "user", "message": {"role": "user", "content": "do it"}}

            with FakeAnthropic([call]) as api:
                options: ClaudeAgentOptions = build(self.options(api))
                results = [m async for m in query(prompt=prompt(), options=options)]
                assert isinstance(results[-1], ResultMessage), results[-1]
                self.tool_results.extend(api.tool_results)

        asyncio.run(asyncio.wait_for(go(), 120))
        [result] = self.tool_results[-1:]
        content = result.get("content")
        if isinstance(content, list):
            return " ".join(str(c.get("text", "")) for c in content)
        return str(content)


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    return Project(tmp_path, mapping=bash_mapping("ci/sandbox"))


@pytest.fixture
def run(tmp_path: Path) -> Run:
    return Run(tmp_path)


def guarded(proj: Project, **kw: Any) -> tuple[AgentSafeHooks, Any]:
    kw.setdefault("caller", "claude-agent")
    guard = AgentSafeHooks(proj.safe, proj.mapping, **kw)
    return guard, lambda opts: guard.options(**opts)


def test_allowed_mcp_call_runs_with_the_exact_arguments(proj: Project, run: Run) -> None:
    _, build = guarded(proj)
    out = run(build, ("mcp__k8s__restart", RESTART))
    assert run.k8s.ran == [("restart", RESTART)]
    assert out == "restart done"
    [ev] = proj.checks()
    assert (ev["action"], ev["decision"], ev["target"]) == (
        "restart-deployment",
        "allow",
        "staging/api",
    )
    assert ev["context"]["integration"] == "claude"
    assert ev["context"]["tool"] == "mcp__k8s__restart"
    assert ev["context"]["session_id"]
    assert ev["correlation_id"].startswith("toolu_")


def test_denied_call_never_runs_and_the_model_reads_why(proj: Project, run: Run) -> None:
    _, build = guarded(proj)
    out = run(build, ("mcp__k8s__scale", SCALE_PROD))
    assert run.k8s.ran == []
    assert "Agents never scale production" in out
    [ev] = proj.checks()
    assert ev["decision"] == "deny"
    assert ev["event_id"] in out


def test_unmapped_tools_are_refused(proj: Project, run: Run) -> None:
    _, build = guarded(proj)
    out = run(build, ("mcp__k8s__other", {"x": "y"}))
    assert run.k8s.ran == []
    assert "not in agent-safe's tool mapping" in out
    [ev] = proj.checks()
    assert ev["action"] == "claude:unmapped:mcp__k8s__other"


def test_unmapped_tools_can_be_left_to_claude(proj: Project, run: Run) -> None:
    _, build = guarded(proj, unmapped="allow")
    # Our can_use_tool, asked by Claude's own permission check, is told "allow"
    # by the gate (unmapped, left to Claude): the tool runs, nothing is audited.
    run(build, ("mcp__k8s__other", {"x": "y"}))
    assert run.k8s.ran == [("other", {"x": "y"})]
    assert proj.events() == []


def test_builtin_bash_is_mapped_like_any_tool(proj: Project, run: Run, tmp_path: Path) -> None:
    _, build = guarded(proj)
    marker = tmp_path / "ran.txt"
    run(build, ("Bash", {"command": f"echo hi > {marker}", "description": "write"}))
    assert marker.read_text() == "hi\n"
    [ev] = proj.checks()
    assert (ev["action"], ev["target"], ev["decision"]) == ("shell-command", "ci/sandbox", "allow")
    assert ev["params"] == {"command": f"echo hi > {marker}"}


def test_builtin_bash_denied_never_runs(tmp_path: Path, run: Run) -> None:
    proj = Project(tmp_path, mapping=bash_mapping("prod/bastion"))
    _, build = guarded(proj)
    marker = tmp_path / "ran.txt"
    out = run(build, ("Bash", {"command": f"echo hi > {marker}"}))
    assert not marker.exists()
    assert "agent-safe denied `Bash`" in out
    assert proj.checks()[0]["decision"] == "deny"


@pytest.mark.parametrize("approve", [True, False])
def test_approval_both_ways_recorded(proj: Project, run: Run, approve: bool) -> None:
    asked: list[ApprovalRequest] = []

    async def approver(request: ApprovalRequest) -> ApprovalAnswer:
        asked.append(request)
        await asyncio.sleep(0)
        return ApprovalAnswer(approved=approve, approver="alice", comment="checked the node")

    _, build = guarded(proj, approver=approver)
    out = run(build, ("mcp__k8s__drain", DRAIN))
    [request] = asked
    assert (request.action, request.tool_input) == ("drain-node", DRAIN)
    assert request.reason == "Draining a node needs a human"
    if approve:
        assert run.k8s.ran == [("drain", DRAIN)]
    else:
        assert run.k8s.ran == []
        assert "A human reviewer (alice) rejected" in out
    [check] = proj.checks()
    [approval] = proj.approvals()
    assert approval["decision"] == ("approve" if approve else "reject")
    assert approval["caller"] == "alice"
    assert approval["reason"] == "checked the node"
    assert approval["correlation_id"] == check["correlation_id"]
    assert approval["context"]["audit_id"] == check["event_id"]


def test_no_approver_denies_naming_the_audit_id(proj: Project, run: Run) -> None:
    _, build = guarded(proj)
    out = run(build, ("mcp__k8s__drain", DRAIN))
    assert run.k8s.ran == []
    [check] = proj.checks()
    assert f"a human can review audit id {check['event_id']}" in out
    assert proj.approvals() == []


def test_ask_answered_elsewhere_is_recorded_when_the_tool_runs(proj: Project, run: Run) -> None:
    # The hooks only; another can_use_tool (standing for Claude's own prompt)
    # approves. PostToolUse sees the tool ran after an "ask": recorded.
    guard = AgentSafeHooks(proj.safe, proj.mapping, caller="claude-agent")

    async def human(name: str, tool_input: dict[str, Any], ctx: Any) -> PermissionResultAllow:
        return PermissionResultAllow()

    run(
        lambda opts: ClaudeAgentOptions(hooks=guard.hooks(), can_use_tool=human, **opts),
        ("mcp__k8s__drain", DRAIN),
    )
    assert run.k8s.ran == [("drain", DRAIN)]
    [approval] = proj.approvals()
    assert (approval["decision"], approval["caller"]) == ("approve", "claude-permission-prompt")


def test_can_use_tool_alone_checks_what_claude_asks_about(proj: Project, run: Run) -> None:
    guard = AgentSafeHooks(proj.safe, proj.mapping, caller="claude-agent")
    out = run(
        lambda opts: ClaudeAgentOptions(can_use_tool=guard.can_use_tool, **opts),
        ("mcp__k8s__scale", SCALE_PROD),
    )
    assert run.k8s.ran == []
    assert "Agents never scale production" in out
    run(
        lambda opts: ClaudeAgentOptions(can_use_tool=guard.can_use_tool, **opts),
        ("mcp__k8s__restart", RESTART),
    )
    assert run.k8s.ran == [("restart", RESTART)]


def test_a_failing_check_blocks_the_call(proj: Project, run: Run) -> None:
    class Broken:
        def check(self, action: str, **kw: Any) -> Any:
            raise RuntimeError("sidecar unreachable")

    guard = AgentSafeHooks(Broken(), proj.mapping, caller="claude-agent")
    out = run(lambda opts: guard.options(**opts), ("mcp__k8s__restart", RESTART))
    assert run.k8s.ran == []
    assert "sidecar unreachable" in out


def test_options_refuses_a_second_can_use_tool(proj: Project) -> None:
    guard = AgentSafeHooks(proj.safe, proj.mapping)
    with pytest.raises(ValueError, match="pass an `approver`"):
        guard.options(can_use_tool=lambda *a: None)
