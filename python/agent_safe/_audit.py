"""The audit report's value types (`AgentSafe.verify_audit`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["AuditProblem", "AuditReport", "AuditTornTail"]


@dataclass(frozen=True)
class AuditProblem:
    """The first place where the audit chain breaks."""

    file: str
    """The file."""
    line: int | None
    """1-based line number; ``None`` when the problem is the file as a whole."""
    kind: str
    """The class of problem, in snake_case: ``hash``, ``link``, ``seq``,
    ``malformed``, ``not_canonical``, ``file_name``, ``torn_tail``,
    ``empty``, ..."""
    message: str
    """A plain explanation."""


@dataclass(frozen=True)
class AuditTornTail:
    """Bytes after the last newline of the last file.

    A writer stopped mid-line leaves them, and so does a last line appended or
    altered by hand. A break unless accepted (``verify_audit(accept_torn_tail=True)``, for a
    log being written). The next append moves them to a quarantine file and
    records a ``recovery`` event.
    """

    file: str
    line: int
    offset: int
    bytes: int
    event_prefix: bool = False
    """Whether the bytes could be the beginning of the next event (false:
    junk, or an altered event)."""
    writer_active: bool = False
    """A writer held the log's lock for the whole wait: maybe a line in flight."""


@dataclass(frozen=True)
class AuditReport:
    """What :meth:`AgentSafe.verify_audit` found.

    ``to_dict()`` is the JSON of ``agent-safe audit verify --output json``;
    ``str()`` is a one-paragraph summary (the first broken line, or the
    event count and last hash).
    """

    ok: bool
    """True when the whole chain holds: at least one complete event, every one
    sound, and no torn tail unless one was accepted."""
    events: int
    """Events checked and found sound."""
    files: list[str]
    """The files checked, in chain order."""
    first_seq: int | None
    last_seq: int | None
    last_hash: str | None
    """The hash of the last sound event: a checkpoint worth keeping elsewhere."""
    recoveries: int
    """Torn tails that writers repaired (``recovery`` events seen)."""
    problem: AuditProblem | None
    torn_tail: AuditTornTail | None
    notes: list[str]
    text: str = field(default="", repr=False, compare=False)
    """The summary (also ``str(report)``)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditReport:
        """Builds a report from its JSON form (``to_dict()``, the CLI's JSON)."""
        problem = data.get("problem")
        torn = data.get("torn_tail")
        return cls(
            ok=bool(data["ok"]),
            events=int(data["events"]),
            files=list(data["files"]),
            first_seq=data.get("first_seq"),
            last_seq=data.get("last_seq"),
            last_hash=data.get("last_hash"),
            recoveries=int(data.get("recoveries", 0)),
            problem=AuditProblem(**problem) if problem else None,
            torn_tail=AuditTornTail(**torn) if torn else None,
            notes=list(data.get("notes", [])),
            text=str(data.get("text", "")),
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON form of ``agent-safe audit verify --output json``."""
        return {
            "ok": self.ok,
            "events": self.events,
            "files": list(self.files),
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "recoveries": self.recoveries,
            "clean": self.ok and self.torn_tail is None,
            "problem": None if self.problem is None else vars(self.problem).copy(),
            "torn_tail": None if self.torn_tail is None else vars(self.torn_tail).copy(),
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        return self.text or ("ok" if self.ok else "broken")


# Public names say where to import them from (reprs, tracebacks, pickles).
for _public in (AuditProblem, AuditReport, AuditTornTail):
    _public.__module__ = "agent_safe"
del _public
