"""`RemoteAgentSafe` against the real `agent-safe serve` of the installed package."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_safe import AgentSafe, DecisionResult, RemoteAgentSafe, RemoteError

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    project = tmp_path / "project"
    shutil.copytree(REPO / "tests" / "parity" / "project", project)
    port = free_port()
    exe = Path(sys.executable).parent / "agent-safe"
    proc = subprocess.Popen(
        [str(exe), "serve", "--listen", f"127.0.0.1:{port}", "--no-watch", "--log", "json"],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("the sidecar did not become ready")
        yield url, project
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


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
