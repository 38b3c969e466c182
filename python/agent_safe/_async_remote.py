"""`AsyncRemoteAgentSafe`: `RemoteAgentSafe` for asyncio, on httpx.

The bodies sent and the errors raised are `_RemoteClient`'s, shared with the
blocking client; only the transport is httpx's ``AsyncClient`` here, so a check
waits on the network without holding the event loop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from agent_safe._native import Decision, Plan
from agent_safe._remote import _event_id, _RemoteClient, _Request

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["AsyncRemoteAgentSafe"]


class AsyncRemoteAgentSafe(_RemoteClient):
    """`RemoteAgentSafe` for async code: ``await client.acheck(...)``.

    The same constructor options, the same request bodies and the same
    answers (`Decision`, `Plan`, the approval event id) as `RemoteAgentSafe`,
    and the same failures: connection errors, timeouts, refused requests and
    answers that are not what was asked for raise `RemoteError`; values with
    no JSON form raise `TypeError`/`ValueError` before anything is sent.
    Nothing is ever silently allowed.

    It keeps a pool of connections (httpx's ``AsyncClient``): use it as
    ``async with AsyncRemoteAgentSafe(url) as client: ...`` or call
    `aclose` when done. Needs httpx (``pip install 'agent-safe[remote]'``).
    """

    def __init__(
        self, url: str, *, timeout: float = 5.0, approver_token: str | None = None
    ) -> None:
        """Point the client at a sidecar, e.g. ``http://127.0.0.1:8400``.

        ``timeout`` (seconds) bounds connecting and each read, as for
        `RemoteAgentSafe`. ``approver_token`` is the signed token with an
        approver role that `arecord_approval` presents.
        """
        super().__init__(url, timeout=timeout, approver_token=approver_token)
        try:
            import httpx
        except ImportError:
            raise ImportError(
                "AsyncRemoteAgentSafe needs httpx: pip install 'agent-safe[remote]'"
            ) from None
        # No redirects: an answer from elsewhere is not the sidecar's answer
        # (a 3xx is a refusal, as the blocking client ends up treating it).
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections; later calls raise `RuntimeError`."""
        await self._client.aclose()

    @property
    def closed(self) -> bool:
        """Whether `aclose` was called (or the ``async with`` block ended)."""
        return bool(self._client.is_closed)

    async def _apost(self, request: _Request) -> bytes:
        path, body, token = request
        if self._client.is_closed:
            raise RuntimeError(f"{self!r} is closed: make a new client")
        import httpx  # loaded by the constructor: a dict lookup here

        try:
            resp = await self._client.post(
                self.url + path, content=self._encode(body), headers=self._headers(token)
            )
        except httpx.TimeoutException:
            raise self._unreachable("timed out") from None
        except httpx.TransportError as e:
            raise self._unreachable(str(e) or type(e).__name__) from None
        if not 200 <= resp.status_code < 300:
            raise self._refused(resp.status_code, resp.content)
        return resp.content

    async def acheck(
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
        """Ask the sidecar one question; see `RemoteAgentSafe.check`."""
        request = self._check_request(
            action, target, caller, params, context, correlation_id, explain
        )
        return self._read(await self._apost(request), "a decision", Decision.from_dict)

    async def acheck_plan(
        self,
        steps: Sequence[Mapping[str, Any]],
        *,
        correlation_id: str | None = None,
        explain: bool = False,
    ) -> Plan:
        """Ask about every step of a plan; see `RemoteAgentSafe.check_plan`."""
        request = self._plan_request(steps, correlation_id, explain)
        return self._read(await self._apost(request), "a plan", Plan.from_dict)

    async def arecord_approval(
        self,
        decision: Decision,
        *,
        approver: str,
        approved: bool,
        comment: str | None = None,
        params: Any = None,
    ) -> str:
        """Record a human's answer; see `RemoteAgentSafe.record_approval`.

        Returns the approval event id. Raises `ValueError` for a decision that
        is not ``require_approval`` (or has no audit id), `RemoteError` without
        an ``approver_token`` or when the sidecar refuses or cannot be reached.
        """
        del params  # the sidecar records the params of the logged decision
        request = self._approval_request(decision, approver, approved, comment)
        return self._read(await self._apost(request), "an approval receipt", _event_id)


# Public names say where to import them from (reprs, tracebacks, pickles).
for _public in (AsyncRemoteAgentSafe,):
    _public.__module__ = "agent_safe"
del _public
