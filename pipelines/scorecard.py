"""Render the weekly service-excellence scorecard from the warehouse (read-only).

One self-contained HTML file per ISO week (`out/scorecards/<YYYY-Www>/scorecard.html`, styles
inline, no request to any host) and its figures as JSON beside it, plus an index of weeks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from pipelines.config import Settings
from pipelines.warehouse import connect
from pipelines.weeks import parse_week

SMALL_SAMPLE = 30  # below this many responses or calls a rate is labelled as a small sample


@dataclass(frozen=True)
class Tile:
    metric: str
    label_en: str
    label_fr: str
    value: float | None
    display: str
    numerator: float | None
    denominator: float | None
    unit: str
    change: float | None
    change_display: str
    average_4_weeks: float | None
    small_sample: bool
    trend: str  # better | worse | same | ''


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "pct":
        return f"{value:.1f} %"
    if unit == "points":
        return f"{value:+.0f}"
    if unit == "score":
        return f"{value:.2f}"
    if unit == "per_1000":
        return f"{value:.1f}"
    return f"{value:,.0f}"


def _fmt_change(change: float | None, unit: str) -> str:
    if change is None:
        return ""
    suffix = {"pct": " pt", "points": "", "score": "", "per_1000": "", "index": ""}.get(unit, "")
    digits = 2 if unit == "score" else 1
    return f"{change:+.{digits}f}{suffix}"


def week_figures(con, week: str) -> dict[str, dict]:
    rows = con.execute(
        "SELECT metric, value, numerator, denominator, unit, change, average_4_weeks "
        "FROM weekly_scorecard WHERE week = ?", [week]).fetchall()
    keys = ("value", "numerator", "denominator", "unit", "change", "average_4_weeks")
    return {r[0]: dict(zip(keys, r[1:])) for r in rows}


def build_tiles(settings: Settings, figures: dict[str, dict]) -> list[Tile]:
    tiles = []
    for spec in settings.headline:
        f = figures.get(spec["metric"], {})
        value, unit, change = f.get("value"), spec["unit"], f.get("change")
        trend = ""
        if change is not None and change != 0:
            good = (change > 0) == (spec["better"] == "up")
            trend = "better" if good else "worse"
        elif change == 0:
            trend = "same"
        denominator = f.get("denominator")
        tiles.append(Tile(
            metric=spec["metric"], label_en=spec["en"], label_fr=spec["fr"], value=value,
            display=_fmt(value, unit), numerator=f.get("numerator"), denominator=denominator, unit=unit,
            change=change, change_display=_fmt_change(change, unit), average_4_weeks=f.get("average_4_weeks"),
            small_sample=denominator is not None and denominator < SMALL_SAMPLE, trend=trend,
        ))
    return tiles


def _environment() -> Environment:
    return Environment(loader=PackageLoader("pipelines", "templates"),
                       autoescape=select_autoescape(["html", "j2"]), trim_blocks=True, lstrip_blocks=True)


def available_weeks(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT DISTINCT week FROM weekly_scorecard ORDER BY week").fetchall()]


def render_weeks(settings: Settings, weeks: list[str] | None = None) -> list[Path]:
    """Render the given weeks (default: every week in the warehouse) and the index page."""
    con = connect(settings.warehouse, read_only=True)
    try:
        known = available_weeks(con)
        wanted = known if weeks is None else weeks
        for w in wanted:
            parse_week(w)
            if w not in known:
                raise ValueError(f"week {w} has no data in {settings.warehouse} (weeks with data: "
                                 f"{known[0] + '..' + known[-1] if known else 'none'})")
        env = _environment()
        written = [_render_week(settings, con, env, w, known) for w in wanted]
        written.append(_render_index(settings, con, env, known))
    finally:
        con.close()
    return written


def _render_week(settings: Settings, con, env: Environment, week: str, known: list[str]) -> Path:
    figures = week_figures(con, week)
    tiles = build_tiles(settings, figures)
    stages = []
    for key, spec in settings.stages.items():
        en, fr = spec.get("en", key), spec.get("fr", key)
        share = figures.get(f"friction_share_{key}", {})
        index = figures.get(f"friction_index_{key}", {})
        top = con.execute(
            "SELECT f.signal, count(*) AS n FROM friction_events f JOIN journeys j USING (journey_id) "
            "WHERE j.week = ? AND f.stage = ? GROUP BY f.signal ORDER BY n DESC, f.signal LIMIT 3",
            [week, key]).fetchall()
        stages.append({"key": key, "en": en, "fr": fr, "share": _fmt(share.get("value"), "pct"),
                       "index": _fmt(index.get("value"), "score"), "reached": share.get("denominator"),
                       "top": top})
    # Files whose rows touch this week; rejected files carry no week, so they count everywhere.
    quality = con.execute(
        "SELECT source, count(*) FILTER (WHERE status = 'loaded' AND list_contains(weeks, ?)), "
        "sum(rows_loaded) FILTER (WHERE list_contains(weeks, ?)), "
        "sum(rows_duplicate) FILTER (WHERE list_contains(weeks, ?)), "
        "count(*) FILTER (WHERE status = 'rejected'), coalesce(sum(rows_rejected), 0) "
        "FROM load_audit GROUP BY source ORDER BY source", [week, week, week]).fetchall()
    nps = {k: figures.get(f"nps_{k}", {}).get("value") for k in ("promoters", "passives", "detractors")}
    position = known.index(week)
    context = {
        "week": week, "tiles": tiles, "stages": stages, "quality": quality,
        "nps_split": {k: _fmt(v, "pct") for k, v in nps.items()},
        "previous_week": known[position - 1] if position > 0 else None,
        "next_week": known[position + 1] if position + 1 < len(known) else None,
        "timezone": settings.week_timezone, "small_sample": SMALL_SAMPLE,
    }
    folder = settings.scorecards_dir / week
    folder.mkdir(parents=True, exist_ok=True)
    html = env.get_template("scorecard.html.j2").render(**context)
    path = folder / "scorecard.html"
    path.write_text(html, encoding="utf-8")
    (folder / "scorecard.json").write_text(json.dumps(
        {"week": week, "headline": {t.metric: {"value": t.value, "numerator": t.numerator,
                                               "denominator": t.denominator, "change": t.change,
                                               "small_sample": t.small_sample} for t in tiles}},
        indent=2) + "\n", encoding="utf-8")
    return path


def _render_index(settings: Settings, con, env: Environment, known: list[str]) -> Path:
    rows = []
    for week in reversed(known):
        tiles = {t.metric: t.display for t in build_tiles(settings, week_figures(con, week))}
        rows.append({"week": week, "tiles": tiles})
    settings.scorecards_dir.mkdir(parents=True, exist_ok=True)
    path = settings.scorecards_dir / "index.html"
    path.write_text(env.get_template("index.html.j2").render(rows=rows, headline=settings.headline),
                    encoding="utf-8")
    return path


def headline_summary(settings: Settings, week: str) -> list[str]:
    """Lines for a terminal: the week's headline figures."""
    con = connect(settings.warehouse, read_only=True)
    try:
        tiles = build_tiles(settings, week_figures(con, week))
    finally:
        con.close()
    lines = []
    for t in tiles:
        n = f"n={t.denominator:,.0f}" if t.denominator is not None else ""
        flag = " (small sample)" if t.small_sample else ""
        lines.append(f"  {t.label_en:<45} {t.display:>10}  {t.change_display:>9}  {n}{flag}")
    return lines
