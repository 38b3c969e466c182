"""`RemoteAgentSafe`: the same questions, asked of an `agent-safe serve` sidecar."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from agent_safe import _native
from agent_safe._errors import AgentSafeError
from agent_safe._native import Decision, Plan

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


class RemoteAgentSafe:
    """A client of the HTTP sidecar with the same ``check``/``check_plan`` API.

    ``RemoteAgentSafe("http://127.0.0.1:8400")`` sends ``POST /v1/check`` and
    ``POST /v1/check-plan`` and returns the same `Decision` and `Plan` types
    as `AgentSafe`. A ``caller`` that is a JWT is sent as ``Authorization:
    Bearer``; a plain agent id goes in the body. The sidecar evaluates at its
    own clock: there is no ``at``. Connection failures, timeouts and refused
    requests raise `RemoteError`.
    """

    def __init__(
        self, url: str, *, timeout: float = 5.0, approver_token: str | None = None
    ) -> None:
        """Point the client at a sidecar, e.g. ``http://127.0.0.1:8400``.

        ``approver_token`` is the signed token (with an approver role, see
        ``identity.approver_roles``) that `record_approval` presents: the
        sidecar records only authenticated approvers.
        """
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
        return f"RemoteAgentSafe({self.url!r}, timeout={self.timeout}{approver})"

    def _post(self, path: str, body: dict[str, Any], token: str | None) -> Any:
        data = json.dumps(body, allow_nan=False).encode()
        headers = {"content-type": "application/json", "accept": "application/json"}
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                answer = resp.read()
        except urllib.error.HTTPError as e:
            code, message = None, f"HTTP {e.code}"
            try:
                err = _loads(e.read())["error"]
                code, message = err.get("code"), err.get("message", message)
            except (ValueError, KeyError, TypeError):
                pass
            raise RemoteError(
                f"agent-safe sidecar refused the request: {message}", status=e.code, code=code
            ) from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise RemoteError(
                f"cannot reach the agent-safe sidecar at {self.url}: {reason}"
            ) from None
        try:
            return _loads(answer)
        except ValueError as e:
            # A repeated key (`"result": "deny", "result": "allow"`) or text
            # that is not JSON: never guess which answer was meant.
            raise RemoteError(
                f"the answer of the agent-safe sidecar at {self.url} is not valid JSON: {e}"
            ) from None

    @staticmethod
    def _split_caller(caller: str | None) -> tuple[str | None, str | None]:
        """(body caller, bearer token)."""
        if caller is not None and _JWT.match(caller):
            return None, caller
        return caller, None

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
        return Decision.from_dict(self._post("/v1/check", body, token))

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
        return Plan.from_dict(self._post("/v1/check-plan", body, next(iter(tokens), None)))

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
                "RemoteAgentSafe(approver_token=...) is needed to record approvals: "
                "the sidecar records only approvers with a signed token"
            )
        body: dict[str, Any] = {
            "audit_id": decision.audit_id,
            "approved": bool(approved),
            "approver_name": approver,
        }
        if comment is not None:
            body["comment"] = comment
        receipt = self._post("/v1/approvals", body, token)
        return str(receipt["event_id"])
