"""What loading a file comes to: a `FileResult` per file; `FileRejected` when a file-level check
refuses the file whole; `IngestError` when a source's run rejected files; `MACHINE_ERRORS`, the
failures that are the machine's, not the file's."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import duckdb

# DuckDB errors that are the machine's, not the file's (memory, disk while spilling, an interrupt):
# never a rule's verdict on the file. Like any other error they fail the file's load, which is
# counted and tried again, and set aside after ingest.max_attempts (`load._record_failure`).
MACHINE_ERRORS = (
    duckdb.OutOfMemoryException,
    duckdb.IOException,
    duckdb.InterruptException,
    duckdb.FatalException,
    duckdb.InternalException,
)


class FileRejected(Exception):
    """A file-level check failed: the file is rejected whole. `rule` names the check."""

    def __init__(self, rule: str, message: str, line: int = 1, column: str = "-"):
        super().__init__(message)
        self.rule, self.line, self.column = rule, line, column


class IngestError(RuntimeError):
    """One or more files of a source were rejected; the message lists every reason."""


@dataclass
class FileResult:
    source: str
    file: str
    table: str | None
    profile: str | None
    status: str  # loaded | rejected | skipped (`reason` says why) | failed (an error: tried again later)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    derived_rows: int = 0
    transcoded_lines: int = 0
    weeks: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    load_id: int | None = None
    seconds: float = 0.0
    reason: str | None = None  # why it was skipped
    # the loads this one replaced: of the same content (a reload), or of the same name (redelivery: replace)
    replaces: list[int] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)
