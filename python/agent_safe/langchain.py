"""Gate the tool calls of a LangChain / LangGraph agent with agent-safe.

Install with ``pip install 'agent-safe[langchain]'``. ``import agent_safe``
never imports this module (nor LangChain); import it explicitly::

    from langchain.agents import create_agent
    from langgraph.checkpoint.memory import InMemorySaver

    from agent_safe import AgentSafe
    from agent_safe.langchain import AgentSafeMiddleware

    guard = AgentSafeMiddleware(AgentSafe(config="agent-safe.yaml"))
    agent = create_agent(
        model,
        tools=[restart_deployment, drain_node],
        middleware=[guard],  # list it last: it then checks exactly what runs
        context_schema=AgentContext,  # carries the caller: `token`, `caller` or `agent_id`
        checkpointer=InMemorySaver(),  # needed for approvals (interrupts)
    )

Before each tool call the middleware asks agent-safe "may this caller run the
action this tool stands for, on this target, with these params, now?":

- ``allow``: the tool runs.
- ``deny``: the tool does not run; the model gets an error ``ToolMessage``
  saying why (nothing is raised, so the run goes on).
- ``require_approval``: the run pauses with a LangGraph ``interrupt`` whose
  value describes the call (shaped like the per-call request of LangChain's
  ``HumanInTheLoopMiddleware``, plus agent-safe's fields). Resume it with
  ``Command(resume={"type": "approve"})`` or
  ``Command(resume={"type": "reject", "message": "why"})``, optionally with
  ``"approver"``. The answer is recorded in the audit log as an ``approval``
  event; an approved tool then runs, a rejected one returns an error
  ``ToolMessage``.

On resume LangGraph runs the tool call again from its start, so the check runs
(and is audited) a second time. Both checks, and the approval, carry the same
correlation id, derived from the tool call id. If the second check no longer
asks for an approval (the policy or the time changed), its own answer stands:
a ``deny`` is not overridden by the approval, an ``allow`` runs.

The same callables gate a hand-built graph::

    ToolNode(tools, wrap_tool_call=guard.wrap_tool_call, awrap_tool_call=guard.awrap_tool_call)

See docs/LANGGRAPH.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import json
import logging
import re
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal, Protocol, Union, cast

try:
    from langchain.agents.middleware import AgentMiddleware, ToolCallRequest
    from langchain_core.messages import ToolCall, ToolMessage
    from langgraph.types import Command, interrupt
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "agent_safe.langchain needs LangChain and LangGraph: pip install 'agent-safe[langchain]'"
    ) from e

from pydantic import Discriminator
from typing_extensions import NotRequired, TypedDict

from agent_safe._errors import MappingError
from agent_safe._gate import MappingLike, acheck, as_mapping
from agent_safe._native import Decision, ToolMapping

if TYPE_CHECKING:
    from langgraph.prebuilt import ToolNode

__all__ = [
    "APPROVAL_REQUEST_TYPE",
    "AgentSafeMiddleware",
    "ApprovalAnswer",
    "ApprovalRequest",
    "ApproveAnswer",
    "Checker",
    "RejectAnswer",
    "ToolMapper",
    "tool_name_to_action",
]

logger = logging.getLogger("agent_safe.langchain")

APPROVAL_REQUEST_TYPE: Final = "tool_approval"
"""``value["type"]`` of the interrupt raised for a ``require_approval`` decision.

The same value as the per-call requests of LangChain's
``HumanInTheLoopMiddleware``, so clients written for it can answer ours.
"""


class Checker(Protocol):
    """What the middleware needs: ``agent_safe.AgentSafe`` or anything with the same ``check``.

    ``record_approval`` is used when present (``AgentSafe`` has it); a
    checker without it cannot record approvals, and approvals are then refused.
    ``acheck``/``arecord_approval`` coroutines, when present, are awaited on
    the async path instead.
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


ToolMapper = Callable[[ToolCall], "tuple[str, str | None, Mapping[str, Any] | None] | None"]
"""Maps one tool call to ``(action, target, params)``; ``None`` means unmapped (denied)."""


class ApproveAnswer(TypedDict):
    """Resume value that approves the call: ``{"type": "approve"}``."""

    type: Literal["approve"]
    approver: NotRequired[str]
    """Who approved; recorded in the audit log (default: the middleware's ``default_approver``)."""
    comment: NotRequired[str]
    """Why; recorded in the audit log."""


class RejectAnswer(TypedDict):
    """Resume value that rejects the call: ``{"type": "reject", "message": "why"}``."""

    type: Literal["reject"]
    message: NotRequired[str]
    """Why; recorded in the audit log and told to the model."""
    approver: NotRequired[str]
    """Who rejected; recorded in the audit log."""


ApprovalAnswer = Annotated[Union[ApproveAnswer, RejectAnswer], Discriminator("type")]  # noqa: UP007
"""What a ``tool_approval`` interrupt accepts on resume (checked by LangGraph >= 1.2)."""


class ApprovalRequest(TypedDict):
    """The value of the interrupt raised for a ``require_approval`` decision.

    The first five keys are those of LangChain's per-call
    ``ToolApprovalRequest``; the rest are agent-safe's decision.
    """

    type: Literal["tool_approval"]
    tool_call_id: str
    name: str
    """The tool, as the model called it."""
    args: dict[str, Any]
    """The tool's arguments, as the model sent them."""
    description: str
    """A one-paragraph text for the reviewer."""
    allowed_decisions: list[str]
    """Always ``["approve", "reject"]``: an edit would run a call nobody checked."""
    action: str
    target: str | None
    params: dict[str, Any]
    caller: str | None
    reason: str
    policy_matched: str | None
    risk_class: str
    effective_risk: str
    audit_id: str | None
    correlation_id: str | None


_INTERRUPT_TAKES_SCHEMA = "response_schema" in inspect.signature(interrupt).parameters
_CORRELATION_ID = re.compile(r"[!-~]{1,128}")


def tool_name_to_action(tool_name: str) -> str:
    """Apply the naming convention: tool ``restart_deployment`` is ``restart-deployment``."""
    return tool_name.strip().lower().replace("_", "-")


@dataclass(frozen=True)
class _Call:
    """One tool call, mapped and ready to check."""

    tool: str
    tool_call_id: str
    args: dict[str, Any]
    action: str
    target: str | None
    params: dict[str, Any]
    caller: str | None
    correlation_id: str
    context: dict[str, Any]


class AgentSafeMiddleware(AgentMiddleware):
    """Asks agent-safe before every tool call of the agent, and obeys.

    Args:
        safe: an ``agent_safe.AgentSafe`` (or an object with the same ``check``,
            such as ``RemoteAgentSafe``).
        mapping: the tool mapping shared with the MCP gateway and the other
            adapters: a :class:`agent_safe.ToolMapping` or the path of a
            mapping file. When given, it alone maps tool calls (``tools``,
            ``naming_convention``, ``target`` and ``target_arg`` are not
            used) and a tool it does not name is refused. Without it, ``tools`` and the naming
            convention map them, as before.
        tools: explicit mapping from tool name to either an action name or a
            function ``(tool_call) -> (action, target, params)`` (``None``:
            unmapped). Wins over the naming convention.
        naming_convention: how a tool not in ``tools`` finds its action.
            ``True`` (default): :func:`tool_name_to_action` (``drain_node`` →
            ``drain-node``; agent-safe denies names it does not know). A
            function ``(tool_name) -> action or None`` for another convention;
            ``False``: only tools in ``tools`` are mapped. Unmapped tools are
            denied without running.
        caller: the caller, fixed (a string: an agent id or a JWT) or computed
            (a function of the ``ToolCallRequest``). By default it is read from
            the run's context (``request.runtime.context``, what the app passed
            as ``context=``): the first non-empty of ``caller_keys``, as a key
            or an attribute. No caller means an anonymous check, which a policy
            can only deny.
        caller_keys: the context keys tried, in order (default ``token``,
            ``caller``, ``agent_id``).
        target: the target id, computed from the ``ToolCallRequest``
            (returning ``None``: let agent-safe resolve it from the params).
        target_arg: a tool argument that names the target id; it is taken out
            of the params (default ``"target"``; ``None`` to disable). A target
            given by a mapping function wins over ``target``, which wins over
            ``target_arg``.
        correlation_id: the correlation id of a call, from the
            ``ToolCallRequest``. Default: the tool call id (or a hash of it
            when it is not a valid correlation id). It must be the same every
            time the same call is checked, so that the check before and after
            an approval are linked.
        default_approver: recorded as the approver when the resume value names
            none.
        drop_none_params: leave out arguments whose value is ``None``
            (optional parameters the model sent as ``null``). Default true.
    """

    def __init__(
        self,
        safe: Checker,
        *,
        mapping: MappingLike | None = None,
        tools: Mapping[str, str | ToolMapper] | None = None,
        naming_convention: bool | Callable[[str], str | None] = True,
        caller: str | Callable[[ToolCallRequest], str | None] | None = None,
        caller_keys: Sequence[str] = ("token", "caller", "agent_id"),
        target: Callable[[ToolCallRequest], str | None] | None = None,
        target_arg: str | None = "target",
        correlation_id: Callable[[ToolCallRequest], str] | None = None,
        default_approver: str = "unidentified-reviewer",
        drop_none_params: bool = True,
    ) -> None:
        super().__init__()
        if not callable(getattr(safe, "check", None)):
            raise TypeError("safe must have a `check` method, e.g. agent_safe.AgentSafe")
        if isinstance(caller_keys, str):
            raise TypeError("caller_keys must be a sequence of key names, not a string")
        if not default_approver:
            raise ValueError("default_approver must not be empty")
        self.safe = safe
        self._mapping: ToolMapping | None = None if mapping is None else as_mapping(mapping)
        if self._mapping is not None and tools:
            raise ValueError(
                "pass either `mapping` (a ToolMapping: the format shared with the MCP gateway) "
                "or `tools`, not both"
            )
        self._tools: dict[str, str | ToolMapper] = dict(tools or {})
        for name, how in self._tools.items():
            if not (isinstance(how, str) or callable(how)):
                raise TypeError(f"tools[{name!r}] must be an action name or a function")
        if naming_convention is True:
            self._convention: Callable[[str], str | None] | None = tool_name_to_action
        elif naming_convention is False:
            self._convention = None
        elif callable(naming_convention):
            self._convention = naming_convention
        else:
            raise TypeError("naming_convention must be a bool or a function")
        self._caller = caller
        self._caller_keys = tuple(caller_keys)
        self._target = target
        self._target_arg = target_arg
        self._correlation_id = correlation_id
        self.default_approver = default_approver
        self._drop_none = drop_none_params

    # -- the two hooks -----------------------------------------------------

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        """Check the call; then run it, refuse it, or pause for an approval."""
        call = self._prepare(request)
        if isinstance(call, ToolMessage):
            refusal = self._refusal_check(request)
            if refusal is not None:
                with contextlib.suppress(Exception):
                    return _with_audit_id(call, self.safe.check(refusal[0], **refusal[1]))
            return call
        decision = self._run_check(call)
        if isinstance(decision, ToolMessage):
            return decision
        verdict = _result(decision)
        if verdict == "allow":
            return handler(request)
        if verdict != "require_approval":
            return self._deny_message(call, decision)
        approved, approver, comment = self._ask(call, decision)
        refused = self._record(call, decision, approved, approver, comment)
        if refused is not None:
            return refused
        if not approved:
            return self._rejection_message(call, decision, approver, comment)
        return handler(request)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        """Async variant of :meth:`wrap_tool_call`; never blocks the event loop.

        Awaits the checker's coroutine ``acheck``/``arecord_approval`` when it
        has them (``AsyncRemoteAgentSafe``), otherwise runs ``check`` and
        ``record_approval`` in a worker thread.
        """
        call = self._prepare(request)
        if isinstance(call, ToolMessage):
            refusal = self._refusal_check(request)
            if refusal is not None:
                with contextlib.suppress(Exception):
                    return _with_audit_id(call, await acheck(self.safe, refusal[0], **refusal[1]))
            return call
        decision = await self._arun_check(call)
        if isinstance(decision, ToolMessage):
            return decision
        verdict = _result(decision)
        if verdict == "allow":
            return await handler(request)
        if verdict != "require_approval":
            return self._deny_message(call, decision)
        approved, approver, comment = self._ask(call, decision, _config_for_async(request))
        refused = await self._arecord(call, decision, approved, approver, comment)
        if refused is not None:
            return refused
        if not approved:
            return self._rejection_message(call, decision, approver, comment)
        return await handler(request)

    def tool_node(self, tools: Sequence[Any], **kwargs: Any) -> ToolNode:
        """Build a ``langgraph.prebuilt.ToolNode`` over ``tools``, gated by this middleware."""
        from langgraph.prebuilt import ToolNode

        return ToolNode(
            tools,
            wrap_tool_call=self.wrap_tool_call,
            awrap_tool_call=self.awrap_tool_call,
            **kwargs,
        )

    # -- mapping a tool call to a check ------------------------------------

    def _prepare(self, request: ToolCallRequest) -> _Call | ToolMessage:
        tool_call = request.tool_call
        tool = str(tool_call.get("name") or "")
        tool_call_id = str(tool_call.get("id") or "")
        try:
            mapped = self._map(request)
        except Exception as e:
            logger.warning("agent-safe: mapping tool %r failed: %s", tool, e)
            return _error(
                tool,
                tool_call_id,
                f"agent-safe refused `{tool}`: its arguments could not be mapped to an "
                f"agent-safe action ({type(e).__name__}: {e}). The tool was not run.",
            )
        if mapped is None:
            logger.warning("agent-safe: tool %r is not mapped to an action; denied", tool)
            return _error(
                tool,
                tool_call_id,
                f"agent-safe denied `{tool}`: this tool is not mapped to any agent-safe "
                "action, and unmapped tools are denied. The tool was not run.",
            )
        action, target, params = mapped
        try:
            caller = self._caller_of(request)
            correlation_id = self._correlation_of(request, tool_call_id)
        except Exception as e:
            return _error(
                tool,
                tool_call_id,
                f"agent-safe refused `{tool}`: the caller or correlation id could not be "
                f"determined ({type(e).__name__}: {e}). The tool was not run.",
            )
        context: dict[str, Any] = {"integration": "langchain", "tool": tool}
        if tool_call_id:
            context["tool_call_id"] = tool_call_id
        thread_id = _thread_id(request)
        if thread_id is not None:
            context["thread_id"] = thread_id
        return _Call(
            tool=tool,
            tool_call_id=tool_call_id,
            args=dict(request.tool_call.get("args") or {}),
            action=action,
            target=target,
            params=params,
            caller=caller,
            correlation_id=correlation_id,
            context=context,
        )

    def _refusal_check(self, request: ToolCallRequest) -> tuple[str, dict[str, Any]] | None:
        """The check that audits a call refused before it could be checked.

        With a mapping, a call is refused unchecked when the mapping does not
        name its tool, or when its arguments cannot be mapped (an argument no
        template reads, a template argument missing). Either way the refusal
        is checked under a name no action can have (as the MCP gateway and
        the other adapters do), so it is in the audit log; the call is
        refused whatever that check says. ``None`` without a mapping, or when
        not even the caller could be determined.
        """
        tool = str(request.tool_call.get("name") or "")
        if self._mapping is None:
            return None
        tool_call_id = str(request.tool_call.get("id") or "")
        args = request.tool_call.get("args")
        try:
            caller = self._caller_of(request)
            correlation_id = self._correlation_of(request, tool_call_id)
        except Exception:
            return None
        context: dict[str, Any] = {"integration": "langchain", "tool": tool}
        if tool_call_id:
            context["tool_call_id"] = tool_call_id
        return f"langchain:unmapped:{tool}", {
            "caller": caller,
            "params": dict(args) if isinstance(args, Mapping) else None,
            "context": context,
            "correlation_id": correlation_id,
        }

    def _map(self, request: ToolCallRequest) -> tuple[str, str | None, dict[str, Any]] | None:
        tool_call = request.tool_call
        name = tool_call.get("name") or ""
        args = dict(tool_call.get("args") or {})
        if self._mapping is not None:
            if self._drop_none:
                args = {k: v for k, v in args.items() if v is not None}
            try:
                mapped = self._mapping.map_call(name, args)
            except MappingError as e:
                if e.kind == "unmapped":
                    return None
                raise
            mapped_params = mapped.params
            if not isinstance(mapped_params, dict):  # pragma: no cover - always an object
                raise TypeError("the mapping gave params that are not an object")
            return mapped.action, mapped.target, mapped_params
        how = self._tools.get(name)
        if how is None and self._convention is not None:
            how = self._convention(name)
        if how is None or how == "":
            return None
        target: str | None = None
        if isinstance(how, str):
            action = how
            params: dict[str, Any] = args
        else:
            out = how(tool_call)
            if out is None:
                return None
            action, target, raw = out
            params = dict(raw or {})
        # The target: a mapping function's, else the `target` function's, else the argument's.
        if target is None and self._target is not None:
            target = self._target(request)
        if self._target_arg is not None and self._target_arg in params:
            named = params.pop(self._target_arg)
            if target is None and named is not None:
                target = str(named)
        if self._drop_none:
            params = {k: v for k, v in params.items() if v is not None}
        return action, target, params

    def _caller_of(self, request: ToolCallRequest) -> str | None:
        if isinstance(self._caller, str):
            return self._caller
        if self._caller is not None:
            return self._caller(request)
        runtime = getattr(request, "runtime", None)
        context = getattr(runtime, "context", None)
        if context is None:
            return None
        for key in self._caller_keys:
            value = (
                context.get(key) if isinstance(context, Mapping) else getattr(context, key, None)
            )
            if isinstance(value, str) and value:
                return value
        return None

    def _correlation_of(self, request: ToolCallRequest, tool_call_id: str) -> str:
        if self._correlation_id is not None:
            return self._correlation_id(request)
        if _CORRELATION_ID.fullmatch(tool_call_id):
            return tool_call_id
        # No usable id: derive one from what stays the same when the call is re-run.
        tool_call = request.tool_call
        seed = json.dumps(
            [_thread_id(request), tool_call_id, tool_call.get("name"), tool_call.get("args")],
            sort_keys=True,
            default=str,
        )
        return "lc-" + hashlib.sha256(seed.encode()).hexdigest()[:32]

    # -- asking agent-safe -------------------------------------------------

    def _check_kwargs(self, call: _Call) -> dict[str, Any]:
        return {
            "target": call.target,
            "caller": call.caller,
            "params": call.params,
            "context": call.context,
            "correlation_id": call.correlation_id,
        }

    def _run_check(self, call: _Call) -> Decision | ToolMessage:
        try:
            return self.safe.check(call.action, **self._check_kwargs(call))
        except Exception as e:
            return self._check_failed(call, e)

    async def _arun_check(self, call: _Call) -> Decision | ToolMessage:
        # Never block the event loop: an async client's `acheck`, else the
        # blocking `check` in a worker thread (a remote check is a network
        # round trip; a local one may wait on the audit log's lock).
        acheck = getattr(self.safe, "acheck", None)
        if acheck is None or not inspect.iscoroutinefunction(acheck):
            return await asyncio.to_thread(self._run_check, call)
        try:
            return cast("Decision", await acheck(call.action, **self._check_kwargs(call)))
        except Exception as e:
            return self._check_failed(call, e)

    def _check_failed(self, call: _Call, e: Exception) -> ToolMessage:
        # Fail closed: a check that could not be made is a denial.
        logger.error("agent-safe: check of %s failed: %s", call.action, e)
        return _error(
            call.tool,
            call.tool_call_id,
            f"agent-safe could not check `{call.tool}` (action `{call.action}`): "
            f"{type(e).__name__}: {e}. The tool was not run.",
        )

    # -- approvals ---------------------------------------------------------

    def _ask(self, call: _Call, decision: Any, config: Any = None) -> tuple[bool, str, str | None]:
        """Pause the run (the first time) or return the human's answer (on resume)."""
        payload = self._approval_request(call, decision)
        kwargs: dict[str, Any] = {}
        if _INTERRUPT_TAKES_SCHEMA:
            kwargs["response_schema"] = cast("type[Any]", ApprovalAnswer)
        if config is None:
            answer = interrupt(payload, **kwargs)
        else:
            # Python < 3.11 does not carry the run's config into asyncio tasks,
            # where `interrupt` looks for it: hand it over explicitly.
            from langchain_core.runnables.config import set_config_context

            with set_config_context(config) as ctx:
                answer = ctx.run(lambda: interrupt(payload, **kwargs))
        return self._read_answer(answer)

    def _read_answer(self, answer: Any) -> tuple[bool, str, str | None]:
        approver = self.default_approver
        comment: str | None = None
        kind: Any = answer
        if isinstance(answer, Mapping):
            kind = answer.get("type")
            approver = str(answer.get("approver") or approver)
            text = answer.get("message") if kind == "reject" else answer.get("comment")
            comment = str(text) if text else None
        if kind is True or kind == "approve":
            return True, approver, comment
        if kind is False or kind == "reject":
            return False, approver, comment
        # Anything else is not an approval: fail closed.
        return False, approver, f"unrecognised answer to the approval request: {answer!r}"

    def _approval_request(self, call: _Call, decision: Any) -> ApprovalRequest:
        target = _attr(decision, "target") or call.target
        risk = _attr(decision, "effective_risk")
        description = (
            f"agent-safe requires a human approval before `{call.tool}` runs.\n"
            f"Action: {call.action} on {target or '(target resolved from the params)'}\n"
            f"Params: {json.dumps(call.params, sort_keys=True, default=str)}\n"
            f"Caller: {_attr(decision, 'caller') or '(anonymous)'}\n"
            f"Why: {_attr(decision, 'reason')}"
            f" (rule {_attr(decision, 'policy_matched') or '-'};"
            f" action risk {_attr(decision, 'risk_class')}, effective risk {risk})\n"
            f"Audit id: {_attr(decision, 'audit_id') or '-'}, "
            f"correlation id: {_attr(decision, 'correlation_id') or call.correlation_id}"
        )
        return ApprovalRequest(
            type=APPROVAL_REQUEST_TYPE,
            tool_call_id=call.tool_call_id,
            name=call.tool,
            args=dict(call.args),
            description=description,
            allowed_decisions=["approve", "reject"],
            action=call.action,
            target=target,
            params=dict(call.params),
            caller=_attr(decision, "caller"),
            reason=str(_attr(decision, "reason") or ""),
            policy_matched=_attr(decision, "policy_matched"),
            risk_class=str(_attr(decision, "risk_class") or ""),
            effective_risk=str(risk or ""),
            audit_id=_attr(decision, "audit_id"),
            correlation_id=_attr(decision, "correlation_id") or call.correlation_id,
        )

    def _record_kwargs(
        self, call: _Call, approved: bool, approver: str, comment: str | None
    ) -> dict[str, Any]:
        return {
            "approver": approver,
            "approved": approved,
            "comment": comment,
            "params": call.params,
        }

    def _record(
        self, call: _Call, decision: Any, approved: bool, approver: str, comment: str | None
    ) -> ToolMessage | None:
        record = getattr(self.safe, "record_approval", None)
        if record is None:
            return self._record_failed(call, approved, "the checker cannot record approvals")
        try:
            record(decision, **self._record_kwargs(call, approved, approver, comment))
        except Exception as e:
            return self._record_failed(call, approved, f"{type(e).__name__}: {e}")
        return None

    async def _arecord(
        self, call: _Call, decision: Any, approved: bool, approver: str, comment: str | None
    ) -> ToolMessage | None:
        arecord = getattr(self.safe, "arecord_approval", None)
        if arecord is None or not inspect.iscoroutinefunction(arecord):
            return await asyncio.to_thread(
                self._record, call, decision, approved, approver, comment
            )
        try:
            await arecord(decision, **self._record_kwargs(call, approved, approver, comment))
        except Exception as e:
            return self._record_failed(call, approved, f"{type(e).__name__}: {e}")
        return None

    def _record_failed(self, call: _Call, approved: bool, why: str) -> ToolMessage:
        # An approval that is not on record does not authorise anything.
        logger.error("agent-safe: approval of %s could not be recorded: %s", call.action, why)
        answer = "approval" if approved else "rejection"
        return _error(
            call.tool,
            call.tool_call_id,
            f"agent-safe could not record the human {answer} of `{call.tool}` "
            f"(action `{call.action}`): {why}. The tool was not run.",
        )

    # -- messages to the model ---------------------------------------------

    def _deny_message(self, call: _Call, decision: Any) -> ToolMessage:
        target = _attr(decision, "target") or call.target
        where = f" on `{target}`" if target else ""
        return _error(
            call.tool,
            call.tool_call_id,
            f"agent-safe denied `{call.tool}` (action `{call.action}`{where}): "
            f"{_clause(_attr(decision, 'reason'))}. The tool was not run.",
            decision,
        )

    def _rejection_message(
        self, call: _Call, decision: Any, approver: str, comment: str | None
    ) -> ToolMessage:
        target = _attr(decision, "target") or call.target
        where = f" on `{target}`" if target else ""
        why = f": {_clause(comment)}" if comment else ""
        return _error(
            call.tool,
            call.tool_call_id,
            f"A human reviewer ({approver}) rejected `{call.tool}` (action "
            f"`{call.action}`{where}){why}. The tool was not run. Do not retry this call "
            "unless the user asks for it.",
            decision,
        )


# -- helpers -------------------------------------------------------------


def _result(decision: Any) -> str:
    """Return ``"allow"``, ``"deny"`` or ``"require_approval"`` (from an enum or a string)."""
    result = getattr(decision, "result", None)
    return str(getattr(result, "value", result))


def _attr(decision: Any, name: str) -> Any:
    return getattr(decision, name, None)


def _clause(text: Any) -> str:
    """``text`` without its final full stop, to go before one."""
    return str(text or "").strip().rstrip(".")


def _config_for_async(request: ToolCallRequest) -> Any:
    """Return the run's config where asyncio does not carry it to ``interrupt`` (Python < 3.11)."""
    if sys.version_info >= (3, 11):
        return None
    return getattr(getattr(request, "runtime", None), "config", None) or None


def _thread_id(request: ToolCallRequest) -> str | None:
    runtime = getattr(request, "runtime", None)
    config = getattr(runtime, "config", None) or {}
    thread = (config.get("configurable") or {}).get("thread_id")
    return None if thread is None else str(thread)


def _with_audit_id(message: ToolMessage, decision: Any) -> ToolMessage:
    """``message`` naming the audit id of the check that recorded it."""
    audit_id = _attr(decision, "audit_id")
    if audit_id:
        message.content = f"{message.content} (audit id {audit_id})"
    return message


def _error(tool: str, tool_call_id: str, content: str, decision: Any = None) -> ToolMessage:
    artifact = None
    to_dict = getattr(decision, "to_dict", None)
    if callable(to_dict):
        artifact = {"agent_safe": to_dict()}
    return ToolMessage(
        content=content,
        tool_call_id=tool_call_id,
        name=tool,
        status="error",
        artifact=artifact,
    )
