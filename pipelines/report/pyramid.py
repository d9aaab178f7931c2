"""The service-excellence pyramid (CEN/TS 16880, ISO 23592): each level's figures, status and
trend for a week, read from the figures of weekly_scorecard (docs/excellence.md).

The levels and the figures of each are settings (`pyramid:`, `pipelines/config.py` checks them);
this module only applies the rule:

- a figure's status is the tile status of its value against its target and watch (on target /
  watch / off target), *provisional* while it looks past the data's horizon, *no data* without a
  value (no denominator, or a feed the site lacks);
- a level's status is the worst final status of its figures; provisional figures and figures
  without data are not counted; a level with only provisional figures is *provisional*, one with
  no figure carrying a value is *no data* (never on target);
- a level's trend compares its status with its status the scorecard week before: *better*,
  *worse* or *same*, and none when either week has no final status; and over the last
  `trend_weeks` scorecard weeks, how many weeks it was on target, to watch and off target.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace

from pipelines.vocabulary import VOCABULARY

RANK = {"on_target": 0, "watch": 1, "off_target": 2}  # the final statuses, best first


@dataclass(frozen=True)
class Level:
    key: str
    en: str
    fr: str
    status: str  # on_target | watch | off_target | provisional | no_data
    previous_status: str  # the same rule, the scorecard week before ('' when there is none)
    trend: str  # better | worse | same | ''
    figures: tuple  # of scorecard.Tile: value, status, change and target as the tiles have them
    counted: int  # figures with a final status, the ones the level's status is drawn from
    provisional: int  # figures left out while provisional
    weeks: dict  # final status -> in how many of the last `span` scorecard weeks the level had it
    span: int  # the scorecard weeks counted: trend_weeks, fewer when the warehouse has fewer
    # figure -> (count metric, its value this week): what the figure leaves out for want of a
    # record (`unrecorded` in sql/vocabulary.yaml), e.g. follow-ups with no agent recorded
    unrecorded: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        data = asdict(self)
        data["figures"] = [{k: v for k, v in figure.items() if k != "sparkline"} for figure in data["figures"]]
        return data


def level_status(statuses: list[str]) -> str:
    """The worst final status among a level's figures' statuses; provisional when only
    provisional figures have a value; no data when no figure has one."""
    final = [s for s in statuses if s in RANK]
    if final:
        return max(final, key=RANK.__getitem__)
    return "provisional" if "provisional" in statuses else "no_data"


def level_trend(now: str, before: str) -> str:
    """better / worse / same between two level statuses; '' unless both are final."""
    if now not in RANK or before not in RANK:
        return ""
    if RANK[now] == RANK[before]:
        return "same"
    return "better" if RANK[now] < RANK[before] else "worse"


def _figures(settings, history: dict, week: str, known: list[str]) -> dict[str, list]:
    """Each level's figures as headline tiles of their metric: the same value, status, provisional
    mark and change as a tile would show (scorecard.build_tiles)."""
    from pipelines.report.scorecard import build_tiles

    levels = {}
    for key, level in settings.pyramid.items():
        # a metric's unit is the same every week: any week's row gives it
        specs = [
            spec | {"unit": next(iter(history[spec["metric"]].values()))["unit"] if history.get(spec["metric"]) else ""}
            for spec in level["figures"]
        ]
        levels[key] = build_tiles(replace(settings, headline=specs), history, week, known, sparklines=False)
    return levels


def unrecorded(history: dict, week: str, figures) -> dict[str, tuple[str, float]]:
    """For each figure whose metric leaves some of its base out for want of a record, that count
    this week (a count metric of weekly_scorecard), where the week has it."""
    found = {}
    for figure in figures:
        count = VOCABULARY.metrics.get(figure.metric, {}).get("unrecorded")
        record = history.get(count, {}).get(week) if count else None
        if record and record.get("value") is not None:
            found[figure.metric] = (count, record["value"])
    return found


def build_pyramid(settings, history: dict, week: str, known: list[str]) -> list[Level]:
    """The levels of the pyramid for a week, bottom level first (settings.pyramid's order)."""
    position = known.index(week)
    span = known[max(0, position - settings.scorecard["trend_weeks"] + 1) : position + 1]
    past = {w: _figures(settings, history, w, known) for w in span}  # ends with this week
    figures = past[week]
    before = past[span[-2]] if len(span) > 1 else {}
    levels = []
    for key, spec in settings.pyramid.items():
        statuses = [f.status for f in figures[key]]
        status = level_status(statuses)
        previous = level_status([f.status for f in before[key]]) if before else ""
        over_span = [level_status([f.status for f in past[w][key]]) for w in span]
        levels.append(
            Level(
                key=key,
                en=spec["en"],
                fr=spec["fr"],
                status=status,
                previous_status=previous,
                trend=level_trend(status, previous),
                figures=tuple(figures[key]),
                counted=sum(s in RANK for s in statuses),
                provisional=statuses.count("provisional"),
                weeks={s: over_span.count(s) for s in RANK},
                span=len(span),
                unrecorded=unrecorded(history, week, figures[key]),
            )
        )
    return levels
