"""Targets and watch thresholds proposed from a baseline period (`esprit targets`).

For each headline tile, over the baseline weeks' final figures (provisional and empty weeks are
left out): the target is the level the better quarter of weeks reached (the upper quartile
when higher is better, the lower one otherwise) and the watch threshold the level the worse
quarter fell beyond. A typical week of the baseline is then *watch*, its best weeks *on target*
and its worst *off target*: the colours tell a usual week from an unusual one.
"""

from __future__ import annotations

import statistics

from pipelines.config import Settings
from pipelines.weeks import parse_week

MIN_WEEKS = 4  # fewer baseline weeks give no quartiles worth a threshold
DIGITS = {"pct": 1, "points": 0, "score": 2, "per_1000": 1, "index": 1, "days": 1, "seconds": 0}


def proposed_thresholds(values: list[float], better: str, unit: str) -> tuple[float, float] | None:
    """(target, watch) from a baseline's weekly values; None with fewer than MIN_WEEKS."""
    if len(values) < MIN_WEEKS:
        return None
    low, _, high = statistics.quantiles(values, n=4, method="inclusive")
    target, watch = (high, low) if better == "up" else (low, high)
    digits = DIGITS.get(unit, 1)
    if digits == 0:
        return round(target), round(watch)
    return round(target, digits), round(watch, digits)


def baseline_values(history: dict, metric: str, first: str, last: str) -> list[float]:
    """The tile's final weekly figures from first to last (ISO weeks, inclusive)."""
    from pipelines.report.scorecard import _usable

    return [
        _usable(record)
        for week, record in sorted(history.get(metric, {}).items())
        if first <= week <= last and _usable(record) is not None and not record.get("provisional")
    ]


def propose(settings: Settings, weeks: str) -> list[dict]:
    """The headline tiles with target and watch proposed from the weeks 'A..B'; a tile with too
    few weeks keeps its thresholds and is marked `kept`."""
    from pipelines.report.scorecard import metric_history
    from pipelines.warehouse import connect

    first, _, last = weeks.partition("..")
    last = last or first
    parse_week(first), parse_week(last)
    if first > last:
        raise ValueError(f"--from-weeks {weeks}: the first week comes after the last")
    con = connect(settings.warehouse, read_only=True)
    try:
        history = metric_history(con)
    finally:
        con.close()
    tiles = []
    for spec in settings.headline:
        values = baseline_values(history, spec["metric"], first, last)
        found = proposed_thresholds(values, spec["better"], spec["unit"])
        tile = dict(spec, weeks=len(values))
        if found is None:
            tile["kept"] = True
        else:
            tile["target"], tile["watch"] = found
        tiles.append(tile)
    return tiles


def as_yaml(tiles: list[dict], weeks: str) -> str:
    """A `headline:` block to paste into esprit.yaml, one tile a line as in the defaults."""
    import json

    lines = [f"# targets and watch thresholds proposed from {weeks} (esprit targets)", "headline:"]
    for tile in tiles:
        fields = {k: v for k, v in tile.items() if k not in ("weeks", "kept")}
        body = ", ".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in fields.items())
        note = "kept: fewer than 4 baseline weeks" if tile.get("kept") else f"from {tile['weeks']} weeks"
        lines.append(f"  - {{{body}}}  # {note}")
    return "\n".join(lines) + "\n"
