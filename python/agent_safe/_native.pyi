# Hand-written stubs for the native module (crates/agent-safe-py), kept honest
# by `python -m mypy.stubtest agent_safe._native` (scripts/python-ci.sh).

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, final

from typing_extensions import Self, disjoint_base

from agent_safe._types import DecisionResult

__all__ = [
    "AgentSafe",
    "Decision",
    "MappedCall",
    "Plan",
    "ToolMapping",
    "__version__",
    "_to_json",
    "run_cli",
]
__version__: str

_StrPath = str | os.PathLike[str]
# What JSON can carry; anything else raises TypeError (see AgentSafe.check).
_Json = Mapping[str, Any] | Sequence[Any] | str | int | float | bool | None

def run_cli(argv: Sequence[str | os.PathLike[str]]) -> int:
    """Runs the `agent-safe` command line and returns its exit code."""

def _to_json(what: str, obj: object) -> str:
    """`obj` as JSON text, converted (and refused) exactly as `check` converts params."""

@final
class Decision:
    """The answer to one check (immutable)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self: ...
    def to_dict(self) -> dict[str, Any]: ...
    @property
    def result(self) -> DecisionResult: ...
    @property
    def allowed(self) -> bool: ...
    @property
    def reason(self) -> str: ...
    @property
    def policy_matched(self) -> str | None: ...
    @property
    def action(self) -> str: ...
    @property
    def action_version(self) -> str | None: ...
    @property
    def target(self) -> str | None: ...
    @property
    def caller(self) -> str | None: ...
    @property
    def risk_class(self) -> str: ...
    @property
    def effective_risk(self) -> str: ...
    @property
    def audit_id(self) -> str | None: ...
    @property
    def correlation_id(self) -> str | None: ...
    @property
    def evaluated_at(self) -> str: ...
    @property
    def plan_step(self) -> int | None: ...
    @property
    def trace(self) -> list[dict[str, Any]] | None: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]: ...

@final
class Plan:
    """The answer to a multi-step plan (immutable)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self: ...
    def to_dict(self) -> dict[str, Any]: ...
    @property
    def result(self) -> DecisionResult: ...
    @property
    def allowed(self) -> bool: ...
    @property
    def correlation_id(self) -> str: ...
    @property
    def steps(self) -> list[Decision]: ...
    def __len__(self) -> int: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __reduce__(self) -> tuple[Any, tuple[dict[str, Any]]]: ...

@disjoint_base
class AgentSafe:
    """The native decision point; use `agent_safe.AgentSafe`."""

    def __new__(
        cls,
        *,
        config: _StrPath | None = None,
        registry: _StrPath | None = None,
        policies: _StrPath | None = None,
        inventory: _StrPath | None = None,
        audit_log: _StrPath | None = None,
        signing_key: str | None = None,
    ) -> Self: ...
    def check(
        self,
        action: str,
        *,
        target: str | None = None,
        caller: str | None = None,
        params: _Json = None,
        context: _Json = None,
        correlation_id: str | None = None,
        at: datetime | str | None = None,
        explain: bool = False,
    ) -> Decision: ...
    def check_plan(
        self,
        steps: Iterable[Mapping[str, Any]],
        *,
        correlation_id: str | None = None,
        at: datetime | str | None = None,
        explain: bool = False,
    ) -> Plan: ...
    def list_actions(
        self, *, tag: str | None = None, risk: str | None = None
    ) -> list[dict[str, Any]]: ...
    def get_action(self, name: str) -> dict[str, Any]: ...
    def shadow_status(self) -> dict[str, Any] | None: ...
    def reload(self) -> None: ...
    def create_token(
        self,
        agent_id: str,
        *,
        roles: list[str] | tuple[str, ...] = ...,
        groups: list[str] | tuple[str, ...] = ...,
        ttl: int = 3600,
        name: str | None = None,
        kid: str | None = None,
    ) -> str: ...
    def record_approval(
        self,
        decision: Decision,
        *,
        approver: str,
        approved: bool,
        comment: str | None = None,
        params: _Json = None,
    ) -> str | None: ...
    def _verify_audit(
        self, paths: Sequence[_StrPath] | None = None, accept_torn_tail: bool = False
    ) -> dict[str, Any]: ...
    def audit_checkpoint(self, *, new: bool = False) -> str: ...
    def audit_proof(self, audit_id: str, *, checkpoint: str | None = None) -> dict[str, Any]: ...
    def audit_consistency_proof(self, old: str, *, new: str | None = None) -> dict[str, Any]: ...
    @property
    def config_path(self) -> str | None: ...
    @property
    def audit_log_path(self) -> str | None: ...

@final
class ToolMapping:
    """How tool calls become checks (the MCP gateway's `tools:` format)."""

    @staticmethod
    def from_file(path: _StrPath) -> ToolMapping: ...
    @staticmethod
    def from_config(path: _StrPath) -> ToolMapping: ...
    @staticmethod
    def from_yaml(text: str, *, source: str = "<string>") -> ToolMapping: ...
    @staticmethod
    def from_dict(data: Mapping[str, Any], *, source: str = "<dict>") -> ToolMapping: ...
    def map_call(
        self, tool: str, arguments: Mapping[str, Any] | str | None = None
    ) -> MappedCall: ...
    @property
    def tools(self) -> list[str]: ...
    @property
    def source(self) -> str | None: ...
    def rule(self, tool: str) -> dict[str, Any] | None: ...
    def __contains__(self, key: str, /) -> bool: ...
    def __len__(self) -> int: ...

@final
class MappedCall:
    """One tool call mapped to a check (immutable)."""

    @property
    def tool(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def target(self) -> str | None: ...
    @property
    def params(self) -> dict[str, Any]: ...
    def to_dict(self) -> dict[str, Any]: ...
    def __eq__(self, value: object, /) -> bool: ...
