import os
import subprocess
import sys


def test_pipelines_imports_without_airflow_configured_or_imported(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    code = (
        "import sys, pipelines, pipelines.cli, pipelines.orchestration.run, pipelines.orchestration.tasks, pipelines.report.scorecard; "
        "assert 'airflow' not in sys.modules, 'pipelines imported airflow'"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_cli_reports_a_bad_week_clearly(tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "scorecard",
            "--week",
            "2026-46",
            "--warehouse",
            str(tmp_path / "w.duckdb"),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert "esprit:" in done.stderr


def test_cli_run_takes_a_landing_folder_to_scorecards_without_airflow(generated, tmp_path):
    import json
    import shutil

    shutil.copytree(generated, tmp_path / "landing")
    # found in the working directory; PDFs are printed by the session's pipeline run and the demo
    (tmp_path / "esprit.yaml").write_text("scorecard: {pdf: false}\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ESPRIT"))}
    refused = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert refused.returncode == 2 and "no pseudonymisation key" in refused.stderr
    env["ESPRIT_PSEUDONYM_KEY"] = "a-secret-key-for-this-test-only"
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["rejected_files"] == [] and summary["files_loaded"] > 0
    assert (tmp_path / "out" / "scorecards" / summary["weeks"][-1] / "scorecard.html").exists()
    assert "ingest calls:" in done.stderr and "models: full build" in done.stderr  # each stage as it ends
    # without --json, for a person: what the run did and where to look
    again = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"files: 0 loaded, {summary['files_loaded']} skipped (already loaded), 0 rejected" in again.stdout
    assert f"weeks: {summary['weeks'][0]}..{summary['weeks'][-1]}" in again.stdout and "index.html" in again.stdout


def test_cli_ingest_prints_a_summary_table_and_fails_on_a_rejected_file(tmp_path):
    from tests.test_ingest_corpus import csv_text, survey_row

    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "good.csv").write_text(csv_text([survey_row(), survey_row(rid="R2", nps="42")]), encoding="utf-8")
    (folder / "empty.csv").write_text("", encoding="utf-8")
    (tmp_path / "esprit.yaml").write_text("ingest:\n  max_bad_row_share: 0.5\n")
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "ingest", str(folder), "--profile", "generator_survey_responses"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["file", "status", "read", "loaded", "quarant.", "dupl.", "derived"]
    assert any(line.split()[:6] == ["good.csv", "loaded", "2", "1", "1", "0"] for line in lines)
    assert any(line.split()[:2] == ["empty.csv", "rejected"] for line in lines)
    assert "column nps: rule expect_column_values_to_be_between; value nps='42'" in done.stdout
    assert "1 file(s) rejected" in done.stderr
    assert (folder / "empty.csv").exists()  # a file from outside the landing zone is copied, not moved


def test_the_metrics_build_imports_pandas_only_for_an_incremental_build(tmp_path):
    """Each metrics task is a process of its own: what the build imports is paid on every run
    (a fixed cost of issue 27); a full build never makes a pandas frame."""
    code = "import sys, pipelines.model.build; assert 'pandas' not in sys.modules, 'the build imported pandas'"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
