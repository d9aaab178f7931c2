"""Canonical data contracts: the one definition of each table the sources are loaded into.

`expectations/<table>.json` (the Great Expectations suites) and `docs/data-contracts.md`
are generated from these definitions by `esprit contracts`; a test keeps them in step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
EXPECTATIONS_DIR = REPO_ROOT / "expectations"


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type
    required: bool
    description: str
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    unit: str = ""


@dataclass(frozen=True)
class Contract:
    table: str
    description: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    # the time a row happens at: its ISO week (cut in week_timezone), and the data's horizon
    event_time: str = ""
    # (earlier, later): the later timestamp, when present, is not before the earlier one
    ordered: tuple[tuple[str, str], ...] = field(default=())
    # (column, column that must hold value): the column is required on rows where it does
    required_when: tuple[tuple[str, str, str], ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


TS = "TIMESTAMPTZ"
# Python types of each DuckDB type's values in the validated batch (pipelines/ingest/validation.py
# hands Great Expectations object columns, so that each value's own type is checked).
PYTHON_TYPES = {
    "VARCHAR": ["str"],
    "INTEGER": ["int"],
    "BIGINT": ["int"],
    "DOUBLE": ["float", "int"],
    "BOOLEAN": ["bool"],
    "TIMESTAMPTZ": ["Timestamp"],
}
TS_DOC = "ISO 8601 with UTC offset; stored timezone-aware"

CALLS = Contract(
    table="calls",
    description="One row per call segment: a call is offered to a queue, answered or abandoned, "
    "and may be transferred to a further segment (possibly another team).",
    event_time="offered_at",
    key=("call_id", "segment_no"),
    columns=(
        Column("call_id", "VARCHAR", True, "Identifier of the call, shared by its segments"),
        Column("segment_no", "INTEGER", True, "Position of the segment in the call, from 1", minimum=1),
        Column("customer_ref", "VARCHAR", True, "Customer reference, pseudonymised at ingest (keyed hash)"),
        Column("queue", "VARCHAR", True, "ACD queue the segment was offered to"),
        Column("team", "VARCHAR", True, "Team owning the queue"),
        Column("agent_id", "VARCHAR", False, "Agent who answered, pseudonymised at ingest; empty when abandoned"),
        Column("offered_at", TS, True, "Segment offered to the queue", unit=TS_DOC),
        Column("answered_at", TS, False, "Answered by an agent; empty when abandoned", unit=TS_DOC),
        Column("ended_at", TS, True, "Segment ended (hang-up, abandon or transfer)", unit=TS_DOC),
        Column("outcome", "VARCHAR", True, "How the segment ended", allowed=("answered", "abandoned")),
        Column("transfer_type", "VARCHAR", True, "Transfer that ended the segment", allowed=("none", "warm", "cold")),
        Column("hold_seconds", "INTEGER", False, "Time the customer spent on hold", minimum=0, unit="seconds"),
        Column("wrap_code", "VARCHAR", False, "Agent's wrap-up code"),
    ),
    ordered=(("offered_at", "answered_at"), ("answered_at", "ended_at"), ("offered_at", "ended_at")),
    required_when=(("answered_at", "outcome", "answered"),),
)

CASES = Contract(
    table="cases",
    description="One row per complaint case, as opened.",
    event_time="opened_at",
    key=("case_id",),
    columns=(
        Column("case_id", "VARCHAR", True, "Identifier of the case"),
        Column("customer_ref", "VARCHAR", True, "Customer reference, pseudonymised at ingest (keyed hash)"),
        Column("opened_at", TS, True, "Case opened", unit=TS_DOC),
        Column(
            "channel",
            "VARCHAR",
            True,
            "Channel the complaint came through",
            allowed=("phone", "email", "web", "letter", "other"),
        ),
        Column("category", "VARCHAR", True, "Complaint category"),
        Column("origin_ref", "VARCHAR", False, "call_id of the call the complaint was escalated from"),
        Column("priority", "VARCHAR", False, "Priority", allowed=("low", "normal", "high")),
        Column("resolved_at", TS, False, "Case resolved, when the export tells it (else see case_events)", unit=TS_DOC),
    ),
    ordered=(("opened_at", "resolved_at"),),
)

CASE_EVENTS = Contract(
    table="case_events",
    description="The history of complaint cases: one row per event, in event_seq order per case.",
    event_time="event_at",
    key=("case_id", "event_seq"),
    columns=(
        Column("case_id", "VARCHAR", True, "Case the event belongs to"),
        Column("event_seq", "INTEGER", True, "Position of the event in the case history, from 1", minimum=1),
        Column(
            "event_type",
            "VARCHAR",
            True,
            "What happened",
            allowed=("opened", "assigned", "reassigned", "status_changed", "resolved", "reopened", "closed"),
        ),
        Column("event_at", TS, True, "When it happened", unit=TS_DOC),
        Column(
            "team",
            "VARCHAR",
            False,
            "Team holding the case after the event (empty: no team holds it, an explicit state: teams.unassigned)",
        ),
        Column("agent_id", "VARCHAR", False, "Agent who recorded the event, pseudonymised at ingest"),
        Column(
            "status",
            "VARCHAR",
            True,
            "Case status after the event",
            allowed=("open", "in_progress", "pending_customer", "resolved", "closed"),
        ),
    ),
)

SURVEY_RESPONSES = Contract(
    table="survey_responses",
    description="One row per survey response; it rates one interaction (a call or a case).",
    event_time="responded_at",
    key=("response_id",),
    columns=(
        Column("response_id", "VARCHAR", True, "Identifier of the response"),
        Column("customer_ref", "VARCHAR", True, "Customer reference, pseudonymised at ingest (keyed hash)"),
        Column("interaction_type", "VARCHAR", False, "Kind of interaction rated", allowed=("call", "case")),
        Column("interaction_ref", "VARCHAR", False, "call_id or case_id of the interaction rated"),
        Column("responded_at", TS, True, "When the customer answered", unit=TS_DOC),
        Column("nps", "INTEGER", False, "Likelihood to recommend", minimum=0, maximum=10, unit="0-10"),
        Column("csat", "INTEGER", False, "Satisfaction", minimum=1, maximum=5, unit="1-5, 5 best"),
        Column(
            "ces",
            "INTEGER",
            False,
            "Effort: 'it was easy to handle my request'",
            minimum=1,
            maximum=7,
            unit="1-7, 7 easiest",
        ),
        Column("resolved", "BOOLEAN", False, "Customer says the need was resolved"),
        Column("had_to_repeat", "BOOLEAN", False, "Customer says they had to repeat information"),
        Column("journey_step", "VARCHAR", False, "Step of the customer journey the survey was sent at"),
        Column(
            "verbatim",
            "VARCHAR",
            False,
            "Free-text comment, scrubbed of e-mails, phones, IBAN, card and national id numbers",
        ),
        Column("language", "VARCHAR", False, "Language of the verbatim (ISO 639-1)", allowed=("fr", "en")),
    ),
)

SURVEY_ANSWERS = Contract(
    table="survey_answers",
    description="One row per answer of a survey response to one rated question (an aspect: wifi, seat comfort, "
    "...), unpivoted from a wide survey export by its profile's `unpivot` (docs/ingestion.md). Loaded beside "
    "the response, from the same rows; its time is the response's.",
    key=("response_ref", "question"),
    columns=(
        Column("response_ref", "VARCHAR", True, "response_id of the survey response the answer belongs to"),
        Column("question", "VARCHAR", True, "The question (aspect) answered, as the profile names it"),
        Column("scale", "VARCHAR", True, "The answer scale, lowest-highest (e.g. 1-5), highest best"),
        Column("value", "INTEGER", False, "The answer on its scale; empty when not applicable", minimum=0),
        Column("not_applicable", "BOOLEAN", True, "The respondent answered 'not applicable' (no value)"),
    ),
)

# One staff member's answers about one team's service in one week, or about their own engagement.
PULSE_SCALE = {"minimum": 1, "maximum": 5, "unit": "1-5, 5 best"}

INTERNAL_PULSE = Contract(
    table="internal_pulse",
    description="One row per answer of an internal pulse survey: a staff member rates the service their team "
    "received that week from another team (reactivity, clarity of handoffs, helpfulness), or, on a row without "
    "a rated team, their own engagement. Anonymous by design: no figure of a group smaller than "
    "`pulse.min_group_size` answers is ever shown (docs/excellence.md).",
    event_time="answered_at",
    key=("answer_id",),
    columns=(
        Column("answer_id", "VARCHAR", True, "Identifier of the answer"),
        Column(
            "respondent_ref",
            "VARCHAR",
            False,
            "Staff member, pseudonymised at ingest (keyed hash); empty in an anonymous survey",
        ),
        Column("answered_at", TS, True, "When the staff member answered", unit=TS_DOC),
        Column("rater_team", "VARCHAR", True, "Team of the staff member answering"),
        Column("rated_team", "VARCHAR", False, "Team whose service is rated; empty on an answer about engagement"),
        Column("reactivity", "INTEGER", False, "The rated team reacts in time", **PULSE_SCALE),
        Column(
            "handoff_clarity", "INTEGER", False, "Work handed over by or to it is clear and complete", **PULSE_SCALE
        ),
        Column("helpfulness", "INTEGER", False, "The rated team helps when asked", **PULSE_SCALE),
        Column("engagement", "INTEGER", False, "The staff member's own engagement in their work", **PULSE_SCALE),
    ),
)

CONTRACTS: dict[str, Contract] = {
    c.table: c for c in (CALLS, CASES, CASE_EVENTS, SURVEY_RESPONSES, SURVEY_ANSWERS, INTERNAL_PULSE)
}


def expectation_suite(contract: Contract) -> dict:
    """The Great Expectations suite (as JSON-ready dict) that enforces a contract."""
    exps: list[dict] = []

    def add(kind: str, **kwargs) -> None:
        exps.append({"type": kind, "kwargs": kwargs, "meta": {}})

    add("expect_table_columns_to_match_set", column_set=contract.column_names, exact_match=False)
    for col in contract.columns:
        if col.required:
            add("expect_column_values_to_not_be_null", column=col.name)
        add("expect_column_values_to_be_in_type_list", column=col.name, type_list=PYTHON_TYPES[col.type])
        if col.allowed:
            add("expect_column_values_to_be_in_set", column=col.name, value_set=list(col.allowed))
        if col.minimum is not None or col.maximum is not None:
            add("expect_column_values_to_be_between", column=col.name, min_value=col.minimum, max_value=col.maximum)
    if len(contract.key) == 1:
        add("expect_column_values_to_be_unique", column=contract.key[0])
    else:
        add("expect_compound_columns_to_be_unique", column_list=list(contract.key))
    for col, other, value in contract.required_when:
        add(
            "expect_column_values_to_not_be_null",
            column=col,
            row_condition=f'{other}=="{value}"',
            condition_parser="pandas",
        )
    for earlier, later in contract.ordered:
        add(
            "expect_column_pair_values_a_to_be_greater_than_b",
            column_A=later,
            column_B=earlier,
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        )
    return {"name": contract.table, "expectations": exps, "meta": {"generated_by": "esprit contracts"}}


def suite_path(table: str) -> Path:
    return EXPECTATIONS_DIR / f"{table}.json"


def load_suite_json(table: str) -> dict:
    return json.loads(suite_path(table).read_text(encoding="utf-8"))


def contracts_markdown() -> str:
    lines = [
        "# Data contracts",
        "",
        "Generated from `pipelines/contracts.py` by `esprit contracts`; do not edit by hand.",
        "Every source profile maps its export onto one of these tables. Timestamps are stored",
        "timezone-aware (`TIMESTAMPTZ`); weeks are ISO weeks cut in `week_timezone`",
        "(default Europe/Paris). Each loaded row also keeps `source_file`, `source_line`,",
        "`record_version` (what orders redeliveries of the record) and `load_id`. Great Expectations",
        "checks every value's type, the allowed values and ranges, the order of timestamps and the",
        "uniqueness of the natural key (repeats within a file are counted as duplicates, the last",
        "line winning: `docs/ingestion.md`).",
        "",
    ]
    for c in CONTRACTS.values():
        lines += [f"## `{c.table}`", "", c.description, "", f"Natural key: {', '.join(c.key)} (unique).", ""]
        if c.ordered:
            rules = "; ".join(f"{b} ≥ {a}" for a, b in c.ordered)
            lines += [f"Timestamp order, when both are present: {rules}.", ""]
        for col, other, value in c.required_when:
            lines += [f"`{col}` is required when `{other}` is `{value}`.", ""]
        lines += ["| column | type | required | allowed values | unit | description |", "|---|---|---|---|---|---|"]
        for col in c.columns:
            allowed = ", ".join(col.allowed) if col.allowed else ""
            if col.minimum is not None or col.maximum is not None:
                lo = "" if col.minimum is None else f"{col.minimum:g}"
                hi = "" if col.maximum is None else f"{col.maximum:g}"
                allowed = f"{lo}–{hi}" if hi else f"≥ {lo}"
            lines.append(
                f"| {col.name} | {col.type} | {'yes' if col.required else 'no'} | {allowed} | "
                f"{col.unit} | {col.description} |"
            )
        lines.append("")
    return "\n".join(lines)


def write_generated_files(repo_root: Path = REPO_ROOT) -> list[Path]:
    """Write the suites and the contracts document; return the paths written."""
    written = []
    for c in CONTRACTS.values():
        path = repo_root / "expectations" / f"{c.table}.json"
        path.write_text(json.dumps(expectation_suite(c), indent=2) + "\n", encoding="utf-8")
        written.append(path)
    doc = repo_root / "docs" / "data-contracts.md"
    doc.write_text(contracts_markdown(), encoding="utf-8")
    written.append(doc)
    return written
