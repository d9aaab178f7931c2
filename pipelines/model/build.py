"""Build the warehouse's SQL models: `sql/<layer>/<model>.sql`, one SELECT per file.

A model's table is named after its file. Models run layer by layer (staging, journeys,
metrics, scorecard) and, inside a layer, after the models they reference. Settings reach
the SQL as DuckDB variables (`getvariable('long_wait_seconds')`) and mappings as tables
(`param_friction_signals`, `param_stages`, `param_pickup_sla`, `param_handoff_reasons` from
`sql/vocabulary.yaml`), never by pasting text into SQL;
expressions several models share are DuckDB macros (`sql/macros.sql`: `iso_week(t)`).
Tables persist across builds: an incremental build (`build_models`) recomputes the entity rows
of the customers new files reach and the weekly rows of the weeks they touch; changed figures
are recorded as restatements (docs/metrics.md).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import yaml

from pipelines.config import Settings
from pipelines.contracts import CONTRACTS, REPO_ROOT
from pipelines.listening.taxonomy import TAXONOMY_FILE
from pipelines.model.feeds import configured_feeds, data_horizon_sql, journey_scope, unmeasured
from pipelines.model.themes import refresh_verbatim_themes
from pipelines.sqltext import sql_ident, sql_string, sql_timestamp
from pipelines.vocabulary import load as load_vocabulary
from pipelines.vocabulary import set_vocabulary
from pipelines.warehouse import commit, connect, defer_vacuum, define_macros, ensure_schema

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

SQL_DIR = REPO_ROOT / "sql"
LAYERS = ("staging", "journeys", "metrics", "scorecard")


MODELS_FILE = "_models.yml"  # beside each layer's SQL: what its models read, how they build


@dataclass(frozen=True)
class Model:
    """A model: its SQL and its entry in its layer's _models.yml (keys explained in
    sql/staging/_models.yml)."""

    name: str
    layer: str
    path: Path
    sql: str
    depends_on: tuple[str, ...] = ()
    incremental: str | None = None  # slice | weekly | None (rebuilt whole)
    slice: str | None = None  # SQL: the rows of the slice's contacts
    storage_order: str | None = None
    fingerprint_weeks: tuple[str, ...] = ()
    delete_bounds: tuple[str, ...] = ()  # delete_from_first_week_of
    contact_time: str | None = None


def _slice_predicate(spec: dict) -> str:
    """The rows of a slice: its `column` is one of the slice's `contacts`, or, with `by`, one of
    the contacts named for the row's `by` value (`otherwise` for the rest)."""
    if "by" not in spec:
        return _in_slice(spec["column"], spec["contacts"])
    whens = " ".join(
        f"WHEN {sql_string(value)} THEN {_in_slice(spec['column'], contacts)}"
        for value, contacts in spec["contacts"].items()
    )
    return f"CASE {sql_ident(spec['by'])} {whens} ELSE {_in_slice(spec['column'], spec['otherwise'])} END"


def _in_slice(column: str, contacts: str) -> str:
    """column's value is one of the slice's contacts ('calls', 'cases', 'surveys', 'journeys')."""
    return f"{column} IN (SELECT id FROM _slice_{contacts})"


def _layer_config(layer_dir: Path) -> dict:
    path = layer_dir / MODELS_FILE
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}


def source_slices(sql_dir: Path = SQL_DIR) -> dict[str, str]:
    """The canonical tables' slice predicates (`sources:` in the layers' _models.yml). A table
    only weekly models read (`slice: none`) has no rows in any slice: its loads' weeks are
    recomputed through load_audit."""
    return {
        table: "false" if spec["slice"] == "none" else _slice_predicate(spec["slice"])
        for layer_dir in sorted(p for p in sql_dir.iterdir() if p.is_dir())
        for table, spec in (_layer_config(layer_dir).get("sources") or {}).items()
    }


def tables_read(con: duckdb.DuckDBPyConnection, sql: str) -> set[str]:
    """The tables a query reads, from DuckDB's own parse of it (its CTEs left out)."""
    import json

    parsed = json.loads(con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    if parsed.get("error"):
        raise ValueError(parsed.get("error_message", "unparseable SQL"))
    names, ctes = set(), set()

    def walk(node) -> None:
        if isinstance(node, dict):
            if node.get("type") == "BASE_TABLE":
                names.add(node["table_name"])
            ctes.update(entry["key"] for entry in (node.get("cte_map") or {}).get("map", []))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(parsed)
    return names - ctes


def discover(sql_dir: Path = SQL_DIR) -> list[Model]:
    """All models in build order, each with its entry in its layer's _models.yml. Raises
    ValueError on an unknown layer, a model without an entry (or an entry without a model), a
    model whose SQL reads other tables than its depends_on declares, a dependency on a later
    layer, or a cycle."""
    models: dict[str, Model] = {}
    con = duckdb.connect()
    try:
        for layer_dir in sorted(p for p in sql_dir.iterdir() if p.is_dir()):
            if layer_dir.name not in LAYERS:
                raise ValueError(f"{layer_dir}: unknown layer (expected one of {LAYERS})")
            entries = dict(_layer_config(layer_dir).get("models") or {})
            for path in sorted(layer_dir.glob("*.sql")):
                if path.stem in models:
                    raise ValueError(f"{path}: model name '{path.stem}' already used in {models[path.stem].path}")
                if path.stem not in entries:
                    raise ValueError(
                        f"{path}: model {path.stem} has no entry in {layer_dir / MODELS_FILE} "
                        f"(declare what it reads: depends_on)"
                    )
                spec = entries.pop(path.stem) or {}
                sql = path.read_text(encoding="utf-8")
                declared = set(spec.get("depends_on") or ())
                try:
                    read = tables_read(con, sql)
                except (ValueError, duckdb.Error) as exc:
                    raise ValueError(f"{path}: model {path.stem} does not parse: {exc}") from exc
                if read != declared:
                    raise ValueError(
                        f"{path}: model {path.stem} reads {sorted(read)} but {MODELS_FILE} declares "
                        f"depends_on {sorted(declared)}: "
                        + "; ".join(
                            filter(
                                None,
                                (
                                    read - declared and f"undeclared: {', '.join(sorted(read - declared))}",
                                    declared - read and f"not read: {', '.join(sorted(declared - read))}",
                                ),
                            )
                        )
                    )
                models[path.stem] = Model(
                    path.stem,
                    layer_dir.name,
                    path,
                    sql,
                    tuple(sorted(declared)),
                    spec.get("incremental"),
                    _slice_predicate(spec["slice"]) if spec.get("slice") else None,
                    spec.get("storage_order"),
                    tuple(spec.get("fingerprint_weeks") or ()),
                    tuple(spec.get("delete_from_first_week_of") or ()),
                    spec.get("contact_time"),
                )
            if entries:
                raise ValueError(f"{layer_dir / MODELS_FILE}: no SQL file for model(s) {', '.join(sorted(entries))}")
    finally:
        con.close()
    deps = {name: {other for other in m.depends_on if other in models} for name, m in models.items()}
    for name, needed in deps.items():
        for other in needed:
            if LAYERS.index(models[other].layer) > LAYERS.index(models[name].layer):
                raise ValueError(
                    f"model {name} ({models[name].layer}) reads {other} from a later layer ({models[other].layer})"
                )
    ordered: list[str] = []
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in ordered:
            return
        if name in visiting:
            raise ValueError(f"models reference each other in a cycle through {name}")
        visiting.add(name)
        for other in sorted(deps[name], key=lambda o: (LAYERS.index(models[o].layer), o)):
            visit(other)
        visiting.discard(name)
        ordered.append(name)

    for name in sorted(models, key=lambda n: (LAYERS.index(models[n].layer), n)):
        visit(name)
    return [models[n] for n in ordered]


def parameter_set(settings: Settings) -> tuple[str, str]:
    """Every parameter the metrics depend on, as canonical JSON, and its short hash."""
    import hashlib
    import json

    params = {
        "week_timezone": settings.week_timezone,
        "metrics": settings.metrics,
        "friction_signals": settings.friction_signals,
        "stages": settings.stages,
        "unassigned_team": settings.teams["unassigned"],
        "pulse": settings.pulse,
    }
    if settings.metrics.get("journey_scope") == "auto":  # resolved by the sources: part of the parameters
        params["journey_scope_resolved"] = journey_scope(settings)
    text = json.dumps(params, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:12], text


def set_parameters(con: duckdb.DuckDBPyConnection, settings: Settings, sql_dir: Path = SQL_DIR) -> None:
    define_macros(con, settings.week_timezone, sql_dir / "macros.sql")
    con.execute("SET VARIABLE unassigned_team = ?", [settings.teams["unassigned"]])
    for key, value in settings.pulse.items():
        con.execute(f"SET VARIABLE pulse_{key} = ?", [value])
    for key, value in settings.metrics.items():
        if not isinstance(value, dict) and key != "complaint_sla_rules":  # those become tables below
            con.execute(f"SET VARIABLE {key} = ?", [value])
    # complaint deadlines per priority and category, in rule order; the defaults serve the rest
    rules = settings.metrics["complaint_sla_rules"] or []
    con.execute(
        "CREATE OR REPLACE TABLE param_complaint_sla (position INTEGER, priority VARCHAR, category VARCHAR, "
        "sla_days DOUBLE, ack_hours DOUBLE)"
    )
    if rules:
        con.executemany(
            "INSERT INTO param_complaint_sla VALUES (?, ?, ?, ?, ?)",
            [
                [i, r.get("priority"), r.get("category"), r.get("sla_days"), r.get("ack_hours")]
                for i, r in enumerate(rules)
            ],
        )
    # the longest complaint deadline, which bounds how far a journey's figures look ahead
    con.execute(
        "SET VARIABLE complaint_sla_days_max = ?",
        [max([settings.metrics["complaint_sla_days"]] + [r["sla_days"] for r in rules if "sla_days" in r])],
    )
    # per receiving team; the row 'default' serves every team not listed
    con.execute("CREATE OR REPLACE TABLE param_pickup_sla (team VARCHAR, call_seconds DOUBLE, case_hours DOUBLE)")
    con.executemany(
        "INSERT INTO param_pickup_sla VALUES (?, ?, ?)",
        [
            [team, float(spec["call_seconds"]), float(spec["case_hours"])]
            for team, spec in settings.metrics["pickup_sla"].items()
        ],
    )
    con.execute(
        "CREATE OR REPLACE TABLE param_stages (stage VARCHAR, position INTEGER, en VARCHAR, fr VARCHAR, "
        "reached_by VARCHAR)"
    )
    con.executemany(
        "INSERT INTO param_stages VALUES (?, ?, ?, ?, ?)",
        [
            [name, i, spec.get("en", name), spec.get("fr", name), spec["reached_by"]]
            for i, (name, spec) in enumerate(settings.stages.items(), start=1)
        ],
    )
    # each weekly result names the parameter set it was computed with
    digest, text = parameter_set(settings)
    con.execute(
        "CREATE TABLE IF NOT EXISTS parameter_sets (parameter_set VARCHAR PRIMARY KEY, parameters JSON, "
        "first_used_at TIMESTAMPTZ DEFAULT now())"
    )
    con.execute("INSERT OR IGNORE INTO parameter_sets (parameter_set, parameters) VALUES (?, ?)", [digest, text])
    con.execute("SET VARIABLE parameter_set = ?", [digest])
    con.execute("CREATE OR REPLACE TABLE param_friction_signals (signal VARCHAR, stage VARCHAR, weight DOUBLE)")
    con.executemany(
        "INSERT INTO param_friction_signals VALUES (?, ?, ?)",
        [[name, spec["stage"], float(spec["weight"])] for name, spec in settings.friction_signals.items()],
    )
    # What the configured feeds cannot measure, and how far their data reaches: these change the
    # scorecard layer only (rebuilt by every build), not the parameter set of the weekly tables.
    # the vocabularies of sql/vocabulary.yaml: failure reasons as a table and a type, feeds per figure
    vocabulary = load_vocabulary(sql_dir / "vocabulary.yaml")
    set_vocabulary(con, vocabulary)
    feeds = configured_feeds(settings)
    con.execute("CREATE OR REPLACE TABLE param_unmeasured (metric VARCHAR, missing_feeds VARCHAR)")
    missing = unmeasured(settings, feeds, vocabulary)
    if missing:
        con.executemany("INSERT INTO param_unmeasured VALUES (?, ?)", [[m, f] for m, f in missing.items()])
    con.execute("SET VARIABLE data_horizon = ?", [con.execute(data_horizon_sql(feeds)).fetchone()[0]])
    con.execute("SET VARIABLE journey_scope = ?", [journey_scope(settings, feeds)])


# Weekly metric tables (incremental: weekly in _models.yml) are kept across builds: a build
# recomputes only the weeks new or late files touched and replaces those weeks' rows. A week is
# touched when a file lists it (load_audit.weeks) or when a row it is counted by changed: these
# tables, compared with their previous build, carry every row a weekly figure is counted from, and
# through journeys and handoffs the neighbouring weeks a late contact reaches.

FIGURES_MODEL = "weekly_scorecard"  # restatements compare its values, the published figures
# An incremental build deletes the slice's entity rows and appends their replacements; the deleted
# rows stay in their row groups (a build's connection defers DuckDB's vacuum) until the rows deleted since
# the last compaction reach this share of the entity tables' rows: then the build compacts
# (vacuum), as PostgreSQL's autovacuum does at its scale factor (0.2 by default).
COMPACT_SHARE = 0.2
BUILD_DDL = """
CREATE SEQUENCE IF NOT EXISTS build_id_seq START 1;
CREATE TABLE IF NOT EXISTS model_builds (
    build_id BIGINT PRIMARY KEY, built_at TIMESTAMPTZ, parameter_set VARCHAR, sql_hash VARCHAR,
    last_load_id BIGINT, full_rebuild BOOLEAN, weeks VARCHAR[]);
ALTER TABLE model_builds ADD COLUMN IF NOT EXISTS rows_deleted BIGINT;
ALTER TABLE model_builds ADD COLUMN IF NOT EXISTS compacted BOOLEAN;
CREATE TABLE IF NOT EXISTS metric_restatements (
    week VARCHAR, metric VARCHAR, previous_value DOUBLE, new_value DOUBLE, restated_at TIMESTAMPTZ,
    parameter_set VARCHAR, load_ids BIGINT[]);
"""


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE NOT temporary").fetchall()}


def _row_hash(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    """An expression hashing a whole row of relation, column by column."""
    columns = [r[0] for r in con.execute(f"DESCRIBE {relation}").fetchall()]
    return f"hash({', '.join(sql_ident(c) for c in columns)})"


def _fingerprint_parts(model: Model, relation: str) -> list[str]:
    """Per week column of table: (model, week_column, week, row_count, row_hash) of relation's
    rows, which hold the week columns and a row hash `h`."""
    return [
        f"SELECT '{model.name}' AS model, '{column}' AS week_column, {column} AS week, count(*) AS row_count, "
        f"sum(h::HUGEINT) AS row_hash FROM {relation} GROUP BY ALL"
        for column in model.fingerprint_weeks
    ]


# Entity tables (staging, journeys, handoffs, friction events) persist too, and an incremental
# build recomputes only a slice of contacts (calls, cases, responses) and replaces their rows.
# Journeys are stitched per customer from gaps of at most journey_window_days between anchors
# (calls, and cases not escalated from a call), and every signal looks within a journey, a call,
# a case or a customer's next journey_window_days (recontact): so a change at instant t to a
# customer's contacts reaches back no further than the start of the run (run_started_at: journeys
# cut only by journey_max_span_days form one run, and the cuts count from its start) of that
# customer's first journey whose last anchor is within the window before t. The slice holds, for each customer touched,
# every anchor from that cut on, and every case escalated from, and response rating, a contact
# of the slice (a response without one: from the cut on). A contact is touched where it is
# loaded, where the version it replaced was, and where the contacts it names or that name it
# are (a case's origin call, a response's rated call or case), so that whole journeys are
# replaced. Each model's `slice` (_models.yml) says which of its rows the slice holds.


def _sessions(con: duckdb.DuckDBPyConnection) -> None:
    """_sessions: the touched customers' journeys, as the previous build stitched them, whose last
    anchor is at or after b0 = the first touch minus journey_window_days (no other can reach a
    touch), with their first and last anchors.

    journey_contacts is stored in contact time order, so reading it from a bound on skips the
    older row groups. Anchors of one journey are at most journey_window_days apart, so a journey
    whose first anchor read is more than that after the bound has no anchor before it; while
    some journey does not, the bound moves back (the window, then doubling)."""
    window = "to_days(getvariable('journey_window_days'))"
    b0 = con.execute(f"SELECT min(touched_at) - {window} FROM _touches").fetchone()[0]
    oldest = con.execute("SELECT min(contact_at) FROM journey_contacts").fetchone()[0]
    bound, step = b0, None
    while True:
        since = (
            "" if bound is None or oldest is None or bound <= oldest else f"AND contact_at >= {sql_timestamp(bound)}"
        )
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE _sessions AS
            SELECT customer_ref, journey_id, min(contact_at) AS started_at, max(contact_at) AS last_anchor_at,
                min(run_started_at) AS run_started_at
            FROM journey_contacts
            WHERE stitch_rule IN ('new_journey', 'same_customer_within_window', 'journey_span_limit')
                AND customer_ref IN (SELECT customer_ref FROM _touches) {since}
            GROUP BY customer_ref, journey_id""")
        if (
            not since
            or not con.execute(
                f"SELECT count(*) FROM _sessions WHERE last_anchor_at >= $b0 AND started_at < $bound + {window}",
                {"b0": b0, "bound": bound},
            ).fetchone()[0]
        ):
            break
        step = con.execute(f"SELECT {window}").fetchone()[0] if step is None else step * 2
        bound = bound - step
    con.execute("DELETE FROM _sessions WHERE last_anchor_at < $b0", {"b0": b0})


def _slice(con: duckdb.DuckDBPyConnection, last_load_id: int) -> None:
    """_slice_calls, _slice_cases, _slice_surveys: what rows loaded since the previous build can
    change, read before any table is replaced (_slice_journeys comes with the deletes)."""
    new = f"load_id > {int(last_load_id)}"
    window = "to_days(getvariable('journey_window_days'))"
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _changed AS
        SELECT 'call' AS kind, call_id AS id FROM calls WHERE {new}
        UNION SELECT 'case', case_id FROM cases WHERE {new}
        UNION SELECT 'case', case_id FROM case_events WHERE {new}
        UNION SELECT 'survey', response_id FROM survey_responses WHERE {new}""")
    # the contacts whose owner's journey is touched: the changed ones, those their versions, old
    # and new, name, and the origin calls of the cases among them
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _named AS
        WITH changed AS (SELECT id FROM _changed),
        direct AS (
            SELECT id FROM changed
            UNION SELECT origin_ref FROM cases WHERE case_id IN (SELECT id FROM changed)
            UNION SELECT origin_ref FROM stg_cases WHERE case_id IN (SELECT id FROM changed)
            UNION SELECT interaction_ref FROM survey_responses WHERE response_id IN (SELECT id FROM changed)
            UNION SELECT interaction_ref FROM stg_survey_responses WHERE response_id IN (SELECT id FROM changed))
        SELECT id FROM direct
        UNION SELECT origin_ref FROM cases WHERE case_id IN (SELECT id FROM direct)
        UNION SELECT origin_ref FROM stg_cases WHERE case_id IN (SELECT id FROM direct)""")
    # (customer, instant) of every touch, as loaded now and as the previous build staged it
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _touches AS
        SELECT customer_ref, min(offered_at) OVER (PARTITION BY call_id) AS touched_at
        FROM calls WHERE call_id IN (SELECT id FROM _named)
        UNION SELECT customer_ref, started_at FROM stg_call_outcomes WHERE call_id IN (SELECT id FROM _named)
        UNION SELECT customer_ref, opened_at FROM cases WHERE case_id IN (SELECT id FROM _named)
        UNION SELECT customer_ref, opened_at FROM stg_cases WHERE case_id IN (SELECT id FROM _named)
        UNION SELECT customer_ref, responded_at FROM survey_responses WHERE response_id IN (SELECT id FROM _named)
        UNION SELECT customer_ref, responded_at FROM stg_survey_responses WHERE response_id IN (SELECT id FROM _named)
        -- cases and responses naming a changed contact: an escalation or a rating it now completes
        UNION SELECT customer_ref, opened_at FROM cases WHERE origin_ref IN (SELECT id FROM _changed)
        UNION SELECT customer_ref, responded_at FROM survey_responses
        WHERE interaction_ref IN (SELECT id FROM _changed)""")
    _sessions(con)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _cuts AS
        SELECT t.customer_ref, least(min(t.touched_at), coalesce(min(s.run_started_at), min(t.touched_at))) AS cut_at
        FROM _touches AS t
        LEFT JOIN _sessions AS s ON s.customer_ref = t.customer_ref AND s.last_anchor_at >= t.touched_at - {window}
        GROUP BY t.customer_ref""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _slice_calls AS
        SELECT call_id AS id FROM calls JOIN _cuts USING (customer_ref)
        GROUP BY call_id HAVING min(offered_at) >= min(cut_at)""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _slice_cases AS
        WITH candidates AS (
            SELECT c.case_id, c.origin_ref FROM cases AS c JOIN _cuts AS k USING (customer_ref)
            WHERE c.opened_at >= k.cut_at)
        SELECT case_id AS id FROM candidates AS c  -- anchors: not escalated from a loaded call
        WHERE NOT EXISTS (SELECT 1 FROM calls WHERE call_id = c.origin_ref)
        UNION SELECT case_id FROM cases WHERE origin_ref IN (SELECT id FROM _slice_calls)
        -- a case history whose case is not loaded yet
        UNION SELECT id FROM _changed WHERE kind = 'case' AND id NOT IN (SELECT case_id FROM cases)""")
    con.execute("""
        CREATE OR REPLACE TEMP TABLE _slice_surveys AS
        WITH candidates AS (
            SELECT * FROM survey_responses AS r
            WHERE r.interaction_ref IN (SELECT id FROM _slice_calls UNION SELECT id FROM _slice_cases)
                OR r.customer_ref IN (SELECT customer_ref FROM _cuts)),
        -- which of the candidates' references are loaded calls and cases: looked up for these
        -- references only, not by hashing every call id
        loaded_calls AS (SELECT DISTINCT call_id FROM calls WHERE call_id IN (SELECT interaction_ref FROM candidates)),
        loaded_cases AS (SELECT DISTINCT case_id FROM cases WHERE case_id IN (SELECT interaction_ref FROM candidates)),
        rated AS (  -- a response rating a loaded call or case joins its journey
            SELECT r.response_id, r.customer_ref, r.responded_at,
                coalesce((coalesce(r.interaction_type, 'call') = 'call'
                    AND r.interaction_ref IN (SELECT call_id FROM loaded_calls))
                    OR (coalesce(r.interaction_type, 'case') = 'case'
                    AND r.interaction_ref IN (SELECT case_id FROM loaded_cases)), false) AS explicit,
                (coalesce(r.interaction_type, 'call') = 'call'
                    AND r.interaction_ref IN (SELECT id FROM _slice_calls))
                OR (coalesce(r.interaction_type, 'case') = 'case'
                    AND r.interaction_ref IN (SELECT id FROM _slice_cases)) AS rates_slice
            FROM candidates AS r)
        SELECT response_id AS id FROM rated WHERE rates_slice
        UNION SELECT r.response_id FROM rated AS r JOIN _cuts AS k USING (customer_ref)
        WHERE NOT r.explicit AND r.responded_at >= k.cut_at""")


def _least(frame: pd.DataFrame, column: str):
    """The least non-null value of a column of deleted rows, or None."""
    known = frame[column].dropna() if len(frame) else []
    return min(known) if len(known) else None


def _slice_journeys(con: duckdb.DuckDBPyConnection, journey_contacts: str, in_slice: str, since) -> None:
    """_slice_contacts (the slice's journey_contacts rows, by row id, so that their DELETE needs no
    second look at each id) and _slice_journeys (the journeys they were in), from the stored
    journey_contacts table (named, since the recomputed one shadows it). `since`: the earliest
    contact time the slice's contacts had, or None: the table is read from it on."""
    bound = "" if since is None else f"(contact_at >= {sql_timestamp(since)} OR contact_at IS NULL) AND "
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _slice_contacts AS
        SELECT rowid AS row_id, journey_id FROM {journey_contacts} WHERE {bound}{in_slice}""")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _slice_journeys AS "
        "SELECT DISTINCT journey_id AS id FROM _slice_contacts WHERE journey_id IS NOT NULL"
    )


def _rebuild_slices(con: duckdb.DuckDBPyConnection, sliced: list[Model], sources: dict[str, str], timings: dict) -> int:
    """Recompute the entity models for the slice only and replace their rows in it; the
    fingerprints of the rows replaced and of their replacements go to _fingerprints_before/after.
    The new rows are appended in each model's storage_order, so that the table stays ordered by week. Returns
    the number of rows deleted.

    Each model's SQL runs unchanged: temporary views named like the canonical tables, and
    temporary tables named like the models already recomputed, shadow the warehouse's tables
    (DuckDB resolves a temporary object first), holding only the slice's rows."""
    import pandas  # only here: a full build (the metrics process of a first load) need not import it

    db = con.execute("SELECT current_database()").fetchone()[0]
    stored = {name: f'"{db}".main.{name}' for name in list(CONTRACTS) + [m.name for m in sliced]}
    for table in CONTRACTS:
        con.execute(f"CREATE OR REPLACE TEMP VIEW {table} AS SELECT * FROM {stored[table]} WHERE {sources[table]}")
    for model in sliced:
        t0 = time.perf_counter()
        con.execute(f"CREATE OR REPLACE TEMP TABLE {model.name} AS {model.sql}")
        timings[model.name] = round(time.perf_counter() - t0, 3)
    for table in CONTRACTS:
        con.execute(f"DROP VIEW temp.main.{table}")
    # Fingerprints per week of the rows replaced and of their replacements: the deleted rows' come
    # back from the DELETE itself, which reads only the columns the slice is found by, where a
    # SELECT of them would read every column of the whole table.
    before, after, first_week, first_time = [], [], {}, {}
    bounding = {b for m in sliced for b in m.delete_bounds}
    names = {m.name for m in sliced}
    timed = [m.name for m in sliced if m.contact_time]
    deleted_rows = 0
    # bounding models first, and the contacts' staging before journey_contacts (model order)
    for model in sorted(sliced, key=lambda m: bool(m.delete_bounds)):
        where = model.slice
        if model.name == "journey_contacts":  # the rows _slice_journeys found them by
            unread = [m for m in timed if m in names and m not in first_time]
            if unread:  # their deleted rows' times bound journey_contacts: a model order must keep them first
                raise RuntimeError(f"journey_contacts would be sliced before {unread}, whose contact times bound it")
            times = [first_time[m] for m in timed if first_time.get(m) is not None]
            _slice_journeys(con, stored[model.name], model.slice, min(times) if times else None)
            where = "rowid IN (SELECT row_id FROM _slice_contacts)"
        if model.delete_bounds:
            known = [first_week[b] for b in model.delete_bounds if first_week[b] is not None]
            where += " AND (week IS NULL" + (f" OR week >= {sql_string(min(known))})" if known else ")")
        weeks = model.fingerprint_weeks or (("week",) if model.name in bounding else ())
        if not weeks:
            deleted_rows += con.execute(f"DELETE FROM {stored[model.name]} WHERE {where}").fetchone()[0]
            continue
        time_column = f"{model.contact_time} AS contact_time, " if model.contact_time else ""
        deleted = con.execute(
            f"DELETE FROM {stored[model.name]} WHERE {where} RETURNING {', '.join(weeks)}, "
            f"{time_column}{_row_hash(con, stored[model.name])} AS h"
        ).fetchnumpy()
        frame = pandas.DataFrame(deleted)
        deleted_rows += len(frame)
        first_week[model.name] = _least(frame, "week")
        if time_column:
            first_time[model.name] = _least(frame, "contact_time")
            frame = frame.drop(columns="contact_time")
        if not model.fingerprint_weeks:
            continue
        con.register(f"_deleted_{model.name}", frame)
        before += _fingerprint_parts(model, f"_deleted_{model.name}")
        after += _fingerprint_parts(
            model, f"(SELECT {', '.join(weeks)}, {_row_hash(con, model.name)} AS h FROM temp.main.{model.name})"
        )
    con.execute("CREATE OR REPLACE TEMP TABLE _fingerprints_before AS " + " UNION ALL ".join(before))
    con.execute("CREATE OR REPLACE TEMP TABLE _fingerprints_after AS " + " UNION ALL ".join(after))
    for model in sliced:
        if model.fingerprint_weeks:
            con.unregister(f"_deleted_{model.name}")
        con.execute(
            f"INSERT INTO {stored[model.name]} SELECT * FROM temp.main.{model.name} ORDER BY {model.storage_order}"
        )
        con.execute(f"DROP TABLE temp.main.{model.name}")
    return deleted_rows


def _compaction_due(con: duckdb.DuckDBPyConnection, deleted_now: int, tables: list[str]) -> bool:
    """The rows incremental builds deleted since the last compaction (this one's included) reach
    COMPACT_SHARE of the rows of the entity tables. Only a build that deletes rows compacts: DuckDB
    vacuums the tables a commit changed, so a build that changed none would reclaim nothing."""
    if not deleted_now:
        return False
    since = con.execute(
        "SELECT coalesce(sum(rows_deleted), 0) FROM model_builds WHERE build_id > "
        "(SELECT coalesce(max(build_id), 0) FROM model_builds WHERE compacted)"
    ).fetchone()[0]
    rows = con.execute(
        f"SELECT coalesce(sum(estimated_size), 0) FROM duckdb_tables() WHERE NOT temporary "
        f"AND table_name IN ({', '.join(sql_string(t) for t in tables)})"
    ).fetchone()[0]
    return since + deleted_now >= COMPACT_SHARE * max(rows, 1)


def _affected_weeks(con: duckdb.DuckDBPyConnection, last_load_id: int) -> None:
    """_affected_weeks: the weeks new files list, and the weeks whose entity rows changed
    (_fingerprints_before and _fingerprints_after differ)."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE _affected_weeks AS
        SELECT DISTINCT week FROM (
            SELECT unnest(weeks) AS week FROM load_audit WHERE status = 'loaded' AND load_id > {int(last_load_id)}
            UNION ALL
            SELECT coalesce(a.week, b.week) FROM _fingerprints_after AS a
            FULL JOIN _fingerprints_before AS b USING (model, week_column, week)
            WHERE a.row_count IS DISTINCT FROM b.row_count OR a.row_hash IS DISTINCT FROM b.row_hash)
        WHERE week IS NOT NULL""")


def _persist_weeks(con: duckdb.DuckDBPyConnection, model: Model, weeks: list[str] | None) -> None:
    """Recompute a weekly table for the given weeks (every week on a full build: None). The weeks
    are written into the SQL as constants, so that DuckDB pushes them down to the entity tables'
    scans and skips the row groups of other weeks (storage_order)."""
    where = f"WHERE week IN ({', '.join(sql_string(w) for w in weeks) or 'NULL'})" if weeks is not None else ""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _fresh AS SELECT *, getvariable('build_id') AS build_id, "
        f"getvariable('built_at') AS computed_at FROM ({model.sql}) {where}"
    )
    if (
        weeks is not None
        and con.execute(f"DESCRIBE {model.name}").fetchall() == con.execute("DESCRIBE _fresh").fetchall()
    ):
        con.execute(f"DELETE FROM {model.name} {where}")
        con.execute(f"INSERT INTO {model.name} SELECT * FROM _fresh")
    else:
        con.execute(f"CREATE OR REPLACE TABLE {model.name} AS SELECT * FROM _fresh")


def _record_restatements(con: duckdb.DuckDBPyConnection) -> None:
    """A figure of a week an earlier build had produced, now with another value: restated."""
    con.execute(f"""
        INSERT INTO metric_restatements
        SELECT coalesce(n.week, o.week), coalesce(n.metric, o.metric), o.value, n.value,
            getvariable('built_at'), getvariable('parameter_set'), getvariable('load_ids')
        FROM _prev_figures AS o
        FULL JOIN (SELECT week, metric, value FROM {FIGURES_MODEL}) AS n ON n.week = o.week AND n.metric = o.metric
        WHERE coalesce(n.week, o.week) IN (SELECT week FROM _prev_figures)
            AND round(o.value, 9) IS DISTINCT FROM round(n.value, 9)""")


def _weeks_become_final(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Weeks with a figure the previous build published as provisional and this one as final (or
    the reverse): their pages must say so, even where no value changed."""
    return [
        r[0]
        for r in con.execute(f"""
        SELECT DISTINCT n.week FROM {FIGURES_MODEL} AS n
        JOIN _prev_figures AS o USING (week, metric)
        WHERE n.provisional IS DISTINCT FROM o.provisional ORDER BY 1""").fetchall()
    ]


def build_models(settings: Settings, sql_dir: Path = SQL_DIR, full: bool = False) -> dict:
    """Build every model in one transaction: readers see the old tables or the new, never a mix.

    Entity tables are recomputed only for the contacts new files can change (their slice) and weekly
    tables only for the weeks those touched, unless `full`, the first build, or a change of
    parameter set or of the SQL makes every row stale.
    """
    import hashlib

    models = discover(sql_dir)
    sources = source_slices(sql_dir)
    # the SQL, how it is built (its _models.yml entry) and the files beside the layers (macros.sql,
    # vocabulary.yaml): a change of any rebuilds everything
    shared = "".join(p.read_text(encoding="utf-8") for p in sorted(sql_dir.glob("*.*")) if p.is_file())
    shared += TAXONOMY_FILE.read_text(encoding="utf-8")  # the verbatims' themes feed weekly_verbatim_themes
    sql_hash = hashlib.sha256(("".join(repr(m) for m in models) + shared).encode()).hexdigest()[:12]
    con = connect(settings.warehouse)
    defer_vacuum(con)
    timings = {}
    try:
        ensure_schema(con)
        con.execute(BUILD_DDL)
        con.execute("BEGIN TRANSACTION")
        try:
            set_parameters(con, settings, sql_dir)
            t0 = time.perf_counter()
            refresh_verbatim_themes(con)
            timings["verbatim_themes"] = round(time.perf_counter() - t0, 3)
            digest = parameter_set(settings)[0]
            previous = con.execute(
                "SELECT parameter_set, sql_hash, last_load_id FROM model_builds ORDER BY build_id DESC LIMIT 1"
            ).fetchone()
            existing = _tables(con)
            persisted = [m.name for m in models if m.incremental == "weekly"]
            sliced = [m for m in models if m.layer != "scorecard" and m.name not in persisted]
            incremental = (
                not full
                and previous is not None
                and previous[:2] == (digest, sql_hash)
                and set(persisted) | {m.name for m in sliced} <= existing
                and set(CONTRACTS) <= set(sources)
                and all(m.incremental == "slice" for m in sliced)
            )
            last_load_id = previous[2] if previous else 0
            if (
                incremental
                and con.execute(
                    "SELECT count(*) FROM load_audit WHERE restate_all AND load_id > ?", [last_load_id]
                ).fetchone()[0]
            ):
                incremental = False  # a reload retracted rows: no slice finds what was built from them
            new_loads = [
                r[0]
                for r in con.execute(
                    "SELECT load_id FROM load_audit WHERE status = 'loaded' AND load_id > ? ORDER BY load_id",
                    [last_load_id],
                ).fetchall()
            ]
            build_id = con.execute("SELECT nextval('build_id_seq')").fetchone()[0]
            con.execute("SET VARIABLE build_id = ?", [build_id])
            con.execute("SET VARIABLE built_at = now()")
            con.execute("SET VARIABLE load_ids = ?::BIGINT[]", [new_loads])
            deleted = 0
            if incremental:  # the entity rows new loads can change, and the weeks they count in
                _slice(con, last_load_id)
                deleted = _rebuild_slices(con, sliced, sources, timings)
                _affected_weeks(con, last_load_id)
                affected = [r[0] for r in con.execute("SELECT week FROM _affected_weeks ORDER BY week").fetchall()]
            # what the previous build published, to tell which figures changed
            # (and which were provisional: a week whose figures become final is published again)
            had_status = FIGURES_MODEL in existing and "provisional" in {
                r[0] for r in con.execute(f"DESCRIBE {FIGURES_MODEL}").fetchall()
            }
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _prev_figures AS "
                + (
                    f"SELECT week, metric, value, {'provisional' if had_status else 'false AS provisional'} "
                    f"FROM {FIGURES_MODEL}"
                    if FIGURES_MODEL in existing
                    else "SELECT NULL::VARCHAR AS week, NULL::VARCHAR AS metric, NULL::DOUBLE AS value, "
                    "NULL::BOOLEAN AS provisional LIMIT 0"
                )
            )
            for model in models:
                if incremental and model in sliced:
                    continue
                t0 = time.perf_counter()
                try:
                    if model.name in persisted:
                        _persist_weeks(con, model, affected if incremental else None)
                    elif model.storage_order:
                        con.execute(
                            f"CREATE OR REPLACE TABLE {model.name} AS SELECT * FROM ({model.sql}) "
                            f"ORDER BY {model.storage_order}"
                        )
                    else:
                        con.execute(f"CREATE OR REPLACE TABLE {model.name} AS {model.sql}")
                    if model.name == FIGURES_MODEL:
                        _record_restatements(con)
                except duckdb.Error as exc:
                    raise RuntimeError(
                        f"model {model.name} ({model.path.relative_to(sql_dir.parent)}) failed: {exc}"
                    ) from exc
                timings[model.name] = round(time.perf_counter() - t0, 3)
            recomputed = (
                sorted(set(affected) | set(_weeks_become_final(con)))
                if incremental
                else sorted(r[0] for r in con.execute(f"SELECT DISTINCT week FROM {FIGURES_MODEL}").fetchall())
            )
            # a full build rewrites every table: nothing deleted is left to reclaim
            compacting = incremental and _compaction_due(con, deleted, [m.name for m in sliced])
            con.execute(
                "INSERT INTO model_builds (build_id, built_at, parameter_set, sql_hash, last_load_id, "
                "full_rebuild, weeks, rows_deleted, compacted) VALUES (?, getvariable('built_at'), ?, ?, "
                "(SELECT coalesce(max(load_id), 0) FROM load_audit), ?, ?, ?, ?)",
                [build_id, digest, sql_hash, not incremental, recomputed, deleted, not incremental or compacting],
            )
            vacuumed = commit(con, compacting)
        except BaseException:
            con.execute("ROLLBACK")
            raise
        if compacting and not vacuumed:  # the build stands; the next one finds compaction still due
            compacting = False
            con.execute("UPDATE model_builds SET compacted = false WHERE build_id = ?", [build_id])
            log.warning("compaction of build %s failed (another transaction open), left to the next build", build_id)
        weeks = [r[0] for r in con.execute(f"SELECT DISTINCT week FROM {FIGURES_MODEL} ORDER BY week").fetchall()]
    finally:
        con.close()
    return {
        "models": [m.name for m in models],
        "seconds": timings,
        "weeks": weeks,
        "build_id": build_id,
        "full": not incremental,
        "recomputed_weeks": recomputed,
        "rows_deleted": deleted,
        "compacted": compacting or not incremental,
    }
