"""agent_safe.langchain.AgentSafeMiddleware with create_agent, ToolNode and a real AgentSafe.

Needs the `langchain` extra (langchain, langgraph). Each test builds its own
small agent-safe project in a temporary directory and reads the audit log it
writes, so what is asserted is what agent-safe recorded.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain.agents", reason="needs the `langchain` extra")
pytest.importorskip("langgraph.prebuilt", reason="needs the `langchain` extra")

from adapter_project import POLICIES
from agent_safe import AgentSafe
from agent_safe.langchain import APPROVAL_REQUEST_TYPE, AgentSafeMiddleware, tool_name_to_action
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from langgraph.types import Command
from pydantic import Field, ValidationError

INVENTORY = """
targets:
  - {id: staging/api, type: k8s-deployment, environment: staging, sensitivity: internal,
     owner: t, namespace: staging, name: api}
  - {id: prod/api, type: k8s-deployment, environment: prod, sensitivity: restricted,
     owner: t, namespace: prod, name: api}
  - {id: prod/node-1, type: k8s-node, environment: prod, sensitivity: restricted,
     owner: t, name: prod-node-1}
"""

RESTART = ("restart_deployment", {"namespace": "staging", "deployment": "api"})
SCALE_PROD = ("scale_deployment", {"namespace": "prod", "deployment": "api", "replicas": 9})
DRAIN = ("drain_node", {"node": "prod-node-1"})


# -- fixtures --------------------------------------------------------------------------


@dataclass
class Ctx:
    """The run context the middleware reads the caller from."""

    agent_id: str | None = None
    token: str | None = None


class Project:
    """A small agent-safe project and the tools' side effects."""

    def __init__(self, root: Path, **kwargs: Any) -> None:
        (root / "policies.yaml").write_text(POLICIES)
        (root / "inventory.yaml").write_text(INVENTORY)
        self.audit = root / "audit.jsonl"
        self.safe = AgentSafe(
            policies=root / "policies.yaml",
            inventory=root / "inventory.yaml",
            audit_log=self.audit,
            **kwargs,
        )
        self.ran: list[tuple[str, dict[str, Any]]] = []
        ran = self.ran

        @tool
        def restart_deployment(namespace: str, deployment: str) -> str:
            """Restart a Deployment."""
            ran.append(("restart_deployment", {"namespace": namespace, "deployment": deployment}))
            return f"restarted {namespace}/{deployment}"

        @tool
        def scale_deployment(namespace: str, deployment: str, replicas: int) -> str:
            """Scale a Deployment."""
            ran.append(("scale_deployment", {"replicas": replicas}))
            return f"scaled {namespace}/{deployment} to {replicas}"

        @tool
        def drain_node(node: str) -> str:
            """Drain a node."""
            ran.append(("drain_node", {"node": node}))
            return f"drained {node}"

        @tool
        def search_web(query: str) -> str:
            """Search the web."""
            ran.append(("search_web", {"query": query}))
            return "results"

        self.tools = [restart_deployment, scale_deployment, drain_node, search_web]

    def events(self) -> list[dict[str, Any]]:
        if not self.audit.exists():
            return []
        return [json.loads(line) for line in self.audit.read_text().splitlines()]


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    # Not conftest's `project` (the parity project): a small project of these tests' own.
    return Project(tmp_path)


class ScriptedModel(FakeMessagesListChatModel):
    """Reply = f(conversation): the user's JSON names one tool call; then the result."""

    responses: list[BaseMessage] = Field(default_factory=list)
    call_id: str = "call-1"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:  # type: ignore[override]
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
                        "id": self.call_id,
                        "type": "tool_call",
                    }
                ],
            )
        else:
            assert isinstance(last, ToolMessage)
            reply = AIMessage(content=f"finished ({last.status}): {last.content}")
        return ChatResult(generations=[ChatGeneration(message=reply)])


def ask(tool_name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"messages": [HumanMessage(json.dumps({"tool": tool_name, "args": args}))]}


def agent_for(proj: Project, *, call_id: str = "call-1", **middleware: Any) -> Any:
    return create_agent(
        ScriptedModel(call_id=call_id),
        tools=proj.tools,
        middleware=[AgentSafeMiddleware(proj.safe, **middleware)],
        context_schema=Ctx,
        checkpointer=InMemorySaver(),
    )


def thread(name: str = "t1") -> dict[str, Any]:
    return {"configurable": {"thread_id": name}}


def tool_messages(result: dict[str, Any]) -> list[ToolMessage]:
    return [m for m in result["messages"] if isinstance(m, ToolMessage)]


CTX = Ctx(agent_id="ops-agent")


# -- allow / deny ------------------------------------------------------------------------


def test_allow_runs_the_tool_and_is_audited(proj: Project) -> None:
    result = agent_for(proj).invoke(ask(*RESTART), thread(), context=CTX)

    assert proj.ran == [RESTART]
    (msg,) = tool_messages(result)
    assert msg.status == "success"
    assert msg.content == "restarted staging/api"
    (ev,) = proj.events()
    assert ev["kind"] == "decision"
    assert ev["decision"] == "allow"
    assert ev["action"] == "restart-deployment"
    assert ev["target"] == "staging/api"  # resolved from the params
    assert ev["caller"] == "ops-agent"
    assert ev["params"] == RESTART[1]
    assert ev["correlation_id"] == "call-1"
    assert ev["context"] == {
        "integration": "langchain",
        "tool": "restart_deployment",
        "tool_call_id": "call-1",
        "thread_id": "t1",
    }


def test_deny_returns_an_error_tool_message_and_the_run_goes_on(proj: Project) -> None:
    result = agent_for(proj).invoke(ask(*SCALE_PROD), thread(), context=CTX)

    assert proj.ran == []
    (msg,) = tool_messages(result)
    assert msg.status == "error"
    assert msg.name == "scale_deployment"
    assert msg.tool_call_id == "call-1"
    assert "Agents never scale production" in msg.content
    assert "scale-deployment" in msg.content
    assert msg.artifact["agent_safe"]["result"] == "deny"
    assert msg.artifact["agent_safe"]["policy_matched"] == "no-prod-scaling"
    # The model saw the refusal and answered; nothing was raised.
    assert isinstance(result["messages"][-1], AIMessage)
    assert result["messages"][-1].content.startswith("finished (error): agent-safe denied")
    (ev,) = proj.events()
    assert (ev["decision"], ev["policy_matched"]) == ("deny", "no-prod-scaling")


def test_invalid_params_are_denied_with_every_problem(proj: Project) -> None:
    result = agent_for(proj).invoke(
        ask("restart_deployment", {"namespace": "Staging!", "deployment": "api"}),
        thread(),
        context=CTX,
    )
    assert proj.ran == []
    (msg,) = tool_messages(result)
    assert msg.status == "error"
    assert "namespace" in msg.content


def test_anonymous_caller_is_denied(proj: Project) -> None:
    result = agent_for(proj).invoke(ask(*RESTART), thread(), context=Ctx())
    assert proj.ran == []
    assert tool_messages(result)[0].status == "error"
    (ev,) = proj.events()
    assert ev["decision"] == "deny"
    assert ev["caller"] is None


def test_tool_without_an_action_is_denied_by_agent_safe(proj: Project) -> None:
    # Naming convention on: `search_web` becomes `search-web`, which agent-safe does not know.
    result = agent_for(proj).invoke(ask("search_web", {"query": "x"}), thread(), context=CTX)
    assert proj.ran == []
    (msg,) = tool_messages(result)
    assert msg.status == "error"
    (ev,) = proj.events()
    assert ev["action"] == "search-web"
    assert ev["decision"] == "deny"
    assert ev["risk_class"] == "critical"


def test_unmapped_tool_is_denied_without_running(proj: Project) -> None:
    agent = agent_for(
        proj, naming_convention=False, tools={"restart_deployment": "restart-deployment"}
    )
    result = agent.invoke(ask("search_web", {"query": "x"}), thread(), context=CTX)
    assert proj.ran == []
    (msg,) = tool_messages(result)
    assert msg.status == "error"
    assert "not mapped to any agent-safe action" in msg.content
    assert proj.events() == []  # refused before any check

    result = agent.invoke(ask(*RESTART), thread("t2"), context=CTX)
    assert proj.ran == [RESTART]


def test_explicit_mapping_wins_over_the_convention(proj: Project) -> None:
    # The tool `scale_deployment` is declared to be the action `restart-deployment`.
    agent = agent_for(proj, tools={"scale_deployment": "restart-deployment"})
    agent.invoke(
        ask("scale_deployment", {"namespace": "staging", "deployment": "api", "replicas": 1}),
        thread(),
        context=CTX,
    )
    (ev,) = proj.events()
    assert ev["action"] == "restart-deployment"
    assert ev["decision"] == "deny"  # `replicas` is not a parameter of restart-deployment
    assert "replicas" in ev["reason"]


def test_mapper_function_gives_action_target_and_params(proj: Project) -> None:
    seen = []

    def restart_by_id(tool_call: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        seen.append(tool_call["name"])
        ns, name = tool_call["args"]["deployment"].split("/")
        return (
            "restart-deployment",
            tool_call["args"]["deployment"],
            {"namespace": ns, "deployment": name},
        )

    @tool
    def bounce(deployment: str) -> str:
        """Restart a Deployment given as namespace/name."""
        return f"bounced {deployment}"

    agent = create_agent(
        ScriptedModel(),
        tools=[bounce],
        middleware=[AgentSafeMiddleware(proj.safe, tools={"bounce": restart_by_id})],
        context_schema=Ctx,
        checkpointer=InMemorySaver(),
    )
    result = agent.invoke(ask("bounce", {"deployment": "staging/api"}), thread(), context=CTX)
    assert seen == ["bounce"]
    assert tool_messages(result)[0].content == "bounced staging/api"
    (ev,) = proj.events()
    assert (ev["action"], ev["target"], ev["params"]) == (
        "restart-deployment",
        "staging/api",
        {"namespace": "staging", "deployment": "api"},
    )


def test_target_argument_is_taken_out_of_the_params(proj: Project) -> None:
    agent = agent_for(proj, tools={"bounce": "restart-deployment"})
    # A target that contradicts the params is denied by agent-safe's target binding.
    agent.invoke(
        ask(
            "restart_deployment",
            {"namespace": "staging", "deployment": "api", "target": "prod/api"},
        ),
        thread(),
        context=CTX,
    )
    (ev,) = proj.events()
    assert ev["target"] == "prod/api"
    assert "target" not in ev["params"]
    assert ev["decision"] == "deny"
    assert proj.ran == []


def test_target_function(proj: Project) -> None:
    seen = []

    def target_of(request: Any) -> str:
        seen.append(request.tool_call["id"])
        return "staging/api"

    agent_for(proj, target=target_of).invoke(ask(*RESTART), thread(), context=CTX)
    (ev,) = proj.events()
    assert seen == ["call-1"]
    assert (ev["target"], ev["decision"]) == ("staging/api", "allow")


def test_optional_arguments_sent_as_null_are_left_out(proj: Project) -> None:
    agent_for(proj).invoke(
        ask("restart_deployment", {"namespace": "staging", "deployment": "api", "reason": None}),
        thread(),
        context=CTX,
    )
    (ev,) = proj.events()
    assert ev["params"] == RESTART[1]
    assert ev["decision"] == "allow"


# -- the caller --------------------------------------------------------------------------


def test_caller_token_from_the_context_is_verified(tmp_path: Path) -> None:
    key = "cHl0aG9uLW1pZGRsZXdhcmUtdGVzdC1rZXktMDEyMzQ1Njc4OQ"  # 37 bytes
    proj = Project(tmp_path, signing_key=key)
    token = proj.safe.create_token("deploy-bot", roles=["deployer"])
    agent_for(proj).invoke(ask(*RESTART), thread(), context=Ctx(token=token))
    (ev,) = proj.events()
    assert ev["caller"] == "deploy-bot"
    assert ev["decision"] == "allow"
    assert token not in json.dumps(ev)  # tokens are never logged


def test_caller_from_a_dict_context_and_custom_keys(proj: Project) -> None:
    agent = create_agent(
        ScriptedModel(),
        tools=proj.tools,
        middleware=[AgentSafeMiddleware(proj.safe, caller_keys=["user"])],
        checkpointer=InMemorySaver(),
    )
    agent.invoke(ask(*RESTART), thread(), context={"user": "dict-agent"})
    assert proj.events()[0]["caller"] == "dict-agent"


def test_fixed_and_computed_callers(proj: Project) -> None:
    agent_for(proj, caller="fixed-agent").invoke(ask(*RESTART), thread(), context=Ctx())
    agent_for(proj, caller=lambda request: f"tool-{request.tool_call['name']}").invoke(
        ask(*RESTART), thread("t2"), context=Ctx()
    )
    assert [e["caller"] for e in proj.events()] == ["fixed-agent", "tool-restart_deployment"]


# -- approvals ---------------------------------------------------------------------------


def test_require_approval_pauses_with_a_readable_request(proj: Project) -> None:
    agent = agent_for(proj)
    result = agent.invoke(ask(*DRAIN), thread(), context=CTX)

    assert proj.ran == []
    (intr,) = result["__interrupt__"]
    payload = intr.value
    assert payload["type"] == APPROVAL_REQUEST_TYPE == "tool_approval"
    assert payload["tool_call_id"] == "call-1"
    assert payload["name"] == "drain_node"
    assert payload["args"] == DRAIN[1]
    assert payload["allowed_decisions"] == ["approve", "reject"]
    assert payload["action"] == "drain-node"
    assert payload["target"] == "prod/node-1"
    assert payload["params"] == DRAIN[1]
    assert payload["caller"] == "ops-agent"
    assert payload["reason"] == "Draining a node needs a human"
    assert payload["policy_matched"] == "drains-need-a-human"
    assert payload["risk_class"] == "high"
    assert payload["effective_risk"] == "critical"
    assert payload["correlation_id"] == "call-1"
    (ev,) = proj.events()
    assert payload["audit_id"] == ev["event_id"]
    assert "drain-node" in payload["description"]
    assert "Draining a node needs a human" in payload["description"]
    # The interrupt tells clients what answers it takes (HumanInTheLoopMiddleware style).
    assert intr.response_schema is not None


def test_approve_runs_the_tool_and_records_the_approval(proj: Project) -> None:
    agent = agent_for(proj)
    agent.invoke(ask(*DRAIN), thread(), context=CTX)
    result = agent.invoke(
        Command(resume={"type": "approve", "approver": "alice", "comment": "maintenance window"}),
        thread(),
        context=CTX,
    )

    assert proj.ran == [DRAIN]
    (msg,) = tool_messages(result)
    assert (msg.status, msg.content) == ("success", "drained prod-node-1")
    _, second, approval = proj.events()
    assert approval["kind"] == "approval"
    assert approval["decision"] == "approve"
    assert approval["caller"] == "alice"
    assert approval["reason"] == "maintenance window"
    assert approval["action"] == "drain-node"
    assert approval["params"] == DRAIN[1]
    assert approval["correlation_id"] == "call-1"
    # Linked to the check that was answered (the re-check on resume).
    assert approval["context"]["audit_id"] == second["event_id"]
    assert proj.safe.verify_audit().ok


def test_resume_rechecks_and_both_checks_share_the_correlation_id(proj: Project) -> None:
    agent = agent_for(proj, call_id="call_Xy7")
    agent.invoke(ask(*DRAIN), thread(), context=CTX)
    assert len(proj.events()) == 1
    agent.invoke(Command(resume={"type": "approve"}), thread(), context=CTX)

    events = proj.events()
    checks = [e for e in events if e["kind"] == "decision"]
    approvals = [e for e in events if e["kind"] == "approval"]
    assert [e["decision"] for e in checks] == ["require_approval", "require_approval"]
    assert {e["correlation_id"] for e in events} == {"call_Xy7"}
    assert checks[0]["event_id"] != checks[1]["event_id"]
    assert [a["caller"] for a in approvals] == ["unidentified-reviewer"]  # no approver named


def test_reject_does_not_run_and_tells_the_model(proj: Project) -> None:
    agent = agent_for(proj)
    agent.invoke(ask(*DRAIN), thread(), context=CTX)
    result = agent.invoke(
        Command(resume={"type": "reject", "approver": "bob", "message": "not during the sale"}),
        thread(),
        context=CTX,
    )

    assert proj.ran == []
    (msg,) = tool_messages(result)
    assert msg.status == "error"
    assert "rejected" in msg.content
    assert "not during the sale" in msg.content
    assert "bob" in msg.content
    *_, approval = proj.events()
    assert (approval["kind"], approval["decision"], approval["caller"], approval["reason"]) == (
        "approval",
        "reject",
        "bob",
        "not during the sale",
    )
    assert proj.safe.verify_audit().ok


def test_an_invalid_answer_is_refused_and_can_be_given_again(proj: Project) -> None:
    agent = agent_for(proj)
    agent.invoke(ask(*DRAIN), thread(), context=CTX)
    with pytest.raises(ValidationError):
        agent.invoke(Command(resume={"type": "maybe"}), thread(), context=CTX)
    assert proj.ran == []
    assert not [e for e in proj.events() if e["kind"] == "approval"]

    agent.invoke(Command(resume={"type": "approve"}), thread(), context=CTX)
    assert proj.ran == [DRAIN]


def test_resume_without_the_caller_is_denied(proj: Project) -> None:
    # The run context is not checkpointed: a resume without it is an anonymous check.
    agent = agent_for(proj)
    agent.invoke(ask(*DRAIN), thread(), context=CTX)
    result = agent.invoke(Command(resume={"type": "approve"}), thread(), context=Ctx())
    assert proj.ran == []
    assert tool_messages(result)[0].status == "error"
    assert [e["decision"] for e in proj.events()] == ["require_approval", "deny"]


def test_tool_call_ids_that_are_not_correlation_ids_are_hashed_stably(proj: Project) -> None:
    agent = agent_for(proj, call_id="call with spaces")
    agent.invoke(ask(*DRAIN), thread(), context=CTX)
    agent.invoke(Command(resume={"type": "approve"}), thread(), context=CTX)
    ids = {e["correlation_id"] for e in proj.events()}
    assert len(ids) == 1
    (cid,) = ids
    assert cid.startswith("lc-")


# -- failure modes -----------------------------------------------------------------------


class OnlyCheck:
    """A checker with a `check` and nothing else (cannot record approvals)."""

    def __init__(self, safe: AgentSafe) -> None:
        self._safe = safe

    def check(self, action: str, **kwargs: Any) -> Any:
        return self._safe.check(action, **kwargs)


class Broken:
    def check(self, action: str, **kwargs: Any) -> Any:
        raise ConnectionError("sidecar unreachable")


def test_a_check_that_fails_is_a_denial(proj: Project) -> None:
    agent = create_agent(
        ScriptedModel(),
        tools=proj.tools,
        middleware=[AgentSafeMiddleware(Broken())],
        context_schema=Ctx,
        checkpointer=InMemorySaver(),
    )
    result = agent.invoke(ask(*RESTART), thread(), context=CTX)
    assert proj.ran == []
    (msg,) = tool_messages(result)
    assert msg.status == "error"
    assert "sidecar unreachable" in msg.content


def test_an_approval_that_cannot_be_recorded_does_not_run(proj: Project) -> None:
    agent = create_agent(
        ScriptedModel(),
        tools=proj.tools,
        middleware=[AgentSafeMiddleware(OnlyCheck(proj.safe))],
        context_schema=Ctx,
        checkpointer=InMemorySaver(),
    )
    agent.invoke(ask(*DRAIN), thread(), context=CTX)
    result = agent.invoke(Command(resume={"type": "approve"}), thread(), context=CTX)
    assert proj.ran == []
    assert "could not record" in tool_messages(result)[0].content


def test_constructor_rejects_nonsense(proj: Project) -> None:
    with pytest.raises(TypeError):
        AgentSafeMiddleware(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        AgentSafeMiddleware(proj.safe, tools={"x": 3})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        AgentSafeMiddleware(proj.safe, caller_keys="token")


def test_naming_convention() -> None:
    assert tool_name_to_action("restart_deployment") == "restart-deployment"
    assert tool_name_to_action("Drain_Node") == "drain-node"


# -- async ---------------------------------------------------------------------------------


def test_async_allow_deny_and_approval(proj: Project) -> None:
    async def scenario() -> None:
        agent = agent_for(proj)
        r = await agent.ainvoke(ask(*RESTART), thread("a"), context=CTX)
        assert tool_messages(r)[0].status == "success"
        r = await agent.ainvoke(ask(*SCALE_PROD), thread("b"), context=CTX)
        assert tool_messages(r)[0].status == "error"
        r = await agent.ainvoke(ask(*DRAIN), thread("c"), context=CTX)
        assert r["__interrupt__"][0].value["action"] == "drain-node"
        r = await agent.ainvoke(
            Command(resume={"type": "approve", "approver": "carol"}), thread("c"), context=CTX
        )
        assert tool_messages(r)[0].content == "drained prod-node-1"
        r = await agent.ainvoke(ask(*DRAIN), thread("d"), context=CTX)
        r = await agent.ainvoke(Command(resume={"type": "reject"}), thread("d"), context=CTX)
        assert tool_messages(r)[0].status == "error"

    asyncio.run(scenario())
    assert proj.ran == [RESTART, DRAIN]
    decisions = [(e["kind"], e["decision"]) for e in proj.events()]
    assert decisions == [
        ("decision", "allow"),
        ("decision", "deny"),
        ("decision", "require_approval"),
        ("decision", "require_approval"),
        ("approval", "approve"),
        ("decision", "require_approval"),
        ("decision", "require_approval"),
        ("approval", "reject"),
    ]


def test_async_path_awaits_acheck_when_the_checker_has_one(proj: Project) -> None:
    calls = []

    class AsyncChecker(OnlyCheck):
        async def acheck(self, action: str, **kwargs: Any) -> Any:
            calls.append(("acheck", action))
            return self._safe.check(action, **kwargs)

        async def arecord_approval(self, decision: Any, **kwargs: Any) -> Any:
            calls.append(("arecord_approval", decision.action))
            return self._safe.record_approval(decision, **kwargs)

    agent = create_agent(
        ScriptedModel(),
        tools=proj.tools,
        middleware=[AgentSafeMiddleware(AsyncChecker(proj.safe))],
        context_schema=Ctx,
        checkpointer=InMemorySaver(),
    )

    async def scenario() -> None:
        await agent.ainvoke(ask(*DRAIN), thread(), context=CTX)
        await agent.ainvoke(Command(resume={"type": "approve"}), thread(), context=CTX)

    asyncio.run(scenario())
    assert calls == [
        ("acheck", "drain-node"),
        ("acheck", "drain-node"),
        ("arecord_approval", "drain-node"),
    ]
    assert proj.ran == [DRAIN]


# -- a hand-built graph with ToolNode -----------------------------------------------------------


def hand_built_graph(proj: Project, node: ToolNode) -> Any:
    model = ScriptedModel()

    def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    g = StateGraph(MessagesState, context_schema=Ctx)
    g.add_node("model", call_model)
    g.add_node("tools", node)
    g.add_edge(START, "model")
    g.add_conditional_edges("model", tools_condition, {"tools": "tools", END: END})
    g.add_edge("tools", "model")
    return g.compile(checkpointer=InMemorySaver())


@pytest.mark.parametrize("how", ["ToolNode(wrap_tool_call=...)", "middleware.tool_node()"])
def test_tool_node_in_a_hand_built_graph(proj: Project, how: str) -> None:
    guard = AgentSafeMiddleware(proj.safe)
    if how == "middleware.tool_node()":
        node = guard.tool_node(proj.tools)
    else:
        node = ToolNode(
            proj.tools,
            wrap_tool_call=guard.wrap_tool_call,
            awrap_tool_call=guard.awrap_tool_call,
        )
    graph = hand_built_graph(proj, node)

    r = graph.invoke(ask(*RESTART), thread("a"), context=CTX)
    assert tool_messages(r)[0].status == "success"
    r = graph.invoke(ask(*SCALE_PROD), thread("b"), context=CTX)
    assert tool_messages(r)[0].status == "error"
    r = graph.invoke(ask(*DRAIN), thread("c"), context=CTX)
    assert r["__interrupt__"][0].value["effective_risk"] == "critical"
    r = graph.invoke(
        Command(resume={"type": "approve", "approver": "dave"}), thread("c"), context=CTX
    )
    assert tool_messages(r)[0].content == "drained prod-node-1"

    async def async_run() -> Any:
        return await graph.ainvoke(ask(*SCALE_PROD), thread("d"), context=CTX)

    assert tool_messages(asyncio.run(async_run()))[0].status == "error"
    assert proj.ran == [RESTART, DRAIN]
    kinds = [(e["kind"], e["decision"]) for e in proj.events()]
    assert kinds.count(("approval", "approve")) == 1
    assert proj.safe.verify_audit().ok
