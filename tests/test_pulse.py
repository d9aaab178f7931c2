"""The internal pulse (issue 25, point 1): its canonical table loaded by the normal ingest, its
anonymity threshold, and the relationship between internal service and customer outcome that
the generator plants and the pipeline recovers (docs/excellence.md, symmetry of attention)."""

from __future__ import annotations

import csv
import math

import pytest

from pipelines.config import ConfigError, load_settings
from pipelines.generate import SOURCE_FILES, generate
from pipelines.ingest.load import ingest_paths
from pipelines.ingest.privacy import pseudonym, resolve_key
from pipelines.model.build import build_models
from pipelines.warehouse import connect
from tests.test_ingest_corpus import csv_text

PULSE_COLUMNS = (
    "answer_id",
    "respondent_ref",
    "answered_at",
    "rater_team",
    "rated_team",
    "reactivity",
    "handoff_clarity",
    "helpfulness",
    "engagement",
)
THURSDAY = "2026-10-08T10:00:00+02:00"  # in 2026-W41


def pulse_row(answer_id: str, rater: str, rated: str = "", scores=(4, 4, 4), engagement="", **overrides) -> dict:
    row = dict.fromkeys(PULSE_COLUMNS, "")
    row.update(answer_id=answer_id, answered_at=THURSDAY, rater_team=rater, rated_team=rated, engagement=engagement)
    if rated:
        row.update(zip(("reactivity", "handoff_clarity", "helpfulness"), scores, strict=True))
    row.update(overrides)
    return row


def _load(settings, name: str, rows: list[dict]) -> list:
    path = settings.landing / "pulse" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(csv_text(rows, columns=PULSE_COLUMNS), encoding="utf-8")
    return ingest_paths(settings, "pulse", [path])


def _query(settings, sql: str) -> list[tuple]:
    con = connect(settings.warehouse, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_pulse_answers_load_like_any_canonical_table(settings):
    """Quarantine of a score off its scale, a repeated answer counted as a duplicate, the staff
    member's reference pseudonymised, the audit naming the week."""
    rows = [
        pulse_row("P1", "accueil", "facturation", respondent_ref="jeanne.martin@example.org"),
        pulse_row("P2", "accueil", "technique", scores=(7, 4, 4)),  # 7 is off the 1-5 scale
        pulse_row("P3", "accueil", engagement=5),
        pulse_row("P3", "accueil", engagement=4),  # the same answer again: the last line wins
    ] + [pulse_row(f"Q{n:02d}", "technique", engagement=3) for n in range(30)]  # bad rows stay under 5 %
    (result,) = _load(settings, "pulse_2026-W41.csv", rows)
    assert (result.status, result.rows_loaded, result.rows_quarantined, result.rows_duplicate) == (
        "loaded",
        32,
        1,
        1,
    ), result.problems
    loaded = _query(
        settings,
        "SELECT answer_id, respondent_ref, engagement FROM internal_pulse WHERE answer_id LIKE 'P%' ORDER BY 1",
    )
    assert loaded == [("P1", pseudonym("jeanne.martin@example.org", resolve_key()), None), ("P3", None, 4)]
    audit = _query(settings, "SELECT profile, weeks FROM load_audit")
    assert audit == [("generator_internal_pulse", ["2026-W41"])]


def test_pulse_settings_are_checked(tmp_path):
    config = tmp_path / "esprit.yaml"
    config.write_text("pulse: {min_group_size: 2}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"pulse.min_group_size: expected a whole number of at least 3, got 2"):
        load_settings(config, base_dir=tmp_path)
    config.write_text("pulse: {min_team_weeks: 3}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"pulse.min_team_weeks: expected a whole number of at least 4"):
        load_settings(config, base_dir=tmp_path)


def anonymity_rows(minimum: int) -> list[dict]:
    """Front-office staff (minimum - 1 of them) and technical staff (minimum) rate billing and say
    how engaged they are; billing is rated by 2 * minimum - 1 people."""
    rows = []
    for n in range(minimum - 1):
        rows += [
            pulse_row(f"A{n}r", "accueil", "facturation", scores=(1, 1, 2)),
            pulse_row(f"A{n}e", "accueil", engagement=1),
        ]
    for n in range(minimum):
        rows += [
            pulse_row(f"T{n}r", "technique", "facturation", scores=(5, 4, 5 - n % 2)),
            pulse_row(f"T{n}e", "technique", engagement=3 + n % 2),
        ]
    return rows


@pytest.fixture(scope="module")
def anonymity_home(tmp_path_factory):
    """The anonymity rows of the default threshold, loaded and built, with their exports."""
    from pipelines.report.exports import export_tables

    home = tmp_path_factory.mktemp("pulse-anonymity")
    settings = load_settings(base_dir=home)
    _load(settings, "pulse_2026-W41.csv", anonymity_rows(settings.pulse["min_group_size"]))
    build_models(settings)
    con = connect(settings.warehouse, read_only=True)
    try:
        exported = export_tables(con, home / "exports")
    finally:
        con.close()
    return settings, exported


def test_a_group_below_the_minimum_shows_no_figure_and_one_at_it_does(anonymity_home):
    settings, exported = anonymity_home
    minimum = settings.pulse["min_group_size"]
    rows = _query(
        settings,
        "SELECT team, served_status, served_respondents, served_score, engagement_status, engagement_respondents, "
        "engagement, serving_status, serving_respondents, serving_score FROM weekly_team_attention "
        "WHERE week = '2026-W41' ORDER BY team",
    )
    assert rows == [
        ("accueil", "too_few_answers", None, None, "too_few_answers", None, None, "no_data", None, None),
        (
            "facturation",
            "no_data",
            None,
            None,
            "no_data",
            None,
            None,
            "shown",
            2 * minimum - 1,
            pytest.approx(((minimum - 1) * 4 / 3 + sum((14 - n % 2) / 3 for n in range(minimum))) / (2 * minimum - 1)),
        ),
        (
            "technique",
            "shown",
            minimum,
            pytest.approx(sum((14 - n % 2) / 3 for n in range(minimum)) / minimum),
            "shown",
            minimum,
            pytest.approx(sum(3 + n % 2 for n in range(minimum)) / minimum),
            "no_data",
            None,
            None,
        ),
    ]
    # the front office's own figures (4/3 served, engagement 1) are in no export either
    export = next(p for p in exported if p.name == "weekly_team_attention.csv")
    with open(export, newline="", encoding="utf-8") as fh:
        front = [r for r in csv.DictReader(fh) if r["team"] == "accueil"]
    assert len(front) == 1
    figures = {k: v for k, v in front[0].items() if k.startswith(("served_", "engagement"))}
    assert figures == {
        "served_status": "too_few_answers",
        **{k: "" for k in figures if k != "served_status" and k != "engagement_status"},
        "engagement_status": "too_few_answers",
    }


def _pipeline(home, pulse_link: float, weeks: int = 8, journeys_per_week: int = 60, seed: int = 5):
    """A generated data set through ingest and build, each source's weeks in one file (a file's
    load costs more than its rows at this size)."""
    generated = home / "generated"
    generate(generated, weeks=weeks, seed=seed, journeys_per_week=journeys_per_week, pulse_link=pulse_link)
    settings = load_settings(base_dir=home)
    for source, outputs in SOURCE_FILES.items():
        for _table, prefix in outputs:
            files = sorted((generated / source).glob(f"{prefix}_*.csv"))
            merged = settings.landing / source / f"{prefix}_all.csv"
            merged.parent.mkdir(parents=True, exist_ok=True)
            lines = [line for i, f in enumerate(files) for line in f.read_text(encoding="utf-8").splitlines()[i > 0 :]]
            merged.write_text("\n".join(lines) + "\n", encoding="utf-8")
            ingest_paths(settings, source, [merged])
    build_models(settings)
    return settings, generated / "ground_truth"


def _link(settings) -> dict:
    (row,) = _query(
        settings,
        "SELECT team_weeks, correlation, correlation_low, correlation_high, status FROM team_attention_link "
        "WHERE outcome = 'nps' AND week = (SELECT max(week) FROM team_attention_link)",
    )
    return dict(zip(("team_weeks", "r", "low", "high", "status"), row, strict=True))


def _pearson(xs: list[float], ys: list[float]) -> float:
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    return sxy / math.sqrt(sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys))


def test_the_pipeline_recovers_the_planted_link_and_finds_none_without_it(tmp_path):
    linked, truth = _pipeline(tmp_path / "linked", pulse_link=3.0)
    found = _link(linked)
    # 8 weeks of the three teams with enough staff to show a figure (Complaints has too few)
    assert found["team_weeks"] >= 20 and found["status"] == "final", found
    assert 0 < found["low"] < found["r"] < found["high"], found
    # the pulse measures what the simulation drew: how well each team was served, week by week
    with open(truth / "pulse_served.csv", newline="", encoding="utf-8") as fh:
        drawn = {(r["team"], r["week"]): float(r["served"]) for r in csv.DictReader(fh)}
    measured = _query(
        linked, "SELECT team, week, served_score FROM weekly_team_attention WHERE served_score IS NOT NULL"
    )
    assert len(measured) >= found["team_weeks"]
    assert _pearson([drawn[(t, w)] for t, w, _ in measured], [s for *_, s in measured]) > 0.8

    unlinked, _ = _pipeline(tmp_path / "unlinked", pulse_link=0.0)
    nothing = _link(unlinked)
    assert nothing["team_weeks"] == found["team_weeks"]
    assert nothing["low"] < 0 < nothing["high"], nothing
