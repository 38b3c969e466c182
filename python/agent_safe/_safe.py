"""The public :class:`AgentSafe` class."""

from __future__ import annotations

import os

from agent_safe import _native

# Not `typing.TYPE_CHECKING`: `import agent_safe` stays free of `typing`.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from typing_extensions import Self

    from agent_safe._audit import AuditReport

    StrPath = str | os.PathLike[str]

__all__ = ["AgentSafe"]


class AgentSafe(_native.AgentSafe):
    """The policy decision point: ask it before running an action.

    ``AgentSafe()`` finds ``agent-safe.yaml`` like the CLI does
    (``$AGENT_SAFE_CONFIG``, else the current directory or a parent);
    ``AgentSafe(config=path)`` or :meth:`from_config` names it. Keyword
    arguments override the config's values:

    - ``registry``: the project's action definitions (directory or file),
      loaded on top of the built-in Kubernetes catalogue;
    - ``policies``: policy rules (directory or file);
    - ``inventory``: the target inventory;
    - ``audit_log``: the audit log file (enables the log);
    - ``signing_key``: the base64url HS256 secret used to verify caller
      tokens and to mint them (:meth:`create_token`), replacing the
      configured keys.

    A path that does not exist, or files that do not load, raise
    :class:`ConfigError`. With no config and no arguments: the built-in
    catalogue, no policies (every check is denied) and no audit log, with a
    ``UserWarning`` saying so.

    One instance is safe to share between threads; checks release the GIL.
    """

    __slots__ = ()

    @classmethod
    def from_config(cls, path: StrPath) -> Self:
        """Opens the project whose config file is ``path``."""
        return cls(config=path)

    def verify_audit(
        self,
        path: StrPath | Sequence[StrPath] | None = None,
        *,
        accept_torn_tail: bool = False,
    ) -> AuditReport:
        """Verifies the hash chain of the audit log.

        ``path`` is a log file, a directory of one log's files, or a list of
        them; by default the configured log with its rotated files. Returns
        an :class:`AuditReport` (``ok`` is false at the first broken line,
        named in ``problem``; and for a torn final line unless
        ``accept_torn_tail``, for a log being written). Raises
        ``FileNotFoundError`` for a path that does not exist and
        :class:`AgentSafeError` when no log is configured (or nothing was
        logged yet) and no path is given.
        """
        from agent_safe._audit import AuditReport

        if path is None:
            paths = None
        elif isinstance(path, (str, os.PathLike)):
            paths = [path]
        else:
            paths = list(path)
        return AuditReport.from_dict(self._verify_audit(paths, accept_torn_tail))


AgentSafe.__module__ = "agent_safe"
