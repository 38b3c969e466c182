"""Every YAML file the project ships — the built-in catalogue, the example
project `agent-safe init` writes, the shared fixtures and the examples — is
valid against the committed JSON Schema of its kind in `schemas/`.

With the Rust test that compares each loader's accepted keys to the schemas
(crates/agent-safe-cli/src/schema.rs), this keeps one source of truth per
file format: a schema that refused a real file, or a file that only the
loader understood, fails here. Needs only the source tree, not the wheel.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

# Where the shipped YAML files are. `deploy/` holds Kubernetes manifests,
# which are not agent-safe files.
ROOTS = [
    "crates/agent-safe-core/catalogue",
    "crates/agent-safe-cli/tests/fixtures",
    "tests",
    "examples",
]


def kind_of(path: Path) -> str:
    """The file kind by the project layout, as `agent-safe schema` names it."""
    parts = path.relative_to(REPO).parts
    if path.name == "agent-safe.yaml":
        return "config"
    if path.name == "inventory.yaml":
        return "inventory"
    if "actions" in parts:
        return "action"
    if "mcp" in parts or path.name == "tools.yaml":
        # A tool mapping (the SDK adapters' examples) is an MCP settings file
        # with only `tools:`.
        return "mcp"
    if "policies" in parts:
        return "policy"
    if path.parent.name == "tests" and path.parent != REPO / "tests":
        return "tests"
    raise AssertionError(f"{path}: no file kind known for this path; add it to kind_of")


def shipped_yaml() -> list[Path]:
    files: list[Path] = []
    for root in ROOTS:
        files.extend(p for p in (REPO / root).rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    return sorted(files)


def schema(kind: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((REPO / "schemas" / f"{kind}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(loaded)
    return loaded


FILES = shipped_yaml()


def test_the_shipped_files_are_found() -> None:
    kinds = {kind_of(p) for p in FILES}
    assert len(FILES) >= 40
    assert kinds == {"action", "policy", "inventory", "config", "tests", "mcp"}


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(REPO)) for p in FILES])
def test_shipped_file_is_valid_against_its_schema(path: Path) -> None:
    kind = kind_of(path)
    errors = sorted(
        jsonschema.Draft202012Validator(schema(kind)).iter_errors(yaml.safe_load(path.read_text())),
        key=lambda e: list(e.absolute_path),
    )
    where = path.relative_to(REPO)
    assert not errors, "\n".join(
        f"{where} ({kind}): at {'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in errors
    )
