"""The benchmark (benchmarks/): its data, its pandas reference and its report. No timing is asserted."""

from __future__ import annotations

import json

import duckdb
import pytest


def test_pandas_reference_gives_the_sql_pipelines_weekly_friction_and_handoff_figures(pipeline_run):
    from benchmarks.data import landing_files
    from benchmarks.reference import COMPARED, compare, compute, read_tables

    settings, _ = pipeline_run
    result = compute(
        read_tables(landing_files(settings.landing)),
        settings.metrics,
        settings.friction_signals,
        settings.stages,
        settings.week_timezone,
    )
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        sql = {table: con.execute(f"SELECT * FROM {table}").df() for table in COMPARED}
        handoffs, failed = con.execute("SELECT count(*), count(*) FILTER (WHERE failed) FROM handoffs").fetchall()[0]
    assert result["counts"]["handoffs"] == handoffs and result["counts"]["failed_handoffs"] == failed
    assert compare(result, sql) == {table: 0 for table in COMPARED}
    # the comparison sees a changed figure
    result["weekly_handoff_pairs"].loc[0, "failed"] += 1
    assert compare(result, sql)["weekly_handoff_pairs"] == 1


def test_replicas_scale_a_week_and_keep_keys_unique_and_links_inside_each_copy(generated, tmp_path):
    from benchmarks.data import Replicator, landing_files

    rep = Replicator(generated, tmp_path / "replicas.duckdb")
    width = rep.width_for(3 * rep.seed_calls_per_week())
    assert width == 3
    rep.build(weeks=5, width=width)
    rows = rep.write(tmp_path / "landing", 4, 4)
    con = rep.con
    assert rows["calls"] == con.execute("SELECT count(*) FROM rep_calls WHERE wk = 4").fetchall()[0][0] > 0
    assert con.execute("SELECT count(*) - count(DISTINCT (call_id, segment_no)) FROM rep_calls").fetchall()[0][0] == 0
    dangling = con.execute("""
        SELECT count(*) FROM rep_survey_responses r
        WHERE r.interaction_ref IS NOT NULL AND r.interaction_ref NOT IN (SELECT call_id FROM rep_calls)
            AND r.interaction_ref NOT IN (SELECT case_id FROM rep_cases)""").fetchall()[0][0]
    assert dangling == 0
    files = landing_files(tmp_path / "landing")
    week = rep.week_label(4)
    assert [p.name for p in files["calls"]] == [f"calls_{week}.csv"]
    assert [p.name for p in files["cases"]] == [f"cases_{week}.csv"]  # not the case_events file
    rep.close()


PHASE_FIELDS = ("wall_seconds", "cpu_seconds", "peak_rss_mb", "inner_seconds")


def _phase_ok(phase: dict) -> None:
    for field in PHASE_FIELDS:
        assert isinstance(phase[field], (int, float)) and phase[field] > 0, (field, phase)


@pytest.mark.slow  # it runs the real DAGs with dag.test(), like the end-to-end test
def test_bench_at_a_tiny_size_writes_every_measured_field(tmp_path):
    from benchmarks.bench import DOC_BEGIN, DOC_END, main

    doc = tmp_path / "performance.md"
    doc.write_text(f"prose before\n{DOC_BEGIN}\nold table\n{DOC_END}\nprose after\n", encoding="utf-8")
    out = tmp_path / "bench.json"
    main(
        [
            "--sizes",
            "1500",
            "--week-calls",
            "1500",
            "--history-weeks",
            "1,2",
            "--seed-journeys",
            "150",
            "--weekly-repeats",
            "2",
            "--pair-repeats",
            "2",  # each ratio's sides alternated: raw load, ingest, raw load, ingest; build, pandas, ...
            "--render-weeks",
            "2",
            "--no-warm-up",  # four processes fewer; no timing is asserted
            "--fork-phases",  # imports and GX set-up paid once, not by each of the 14 phases
            "--out",
            str(out),
            "--doc",
            str(doc),
            "--work",
            str(tmp_path / "work"),
        ]
    )
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["machine"]["cores"] > 0 and report["machine"]["memory_gb"] > 0
    [size] = report["sizes"]
    assert size["call_segments"] > 0 and all(size["rows"][t] > 0 for t in size["rows"])
    for phase in ("baseline", "ingest", "metrics", "scorecard", "pipeline", "pandas_reference"):
        _phase_ok(size[phase])
    for phase in ("baseline", "ingest", "metrics", "pandas_reference"):  # the median of the alternated runs
        assert len(size[phase]["runs_wall_seconds"]) == 2 and size[phase]["wall_seconds"] == min(
            size[phase]["runs_wall_seconds"]
        )
        assert all(load >= 0 for load in size[phase]["runs_load_average"]) and size[phase]["median_cpu_seconds"] > 0
    assert size["ingest_vs_baseline_cpu"] > 0 and size["pandas_vs_sql_metrics_cpu"] > 0
    state = report["machine_state"]
    assert state["load_min"] <= state["load_max"] and state["loadavg_start"]
    assert size["ingest"]["rows_loaded"] == sum(size["rows"].values()) and not size["ingest"]["rejected_files"]
    for ratio in (
        "ingest_vs_baseline",
        "pipeline_vs_baseline",
        "pandas_vs_sql_metrics",
        "pandas_compute_vs_sql_metrics_inner",
    ):
        assert size[ratio] > 0, ratio
    assert set(size["pandas_reference"]["rows_differing_from_sql"].values()) == {0}
    flat = report["flat"]  # ingest alone of a file twice as large, for the flat-memory target
    assert flat["call_segments"] > size["call_segments"] and flat["ingest"]["rows_loaded"] == sum(flat["rows"].values())
    _phase_ok(flat["ingest"])
    weekly = report["weekly"]
    assert [h["history_weeks"] for h in weekly["histories"]] == [1, 2]
    for entry in weekly["histories"]:
        _phase_ok(entry["setup"])
        _phase_ok(entry["run"])
        # two runs from the same set-up; the lower median of two is the faster
        assert len(entry["runs_wall_seconds"]) == 2 and entry["run"]["wall_seconds"] == min(entry["runs_wall_seconds"])
        assert entry["run"]["incremental"] and weekly["week"] in entry["run"]["recomputed_weeks"]
        assert set(entry["run"]["steps"]) == {"ingest", "metrics", "scorecard"}
        assert 0 < len(entry["run"]["slowest_models"]) <= 5  # where the weekly build's time went
    assert isinstance(weekly["growth"], float)
    airflow = weekly["airflow"]
    _phase_ok(airflow)
    assert set(airflow["dag_test_seconds"]) == {
        "esprit_ingest_calls",
        "esprit_ingest_complaints",
        "esprit_ingest_surveys",
        "esprit_ingest_pulse",
        "esprit_metrics",
        "esprit_scorecard",
    }
    assert {"overhead_seconds", "outside_airflow_seconds", "dag_test_total_seconds"} <= set(airflow)
    # each dag.test is split into Esprit's functions, the rest of its task runs, and the DAG run around them
    for dag_id, part in airflow["breakdown"].items():
        assert part["tasks"] and part["task_runs_besides"] >= 0 and part["dag_run_besides"] >= 0, (dag_id, part)
        assert (
            abs(
                part["esprit_functions"]
                + part["task_runs_besides"]
                + part["dag_run_besides"]
                - airflow["dag_test_seconds"][dag_id]
            )
            < 0.01
        )
    assert airflow["breakdown"]["esprit_ingest_calls"]["esprit_functions"] > 0
    assert set(airflow["breakdown"]["esprit_ingest_calls"]["tasks"]) == {"load", "publish", "check"}
    render = report["render"]  # every week rendered, then again with nothing changed, then forced
    assert render["weeks"] == 2 and render["rows"]["calls"] > 0
    for run in ("first", "unchanged", "forced"):
        _phase_ok(render[run])
        assert render[run]["weeks"] == 2 and render[run]["mb_per_week_max"] > 0
    assert [render[run]["weeks_rendered"] for run in ("first", "unchanged", "forced")] == [2, 0, 2]
    assert len(report["targets"]) == 11 and len({t["key"] for t in report["targets"]}) == 11
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("prose before\n") and text.endswith(f"{DOC_END}\nprose after\n")
    assert "old table" not in text and "| ingest + validate |" in text and "dag.test" in text
    assert report["forked_phases"] and "not comparable" in text  # figures of forked phases say so
    assert "| unchanged |" in text and "output per week at most" in text
    assert f"({', '.join(str(r) for r in weekly['histories'][0]['runs_wall_seconds'])})" in text  # every run shown
    assert not (tmp_path / "work").exists()  # the data are removed
    assert "Machine state: load average" in text


def _size(calls: int, ingest: float, raw: float, build: float, pandas: float, differing: int = 0) -> dict:
    """A size's entry of a report, as far as the targets read it."""
    return {
        "call_segments": calls,
        "ingest_vs_baseline": round(ingest / raw, 2),
        "pandas_vs_sql_metrics": round(pandas / build, 2),
        "baseline": {"wall_seconds": raw},
        "ingest": {"wall_seconds": ingest, "peak_rss_mb": 500.0},
        "metrics": {"wall_seconds": build},
        "pandas_reference": {"wall_seconds": pandas, "rows_differing_from_sql": {"weekly_stage_friction": differing}},
    }


def test_the_report_judges_issue_27s_targets_beside_an_earlier_report():
    from benchmarks.bench import before_report, target_table, targets

    earlier = {"finished_at": "2026-12-01T10:00:00+00:00"}
    earlier["sizes"] = [_size(207_174, 12.0, 1.6, 3.0, 6.0), _size(1_009_984, 15.0, 2.5, 12.0, 24.0)]
    now = {**earlier, "sizes": [_size(207_174, 4.0, 1.6, 1.0, 6.0), _size(1_009_984, 10.0, 2.5, 4.0, 24.0, 3)]}
    found = {t["key"]: t for t in targets(now)}
    assert found["week_file_ingest_ratio"]["met"] is True  # 2.5x the raw load, within 3x
    assert found["week_file_ingest_ratio"]["measured"].startswith("2.5x at 207,174 call segments")
    assert found["pandas_ratio_1000000"]["met"] is False  # 6x faster, but figures differ
    assert found["pandas_ratio_5000000"]["measured"] == "not measured"
    assert {t["key"]: t["met"] for t in targets(earlier)}["week_file_ingest_ratio"] is False  # 7.5x
    now["before"] = before_report(earlier)
    now["targets"] = targets(now)
    row = next(line for line in target_table(now) if line.startswith("| ingest + validate of one week"))
    assert "| 7.5x at 207,174 call segments (12.0 s against 1.6 s) | 2.5x at 207,174" in row and row.endswith("| yes |")


def test_the_report_shows_commands_without_this_machines_paths(tmp_path):
    from benchmarks.bench import public_command

    shown = public_command(
        [
            "--sizes",
            "1000",
            "--work",
            str(tmp_path / "w"),
            "--keep",
            f"--out={tmp_path}/b.json",
            "--doc",
            "docs/performance.md",
            "--merge",
            "--before",
            str(tmp_path / "earlier.json"),
        ]
    )
    assert shown == (
        "python -m benchmarks.bench --sizes 1000 --out FILE --doc docs/performance.md --merge --before FILE"
    )
