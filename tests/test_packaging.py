import os
import subprocess
import sys


def test_pipelines_imports_without_airflow_configured_or_imported(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    code = ("import sys, pipelines, pipelines.cli, pipelines.run, pipelines.tasks, pipelines.scorecard; "
            "assert 'airflow' not in sys.modules, 'pipelines imported airflow'")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_cli_reports_a_bad_week_clearly(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "scorecard", "--week", "2026-46",
                           "--warehouse", str(tmp_path / "w.duckdb")], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 2
    assert "esprit:" in done.stderr


def test_cli_run_takes_a_landing_folder_to_scorecards_without_airflow(generated, tmp_path):
    import json
    import shutil

    shutil.copytree(generated, tmp_path / "landing")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ESPRIT"))}
    refused = subprocess.run([sys.executable, "-m", "pipelines.cli", "run"], cwd=tmp_path, env=env,
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "no pseudonymisation key" in refused.stderr
    env["ESPRIT_PSEUDONYM_KEY"] = "a-secret-key-for-this-test-only"
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "run"], cwd=tmp_path, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["rejected_files"] == [] and summary["files_loaded"] > 0
    assert (tmp_path / "out" / "scorecards" / summary["weeks"][-1] / "scorecard.html").exists()
