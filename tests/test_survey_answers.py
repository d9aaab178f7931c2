"""Wide survey exports: one column per rated aspect, made rows of survey_answers by a profile's
`unpivot`; a satisfaction label mapped to CSAT only by the profile's own value map; a file with no
date refused, saying how to give one."""

from __future__ import annotations

import pytest
import yaml

from pipelines.ingest.load import ingest_paths
from pipelines.ingest.profiles import ProfileError, load_profile, parse_profile
from pipelines.warehouse import connect

# id, two rated aspects (0 = not applicable, scale 1-5), a satisfaction label
WIDE = """id,Seat comfort,Inflight wifi service,satisfaction
101,5,4,satisfied
102,2,0,neutral or dissatisfied
103,4,,satisfied
104,1,0,neutral or dissatisfied
105,3,5,unknown label
"""

PROFILE = {
    "name": "wide_survey",
    "table": "survey_responses",
    "format": {"type": "csv", "delimiter": ",", "encoding": "auto"},
    "timezone": "UTC",
    "fixed": {"responded_at": "2024-01-01"},
    "columns": {
        "response_id": "'wide/' || \"id\"",
        "customer_ref": "'wide-respondent/' || \"id\"",
        "csat": '"satisfaction"',
    },
    # the label says on which side of CSAT's 4-5 box a respondent is: nothing finer
    "value_maps": {"csat": {"satisfied": 4, "neutral or dissatisfied": 3}},
    "unpivot": {
        "scale": "1-5",
        "not_applicable": [0],
        "questions": {"seat_comfort": "Seat comfort", "wifi": "Inflight wifi service"},
    },
}


@pytest.fixture
def settings(tmp_path):
    """A fixture of five rows, one of which breaks a rule: above the default share of bad rows."""
    from pipelines.config import load_settings

    (tmp_path / "esprit.yaml").write_text("ingest: {max_bad_row_share: 0.5}\n")
    return load_settings(tmp_path / "esprit.yaml", base_dir=tmp_path)


def _profile(tmp_path, **changes):
    data = {**PROFILE, **changes}
    data = {k: v for k, v in data.items() if v is not None}
    path = tmp_path / f"{data['name']}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return load_profile(path)


def _load(settings, tmp_path, text=WIDE, name="wide.csv", **changes):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    (result,) = ingest_paths(settings, "surveys", [path], _profile(tmp_path, **changes))
    return result


def test_unpivot_makes_one_answer_row_per_rated_aspect_and_the_label_maps_to_csat(settings, tmp_path):
    result = _load(settings, tmp_path)
    assert result.status == "loaded", result.problems
    # the unknown label is not guessed: its row is quarantined, naming the value map
    assert (result.rows_read, result.rows_loaded, result.rows_quarantined) == (5, 4, 1)
    assert any("csat" in p for p in result.problems)
    con = connect(settings.warehouse, read_only=True)
    try:
        csat = dict(con.execute("SELECT response_id, csat FROM survey_responses").fetchall())
        answers = con.execute(
            "SELECT response_ref, question, scale, value, not_applicable FROM survey_answers ORDER BY 1, 2"
        ).fetchall()
        times = con.execute(
            "SELECT DISTINCT strftime(responded_at AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M:%S') FROM survey_responses"
        )
        times = {t for (t,) in times.fetchall()}
    finally:
        con.close()
    assert csat == {"wide/101": 4, "wide/102": 3, "wide/103": 4, "wide/104": 3}
    assert times == {"2024-01-01 00:00:00"}  # the profile's fixed date, nothing invented
    # 103's wifi is empty: no answer; 102's is 0: not applicable, no value; 105 is quarantined: no answers
    assert answers == [
        ("wide/101", "seat_comfort", "1-5", 5, False),
        ("wide/101", "wifi", "1-5", 4, False),
        ("wide/102", "seat_comfort", "1-5", 2, False),
        ("wide/102", "wifi", "1-5", None, True),
        ("wide/103", "seat_comfort", "1-5", 4, False),
        ("wide/104", "seat_comfort", "1-5", 1, False),
        ("wide/104", "wifi", "1-5", None, True),
    ]
    assert result.derived_rows == 7


def test_the_driver_view_gives_each_aspect_by_satisfied_and_dissatisfied_respondents(settings, tmp_path):
    """weekly_survey_drivers and the scorecard's table, recomputed by hand from the fixture: CSAT 4
    (101, 103) is satisfied, 3 (102, 104) dissatisfied; 105 is quarantined."""
    from pipelines.model.build import build_models
    from pipelines.report.scorecard import render_weeks, survey_drivers

    assert _load(settings, tmp_path).status == "loaded"
    build_models(settings)
    con = connect(settings.warehouse, read_only=True)
    try:
        (week,) = {w for (w,) in con.execute("SELECT DISTINCT week FROM weekly_survey_drivers").fetchall()}
        rows = {r["question"]: r for r in survey_drivers(con, week)}
        order = [r["question"] for r in survey_drivers(con, week)]
    finally:
        con.close()
    assert week == "2024-W01"
    # seat comfort: 5, 4 satisfied; 2, 1 dissatisfied
    seat = rows["seat_comfort"]
    assert (seat["answers"], seat["not_applicable"], seat["mean_value"]) == (4, 0, (5 + 4 + 2 + 1) / 4)
    assert (seat["satisfied_answers"], seat["satisfied_mean"]) == (2, (5 + 4) / 2)
    assert (seat["dissatisfied_answers"], seat["dissatisfied_mean"], seat["gap"]) == (2, (2 + 1) / 2, 4.5 - 1.5)
    # wifi: 101 said 4, 103 nothing, 102 and 104 not applicable: no dissatisfied answer, no data
    wifi = rows["wifi"]
    assert (wifi["answers"], wifi["not_applicable"], wifi["mean_value"]) == (1, 2, 4.0)
    assert (wifi["satisfied_answers"], wifi["satisfied_mean"]) == (1, 4.0)
    assert (wifi["dissatisfied_answers"], wifi["dissatisfied_mean"], wifi["gap"]) == (0, None, None)
    assert order == ["seat_comfort", "wifi"]  # widest gap first, none last
    render_weeks(settings, weeks=[week], languages=["en"], pdf=False, exports=False)
    page = (settings.scorecards_dir / week / "scorecard.en.html").read_text(encoding="utf-8")
    table = page.split('<table class="drivers">')[1].split("</table>")[0]
    seat_row = table.split('data-question="seat_comfort"')[1].split("</tr>")[0]
    assert "4.50 (2)" in seat_row and "1.50 (2)" in seat_row and "+3.00" in seat_row
    wifi_row = table.split('data-question="wifi"')[1].split("</tr>")[0]
    assert "4.00 (1)" in wifi_row and wifi_row.count("no data") == 2 and "0.00" not in wifi_row


def test_a_dry_run_counts_the_answers_it_would_derive(settings, tmp_path):
    from pipelines.ingest.dry_run import describe, dry_run

    path = tmp_path / "wide.csv"
    path.write_text(WIDE, encoding="utf-8")
    shown = describe(dry_run(settings, "surveys", path, _profile(tmp_path), limit=1))
    assert "would load 4, quarantine 1" in shown and "derived: 7 row(s) of survey_answers" in shown, shown
    assert not settings.warehouse.exists()


def test_profile_init_proposes_the_unpivot_and_leaves_the_label_map_to_write(tmp_path):
    """A wide export: the rating columns become an unpivot stub (0 with 1-5: not applicable, to
    check), the satisfaction labels a value map of TODO values that refuses the profile until
    written, the category 'Customer Type' no customer, and the missing date a TODO saying how."""
    from pipelines.ingest.onboarding import propose_profile

    path = tmp_path / "wide.csv"
    rows = [
        f"{100 + i},{'Loyal' if i % 2 else 'New'},{i % 6},{(i + 2) % 6},{30 + i},{'satisfied' if i % 3 else 'neutral'}"
        for i in range(40)
    ]
    path.write_text("id,Customer Type,Seat comfort,Wifi,Age,satisfaction\n" + "\n".join(rows) + "\n", encoding="utf-8")
    proposal = propose_profile(path, "survey_responses", "wide")
    profile = proposal.profile
    assert profile["columns"]["response_id"] == '"id"' and profile["columns"]["customer_ref"] == "NULL"
    assert profile["unpivot"] == {
        "scale": "1-5",
        "not_applicable": [0],
        "questions": {"seat_comfort": "Seat comfort", "wifi": "Wifi"},
    }  # Age (30 to 69) is no rating
    assert profile["columns"]["csat"] == '"satisfaction"'
    assert set(profile["value_maps"]["csat"]) == {"satisfied", "neutral"}
    todo = {t.split(" ")[0].rstrip(":"): t for t in proposal.todo}
    assert set(todo) == {"customer_ref", "responded_at", "value_maps.csat", "timezone", "unpivot"}
    assert "fixed: {responded_at:" in todo["responded_at"] and "file_name" in todo["responded_at"]
    with pytest.raises(
        ProfileError, match=r"key 'value_maps.csat.(neutral|satisfied)': expected a value \(the proposal's TODO"
    ):
        parse_profile(profile, "wide.yaml")


@pytest.mark.parametrize("answer, shown", [("7", "shaped '9'"), ("3.5", "shaped '9.9'"), ("good", "shaped 'aaaa'")])
def test_an_answer_off_the_scale_rejects_the_file_naming_line_and_column(settings, tmp_path, answer, shown):
    """Off the scale, not whole (a cast would round 3.5 to 4) or not a number: never loaded."""
    result = _load(settings, tmp_path, WIDE.replace("104,1,0", f"104,1,{answer}"))
    assert result.status == "rejected"
    assert "line 5, column Inflight wifi service: rule answer_scale" in result.problems[0], result.problems
    assert f"question wifi, value {shown}" in result.problems[0] and "1 answer(s)" in result.problems[0]


def test_a_file_with_no_date_is_refused_saying_how_to_give_one(settings, tmp_path):
    result = _load(settings, tmp_path, fixed=None)
    assert result.status == "rejected"
    problem = result.problems[0]
    assert "column responded_at: rule required_column" in problem
    assert "file_name" in problem and "fixed: {responded_at: '2024-01-01'}" in problem
    assert "no date is made up" in problem
    # the same when a proposed profile maps it to nothing
    result = _load(
        settings, tmp_path, name="wide2.csv", fixed=None, columns={**PROFILE["columns"], "responded_at": "NULL"}
    )
    assert result.status == "rejected" and "fixed: {responded_at:" in result.problems[0]
    # a date from the file's name instead
    result = _load(
        settings,
        tmp_path,
        name="survey_2024-03-05.csv",
        fixed=None,
        file_name=r"survey_(?P<day>\d{4}-\d{2}-\d{2})\.csv",
        columns={**PROFILE["columns"], "responded_at": "day"},
    )
    assert result.status == "loaded" and result.rows_loaded == 4, result.problems


@pytest.mark.parametrize(
    "changes, key",
    [
        ({"fixed": {"responded_at": "next monday"}}, "fixed.responded_at"),
        ({"fixed": {"responded_at": "2024-01-01"}, "columns": {"responded_at": "now()"}}, "fixed.responded_at"),
        ({"unpivot": {**PROFILE["unpivot"], "scale": "5"}}, "unpivot.scale"),
        ({"unpivot": {**PROFILE["unpivot"], "questions": {"Seat": "Seat comfort"}}}, "unpivot.questions.Seat"),
        ({"table": "cases", "columns": {}, "value_maps": {}, "fixed": {}}, "unpivot"),
        ({"table": "survey_answers"}, "table"),
    ],
)
def test_a_wrong_unpivot_or_fixed_value_is_refused_naming_the_key(changes, key):
    with pytest.raises(ProfileError, match=f"key '{key}'"):
        parse_profile({**PROFILE, **changes}, "wide_survey.yaml")
