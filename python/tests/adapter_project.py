"""A small agent-safe project shared by the agent-SDK adapter tests.

Catalogue actions, three targets, one rule per outcome; the audit log is read
back by the tests, so what they assert is what agent-safe recorded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent_safe import AgentSafe, ToolMapping

POLICIES = """
rules:
  - name: no-prod-scaling
    priority: 1000
    match:
      actions: [scale-deployment]
      targets: {environments: [prod]}
    decision: deny
    reason: Agents never scale production
  - name: drains-need-a-human
    priority: 400
    match:
      actions: [drain-node]
      callers: {agent_ids: ["**"]}
    decision: require_approval
    reason: Draining a node needs a human
  - name: staging-is-open
    priority: 100
    match:
      targets: {environments: [staging]}
      callers: {agent_ids: ["**"]}
    decision: allow
    reason: Identified agents may change staging
"""

INVENTORY = """
targets:
  - {id: staging/api, type: k8s-deployment, environment: staging, sensitivity: internal,
     owner: t, namespace: staging, name: api}
  - {id: prod/api, type: k8s-deployment, environment: prod, sensitivity: restricted,
     owner: t, namespace: prod, name: api}
  - {id: prod/node-1, type: k8s-node, environment: prod, sensitivity: restricted,
     owner: t, name: prod-node-1}
  - {id: ci/sandbox, type: host, environment: staging, sensitivity: internal, owner: t}
  - {id: prod/bastion, type: host, environment: prod, sensitivity: restricted, owner: t}
"""

# A project action for shell commands (Claude Code's built-in Bash tool).
SHELL_ACTION = """
name: shell-command
version: "1.0.0"
description: Run a shell command on a host.
parameters:
  - name: command
    type: string
    description: The command line.
risk_class: medium
target_types: [host]
prechecks: []
reversible: false
required_privileges: []
tags: [shell]
"""

# The tools' arguments differ from the actions' params on purpose: the
# mapping (the MCP gateway's format) renames them.
MAPPING = """
tools:
  restart:
    action: restart-deployment
    params: {namespace: "{ns}", deployment: "{name}"}
  scale:
    action: scale-deployment
    params: {namespace: "{ns}", deployment: "{name}", replicas: "{replicas}"}
  drain:
    action: drain-node
    params: {node: "{node}"}
"""

RESTART = {"ns": "staging", "name": "api"}
SCALE_PROD = {"ns": "prod", "name": "api", "replicas": 9}
DRAIN = {"node": "prod-node-1"}


class Project:
    """The project in ``root``: ``safe``, ``mapping`` and the audit log's events."""

    def __init__(self, root: Path, mapping: str = MAPPING) -> None:
        (root / "policies.yaml").write_text(POLICIES)
        (root / "inventory.yaml").write_text(INVENTORY)
        (root / "tools.yaml").write_text(mapping)
        (root / "actions.yaml").write_text(SHELL_ACTION)
        self.audit = root / "audit.jsonl"
        self.safe = AgentSafe(
            registry=root / "actions.yaml",
            policies=root / "policies.yaml",
            inventory=root / "inventory.yaml",
            audit_log=self.audit,
        )
        self.mapping_file = root / "tools.yaml"
        self.mapping = ToolMapping.from_file(self.mapping_file)

    def events(self) -> list[dict[str, Any]]:
        if not self.audit.exists():
            return []
        return [json.loads(line) for line in self.audit.read_text().splitlines()]

    def checks(self) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["kind"] != "approval"]

    def approvals(self) -> list[dict[str, Any]]:
        return [e for e in self.events() if e["kind"] == "approval"]
