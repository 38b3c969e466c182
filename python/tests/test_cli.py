"""The `agent-safe` console script (the Rust CLI inside the wheel), and
decisions identical to the SDK's."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import agent_safe
import pytest
from agent_safe import AgentSafe
from conftest import STAGING_API, cli, cli_json, run_cli

AT = "2026-03-07T02:30:00Z"

REQUESTS: list[dict[str, Any]] = [
    {
        "action": "restart-deployment",
        "target": "staging/api",
        "caller": "any-agent",
        "params": STAGING_API,
    },
    {
        "action": "restart-deployment",
        "caller": "any-agent",
        "params": {"namespace": "staging", "deployment": "web"},
    },
    {
        "action": "drain-node",
        "target": "prod/node-1",
        "caller": "ops-agent",
        "params": {"node": "prod-node-1"},
    },
    {"action": "reboot-cluster", "target": "prod/api", "caller": "any-agent", "params": {}},
    {
        "action": "scale-deployment",
        "target": "staging/api",
        "caller": "any-agent",
        "params": {"namespace": "staging", "replicas": "three", "colour": "blue"},
    },
    {"action": "rollout-status", "target": "staging/api", "params": STAGING_API},
    {
        "action": "restart-deployment",
        "target": "staging/api",
        "caller": "eyJhbGciOiJub25lIn0.e30.",
        "params": STAGING_API,
    },
]


def cli_check(config: Path, req: dict[str, Any], *extra: str) -> dict[str, Any]:
    args = [
        "--config",
        str(config),
        "check",
        req["action"],
        "--params",
        json.dumps(req["params"]),
        "--at",
        AT,
        "--correlation-id",
        "parity-corr",
        *extra,
    ]
    if "target" in req:
        args += ["--target", req["target"]]
    if "caller" in req:
        args += ["--caller", req["caller"]]
    return cli_json(*args)  # type: ignore[no-any-return]


@pytest.mark.parametrize("explain", [False, True])
@pytest.mark.parametrize(
    "req", REQUESTS, ids=[f"{r['action']}-{i}" for i, r in enumerate(REQUESTS)]
)
def test_to_dict_equals_the_cli_json(
    safe: AgentSafe, config: Path, req: dict[str, Any], explain: bool
) -> None:
    d = safe.check(
        req["action"],
        target=req.get("target"),
        caller=req.get("caller"),
        params=req["params"],
        at=AT,
        correlation_id="parity-corr",
        explain=explain,
    )
    sdk = d.to_dict()
    out = cli_check(config, req, *(["--explain"] if explain else []))
    assert isinstance(out.pop("audit_id"), str)
    assert isinstance(sdk.pop("audit_id"), str)
    assert sdk == out
    assert list(sdk) == list(out), "same key order too"


def test_plan_to_dict_equals_the_cli_json(safe: AgentSafe, config: Path, tmp_path: Path) -> None:
    steps = [{k: v for k, v in r.items()} for r in REQUESTS[:4]]
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(steps))
    out = cli_json(
        "--config",
        str(config),
        "check-plan",
        str(plan_file),
        "--at",
        AT,
        "--correlation-id",
        "plan-corr",
    )
    plan = safe.check_plan(steps, at=AT, correlation_id="plan-corr")
    sdk = plan.to_dict()
    for s in sdk["steps"] + out["steps"]:
        assert isinstance(s.pop("audit_id"), str)
    assert sdk == out


def test_list_actions_equals_the_cli_json(safe: AgentSafe, config: Path) -> None:
    assert safe.list_actions() == cli_json("--config", str(config), "list-actions")
    assert safe.list_actions(tag="deployments") == cli_json(
        "--config", str(config), "list-actions", "--tag", "deployments"
    )
    assert safe.get_action("drain-node") == cli_json(
        "--config", str(config), "show-action", "drain-node"
    )


def test_verify_report_equals_the_cli_json(safe: AgentSafe, config: Path) -> None:
    safe.check("restart-deployment", target="staging/api", params=dict(STAGING_API))
    report = safe.verify_audit()
    out = cli_json("--config", str(config), "audit", "verify")
    assert report.to_dict() == out
    assert str(report).startswith("ok: 1 events")


@pytest.mark.parametrize(
    ("req", "code"),
    [
        (REQUESTS[0], 0),  # allow
        (REQUESTS[3], 3),  # deny
        (REQUESTS[2], 4),  # require_approval
    ],
)
def test_exit_codes_follow_the_decision(config: Path, req: dict[str, Any], code: int) -> None:
    args = ["--config", str(config), "check", req["action"], "--params", json.dumps(req["params"])]
    if "target" in req:
        args += ["--target", req["target"]]
    out = run_cli(*args)
    assert out.returncode == code, out.stderr
    assert out.stderr == ""


def test_usage_and_config_errors_exit_2(config: Path, tmp_path: Path) -> None:
    out = run_cli("check")
    assert out.returncode == 2
    assert "ACTION" in out.stderr
    out = run_cli("--config", str(tmp_path / "missing.yaml"), "check", "drain-node")
    assert out.returncode == 2
    assert "does not exist" in out.stderr
    out = run_cli("--config", str(config), "check", "drain-node", "--params", "[1]")
    assert out.returncode == 2
    assert run_cli("--no-such-flag").returncode == 2


def test_version_and_help() -> None:
    out = run_cli("--version")
    assert out.returncode == 0
    assert agent_safe.__version__ in out.stdout
    out = run_cli("--help")
    assert out.returncode == 0
    assert "Exit codes:" in out.stdout


def test_ctrl_c_stops_the_cli_without_a_python_traceback(config: Path) -> None:
    # `--params-file -` waits on stdin: a command that is still running when
    # the signal comes.
    proc = subprocess.Popen(
        [cli(), "--config", str(config), "check", "drain-node", "--params-file", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGINT
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err


def test_the_console_script_is_the_rust_cli(config: Path) -> None:
    out = run_cli("--config", str(config), "schema")
    assert out.returncode == 0, out.stderr
