"""`esprit profile init`: a proposed profile for an export nobody has described yet.

DuckDB's CSV sniffer gives the dialect; Esprit's own header reading gives the column names the
loader will use (an empty name is `column<position>`); a sample of the rows gives, per source
column, whether it parses as a timestamp (and in which format), as a number, and its distinct
values when they are few. Each canonical column then gets the source column that matches it best,
by name first, then by content, and a column with allowed values gets a `value_maps` stub listing
the file's values with their counts. What has no candidate is listed as a TODO in the profile's
header comment. Nothing is loaded and nothing is written but the proposal.

Values shown are those of columns mapped to a canonical column with allowed values (channels,
outcomes, priorities), scrubbed, and only when there are few of them: never identifiers or free text.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

from pipelines.contracts import CONTRACTS, Column
from pipelines.ingest.privacy import scrub
from pipelines.ingest.profiles import LOADABLE, FileFormat, Profile
from pipelines.sqltext import sql_ident, sql_string

SAMPLE_ROWS = 20_000
FEW_VALUES = 30  # a column with at most this many distinct values gets a value_maps stub
PARSED_SHARE = 0.95  # a format (or a number type) fits a column when it reads this share of its values
# Formats tried on text columns, beside the sniffer's own guess; ISO 8601 needs none (a plain cast).
TIMESTAMP_FORMATS = (
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%m/%d/%Y",
    "%d/%m/%Y",
    "%d.%m.%Y",
    "%Y-%m-%d",
)
# Names exports use for canonical columns, compared without case, spaces or punctuation.
SYNONYMS = {
    "case_id": ("caseid", "complaintid", "ticketid", "incidentid", "srnumber", "requestid", "casenumber"),
    "customer_ref": ("customerid", "customer", "clientid", "customernumber", "callerid", "accountid"),
    "opened_at": ("opened", "datereceived", "created", "createdat", "opendate", "receivedat", "submittedat"),
    "resolved_at": ("closed", "resolved", "closedat", "closeddate", "resolveddate"),
    "channel": ("source", "submittedvia", "via", "medium", "contactchannel"),
    "category": ("product", "issue", "requesttype", "type", "subject"),
    "priority": ("severity", "urgency", "impact"),
    "origin_ref": ("originref", "callref", "originatingcall"),
    "call_id": ("callid", "callreference", "interactionid"),
    "segment_no": ("segment", "segmentnumber", "leg"),
    "offered_at": ("offered", "queuestart", "qstart", "arrived", "starttime"),
    "answered_at": ("answered", "serstart", "servicestart", "connected"),
    "ended_at": ("ended", "serexit", "serviceend", "endtime", "hangup"),
    "queue": ("skill", "queuename", "split", "service"),
    "team": ("group", "assignmentgroup", "department", "involvedst"),
    "agent_id": ("agent", "server", "agentname", "resource", "operator"),
    "outcome": ("result", "callresult", "disposition"),
    "transfer_type": ("transfer", "transferkind"),
    "hold_seconds": ("hold", "holdtime", "holdseconds"),
    "wrap_code": ("wrapup", "wrapupcode", "reasoncode"),
    "event_seq": ("sequence", "seq", "eventnumber", "step"),
    "event_at": ("eventtime", "timestamp", "changedat", "datetime", "time"),
    "event_type": ("activity", "status", "action", "eventname"),
    "status": ("substatus", "state"),
    "response_id": ("responseid", "surveyid", "respondentid", "id"),
    "responded_at": ("responsedate", "responsetime", "surveydate", "date", "submitted"),
    "nps": ("npsscore", "score", "likelihoodtorecommend", "recommend"),
    "csat": ("satisfaction", "csatscore", "overallsatisfaction"),
    "ces": ("effort", "customereffort", "cesscore"),
    "verbatim": ("comment", "comments", "feedback", "text", "freetext", "narrative", "consumercomplaintnarrative"),
    "journey_step": ("surveysubtype", "touchpoint", "step", "stage"),
    "interaction_ref": ("interactionid", "ticket", "callid", "caseid"),
    "language": ("lang", "locale"),
}


class OnboardingError(ValueError):
    """The file cannot be profiled: the message names it and says why."""


@dataclass
class SourceColumn:
    name: str
    non_null: int
    distinct: int
    timestamp_format: str | None = None  # "" for ISO 8601 (a cast), None when not a timestamp
    integer: bool = False
    number: bool = False
    ambiguous: bool = False  # the day-month order of its timestamps cannot be told from its values
    values: list[tuple[str, int]] = field(default_factory=list)  # when few: (value, count)


@dataclass
class Proposal:
    profile: dict
    todo: list[str]
    notes: list[str]
    columns: list[SourceColumn]

    def as_yaml(self) -> str:
        lines = ["# Proposed by esprit profile init: review it, then edit what the TODO list names."]
        lines += [f"# note: {note}" for note in self.notes]
        lines += [f"# TODO: {item}" for item in self.todo] or ["# TODO: nothing: every canonical column has a source"]
        return "\n".join(lines) + "\n" + yaml.safe_dump(self.profile, sort_keys=False, allow_unicode=True, width=100)


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _dialect(con, path: Path) -> dict:
    try:
        sniffed = con.execute(
            "SELECT Delimiter, Quote, HasHeader, DateFormat, TimestampFormat FROM sniff_csv(?, sample_size = ?)",
            [str(path), SAMPLE_ROWS],
        ).fetchone()
    except duckdb.Error as exc:
        raise OnboardingError(f"{path.name}: DuckDB's CSV sniffer cannot read it: {exc}") from exc
    delimiter, quote, header, date_format, timestamp_format = sniffed
    return {
        "delimiter": delimiter if delimiter in (",", ";", "\t", "|") else "auto",
        "quote": quote if quote in ('"', "'") else '"',
        "header": bool(header),
        "formats": [f for f in (timestamp_format, date_format) if f],
    }


def _header(path: Path, fmt: FileFormat) -> list[str]:
    """The column names Esprit's reader gives this file (an empty name: column<position>)."""
    from pipelines.ingest.readers import _csv_columns
    from pipelines.ingest.results import FileRejected

    profile = Profile(name="init", description="", table="calls", format=fmt)
    try:
        return _csv_columns(path, profile)[0]
    except FileRejected as exc:
        if exc.rule == "duplicate_header":  # named as the loader will with duplicate_headers: number
            return _csv_columns(path, Profile(**{**profile.__dict__, "duplicate_headers": "number"}))[0]
        raise OnboardingError(f"{path.name}: rule {exc.rule}: {exc}") from exc


def _header_as_written(path: Path, fmt: FileFormat) -> list[str]:
    """The header as the file writes it (an empty name: column<position>), no name numbered."""
    from pipelines.ingest.readers import _csv_header

    header, _ = _csv_header(path, Profile(name="init", description="", table="calls", format=fmt))
    return [name or f"column{i + 1}" for i, name in enumerate(header)] if fmt.header else header


def _profile_columns(con, relation: str, names: list[str], formats: list[str]) -> list[SourceColumn]:
    found = []
    tried = list(dict.fromkeys([*formats, *TIMESTAMP_FORMATS]))
    for name in names:
        column = sql_ident(name)
        non_null, distinct = con.execute(
            f"SELECT count({column}), count(DISTINCT {column}) FROM {relation} WHERE trim({column}) <> ''"
        ).fetchone()
        source = SourceColumn(name, non_null, distinct)
        found.append(source)
        if not non_null:
            continue
        share = f"count(*) FILTER (WHERE {{}} IS NOT NULL) / {non_null}"
        where = f"FROM {relation} WHERE trim({column}) <> ''"
        checks = [
            share.format(f"TRY_CAST({column} AS BIGINT)"),
            share.format(f"TRY_CAST({column} AS DOUBLE)"),
            share.format(f"TRY_CAST({column} AS TIMESTAMPTZ)"),
            *(share.format(f"try_strptime({column}, {sql_string(f)})") for f in tried),
        ]
        shares = con.execute(f"SELECT {', '.join(checks)} {where}").fetchone()
        source.integer, source.number = shares[0] >= PARSED_SHARE, shares[1] >= PARSED_SHARE
        if not source.number:  # a number is not a date, whatever format reads it
            if shares[2] >= PARSED_SHARE:
                source.timestamp_format = ""
            else:
                fits = [f for f, s in zip(tried, shares[3:]) if s >= PARSED_SHARE]
                source.timestamp_format = fits[0] if fits else None
                # day and month both read every value: which is which cannot be told from them
                source.ambiguous = any(f != fits[0] and sorted(f) == sorted(fits[0]) for f in fits)
        if distinct <= FEW_VALUES:
            source.values = con.execute(f"SELECT {column}, count(*) {where} GROUP BY 1 ORDER BY 2 DESC, 1").fetchall()
    return found


IDENTIFIERS = {"customer_ref", "response_id", "case_id", "call_id", "interaction_ref", "origin_ref"}
RATING_MAX = 10  # a column of whole numbers from 0 or 1 to at most this is a rating (unpivot)


def _fits(canonical: Column, source: SourceColumn) -> bool:
    """Whether the source column's content can be the canonical column's type."""
    if canonical.name in IDENTIFIERS and source.distinct <= FEW_VALUES and source.distinct < source.non_null / 2:
        return False  # a handful of values repeated over many rows is a category, not an identifier
    if canonical.type == "TIMESTAMPTZ":
        return source.timestamp_format is not None
    if canonical.type in ("INTEGER", "BIGINT"):
        return source.integer
    if canonical.type == "DOUBLE":
        return source.number
    if canonical.type == "BOOLEAN":
        return 0 < source.distinct <= 2
    return True


def _match(canonical: Column, sources: list[SourceColumn], taken: set[str]) -> tuple[SourceColumn | None, str]:
    """The source column for a canonical one, and why: its name, a synonym, a near name."""
    free = [s for s in sources if s.name not in taken and s.non_null and _fits(canonical, s)]
    wanted = _normal(canonical.name)
    for s in free:
        if _normal(s.name) == wanted:
            return s, "same name"
    synonyms = SYNONYMS.get(canonical.name, ())
    for synonym in synonyms:  # in the order listed: the likelier first
        for s in free:
            if _normal(s.name) == synonym:
                return s, f"name '{s.name}' is a usual name for it"
    near = difflib.get_close_matches(wanted, [_normal(s.name) for s in free], n=1, cutoff=0.75)
    if near:
        s = next(s for s in free if _normal(s.name) == near[0])
        return s, f"name '{s.name}' is close"
    return None, ""


def _labels(canonical: Column, sources: list[SourceColumn], taken: set[str]) -> SourceColumn | None:
    """A score column (CSAT, NPS, CES) named in the file but holding a few words instead of numbers
    (an airline survey's 'satisfied' / 'neutral or dissatisfied')."""
    if canonical.type != "INTEGER" or canonical.maximum is None:
        return None
    for s in sources:
        if s.name in taken or s.integer or not s.values or not 1 < len(s.values) <= 10:
            continue
        if _normal(s.name) == _normal(canonical.name) or _normal(s.name) in SYNONYMS.get(canonical.name, ()):
            return s
    return None


def _unpivot(table: str, sources: list[SourceColumn], taken: set[str]) -> dict | None:
    """An `unpivot` stub for a survey: the columns no canonical column took whose values are whole
    numbers from 0 or 1 to at most RATING_MAX (ratings of aspects), on one scale."""
    if table != "survey_responses":
        return None
    ratings = {}
    for s in sources:
        if s.name in taken or not s.integer or not s.values:
            continue
        numbers = [int(v) for v, _ in s.values if str(v).strip().lstrip("-").isdigit()]
        if len(numbers) == len(s.values) and min(numbers) >= 0 and 2 < max(numbers) <= RATING_MAX:
            ratings[s.name] = (min(numbers), max(numbers))
    if len(ratings) < 2:
        return None
    low = min(lo for lo, _ in ratings.values())
    high = max(hi for _, hi in ratings.values())
    questions = {
        re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or f"q{i + 1}": name for i, name in enumerate(ratings)
    }
    stub: dict = {"scale": f"{max(low, 1)}-{high}"}
    if low == 0:
        stub["not_applicable"] = [0]
    stub["questions"] = questions
    return stub


def _value_map(canonical: Column, source: SourceColumn) -> dict[str, str] | None:
    """A stub mapping each of the file's values to an allowed value: the same value when it is
    one, else a TODO naming the choices."""
    if not canonical.allowed or not source.values:
        return None
    allowed = {a.lower(): a for a in canonical.allowed}
    choices = "|".join(canonical.allowed)
    stub = {}
    for value, _count in source.values:
        shown = scrub(str(value))
        stub[shown] = allowed.get(str(value).strip().lower(), f"TODO one of {choices}")
    if all(not v.startswith("TODO") and k == v for k, v in stub.items()):
        return None  # already the canonical values
    return stub


def propose_profile(path: Path, table: str, name: str | None = None) -> Proposal:
    """A profile for `path` loading into `table`, with what is left to decide."""
    if table not in LOADABLE:
        raise OnboardingError(f"unknown table '{table}': expected one of {LOADABLE}")
    if not path.is_file():
        raise OnboardingError(f"{path}: no such file")
    suffix = path.suffix.lower()
    con = duckdb.connect()
    try:
        if suffix in (".parquet", ".jsonl", ".ndjson"):
            fmt_data: dict = {"type": "parquet" if suffix == ".parquet" else "jsonl"}
            reader = (
                f"read_parquet({sql_string(str(path))})"
                if suffix == ".parquet"
                else f"read_json({sql_string(str(path))}, format = 'newline_delimited', records = true)"
            )
            try:
                con.execute(f"CREATE TEMP TABLE sample AS SELECT * FROM {reader} LIMIT {SAMPLE_ROWS}")
            except duckdb.Error as exc:
                raise OnboardingError(f"{path.name}: cannot be read as {fmt_data['type']}: {exc}") from exc
            names = [r[0] for r in con.execute("DESCRIBE sample").fetchall()]
            con.execute(
                "CREATE TEMP TABLE sample_text AS SELECT "
                + ", ".join(f"{sql_ident(n)}::VARCHAR AS {sql_ident(n)}" for n in names)
                + " FROM sample"
            )
            relation, formats = "sample_text", []
        else:
            dialect = _dialect(con, path)
            fmt = FileFormat(type="csv", delimiter=dialect["delimiter"], quote=dialect["quote"])
            fmt_data = {"type": "csv", "delimiter": fmt.delimiter, "encoding": "auto"}
            if fmt.quote != '"':
                fmt_data["quote"] = fmt.quote
            names = _header(path, fmt)
            if names != _header_as_written(path, fmt):  # a repeated name was numbered
                fmt_data["duplicate_headers"] = "number"
            delimiter = fmt.delimiter if fmt.delimiter != "auto" else ","
            columns = "{" + ", ".join(f"{sql_string(n)}: 'VARCHAR'" for n in names) + "}"
            try:
                con.execute(
                    f"CREATE TEMP TABLE sample_text AS SELECT * FROM read_csv({sql_string(str(path))}, "
                    f"header = true, delim = {sql_string(delimiter)}, quote = {sql_string(fmt.quote)}, "
                    f"escape = {sql_string(fmt.quote)}, columns = {columns}, auto_detect = false, "
                    f"ignore_errors = true) LIMIT {SAMPLE_ROWS}"
                )
            except duckdb.Error as exc:
                raise OnboardingError(f"{path.name}: cannot be read as CSV with the sniffed dialect: {exc}") from exc
            relation, formats = "sample_text", dialect["formats"]
        sources = _profile_columns(con, relation, names, formats)
        rows = con.execute(f"SELECT count(*) FROM {relation}").fetchone()[0]
    finally:
        con.close()
    return _proposal(path, table, name, fmt_data, sources, rows)


def _proposal(path: Path, table: str, name: str | None, fmt: dict, sources: list[SourceColumn], rows: int) -> Proposal:
    contract = CONTRACTS[table]
    taken: set[str] = set()
    columns: dict[str, str] = {}
    formats: dict[str, str] = {}
    value_maps: dict[str, dict[str, str]] = {}
    todo: list[str] = []
    notes = [f"read {rows:,} rows of {path.name} ({len(sources)} columns)"]
    for canonical in contract.columns:
        source, why = _match(canonical, sources, taken)
        if source is None:
            columns[canonical.name] = "NULL"
            labels = _labels(canonical, sources, taken)
            if labels is not None:  # a satisfaction label: mapped to the score only by the profile's own map
                columns[canonical.name], value_maps[canonical.name] = (
                    sql_ident(labels.name),
                    {scrub(str(v)): f"TODO a value {canonical.unit.split(',')[0]} or null" for v, _ in labels.values},
                )
                taken.add(labels.name)
                todo.append(
                    f"value_maps.{canonical.name}: {labels.name!r} holds labels, not {canonical.unit}: map each to a "
                    f"{canonical.name} value only if the survey's wording says which (docs/ingestion.md, satisfaction "
                    f"labels), else remove {canonical.name} from columns and value_maps"
                )
                continue
            if canonical.required:
                hint = "write an expression over its columns (docs/ingestion.md)"
                if canonical.name == contract.event_time:
                    hint = (
                        f"when the export gives no date, give one: from the file's name (file_name: a pattern with a "
                        f"group such as (?P<day>\\d{{4}}-\\d{{2}}-\\d{{2}}), and {canonical.name}: day) or for the "
                        f"whole file (fixed: {{{canonical.name}: 'YYYY-MM-DD'}}, and no {canonical.name} in columns); "
                        f"never a made-up date"
                    )
                if canonical.name == "customer_ref" and contract.key != ("customer_ref",):
                    key = columns.get(contract.key[0], "NULL")
                    if key != "NULL":  # an export that names no customer: each record stands for its own
                        hint = (
                            f"when the export names no customer, make each record its own: "
                            f"customer_ref: `'{{name}}/' || {key}`"
                        )
                todo.append(
                    f"{canonical.name} ({canonical.type}, required: {canonical.description}): no column of the "
                    f"file matches; {hint}"
                )
            continue
        taken.add(source.name)
        columns[canonical.name] = sql_ident(source.name) if source.name != canonical.name else canonical.name
        notes.append(f"{canonical.name} <- {source.name!r}: {why}")
        if canonical.type == "TIMESTAMPTZ" and source.timestamp_format:
            formats[canonical.name] = source.timestamp_format
            if source.ambiguous:
                todo.append(
                    f"timestamp_formats.{canonical.name}: {source.name!r} reads as {source.timestamp_format} and "
                    f"with day and month swapped; keep the one a known date confirms"
                )
        stub = _value_map(canonical, source)
        if stub:
            value_maps[canonical.name] = stub
            if any(v.startswith("TODO") for v in stub.values()):
                todo.append(
                    f"value_maps.{canonical.name}: map each value of {source.name!r} to one of {list(canonical.allowed)}"
                )
        elif canonical.allowed and source.distinct > FEW_VALUES:
            todo.append(
                f"{canonical.name}: {source.name!r} has {source.distinct} different values, more than the "
                f"allowed {list(canonical.allowed)}; map them with value_maps or an expression"
            )
    profile_name = name or re.sub(r"[^a-z0-9_]+", "_", path.stem.lower()).strip("_") or "new_profile"
    todo = [t.replace("{name}", profile_name) for t in todo]
    personal = [columns["customer_ref"]] if columns.get("customer_ref", "NULL") != "NULL" else []
    profile = {
        "name": profile_name,
        "description": f"Proposed from {path.name} by esprit profile init; describe the export here.",
        "table": table,
        "format": fmt,
        "null_markers": [""],
        "timezone": "Europe/Paris",
        "personal_columns": [p.strip('"') for p in personal],
        "columns": columns,
    }
    todo.append("timezone: the zone the export's times without an offset are in (Europe/Paris proposed)")
    if fmt.pop("duplicate_headers", None):
        profile = {**dict(list(profile.items())[:4]), "duplicate_headers": "number", **dict(list(profile.items())[4:])}
        notes.append("the header repeats names: the later ones are read as name_2, name_3 (duplicate_headers: number)")
    unpivot = _unpivot(table, sources, taken)
    if unpivot:
        profile["unpivot"] = unpivot
        todo.append(
            f"unpivot: {len(unpivot['questions'])} columns hold ratings {unpivot['scale']} (0 seen too: proposed as "
            f"not applicable): check the scale and not_applicable against the survey's wording"
            if unpivot.get("not_applicable")
            else f"unpivot: {len(unpivot['questions'])} columns hold ratings {unpivot['scale']}: check the scale"
        )
    if formats:
        profile["timestamp_formats"] = formats
    if value_maps:
        profile["value_maps"] = value_maps
    return Proposal(profile, todo, notes, sources)
