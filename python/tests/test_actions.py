"""The action registry: list_actions, get_action."""

from __future__ import annotations

import pytest
from agent_safe import AgentSafe, AgentSafeError, UnknownActionError


def test_list_actions(safe: AgentSafe) -> None:
    actions = safe.list_actions()
    names = [a["name"] for a in actions]
    assert len(names) == 29
    assert names == sorted(names)
    assert "restart-deployment" in names
    first = actions[0]
    assert {"name", "version", "description", "parameters", "risk_class", "target_types"} <= set(
        first
    )


def test_filters(safe: AgentSafe) -> None:
    critical = safe.list_actions(risk="critical")
    assert critical
    assert all(a["risk_class"] == "critical" for a in critical)
    tagged = safe.list_actions(tag="deployments")
    assert tagged
    assert all("deployments" in a["tags"] for a in tagged)
    assert safe.list_actions(tag="no-such-tag") == []
    with pytest.raises(ValueError, match="unknown risk class `severe`"):
        safe.list_actions(risk="severe")


def test_get_action(safe: AgentSafe) -> None:
    a = safe.get_action("restart-deployment")
    assert a["name"] == "restart-deployment"
    assert a["target_params"] == {"namespace": "namespace", "name": "deployment"}
    assert safe.get_action(f"restart-deployment@{a['version']}") == a


def test_unknown_action(safe: AgentSafe) -> None:
    with pytest.raises(UnknownActionError) as info:
        safe.get_action("restart-deploymnt")
    e = info.value
    assert isinstance(e, KeyError)
    assert isinstance(e, AgentSafeError)
    assert e.name == "restart-deploymnt"
    assert str(e) == "unknown action `restart-deploymnt` (did you mean `restart-deployment`?)"
    with pytest.raises(KeyError, match=r"has no version `9\.9\.9`"):
        safe.get_action("restart-deployment@9.9.9")
