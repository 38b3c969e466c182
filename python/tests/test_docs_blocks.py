"""Code blocks of the docs that are meant to be run, run.

docs/AUDIT-LOG.md shows how to check a log's hashes independently with
nothing but Python's standard library; this runs that block against a log
written by the installed package.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from agent_safe import AgentSafe

REPO = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def python_blocks(page: str) -> list[str]:
    text = (REPO / "docs" / page).read_text()
    return [
        body
        for m in FENCE.finditer(text)
        if m.group(1) == "python" and "illustrative" not in m.group(0).splitlines()[0]
        for body in [m.group(2)]
    ]


def test_audit_log_hash_recipe_verifies_a_real_log(tmp_path: Path) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.yaml").write_text(
        "rules:\n  - {name: allow-all, decision: allow}\n"
    )
    (tmp_path / "agent-safe.yaml").write_text("policies: policies\naudit: {path: audit.jsonl}\n")
    safe = AgentSafe(config=str(tmp_path / "agent-safe.yaml"))
    for ns in ("staging", "prod", "dev"):
        safe.check(
            "restart-deployment",
            caller="docs-test",
            params={"namespace": ns, "deployment": "api"},
            context={"run": 7, "note": "ünïcode"},
        )
    blocks = python_blocks("AUDIT-LOG.md")
    assert blocks, "AUDIT-LOG.md lost its python block"
    for body in blocks:
        proc = subprocess.run(
            [sys.executable, "-c", body], cwd=tmp_path, capture_output=True, text=True
        )
        assert proc.returncode == 0, proc.stderr
    # And the recipe really checks something: a tampered line fails it.
    log = tmp_path / "audit.jsonl"
    lines = log.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[1] = lines[1].replace('"prod"', '"qa"', 1)
    log.write_text("".join(lines), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-c", blocks[0]], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode != 0
