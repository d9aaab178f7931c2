"""Weekly metric tables as Parquet, CSV and one Excel workbook for BI tools (`out/exports/`).

CSV and workbook cells that a spreadsheet would run as a formula (text beginning with = + - @,
tab or carriage return) are prefixed with an apostrophe; numbers stay numbers. Parquet keeps the
values as they are, typed. Files are written beside their final name and renamed into place,
so a reader never opens half a file.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from pipelines.sqltext import sql_ident

FORMULA_START = r"^[=+\-@\t\r]"


def exportable_tables(con) -> list[str]:
    """Every weekly metric table, and the restatement log when there is one."""
    names = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
            "AND (table_name LIKE 'weekly\\_%' ESCAPE '\\' OR table_name IN ('metric_restatements', 'week_status')) "
            "UNION SELECT view_name FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' "
            "AND view_name IN ('week_status') ORDER BY 1"
        ).fetchall()
    ]
    return names


def neutralised_select(con, table: str) -> str:
    """SELECT of the table with text columns made inert for spreadsheets."""
    columns = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    parts = []
    for name, data_type in columns:
        col = sql_ident(name)
        if data_type == "VARCHAR" or data_type.endswith("[]") or data_type in ("JSON",):
            text = f"{col}::VARCHAR"
            parts.append(
                f"CASE WHEN regexp_matches({text}, '{FORMULA_START}') THEN '''' || {text} ELSE {text} END AS {col}"
            )
        else:
            parts.append(col)
    return f"SELECT {', '.join(parts)} FROM {sql_ident(table)}"


def export_tables(con, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for table in exportable_tables(con):
        for suffix, query, options in (
            ("parquet", f"SELECT * FROM {sql_ident(table)}", "FORMAT parquet"),
            ("csv", neutralised_select(con, table), "FORMAT csv, HEADER true"),
        ):
            final = folder / f"{table}.{suffix}"
            partial = folder / f".{table}.{suffix}.partial"
            con.execute(f"COPY ({query}) TO '{_sql_path(partial)}' ({options})")
            os.replace(partial, final)
            written.append(final)
    written.append(export_workbook(con, folder / WORKBOOK))
    return written


WORKBOOK = "esprit_weekly.xlsx"
SHEET_NAME_MAX = 31  # Excel refuses longer sheet names


def export_workbook(con, path: Path) -> Path:
    """Every exportable table as a sheet of one workbook, text neutralised as in the CSV (the
    apostrophe also keeps openpyxl from writing a text beginning with = as a formula)."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for table in exportable_tables(con):
        sheet = book.create_sheet(table[:SHEET_NAME_MAX])
        cursor = con.execute(neutralised_select(con, table))
        sheet.append([d[0] for d in cursor.description])
        while rows := cursor.fetchmany(10_000):
            for row in rows:
                sheet.append([_cell(v) for v in row])
    partial = path.with_name(f".{path.name}.partial")
    book.save(partial)
    os.replace(partial, path)
    return path


def _cell(value):
    """A value Excel can hold: times in UTC without a zone (Excel has none), lists and others as text."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    if value is None or isinstance(value, (str, int, float, datetime)) or hasattr(value, "as_tuple"):
        return value
    if hasattr(value, "isoformat"):  # dates, times
        return value
    return str(value)


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
