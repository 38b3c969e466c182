"""`DecisionResult`, the answer's enum (the native module reads it from here).

The audit report's types live in ``_audit`` (dataclasses cost an import of
``inspect`` that a check does not need); they are still found here.
"""

from __future__ import annotations

import enum

__all__ = ["DecisionResult"]


class DecisionResult(str, enum.Enum):
    """The answer to a check. A ``str``: ``DecisionResult.ALLOW == "allow"``."""

    ALLOW = "allow"
    """The action may run."""
    DENY = "deny"
    """The action must not run; the reason says why."""
    REQUIRE_APPROVAL = "require_approval"
    """A human must approve first (see ``AgentSafe.record_approval``)."""

    def __str__(self) -> str:
        return self.value


DecisionResult.__module__ = "agent_safe"


def __getattr__(name: str) -> object:
    # `from agent_safe._types import AuditReport` from before the split.
    if name in ("AuditProblem", "AuditReport", "AuditTornTail"):
        from agent_safe import _audit

        return getattr(_audit, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
