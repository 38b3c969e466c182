"""The Claude Agent SDK and OpenAI Agents SDK examples run offline, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

EXAMPLES = REPO / "examples"
if not (EXAMPLES / "claude_agent").is_dir():
    pytest.skip("examples/ is not next to these tests", allow_module_level=True)


def run_example(module: str, flag: str, workdir: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_SAFE_", "ANTHROPIC_"))}
    env.pop("OPENAI_API_KEY", None)
    proc = subprocess.run(
        [sys.executable, "-m", module, flag, "--workdir", str(workdir)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.parametrize(
    ("module", "package"),
    [("examples.claude_agent", "claude_agent_sdk"), ("examples.openai_agents", "agents")],
)
@pytest.mark.parametrize("flag", ["--approve", "--reject"])
def test_example_runs_offline(module: str, package: str, flag: str, tmp_path: Path) -> None:
    pytest.importorskip(package, reason=f"needs {package}")
    out = run_example(module, flag, tmp_path)
    assert "ALLOW restart-deployment on staging/api" in out
    assert "DENY scale-deployment on prod/api" in out
    assert "REQUIRE_APPROVAL drain-node on prod/node-1" in out
    verdict = "APPROVE" if flag == "--approve" else "REJECT"
    assert f"approval recorded: {verdict} by on-call-sre" in out
    drained = "(simulated) drained node prod-node-1" in out.split("REQUIRE_APPROVAL")[-1]
    assert drained == (flag == "--approve"), out
    assert "(simulated) scaled" not in out
    assert "chain intact" in out
    assert (tmp_path / "audit.jsonl").is_file()
