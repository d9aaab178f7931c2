"""Great Expectations' check of the loads, off the load's critical path.

A load judges every row with the suite compiled to DuckDB (`gate`) and keeps a sample of its
rows with those verdicts (`gx_sample_<table>`, `gx_checks`). Great Expectations' import and
validation take longer than the DuckDB work of a week's file, so they run here, once for every
load waiting, in the step before a build (the metrics task, `esprit run`): GX validates each
sample and must find the same broken rules on every row. A disagreement (a bug of Esprit, on
either side) blocks every build, and so every publication, until the load is replaced
(`esprit reload` once fixed): a load not yet checked is never counted by a build either.
"""

from __future__ import annotations

from pathlib import Path

from pipelines.config import Settings
from pipelines.console import shown_name
from pipelines.contracts import CONTRACTS
from pipelines.ingest.results import IngestError
from pipelines.sqltext import sql_string
from pipelines.warehouse import connect, ensure_schema, gx_sample_table

SHOWN_LINES = 10  # lines of a disagreement shown in the message (the detail in gx_checks holds 50)


class GreatExpectationsDisagree(IngestError):
    """Great Expectations and the compiled suite found different broken rules on a load's sample."""


IN_FORCE = "SELECT load_id, a.file_name, a.source, a.weeks FROM load_audit a WHERE a.status = 'loaded'"


def check_loads(settings: Settings) -> dict:
    """Run Great Expectations on every load's sample not yet checked, record each verdict, build
    Data Docs; raise GreatExpectationsDisagree while any load in force has a disagreement. GX is
    imported only when a sample waits (or Data Docs are out of date)."""
    con = connect(settings.warehouse)
    checked: list[dict] = []
    try:
        ensure_schema(con)
        waiting = con.execute(
            f"SELECT c.load_id, c.table_name, c.timezone, l.file_name FROM gx_checks c JOIN ({IN_FORCE}) l "
            "USING (load_id) WHERE c.status <> 'agreed' ORDER BY c.load_id"
        ).fetchall()
        con.execute("BEGIN TRANSACTION")
        for load_id, table, timezone, file_name in waiting:
            checked.append(_check_one(con, settings, load_id, table, timezone, file_name))
        _forget_loads_out_of_force(con)
        con.execute("COMMIT")
        blocked = _disagreements(con)
    finally:
        con.close()
    docs = _data_docs(settings, rebuild=bool(checked))
    if blocked:
        raise GreatExpectationsDisagree(describe(blocked))
    return {"checked": len(checked), "agreed": sum(c["agreed"] for c in checked), "data_docs": docs}


def _check_one(con, settings: Settings, load_id: int, table: str, timezone: str, file_name: str) -> dict:
    from pipelines.ingest.gate import keep_result, results_dir
    from pipelines.ingest.validation import sql_disagreements, validate_frame

    contract = CONTRACTS[table]
    sample = gx_sample_table(table)
    con.execute(f"SET TimeZone = {sql_string(timezone)}")  # the values as the load typed them
    frame = con.execute(
        f"SELECT {', '.join(contract.column_names)}, source_line FROM {sample} WHERE load_id = ? ORDER BY source_line",
        [load_id],
    ).df()
    compiled = dict(
        con.execute(f"SELECT source_line, compiled_reasons FROM {sample} WHERE load_id = ?", [load_id]).fetchall()
    )
    report = validate_frame(table, frame)
    keep_result(results_dir(settings), load_id, file_name, 0, report.raw)
    found = [
        f"table level: Great Expectations finds {f.rule} broken on {', '.join(f.columns)}, the compiled rules do not"
        for f in report.table_failures
    ]
    found += sql_disagreements(report, compiled, [int(n) for n in frame["source_line"]])
    agreed = not found
    con.execute(
        "UPDATE gx_checks SET status = ?, checked_at = now(), detail = ? WHERE load_id = ?",
        ["agreed" if agreed else "disagreed", None if agreed else "\n".join(found[:50]), load_id],
    )
    if agreed:  # kept only while a disagreement may be checked again
        con.execute(f"DELETE FROM {sample} WHERE load_id = ?", [load_id])
    return {"load_id": load_id, "agreed": agreed}


def _forget_loads_out_of_force(con) -> None:
    """Samples and checks of loads no longer in force (replaced by a reload) are not needed."""
    for table in CONTRACTS:
        con.execute(f"DELETE FROM {gx_sample_table(table)} WHERE load_id NOT IN (SELECT load_id FROM ({IN_FORCE}))")
    con.execute(f"DELETE FROM gx_checks WHERE load_id NOT IN (SELECT load_id FROM ({IN_FORCE}))")


def _disagreements(con) -> list[tuple]:
    """(file, source, load id, weeks, detail) of every load in force whose check disagreed."""
    return con.execute(
        f"SELECT l.file_name, l.source, l.load_id, l.weeks, c.detail FROM gx_checks c JOIN ({IN_FORCE}) l "
        "USING (load_id) WHERE c.status = 'disagreed' ORDER BY l.load_id"
    ).fetchall()


def describe(blocked: list[tuple]) -> str:
    """The message of a disagreement: which files, which weeks wait, what each side found (rules and
    line numbers only: no value), and what to do."""
    weeks = sorted({w for *_, ws, _ in blocked for w in ws or []})
    lines = [
        f"Great Expectations and the compiled suite disagree on {len(blocked)} load(s): no build counts "
        f"them and publication is blocked (week(s) {', '.join(weeks) or 'none'}). This is a bug of Esprit: "
        "once fixed, `esprit reload` the file (with ingest.gx_rows: all, GX alone judges every row)."
    ]
    for file_name, source, load_id, _, detail in blocked:
        shown = (detail or "").splitlines()
        lines.append(f"- {shown_name(file_name)} (source {source}, load {load_id}):")
        lines += [f"    {line}" for line in shown[:SHOWN_LINES]]
        if len(shown) > SHOWN_LINES:
            lines.append(f"    (and {len(shown) - SHOWN_LINES} more: table gx_checks)")
    return "\n".join(lines)


def require_checked(warehouse: Path, weeks: list[str] | None) -> None:
    """Refuse to publish one of `weeks` (None: any) that holds rows of a load Great Expectations has
    not agreed with: GreatExpectationsDisagree when it disagreed, ChecksPending while its check
    has yet to run (the next build runs it, then publishes the week)."""
    unchecked = unchecked_weeks(warehouse)
    held = {w: files for w, files in unchecked.items() if weeks is None or w in weeks}
    if not held:
        return
    disagreed = sorted({f for files in held.values() for f, status in files if status == "disagreed"})
    waiting = sorted({f for files in held.values() for f, _ in files})
    said = f"week(s) {', '.join(sorted(held))} not published: Great Expectations "
    if disagreed:
        raise GreatExpectationsDisagree(
            said + f"disagrees with the compiled suite on {', '.join(map(shown_name, disagreed))} (see the "
            "metrics task's log or esprit run; once the bug is fixed, esprit reload the file)"
        )
    raise ChecksPending(
        said + f"has yet to check {', '.join(map(shown_name, waiting))}: the next metrics build checks "
        "it, then publishes the week"
    )


class ChecksPending(IngestError):
    """A week holds rows of a load Great Expectations has yet to check (before the next build)."""


def unchecked_weeks(warehouse: Path) -> dict[str, list[tuple[str, str]]]:
    """{week: [(file, pending or disagreed)]} of the loads in force that Great Expectations has not
    agreed with: their weeks are not to be published. Read-only; nothing for a warehouse made
    before the checks."""
    if not Path(warehouse).exists():
        return {}
    con = connect(warehouse, read_only=True)
    try:
        if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'gx_checks'").fetchone()[0]:
            return {}
        rows = con.execute(
            f"SELECT l.file_name, l.weeks, c.status FROM gx_checks c JOIN ({IN_FORCE}) l USING (load_id) "
            "WHERE c.status <> 'agreed'"
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[tuple[str, str]]] = {}
    for file_name, weeks, status in rows:
        for week in weeks or []:
            out.setdefault(week, []).append((file_name, status))
    return out


def _data_docs(settings: Settings, rebuild: bool) -> str | None:
    """Data Docs from the kept results, when a result was added or removed since the site's index
    was written (a folder's time changes as a file enters or leaves it): no GX import otherwise."""
    from pipelines.ingest.gate import results_dir

    results, index = results_dir(settings), settings.data_docs_dir / "index.html"
    if not results.is_dir():
        return None
    if rebuild or not index.exists() or results.stat().st_mtime_ns > index.stat().st_mtime_ns:
        from pipelines.ingest.validation import build_data_docs

        return build_data_docs(results, settings.data_docs_dir)
    return str(index)
