import csv
import filecmp

from pipelines.contracts import CONTRACTS
from pipelines.generate import generate
from pipelines.vocabulary import REASONS


def _tree(root):
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file())


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    generate(a, weeks=2, seed=3, journeys_per_week=60)
    generate(b, weeks=2, seed=3, journeys_per_week=60)
    generate(c, weeks=2, seed=4, journeys_per_week=60)
    assert _tree(a) == _tree(b)
    for rel in _tree(a):
        assert filecmp.cmp(a / rel, b / rel, shallow=False), rel
    assert not filecmp.cmp(a / "calls" / "calls_2026-W40.csv", c / "calls" / "calls_2026-W40.csv", shallow=False)


def test_exports_follow_the_canonical_contracts(generated):
    expected = {"calls": "calls", "complaints": ("cases", "case_events"), "surveys": "survey_responses"}
    for folder, tables in expected.items():
        tables = (tables,) if isinstance(tables, str) else tables
        for table in tables:
            files = sorted((generated / folder).glob(f"{table}_*.csv"))
            assert files, f"no {table} files"
            with open(files[0], newline="", encoding="utf-8") as fh:
                header = next(csv.reader(fh))
            assert header == CONTRACTS[table].column_names


def test_ground_truth_records_failed_handoffs_and_friction(generated):
    with open(generated / "ground_truth" / "handoffs.csv", newline="", encoding="utf-8") as fh:
        handoffs = list(csv.DictReader(fh))
    reasons = {r for h in handoffs for r in h["reasons"].split(";") if r}
    assert reasons == set(REASONS)
    assert {h["kind"] for h in handoffs} == {"transfer", "reassignment", "escalation"}
    with open(generated / "ground_truth" / "journeys.csv", newline="", encoding="utf-8") as fh:
        journeys = list(csv.DictReader(fh))
    stages = {s for j in journeys for s in j["friction_stages"].split(";") if s}
    assert stages == {"reach", "understand", "resolve", "recover"}
    signals = {s.split("@")[0] for j in journeys for s in j["signals"].split(";") if s}
    assert {"several_attempts", "resolution_beyond_sla", "complaint_acknowledged_beyond_sla"} <= signals


def test_surveys_arrive_days_after_the_interaction_and_speak_two_languages(generated):
    with open(generated / "ground_truth" / "journeys.csv", newline="", encoding="utf-8") as fh:
        assert sum(1 for _ in fh) > 100
    rows = []
    for path in sorted((generated / "surveys").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            rows += list(csv.DictReader(fh))
    assert {r["language"] for r in rows} == {"fr", "en"}
    # some responses land in a later weekly file than the week the customer called in
    calls_week = {}
    for path in sorted((generated / "calls").glob("*.csv")):
        week = path.stem.split("_")[-1]
        with open(path, newline="", encoding="utf-8") as fh:
            calls_week.update({r["call_id"]: week for r in csv.DictReader(fh)})
    late = 0
    for path in sorted((generated / "surveys").glob("*.csv")):
        week = path.stem.split("_")[-1]
        with open(path, newline="", encoding="utf-8") as fh:
            late += sum(
                1
                for r in csv.DictReader(fh)
                if r["interaction_ref"] in calls_week and calls_week[r["interaction_ref"]] < week
            )
    assert late > 0
