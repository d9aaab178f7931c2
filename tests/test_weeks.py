from datetime import UTC, datetime

import pytest

from pipelines.weeks import last_completed_week, parse_week, shift_week, week_bounds, week_label


def test_parse_week_accepts_iso_form_and_rejects_others():
    assert parse_week("2026-W46") == (2026, 46)
    with pytest.raises(ValueError, match="YYYY-Www"):
        parse_week("2026-46")
    with pytest.raises(ValueError, match="has no ISO week 53"):
        parse_week("2025-W53")
    assert parse_week("2026-W53") == (2026, 53)


def test_week_is_cut_in_the_configured_timezone():
    # Sunday 23:30 in Paris still belongs to that ISO week; 00:30 Monday in Paris to the next,
    # though in UTC it is still Sunday.
    sunday_late = datetime(2026, 11, 22, 22, 30, tzinfo=UTC)  # 23:30 Paris
    assert week_label(sunday_late, "Europe/Paris") == "2026-W47"
    monday_early = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)  # 00:30 Monday in Paris
    assert week_label(monday_early, "Europe/Paris") == "2026-W48"
    assert week_label(monday_early, "UTC") == "2026-W47"


def test_week_bounds_span_the_autumn_clock_change():
    start, end = week_bounds("2026-W43", "Europe/Paris")  # summer time ends Sunday 25 October 2026
    assert start == datetime(2026, 10, 18, 22, 0, tzinfo=UTC)
    assert end == datetime(2026, 10, 25, 23, 0, tzinfo=UTC)
    assert (end - start).total_seconds() == 7 * 86400 + 3600


def test_last_completed_week_is_the_week_before_a_monday_run():
    monday_6am_paris = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    assert last_completed_week(monday_6am_paris, "Europe/Paris") == "2026-W47"


def test_shift_week_crosses_years_including_week_53():
    assert shift_week("2027-W01", -1) == "2026-W53"
    assert shift_week("2026-W53", 1) == "2027-W01"


def test_scorecard_task_works_out_the_week_itself():
    from pipelines.orchestration.tasks import weeks_to_render

    monday_run = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)
    assert weeks_to_render("previous", monday_run, "Europe/Paris") == ["2026-W47"]
    assert weeks_to_render("all", monday_run, "Europe/Paris") is None
    assert weeks_to_render("2026-W40", monday_run, "Europe/Paris") == ["2026-W40"]
    with pytest.raises(ValueError):
        weeks_to_render("last week", monday_run, "Europe/Paris")
