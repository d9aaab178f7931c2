"""What the DAG tasks decide: which weeks a scorecard run renders, and what a rejection logs."""

from datetime import UTC, datetime

from pipelines.orchestration.tasks import (
    changed_weeks_from_events,
    rejection_report,
    weeks_affected_on_pages,
    weeks_to_render,
)


def test_a_scheduled_run_renders_the_week_before_its_monday():
    monday = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # 06:00 in Paris
    assert weeks_to_render("previous", monday, "Europe/Paris") == ["2026-W47"]
    assert weeks_to_render("all", monday, "Europe/Paris") is None
    assert weeks_to_render("2026-W05", monday, "Europe/Paris") == ["2026-W05"]


def test_a_run_started_by_the_metrics_asset_renders_the_recomputed_weeks_and_those_after_them():
    events = [{"recomputed_weeks": ["2026-W44"]}, {"recomputed_weeks": ["2026-W40", "2026-W44"]}]
    changed = changed_weeks_from_events(events)
    assert weeks_to_render("previous", None, "Europe/Paris", changed) == ["2026-W40", "2026-W44"]
    assert changed_weeks_from_events([]) is None  # a scheduled or manual run
    known = [f"2026-W{n}" for n in range(38, 48)]
    # W44's figures changed: W45..W47 show its change, 4-week average and sparkline too
    assert weeks_affected_on_pages(["2026-W44"], known, 12) == ["2026-W44", "2026-W45", "2026-W46", "2026-W47"]
    assert weeks_affected_on_pages(["2026-W44"], known, 2) == ["2026-W44", "2026-W45"]


def test_a_rejection_report_names_each_file_and_its_problems():
    assert rejection_report({"source": "calls", "rejected": []}) == ""
    report = rejection_report(
        {
            "source": "calls",
            "rejected": [
                {"file": "calls_x.csv", "problems": ["calls_x.csv: required_column: required column(s) missing: team"]}
            ],
        }
    )
    assert "1 file(s) of source 'calls' rejected" in report and "required column(s) missing: team" in report


def test_the_task_log_names_files_whose_load_failed_and_the_check_task_fails_on_them():
    report = rejection_report(
        {
            "source": "calls",
            "rejected": [],
            "failed": [{"file": "calls_y.csv", "problems": ["calls_y.csv: line 1, column -: rule load_failed: X"]}],
        }
    )
    assert "1 file(s) of source 'calls' failed to load (left in the landing folder" in report
    assert "- calls_y.csv\n    calls_y.csv: line 1, column -: rule load_failed: X" in report


def test_a_long_rejection_report_says_how_many_more_problems_there_are():
    problems = [f"calls_z.csv: line {n}, column team: rule not_null: empty" for n in range(2, 60)]
    report = rejection_report({"source": "calls", "rejected": [{"file": "calls_z.csv", "problems": problems}]})
    assert "line 2," in report and "line 21," in report and "line 22," not in report
    assert report.endswith("    (and 38 more: the report beside the file in rejected/ lists them)")


def test_a_load_logs_its_counts_a_warning_for_quarantined_rows_and_each_skipped_file(tmp_path, monkeypatch, caplog):
    import logging

    from pipelines.orchestration.tasks import ingest
    from tests.test_ingest_corpus import csv_text, survey_row

    monkeypatch.setenv("ESPRIT_HOME", str(tmp_path))
    (tmp_path / "esprit.yaml").write_text("ingest:\n  max_bad_row_share: 0.5\n")
    (tmp_path / "landing" / "surveys").mkdir(parents=True)
    rows = [survey_row(), survey_row(rid="R2", nps="42")]
    (tmp_path / "landing" / "surveys" / "survey_responses_w1.csv").write_text(csv_text(rows), encoding="utf-8")
    with caplog.at_level(logging.INFO, logger="esprit"):
        result = ingest("surveys")
    assert result["rows"] == 1 and result["rows_quarantined"] == 1
    ours = [r for r in caplog.records if r.name == "esprit"]
    warnings = [r.getMessage() for r in ours if r.levelno == logging.WARNING]
    assert warnings == ["surveys: 1 row(s) quarantined in survey_responses_w1.csv (table quarantine)"], warnings
    infos = [r.getMessage() for r in ours if r.levelno == logging.INFO]
    assert "surveys: 1 file(s) loaded, 1 row(s), 1 quarantined, 0 skipped, 0 rejected, 0 failed" in infos, infos
    (tmp_path / "landing" / "surveys" / "survey_responses_w2.csv").write_text(
        csv_text([survey_row(rid="R3")]), encoding="utf-8"
    )
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="esprit"):
        assert ingest("surveys")["files"] == ["survey_responses_w2.csv"]
    infos = [r.getMessage() for r in caplog.records if r.name == "esprit" and r.levelno == logging.INFO]
    skipped = [line for line in infos if "skipped survey_responses_w1.csv: " in line]
    assert len(skipped) == 1 and "unchanged" in skipped[0], infos  # named, with its reason
