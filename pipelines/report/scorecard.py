"""Render the weekly service-excellence scorecard from the warehouse (read-only).

Per ISO week, under `out/scorecards/<YYYY-Www>/`: one self-contained HTML page per language
(`scorecard.<lang>.html`, and `scorecard.html` in the first configured language) with styles
and charts inline and no request to any host, its figures as JSON, a PDF when Chromium is
installed, and an investigation page per team pair (`handoffs/`). Plus an index of weeks and
the weekly metric tables as Parquet and CSV under `out/exports/`.

Every figure shown is read from the metric tables; this module only chooses, formats and
compares them (targets, significance of changes, small samples).
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from markupsafe import escape

from pipelines.config import Settings, team_name
from pipelines.report import charts, stats
from pipelines.report.attention import team_attention
from pipelines.report.i18n import formats, reason_rule, timeline_detail, translator
from pipelines.report.investigate import failed_handoffs, group_by_reason, handoff_pairs, pair_overview, pair_slug
from pipelines.report.listening import listening_section, theme_labels
from pipelines.report.pyramid import build_pyramid
from pipelines.report.summary import this_week
from pipelines.warehouse import connect
from pipelines.weeks import parse_week, shift_week, week_bounds

RATIO_UNITS = ("pct", "points", "score", "per_1000")  # meaningless without a denominator


@dataclass(frozen=True)
class Tile:
    metric: str
    label_en: str
    label_fr: str
    unit: str
    value: float | None
    display: str
    numerator: float | None
    denominator: float | None
    ci_low: float | None
    ci_high: float | None
    change: float | None
    change_display: str
    change_vs_average: float | None
    change_vs_average_display: str
    average_4_weeks: float | None
    significant: bool | None
    small_sample: bool
    trend: str  # better | worse | same | ''
    target: float | None
    target_display: str
    status: str  # on_target | watch | off_target | no_data | provisional
    sparkline: str
    provisional: bool = False  # looks ahead past the data's horizon: no status, no significance
    provisional_until: str = ""  # the day it becomes final, as data stands (week timezone)
    missing_feeds: str = ""  # the feeds a site would need for this figure (none configured)
    watch: float | None = None  # the watch threshold: between target and watch is amber


def fmt(value: float | None, unit: str, lang: str = "en") -> str:
    """A figure as the page shows it (Babel, in lang's locale); '' when there is none."""
    return formats(lang).value(value, unit)


def fmt_change(change: float | None, unit: str, lang: str = "en") -> str:
    return formats(lang).change(change, unit)


def status_of(value: float | None, spec: dict) -> str:
    if value is None:
        return "no_data"
    target, watch = spec.get("target"), spec.get("watch")
    if target is None:
        return ""
    up = spec["better"] == "up"
    if (value >= target) if up else (value <= target):
        return "on_target"
    if (value >= watch) if up else (value <= watch):
        return "watch"
    return "off_target"


# ---------------------------------------------------------------- reading the warehouse


def available_weeks(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT DISTINCT week FROM weekly_scorecard ORDER BY week").fetchall()]


def metric_history(con) -> dict[str, dict[str, dict]]:
    """metric -> week -> the weekly_scorecard row (as a dict)."""
    cursor = con.execute(
        "SELECT week, metric, value, numerator, denominator, unit, ci_low, ci_high, change, average_4_weeks, "
        "missing_feeds, final_at, provisional FROM weekly_scorecard ORDER BY metric, week"
    )
    names = [d[0] for d in cursor.description]
    history: dict[str, dict[str, dict]] = {}
    for row in cursor.fetchall():
        record = dict(zip(names, row))
        history.setdefault(record["metric"], {})[record["week"]] = record
    return history


def _table_exists(con, name: str) -> bool:
    return (
        con.execute(
            "SELECT count(*) FROM (SELECT table_name FROM duckdb_tables() WHERE table_name = $n "
            "UNION ALL SELECT view_name FROM duckdb_views() WHERE view_name = $n)",
            {"n": name},
        ).fetchone()[0]
        > 0
    )


def _usable(record: dict | None) -> float | None:
    """The value, or None where a ratio has no denominator (a week with no calls is not 0 %)."""
    if not record:
        return None
    if record["unit"] in RATIO_UNITS and not record.get("denominator"):
        return None
    return record["value"]


def _significance(
    metric: str, unit: str, week: str, previous: str | None, history: dict, ces_variance: dict[str, float]
) -> bool | None:
    if previous is None:
        return None
    now, before = history[metric].get(week), history[metric].get(previous)
    if _usable(now) is None or _usable(before) is None:
        return None
    if metric == "nps":

        def split(w):
            return (
                history["nps_promoters"][w]["numerator"],
                history["nps_detractors"][w]["numerator"],
                history["nps"][w]["denominator"],
            )

        return stats.nps_change_significant(*split(week), *split(previous))
    if unit == "pct":
        return stats.proportion_change_significant(
            now["numerator"], now["denominator"], before["numerator"], before["denominator"]
        )
    if unit == "per_1000":
        return stats.proportion_change_significant(
            now["numerator"] / 1000, now["denominator"], before["numerator"] / 1000, before["denominator"]
        )
    if unit == "score":
        return stats.mean_change_significant(
            now["value"],
            ces_variance.get(week),
            now["denominator"],
            before["value"],
            ces_variance.get(previous),
            before["denominator"],
        )
    return None


def previous_week(weeks: dict, week: str, max_gap: int) -> str | None:
    """The latest earlier week with the figure, if at most max_gap weeks back: a change against a
    stray row years earlier (a survey dated 1970) is no week-on-week change."""
    earlier = [w for w in weeks if w < week]
    if not earlier or earlier[-1] < shift_week(week, -max_gap):
        return None
    return earlier[-1]


def local_day(moment: datetime | None, tz: str) -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d") if moment is not None else ""


def build_tiles(
    settings: Settings,
    history: dict,
    week: str,
    known: list[str],
    ces_variance: dict[str, float] | None = None,
    sparklines: bool = True,
) -> list[Tile]:
    small = settings.scorecard["small_sample"]
    span = known[max(0, known.index(week) - settings.scorecard["trend_weeks"] + 1) : known.index(week) + 1]
    tiles = []
    for spec in settings.headline:
        metric, unit = spec["metric"], spec["unit"]
        weeks = history.get(metric, {})
        record = weeks.get(week)
        value = _usable(record)
        previous = previous_week(weeks, week, settings.scorecard["previous_week_max_gap"])
        previous_value = _usable(weeks.get(previous)) if previous else None
        change = value - previous_value if value is not None and previous_value is not None else None
        average = record.get("average_4_weeks") if record and value is not None else None
        vs_average = value - average if value is not None and average is not None else None
        trend = ""
        if change is not None:
            trend = "same" if change == 0 else ("better" if (change > 0) == (spec["better"] == "up") else "worse")
        denominator = record.get("denominator") if record else None
        provisional = bool(record and value is not None and record.get("provisional"))
        tiles.append(
            Tile(
                metric=metric,
                label_en=spec["en"],
                label_fr=spec["fr"],
                unit=unit,
                value=value,
                display=fmt(value, unit),
                numerator=record.get("numerator") if record else None,
                denominator=denominator,
                ci_low=record.get("ci_low") if record else None,
                ci_high=record.get("ci_high") if record else None,
                change=change,
                change_display=fmt_change(change, unit),
                change_vs_average=vs_average,
                change_vs_average_display=fmt_change(vs_average, unit),
                average_4_weeks=average,
                significant=_significance(metric, unit, week, previous, history, ces_variance or {})
                if change and not provisional
                else None,
                small_sample=value is not None and denominator is not None and denominator < small,
                trend=trend,
                target=spec.get("target"),
                target_display=fmt(spec.get("target"), unit),
                status="provisional" if provisional else status_of(value, spec),
                # drawn once for every language: the page puts its own accessible name in
                sparkline=charts.sparkline(
                    [_usable(weeks.get(w)) for w in span], CHART_TITLE, spec.get("target"), span[0], span[-1]
                )
                if sparklines
                else "",
                provisional=provisional,
                provisional_until=local_day(record["final_at"], settings.week_timezone) if provisional else "",
                missing_feeds=(record or {}).get("missing_feeds") or "",
                watch=spec.get("watch"),
            )
        )
    return tiles


def _stages(settings: Settings, con, history: dict, week: str, span: list[str]) -> tuple[list[dict], dict]:
    stages, series = [], {}
    for key, spec in settings.stages.items():
        share = history.get(f"friction_share_{key}", {}).get(week)
        index = history.get(f"friction_index_{key}", {}).get(week)
        top = con.execute(
            # friction_events.week is its journey's week, and the table is stored in week order
            "SELECT signal, count(*) AS n FROM friction_events WHERE week = ? AND stage = ? "
            "GROUP BY signal ORDER BY n DESC, signal LIMIT 3",
            [week, key],
        ).fetchall()
        provisional = bool(share and _usable(share) is not None and share.get("provisional"))
        stages.append(
            {
                "key": key,
                "en": spec.get("en", key),
                "fr": spec.get("fr", key),
                "provisional_until": local_day(share["final_at"], settings.week_timezone) if provisional else "",
                "missing_feeds": (share or {}).get("missing_feeds") or "",
                "reached": share["denominator"] if share else None,
                "with_friction": share["numerator"] if share else None,
                "share": fmt(_usable(share), "pct"),
                "index": fmt(_usable(index), "index"),
                "share_value": _usable(share),  # the page writes them in its language
                "index_value": _usable(index),
                "top": top,
            }
        )
        series[key] = [_usable(history.get(f"friction_index_{key}", {}).get(w)) for w in span]
    return stages, series


def _verbatims(con, week: str, stages: list[dict], per_stage: int) -> dict[str, list[dict]]:
    """For each stage, verbatims from this week's journeys that met the stage's top signal (one
    query for every stage: the journeys' contacts are read once), each text once, with the themes
    it names (`verbatim_themes`, as "theme+" / "theme-")."""
    chosen = {stage["key"]: [] for stage in stages}
    wanted = [(stage["key"], stage["top"][0][0]) for stage in stages if stage["top"]]
    if not wanted:
        return chosen
    rows = con.execute(
        """
        WITH wanted AS (SELECT unnest($stages::VARCHAR[]) AS stage, unnest($signals::VARCHAR[]) AS signal),
        found AS (
            SELECT DISTINCT f.stage, f.signal, r.response_id, r.verbatim, r.language, r.nps
            FROM friction_events AS f
            JOIN wanted AS w USING (stage, signal)
            JOIN journey_contacts AS jc ON jc.journey_id = f.journey_id AND jc.contact_type = 'survey'
            JOIN stg_survey_responses AS r ON r.response_id = jc.contact_ref
            WHERE f.week = $week AND nullif(trim(r.verbatim), '') IS NOT NULL
            -- the same words once per stage: a verbatim many customers wrote is one example
            QUALIFY row_number() OVER (PARTITION BY f.stage, r.verbatim, r.language ORDER BY r.nps NULLS LAST,
                r.response_id) = 1
        )
        SELECT stage, signal, verbatim, language, nps,
            (SELECT list(t.theme || t.polarity ORDER BY t.theme, t.polarity) FROM verbatim_themes AS t
                WHERE t.response_id = found.response_id) AS themes
        FROM found
        QUALIFY row_number() OVER (PARTITION BY stage ORDER BY nps NULLS LAST, response_id) <= $per_stage
        ORDER BY stage, nps NULLS LAST, response_id
        """,
        {"week": week, "stages": [k for k, _ in wanted], "signals": [sig for _, sig in wanted], "per_stage": per_stage},
    ).fetchall()
    for stage, signal, text, language, nps, themes in rows:
        chosen[stage].append({"signal": signal, "text": text, "language": language, "nps": nps, "themes": themes or []})
    return chosen


STAGED = {
    "calls": "stg_calls",
    "cases": "stg_cases",
    "case_events": "stg_case_events",
    "survey_responses": "stg_survey_responses",
}
UNCONFIGURED = "(not configured)"  # loads into a table no configured source fills


def _quality(settings: Settings, con, week: str) -> dict:
    """Per configured source: files and rows behind the week, rejects, late arrivals; and the
    week's state. A load is counted under the configured source whose profiles fill its table,
    whatever folder the file came from; the week is complete once every configured source has
    rows in it (a complaint-only site waits for complaints only)."""
    from pipelines.model.feeds import source_tables

    tz = settings.week_timezone
    start, end = week_bounds(week, tz)
    local_end = end.astimezone(ZoneInfo(tz))
    published = datetime.combine(local_end.date(), time(0), ZoneInfo(tz)) + timedelta(
        hours=settings.scorecard["publish_delay_hours"]
    )
    rows_in_table = dict(
        con.execute(
            " UNION ALL ".join(
                [f"SELECT '{table}', count(*) FROM {staged} WHERE week = $week" for table, staged in STAGED.items()]
                # the pulse has no staging table: its answers are counted between the week's bounds
                + [
                    "SELECT 'internal_pulse', count(*) FROM internal_pulse WHERE answered_at >= $start AND answered_at < $end"
                ]
            ),
            {"week": week, "start": start, "end": end},
        ).fetchall()
    )
    tables = source_tables(settings)
    source_of = {}
    for source, filled in tables.items():
        for table in sorted(filled):
            source_of.setdefault(table, source)
    audit = con.execute(
        """
        SELECT table_name,
            count(*) FILTER (WHERE status = 'loaded' AND list_contains(weeks, $week)),
            coalesce(sum(rows_loaded) FILTER (WHERE status = 'loaded' AND list_contains(weeks, $week)), 0),
            coalesce(sum(rows_quarantined) FILTER (WHERE status = 'loaded' AND list_contains(weeks, $week)), 0),
            coalesce(sum(rows_duplicate) FILTER (WHERE status = 'loaded' AND list_contains(weeks, $week)), 0),
            count(*) FILTER (WHERE status = 'rejected'),
            coalesce(sum(rows_rejected) FILTER (WHERE status = 'rejected'), 0),
            count(*) FILTER (WHERE status = 'loaded' AND list_contains(weeks, $week) AND finished_at > $published)
        FROM load_audit GROUP BY table_name
        """,
        {"week": week, "published": published},
    ).fetchall()
    by_source: dict[str, list[int]] = {}
    for table, *counts in audit:
        totals = by_source.setdefault(source_of.get(table, UNCONFIGURED), [0] * 7)
        by_source[source_of.get(table, UNCONFIGURED)] = [a + b for a, b in zip(totals, counts)]
    sources = []
    for source in list(settings.sources) + ([UNCONFIGURED] if UNCONFIGURED in by_source else []):
        files, loaded, quarantined, duplicate, rejected, rows_rejected, late = by_source.get(source, (0,) * 7)
        in_week = sum(rows_in_table.get(t, 0) for t in tables[source]) if source in tables else None
        sources.append(
            {
                "source": source,
                "files": files,
                "rows_loaded": loaded,
                "rows_quarantined": quarantined,
                "rows_duplicate": duplicate,
                "files_rejected": rejected,
                "rows_rejected": rows_rejected,
                "late_files": late,
                "rows_in_week": in_week,
                "configured": source in tables,
            }
        )
    restated = None
    if _table_exists(con, "week_status"):
        found = con.execute("SELECT restated, restated_at, changes FROM week_status WHERE week = ?", [week]).fetchone()
        if found and found[0]:
            restated = {
                "at": found[1].astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M") if found[1] else "",
                "changes": found[2],
                "at_local": found[1].astimezone(ZoneInfo(tz)) if found[1] else None,  # the page's format
            }
    complete = datetime.now(UTC) >= end + timedelta(days=settings.scorecard["complete_after_days"]) and all(
        s["rows_in_week"] for s in sources if s["configured"]
    )
    return {
        "sources": sources,
        "complete": complete,
        "restated": restated,
        "published": published.strftime("%Y-%m-%d %H:%M %Z"),
        "published_at": published,
    }


def _handoffs(settings: Settings, con, week: str, lang_pages: str) -> dict:
    """The handoff section's figures; cells and rows link to the pairs that have a page
    (`investigated`, the `investigation_pairs` with the most failed handoffs)."""
    unassigned = settings.teams["unassigned"]
    apart = None if settings.scorecard.get("show_unassigned_pairs") else unassigned
    pairs = handoff_pairs(con, week, leave_out=apart)
    # handoffs to or from no team count in the failure rate, but are shown apart from the pairs
    unassigned_handoffs, unassigned_failed = con.execute(
        "SELECT coalesce(sum(handoffs), 0), coalesce(sum(failed), 0) FROM weekly_handoff_pairs "
        "WHERE week = $week AND $team IN (from_team, to_team)",
        {"week": week, "team": unassigned},
    ).fetchone()
    investigated = {(s, d) for s, d, _, _ in investigated_pairs(settings, pairs)}
    teams_from = sorted({p[0] for p in pairs})
    teams_to = sorted({p[1] for p in pairs})
    reasons = {}
    for src, dst, reason, n in con.execute(
        "SELECT from_team, to_team, reason, count(*) FROM (SELECT from_team, to_team, "
        "unnest(failure_reasons) AS reason FROM handoffs WHERE week = ?) GROUP BY ALL "
        "ORDER BY 4 DESC, 3",
        [week],
    ).fetchall():
        reasons.setdefault((src, dst), []).append((reason, n))
    top = [
        {
            "from": s,
            "to": d,
            "handoffs": h,
            "failed": f,
            "rate": 100 * f / h,
            "reasons": reasons.get((s, d), []),
            "slug": pair_slug(s, d) if (s, d) in investigated else None,
        }
        for s, d, h, f in pairs
        if f
    ][: settings.scorecard["top_pairs"]]
    cursor = con.execute("SELECT * FROM weekly_team_supplier WHERE week = ? ORDER BY team", [week])
    names = [d[0] for d in cursor.description]
    supplier = [row for row in (dict(zip(names, r)) for r in cursor.fetchall()) if row["team"] != apart]
    reason_columns = [
        n
        for n in names
        if n
        not in (
            "week",
            "team",
            "handoffs_received",
            "teams_served",
            "failed",
            "failure_rate",
            "parameter_set",
            "computed_at",
            "build_id",
        )
    ]
    return {
        "pairs": pairs,
        "teams_from": teams_from,
        "teams_to": teams_to,
        "top": top,
        "supplier": supplier,
        "unassigned": {"handoffs": unassigned_handoffs, "failed": unassigned_failed} if apart else None,
        "reason_columns": reason_columns,
        "cells": {
            (s, d): (h, f, f"handoffs/{pair_slug(s, d)}.{lang_pages}.html" if (s, d) in investigated else None)
            for s, d, h, f in pairs
        },
        "left_out": sum(1 for s, d, _, f in pairs if f and (s, d) not in investigated),
    }


def _this_week(settings: Settings, con, history: dict, week: str, tiles: list[Tile], quality: dict) -> dict:
    """The figures 'This week' ranks, read from the metric tables, then ranked (summary.py)."""
    gap = settings.scorecard["previous_week_max_gap"]
    stages = []
    for key in settings.stages:
        weeks = history.get(f"friction_share_{key}", {})
        now, previous = weeks.get(week), previous_week(weeks, week, gap)
        before = weeks.get(previous) if previous else None
        stages.append(
            {
                "key": key,
                "provisional": bool(now and now.get("provisional")),
                "share_now": (now["numerator"], now["denominator"]) if now else None,
                "share_before": (before["numerator"], before["denominator"]) if before else None,
            }
        )
    unassigned = settings.teams["unassigned"]
    apart = None if settings.scorecard.get("show_unassigned_pairs") else unassigned
    pairs = handoff_pairs(con, week, leave_out=apart)
    previous = previous_week(history.get("handoff_failure_rate", {}), week, gap)
    before = dict(
        ((s, d), f)
        for s, d, f in con.execute(
            "SELECT from_team, to_team, failed FROM weekly_handoff_pairs WHERE week = ?", [previous]
        ).fetchall()
    )
    handoff_record = history.get("handoff_failure_rate", {}).get(week) or {}
    return this_week(
        tiles,
        stages,
        [
            {
                "from": s,
                "to": d,
                "handoffs": h,
                "failed": f,
                "failed_before": before.get((s, d), 0 if previous else None),
                "slug": pair_slug(s, d),
            }
            for s, d, h, f in pairs
        ],
        quality["sources"],
        handoffs_provisional=bool(handoff_record.get("provisional")),
    )


CHART_TITLE = "esprit-chart-title"  # replaced by each page's words


def quarter_views(settings: Settings, history: dict, week: str) -> list[dict]:
    """Per headline figure: the year to the week (52 calendar weeks, gaps where a week has no
    data) with its last quarter (13 weeks), the target drawn, and how many weeks of each were on
    target (provisional weeks have no status and are not counted)."""
    year = [shift_week(week, -i) for i in range(51, -1, -1)]
    views = []
    for spec in settings.headline:
        weeks = history.get(spec["metric"], {})
        values = [_usable(weeks.get(w)) for w in year]
        final = [status_of(v, spec) for w, v in zip(year, values) if v is not None and not weeks[w].get("provisional")]
        quarter = [
            status_of(v, spec)
            for w, v in zip(year[-13:], values[-13:])
            if v is not None and not weeks[w].get("provisional")
        ]
        views.append(
            {
                "metric": spec["metric"],
                # drawn once for every language: the page puts its own accessible name in
                "chart": charts.quarter_view(values, year, spec.get("target"), CHART_TITLE),
                "label": {"en": spec["en"], "fr": spec["fr"]},
                "on_quarter": quarter.count("on_target"),
                "n_quarter": len(quarter),
                "on_year": final.count("on_target"),
                "n_year": len(final),
            }
        )
    return views


def investigated_pairs(settings: Settings, pairs) -> list:
    """The pairs with a page: those with failed handoffs, the most first, at most
    `investigation_pairs` of them (a page per pair made 8,611 files for 47 weeks of a real log)."""
    return [p for p in pairs if p[3]][: settings.scorecard["investigation_pairs"]]


def team_namer(settings: Settings, lang: str):
    """code -> the team's name in lang; the unassigned state in words."""
    t, _ = translator(lang)
    unassigned = settings.teams["unassigned"]
    return lambda code: t("unassigned_team") if code == unassigned else team_name(settings, code, lang)


def survey_drivers(con, week: str) -> list[dict]:
    """The driver view: per rated aspect of a wide survey, its mean among satisfied and among
    dissatisfied respondents with how many answered (weekly_survey_drivers), the widest gap first;
    an aspect with no gap (a side without answers) last. Empty when no survey has aspects."""
    if not _table_exists(con, "weekly_survey_drivers"):
        return []
    cursor = con.execute(
        "SELECT * FROM weekly_survey_drivers WHERE week = ? ORDER BY gap DESC NULLS LAST, question", [week]
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


def _teams(con, week: str) -> list[dict]:
    cursor = con.execute("SELECT * FROM weekly_team_kpis WHERE week = ? ORDER BY team", [week])
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, r)) for r in cursor.fetchall()]


# ---------------------------------------------------------------- writing pages


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("pipelines.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # figures, days and timeline details in the page's language (its `lang`), by Babel
    env.filters["fmt"] = pass_context(lambda ctx, value, unit: fmt(value, unit, ctx["lang"]))
    env.filters["change"] = pass_context(lambda ctx, value, unit: fmt_change(value, unit, ctx["lang"]))
    env.filters["count"] = pass_context(lambda ctx, value: formats(ctx["lang"]).count(value))
    env.filters["decimal"] = pass_context(
        lambda ctx, value, digits=2, signed=False: formats(ctx["lang"]).decimal(value, digits, signed)
    )
    env.filters["day"] = pass_context(lambda ctx, value: formats(ctx["lang"]).day(value))
    env.filters["moment"] = pass_context(lambda ctx, value, seconds=False: formats(ctx["lang"]).moment(value, seconds))
    env.filters["detail"] = pass_context(lambda ctx, entry: timeline_detail(entry.kind, entry.facts, ctx["lang"]))
    env.filters["shell"] = shlex.quote  # a team name in a command a reader may paste into a shell
    return env


def _write(path: Path, text: str) -> Path:
    """Write beside the final name, then rename: a reader never sees half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
    return path


def render_weeks(
    settings: Settings,
    weeks: list[str] | None = None,
    languages: list[str] | None = None,
    pdf: bool | None = None,
    exports: bool | None = None,
    force: bool = False,
) -> list[Path]:
    """Render the given weeks (default: every week in the warehouse), the index and the exports.

    languages: default every configured language; pdf: default the `scorecard.pdf` setting
    ('auto' prints when Chromium is installed) for the weeks `scorecard.pdf_weeks` names (the
    latest), True prints every week given; exports: default the `scorecard.exports` setting.
    A week whose inputs are those of its last render (`inputs.sha256` beside its pages) is left
    as it is, unless `force`. Returns the files written.
    """
    from pipelines.report.pdf import find_chromium

    languages = languages or settings.scorecard["languages"]
    for lang in languages:
        translator(lang)  # refuses an unknown language before anything is written
    every_pdf = pdf is True or settings.scorecard["pdf_weeks"] == "all"
    if pdf is None:
        pdf = settings.scorecard["pdf"] is True or (settings.scorecard["pdf"] == "auto" and find_chromium() is not None)
    con = connect(settings.warehouse, read_only=True)
    try:
        known = available_weeks(con)
        wanted = known if weeks is None else weeks
        for w in wanted:
            parse_week(w)
            if w not in known:
                raise ValueError(
                    f"week {w} has no data in {settings.warehouse} (weeks with data: "
                    f"{known[0] + '..' + known[-1] if known else 'none'})"
                )
        env = _environment()
        history = metric_history(con)
        ces_variance = dict(
            con.execute(
                "SELECT week, var_samp(ces) FROM stg_survey_responses WHERE ces IS NOT NULL GROUP BY week"
            ).fetchall()
        )
        written: list[Path] = []
        version = _code_version()
        for week in wanted:
            printed = pdf and (every_pdf or week == known[-1])
            written += _render_week(
                settings, con, env, history, ces_variance, week, known, languages, printed, force, version
            )
        withdraw_pages(settings, known)
        for lang in languages:
            written.append(_render_index(settings, env, history, ces_variance, known, lang, languages))
        if exports if exports is not None else settings.scorecard["exports"]:
            from pipelines.report.exports import export_tables

            export_tables(con, settings.out / "exports")
    finally:
        con.close()
    return written


def _render_week(
    settings: Settings,
    con,
    env: Environment,
    history: dict,
    ces_variance: dict,
    week: str,
    known: list[str],
    languages: list[str],
    pdf: bool,
    force: bool = False,
    version: str = "",
) -> list[Path]:
    position = known.index(week)
    span = known[max(0, position - settings.scorecard["trend_weeks"] + 1) : position + 1]
    tiles = build_tiles(settings, history, week, known, ces_variance, sparklines=False)
    stages, series = _stages(settings, con, history, week, span)
    verbatims = _verbatims(con, week, stages, settings.scorecard["verbatims_per_stage"])
    listening = listening_section(con, week, stages)
    quality = _quality(settings, con, week)
    summary = _this_week(settings, con, history, week, tiles, quality)
    teams = _teams(con, week)
    drivers = survey_drivers(con, week)
    pyramid = build_pyramid(settings, history, week, known)
    attention = team_attention(con, week, settings.teams["unassigned"])
    nps_split = {k: _usable(history.get(f"nps_{k}", {}).get(week)) for k in ("promoters", "passives", "detractors")}
    folder = settings.scorecards_dir / week
    inputs = _inputs_digest(
        settings,
        con,
        week,
        version,
        languages,
        pdf,
        {
            "neighbours": [known[position - 1] if position > 0 else None, known[position + 1 : position + 2]],
            "span": {w: {m: _usable(history[m].get(w)) for m in sorted(history)} for w in span},
            "tiles": [asdict(tile) for tile in tiles],
            "stages": stages,
            "verbatims": verbatims,
            "listening": listening,
            "quality": quality,
            "teams": teams,
            "drivers": drivers,
            "nps_split": nps_split,
            "summary": summary,
            # the quarter view reaches back 52 weeks, further than the trend span: its figures
            # (its charts are drawn only when the week is rendered)
            "year": {
                spec["metric"]: [history.get(spec["metric"], {}).get(shift_week(week, -i)) for i in range(52)]
                for spec in settings.headline
            },
            "pyramid": [level.as_json() for level in pyramid],
            "attention": attention,
        },
    )
    expected = [
        folder / f"scorecard.{lang}.{ext}" for lang in languages for ext in (("html", "pdf") if pdf else ("html",))
    ]
    stamp = folder / "inputs.sha256"
    if not force and all(p.exists() for p in expected) and stamp.exists() and stamp.read_text() == inputs:
        return []  # the same figures as the pages already hold
    tiles = build_tiles(settings, history, week, known, ces_variance)
    quarters = quarter_views(settings, history, week)
    # a pair's page shows its first failed handoffs with their journeys; `esprit handoffs` lists all
    apart = None if settings.scorecard.get("show_unassigned_pairs") else settings.teams["unassigned"]
    investigated = [(s, d) for s, d, _, _ in investigated_pairs(settings, handoff_pairs(con, week, leave_out=apart))]
    failed_by_pair = {
        (s, d): failed_handoffs(
            con, week, s, d, settings.week_timezone, per_pair=settings.scorecard["handoffs_per_page"]
        )
        for s, d in investigated
    }
    overviews = {(s, d): pair_overview(con, week, s, d) for s, d in investigated}
    written = []
    for lang in languages:
        t, term = translator(lang)
        handoffs = _handoffs(settings, con, week, lang)
        team = team_namer(settings, lang)
        heatmap = charts.handoff_heatmap(
            handoffs["teams_from"],
            handoffs["teams_to"],
            handoffs["cells"],
            t("heatmap_title"),
            t("to_team"),
            t("from_team"),
            t("no_handoffs"),
            names={code: team(code) for code in handoffs["teams_from"] + handoffs["teams_to"]},
            percent=formats(lang).whole_percent,
        )
        trend = charts.trend_lines(
            span,
            {(s[lang] if lang in s else s["en"]): series[s["key"]] for s in stages},
            t("friction_trend", n=settings.scorecard["trend_weeks"]),
            t("friction_index").split(" (")[0],
        )
        context = {
            "lang": lang,
            "languages": languages,
            "t": t,
            "term": term,
            "team": team,
            "week": week,
            "tiles": tiles,
            "stages": stages,
            "trend": trend,
            "handoffs": handoffs,
            "heatmap": heatmap,
            "teams": teams,
            "drivers": drivers,
            "pyramid": pyramid,
            "attention": {**attention, **settings.pulse},
            "verbatims": verbatims,
            "listening": listening,
            "theme_names": lambda labels, lang=lang, t=t: theme_labels(labels, lang, t),
            "quality": quality,
            "summary": summary,
            "quarters": [
                dict(
                    q,
                    chart=q["chart"].replace(
                        CHART_TITLE, str(escape(t("quarter_title", label=q["label"][lang], week=week))), 1
                    ),
                )
                for q in quarters
            ],
            "stage_names": {s["key"]: s for s in stages},
            "chart_title": CHART_TITLE,
            "span_weeks": len(span),
            "nps_split": nps_split,
            "previous_week": known[position - 1] if position > 0 else None,
            "next_week": known[position + 1] if position + 1 < len(known) else None,
            "timezone": settings.week_timezone,
            "small_sample": settings.scorecard["small_sample"],
        }
        html = env.get_template("scorecard.html.j2").render(**context)
        page = _write(folder / f"scorecard.{lang}.html", html)
        written.append(page)
        if lang == languages[0] and lang == settings.scorecard["languages"][0]:
            written.append(_write(folder / "scorecard.html", html))
        written += _render_investigations(
            settings, env, week, handoffs["pairs"], failed_by_pair, overviews, lang, handoffs["left_out"]
        )
        if pdf:
            from pipelines.report.pdf import print_pdf

            written.append(print_pdf(page, folder / f"scorecard.{lang}.pdf"))
        else:  # printed when it was the latest week: a PDF now older than its page goes
            (folder / f"scorecard.{lang}.pdf").unlink(missing_ok=True)
    figures = {
        "week": week,
        "parameter_set": _parameter_set(con, week),
        "headline": {tile.metric: {k: v for k, v in asdict(tile).items() if k != "sparkline"} for tile in tiles},
        "stages": {s["key"]: {k: v for k, v in s.items() if k not in ("en", "fr")} for s in stages},
        "quality": quality,
        "survey_drivers": drivers,
        "this_week": summary,
        "pyramid": {level.key: level.as_json() for level in pyramid},
        "listening": listening,
        "attention": attention,
    }
    written.append(_write(folder / "scorecard.json", json.dumps(figures, indent=2, default=str) + "\n"))
    for stale in (folder / "handoffs").glob("*.html"):  # pairs no longer among those investigated
        if stale not in written:
            stale.unlink()
    written.append(_write(stamp, inputs))  # last: a render cut short is redone
    return written


def _code_version() -> str:
    """The renderer's own code and templates: a new version renders every week again."""
    import hashlib

    from pipelines.report import i18n

    here = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted([*here.glob("*.py"), *(here / "templates").glob("*.j2"), Path(i18n.__file__)]):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _inputs_digest(settings: Settings, con, week: str, version: str, languages, pdf: bool, figures: dict) -> str:
    """A hash of everything a week's pages show: its figures (and its trend weeks'), its handoffs
    row by row (the investigation pages), the settings, the languages, the renderer's version.
    Reading them costs a few queries; rendering costs charts, timelines and pages."""
    import hashlib

    rows = con.execute(
        "SELECT (SELECT count(*) || ':' || coalesce(bit_xor(hash(t)), 0) FROM (SELECT handoff_key, failed, "
        "failure_reasons, journey_id, pickup_seconds, from_team, to_team FROM handoffs WHERE week = $week) AS t), "
        "(SELECT count(*) || ':' || coalesce(bit_xor(hash(t)), 0) FROM (SELECT * EXCLUDE (computed_at, build_id) "
        "FROM weekly_handoff_pairs WHERE week = $week) AS t), "
        "(SELECT count(*) || ':' || coalesce(bit_xor(hash(t)), 0) FROM (SELECT * EXCLUDE (computed_at, build_id) "
        "FROM weekly_team_supplier WHERE week = $week) AS t)",
        {"week": week},
    ).fetchone()
    chosen = {k: settings.scorecard.get(k) for k in sorted(settings.scorecard) if k not in ("pdf", "exports")}
    text = json.dumps(
        {
            "version": version,
            "languages": languages,
            "pdf": pdf,
            "settings": [chosen, settings.headline, settings.teams, settings.stages, settings.week_timezone],
            "rows": rows,
            "figures": figures,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest() + "\n"


def _parameter_set(con, week: str) -> str | None:
    found = con.execute("SELECT any_value(parameter_set) FROM weekly_scorecard WHERE week = ?", [week]).fetchone()
    return found[0] if found else None


def _render_investigations(
    settings: Settings,
    env: Environment,
    week: str,
    pairs,
    failed_by_pair: dict,
    overviews: dict,
    lang: str,
    left_out: int,
) -> list[Path]:
    t, term = translator(lang)
    written = []
    for src, dst, handoffs, failed in investigated_pairs(settings, pairs):
        items = failed_by_pair.get((src, dst), [])
        html = env.get_template("handoffs.html.j2").render(
            lang=lang,
            t=t,
            term=term,
            team=team_namer(settings, lang),
            week=week,
            from_team=src,
            to_team=dst,
            handoffs=handoffs,
            failed=failed,
            items=items,
            groups=group_by_reason(items),
            overview=overviews[(src, dst)],
            reason_rule=reason_rule,
            left_out=left_out,
        )
        written.append(_write(settings.scorecards_dir / week / "handoffs" / f"{pair_slug(src, dst)}.{lang}.html", html))
    return written


def withdraw_pages(settings: Settings, known: list[str]) -> list[str]:
    """Remove the pages of weeks the warehouse no longer has (a reload or a correction took all
    their rows): a page left behind would keep publishing figures nothing supports. Returns them."""
    import re
    import shutil

    gone = sorted(
        p.name
        for p in settings.scorecards_dir.glob("*-W*")
        if p.is_dir() and re.fullmatch(r"\d{4}-W\d{2}", p.name) and p.name not in known
    )
    for week in gone:
        shutil.rmtree(settings.scorecards_dir / week)
    return gone


def _render_index(
    settings: Settings,
    env: Environment,
    history: dict,
    ces_variance: dict,
    known: list[str],
    lang: str,
    languages: list[str],
) -> Path:
    t, _ = translator(lang)
    rows = [
        {
            "week": week,
            "tiles": {
                tile.metric: tile
                for tile in build_tiles(settings, history, week, known, ces_variance, sparklines=False)
            },
        }
        for week in reversed(known)
    ]
    html = env.get_template("index.html.j2").render(
        rows=rows, headline=settings.headline, lang=lang, t=t, languages=languages
    )
    page = _write(settings.scorecards_dir / f"index.{lang}.html", html)
    if lang == settings.scorecard["languages"][0]:
        _write(settings.scorecards_dir / "index.html", html)
    return page


def headline_summary(settings: Settings, week: str) -> list[str]:
    """Lines for a terminal: the week's headline figures."""
    con = connect(settings.warehouse, read_only=True)
    try:
        history, known = metric_history(con), available_weeks(con)
        tiles = build_tiles(settings, history, week, known, sparklines=False)
    finally:
        con.close()
    lines = []
    for tile in tiles:
        n = f"n={tile.denominator:,.0f}" if tile.denominator is not None else ""
        flag = " (small sample)" if tile.small_sample else ""
        flag += f" (provisional until {tile.provisional_until})" if tile.provisional else ""
        flag += f" (no {tile.missing_feeds} feed)" if tile.missing_feeds else ""
        shown = tile.display or "no data"
        lines.append(f"  {tile.label_en:<45} {shown:>10}  {tile.change_display:>9}  {n}{flag}")
    return lines
