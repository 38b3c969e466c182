"""agent_safe.ToolMapping: the core's tool mapping (the MCP gateway's format) from Python."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import pytest
from agent_safe import (
    AgentSafeError,
    ConfigError,
    MappedCall,
    MappingError,
    ToolMapping,
    UnmappedToolError,
)
from conftest import REPO

MAPPING = """\
tools:
  pods_delete:
    action: delete-pod
    target: "prod/{namespace}/{name}"
    params:
      namespace: "{namespace}"
      pod: "{name}"
      reason: "via agent: {why}"
      grace_period: 30
  pods_get:
    action: list-pods
    params: {namespace: "{namespace}"}
    unchecked_arguments: [name]
  echo:
    action: my-echo
"""


@pytest.fixture
def mapping(tmp_path: Path) -> ToolMapping:
    f = tmp_path / "tools.yaml"
    f.write_text(MAPPING)
    return ToolMapping.from_file(f)


# (tool, arguments, action, target, params)
MAPPED: list[tuple[str, Any, str, str | None, dict[str, Any]]] = [
    (
        "pods_delete",
        {"namespace": "web", "name": "api-1", "why": "stuck"},
        "delete-pod",
        "prod/web/api-1",
        {"namespace": "web", "pod": "api-1", "reason": "via agent: stuck", "grace_period": 30},
    ),
    # JSON text, as the OpenAI Agents SDK passes arguments.
    (
        "pods_delete",
        '{"namespace": "web", "name": "api-1"}',
        "delete-pod",
        "prod/web/api-1",
        {"namespace": "web", "pod": "api-1", "grace_period": 30},
    ),
    ("pods_get", {"namespace": "web", "name": "x"}, "list-pods", None, {"namespace": "web"}),
    ("echo", {"text": "hi", "n": [1, None]}, "my-echo", None, {"text": "hi", "n": [1, None]}),
    ("echo", None, "my-echo", None, {}),
    ("echo", "", "my-echo", None, {}),
]


@pytest.mark.parametrize(("tool", "args", "action", "target", "params"), MAPPED)
def test_map_call_table(
    mapping: ToolMapping,
    tool: str,
    args: Any,
    action: str,
    target: str | None,
    params: dict[str, Any],
) -> None:
    call = mapping.map_call(tool, args)
    assert isinstance(call, MappedCall)
    assert (call.tool, call.action, call.target, call.params) == (tool, action, target, params)
    assert call.to_dict() == {"tool": tool, "action": action, "target": target, "params": params}
    assert call == mapping.map_call(tool, args)
    assert "MappedCall(" in repr(call)


# (tool, arguments, exception, kind, argument, words in the message)
REFUSED: list[tuple[str, Any, type[MappingError], str, str | None, str]] = [
    ("pods_exec", {}, UnmappedToolError, "unmapped", None, "not in agent-safe's tool mapping"),
    (
        "pods_delete",
        {"namespace": "web", "name": "a", "context": "prod-cluster"},
        MappingError,
        "unchecked_argument",
        "context",
        "call it without `context`",
    ),
    (
        "pods_delete",
        {"namespace": "web"},
        MappingError,
        "missing_target_argument",
        "name",
        "needs the argument `name`",
    ),
    ("echo", [1, 2], MappingError, "not_an_object", None, "must be a JSON object"),
    ("echo", "[1]", MappingError, "not_an_object", None, "must be a JSON object"),
    ("echo", '{"a": 1, "a": 2}', MappingError, "invalid_arguments", None, "duplicate key"),
    ("echo", "{nope", MappingError, "invalid_arguments", None, "not valid JSON"),
]


@pytest.mark.parametrize(("tool", "args", "exc", "kind", "argument", "words"), REFUSED)
def test_refused_calls_raise_typed_errors(
    mapping: ToolMapping,
    tool: str,
    args: Any,
    exc: type[MappingError],
    kind: str,
    argument: str | None,
    words: str,
) -> None:
    with pytest.raises(exc) as info:
        mapping.map_call(tool, args)
    e = info.value
    assert isinstance(e, AgentSafeError)
    assert isinstance(e, ValueError)
    assert (e.tool, e.kind, e.argument) == (tool, kind, argument)
    assert words in str(e), str(e)


def test_introspection(mapping: ToolMapping, tmp_path: Path) -> None:
    assert mapping.tools == ["echo", "pods_delete", "pods_get"]
    assert len(mapping) == 3
    assert "pods_get" in mapping
    assert "pods_exec" not in mapping
    assert mapping.rule("pods_get") == {
        "action": "list-pods",
        "params": {"namespace": "{namespace}"},
        "unchecked_arguments": ["name"],
    }
    assert mapping.rule("nope") is None
    assert mapping.source == str(tmp_path / "tools.yaml")
    assert repr(mapping) == "ToolMapping(tools=['echo', 'pods_delete', 'pods_get'])"


def test_from_dict_and_yaml_read_the_same_format(mapping: ToolMapping) -> None:
    import yaml

    data = yaml.safe_load(MAPPING)
    for other in (ToolMapping.from_dict(data), ToolMapping.from_yaml(MAPPING)):
        assert other.tools == mapping.tools
        for tool, args, *_ in MAPPED:
            assert other.map_call(tool, args) == mapping.map_call(tool, args)
        assert other.source is None


def test_bad_files_give_every_problem_with_its_position(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text(
        'tools:\n  t:\n    action: a\n    target: "{ns"\n    prams: {}\n  u: {target: x}\n'
    )
    with pytest.raises(ConfigError) as info:
        ToolMapping.from_file(f)
    text = str(info.value)
    assert f"{f}:4:13: error: invalid template in `target`" in text, text
    assert "prams" in text
    assert "missing the required key `action`" in text
    with pytest.raises(ConfigError, match="expected"):
        ToolMapping.from_dict({"tools": {"t": {"action": "a", "params": [1]}}})
    with pytest.raises(ValueError, match="expected a dict with a `tools` key"):
        ToolMapping.from_dict([1])  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        ToolMapping.from_file(tmp_path / "missing.yaml")


def test_the_shipped_gateway_mapping_and_a_config_section(tmp_path: Path) -> None:
    shipped = REPO / "crates/agent-safe-core/catalogue/mcp/kubernetes-mcp-server.yaml"
    m = ToolMapping.from_file(shipped)
    call = m.map_call("pods_delete", {"namespace": "staging", "name": "api-1"})
    assert call.action == "delete-pod"
    cfg = tmp_path / "agent-safe.yaml"
    cfg.write_text(f"mcp: {shipped}\n")
    assert ToolMapping.from_config(cfg).tools == m.tools
    cfg.write_text("policies: policies\n")
    with pytest.raises(ConfigError, match="no `mcp:` section"):
        ToolMapping.from_config(cfg)


def test_immutable_and_not_picklable_by_accident(mapping: ToolMapping) -> None:
    with pytest.raises(AttributeError):
        mapping.tools = []  # type: ignore[misc]
    call = mapping.map_call("echo", {"a": 1})
    call.params["a"] = 2  # a copy
    assert call.params == {"a": 1}
    with pytest.raises((TypeError, pickle.PicklingError)):
        pickle.dumps(mapping)


def test_import_agent_safe_does_not_import_the_agent_sdks() -> None:
    import subprocess
    import sys

    code = (
        "import sys, agent_safe\n"
        "heavy = ('claude_agent_sdk', 'agents', 'openai')\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy\n"
        "                or m in ('agent_safe.claude', 'agent_safe.openai_agents'))\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
