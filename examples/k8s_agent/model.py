"""The demo's chat models: a deterministic scripted one (default) or a real one.

The scripted model is not an LLM. It stands in for one so that the demo and
its tests run offline and give the same tool calls every time: its reply is a
pure function of the conversation (the last user request and what happened
since), so re-running a step after an interrupt gives the same answer. It
understands exactly the demo's three requests.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import Field

__all__ = ["SYSTEM_PROMPT", "ScriptedChatModel", "demo_script", "load_model"]

SYSTEM_PROMPT = (
    "You are a Kubernetes operations agent. Use the tools to do what the user asks. "
    "Every tool call is checked by agent-safe, a policy decision point: a call may be "
    "denied, or held for a human approval. When a call is denied or rejected, tell the "
    "user why and do not try to reach the same result another way."
)

Script = Callable[[Sequence[BaseMessage]], AIMessage]


class ScriptedChatModel(FakeMessagesListChatModel):
    """A chat model whose reply is ``script(conversation)``; ``bind_tools`` returns it unchanged."""

    responses: list[BaseMessage] = Field(default_factory=list)
    script: Script

    @property
    def _llm_type(self) -> str:
        return "scripted-chat-model"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedChatModel:  # type: ignore[override]
        """``create_agent`` binds the tools; the script already knows them."""
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self.script(messages))])


def _call(messages: Sequence[BaseMessage], name: str, **args: Any) -> AIMessage:
    # Deterministic and unique within the conversation: the number of model turns so far.
    turn = sum(isinstance(m, AIMessage) for m in messages) + 1
    return AIMessage(
        content="",
        tool_calls=[
            {"name": name, "args": args, "id": f"call_{turn:02d}_{name}", "type": "tool_call"}
        ],
    )


def demo_script(messages: Sequence[BaseMessage]) -> AIMessage:
    """Say what the scripted agent says next, given the conversation so far."""
    last_user = max(i for i, m in enumerate(messages) if isinstance(m, HumanMessage))
    request = str(messages[last_user].content).lower()
    since = messages[last_user + 1 :]
    results = [m for m in since if isinstance(m, ToolMessage)]
    last = results[-1] if results else None

    if last is not None and last.status == "error":
        return AIMessage(
            content=f"I did not do it: `{last.name}` was refused (the reason is above), "
            "and I will not try to get the same result another way."
        )

    if m := re.search(r"restart the (\S+) deployment in (\S+?)\b", request):
        deployment, namespace = m[1], m[2]
        if last is None:
            return _call(
                messages,
                "restart_deployment",
                namespace=namespace,
                deployment=deployment,
                reason="Pods leak memory; a restart clears it until the fix ships",
            )
        if last.name == "restart_deployment":
            return _call(
                messages, "rollout_status", namespace=namespace, deployment=deployment, timeout="2m"
            )
        return AIMessage(
            content=f"Done: {namespace}/{deployment} was restarted and {last.content}."
        )

    if m := re.search(r"scale (\S+?)/(\S+) to (\d+)", request):
        namespace, deployment, replicas = m[1], m[2], int(m[3])
        if last is None:
            return _call(
                messages,
                "scale_deployment",
                namespace=namespace,
                deployment=deployment,
                replicas=replicas,
                reason="Expected traffic peak",
            )
        return AIMessage(content=f"Done: {last.content}.")

    if m := re.search(r"drain (?:the )?(?:node )?(\S+?)\b(?: for (.+?))?\.?$", request):
        node, why = m[1], (m[2] or "maintenance")
        if last is None:
            return _call(
                messages,
                "drain_node",
                node=node,
                ignore_daemonsets=True,
                timeout="5m",
                reason=f"Drain for {why}",
            )
        return AIMessage(content=f"Done: {str(last.content).splitlines()[0]}.")

    return AIMessage(content="The scripted demo model only knows the demo's three requests.")


def load_model(spec: str | None) -> Any:
    """``None``: the scripted model. ``provider:model`` (e.g. ``openai:gpt-4.1``): a real one.

    A real model goes through ``langchain.chat_models.init_chat_model``, which
    needs the provider's package (``pip install langchain-openai``) and its API
    key in the environment.
    """
    if spec is None or spec == "scripted":
        return ScriptedChatModel(script=demo_script)
    from langchain.chat_models import init_chat_model

    return init_chat_model(spec)
