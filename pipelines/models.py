"""Build the warehouse's SQL models: `sql/<layer>/<model>.sql`, one SELECT per file.

A model's table is named after its file. Models run layer by layer (staging, journeys,
metrics, scorecard) and, inside a layer, after the models they reference. Settings reach
the SQL as DuckDB variables (`getvariable('long_wait_seconds')`) and the friction signals
as the table `param_friction_signals`, never by pasting text into SQL.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.config import Settings
from pipelines.contracts import REPO_ROOT
from pipelines.warehouse import connect, ensure_schema

SQL_DIR = REPO_ROOT / "sql"
LAYERS = ("staging", "journeys", "metrics", "scorecard")


@dataclass(frozen=True)
class Model:
    name: str
    layer: str
    path: Path
    sql: str


def discover(sql_dir: Path = SQL_DIR) -> list[Model]:
    """All models in build order; raises ValueError on a cycle or an unknown layer."""
    models: dict[str, Model] = {}
    for layer_dir in sorted(p for p in sql_dir.iterdir() if p.is_dir()):
        if layer_dir.name not in LAYERS:
            raise ValueError(f"{layer_dir}: unknown layer (expected one of {LAYERS})")
        for path in sorted(layer_dir.glob("*.sql")):
            if path.stem in models:
                raise ValueError(f"{path}: model name '{path.stem}' already used in {models[path.stem].path}")
            models[path.stem] = Model(path.stem, layer_dir.name, path, path.read_text(encoding="utf-8"))
    deps = {name: {other for other in models if other != name
                   and re.search(rf"\b{re.escape(other)}\b", _strip_comments(m.sql))}
            for name, m in models.items()}
    for name, needed in deps.items():
        for other in needed:
            if LAYERS.index(models[other].layer) > LAYERS.index(models[name].layer):
                raise ValueError(f"model {name} ({models[name].layer}) reads {other} from a later layer "
                                 f"({models[other].layer})")
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


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def set_parameters(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    con.execute("SET VARIABLE week_tz = ?", [settings.week_timezone])
    for key, value in settings.metrics.items():
        if not isinstance(value, dict):  # mappings become tables below
            con.execute(f"SET VARIABLE {key} = ?", [value])
    # per receiving team; the row 'default' serves every team not listed
    con.execute("CREATE OR REPLACE TABLE param_pickup_sla (team VARCHAR, call_seconds DOUBLE, case_hours DOUBLE)")
    con.executemany("INSERT INTO param_pickup_sla VALUES (?, ?, ?)",
                    [[team, float(spec["call_seconds"]), float(spec["case_hours"])]
                     for team, spec in settings.metrics["pickup_sla"].items()])
    con.execute("CREATE OR REPLACE TABLE param_stages (stage VARCHAR, position INTEGER, en VARCHAR, fr VARCHAR, "
                "reached_by VARCHAR)")
    con.executemany("INSERT INTO param_stages VALUES (?, ?, ?, ?, ?)",
                    [[name, i, spec.get("en", name), spec.get("fr", name), spec["reached_by"]]
                     for i, (name, spec) in enumerate(settings.stages.items(), start=1)])
    # each weekly result names the parameter set it was computed with
    digest, text = settings.parameter_set()
    con.execute("CREATE TABLE IF NOT EXISTS parameter_sets (parameter_set VARCHAR PRIMARY KEY, parameters JSON, "
                "first_used_at TIMESTAMPTZ DEFAULT now())")
    con.execute("INSERT OR IGNORE INTO parameter_sets (parameter_set, parameters) VALUES (?, ?)", [digest, text])
    con.execute("SET VARIABLE parameter_set = ?", [digest])
    con.execute("CREATE OR REPLACE TABLE param_friction_signals (signal VARCHAR, stage VARCHAR, weight DOUBLE)")
    con.executemany("INSERT INTO param_friction_signals VALUES (?, ?, ?)",
                    [[name, spec["stage"], float(spec["weight"])] for name, spec in settings.friction_signals.items()])


def build_models(settings: Settings, sql_dir: Path = SQL_DIR) -> dict:
    """Rebuild every model in one transaction: readers see the old tables or the new, never a mix."""
    models = discover(sql_dir)
    con = connect(settings.warehouse)
    timings = {}
    try:
        ensure_schema(con)
        con.execute("BEGIN TRANSACTION")
        try:
            set_parameters(con, settings)
            for model in models:
                t0 = time.perf_counter()
                try:
                    con.execute(f"CREATE OR REPLACE TABLE {model.name} AS {model.sql}")
                except duckdb.Error as exc:
                    raise RuntimeError(f"model {model.name} ({model.path.relative_to(sql_dir.parent)}) "
                                       f"failed: {exc}") from exc
                timings[model.name] = round(time.perf_counter() - t0, 3)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        weeks = [r[0] for r in con.execute("SELECT DISTINCT week FROM weekly_scorecard ORDER BY week").fetchall()]
    finally:
        con.close()
    return {"models": [m.name for m in models], "seconds": timings, "weeks": weeks}
