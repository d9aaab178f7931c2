"""ISO weeks cut in a configurable timezone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


def parse_week(label: str) -> tuple[int, int]:
    """'2026-W46' -> (2026, 46); raises ValueError naming the expected form."""
    m = WEEK_RE.match(label or "")
    if not m:
        raise ValueError(f"week '{label}': expected the ISO form YYYY-Www, e.g. 2026-W46")
    year, week = int(m.group(1)), int(m.group(2))
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError as exc:
        raise ValueError(f"week '{label}': {year} has no ISO week {week}") from exc
    return year, week


def week_label(moment: datetime, tz: str) -> str:
    if moment.tzinfo is None:
        raise ValueError("week_label needs a timezone-aware datetime")
    iso = moment.astimezone(ZoneInfo(tz)).isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def week_bounds(label: str, tz: str) -> tuple[datetime, datetime]:
    """The week's start (Monday 00:00 local) and the next week's start, as UTC datetimes."""
    year, week = parse_week(label)
    zone = ZoneInfo(tz)
    monday = date.fromisocalendar(year, week, 1)
    start = datetime.combine(monday, time(0), zone)
    end = datetime.combine(monday + timedelta(days=7), time(0), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def shift_week(label: str, weeks: int) -> str:
    year, week = parse_week(label)
    monday = date.fromisocalendar(year, week, 1) + timedelta(weeks=weeks)
    iso = monday.isocalendar()
    return f"{iso.year}-W{iso.week:02d}"


def last_completed_week(now: datetime, tz: str) -> str:
    """The ISO week that ended most recently before `now` (what a Monday run reports on)."""
    return shift_week(week_label(now, tz), -1)
