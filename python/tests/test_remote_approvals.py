"""Approvals through the sidecar: `RemoteAgentSafe.record_approval` against the
real `agent-safe serve`, and the LangGraph middleware end to end with the
remote checker (the approved tool runs; the answer is in the sidecar's log with
the verified approver).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from agent_safe import AgentSafe, DecisionResult, RemoteAgentSafe, RemoteError
from conftest import serve_project

POLICIES = """
rules:
  - name: drains-need-a-human
    priority: 400
    match:
      actions: [drain-node]
    decision: require_approval
    reason: Draining a node needs a human
  - name: staging-is-open
    priority: 100
    match:
      targets: {environments: [staging]}
    decision: allow
    reason: Staging is open
"""

INVENTORY = """
targets:
  - {id: staging/api, type: k8s-deployment, environment: staging, sensitivity: internal,
     owner: t, namespace: staging, name: api}
  - {id: prod/node-1, type: k8s-node, environment: prod, sensitivity: restricted,
     owner: t, name: prod-node-1}
"""

CONFIG = """
policies: policies.yaml
inventory: inventory.yaml
audit:
  path: audit/audit.jsonl
identity:
  keys:
    - kid: k1
      secret: cmVtb3RlLWFwcHJvdmFscy10ZXN0LWtleS1ub3QtYS1zZWNyZXQtMDAwMA
"""

DRAIN = {"node": "prod-node-1"}


@dataclass
class Sidecar:
    url: str
    root: Path
    local: AgentSafe  # the same project, for minting tokens

    def events(self) -> list[dict[str, Any]]:
        path = self.root / "audit" / "audit.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[Sidecar]:
    (tmp_path / "policies.yaml").write_text(POLICIES)
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    (tmp_path / "agent-safe.yaml").write_text(CONFIG)
    with serve_project(tmp_path) as url:
        local = AgentSafe(config=str(tmp_path / "agent-safe.yaml"))
        yield Sidecar(url, tmp_path, local)


def test_record_approval_over_http(sidecar: Sidecar) -> None:
    token = sidecar.local.create_token("alice@example.com", roles=["approver"])
    remote = RemoteAgentSafe(sidecar.url, approver_token=token)
    assert "eyJ" not in repr(remote)
    d = remote.check("drain-node", target="prod/node-1", caller="ops-agent", params=DRAIN)
    assert d.result is DecisionResult.REQUIRE_APPROVAL
    event_id = remote.record_approval(d, approver="Alice", approved=True, comment="window")
    ev = sidecar.events()[-1]
    assert ev["event_id"] == event_id
    assert ev["kind"] == "approval"
    assert ev["caller"] == "alice@example.com"
    assert ev["context"] == {
        "audit_id": d.audit_id,
        "approver_name": "Alice",
        "approver_verified": True,
    }
    # Answered once.
    with pytest.raises(RemoteError) as e:
        remote.record_approval(d, approver="Alice", approved=False)
    assert (e.value.status, e.value.code) == (409, "not_pending")


def test_record_approval_refusals(sidecar: Sidecar) -> None:
    remote = RemoteAgentSafe(sidecar.url)
    d = remote.check("drain-node", target="prod/node-1", caller="ops-agent", params=DRAIN)
    with pytest.raises(RemoteError, match="approver_token"):
        remote.record_approval(d, approver="Alice", approved=True)
    allowed = remote.check(
        "restart-deployment",
        target="staging/api",
        caller="ops-agent",
        params={"namespace": "staging", "deployment": "api"},
    )
    with pytest.raises(ValueError, match="only a `require_approval` decision"):
        remote.record_approval(allowed, approver="Alice", approved=True)
    with pytest.raises(ValueError, match="signed token"):
        RemoteAgentSafe(sidecar.url, approver_token="alice")
    no_role = RemoteAgentSafe(
        sidecar.url, approver_token=sidecar.local.create_token("bob", roles=["deployer"])
    )
    with pytest.raises(RemoteError) as e:
        no_role.record_approval(d, approver="Bob", approved=True)
    assert (e.value.status, e.value.code) == (403, "forbidden")
    itself = RemoteAgentSafe(
        sidecar.url, approver_token=sidecar.local.create_token("ops-agent", roles=["approver"])
    )
    with pytest.raises(RemoteError, match="its own request"):
        itself.record_approval(d, approver="ops", approved=True)


def test_langgraph_middleware_with_the_remote_checker(sidecar: Sidecar) -> None:
    pytest.importorskip("langchain.agents", reason="needs the `langchain` extra")
    from agent_safe.langchain import AgentSafeMiddleware
    from langchain.agents import create_agent
    from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
    from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
    from langchain_core.outputs import ChatGeneration, ChatResult
    from langchain_core.tools import tool
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.types import Command

    ran: list[str] = []

    @tool
    def drain_node(node: str) -> str:
        """Drain a node."""
        ran.append(node)
        return f"drained {node}"

    class Scripted(FakeMessagesListChatModel):
        def bind_tools(self, tools: Any, **kwargs: Any) -> Scripted:
            return self

        def _generate(
            self,
            messages: list[BaseMessage],
            stop: Any = None,
            run_manager: Any = None,
            **kwargs: Any,
        ) -> ChatResult:
            last = messages[-1]
            if isinstance(last, HumanMessage):
                call = {"name": "drain_node", "args": DRAIN, "id": "call-9", "type": "tool_call"}
                reply = AIMessage(content="", tool_calls=[call])
            else:
                assert isinstance(last, ToolMessage)
                reply = AIMessage(content=f"done: {last.content}")
            return ChatResult(generations=[ChatGeneration(message=reply)])

    @dataclass
    class Ctx:
        agent_id: str | None = None

    def agent(checker: RemoteAgentSafe) -> Any:
        return create_agent(
            Scripted(responses=[]),
            tools=[drain_node],
            middleware=[AgentSafeMiddleware(checker)],
            context_schema=Ctx,
            checkpointer=InMemorySaver(),
        )

    cfg: Any = {"configurable": {"thread_id": "t1"}}
    ctx = Ctx(agent_id="ops-agent")
    token = sidecar.local.create_token("approval-ui", roles=["approver"])
    a = agent(RemoteAgentSafe(sidecar.url, approver_token=token))
    first = a.invoke({"messages": [HumanMessage("drain it")]}, cfg, context=ctx)
    assert first["__interrupt__"][0].value["action"] == "drain-node"
    assert ran == []
    a.invoke(Command(resume={"type": "approve", "approver": "carol"}), cfg, context=ctx)
    assert ran == ["prod-node-1"]
    approval = sidecar.events()[-1]
    assert approval["kind"] == "approval"
    assert approval["decision"] == "approve"
    assert approval["caller"] == "approval-ui"
    assert approval["context"]["approver_name"] == "carol"

    # Without an approver token the answer cannot be recorded: the tool does not run.
    b = agent(RemoteAgentSafe(sidecar.url))
    cfg2: Any = {"configurable": {"thread_id": "t2"}}
    b.invoke({"messages": [HumanMessage("drain it")]}, cfg2, context=ctx)
    result = b.invoke(Command(resume={"type": "approve"}), cfg2, context=ctx)
    assert ran == ["prod-node-1"]
    last = [m for m in result["messages"] if isinstance(m, ToolMessage)][-1]
    assert last.status == "error"
    assert "approver_token" in str(last.content)
