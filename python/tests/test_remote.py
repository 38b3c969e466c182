"""`RemoteAgentSafe` against the real `agent-safe serve` of the installed package."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_safe import AgentSafe, DecisionResult, RemoteAgentSafe, RemoteError
from conftest import free_port, serve_project

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    project = tmp_path / "project"
    shutil.copytree(REPO / "tests" / "parity" / "project", project)
    with serve_project(project) as url:
        yield url, project


def test_parity_cases_over_http_match_the_local_sdk(sidecar: tuple[str, Path]) -> None:
    url, project = sidecar
    remote = RemoteAgentSafe(url, timeout=5)
    local = AgentSafe(
        config=str(project / "agent-safe.yaml"), audit_log=str(project / "local.jsonl")
    )
    cases = json.loads((REPO / "tests" / "parity" / "cases.json").read_text())["cases"]
    for case in cases:
        req = case["request"]
        caller = req.get("caller")
        if isinstance(caller, dict):
            claims = caller["claims"]
            caller = local.create_token(claims["agent_id"], roles=claims.get("roles", ()), ttl=300)
        kwargs = {"target": req.get("target"), "caller": caller, "params": req.get("params")}
        d_remote = remote.check(req["action"], **kwargs)
        d_local = local.check(req["action"], **kwargs)
        for key, want in case["expect"].items():
            got = d_remote.to_dict()
            if key == "reason_contains":
                assert want in got["reason"], case["name"]
            else:
                assert got[key] == want, (case["name"], key, got)
        assert d_remote.result == d_local.result, case["name"]
        assert d_remote.policy_matched == d_local.policy_matched, case["name"]
        assert d_remote.audit_id is not None


def test_plan_over_http(sidecar: tuple[str, Path]) -> None:
    url, _ = sidecar
    plan = RemoteAgentSafe(url).check_plan(
        [
            {
                "action": "restart-deployment",
                "target": "staging/api",
                "caller": "a",
                "params": {"namespace": "staging", "deployment": "api"},
            },
            {
                "action": "drain-node",
                "target": "prod/node-1",
                "caller": "a",
                "params": {"node": "prod-node-1"},
            },
        ],
        correlation_id="remote-plan-1",
    )
    assert plan.result is DecisionResult.REQUIRE_APPROVAL
    assert plan.correlation_id == "remote-plan-1"
    assert [s.plan_step for s in plan.steps] == [0, 1]


def test_connection_errors_raise_clearly() -> None:
    remote = RemoteAgentSafe(f"http://127.0.0.1:{free_port()}", timeout=1)
    with pytest.raises(RemoteError, match="cannot reach the agent-safe sidecar"):
        remote.check("restart-deployment")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="http"):
        RemoteAgentSafe("127.0.0.1:8400")
    with pytest.raises(ValueError, match="timeout"):
        RemoteAgentSafe("http://x", timeout=0)


def test_plan_reading_cases_match_the_local_sdk(sidecar: tuple[str, Path]) -> None:
    """tests/parity/requests.json: the sidecar refuses what the local SDK refuses."""
    from test_parity import REQUESTS, _assert_plan, _strict, plan_args

    url, _ = sidecar
    remote = RemoteAgentSafe(url, timeout=5)
    for case in REQUESTS["plans"]:
        plan = _strict(case["plan"])
        if plan is None:
            continue  # repeats a key: a Python dict cannot
        steps, kwargs = plan_args(plan)
        expect = case["expect"]
        if "error_contains" in expect:
            with pytest.raises(RemoteError) as info:
                remote.check_plan(steps, **kwargs)
            assert (info.value.status, info.value.code) == (400, "invalid_request"), case["name"]
            assert expect["error_contains"] in info.value.message, case["name"]
        else:
            _assert_plan(case["name"], remote.check_plan(steps, **kwargs).to_dict(), expect)


def test_values_without_one_json_form_are_refused_before_sending() -> None:
    """What the local SDK refuses is not sent: `json.dumps` would turn `{1: a, "1": b}`
    into a body with a repeated key, and NaN into text that is not JSON."""

    class Key(str):
        __slots__ = ()

        def __hash__(self) -> int:
            return id(self)

        def __eq__(self, other: object) -> bool:
            return self is other

    # Nothing listens there: reaching the network would be a RemoteError.
    remote = RemoteAgentSafe(f"http://127.0.0.1:{free_port()}", timeout=1)
    int_keys: dict[Any, str] = {1: "kube-system", "1": "staging"}
    with pytest.raises(TypeError, match="dict keys must be str"):
        remote.check("restart-deployment", params=int_keys)
    with pytest.raises(ValueError, match=r'params\["namespace"\]: duplicate key'):
        remote.check(
            "restart-deployment",
            params={Key("namespace"): "kube-system", Key("namespace"): "staging"},
        )
    with pytest.raises(ValueError, match="NaN"):
        remote.check("restart-deployment", context={"x": float("nan")})
    step: dict[str, Any] = {"action": "a", "params": {2: "x"}}
    with pytest.raises(TypeError, match=r"steps\[0\]\[\"params\"\]"):
        remote.check_plan([step])
    not_a_step: Any = "restart-deployment"
    with pytest.raises(TypeError, match=r"steps\[0\]: expected a dict"):
        remote.check_plan([not_a_step])


def test_an_answer_with_a_repeated_key_is_refused() -> None:
    """A proxy (or anything else) answering `"result": "deny", ..., "result": "allow"`
    gets a RemoteError, never the last value."""
    import http.server
    import threading

    body = (
        b'{"result": "deny", "reason": "r", "policy_matched": null, "action": "a",'
        b' "action_version": null, "target": null, "caller": null, "risk_class": "critical",'
        b' "effective_risk": "critical", "audit_id": null, "correlation_id": "c",'
        b' "evaluated_at": "2026-01-01T00:00:00Z", "result": "allow"}'
    )

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["content-length"]))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        remote = RemoteAgentSafe(f"http://127.0.0.1:{server.server_address[1]}", timeout=5)
        with pytest.raises(RemoteError, match="not valid JSON: duplicate key 'result'"):
            remote.check("a")
    finally:
        server.shutdown()
        server.server_close()
