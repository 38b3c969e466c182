"""The project `agent-safe init` writes: every YAML file names its JSON Schema
(a `yaml-language-server` modeline), the schemas are there, and each file is
valid against its schema — so the editor tip works, and the schemas agree
with what the loaders accept (and refuse what they refuse)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

MODELINE = "# yaml-language-server: $schema="


def init(tmp_path: Path) -> Path:
    exe = Path(sys.executable).parent / "agent-safe"
    subprocess.run([str(exe), "init", "proj"], cwd=tmp_path, check=True, capture_output=True)
    return tmp_path / "proj"


def schema_of(path: Path) -> tuple[dict[str, Any], str]:
    first = path.read_text().splitlines()[0]
    assert first.startswith(MODELINE), f"{path} has no schema modeline"
    ref = first[len(MODELINE) :]
    schema_path = (path.parent / ref).resolve()
    schema: dict[str, Any] = json.loads(schema_path.read_text())
    return schema, schema_path.name


def test_every_scaffolded_yaml_file_is_valid_against_its_schema(tmp_path: Path) -> None:
    proj = init(tmp_path)
    files = sorted(p for p in proj.rglob("*.yaml") if "secrets" not in p.parts)
    assert len(files) >= 8
    kinds = set()
    for path in files:
        schema, name = schema_of(path)
        kinds.add(name)
        assert schema["$id"].endswith("/" + name)
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    assert {"config.schema.json", "policy.schema.json", "inventory.schema.json"} <= kinds
    assert "tests.schema.json" in kinds


@pytest.mark.parametrize(
    ("kind", "document"),
    [
        ("policy", {}),  # `rules:` is required: an empty file is refused
        ("policy", {"rules": [{"name": "r", "decision": "deny", "match": {"actions": []}}]}),
        (
            "policy",
            {"rules": [{"name": "r", "decision": "deny", "match": {"targets": {"ids": []}}}]},
        ),
        ("inventory", {}),
    ],
)
def test_schemas_refuse_what_the_loaders_refuse(
    tmp_path: Path, kind: str, document: dict[str, Any]
) -> None:
    proj = init(tmp_path)
    schema = json.loads((proj / "schemas" / f"{kind}.schema.json").read_text())
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, schema)
    # ... and the loader refuses the same document.
    target = proj / ("policies/zz.yaml" if kind == "policy" else "inventory.yaml")
    target.write_text(yaml.safe_dump(document) if document else "")
    exe = Path(sys.executable).parent / "agent-safe"
    done = subprocess.run([str(exe), "validate"], cwd=proj, capture_output=True, text=True)
    assert done.returncode == 1, done.stdout
