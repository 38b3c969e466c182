"""Gate the function tools of an OpenAI Agents SDK agent with agent-safe.

Install with ``pip install 'agent-safe[openai-agents]'`` (``openai-agents``).
``import agent_safe`` never imports this module; import it yourself::

    from agents import Agent, Runner

    from agent_safe import AgentSafe, ToolMapping
    from agent_safe.openai_agents import AgentSafeGuard

    guard = AgentSafeGuard(AgentSafe(config="agent-safe.yaml"),
                           ToolMapping.from_file("tools.yaml"), caller="ops-agent")
    agent = Agent(name="ops", tools=guard.protect([restart_deployment, drain_node]))

    result = await Runner.run(agent, "drain prod-node-1")
    while result.interruptions:               # agent-safe said require_approval
        state = result.to_state()
        for item in result.interruptions:
            print(guard.describe(item))
            await guard.approve(state, item, approver="alice")   # or guard.reject(...)
        result = await Runner.run(agent, state)

:meth:`AgentSafeGuard.protect` gives each function tool two things, both
driven by the SDK itself:

- ``needs_approval``, a per-tool coroutine that maps the call with the same
  :class:`~agent_safe.ToolMapping` as the MCP gateway and checks it;
  ``require_approval`` interrupts the run (the SDK's human-in-the-loop:
  ``result.interruptions``, ``RunState.approve``/``reject``);
- a tool input guardrail that runs right before the tool: ``allow`` runs it;
  ``deny``, an unmapped tool or a failed check rejects the call, and the
  reason goes back to the model as the tool's result; a
  ``require_approval`` call runs only once the SDK has it approved and the
  approval is in the audit log (otherwise it is rejected, naming the audit
  id).

:meth:`approve` and :meth:`reject` record the human's answer in the audit log
under the check's correlation id, then answer the SDK. See
docs/OPENAI-AGENTS.md.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

try:
    from agents import (
        Agent,
        FunctionTool,
        RunContextWrapper,
        RunState,
        ToolGuardrailFunctionOutput,
        ToolInputGuardrail,
        ToolInputGuardrailData,
    )
    from agents.items import ToolApprovalItem
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "agent_safe.openai_agents needs the OpenAI Agents SDK: "
        "pip install 'agent-safe[openai-agents]'"
    ) from e

from agent_safe._gate import Gate, MappingLike, Outcome, as_mapping

__all__ = ["AgentSafeGuard"]

logger = logging.getLogger("agent_safe.openai_agents")

INTEGRATION = "openai-agents"

Caller = str | Callable[[RunContextWrapper[Any]], str | None] | None


@dataclass
class AgentSafeGuard:
    """Checks every call of the function tools it protects, and obeys.

    Args:
        safe: ``agent_safe.AgentSafe``, ``RemoteAgentSafe`` or an async client
            (coroutine ``acheck``/``arecord_approval`` are awaited; blocking
            ones run in a worker thread, never on the event loop).
        mapping: a :class:`~agent_safe.ToolMapping`, or the path of a mapping
            file. Keys are the function tools' names.
        caller: a fixed caller (an agent id or a JWT), or a function of the
            run's ``RunContextWrapper``. By default the first non-empty of
            ``caller_keys`` in the run context (``Runner.run(...,
            context=...)``: a dict or an object).
        caller_keys: the context keys (or attributes) tried, in order.
        unmapped: ``"deny"`` (default) refuses tools the mapping does not
            name (audited as ``openai-agents:unmapped:TOOL``); ``"allow"``
            runs them unchecked.
        default_approver: recorded for an approval given with
            ``RunState.approve`` directly instead of :meth:`approve`.
    """

    safe: Any
    mapping: MappingLike
    caller: Caller = None
    caller_keys: Sequence[str] = ("token", "caller", "agent_id")
    unmapped: Literal["deny", "allow"] = "deny"
    default_approver: str = "unidentified-reviewer"
    _gate: Gate = field(init=False, repr=False)
    # Outcomes of needs_approval, by call id, for the guardrail that follows.
    _checked: dict[str, Outcome] = field(init=False, repr=False, default_factory=dict)
    _recorded: set[str] = field(init=False, repr=False, default_factory=set)

    def __post_init__(self) -> None:
        if isinstance(self.caller_keys, str):
            raise TypeError("caller_keys must be a sequence of key names, not a string")
        if not self.default_approver:
            raise ValueError("default_approver must not be empty")
        self._gate = Gate(self.safe, as_mapping(self.mapping), INTEGRATION, self.unmapped)
        self.input_guardrail: ToolInputGuardrail[Any] = ToolInputGuardrail(
            guardrail_function=self._guardrail, name="agent_safe"
        )
        """The tool input guardrail alone, for tools you wire yourself."""

    # -- wiring ------------------------------------------------------------

    def protect_tool(self, tool: FunctionTool) -> FunctionTool:
        """A copy of ``tool`` whose calls are checked (``needs_approval`` and the guardrail)."""
        if not isinstance(tool, FunctionTool):
            raise TypeError(
                f"only function tools can be protected, not {type(tool).__name__}: "
                "hosted tools do not run in this process"
            )
        if tool.needs_approval is not False:
            raise ValueError(
                f"tool `{tool.name}` already has needs_approval; agent-safe decides approvals"
            )
        name = tool.name

        async def needs_approval(
            run_ctx: RunContextWrapper[Any], params: dict[str, Any], call_id: str
        ) -> bool:
            outcome = await self._check(run_ctx, name, params, call_id)
            if outcome.verdict == "require_approval":
                # Kept (bounded) until the human answers and the call runs.
                self._gate.remember(call_id, outcome)
                return True
            # The guardrail, which runs next, takes it.
            self._checked[call_id] = outcome
            if len(self._checked) > self._gate.max_pending:
                self._checked.pop(next(iter(self._checked)))
            return False

        return dataclasses.replace(
            tool,
            needs_approval=needs_approval,
            tool_input_guardrails=[self.input_guardrail, *(tool.tool_input_guardrails or [])],
        )

    def protect(self, tools: Iterable[Any]) -> list[Any]:
        """Protect every function tool of ``tools``; any other tool is refused (``TypeError``)."""
        return [self.protect_tool(t) for t in tools]

    def protect_agent(self, agent: Agent[Any]) -> Agent[Any]:
        """A clone of ``agent`` whose function tools are protected."""
        return agent.clone(tools=self.protect(agent.tools))

    # -- approvals ---------------------------------------------------------

    def describe(self, item: ToolApprovalItem) -> str:
        """A text for the reviewer of an interruption (agent-safe's reason and audit id)."""
        outcome = self._gate.pending.get(_item_call_id(item))
        if outcome is None:
            return f"`{item.tool_name}` needs an approval (not asked by agent-safe)"
        return outcome.message

    def decision(self, item: ToolApprovalItem) -> Any:
        """agent-safe's ``Decision`` behind an interruption, or ``None``."""
        outcome = self._gate.pending.get(_item_call_id(item))
        return None if outcome is None else outcome.decision

    async def approve(
        self,
        state: RunState[Any, Any],
        item: ToolApprovalItem,
        *,
        approver: str,
        comment: str | None = None,
    ) -> None:
        """Record the approval in the audit log, then ``state.approve(item)``.

        Raises ``agent_safe.AgentSafeError`` (and approves nothing) when it
        cannot be recorded.
        """
        await self._answer(state, item, True, approver, comment)

    async def reject(
        self,
        state: RunState[Any, Any],
        item: ToolApprovalItem,
        *,
        approver: str,
        message: str | None = None,
    ) -> None:
        """Record the rejection, then ``state.reject(item)``; the model reads why.

        The rejection is given to the SDK even when it cannot be recorded
        (the error is logged): the tool must not run either way.
        """
        await self._answer(state, item, False, approver, message)

    async def _answer(
        self,
        state: RunState[Any, Any],
        item: ToolApprovalItem,
        approved: bool,
        approver: str,
        comment: str | None,
    ) -> None:
        from agent_safe._errors import AgentSafeError

        if not approver:
            raise ValueError("approver must not be empty")
        call_id = _item_call_id(item)
        outcome = self._gate.pending.get(call_id)
        why: str | None = None
        if outcome is not None:
            why = await self._gate.record(
                outcome, approved=approved, approver=approver, comment=comment
            )
            if why is None:
                self._recorded.add(call_id)
        if approved:
            if why is not None:
                raise AgentSafeError(
                    f"the approval could not be recorded, so it was not given: {why}"
                )
            state.approve(item)
            return
        if why is not None:
            logger.error("agent-safe: the rejection of %s is not on record: %s", call_id, why)
        self._gate.pending.pop(call_id, None)
        message = (
            Gate.rejection_message(outcome, approver, comment) if outcome is not None else comment
        )
        state.reject(item, rejection_message=message)

    # -- the guardrail -----------------------------------------------------

    async def _guardrail(self, data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
        try:
            return await self._decide(data)
        except Exception as e:  # fail closed, never raise into the run
            logger.error("agent-safe: the tool guardrail failed: %s", e)
            return ToolGuardrailFunctionOutput.reject_content(
                f"agent-safe could not check the call ({type(e).__name__}: {e}). "
                "The tool was not run."
            )

    async def _decide(self, data: ToolInputGuardrailData) -> ToolGuardrailFunctionOutput:
        ctx = data.context
        call_id = ctx.tool_call_id
        outcome = self._checked.pop(call_id, None) or self._gate.pending.get(call_id)
        if outcome is None:
            # needs_approval was not asked (another process resumed the run,
            # or the tool was wired with the guardrail only): check now.
            outcome = await self._check(ctx, ctx.tool_name, ctx.tool_arguments, call_id)
        info = _info(outcome)
        if outcome.verdict == "allow":
            return ToolGuardrailFunctionOutput.allow(info)
        if outcome.verdict == "deny":
            return ToolGuardrailFunctionOutput.reject_content(outcome.message, info)
        # require_approval: only an approval the SDK holds and the log records.
        approved = ctx.is_tool_approved(ctx.tool_name, call_id)
        if approved is not True:
            self._gate.pending.pop(call_id, None)
            return ToolGuardrailFunctionOutput.reject_content(
                f"{outcome.message} No approval was given, so the tool was not run; a human "
                f"can review audit id {outcome.audit_id}.",
                info,
            )
        if call_id not in self._recorded:
            why = await self._gate.record(
                outcome,
                approved=True,
                approver=self.default_approver,
                comment="approved with RunState.approve",
            )
            if why is not None:
                self._gate.pending.pop(call_id, None)
                return ToolGuardrailFunctionOutput.reject_content(
                    Gate.unrecorded_message(outcome, True, why), info
                )
        self._recorded.discard(call_id)
        self._gate.pending.pop(call_id, None)
        return ToolGuardrailFunctionOutput.allow(info)

    # -- helpers -----------------------------------------------------------

    async def _check(
        self, run_ctx: RunContextWrapper[Any], tool: str, arguments: Any, call_id: str
    ) -> Outcome:
        try:
            caller = self._caller_of(run_ctx)
        except Exception as e:
            return Outcome(
                tool,
                "deny",
                f"agent-safe refused `{tool}`: the caller could not be determined "
                f"({type(e).__name__}: {e}). The tool was not run.",
            )
        return await self._gate.check(tool, arguments, caller=caller, call_id=call_id)

    def _caller_of(self, run_ctx: RunContextWrapper[Any]) -> str | None:
        if isinstance(self.caller, str):
            return self.caller
        if self.caller is not None:
            return self.caller(run_ctx)
        context = getattr(run_ctx, "context", None)
        if context is None:
            return None
        for key in self.caller_keys:
            value = (
                context.get(key) if isinstance(context, Mapping) else getattr(context, key, None)
            )
            if isinstance(value, str) and value:
                return value
        return None


def _item_call_id(item: ToolApprovalItem) -> str:
    raw = item.raw_item
    value = raw.get("call_id") if isinstance(raw, dict) else getattr(raw, "call_id", None)
    return str(value or "")


def _info(outcome: Outcome) -> dict[str, Any] | None:
    """``output_info`` of the guardrail: the decision, for the application (not the model)."""
    if outcome.decision is None:
        return None
    return {"agent_safe": outcome.decision.to_dict()}
