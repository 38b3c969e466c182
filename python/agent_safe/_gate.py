"""What every agent-framework adapter does with one tool call.

Map it with the core's :class:`ToolMapping`, ask agent-safe (without
blocking the event loop on the async path), and phrase the answer for the
model. The adapters (``agent_safe.claude``, ``agent_safe.openai_agents``,
``agent_safe.langchain``) only translate this to their SDK's types.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, Union

from agent_safe._errors import MappingError
from agent_safe._native import Decision, MappedCall, ToolMapping

__all__ = ["Checker", "Gate", "Outcome", "acheck", "arecord_approval", "as_mapping"]

logger = logging.getLogger("agent_safe")

_CORRELATION_ID = re.compile(r"[!-~]{1,128}")

MappingLike = Union[ToolMapping, str, "os.PathLike[str]"]
"""A :class:`ToolMapping`, or the path of a mapping file (``ToolMapping.from_file``)."""


class Checker(Protocol):
    """``agent_safe.AgentSafe``, ``RemoteAgentSafe``, or anything with the same ``check``.

    ``record_approval`` is needed to record human answers; coroutine
    ``acheck``/``arecord_approval`` (as an async client has) are awaited on
    async paths, otherwise the blocking methods run in a worker thread.
    """

    def check(
        self,
        action: str,
        *,
        target: str | None = None,
        caller: str | None = None,
        params: Any = None,
        context: Any = None,
        correlation_id: str | None = None,
    ) -> Decision:
        """Decide one request."""


def as_mapping(mapping: MappingLike) -> ToolMapping:
    """A :class:`ToolMapping` from itself or from the path of a mapping file."""
    if isinstance(mapping, ToolMapping):
        return mapping
    if isinstance(mapping, (str, os.PathLike)):
        return ToolMapping.from_file(mapping)
    raise TypeError(
        f"mapping must be an agent_safe.ToolMapping or the path of a mapping file, "
        f"not {type(mapping).__name__}"
    )


def _coroutine(obj: Any, name: str) -> Callable[..., Any] | None:
    fn = getattr(obj, name, None)
    return fn if fn is not None and inspect.iscoroutinefunction(fn) else None


async def acheck(safe: Any, action: str, **kwargs: Any) -> Decision:
    """``await safe.acheck(...)`` when it has one, else ``safe.check`` in a worker thread.

    Never blocks the event loop: a remote check is a network round trip, and
    even a local one may wait on the audit log's lock.
    """
    fn = _coroutine(safe, "acheck")
    if fn is not None:
        return await fn(action, **kwargs)  # type: ignore[no-any-return]
    return await asyncio.to_thread(safe.check, action, **kwargs)


async def arecord_approval(safe: Any, decision: Decision, **kwargs: Any) -> str | None:
    """``arecord_approval`` when the checker has one, else ``record_approval`` in a thread.

    Raises ``AttributeError`` when the checker cannot record approvals.
    """
    fn = _coroutine(safe, "arecord_approval")
    if fn is not None:
        return await fn(decision, **kwargs)  # type: ignore[no-any-return]
    record = getattr(safe, "record_approval", None)
    if record is None:
        raise AttributeError(f"{type(safe).__name__} cannot record approvals")
    return await asyncio.to_thread(record, decision, **kwargs)


def correlation_id_for(call_id: str | None, *seed: Any) -> str:
    """``call_id`` when it is a valid correlation id, else a stable hash of it and ``seed``."""
    if call_id and _CORRELATION_ID.fullmatch(call_id):
        return call_id
    import hashlib

    text = json.dumps([call_id, *seed], sort_keys=True, default=str)
    return "as-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _clause(text: Any) -> str:
    """``text`` without its final full stop, to go before one."""
    return str(text or "").strip().rstrip(".")


Verdict = Literal["allow", "deny", "require_approval"]


@dataclass
class Outcome:
    """What agent-safe said about one tool call, and what to tell the model.

    ``verdict`` is ``allow`` only for an ``allow`` decision of a mapped call;
    everything that is not ``allow`` or ``require_approval`` is ``deny``
    (unmapped tools, arguments that cannot be mapped, a failed check).
    ``message`` is the text for the model when the call does not run.
    """

    tool: str
    verdict: Verdict
    message: str
    call: MappedCall | None = None
    decision: Decision | None = None
    correlation_id: str | None = None

    @property
    def audit_id(self) -> str | None:
        """The audit id of the check, when one was made."""
        return None if self.decision is None else self.decision.audit_id


def _verdict(decision: Any) -> str:
    result = getattr(decision, "result", None)
    return str(getattr(result, "value", result))


@dataclass
class Gate:
    """Map, check and phrase, for one integration (``integration`` names it in the audit log).

    ``unmapped`` says what happens to a tool the mapping does not name:
    ``"deny"`` (refused, and audited as action ``INTEGRATION:unmapped:TOOL``,
    as the MCP gateway does) or ``"allow"`` (not agent-safe's business: the
    framework's own permissions apply; nothing is checked or audited).
    """

    safe: Any
    mapping: ToolMapping
    integration: str
    unmapped: Literal["deny", "allow"] = "deny"
    # Decisions waiting for a human, by call id (bounded: oldest dropped).
    pending: OrderedDict[str, Outcome] = field(default_factory=OrderedDict)
    max_pending: int = 10_000

    def __post_init__(self) -> None:
        if not callable(getattr(self.safe, "check", None)):
            raise TypeError("safe must have a `check` method, e.g. agent_safe.AgentSafe")
        if self.unmapped not in ("deny", "allow"):
            raise ValueError(f"unmapped must be 'deny' or 'allow', not {self.unmapped!r}")

    def remember(self, call_id: str, outcome: Outcome) -> None:
        """Keep a ``require_approval`` outcome until the human's answer arrives."""
        self.pending[call_id] = outcome
        self.pending.move_to_end(call_id)
        while len(self.pending) > self.max_pending:
            self.pending.popitem(last=False)

    async def check(
        self,
        tool: str,
        arguments: Any,
        *,
        caller: str | None,
        call_id: str | None,
        context: Mapping[str, Any] | None = None,
    ) -> Outcome:
        """Map and check one call; never raises (a failure is a ``deny`` outcome)."""
        correlation = correlation_id_for(call_id, self.integration, tool, arguments)
        ctx: dict[str, Any] = {"integration": self.integration, "tool": tool}
        if call_id:
            ctx["tool_call_id"] = call_id
        ctx.update(context or {})
        try:
            call = self.mapping.map_call(tool, arguments)
        except MappingError as e:
            if e.kind == "unmapped" and self.unmapped == "allow":
                return Outcome(tool, "allow", "", correlation_id=correlation)
            return await self._refuse_unmapped(tool, arguments, e, caller, correlation, ctx)
        except Exception as e:
            logger.warning("agent-safe: mapping tool %r failed: %s", tool, e)
            return Outcome(
                tool,
                "deny",
                f"agent-safe refused `{tool}`: its arguments could not be mapped to an "
                f"agent-safe action ({type(e).__name__}: {e}). The tool was not run.",
                correlation_id=correlation,
            )
        try:
            decision = await acheck(
                self.safe,
                call.action,
                target=call.target,
                caller=caller,
                params=call.params,
                context=ctx,
                correlation_id=correlation,
            )
        except Exception as e:
            # Fail closed: a check that could not be made is a denial.
            logger.error("agent-safe: check of %s failed: %s", call.action, e)
            return Outcome(
                tool,
                "deny",
                f"agent-safe could not check `{tool}` (action `{call.action}`): "
                f"{type(e).__name__}: {e}. The tool was not run.",
                call=call,
                correlation_id=correlation,
            )
        verdict = _verdict(decision)
        target = decision.target or call.target
        where = f" on `{target}`" if target else ""
        if verdict == "allow":
            return Outcome(tool, "allow", "", call, decision, correlation)
        if verdict == "require_approval":
            return Outcome(
                tool,
                "require_approval",
                f"agent-safe requires a human approval before `{tool}` (action "
                f"`{call.action}`{where}) runs: {_clause(decision.reason)}. "
                f"Audit id {decision.audit_id}.",
                call,
                decision,
                correlation,
            )
        return Outcome(
            tool,
            "deny",
            f"agent-safe denied `{tool}` (action `{call.action}`{where}): "
            f"{_clause(decision.reason)}. The tool was not run (audit id {decision.audit_id}).",
            call,
            decision,
            correlation,
        )

    async def _refuse_unmapped(
        self,
        tool: str,
        arguments: Any,
        error: MappingError,
        caller: str | None,
        correlation: str,
        ctx: dict[str, Any],
    ) -> Outcome:
        # Checked under a name no action can have, so that the refusal is in
        # the audit log (as the MCP gateway does); refused whatever it says.
        logger.warning("agent-safe: refused tool %r: %s", tool, error)
        audit = ""
        try:
            params = json.loads(arguments) if isinstance(arguments, str) else arguments
            if not isinstance(params, Mapping):
                params = None
            d = await acheck(
                self.safe,
                f"{self.integration}:unmapped:{tool}",
                caller=caller,
                params=params,
                context=ctx,
                correlation_id=correlation,
            )
            if d.audit_id:
                audit = f" (audit id {d.audit_id})"
        except Exception as e:
            logger.error("agent-safe: could not audit the refusal of %r: %s", tool, e)
        hint = (
            "Do not retry; ask the operator to map it"
            if error.kind == "unmapped"
            else "Correct the call"
        )
        return Outcome(
            tool,
            "deny",
            f"agent-safe refused `{tool}`: {_clause(error)}. The tool was not run. {hint}{audit}.",
            correlation_id=correlation,
        )

    async def record(
        self,
        outcome: Outcome,
        *,
        approved: bool,
        approver: str,
        comment: str | None = None,
    ) -> str | None:
        """Record a human's answer to a ``require_approval`` outcome.

        Returns ``None`` when it is on record, else the reason it is not (then
        the call must not run: an approval that is not on record authorises
        nothing).
        """
        if outcome.decision is None or outcome.call is None:
            return "there is no decision to approve"
        try:
            await arecord_approval(
                self.safe,
                outcome.decision,
                approver=approver,
                approved=approved,
                comment=comment,
                params=outcome.call.params,
            )
        except Exception as e:
            logger.error(
                "agent-safe: approval of %s could not be recorded: %s", outcome.call.action, e
            )
            return f"{type(e).__name__}: {e}"
        return None

    @staticmethod
    def rejection_message(outcome: Outcome, approver: str, comment: str | None) -> str:
        """What the model reads after a human rejected the call."""
        action = outcome.call.action if outcome.call else "?"
        why = f": {_clause(comment)}" if comment else ""
        return (
            f"A human reviewer ({approver}) rejected `{outcome.tool}` (action `{action}`)"
            f"{why}. The tool was not run (audit id {outcome.audit_id}). Do not retry this "
            "call unless the user asks for it."
        )

    @staticmethod
    def unrecorded_message(outcome: Outcome, approved: bool, why: str) -> str:
        """What the model reads when the human's answer could not be recorded."""
        answer = "approval" if approved else "rejection"
        return (
            f"agent-safe could not record the human {answer} of `{outcome.tool}`: {why}. "
            "The tool was not run."
        )
