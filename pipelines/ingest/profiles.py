"""Source profiles: how one export format maps onto a canonical contract.

A profile is a YAML file in `profiles/`. It names the canonical table it feeds, the file format
(CSV dialect and encoding, JSON Lines, Parquet; gzip is recognised by the `.gz` suffix), the
null markers, the timezone of timestamps written without an offset, per-column timestamp
formats, and for each canonical column a DuckDB expression over the source columns (default:
the source column of the same name; `window` names a window `w` for expressions that look at
neighbouring rows). Value maps translate codes (outcome AGENT -> answered);
a code missing from a map quarantines the row. `derive` builds further tables from the
loaded rows (a case table from a case history). A wrong profile is refused when loaded, with
the key and what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from pipelines.contracts import CONTRACTS, REPO_ROOT

PROFILES_DIR = REPO_ROOT / "profiles"
FORMATS = ("csv", "jsonl", "parquet")
DELIMITERS = ("auto", ",", ";", "\t", "|")
ENCODINGS = ("auto", "utf-8", "cp1252", "latin-1")
TOP_KEYS = {
    "name",
    "description",
    "table",
    "format",
    "null_markers",
    "timezone",
    "columns",
    "value_maps",
    "timestamp_formats",
    "version",
    "personal_columns",
    "derive",
    "window",
    "key_namespace",
    "namespace_keys",
    "redelivery",
    "let",
    "rename",
    "file_name",
    "fixed",
    "unpivot",
    "duplicate_headers",
}
DUPLICATE_HEADERS = ("reject", "number")
REDELIVERIES = ("update", "replace")
FORMAT_KEYS = {"type", "delimiter", "encoding", "header", "quote", "decimal"}


class ProfileError(ValueError):
    """A profile is malformed; the message names the file, the key and what was expected."""


@dataclass(frozen=True)
class FileFormat:
    type: str = "csv"
    delimiter: str = "auto"
    encoding: str = "auto"  # auto: UTF-8 (with or without BOM), else Windows-1252, line by line
    header: bool = True
    quote: str = '"'
    decimal: str = "."


@dataclass(frozen=True)
class Unpivot:
    """A wide survey export's rated questions, one column each, made rows of survey_answers."""

    questions: dict[str, str]  # question name -> the file's column holding its answers
    low: int  # the scale, highest best
    high: int
    not_applicable: tuple[str, ...] = ()  # answers meaning "not applicable" (no value)

    @property
    def scale(self) -> str:
        return f"{self.low}-{self.high}"


@dataclass(frozen=True)
class Derived:
    table: str
    sql: str  # a SELECT over `batch` (the file's rows as loaded into the profile's table)
    unpivot: Unpivot | None = None  # made from the profile's `unpivot`: its answers are checked first


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    table: str
    format: FileFormat
    null_markers: tuple[str, ...] = ("",)
    timezone: str = "Europe/Paris"
    columns: dict[str, str] = field(default_factory=dict)
    value_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    timestamp_formats: dict[str, str] = field(default_factory=dict)
    version: str | None = None  # expression ordering redeliveries of a record: the greatest wins
    personal_columns: tuple[str, ...] = ()  # source columns holding customer identifiers
    derive: tuple[Derived, ...] = ()
    window: str | None = None  # a window `w` the column expressions may use: OVER w
    # Who owns the natural keys this profile loads (default: the profile's name). A key already
    # loaded under another namespace is never replaced: the row is quarantined. Profiles of one
    # system (its cases, case history, calls) share a namespace.
    key_namespace: str | None = None
    namespace_keys: bool = False  # prefix keys and references with "<namespace>:"
    # A file delivered again under the same name with other content: `update`, its rows win and
    # the rows it lacks stay; `replace`, it is the whole truth for that name: what the earlier
    # delivery still holds and it lacks is taken back (a daily export corrected by a full re-export).
    redelivery: str = "update"
    # Building blocks: `let`, named expressions over the file's columns that the column
    # expressions (and later lets) use by name; `rename`, the file's column name -> the name the
    # profile uses (a variant of an export's header: absent names are ignored); `file_name`, a
    # regular expression whose named groups become values the expressions use (a day found only in
    # the file's name); a file whose name does not match is rejected.
    let: dict[str, str] = field(default_factory=dict)
    rename: dict[str, str] = field(default_factory=dict)
    file_name: str | None = None
    # A header naming two columns alike: `reject` the file (default), or `number` the later ones
    # (name_2, name_3: the first keeps its name), as `esprit profile init` proposes for such a file.
    duplicate_headers: str = "reject"
    path: Path | None = None

    @property
    def namespace(self) -> str:
        return self.key_namespace or self.name

    @property
    def digest(self) -> str:
        """SHA-256 of what the profile says (not of where its file lies): a load records it, so
        that the loads of a profile changed since can be found (esprit reload --stale)."""
        import hashlib
        import json
        from dataclasses import asdict

        said = {k: v for k, v in asdict(self).items() if k != "path"}
        for later, default in DIGEST_SINCE.items():  # keys added since loads recorded digests
            if said[later] == default:
                del said[later]
        for derived in said["derive"]:  # added since, like the keys above
            if derived["unpivot"] is None:
                del derived["unpivot"]
        return hashlib.sha256(json.dumps(said, sort_keys=True, default=str).encode()).hexdigest()


# Keys added to profiles after loads recorded their digest: left out while at their default, so
# that those loads are not taken for loads of a profile changed since.
DIGEST_SINCE = {"redelivery": "update", "let": {}, "rename": {}, "file_name": None, "duplicate_headers": "reject"}
# The table an `unpivot` fills, beside the survey responses of the profile's own table.
UNPIVOT_TABLES = {"survey_responses": "survey_answers"}
UNPIVOT_KEYS = {"questions", "scale", "not_applicable"}
LOADABLE = sorted(set(CONTRACTS) - set(UNPIVOT_TABLES.values()))  # the tables a profile can name


def _fail(where: str, key: str, expected: str, got: Any = None) -> None:
    shown = "" if got is None else f", got {got!r}"
    raise ProfileError(f"profile {where}: key '{key}': expected {expected}{shown}")


def _mapping(where: str, key: str, value: Any) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        _fail(where, key, "a mapping", value)
    return value


def parse_profile(data: Any, where: str) -> Profile:
    if not isinstance(data, dict):
        raise ProfileError(f"profile {where}: the top level must be a mapping")
    for key in data:
        if key not in TOP_KEYS:
            _fail(where, str(key), f"one of {sorted(TOP_KEYS)}")
    for key in ("name", "table"):
        if not isinstance(data.get(key), str) or not data.get(key):
            _fail(where, key, "a non-empty string", data.get(key))
    table = data["table"]
    if table not in LOADABLE:
        _fail(where, "table", f"one of {LOADABLE} (survey_answers is filled by a survey profile's unpivot)", table)
    contract = CONTRACTS[table]
    fmt_raw = _mapping(where, "format", data.get("format"))
    for key in fmt_raw:
        if key not in FORMAT_KEYS:
            _fail(where, f"format.{key}", f"one of {sorted(FORMAT_KEYS)}")
    fmt = FileFormat(**fmt_raw)
    if fmt.type not in FORMATS:
        _fail(where, "format.type", f"one of {FORMATS}", fmt.type)
    if fmt.delimiter not in DELIMITERS:
        _fail(where, "format.delimiter", f"one of {DELIMITERS}", fmt.delimiter)
    if fmt.encoding not in ENCODINGS:
        _fail(where, "format.encoding", f"one of {ENCODINGS}", fmt.encoding)
    if fmt.decimal not in (".", ","):
        _fail(where, "format.decimal", "'.' or ','", fmt.decimal)
    if not isinstance(fmt.header, bool):
        _fail(where, "format.header", "true or false", fmt.header)
    if len(fmt.quote) != 1:
        _fail(where, "format.quote", "one character", fmt.quote)
    timezone = data.get("timezone", "Europe/Paris")
    try:
        ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        _fail(where, "timezone", "an IANA timezone such as Europe/Paris", timezone)
    markers = data.get("null_markers", [""])
    if not isinstance(markers, list) or not all(isinstance(m, (str, int)) for m in markers):
        _fail(where, "null_markers", "a list of strings", markers)
    columns = _mapping(where, "columns", data.get("columns"))
    for col, expr in columns.items():
        if col not in contract.column_names:
            _fail(where, f"columns.{col}", f"a column of {table}: {contract.column_names}")
        if not isinstance(expr, (str, int, float)):
            _fail(where, f"columns.{col}", "a DuckDB expression (string)", expr)
    columns = dict(columns)
    for col, value in _mapping(where, "fixed", data.get("fixed")).items():
        columns[col] = _fixed(where, contract, col, value, columns)
    value_maps = _mapping(where, "value_maps", data.get("value_maps"))
    for col, mapping in value_maps.items():
        if col not in contract.column_names:
            _fail(where, f"value_maps.{col}", f"a column of {table}: {contract.column_names}")
        _mapping(where, f"value_maps.{col}", mapping)
        allowed = contract.column(col).allowed
        for source_value, target in mapping.items():
            if str(target).startswith("TODO"):
                _fail(where, f"value_maps.{col}.{source_value}", "a value (the proposal's TODO is left)", target)
            if allowed and target is not None and str(target) not in allowed:
                _fail(where, f"value_maps.{col}.{source_value}", f"one of {list(allowed)} or null", target)
    formats = _mapping(where, "timestamp_formats", data.get("timestamp_formats"))
    for col, fmt_string in formats.items():
        if col not in contract.column_names or contract.column(col).type != "TIMESTAMPTZ":
            _fail(where, f"timestamp_formats.{col}", f"a timestamp column of {table}")
        listed = fmt_string if isinstance(fmt_string, list) else [fmt_string]
        if not listed or not all(isinstance(f, str) and "%" in f for f in listed):
            _fail(
                where,
                f"timestamp_formats.{col}",
                "a strptime format such as '%d/%m/%Y %H:%M', or a list of them tried in order",
                fmt_string,
            )
    lets = _mapping(where, "let", data.get("let"))
    for name, expr in lets.items():
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", str(name)):
            _fail(where, f"let.{name}", "a name of lower-case letters, digits and '_'", name)
        if not isinstance(expr, (str, int, float)):
            _fail(where, f"let.{name}", "a DuckDB expression (string)", expr)
    renames = _mapping(where, "rename", data.get("rename"))
    if not all(isinstance(k, str) and isinstance(v, str) and v for k, v in renames.items()):
        _fail(where, "rename", "a mapping of the file's column name to the name the profile uses", renames)
    file_name = data.get("file_name")
    if file_name is not None:
        try:
            groups = re.compile(str(file_name)).groupindex
        except re.error as exc:
            _fail(where, "file_name", f"a regular expression ({exc})", file_name)
        if not groups:
            _fail(where, "file_name", "a regular expression with named groups such as (?P<day>\\d{8})", file_name)
    derive = []
    raw_derive = data.get("derive") or []
    if not isinstance(raw_derive, list):
        _fail(where, "derive", "a list of {table, sql}", raw_derive)
    for i, item in enumerate(raw_derive):
        if not isinstance(item, dict) or set(item) != {"table", "sql"}:
            _fail(where, f"derive[{i}]", "a mapping with exactly 'table' and 'sql'", item)
        if item["table"] not in CONTRACTS or item["table"] == table:
            _fail(
                where,
                f"derive[{i}].table",
                f"another canonical table: {sorted(set(CONTRACTS) - {table})}",
                item["table"],
            )
        derive.append(Derived(item["table"], str(item["sql"])))
    if data.get("unpivot") is not None:
        derive.append(_unpivot(where, table, data["unpivot"], data.get("null_markers", [""])))
    personal = data.get("personal_columns") or []
    if not isinstance(personal, list):
        _fail(where, "personal_columns", "a list of source column names", personal)
    version = data.get("version")
    window = data.get("window")
    if window is not None and (not isinstance(window, str) or "ORDER BY" not in window.upper()):
        _fail(where, "window", "a window definition such as 'PARTITION BY id ORDER BY ts'", window)
    namespace = data.get("key_namespace")
    if namespace is not None and (not isinstance(namespace, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", namespace)):
        _fail(where, "key_namespace", "a name of letters, digits, '_', '.' or '-'", namespace)
    namespace_keys = data.get("namespace_keys", False)
    if not isinstance(namespace_keys, bool):
        _fail(where, "namespace_keys", "true or false", namespace_keys)
    duplicate_headers = data.get("duplicate_headers", "reject")
    if duplicate_headers not in DUPLICATE_HEADERS:
        _fail(where, "duplicate_headers", f"one of {list(DUPLICATE_HEADERS)}", duplicate_headers)
    redelivery = data.get("redelivery", "update")
    if redelivery not in REDELIVERIES:
        _fail(where, "redelivery", f"one of {list(REDELIVERIES)}", redelivery)
    return Profile(
        name=data["name"],
        description=str(data.get("description", "")),
        table=table,
        format=fmt,
        null_markers=tuple(str(m) for m in markers),
        timezone=str(timezone),
        columns={k: str(v) for k, v in columns.items()},
        value_maps={k: {str(a): (None if b is None else str(b)) for a, b in v.items()} for k, v in value_maps.items()},
        timestamp_formats=dict(formats),
        version=None if version is None else str(version),
        personal_columns=tuple(str(c) for c in personal),
        derive=tuple(derive),
        window=window,
        key_namespace=namespace,
        namespace_keys=namespace_keys,
        redelivery=redelivery,
        let={str(k): str(v) for k, v in lets.items()},
        rename=dict(renames),
        file_name=None if file_name is None else str(file_name),
        duplicate_headers=duplicate_headers,
    )


def _fixed(where: str, contract, col: str, value: Any, columns: dict) -> str:
    """`fixed: {column: value}`: one value for every row of the file (a survey export with no
    date: the day it was taken), as an SQL literal. A timestamp must read as ISO 8601."""
    from datetime import date, datetime

    if col not in contract.column_names:
        _fail(where, f"fixed.{col}", f"a column of {contract.table}: {contract.column_names}")
    if col in columns:
        _fail(where, f"fixed.{col}", "a column that `columns` does not map as well")
    if not isinstance(value, (str, int, float, bool, date)):
        _fail(where, f"fixed.{col}", "one value (a string, number or date)", value)
    text = value.isoformat() if isinstance(value, date) else str(value)
    if contract.column(col).type == "TIMESTAMPTZ":
        try:
            datetime.fromisoformat(text)
        except ValueError:
            _fail(where, f"fixed.{col}", "an ISO 8601 date or time such as '2024-01-01'", value)
    return "'" + text.replace("'", "''") + "'"


def _unpivot(where: str, table: str, data: Any, markers: Any) -> Derived:
    """The `unpivot` block: each rated question's column of a wide survey export becomes rows of
    survey_answers (response, question, scale, value, not applicable), derived from the rows the
    file loads into its own table, so that a quarantined response has no answers either."""
    if table not in UNPIVOT_TABLES:
        _fail(where, "unpivot", f"a profile of table {sorted(UNPIVOT_TABLES)}", table)
    data = _mapping(where, "unpivot", data)
    for key in data:
        if key not in UNPIVOT_KEYS:
            _fail(where, f"unpivot.{key}", f"one of {sorted(UNPIVOT_KEYS)}")
    questions = _mapping(where, "unpivot.questions", data.get("questions"))
    if not questions:
        _fail(where, "unpivot.questions", "a mapping of question name -> the file's column holding its answers")
    for name, column in questions.items():
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", str(name)):
            _fail(where, f"unpivot.questions.{name}", "a name of lower-case letters, digits and '_'", name)
        if not isinstance(column, str) or not column:
            _fail(where, f"unpivot.questions.{name}", "the name of a column of the file", column)
    scale = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", str(data.get("scale", "")))
    if not scale or int(scale[1]) >= int(scale[2]):
        _fail(where, "unpivot.scale", "the answers' scale, lowest-highest, such as 1-5", data.get("scale"))
    absent = data.get("not_applicable") or []
    if not isinstance(absent, list):
        _fail(where, "unpivot.not_applicable", "a list of the answers meaning 'not applicable', such as [0]", absent)
    spec = Unpivot(
        {str(k): str(v) for k, v in questions.items()},
        int(scale[1]),
        int(scale[2]),
        tuple(str(a) for a in absent),
    )
    return Derived(UNPIVOT_TABLES[table], unpivot_sql(spec, [str(m) for m in markers or []]), spec)


def unpivot_sql(spec: Unpivot, markers: list[str]) -> str:
    """The derive's SELECT: one row per answer given (an empty cell, or a null marker, is no answer)."""
    from pipelines.sqltext import sql_ident, sql_string

    def listed(values) -> str:
        return ", ".join(sql_string(v) for v in values) or "NULL"

    picked = ", ".join(f"{sql_ident(col)} AS {sql_ident(q)}" for q, col in spec.questions.items())
    return (
        f"SELECT b.response_id AS response_ref, u.question, {sql_string(spec.scale)} AS scale, "
        f"CASE WHEN u.answer IN ({listed(spec.not_applicable)}) THEN NULL ELSE {whole_number_sql('u.answer')} END "
        f"AS value, u.answer IN ({listed(spec.not_applicable)}) AS not_applicable "
        f"FROM batch b JOIN ({unpivot_answers(spec, markers, picked)}) u USING (source_line)"
    )


def whole_number_sql(text: str) -> str:
    """SQL: a text as a whole number (3, 3.0), else NULL: 3.5 is no answer on a scale of whole
    numbers, where a cast would round it."""
    return f"CASE WHEN regexp_full_match({text}, '[0-9]+(\\.0*)?') THEN CAST(CAST({text} AS DOUBLE) AS INTEGER) END"


def unpivot_answers(spec: Unpivot, markers: list[str], picked: str | None = None) -> str:
    """Every answer of `raw` (trimmed; an empty one or a null marker left out), by source line and question."""
    from pipelines.sqltext import sql_ident, sql_string

    picked = picked or ", ".join(f"{sql_ident(col)} AS {sql_ident(q)}" for q, col in spec.questions.items())
    blank = ", ".join(sql_string(m) for m in dict.fromkeys(["", *markers]))
    return (
        f"SELECT source_line, question, answer FROM (SELECT source_line, question, trim(answer) AS answer FROM "
        f"(UNPIVOT (SELECT source_line, {picked} FROM raw) ON COLUMNS(* EXCLUDE (source_line)) "
        f"INTO NAME question VALUE answer)) WHERE answer NOT IN ({blank})"
    )


def load_profile(name_or_path: str | Path) -> Profile:
    """A profile by name (a file in profiles/) or by path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PROFILES_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(available_profiles())
        raise ProfileError(f"profile '{name_or_path}' not found (known profiles: {known})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProfileError(f"profile {path.name}: not valid YAML: {exc}") from exc
    profile = parse_profile(data, path.name)
    if profile.name != path.stem:
        _fail(path.name, "name", f"the file's name '{path.stem}'", profile.name)
    return Profile(**{**profile.__dict__, "path": path})


def available_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))
