"""AgentSafeMiddleware(mapping=...): the MCP gateway's tool mapping, and an async path
that never blocks the event loop.

Needs the `langchain` extra. A real AgentSafe and a real create_agent run; the
audit log is read back.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain.agents", reason="needs the `langchain` extra")

from adapter_project import DRAIN, RESTART, SCALE_PROD, Project
from agent_safe import Decision
from agent_safe.langchain import AgentSafeMiddleware
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command


class Model(FakeMessagesListChatModel):
    """The user's JSON names one tool call; then the model reports the result."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> Model:  # type: ignore[override]
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        last = messages[-1]
        if isinstance(last, HumanMessage):
            spec = json.loads(str(last.content))
            reply = AIMessage(
                content="",
                tool_calls=[
                    {
                        "name": spec["tool"],
                        "args": spec["args"],
                        "id": "call-1",
                        "type": "tool_call",
                    }
                ],
            )
        else:
            reply = AIMessage(content=f"finished: {last.content}")
        return ChatResult(generations=[ChatGeneration(message=reply)])


class Tools:
    def __init__(self) -> None:
        self.ran: list[tuple[str, dict[str, Any]]] = []
        ran = self.ran

        @tool
        def restart(ns: str, name: str) -> str:
            """Restart a Deployment."""
            ran.append(("restart", {"ns": ns, "name": name}))
            return "restarted"

        @tool
        def scale(ns: str, name: str, replicas: int) -> str:
            """Scale a Deployment."""
            ran.append(("scale", {"ns": ns, "name": name, "replicas": replicas}))
            return "scaled"

        @tool
        def drain(node: str) -> str:
            """Drain a node."""
            ran.append(("drain", {"node": node}))
            return "drained"

        @tool
        def restart_deployment(namespace: str, deployment: str) -> str:
            """Named after its action: the naming convention would map it."""
            ran.append(("restart_deployment", {}))
            return "restarted"

        self.all = [restart, scale, drain, restart_deployment]


def ask(tool_name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [HumanMessage(json.dumps({"tool": tool_name, "args": args}))]}


THREAD = {"configurable": {"thread_id": "t"}}


def agent(safe: Any, tools: Tools, mapping: Any) -> Any:
    return create_agent(
        Model(responses=[]),
        tools=tools.all,
        middleware=[AgentSafeMiddleware(safe, mapping=mapping, caller="ops-agent")],
        checkpointer=InMemorySaver(),
    )


def last_tool_message(result: dict[str, Any]) -> ToolMessage:
    return [m for m in result["messages"] if isinstance(m, ToolMessage)][-1]


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    return Project(tmp_path)


@pytest.mark.parametrize("as_path", [True, False])
def test_mapping_maps_allows_and_denies(proj: Project, as_path: bool) -> None:
    tools = Tools()
    a = agent(proj.safe, tools, proj.mapping_file if as_path else proj.mapping)
    a.invoke(ask("restart", RESTART), THREAD)
    assert tools.ran == [("restart", RESTART)]
    denied = last_tool_message(
        a.invoke(ask("scale", SCALE_PROD), {"configurable": {"thread_id": "2"}})
    )
    assert denied.status == "error"
    assert "Agents never scale production" in str(denied.content)
    assert tools.ran == [("restart", RESTART)]
    ev = proj.checks()
    assert [(e["action"], e["decision"]) for e in ev] == [
        ("restart-deployment", "allow"),
        ("scale-deployment", "deny"),
    ]
    assert ev[0]["params"] == {"namespace": "staging", "deployment": "api"}


def test_with_a_mapping_unmapped_tools_are_refused(proj: Project) -> None:
    # `restart_deployment` would be mapped by the naming convention; the
    # mapping does not name it, so it is refused.
    tools = Tools()
    out = last_tool_message(
        agent(proj.safe, tools, proj.mapping).invoke(
            ask("restart_deployment", {"namespace": "staging", "deployment": "api"}), THREAD
        )
    )
    assert out.status == "error"
    assert "not mapped to any agent-safe action" in str(out.content)
    assert tools.ran == []
    # Audited under a name no action has, as the MCP gateway does.
    [ev] = proj.checks()
    assert (ev["action"], ev["decision"]) == ("langchain:unmapped:restart_deployment", "deny")
    assert ev["event_id"] in str(out.content)


def test_unmapped_refusal_is_audited_on_the_async_path_too(proj: Project) -> None:
    tools = Tools()
    a = agent(proj.safe, tools, proj.mapping)
    out = last_tool_message(
        asyncio.run(a.ainvoke(ask("restart_deployment", {"namespace": "x"}), THREAD))
    )
    assert tools.ran == []
    [ev] = proj.checks()
    assert ev["action"] == "langchain:unmapped:restart_deployment"
    assert ev["event_id"] in str(out.content)


def test_mapping_refuses_an_argument_the_check_would_not_see(proj: Project) -> None:
    tools = Tools()
    out = last_tool_message(
        agent(proj.safe, tools, proj.mapping).invoke(
            ask("restart", {**RESTART, "context": "prod"}), THREAD
        )
    )
    assert out.status == "error"
    assert "call it without `context`" in str(out.content)
    assert tools.ran == []
    # The refusal is audited as the other adapters audit it: under a name no
    # action has, with the arguments as given, and the audit id told.
    [ev] = proj.checks()
    assert (ev["action"], ev["decision"]) == ("langchain:unmapped:restart", "deny")
    assert ev["params"] == {**RESTART, "context": "prod"}
    assert ev["event_id"] in str(out.content)


def test_unmappable_arguments_are_audited_on_the_async_path_too(proj: Project) -> None:
    tools = Tools()
    a = agent(proj.safe, tools, proj.mapping)
    out = last_tool_message(
        asyncio.run(a.ainvoke(ask("restart", {**RESTART, "context": "prod"}), THREAD))
    )
    assert out.status == "error"
    assert "call it without `context`" in str(out.content)
    assert tools.ran == []
    [ev] = proj.checks()
    assert (ev["action"], ev["decision"]) == ("langchain:unmapped:restart", "deny")
    assert ev["event_id"] in str(out.content)


def test_mapping_and_tools_together_is_an_error(proj: Project) -> None:
    with pytest.raises(ValueError, match="either `mapping`"):
        AgentSafeMiddleware(proj.safe, mapping=proj.mapping, tools={"x": "y"})


def test_approval_with_a_mapping_is_recorded(proj: Project) -> None:
    tools = Tools()
    a = agent(proj.safe, tools, proj.mapping)
    paused = a.invoke(ask("drain", DRAIN), THREAD)
    assert paused["__interrupt__"][0].value["action"] == "drain-node"
    a.invoke(Command(resume={"type": "approve", "approver": "alice"}), THREAD)
    assert tools.ran == [("drain", DRAIN)]
    [approval] = proj.approvals()
    assert (approval["decision"], approval["caller"]) == ("approve", "alice")


# -- the event loop is never blocked -------------------------------------------------


class SlowChecker:
    """A blocking checker as slow as a distant sidecar (the real AgentSafe behind it)."""

    def __init__(self, safe: Any, delay: float) -> None:
        self.safe = safe
        self.delay = delay
        self.threads: set[str] = set()

    def check(self, action: str, **kw: Any) -> Decision:
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        return self.safe.check(action, **kw)  # type: ignore[no-any-return]

    def record_approval(self, decision: Decision, **kw: Any) -> str | None:
        return self.safe.record_approval(decision, **kw)  # type: ignore[no-any-return]


class SlowAsyncChecker(SlowChecker):
    """An async client: ``acheck`` is awaited, ``check`` must never be called."""

    def __init__(self, safe: Any, delay: float) -> None:
        super().__init__(safe, delay)
        self.awaited = 0

    def check(self, action: str, **kw: Any) -> Decision:
        raise AssertionError("the blocking check was called on the async path")

    async def acheck(self, action: str, **kw: Any) -> Decision:
        self.awaited += 1
        await asyncio.sleep(self.delay)
        return self.safe.check(action, **kw)  # type: ignore[no-any-return]


async def ticking_while(coro: Any) -> tuple[Any, int]:
    """Run ``coro`` while another task ticks every 10 ms; return its result and the ticks."""
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            await asyncio.sleep(0.01)
            ticks += 1

    t = asyncio.create_task(ticker())
    try:
        result = await coro
    finally:
        stop.set()
        await t
    return result, ticks


@pytest.mark.parametrize("checker", [SlowChecker, SlowAsyncChecker])
def test_async_checks_never_block_the_event_loop(proj: Project, checker: type) -> None:
    slow = checker(proj.safe, 0.5)
    tools = Tools()
    a = agent(slow, tools, proj.mapping)
    _, ticks = asyncio.run(ticking_while(a.ainvoke(ask("restart", RESTART), THREAD)))
    assert tools.ran == [("restart", RESTART)]
    # 0.5 s of checking: a blocked loop would tick about once, not ~50 times.
    assert ticks >= 20, ticks
    if checker is SlowAsyncChecker:
        assert slow.awaited == 1
    else:
        assert threading.main_thread().name not in slow.threads
