"""`RemoteAgentSafe`: the same questions, asked of an `agent-safe serve` sidecar.

The request bodies and the reading of the answers live in `_RemoteClient`, which
`RemoteAgentSafe` (blocking, the standard library's ``urllib``) and
`AsyncRemoteAgentSafe` (``agent_safe._async_remote``, on httpx) share: both
send the same bytes and fail the same way; only the transport differs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from agent_safe import _native
from agent_safe._errors import AgentSafeError
from agent_safe._native import Decision, Plan

_T = TypeVar("_T")
# (path, JSON body, bearer token): one request to the sidecar.
_Request = tuple[str, dict[str, Any], "str | None"]

_JWT = re.compile(r"^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: a repeated key is an error, never "last one wins"."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}: a key may appear only once in a JSON object")
        out[key] = value
    return out


def _loads(data: bytes) -> Any:
    """Strict JSON, as the sidecar and the core read it."""
    return json.loads(data, object_pairs_hook=_unique_keys)


def _json_value(what: str, value: Any) -> Any:
    """``value`` as `AgentSafe.check` would read it.

    The same `TypeError`/`ValueError` for what has no JSON form (non-str keys,
    NaN, sets, ...), before anything is sent.
    """
    return _loads(_native._to_json(what, value).encode())


class RemoteError(AgentSafeError):
    """The sidecar could not be asked, or refused the request.

    Nothing is ever silently allowed: the caller decides what an unreachable
    policy decision point means (the safe default is not to act).

    Attributes:
        status: The HTTP status, or ``None`` when no answer arrived.
        code: The sidecar's error code (``malformed_json``, ``timeout``, ...).
        message: What went wrong.
    """

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class _RemoteClient:
    """What both sidecar clients share: options, request bodies, reading answers.

    Subclasses supply the transport; every body sent and every error raised is
    built here, so the blocking and the async client cannot drift apart.
    """

    def __init__(
        self, url: str, *, timeout: float = 5.0, approver_token: str | None = None
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"url must start with http:// or https://, got {url!r}")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if approver_token is not None and not _JWT.match(approver_token):
            raise ValueError("approver_token must be a signed token (a JWT)")
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._approver_token = approver_token

    def __repr__(self) -> str:
        # Never the token itself.
        approver = ", approver_token=..." if self._approver_token else ""
        return f"{type(self).__name__}({self.url!r}, timeout={self.timeout}{approver})"

    # -- the bytes on the wire ------------------------------------------------

    @staticmethod
    def _encode(body: dict[str, Any]) -> bytes:
        return json.dumps(body, allow_nan=False).encode()

    @staticmethod
    def _headers(token: str | None) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json"}
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        return headers

    @staticmethod
    def _split_caller(caller: str | None) -> tuple[str | None, str | None]:
        """(body caller, bearer token)."""
        if caller is not None and _JWT.match(caller):
            return None, caller
        return caller, None

    def _check_request(
        self,
        action: str,
        target: str | None,
        caller: str | None,
        params: Mapping[str, Any] | None,
        context: Any,
        correlation_id: str | None,
        explain: bool,
    ) -> _Request:
        body_caller, token = self._split_caller(caller)
        body: dict[str, Any] = {"action": action}
        for key, value in (
            ("target", target),
            ("caller", body_caller),
            ("params", _json_value("params", dict(params)) if params is not None else None),
            ("context", _json_value("context", context) if context is not None else None),
            ("correlation_id", correlation_id),
        ):
            if value is not None:
                body[key] = value
        if explain:
            body["explain"] = True
        return "/v1/check", body, token

    def _plan_request(
        self,
        steps: Sequence[Mapping[str, Any]],
        correlation_id: str | None,
        explain: bool,
    ) -> _Request:
        if isinstance(steps, (str, bytes, Mapping)):
            raise TypeError("steps: expected a list of dicts, one per step")
        tokens = set()
        out_steps = []
        for i, step in enumerate(steps):
            if not isinstance(step, Mapping):
                raise TypeError(
                    f"steps[{i}]: expected a dict with `action` and optional `target`, "
                    f"`caller`, `params`, `context`, `explain`, got `{type(step).__name__}`"
                )
            s = _json_value(f"steps[{i}]", dict(step))
            caller = s.get("caller")
            if isinstance(caller, str):
                body_caller, token = self._split_caller(caller)
                if token is not None:
                    tokens.add(token)
                    del s["caller"]
                else:
                    s["caller"] = body_caller
            out_steps.append(s)
        if len(tokens) > 1:
            raise ValueError("steps of one plan must share one signed caller token")
        body: dict[str, Any] = {"steps": out_steps}
        if correlation_id is not None:
            body["correlation_id"] = correlation_id
        if explain:
            body["explain"] = True
        return "/v1/check-plan", body, next(iter(tokens), None)

    def _approval_request(
        self, decision: Decision, approver: str, approved: bool, comment: str | None
    ) -> _Request:
        if decision.result.value != "require_approval":
            raise ValueError(
                "only a `require_approval` decision can be approved or rejected, "
                f"this one is `{decision.result.value}`"
            )
        if not decision.audit_id:
            raise ValueError("the decision has no audit id: it was not logged by the sidecar")
        if not approver:
            raise ValueError("approver must not be empty")
        token = self._approver_token
        if token is None:
            raise RemoteError(
                f"{type(self).__name__}(approver_token=...) is needed to record approvals: "
                "the sidecar records only approvers with a signed token"
            )
        body: dict[str, Any] = {
            "audit_id": decision.audit_id,
            "approved": bool(approved),
            "approver_name": approver,
        }
        if comment is not None:
            body["comment"] = comment
        return "/v1/approvals", body, token

    # -- reading what came back -----------------------------------------------

    def _unreachable(self, reason: object) -> RemoteError:
        """No answer arrived (refused connection, timeout, reset, ...)."""
        return RemoteError(f"cannot reach the agent-safe sidecar at {self.url}: {reason}")

    @staticmethod
    def _refused(status: int, answer: bytes) -> RemoteError:
        """A status outside 2xx, with the sidecar's error body when it sent one."""
        code, message = None, f"HTTP {status}"
        try:
            err = _loads(answer)["error"]
            code, message = err.get("code"), err.get("message", message)
        except (ValueError, KeyError, TypeError, AttributeError):
            pass
        return RemoteError(
            f"agent-safe sidecar refused the request: {message}", status=status, code=code
        )

    def _read(self, answer: bytes, what: str, build: Callable[[Any], _T]) -> _T:
        """A 2xx answer, read strictly and given to `build`.

        `build` raises `ValueError`, `KeyError` or `TypeError` for a body of
        the wrong shape; every failure becomes `RemoteError`.
        """
        try:
            data = _loads(answer)
        except ValueError as e:
            # A repeated key (`"result": "deny", "result": "allow"`) or text
            # that is not JSON: never guess which answer was meant.
            raise RemoteError(
                f"the answer of the agent-safe sidecar at {self.url} is not valid JSON: {e}"
            ) from None
        try:
            return build(data)
        except (ValueError, KeyError, TypeError) as e:
            # Valid JSON of the wrong shape (a proxy's page, another service):
            # fail as loudly as for an unreachable sidecar, never half-read it.
            raise RemoteError(
                f"the answer of the agent-safe sidecar at {self.url} is not {what}: {e}"
            ) from None


def _opener() -> Any:
    """``urllib``'s opener, without following redirects.

    An answer from elsewhere is not the sidecar's answer: a 3xx is a refusal
    (`RemoteError` with its status), as in `AsyncRemoteAgentSafe`.
    """
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    return urllib.request.build_opener(NoRedirect)


def _event_id(receipt: Any) -> str:
    event_id = receipt["event_id"]
    if not isinstance(event_id, str) or not event_id:
        raise ValueError(f"`event_id` is {event_id!r}, expected a non-empty string")
    return event_id


class RemoteAgentSafe(_RemoteClient):
    """A client of the HTTP sidecar with the same ``check``/``check_plan`` API.

    ``RemoteAgentSafe("http://127.0.0.1:8400")`` sends ``POST /v1/check`` and
    ``POST /v1/check-plan`` and returns the same `Decision` and `Plan` types
    as `AgentSafe`. A ``caller`` that is a JWT is sent as ``Authorization:
    Bearer``; a plain agent id goes in the body. The sidecar evaluates at its
    own clock: there is no ``at``. Connection failures, timeouts, refused
    requests and answers that are not what was asked for raise `RemoteError`.

    Each call blocks its thread; in async code use `AsyncRemoteAgentSafe`.
    """

    def __init__(
        self, url: str, *, timeout: float = 5.0, approver_token: str | None = None
    ) -> None:
        """Point the client at a sidecar, e.g. ``http://127.0.0.1:8400``.

        ``timeout`` (seconds) bounds connecting and each read. ``approver_token``
        is the signed token (with an approver role, see
        ``identity.approver_roles``) that `record_approval` presents: the
        sidecar records only authenticated approvers.
        """
        super().__init__(url, timeout=timeout, approver_token=approver_token)

    def _post(self, request: _Request) -> bytes:
        # Imported here: `urllib.request` costs tens of milliseconds, and
        # `import agent_safe` should not pay them (see _lazy in __init__).
        import urllib.error
        import urllib.request

        path, body, token = request
        req = urllib.request.Request(
            self.url + path, data=self._encode(body), headers=self._headers(token), method="POST"
        )
        try:
            with _opener().open(req, timeout=self.timeout) as resp:
                return bytes(resp.read())
        except urllib.error.HTTPError as e:
            raise self._refused(e.code, e.read()) from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            raise self._unreachable(getattr(e, "reason", e)) from None

    def check(
        self,
        action: str,
        *,
        target: str | None = None,
        caller: str | None = None,
        params: Mapping[str, Any] | None = None,
        context: Any = None,
        correlation_id: str | None = None,
        explain: bool = False,
    ) -> Decision:
        """Ask the sidecar one question; see `AgentSafe.check`."""
        request = self._check_request(
            action, target, caller, params, context, correlation_id, explain
        )
        return self._read(self._post(request), "a decision", Decision.from_dict)

    def check_plan(
        self,
        steps: Sequence[Mapping[str, Any]],
        *,
        correlation_id: str | None = None,
        explain: bool = False,
    ) -> Plan:
        """Ask about every step of a plan under one correlation id.

        See `AgentSafe.check_plan`. The sidecar refuses what
        `AgentSafe.check_plan` refuses (an empty plan, unknown keys, ...):
        `RemoteError` with ``status`` 400 and ``code`` ``invalid_request``.

        A step's ``caller`` that is a JWT cannot travel in the body: give the
        token once as the ``caller`` of every step (it is sent as the bearer).
        """
        request = self._plan_request(steps, correlation_id, explain)
        return self._read(self._post(request), "a plan", Plan.from_dict)

    def record_approval(
        self,
        decision: Decision,
        *,
        approver: str,
        approved: bool,
        comment: str | None = None,
        params: Any = None,
    ) -> str:
        """Record a human's answer to a ``require_approval`` decision (``POST /v1/approvals``).

        The same call as `AgentSafe.record_approval`, over HTTP. The sidecar
        trusts only what it can check: the approver is the subject of
        ``approver_token`` (given to the constructor), ``approver`` is
        recorded beside it as the person's name; the decision is found in the
        sidecar's audit log by ``decision.audit_id``, and the action, target
        and params recorded are the logged ones (``params`` is accepted for
        signature compatibility and not sent). A decision is answered once,
        and never by the agent that asked. Returns the approval event id.

        Raises:
            ValueError: the decision is not ``require_approval`` or has no audit id.
            RemoteError: no ``approver_token``, or the sidecar refused (401 bad
                token, 403 no approver role or self-approval, 404 unknown
                decision, 409 already answered) or could not be reached.
        """
        del params  # the sidecar records the params of the logged decision
        request = self._approval_request(decision, approver, approved, comment)
        return self._read(self._post(request), "an approval receipt", _event_id)


# Public names say where to import them from (reprs, tracebacks, pickles).
for _public in (
    RemoteAgentSafe,
    RemoteError,
):
    _public.__module__ = "agent_safe"
del _public
