"""Shared fixtures. The tests run against the *installed* package (see
scripts/python-ci.sh); only the fixtures are read from the source tree."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from agent_safe import AgentSafe

REPO = Path(__file__).resolve().parents[2]
PARITY = REPO / "tests" / "parity"
STAGING_API = {"namespace": "staging", "deployment": "api"}


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's environment or discovers a stray config."""
    for var in ("AGENT_SAFE_CONFIG", "AGENT_SAFE_CALLER", "NO_COLOR", "CLICOLOR_FORCE"):
        monkeypatch.delenv(var, raising=False)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh copy of the parity project; returns its directory."""
    dest = tmp_path / "project"
    shutil.copytree(PARITY / "project", dest, ignore=shutil.ignore_patterns("audit"))
    return dest


@pytest.fixture
def config(project: Path) -> Path:
    """The config file of a fresh copy of the parity project."""
    return project / "agent-safe.yaml"


@pytest.fixture
def safe(config: Path) -> AgentSafe:
    return AgentSafe(config=config)


def cli() -> str:
    """The installed console script (beside this interpreter)."""
    exe = Path(sys.executable).parent / "agent-safe"
    assert exe.is_file(), f"the console script is not installed at {exe}"
    return str(exe)


def run_cli(
    *args: str, input: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_SAFE_")}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [cli(), *args],
        capture_output=True,
        text=True,
        input=input,
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )


def cli_json(*args: str) -> Any:
    out = run_cli(*args, "--output", "json")
    assert out.stdout, out.stderr
    return json.loads(out.stdout)


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]
