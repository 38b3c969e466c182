"""agent-safe: a policy decision point for AI agents that operate Kubernetes.

Ask before running an action::

    from agent_safe import AgentSafe, DecisionResult

    safe = AgentSafe()  # finds agent-safe.yaml
    d = safe.check(
        "restart-deployment",
        target="staging/api",
        caller="deploy-agent",
        params={"namespace": "staging", "deployment": "api"},
    )
    if d.result is DecisionResult.ALLOW:
        ...

Every check is recorded in a hash-chained audit log. See docs/PYTHON.md.
"""

from agent_safe import _native
from agent_safe._async_remote import AsyncRemoteAgentSafe
from agent_safe._errors import AgentSafeError, ConfigError, Diagnostic, UnknownActionError
from agent_safe._native import Decision, Plan
from agent_safe._remote import RemoteAgentSafe, RemoteError
from agent_safe._safe import AgentSafe
from agent_safe._types import AuditProblem, AuditReport, AuditTornTail, DecisionResult

__version__: str = _native.__version__

# Public names say where to import them from (reprs, tracebacks, pickles).
for _public in (
    AgentSafe,
    AsyncRemoteAgentSafe,
    AgentSafeError,
    AuditProblem,
    AuditReport,
    AuditTornTail,
    ConfigError,
    DecisionResult,
    Diagnostic,
    RemoteAgentSafe,
    RemoteError,
    UnknownActionError,
):
    _public.__module__ = __name__
del _public

__all__ = [
    "AgentSafe",
    "AgentSafeError",
    "AsyncRemoteAgentSafe",
    "AuditProblem",
    "AuditReport",
    "AuditTornTail",
    "ConfigError",
    "Decision",
    "DecisionResult",
    "Diagnostic",
    "Plan",
    "RemoteAgentSafe",
    "RemoteError",
    "UnknownActionError",
    "__version__",
]
