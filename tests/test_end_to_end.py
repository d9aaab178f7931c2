"""The real DAGs, run by Airflow's dag.test() on a temporary AIRFLOW_HOME (SQLite metadata) and
a temporary warehouse, from generated landing files to scorecards checked against the ground truth.

Run as the `esprit demo` command in a child process, so that this Airflow has its own home.
"""

import json
import os
import re
import subprocess
import sys

import pytest

from pipelines.generate import generate
from pipelines.warehouse import connect
from tests.conftest import DATA_SEED, JOURNEYS_PER_WEEK, REPO_ROOT
from tests.truth import expected_weekly

pytestmark = pytest.mark.slow


def test_dags_take_landing_files_to_a_scorecard_that_matches_the_ground_truth(tmp_path):
    generate(tmp_path / "landing", weeks=3, seed=DATA_SEED + 1, journeys_per_week=JOURNEYS_PER_WEEK)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ESPRIT"))}
    done = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "demo", "--home", str(tmp_path)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-6000:]
    for dag_id in (
        "esprit_ingest_calls",
        "esprit_ingest_complaints",
        "esprit_ingest_surveys",
        "esprit_metrics",
        "esprit_scorecard",
    ):
        assert re.search(rf"^\s*{dag_id}\s+success\s*$", done.stdout, re.M), dag_id
    # progress on stderr, stage by stage; a summary a person reads on stdout, not JSON
    assert re.search(r"^\[\s*[\d.]+ s\] DAG 1/\d+ esprit_ingest_\w+: running$", done.stderr, re.M), done.stderr[-3000:]
    assert re.search(r"^\[\s*[\d.]+ s\] DAG \d+/\d+ esprit_scorecard: success$", done.stderr, re.M)
    assert re.search(r"^files: \d+ loaded, 0 skipped \(already loaded\), 0 rejected, 0 failed$", done.stdout, re.M)
    assert re.search(r"^rows: [\d,]+ read, [\d,]+ loaded", done.stdout, re.M) and "headline" in done.stdout
    assert (tmp_path / ".airflow" / "airflow.db").exists()  # the metadata lived in this test's home

    expected = expected_weekly(tmp_path / "landing")
    scorecards = tmp_path / "out" / "scorecards"
    weeks = sorted(p.name for p in scorecards.iterdir() if p.is_dir())
    assert weeks == sorted(expected)
    con = connect(tmp_path / "warehouse" / "esprit.duckdb", read_only=True)
    try:
        for week in weeks:
            assert (scorecards / week / "scorecard.html").stat().st_size > 2000
            headline = json.loads((scorecards / week / "scorecard.json").read_text())["headline"]
            for metric, (numerator, denominator) in expected[week].items():
                if metric in headline:
                    got = headline[metric]
                    assert (got["numerator"], got["denominator"]) == (numerator, denominator), (week, metric)
            # the figure shown is the warehouse's figure
            value = con.execute(
                "SELECT value FROM weekly_scorecard WHERE week = ? AND metric = 'nps'", [week]
            ).fetchone()[0]
            assert headline["nps"]["value"] == value
    finally:
        con.close()
