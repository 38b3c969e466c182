"""The LangGraph Kubernetes demo (examples/k8s_agent), end to end and non-interactive.

What reached "the cluster" is read from the simulated API server's record of
the requests it received; what agent-safe decided is read from the audit log.
Needs the `langchain` extra and `kubernetes`, and the repository's examples/.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("langchain.agents", reason="needs the `langchain` extra")
pytest.importorskip("kubernetes", reason="needs the `kubernetes` client (the `langchain` extra)")

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "k8s_agent"
if not (DEMO / "demo.py").exists():  # pragma: no cover - tests copied out of the repository
    pytest.skip("examples/k8s_agent is not next to these tests", allow_module_level=True)


@pytest.fixture(scope="module")
def demo() -> Any:
    sys.path.insert(0, str(REPO))
    try:
        from examples.k8s_agent import demo as module

        yield module
    finally:
        sys.path.remove(str(REPO))


def run(demo: Any, tmp_path: Path, **kwargs: Any) -> tuple[Any, str]:
    out = io.StringIO()
    result = demo.run_demo(workdir=tmp_path / "work", out=out, **kwargs)
    return result, out.getvalue()


def drain_call_id(result: Any) -> str:
    (cid,) = {e["correlation_id"] for e in result.events if e["action"] == "drain-node"}
    return str(cid)


def checks(result: Any) -> list[dict[str, Any]]:
    return [e for e in result.events if e["kind"] == "decision"]


def assert_allowed_restart_reached_the_api(result: Any) -> None:
    patches = [r for r in result.requests["a"] if r.method == "PATCH"]
    assert [r.path for r in patches] == ["/apis/apps/v1/namespaces/staging/deployments/api"]
    annotations = patches[0].body["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations
    assert patches[0].content_type == "application/strategic-merge-patch+json"
    (restart,) = [e for e in checks(result) if e["action"] == "restart-deployment"]
    assert (restart["decision"], restart["target"], restart["caller"]) == (
        "allow",
        "staging/api",
        "k8s-demo-agent",
    )


def assert_denied_scale_sent_nothing(result: Any) -> None:
    assert result.requests["b"] == []
    (scale,) = [e for e in checks(result) if e["action"] == "scale-deployment"]
    assert (scale["decision"], scale["target"], scale["policy_matched"]) == (
        "deny",
        "prod/api",
        "deny-scaling-prod",
    )
    # The model got the refusal as an error ToolMessage.
    (msg,) = [m for m in result.messages if getattr(m, "name", None) == "scale_deployment"]
    assert msg.status == "error"
    assert "autoscalers" in msg.content


def assert_linked_approval(result: Any, decision: str) -> None:
    cid = drain_call_id(result)
    linked = [e for e in result.events if e["correlation_id"] == cid]
    assert [(e["kind"], e["decision"]) for e in linked] == [
        ("decision", "require_approval"),  # the first check: the run pauses
        ("decision", "require_approval"),  # the re-check when the run resumes
        ("approval", decision),  # the human's answer
    ]
    approval = linked[2]
    assert approval["caller"] == "on-call-sre"
    assert approval["context"]["audit_id"] == linked[1]["event_id"]
    assert result.report.ok
    assert result.report.events == len(result.events)


def test_demo_approve(demo: Any, tmp_path: Path) -> None:
    result, out = run(demo, tmp_path, approve=True)

    assert_allowed_restart_reached_the_api(result)
    assert_denied_scale_sent_nothing(result)

    # (c) approved: the cordon and the evictions reached the API server.
    drain = result.requests["c"]
    node_patches = [r for r in drain if r.method == "PATCH"]
    assert [(r.path, r.body) for r in node_patches] == [
        ("/api/v1/nodes/prod-node-1", {"spec": {"unschedulable": True}})
    ]
    evictions = [r for r in drain if r.method == "POST"]
    assert len(evictions) == 4  # the prod pods on prod-node-1; the DaemonSet pod stays
    for r in evictions:
        assert r.path.startswith("/api/v1/namespaces/prod/pods/")
        assert r.path.endswith("/eviction")
        assert r.body["kind"] == "Eviction"
        assert r.body["metadata"]["name"] == r.path.split("/")[-2]
    assert drain.index(node_patches[0]) < drain.index(evictions[0])  # cordon first
    assert result.api.cluster.nodes["prod-node-1"]["spec"]["unschedulable"] is True
    assert not [
        p
        for p in result.api.cluster.pods.values()
        if p["spec"]["nodeName"] == "prod-node-1" and p["metadata"]["namespace"] == "prod"
    ]

    assert_linked_approval(result, "approve")
    assert [a["type"] for a in result.answers] == ["approve"]
    assert "SIMULATED" in out
    assert "APPROVE" in out
    assert "hash chain intact" in out


def test_demo_reject(demo: Any, tmp_path: Path) -> None:
    result, out = run(demo, tmp_path, approve=False)

    assert_allowed_restart_reached_the_api(result)
    assert_denied_scale_sent_nothing(result)
    # (c) rejected: nothing reached the API server.
    assert result.requests["c"] == []
    assert not result.api.cluster.nodes["prod-node-1"]["spec"].get("unschedulable")
    (msg,) = [m for m in result.messages if getattr(m, "name", None) == "drain_node"]
    assert msg.status == "error"
    assert "rejected" in msg.content
    assert_linked_approval(result, "reject")
    assert "REJECT" in out


def test_every_mutating_request_of_the_run_is_accounted_for(demo: Any, tmp_path: Path) -> None:
    result, _ = run(demo, tmp_path, approve=True)
    everything = result.api.received()
    assert len(everything) == sum(len(r) for r in result.requests.values())
    mutating = [str(r) for r in everything if r.mutating]
    assert mutating[0] == "PATCH /apis/apps/v1/namespaces/staging/deployments/api"
    assert mutating[1] == "PATCH /api/v1/nodes/prod-node-1"
    assert all("eviction" in m for m in mutating[2:])
    assert not any("/scale" in m for m in mutating)


def test_dry_run_sends_dry_run_all_and_changes_nothing(demo: Any, tmp_path: Path) -> None:
    result, out = run(demo, tmp_path, approve=True, dry_run=True)
    mutating = [r for r in result.api.received() if r.mutating]
    assert mutating
    assert all(r.query.get("dryRun") == "All" for r in mutating)
    assert not result.api.cluster.nodes["prod-node-1"]["spec"].get("unschedulable")
    dep = result.api.cluster.deployments[("staging", "api")]
    assert dep["metadata"]["generation"] == 1
    assert "dry run" in out


def test_interactive_prompt(demo: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("builtins.input", lambda prompt="": "y")
    result, _ = run(demo, tmp_path / "yes")
    assert len([r for r in result.requests["c"] if r.method == "POST"]) == 4
    assert_linked_approval(result, "approve")

    def closed(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr("builtins.input", closed)
    result, _ = run(demo, tmp_path / "eof")
    assert result.requests["c"] == []  # no answer is no approval
    assert_linked_approval(result, "reject")


def test_the_audit_log_verifies_with_the_cli(demo: Any, tmp_path: Path) -> None:
    from agent_safe import _native

    result, _ = run(demo, tmp_path, approve=True)
    assert _native.run_cli(["agent-safe", "audit", "verify", str(result.audit_path)]) == 0


def test_the_demo_project_passes_its_policy_tests() -> None:
    from agent_safe import _native

    config = str(DEMO / "project" / "agent-safe.yaml")
    assert _native.run_cli(["agent-safe", "--config", config, "validate"]) == 0
    assert _native.run_cli(["agent-safe", "--config", config, "test"]) == 0


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (["-m", "examples.k8s_agent", "--approve"], "APPROVE by on-call-sre"),
        ([str(DEMO / "run.py"), "--reject"], "REJECT by on-call-sre"),
    ],
)
def test_command_line(tmp_path: Path, argv: list[str], expect: str) -> None:
    env = {**os.environ, "PYTHONPATH": ""}
    proc = subprocess.run(
        [sys.executable, *argv, "--workdir", str(tmp_path)],
        cwd=REPO if argv[0] == "-m" else tmp_path,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "SIMULATED API server" in proc.stdout
    assert expect in proc.stdout
    assert "hash chain intact" in proc.stdout
    assert (tmp_path / "audit.jsonl").exists()
