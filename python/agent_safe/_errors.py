"""Exceptions raised by agent-safe.

Nothing that a check finds raises: an unknown action, invalid params or a bad
token are ``deny`` decisions. Exceptions are for configuration that does not
load (:class:`ConfigError`), lookups of things that do not exist
(:class:`UnknownActionError`) and other failures outside a check
(:class:`AgentSafeError`). Arguments of the wrong type or value raise the
built-in ``TypeError`` and ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

MappingErrorKind = Literal[
    "unmapped",
    "not_an_object",
    "invalid_arguments",
    "unchecked_argument",
    "missing_target_argument",
]

__all__ = [
    "AgentSafeError",
    "ConfigError",
    "Diagnostic",
    "MappingError",
    "UnknownActionError",
    "UnmappedToolError",
]


class AgentSafeError(Exception):
    """Base class of every exception agent-safe defines."""


@dataclass(frozen=True)
class Diagnostic:
    """One problem in one configuration file.

    ``line`` and ``column`` are 1-based, and ``None`` when the problem
    concerns the file as a whole (or the column is unknown).
    """

    file: str
    line: int | None
    column: int | None
    message: str
    help: str | None = None
    severity: Literal["error", "warning"] = "error"

    def location(self) -> str:
        """``file:line:column``, ``file:line`` or ``file``, as the CLI prints it."""
        if self.line is None:
            return self.file
        if self.column is None:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.column}"

    def __str__(self) -> str:
        text = f"{self.location()}: {self.severity}: {self.message}"
        if self.help is not None:
            text += f"\n  help: {self.help}"
        return text


class ConfigError(AgentSafeError):
    """Configuration files that do not load, or a path that does not exist.

    ``diagnostics`` holds every problem found, in file order; ``file``,
    ``line``, ``column``, ``message`` and ``help`` are those of the first.
    ``str()`` shows them all, one ``file:line:col: error: message`` each
    (with a ``help:`` line where there is one), exactly as the CLI does.
    """

    diagnostics: tuple[Diagnostic, ...]

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        found = tuple(diagnostics)
        if not found:
            raise ValueError("ConfigError needs at least one diagnostic")
        super().__init__(found)
        self.diagnostics = found

    @property
    def file(self) -> str:
        """The file of the first problem."""
        return self.diagnostics[0].file

    @property
    def line(self) -> int | None:
        """The 1-based line of the first problem (``None``: the whole file)."""
        return self.diagnostics[0].line

    @property
    def column(self) -> int | None:
        """The 1-based column of the first problem, when known."""
        return self.diagnostics[0].column

    @property
    def message(self) -> str:
        """What is wrong (the first problem)."""
        return self.diagnostics[0].message

    @property
    def help(self) -> str | None:
        """How to fix the first problem, when known."""
        return self.diagnostics[0].help

    def __str__(self) -> str:
        return "\n".join(str(d) for d in self.diagnostics)


class UnknownActionError(AgentSafeError, KeyError):
    """No action of that name (or no such version) in the registry.

    A ``KeyError`` too, so ``except KeyError`` works as for a mapping.
    ``name`` is what was asked for.
    """

    name: str

    def __init__(self, message: str, name: str) -> None:
        super().__init__(message, name)
        self.name = name

    def __str__(self) -> str:
        return str(self.args[0])


class MappingError(AgentSafeError, ValueError):
    """A tool call that the tool mapping cannot turn into a check: refuse it.

    Raised by :meth:`ToolMapping.map_call`. ``str()`` is a sentence the model
    can act on. Attributes:

    - ``tool``: the tool, as called;
    - ``kind``: ``"unmapped"`` (see :class:`UnmappedToolError`),
      ``"not_an_object"`` or ``"invalid_arguments"`` (the arguments are not
      a JSON object), ``"unchecked_argument"`` (the call carries an
      argument the check would not see), ``"missing_target_argument"``
      (the target template names an argument the call lacks);
    - ``argument``: the argument concerned, when there is one.
    """

    tool: str
    kind: MappingErrorKind
    argument: str | None

    def __init__(
        self,
        message: str,
        *,
        tool: str,
        kind: MappingErrorKind,
        argument: str | None = None,
    ) -> None:
        super().__init__(message)
        self.tool = tool
        self.kind = kind
        self.argument = argument


class UnmappedToolError(MappingError):
    """The tool mapping does not name the tool: its calls are refused."""


# Public names say where to import them from (reprs, tracebacks, pickles).
for _public in (
    AgentSafeError,
    ConfigError,
    Diagnostic,
    UnknownActionError,
    MappingError,
    UnmappedToolError,
):
    _public.__module__ = "agent_safe"
del _public
