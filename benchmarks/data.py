"""Benchmark data: the generator's exports, replicated with DuckDB to contact-centre volumes.

The generator simulates every customer one by one (and picks returning customers by scanning
all of them), so millions of call segments are out of its reach in minutes. It writes a small
seed of SEED_WEEKS weeks; DuckDB replicates it: `width` copies side by side (other customers,
other ids, same local times) make a week as large as asked, and copies shifted by the seed's
length make more weeks. Each copy keeps the seed's links (origin_ref, interaction_ref) inside
itself, so journeys, handoffs and friction keep the seed's shape at any volume.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import duckdb

from pipelines.contracts import CONTRACTS
from pipelines.generate import DEFAULT_START_WEEK, TZ, generate
from pipelines.weeks import parse_week

SEED_WEEKS = 4
FILES = {  # table -> (landing sub-folder, file prefix): the names the default source rules match
    "calls": ("calls", "calls"),
    "cases": ("complaints", "cases"),
    "case_events": ("complaints", "case_events"),
    "survey_responses": ("surveys", "survey_responses"),
    "internal_pulse": ("pulse", "internal_pulse"),
}
ID_COLUMNS = {
    "calls": ("call_id",),
    "cases": ("case_id", "origin_ref"),
    "case_events": ("case_id",),
    "survey_responses": ("response_id", "interaction_ref"),
    "internal_pulse": ("answer_id",),
}
TIME_COLUMNS = {
    "calls": ("offered_at", "answered_at", "ended_at"),
    "cases": ("opened_at", "resolved_at"),
    "case_events": ("event_at",),
    "survey_responses": ("responded_at",),
    "internal_pulse": ("answered_at",),
}


def make_seed(folder: Path, journeys_per_week: int, seed: int = 7) -> Path:
    generate(folder, weeks=SEED_WEEKS, seed=seed, journeys_per_week=journeys_per_week)
    return folder


class Replicator:
    """Replicas of a seed landing folder, kept in a DuckDB file (they may not fit in memory)."""

    def __init__(self, seed_dir: Path, db_path: Path):
        self.con = duckdb.connect(str(db_path))
        # shifting by days keeps local wall-clock times (calls stay in opening hours across DST)
        self.con.execute(f"SET TimeZone = '{TZ}'")
        year, week = parse_week(DEFAULT_START_WEEK)
        self.start = date.fromisocalendar(year, week, 1)
        for table, (folder, prefix) in FILES.items():
            glob = str(Path(seed_dir) / folder / f"{prefix}_*.csv")
            self.con.execute(
                f"CREATE OR REPLACE TABLE seed_{table} AS "
                f"SELECT * FROM read_csv('{glob}', all_varchar = true, header = true)"
            )
        self.built: tuple[int, int] | None = None

    def seed_calls_per_week(self) -> float:
        return self.con.execute("SELECT count(*) FROM seed_calls").fetchall()[0][0] / SEED_WEEKS

    def width_for(self, week_calls: int) -> int:
        return max(1, round(week_calls / self.seed_calls_per_week()))

    def build(self, weeks: int, width: int) -> None:
        """Tables rep_<table>: `weeks` weeks of `width` copies; columns wk (the week's index) and copy."""
        blocks = math.ceil(weeks / SEED_WEEKS)
        for table in FILES:  # the tables the generator writes (not survey_answers, from wide surveys)
            contract, ids, times = CONTRACTS[table], ID_COLUMNS[table], TIME_COLUMNS[table]
            cols = []
            for col in contract.column_names:
                if col in ids:
                    cols.append(f"{col} || '-B' || b || 'K' || k AS {col}")
                elif col == "customer_ref":  # the same customers come back in later blocks
                    cols.append(f"{col} || '-K' || k AS {col}")
                elif col in times:
                    shifted = f"({col}::TIMESTAMPTZ + to_days(CAST(b * {7 * SEED_WEEKS} AS INTEGER)))"
                    cols.append(f"strftime({shifted} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S') || '+00:00' AS {col}")
                else:
                    cols.append(col)
            first = times[0]
            wk = (
                f"date_diff('day', DATE '{self.start}', (({first}::TIMESTAMPTZ + to_days(CAST(b * "
                f"{7 * SEED_WEEKS} AS INTEGER))) AT TIME ZONE '{TZ}')::DATE) // 7"
            )
            self.con.execute(f"""
                CREATE OR REPLACE TABLE rep_{table} AS
                SELECT * FROM (
                    SELECT {", ".join(cols)}, {wk} AS wk, k AS copy
                    FROM seed_{table}, range({blocks}) AS blocks(b), range({width}) AS copies(k)
                ) WHERE wk < {weeks}
            """)
        self.built = (weeks, width)

    def week_label(self, index: int) -> str:
        return self.con.execute(
            f"SELECT strftime(DATE '{self.start}' + INTERVAL ({7 * index}) DAY, '%G-W%V')"
        ).fetchall()[0][0]

    def write(
        self, landing: Path, first_week: int, last_week: int, name: str | None = None, copies: int | None = None
    ) -> dict:
        """Write weeks first_week..last_week (indexes), of the first `copies` copies (default all), as
        one file per table, `<prefix>_<name>.csv` (name defaults to the ISO week when one week is
        written); returns rows per table."""
        assert self.built, "build() first"
        name = name or (self.week_label(first_week) if first_week == last_week else f"{first_week}-{last_week}")
        rows = {}
        for table, (folder, prefix) in FILES.items():
            target = Path(landing) / folder / f"{prefix}_{name}.csv"
            target.parent.mkdir(parents=True, exist_ok=True)
            cols = ", ".join(CONTRACTS[table].column_names)
            order = ", ".join((TIME_COLUMNS[table][0], *ID_COLUMNS[table][:1]))
            where = f"wk BETWEEN {int(first_week)} AND {int(last_week)} AND copy < {int(copies or self.built[1])}"
            self.con.execute(
                f"COPY (SELECT {cols} FROM rep_{table} WHERE {where} ORDER BY {order}) "
                f"TO '{target}' (HEADER, DELIMITER ',')"
            )
            rows[table] = self.con.execute(f"SELECT count(*) FROM rep_{table} WHERE {where}").fetchall()[0][0]
        return rows

    def close(self) -> None:
        self.con.close()


def landing_files(landing: Path) -> dict[str, list[Path]]:
    """The CSV files of a landing folder, per canonical table (what the baseline loads)."""
    found: dict[str, list[Path]] = {}
    for table, (folder, prefix) in FILES.items():
        found[table] = sorted((Path(landing) / folder).glob(f"{prefix}_*.csv"))
    return found
