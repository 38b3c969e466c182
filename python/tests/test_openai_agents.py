"""agent_safe.openai_agents with the real OpenAI Agents SDK, driven by its own Runner.

The model is the SDK's own scripted test model (``agents.testing.ScriptedModel``,
an implementation of its ``Model`` interface): it makes the tool calls each test
scripts, offline. Everything else is the SDK's real machinery (``Runner.run``,
``needs_approval``, interruptions, ``RunState.approve``/``reject``, tool input
guardrails) and a real AgentSafe whose audit log is read back.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agents", reason="needs the `openai-agents` extra")

from adapter_project import DRAIN, RESTART, SCALE_PROD, Project
from agent_safe.openai_agents import AgentSafeGuard
from agents import Agent, FunctionTool, Runner, RunResult, function_tool, set_tracing_disabled
from agents.items import ToolCallOutputItem
from agents.testing import ScriptedModel, assistant_message, function_call

set_tracing_disabled(True)  # offline: nothing to export traces to


class Tools:
    """Function tools that record every call that reaches them."""

    def __init__(self) -> None:
        self.ran: list[tuple[str, dict[str, Any]]] = []
        ran = self.ran

        @function_tool
        def restart(ns: str, name: str) -> str:
            """Restart a Deployment."""
            ran.append(("restart", {"ns": ns, "name": name}))
            return f"restarted {ns}/{name}"

        @function_tool
        def scale(ns: str, name: str, replicas: int) -> str:
            """Scale a Deployment."""
            ran.append(("scale", {"ns": ns, "name": name, "replicas": replicas}))
            return "scaled"

        @function_tool
        def drain(node: str) -> str:
            """Drain a node."""
            ran.append(("drain", {"node": node}))
            return f"drained {node}"

        @function_tool
        def search_web(query: str) -> str:
            """Search the web."""
            ran.append(("search_web", {"query": query}))
            return "results"

        self.all: list[FunctionTool] = [restart, scale, drain, search_web]


def script(tool: str, args: dict[str, Any], call_id: str = "call_1") -> ScriptedModel:
    """One tool call, then a final answer (and one more, for a resumed run)."""
    return ScriptedModel(
        [
            [function_call(tool, args, call_id=call_id)],
            [assistant_message("done")],
            [assistant_message("done")],
        ]
    )


def outputs(result: RunResult) -> list[str]:
    return [str(i.output) for i in result.new_items if isinstance(i, ToolCallOutputItem)]


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    return Project(tmp_path)


def run(
    proj: Project, tool: str, args: dict[str, Any], **guard_kw: Any
) -> tuple[Tools, AgentSafeGuard, Agent[Any], RunResult]:
    tools = Tools()
    guard_kw.setdefault("caller", "ops-agent")
    guard = AgentSafeGuard(proj.safe, proj.mapping_file, **guard_kw)
    agent = Agent(name="ops", model=script(tool, args), tools=guard.protect(tools.all))
    result = asyncio.run(Runner.run(agent, "go"))
    return tools, guard, agent, result


def test_allowed_call_reaches_the_tool_with_the_exact_arguments(proj: Project) -> None:
    tools, _, _, result = run(proj, "restart", RESTART)
    assert tools.ran == [("restart", RESTART)]
    assert outputs(result) == ["restarted staging/api"]
    [ev] = proj.checks()
    assert (ev["decision"], ev["action"], ev["target"]) == (
        "allow",
        "restart-deployment",
        "staging/api",
    )
    assert ev["params"] == {"namespace": "staging", "deployment": "api"}
    assert ev["correlation_id"] == "call_1"
    assert ev["context"]["integration"] == "openai-agents"


def test_denied_call_never_runs_and_the_model_reads_why(proj: Project) -> None:
    tools, _, _, result = run(proj, "scale", SCALE_PROD)
    assert tools.ran == []
    [out] = outputs(result)
    assert "agent-safe denied `scale`" in out
    assert "Agents never scale production" in out
    [ev] = proj.checks()
    assert ev["decision"] == "deny"
    assert ev["event_id"] in out


def test_unmapped_tool_is_refused_and_audited(proj: Project) -> None:
    tools, _, _, result = run(proj, "search_web", {"query": "x"})
    assert tools.ran == []
    [out] = outputs(result)
    assert "not in agent-safe's tool mapping" in out
    [ev] = proj.checks()
    assert ev["action"] == "openai-agents:unmapped:search_web"
    assert ev["decision"] == "deny"


def test_an_argument_the_check_would_not_see_is_refused_even_once_approved(
    proj: Project,
) -> None:
    # The SDK drops `context` (not in the tool's schema) and, since validation
    # changed the arguments, asks for an approval without asking agent-safe.
    tools, guard, agent, result = run(proj, "restart", {**RESTART, "context": "other-cluster"})
    [item] = result.interruptions
    assert "not asked by agent-safe" in guard.describe(item)
    assert guard.decision(item) is None
    state = result.to_state()
    asyncio.run(guard.approve(state, item, approver="alice"))
    result = asyncio.run(Runner.run(agent, state))
    # The guardrail still maps the call as the model made it, and refuses it.
    assert tools.ran == []
    assert "call it without `context`" in outputs(result)[0]
    assert proj.approvals() == []


@pytest.mark.parametrize("approve", [True, False])
def test_approval_both_ways_through_the_sdk_and_recorded(proj: Project, approve: bool) -> None:
    tools, guard, agent, result = run(proj, "drain", DRAIN)
    assert tools.ran == []
    [item] = result.interruptions
    assert "Draining a node needs a human" in guard.describe(item)
    decision = guard.decision(item)
    assert decision is not None and decision.result.value == "require_approval"
    state = result.to_state()
    if approve:
        asyncio.run(guard.approve(state, item, approver="alice", comment="window"))
    else:
        asyncio.run(guard.reject(state, item, approver="alice", message="not today"))
    result = asyncio.run(Runner.run(agent, state))
    assert not result.interruptions
    if approve:
        assert tools.ran == [("drain", DRAIN)]
        assert outputs(result) == ["drained prod-node-1"]
    else:
        assert tools.ran == []
        [out] = outputs(result)
        assert "A human reviewer (alice) rejected `drain`" in out
        assert "not today" in out
    [approval] = proj.approvals()
    assert approval["decision"] == ("approve" if approve else "reject")
    assert approval["caller"] == "alice"
    assert approval["correlation_id"] == "call_1"
    assert approval["reason"] == ("window" if approve else "not today")
    assert approval["context"]["audit_id"] == decision.audit_id
    # One check before the pause; none after it (the guardrail reuses it).
    assert [e["decision"] for e in proj.checks()] == ["require_approval"]


def test_approval_given_to_the_sdk_directly_is_still_recorded(proj: Project) -> None:
    tools, _, agent, result = run(proj, "drain", DRAIN)
    [item] = result.interruptions
    state = result.to_state()
    state.approve(item)  # not through the guard
    asyncio.run(Runner.run(agent, state))
    assert tools.ran == [("drain", DRAIN)]
    [approval] = proj.approvals()
    assert approval["decision"] == "approve"
    assert approval["caller"] == "unidentified-reviewer"


def test_a_failing_check_fails_closed(proj: Project) -> None:
    class Broken:
        def check(self, action: str, **kw: Any) -> Any:
            raise RuntimeError("sidecar unreachable")

    tools = Tools()
    guard = AgentSafeGuard(Broken(), proj.mapping, caller="ops-agent")
    agent = Agent(name="ops", model=script("restart", RESTART), tools=guard.protect(tools.all))
    result = asyncio.run(Runner.run(agent, "go"))
    assert tools.ran == []
    assert "sidecar unreachable" in outputs(result)[0]


def test_caller_from_the_run_context(proj: Project) -> None:
    tools = Tools()
    guard = AgentSafeGuard(proj.safe, proj.mapping)
    agent = Agent(name="ops", model=script("restart", RESTART), tools=guard.protect(tools.all))
    asyncio.run(Runner.run(agent, "go", context={"agent_id": "ctx-agent"}))
    assert tools.ran == [("restart", RESTART)]
    assert proj.checks()[0]["caller"] == "ctx-agent"


def test_protect_refuses_what_it_cannot_gate(proj: Project) -> None:
    guard = AgentSafeGuard(proj.safe, proj.mapping)
    with pytest.raises(TypeError, match="only function tools"):
        guard.protect(["not a tool"])
    tools = Tools()
    import dataclasses

    asks = dataclasses.replace(tools.all[0], needs_approval=True)
    with pytest.raises(ValueError, match="already has needs_approval"):
        guard.protect_tool(asks)
