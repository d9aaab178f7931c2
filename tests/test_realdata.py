"""Each shipped real-data profile loads its public sample, read in place from ../shared/realdata/."""

import os

import pytest

from pipelines.config import load_settings
from pipelines.ingest import ingest_paths
from pipelines.models import build_models
from pipelines.profiles import load_profile
from pipelines.warehouse import connect
from tests.conftest import REPO_ROOT

REALDATA = REPO_ROOT.parent / "shared" / "realdata"
pytestmark = pytest.mark.skipif(not REALDATA.is_dir(),
                                reason=f"the real public exports are not beside the repository ({REALDATA.name}/ absent)")

# file, profile, rows read, loaded, quarantined, duplicate, derived rows
SAMPLES = [
    ("anonbank_1999_08_calls.csv", "anonbank_calls", 42078, 42078, 0, 0, 0),
    ("bpic2013_volvo_incidents_VINST-new.csv", "bpic2013_case_events", 65533, 65533, 0, 0, 7554),
    ("cfpb_complaints_sample_2016_349rows.csv", "cfpb_cases", 349, 349, 0, 0, 0),
    ("nps_verbatims_textsummary_2385.csv", "nps_survey_responses", 2385, 2385, 0, 0, 0),
]


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    home = tmp_path_factory.mktemp("realdata")
    settings = load_settings(base_dir=home)
    before = {p.name: os.stat(p).st_mtime_ns for p in REALDATA.iterdir()}
    results = {}
    for name, profile, *_ in SAMPLES:
        (results[name],) = ingest_paths(settings, "realdata", [REALDATA / name], load_profile(profile))
    assert {p.name: os.stat(p).st_mtime_ns for p in REALDATA.iterdir()} == before  # read in place, untouched
    build_models(settings)
    return settings, results


@pytest.mark.parametrize("sample", SAMPLES, ids=[s[1] for s in SAMPLES])
def test_profile_loads_its_sample_with_exact_counts(loaded, sample):
    _, results = loaded
    name, _, read, ok, quarantined, duplicate, derived = sample
    r = results[name]
    assert r.status == "loaded", r.problems[:5]
    assert (r.rows_read, r.rows_loaded, r.rows_quarantined, r.rows_duplicate, r.derived_rows) == \
        (read, ok, quarantined, duplicate, derived)
    assert r.rows_read == r.rows_loaded + r.rows_quarantined + r.rows_duplicate


def test_real_exports_become_metrics(loaded):
    settings, _ = loaded
    con = connect(settings.warehouse, read_only=True)
    try:
        # the Volvo support-team and level changes are handoffs, some of them bouncing back
        kinds = dict(con.execute("SELECT kind, count(*) FROM handoffs GROUP BY kind").fetchall())
        assert kinds["reassignment"] > 5000
        reasons = {r for (rs,) in con.execute("SELECT failure_reasons FROM handoffs").fetchall() for r in rs}
        assert {"bounce_back", "ping_pong", "reopened"} <= reasons
        # the bank's August 1999 calls: HANG and PHANTOM are abandoned, AGENT answered
        calls = con.execute("SELECT count(*), count(*) FILTER (WHERE first_outcome = 'abandoned') "
                            "FROM stg_call_outcomes").fetchone()
        assert calls == (42078, 42078 - 31402)  # 31,402 AGENT calls
        weeks = {w for (w,) in con.execute("SELECT DISTINCT week FROM stg_calls").fetchall()}
        assert weeks == {"1999-W30", "1999-W31", "1999-W32", "1999-W33", "1999-W34", "1999-W35"}
        # NPS: R's missing integer is a missing score, not a score
        nps = con.execute("SELECT count(*), count(nps), min(nps), max(nps) FROM survey_responses").fetchone()
        assert nps == (2385, 2385 - 32, 0, 10)  # 32 responses without a score
        raw_ids = con.execute("SELECT count(*) FROM calls WHERE customer_ref NOT LIKE 'p\\_%' ESCAPE '\\'").fetchone()
        assert raw_ids == (0,)
    finally:
        con.close()
