"""`AsyncRemoteAgentSafe` against the real `agent-safe serve` of the installed package.

The same answers as the local SDK and as `RemoteAgentSafe`, the same failures
(one table drives both clients), and the event loop keeps running while a
slow sidecar answers: a TCP proxy on loopback holds each connection before
forwarding it to the real sidecar.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import selectors
import shutil
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from agent_safe import (
    AgentSafe,
    AsyncRemoteAgentSafe,
    Decision,
    DecisionResult,
    Plan,
    RemoteAgentSafe,
    RemoteError,
)
from conftest import free_port, serve_project
from test_remote_approvals import CONFIG, DRAIN, INVENTORY, POLICIES

REPO = Path(__file__).resolve().parents[2]
STAGING_API = {"namespace": "staging", "deployment": "api"}
T = TypeVar("T")


def run(coro: Awaitable[T]) -> T:
    async def main() -> T:
        return await coro

    return asyncio.run(main())


@pytest.fixture
def parity_sidecar(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    project = tmp_path / "project"
    shutil.copytree(REPO / "tests" / "parity" / "project", project)
    with serve_project(project) as url:
        yield url, project


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
    """A project with an approval rule and a signing key (as test_remote_approvals)."""
    (tmp_path / "policies.yaml").write_text(POLICIES)
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    (tmp_path / "agent-safe.yaml").write_text(CONFIG)
    with serve_project(tmp_path) as url:
        yield Sidecar(url, tmp_path, AgentSafe(config=str(tmp_path / "agent-safe.yaml")))


class SlowProxy:
    """A TCP proxy on loopback that holds every new connection `delay` seconds
    before it forwards it, byte for byte, to `upstream` (the real sidecar)."""

    def __init__(self, upstream: str, delay: float) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.delay = delay
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return  # closed
            self.connections += 1
            threading.Thread(target=self._pipe, args=(client,), daemon=True).start()

    def _pipe(self, client: socket.socket) -> None:
        time.sleep(self.delay)
        try:
            upstream = socket.create_connection(self.upstream)
        except OSError:  # the sidecar stopped while this connection waited
            client.close()
            return
        with client, upstream:
            peer = {client: upstream, upstream: client}
            sel = selectors.DefaultSelector()
            for s in peer:
                sel.register(s, selectors.EVENT_READ)
            open_ends = 2
            while open_ends:
                for key, _ in sel.select(timeout=30):
                    src: socket.socket = key.fileobj  # type: ignore[assignment]
                    try:
                        data = src.recv(65536)
                    except OSError:
                        data = b""
                    if data:
                        peer[src].sendall(data)
                    else:
                        sel.unregister(src)
                        with contextlib.suppress(OSError):
                            peer[src].shutdown(socket.SHUT_WR)
                        open_ends -= 1

    def close(self) -> None:
        self.server.close()


@contextlib.contextmanager
def slow_proxy(upstream: str, delay: float) -> Iterator[SlowProxy]:
    proxy = SlowProxy(upstream, delay)
    try:
        yield proxy
    finally:
        proxy.close()


@contextlib.contextmanager
def fake_sidecar(status: int, body: bytes) -> Iterator[str]:
    """An HTTP server on loopback that answers every POST with `status` and `body`:
    what a proxy, a crashed sidecar or another service might send."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            if 300 <= status < 400:
                self.send_header("location", "/v1/check")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


# -- the same answers as the local SDK -------------------------------------------


def test_parity_cases_match_the_local_sdk_and_the_blocking_client(
    parity_sidecar: tuple[str, Path],
) -> None:
    url, project = parity_sidecar
    local = AgentSafe(
        config=str(project / "agent-safe.yaml"), audit_log=str(project / "local.jsonl")
    )
    blocking = RemoteAgentSafe(url, timeout=5)
    cases = json.loads((REPO / "tests" / "parity" / "cases.json").read_text())["cases"]

    async def main() -> None:
        async with AsyncRemoteAgentSafe(url, timeout=5) as remote:
            for case in cases:
                req = case["request"]
                caller = req.get("caller")
                if isinstance(caller, dict):
                    claims = caller["claims"]
                    caller = local.create_token(
                        claims["agent_id"], roles=claims.get("roles", ()), ttl=300
                    )
                kwargs = {
                    "target": req.get("target"),
                    "caller": caller,
                    "params": req.get("params"),
                }
                d = await remote.acheck(req["action"], **kwargs)
                assert isinstance(d, Decision)
                got = d.to_dict()
                for key, want in case["expect"].items():
                    if key == "reason_contains":
                        assert want in got["reason"], case["name"]
                    else:
                        assert got[key] == want, (case["name"], key, got)
                d_local = local.check(req["action"], **kwargs)
                d_blocking = blocking.check(req["action"], **kwargs)
                for other in (d_local, d_blocking):
                    assert d.result == other.result, case["name"]
                    assert d.policy_matched == other.policy_matched, case["name"]
                    assert d.reason == other.reason, case["name"]
                assert d.audit_id is not None

    run(main())


def test_plans(parity_sidecar: tuple[str, Path]) -> None:
    """acheck_plan, and tests/parity/requests.json: what the local SDK refuses
    the sidecar refuses, as `RemoteError` 400 `invalid_request`."""
    from test_parity import REQUESTS, _assert_plan, _strict, plan_args

    url, _ = parity_sidecar

    async def main() -> None:
        async with AsyncRemoteAgentSafe(url) as remote:
            plan = await remote.acheck_plan(
                [
                    {
                        "action": "restart-deployment",
                        "target": "staging/api",
                        "caller": "a",
                        "params": STAGING_API,
                    },
                    {
                        "action": "drain-node",
                        "target": "prod/node-1",
                        "caller": "a",
                        "params": {"node": "prod-node-1"},
                    },
                ],
                correlation_id="async-plan-1",
            )
            assert isinstance(plan, Plan)
            assert plan.result is DecisionResult.REQUIRE_APPROVAL
            assert plan.correlation_id == "async-plan-1"
            assert [s.plan_step for s in plan.steps] == [0, 1]

            for case in REQUESTS["plans"]:
                raw = _strict(case["plan"])
                if raw is None:
                    continue  # repeats a key: a Python dict cannot
                steps, kwargs = plan_args(raw)
                expect = case["expect"]
                if "error_contains" in expect:
                    with pytest.raises(RemoteError) as info:
                        await remote.acheck_plan(steps, **kwargs)
                    assert (info.value.status, info.value.code) == (400, "invalid_request")
                    assert expect["error_contains"] in info.value.message, case["name"]
                else:
                    got = await remote.acheck_plan(steps, **kwargs)
                    _assert_plan(case["name"], got.to_dict(), expect)

    run(main())


def test_many_concurrent_checks_are_all_answered_and_logged(sidecar: Sidecar) -> None:
    async def main() -> list[Decision]:
        async with AsyncRemoteAgentSafe(sidecar.url) as remote:
            return await asyncio.gather(
                *(
                    remote.acheck(
                        "restart-deployment",
                        target="staging/api",
                        caller=f"agent-{i}",
                        params=STAGING_API,
                        correlation_id=f"concurrent-{i:03}",
                    )
                    for i in range(64)
                )
            )

    decisions = run(main())
    assert {d.result for d in decisions} == {DecisionResult.ALLOW}
    assert sorted(d.correlation_id or "" for d in decisions) == [
        f"concurrent-{i:03}" for i in range(64)
    ]
    logged = [e["event_id"] for e in sidecar.events() if e["kind"] == "decision"]
    assert sorted(logged) == sorted(d.audit_id or "" for d in decisions)
    assert sidecar.local.verify_audit(sidecar.root / "audit").ok


# -- approvals ---------------------------------------------------------------------


def test_arecord_approval(sidecar: Sidecar) -> None:
    token = sidecar.local.create_token("alice@example.com", roles=["approver"])

    async def main() -> None:
        async with AsyncRemoteAgentSafe(sidecar.url, approver_token=token) as remote:
            assert "eyJ" not in repr(remote)
            d = await remote.acheck(
                "drain-node", target="prod/node-1", caller="ops-agent", params=DRAIN
            )
            assert d.result is DecisionResult.REQUIRE_APPROVAL
            event_id = await remote.arecord_approval(
                d, approver="Alice", approved=False, comment="not now"
            )
            ev = sidecar.events()[-1]
            assert ev["event_id"] == event_id
            assert ev["kind"] == "approval"
            assert ev["decision"] == "reject"
            assert ev["caller"] == "alice@example.com"
            assert ev["context"]["audit_id"] == d.audit_id
            with pytest.raises(RemoteError) as e:
                await remote.arecord_approval(d, approver="Alice", approved=True)
            assert (e.value.status, e.value.code) == (409, "not_pending")

    run(main())


def test_arecord_approval_refusals(sidecar: Sidecar) -> None:
    no_role = sidecar.local.create_token("bob", roles=["deployer"])

    async def main() -> None:
        async with AsyncRemoteAgentSafe(sidecar.url) as remote:
            d = await remote.acheck(
                "drain-node", target="prod/node-1", caller="ops-agent", params=DRAIN
            )
            with pytest.raises(RemoteError, match=r"AsyncRemoteAgentSafe\(approver_token=...\)"):
                await remote.arecord_approval(d, approver="Alice", approved=True)
            allowed = await remote.acheck(
                "restart-deployment", target="staging/api", caller="a", params=STAGING_API
            )
            with pytest.raises(ValueError, match="only a `require_approval` decision"):
                await remote.arecord_approval(allowed, approver="Alice", approved=True)
        async with AsyncRemoteAgentSafe(sidecar.url, approver_token=no_role) as remote:
            with pytest.raises(RemoteError) as e:
                await remote.arecord_approval(d, approver="Bob", approved=True)
            assert (e.value.status, e.value.code) == (403, "forbidden")

    run(main())
    with pytest.raises(ValueError, match="signed token"):
        AsyncRemoteAgentSafe(sidecar.url, approver_token="alice")


# -- the same failures as the blocking client ---------------------------------------

DECISION_WITH_TWO_RESULTS = (
    b'{"result": "deny", "reason": "r", "policy_matched": null, "action": "a",'
    b' "action_version": null, "target": null, "caller": null, "risk_class": "critical",'
    b' "effective_risk": "critical", "audit_id": null, "correlation_id": "c",'
    b' "evaluated_at": "2026-01-01T00:00:00Z", "result": "allow"}'
)


@dataclass(frozen=True)
class Failure:
    name: str
    status: int  # what the fake sidecar answers
    body: bytes
    want_status: int | None
    want_code: str | None
    message: str  # a fragment of RemoteError.message


FAILURES = [
    Failure("a refusal with the sidecar's error body", 503, b'{"error": {"code": "overloaded",'
            b' "message": "too many requests in flight"}}', 503, "overloaded",
            "refused the request: too many requests in flight"),
    Failure("a 500 page that is not JSON", 500, b"<html>oops</html>", 500, None,
            "refused the request: HTTP 500"),
    Failure("an error body of the wrong shape", 502, b'{"error": "bad gateway"}', 502, None,
            "refused the request: HTTP 502"),
    Failure("a redirect is not followed", 307, b"", 307, None, "refused the request: HTTP 307"),
    Failure("a redirect to a GET is not followed", 302, b"", 302, None,
            "refused the request: HTTP 302"),
    Failure("a 2xx that is not JSON", 200, b"allow", None, None, "is not valid JSON"),
    Failure("a 2xx with a repeated key", 200, DECISION_WITH_TWO_RESULTS, None, None,
            "is not valid JSON: duplicate key 'result'"),
    Failure("a 2xx that is JSON but no decision", 200, b'{"ok": true}', None, None,
            "is not a decision: not a valid decision: missing field `result`"),
    Failure("an empty 2xx", 204, b"", None, None, "is not valid JSON"),
]  # fmt: skip


def _blocking(url: str, timeout: float = 5) -> Callable[[], Decision]:
    return lambda: RemoteAgentSafe(url, timeout=timeout).check("restart-deployment")


def _async(url: str, timeout: float = 5) -> Callable[[], Decision]:
    async def main() -> Decision:
        async with AsyncRemoteAgentSafe(url, timeout=timeout) as c:
            return await c.acheck("restart-deployment")

    return lambda: asyncio.run(main())


def _outcome(call: Callable[[], Decision]) -> tuple[int | None, str | None, str]:
    with pytest.raises(RemoteError) as info:
        call()
    e = info.value
    assert str(e) == e.message
    return e.status, e.code, e.message


@pytest.mark.parametrize("failure", FAILURES, ids=lambda f: f.name)
def test_both_clients_fail_closed_the_same_way(failure: Failure) -> None:
    with fake_sidecar(failure.status, failure.body) as url:
        blocking = _outcome(_blocking(url))
        asynchronous = _outcome(_async(url))
    assert blocking == asynchronous
    status, code, message = asynchronous
    assert (status, code) == (failure.want_status, failure.want_code)
    assert failure.message in message, message


def test_a_malformed_approval_receipt_is_a_remote_error(sidecar: Sidecar) -> None:
    token = sidecar.local.create_token("alice@example.com", roles=["approver"])
    d = RemoteAgentSafe(sidecar.url).check(
        "drain-node", target="prod/node-1", caller="ops-agent", params=DRAIN
    )

    async def arecord(url: str) -> str:
        async with AsyncRemoteAgentSafe(url, approver_token=token) as c:
            return await c.arecord_approval(d, approver="Alice", approved=True)

    with fake_sidecar(201, b'{"event": "e1"}') as url:
        with pytest.raises(RemoteError, match="is not an approval receipt: 'event_id'"):
            RemoteAgentSafe(url, approver_token=token).record_approval(
                d, approver="Alice", approved=True
            )
        with pytest.raises(RemoteError, match="is not an approval receipt: 'event_id'"):
            run(arecord(url))


def test_unreachable_sidecar() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for call in (_blocking(url, 1), _async(url, 1)):
        status, code, message = _outcome(call)
        assert (status, code) == (None, None)
        assert message.startswith(f"cannot reach the agent-safe sidecar at {url}: ")


def test_a_sidecar_slower_than_the_timeout(parity_sidecar: tuple[str, Path]) -> None:
    url, _ = parity_sidecar
    with slow_proxy(url, delay=3) as proxy:
        for call in (_blocking(proxy.url, 0.4), _async(proxy.url, 0.4)):
            start = time.perf_counter()
            outcome = _outcome(call)
            assert time.perf_counter() - start < 2.5
            assert outcome == (
                None,
                None,
                f"cannot reach the agent-safe sidecar at {proxy.url}: timed out",
            )


def test_values_without_one_json_form_are_refused_before_sending() -> None:
    """The same TypeError/ValueError as `AgentSafe.check`, and nothing is sent."""
    # Nothing listens there: reaching the network would be a RemoteError.
    remote = AsyncRemoteAgentSafe(f"http://127.0.0.1:{free_port()}", timeout=1)
    int_keys: dict[Any, str] = {1: "kube-system", "1": "staging"}
    with pytest.raises(TypeError, match="dict keys must be str"):
        run(remote.acheck("restart-deployment", params=int_keys))
    with pytest.raises(ValueError, match="NaN"):
        run(remote.acheck("restart-deployment", context={"x": float("nan")}))
    step: dict[str, Any] = {"action": "a", "params": {2: "x"}}
    with pytest.raises(TypeError, match=r"steps\[0\]\[\"params\"\]"):
        run(remote.acheck_plan([step]))
    not_a_step: Any = "restart-deployment"
    with pytest.raises(TypeError, match="steps: expected a list"):
        run(remote.acheck_plan(not_a_step))


def test_options_lifecycle_and_missing_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="http"):
        AsyncRemoteAgentSafe("127.0.0.1:8400")
    with pytest.raises(ValueError, match="timeout"):
        AsyncRemoteAgentSafe("http://x", timeout=0)
    url = f"http://127.0.0.1:{free_port()}"

    async def main() -> None:
        async with AsyncRemoteAgentSafe(url + "/", timeout=1.5) as c:
            assert repr(c) == f"AsyncRemoteAgentSafe('{url}', timeout=1.5)"
            assert not c.closed
        assert c.closed
        with pytest.raises(RuntimeError, match="is closed"):
            await c.acheck("restart-deployment")
        await c.aclose()  # twice is fine

    run(main())
    monkeypatch.setitem(sys.modules, "httpx", None)
    with pytest.raises(ImportError, match=r"pip install 'agent-safe\[remote\]'"):
        AsyncRemoteAgentSafe(url)


# -- the event loop is never blocked -------------------------------------------------


async def _ticks_during(check: Callable[[], Awaitable[Decision]]) -> tuple[Decision, int, float]:
    """Runs `check` while another task ticks every 10 ms; returns the decision, the
    ticks counted while the check ran, and how long it took."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)  # the ticker runs
    before, start = ticks, time.perf_counter()
    decision = await check()
    elapsed, during = time.perf_counter() - start, ticks - before
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return decision, during, elapsed


def test_the_event_loop_keeps_running_while_a_slow_sidecar_answers(
    parity_sidecar: tuple[str, Path],
) -> None:
    url, _ = parity_sidecar
    delay = 0.8
    kwargs: dict[str, Any] = {"target": "staging/api", "caller": "a", "params": STAGING_API}
    with slow_proxy(url, delay) as proxy:

        async def main() -> None:
            async with AsyncRemoteAgentSafe(proxy.url) as remote:
                d, ticks, elapsed = await _ticks_during(
                    lambda: remote.acheck("restart-deployment", **kwargs)
                )
                assert d.result is DecisionResult.ALLOW
                assert elapsed >= delay
                # 80 at 10 ms a tick on an idle machine; a loaded one ticks less
                # often, but a blocked loop cannot tick at all.
                assert ticks >= 20, (ticks, elapsed)

                # Ten slow checks at once take about one delay, not ten.
                start = time.perf_counter()
                many = await asyncio.gather(
                    *(remote.acheck("restart-deployment", **kwargs) for _ in range(10))
                )
                assert {m.result for m in many} == {DecisionResult.ALLOW}
                assert time.perf_counter() - start < 5 * delay

            # The control: the blocking client, called on the loop, stops it
            # for the whole delay. This is what the test above would catch.
            blocking = RemoteAgentSafe(proxy.url)

            async def blocking_check() -> Decision:
                return blocking.check("restart-deployment", **kwargs)

            d, ticks, elapsed = await _ticks_during(blocking_check)
            assert d.result is DecisionResult.ALLOW
            assert elapsed >= delay
            assert ticks <= 1, ticks

        run(main())
        # Each check above but those that reused a pooled connection waited.
        assert proxy.connections >= 10
