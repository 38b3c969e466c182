"""Shared fixtures. The tests run against the *installed* package (see
scripts/python-ci.sh); only the fixtures are read from the source tree."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
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


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve_project(project: Path) -> Iterator[str]:
    """Runs the installed `agent-safe serve` in `project` (no file watching)
    until the block ends; yields its base URL once `/readyz` answers 200. The
    server must then stop cleanly on SIGTERM (exit 0)."""
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
        yield url
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
