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

# `import agent_safe` loads only what a check needs: the native module and
# `AgentSafe`. Every other public name (the remote clients, the exceptions, the
# audit report, `DecisionResult`) and the integration modules are imported on
# first use by `__getattr__` below; `from agent_safe import X` works as before.
# (The HTTP client alone pulled in urllib, http.client and email: tens of ms
# that every agent process and every `python -m agent_safe` paid at start-up.)

from agent_safe import _native
from agent_safe._native import Decision, MappedCall, Plan, ToolMapping
from agent_safe._safe import AgentSafe

# Not `typing.TYPE_CHECKING`, which would import `typing`.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from agent_safe import tlog as tlog
    from agent_safe._async_remote import AsyncRemoteAgentSafe
    from agent_safe._audit import AuditProblem, AuditReport, AuditTornTail
    from agent_safe._errors import (
        AgentSafeError,
        ConfigError,
        Diagnostic,
        MappingError,
        UnknownActionError,
        UnmappedToolError,
    )
    from agent_safe._remote import RemoteAgentSafe, RemoteError
    from agent_safe._types import DecisionResult

__version__: str = _native.__version__

# Public name -> the private module that defines it.
_LAZY = {
    "AgentSafeError": "_errors",
    "AsyncRemoteAgentSafe": "_async_remote",
    "AuditProblem": "_audit",
    "AuditReport": "_audit",
    "AuditTornTail": "_audit",
    "ConfigError": "_errors",
    "DecisionResult": "_types",
    "Diagnostic": "_errors",
    "MappingError": "_errors",
    "RemoteAgentSafe": "_remote",
    "RemoteError": "_remote",
    "UnknownActionError": "_errors",
    "UnmappedToolError": "_errors",
}
# Submodules that `agent_safe.NAME` imports on first use, like `import agent_safe.NAME`.
_SUBMODULES = frozenset({"claude", "langchain", "openai_agents", "tlog"})


def __getattr__(name: str) -> object:
    import importlib

    if name in _LAZY:
        value = getattr(importlib.import_module(f"agent_safe.{_LAZY[name]}"), name)
    elif name in _SUBMODULES:
        try:
            value = importlib.import_module(f"agent_safe.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"agent_safe.{name}":
                raise  # the integration is there, its framework is not: say which
            raise AttributeError(f"module 'agent_safe' has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module 'agent_safe' has no attribute {name!r}")
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


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
    "MappedCall",
    "MappingError",
    "Plan",
    "RemoteAgentSafe",
    "RemoteError",
    "ToolMapping",
    "UnknownActionError",
    "UnmappedToolError",
    "__version__",
]
