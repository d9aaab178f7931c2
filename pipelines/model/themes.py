"""The themes of each survey response's verbatim, as a table of the warehouse (`verbatim_themes`):
filled at every build, before the SQL models, for the responses whose verbatim it has not read yet
(the verbatims are those ingest stored, already scrubbed of personal data). A response whose
verbatim changed (a reload) or that is gone loses its rows; a change of the taxonomy reads every
verbatim again (and, through the build's SQL hash, rebuilds the weekly tables)."""

from __future__ import annotations

import duckdb

from pipelines.listening.matcher import default_matcher
from pipelines.listening.taxonomy import load, taxonomy_hash

DDL = """
CREATE TABLE IF NOT EXISTS verbatim_themes (
    response_id VARCHAR NOT NULL,  -- survey_responses.response_id
    theme VARCHAR NOT NULL,        -- a key of pipelines/listening/taxonomy.yaml
    polarity VARCHAR NOT NULL,     -- '+' going well, '-' going wrong
    stage VARCHAR NOT NULL,        -- the journey stage the theme speaks of (taxonomy)
    cue VARCHAR NOT NULL           -- the first cue that found it, as the taxonomy writes it
);
CREATE TABLE IF NOT EXISTS verbatim_readings (
    response_id VARCHAR NOT NULL,
    verbatim_hash VARCHAR NOT NULL,
    taxonomy VARCHAR NOT NULL      -- short hash of the taxonomy it was read with
);
"""


def refresh_verbatim_themes(con: duckdb.DuckDBPyConnection) -> int:
    """Read the verbatims not read yet with this taxonomy; return how many were read."""
    con.execute(DDL)
    taxonomy = taxonomy_hash()
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _verbatims AS SELECT response_id, verbatim, language, "
        "md5(coalesce(verbatim, '') || '|' || coalesce(language, '')) AS verbatim_hash FROM survey_responses"
    )
    stale = """response_id NOT IN (
        SELECT r.response_id FROM verbatim_readings AS r JOIN _verbatims AS v USING (response_id)
        WHERE r.verbatim_hash = v.verbatim_hash AND r.taxonomy = ?)"""
    con.execute(f"DELETE FROM verbatim_themes WHERE {stale}", [taxonomy])
    con.execute(f"DELETE FROM verbatim_readings WHERE {stale}", [taxonomy])
    todo = con.execute(
        "SELECT response_id, verbatim, language, verbatim_hash FROM _verbatims "
        "WHERE response_id NOT IN (SELECT response_id FROM verbatim_readings) ORDER BY response_id"
    ).fetchall()
    matcher, themes = default_matcher(), load().themes
    read: dict[tuple[str, str], list[tuple[str, str, str]]] = {}  # a repeated verbatim is read once
    rows = []
    for response_id, verbatim, language, _ in todo:
        key = (verbatim or "", language or "")
        if key not in read:
            first: dict[tuple[str, str], str] = {}
            for mention in matcher.mentions(verbatim, language):
                first.setdefault((mention.theme, mention.polarity), mention.cue)
            read[key] = [(theme, polarity, cue) for (theme, polarity), cue in first.items()]
        rows += [(response_id, t, p, themes[t].stage, cue) for t, p, cue in read[key]]
    # through Arrow: DuckDB's executemany inserts about a thousand rows a second (docs/performance.md)
    _insert(con, "verbatim_themes", ["response_id", "theme", "polarity", "stage", "cue"], rows)
    _insert(
        con, "verbatim_readings", ["response_id", "verbatim_hash", "taxonomy"], [(r[0], r[3], taxonomy) for r in todo]
    )
    con.execute("DROP TABLE _verbatims")
    return len(todo)


def _insert(con: duckdb.DuckDBPyConnection, table: str, columns: list[str], rows: list[tuple]) -> None:
    if not rows:
        return
    import pyarrow as pa

    batch = pa.table({name: [row[i] for row in rows] for i, name in enumerate(columns)})
    con.register("_batch", batch)
    try:
        con.execute(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM _batch")
    finally:
        con.unregister("_batch")
