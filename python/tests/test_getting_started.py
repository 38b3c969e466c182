"""docs/GETTING-STARTED.md, followed step by step as a newcomer would.

Every ``sh`` and ``python`` block of the page runs, in order, in one bash
session started in a clean temporary directory, whose first block creates a
fresh virtual environment and installs agent-safe into it. The install
command is given the wheel that CI built from this checkout (the same thing
``pip install .`` builds), so the test does not compile the Rust code twice.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "GETTING-STARTED.md"
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def blocks(text: str) -> list[tuple[str, str]]:
    """The fenced code blocks of a Markdown page: (language, body)."""
    return [(m.group(1), m.group(2)) for m in FENCE.finditer(text)]


def find_wheel() -> Path | None:
    """The wheel CI built (``AGENT_SAFE_WHEEL``, else ``target/wheels``)."""
    given = os.environ.get("AGENT_SAFE_WHEEL")
    if given:
        return Path(given)
    wheels = sorted((REPO / "target" / "wheels").glob("agent_safe-*.whl"))
    return wheels[-1] if wheels else None


def test_page_has_runnable_blocks() -> None:
    kinds = [lang for lang, _ in blocks(PAGE.read_text())]
    assert kinds.count("sh") >= 6
    assert "python" in kinds


def test_getting_started_step_by_step(tmp_path: Path) -> None:
    wheel = find_wheel()
    if wheel is None or not wheel.exists():
        pytest.skip("no agent-safe wheel built (scripts/python-ci.sh builds one)")
    script = ["set -euo pipefail"]
    for i, (lang, body) in enumerate(blocks(PAGE.read_text())):
        if lang == "sh":
            script.append(f"echo '=== block {i}'")
            script.append(body)
        elif lang == "python":
            code = tmp_path / f"block_{i}.py"
            code.write_text(body)
            script.append(f"echo '=== block {i} (python)'")
            script.append(f"python {code}")
    work = tmp_path / "newcomer"
    work.mkdir()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "AGENT_SAFE_SOURCE": str(wheel),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "LANG": "C.UTF-8",
    }
    # The session must find a plain python3 to create the venv with, not the
    # test venv's own interpreter first on PATH.
    base = Path(sys.base_prefix) / "bin"
    if (base / "python3").exists():
        env["PATH"] = f"{base}:{env['PATH']}"
    bash = shutil.which("bash") or "/bin/bash"
    proc = subprocess.run(
        [bash, "-c", "\n".join(script)],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    # What the page promises, seen in the output.
    assert "ALLOW" in out
    assert "REQUIRE_APPROVAL" in out
    assert "exit code 4" in out
    assert "params address namespace `kube-system`" in out
    assert "passed, 0 failed" in out
    assert (work / "my-project" / "decision.json").exists()
    assert "allowed: an executor would run kubectl describe now" in out
