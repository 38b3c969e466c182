"""Gate the tool calls of a Claude Agent SDK agent with agent-safe.

Install with ``pip install 'agent-safe[claude]'`` (``claude-agent-sdk``).
``import agent_safe`` never imports this module; import it yourself::

    from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient

    from agent_safe import AgentSafe, ToolMapping
    from agent_safe.claude import AgentSafeHooks

    guard = AgentSafeHooks(
        AgentSafe(config="agent-safe.yaml"),
        ToolMapping.from_file("tools.yaml"),  # the MCP gateway's `tools:` format
        caller="claude-ops-agent",
        approver=ask_on_call,  # async (ApprovalRequest) -> bool | ApprovalAnswer
    )
    options = guard.options(mcp_servers={...}, allowed_tools=[...])
    async with ClaudeSDKClient(options) as client: ...

Every tool call, built-in (``Bash``, ``Edit``, ...) or from an MCP server
(``mcp__SERVER__TOOL``), is mapped to an action with the same
:class:`~agent_safe.ToolMapping` as the MCP gateway and checked before it
runs. The ``PreToolUse`` hook answers with the SDK's permission decisions:

- ``allow``: ``permissionDecision: "allow"``, the tool runs;
- ``deny``: ``"deny"`` with agent-safe's reason, which the model reads;
- ``require_approval``: ``"ask"``. Claude then calls ``can_use_tool``; this
  module's :meth:`AgentSafeHooks.can_use_tool` asks your ``approver``,
  records the answer in the audit log under the check's correlation id, and
  answers ``PermissionResultAllow`` or ``PermissionResultDeny``. A tool
  approved elsewhere (no ``can_use_tool`` of ours was asked, but the tool ran)
  is recorded as approved by ``default_approver`` from the ``PostToolUse``
  hook.

A tool the mapping does not name is refused (``unmapped="deny"``, audited as
``claude:unmapped:TOOL``), unless ``unmapped="allow"`` leaves it to Claude's
own permissions. See docs/CLAUDE-AGENT-SDK.md.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

try:
    from claude_agent_sdk import (
        ClaudeAgentOptions,
        HookMatcher,
        PermissionResultAllow,
        PermissionResultDeny,
        ToolPermissionContext,
    )
    from claude_agent_sdk.types import HookContext, HookEvent, PermissionResult
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "agent_safe.claude needs the Claude Agent SDK: pip install 'agent-safe[claude]'"
    ) from e

from agent_safe._gate import Gate, MappingLike, Outcome, as_mapping
from agent_safe._native import Decision

__all__ = ["AgentSafeHooks", "ApprovalAnswer", "ApprovalRequest", "Approver"]

logger = logging.getLogger("agent_safe.claude")

INTEGRATION = "claude"


@dataclass(frozen=True)
class ApprovalRequest:
    """What the approver is asked about: one tool call agent-safe wants a human for."""

    tool: str
    """The tool, as Claude names it (``Bash``, ``mcp__kubernetes__pods_delete``)."""
    tool_input: dict[str, Any]
    """The tool's input, exactly as it will run if approved."""
    action: str
    target: str | None
    params: dict[str, Any]
    reason: str
    """Why agent-safe wants a human (the rule's reason)."""
    audit_id: str | None
    correlation_id: str
    decision: Decision
    message: str
    """A one-paragraph text for the reviewer."""


@dataclass(frozen=True)
class ApprovalAnswer:
    """A human's answer: ``approved``, who answered, and why."""

    approved: bool
    approver: str | None = None
    comment: str | None = None


Approver = Callable[[ApprovalRequest], Awaitable[bool | ApprovalAnswer]]
"""Asks a human; ``True``/``False`` or an :class:`ApprovalAnswer`."""

Caller = str | Callable[[str, Mapping[str, Any]], str | None] | None


@dataclass
class AgentSafeHooks:
    """Asks agent-safe before every tool call of a Claude agent, and obeys.

    Args:
        safe: ``agent_safe.AgentSafe``, ``RemoteAgentSafe`` or an async client
            (coroutine ``acheck``/``arecord_approval`` are awaited; blocking
            ones run in a worker thread, never on the event loop).
        mapping: a :class:`~agent_safe.ToolMapping`, or the path of a mapping
            file. Keys are Claude's tool names.
        caller: the caller checked (an agent id or a JWT), or a function
            ``(tool_name, hook_input) -> caller``.
        approver: asks a human when agent-safe answers ``require_approval``.
            Without one, such calls are denied, naming the audit id.
        unmapped: ``"deny"`` (default) refuses tools the mapping does not
            name; ``"allow"`` leaves them to Claude's own permissions.
        default_approver: recorded as the approver when the answer names none
            (and for tools that ran after an ``ask`` answered elsewhere).
    """

    safe: Any
    mapping: MappingLike
    caller: Caller = None
    approver: Approver | None = None
    unmapped: Literal["deny", "allow"] = "deny"
    default_approver: str = "claude-permission-prompt"
    _gate: Gate = field(init=False, repr=False)
    _recorded: set[str] = field(init=False, repr=False, default_factory=set)

    def __post_init__(self) -> None:
        if not self.default_approver:
            raise ValueError("default_approver must not be empty")
        self._gate = Gate(self.safe, as_mapping(self.mapping), INTEGRATION, self.unmapped)

    # -- wiring ------------------------------------------------------------

    def hooks(self) -> dict[HookEvent, list[HookMatcher]]:
        """``ClaudeAgentOptions.hooks``: ``PreToolUse`` and ``PostToolUse`` for every tool.

        ``on_failure="block"``: should a hook ever fail, the call is blocked.
        """
        return {
            "PreToolUse": [HookMatcher(hooks=[self.pre_tool_use], on_failure="block")],  # type: ignore[list-item]
            "PostToolUse": [HookMatcher(hooks=[self.post_tool_use])],  # type: ignore[list-item]
        }

    def options(self, **kwargs: Any) -> ClaudeAgentOptions:
        """``ClaudeAgentOptions(**kwargs)`` with these hooks and ``can_use_tool`` added."""
        hooks: dict[HookEvent, list[HookMatcher]] = dict(kwargs.pop("hooks", None) or {})
        for event, matchers in self.hooks().items():
            hooks[event] = [*matchers, *hooks.get(event, [])]
        if kwargs.get("can_use_tool") is not None:
            raise ValueError(
                "can_use_tool is AgentSafeHooks.can_use_tool; pass an `approver` instead"
            )
        return ClaudeAgentOptions(hooks=hooks, can_use_tool=self.can_use_tool, **kwargs)

    # -- the hook ----------------------------------------------------------

    async def pre_tool_use(
        self, input_data: Mapping[str, Any], tool_use_id: str | None, context: HookContext
    ) -> dict[str, Any]:
        """The ``PreToolUse`` hook: allow, deny or ask, with agent-safe's reason."""
        try:
            outcome = await self._check(input_data, tool_use_id)
        except Exception as e:  # never raise into the SDK: fail closed
            logger.error("agent-safe: the PreToolUse hook failed: %s", e)
            return _hook_output("deny", f"agent-safe could not check the call: {e}")
        if outcome.verdict == "allow":
            if outcome.decision is None:  # unmapped, left to Claude's permissions
                return {}
            return _hook_output("allow", f"allowed by agent-safe: {outcome.decision.reason}")
        if outcome.verdict == "require_approval":
            self._gate.remember(_call_id(input_data, tool_use_id), outcome)
            return _hook_output("ask", outcome.message)
        return _hook_output("deny", outcome.message)

    async def post_tool_use(
        self, input_data: Mapping[str, Any], tool_use_id: str | None, context: HookContext
    ) -> dict[str, Any]:
        """The ``PostToolUse`` hook: a call that was asked about and ran was approved."""
        call_id = _call_id(input_data, tool_use_id)
        outcome = self._gate.pending.pop(call_id, None)
        if outcome is not None and call_id not in self._recorded:
            why = await self._gate.record(
                outcome,
                approved=True,
                approver=self.default_approver,
                comment="approved in Claude's permission prompt (the tool ran)",
            )
            if why is not None:
                logger.error("agent-safe: the approval of %s is not on record: %s", call_id, why)
        self._recorded.discard(call_id)
        return {}

    # -- can_use_tool ------------------------------------------------------

    async def can_use_tool(
        self, tool_name: str, tool_input: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResult:
        """The ``can_use_tool`` callback.

        For a call the hook answered ``ask``: asks the ``approver`` and
        records the answer. For any other call (when used without the hook):
        checks it, as the hook would, and asks the approver when needed.
        """
        try:
            return await self._can_use_tool(tool_name, tool_input, context)
        except Exception as e:  # fail closed
            logger.error("agent-safe: can_use_tool failed: %s", e)
            return PermissionResultDeny(message=f"agent-safe could not check the call: {e}")

    async def _can_use_tool(
        self, tool_name: str, tool_input: dict[str, Any], context: ToolPermissionContext
    ) -> PermissionResult:
        call_id = context.tool_use_id or ""
        outcome = self._gate.pending.get(call_id) if call_id else None
        if outcome is None or outcome.tool != tool_name:
            data = {"tool_name": tool_name, "tool_input": tool_input, "tool_use_id": call_id}
            outcome = await self._check(data, call_id)
            if outcome.verdict == "allow":
                return PermissionResultAllow()
            if outcome.verdict == "deny":
                return PermissionResultDeny(message=outcome.message)
            self._gate.remember(call_id, outcome)
        return await self._ask(call_id, outcome, tool_input)

    async def _ask(
        self, call_id: str, outcome: Outcome, tool_input: dict[str, Any]
    ) -> PermissionResult:
        if self.approver is None:
            self._gate.pending.pop(call_id, None)
            return PermissionResultDeny(
                message=f"{outcome.message} No approver is configured, so the tool was not "
                f"run; a human can review audit id {outcome.audit_id}."
            )
        assert outcome.decision is not None
        assert outcome.call is not None
        request = ApprovalRequest(
            tool=outcome.tool,
            tool_input=dict(tool_input),
            action=outcome.call.action,
            target=outcome.decision.target or outcome.call.target,
            params=outcome.call.params,
            reason=outcome.decision.reason,
            audit_id=outcome.audit_id,
            correlation_id=outcome.correlation_id or call_id,
            decision=outcome.decision,
            message=outcome.message,
        )
        try:
            raw = await self.approver(request)
        except Exception as e:
            self._gate.pending.pop(call_id, None)
            return PermissionResultDeny(
                message=f"{outcome.message} Asking a human failed ({type(e).__name__}: {e}), "
                "so the tool was not run."
            )
        answer = raw if isinstance(raw, ApprovalAnswer) else ApprovalAnswer(approved=raw is True)
        approver = answer.approver or self.default_approver
        why = await self._gate.record(
            outcome, approved=answer.approved, approver=approver, comment=answer.comment
        )
        if why is not None:
            self._gate.pending.pop(call_id, None)
            return PermissionResultDeny(
                message=Gate.unrecorded_message(outcome, answer.approved, why)
            )
        if not answer.approved:
            self._gate.pending.pop(call_id, None)
            return PermissionResultDeny(
                message=Gate.rejection_message(outcome, approver, answer.comment)
            )
        # Approved and recorded: the PostToolUse hook must not record it again.
        self._recorded.add(call_id)
        if len(self._recorded) > self._gate.max_pending:
            self._recorded.pop()
        return PermissionResultAllow()

    # -- helpers -----------------------------------------------------------

    async def _check(self, input_data: Mapping[str, Any], tool_use_id: str | None) -> Outcome:
        tool = str(input_data.get("tool_name") or "")
        tool_input = input_data.get("tool_input")
        call_id = _call_id(input_data, tool_use_id)
        context: dict[str, Any] = {}
        for key in ("session_id", "agent_id", "agent_type"):
            value = input_data.get(key)
            if isinstance(value, str) and value:
                context[key] = value
        caller = self.caller
        if callable(caller):
            caller = caller(tool, input_data)
        return await self._gate.check(
            tool,
            tool_input,
            caller=caller,
            call_id=call_id or None,
            context=context,
        )


def _call_id(input_data: Mapping[str, Any], tool_use_id: str | None) -> str:
    return str(tool_use_id or input_data.get("tool_use_id") or "")


def _hook_output(decision: Literal["allow", "deny", "ask"], reason: str) -> dict[str, Any]:
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": decision,
            "permissionDecisionReason": reason,
        }
    }
