"""'This week': what the weekly scorecard says to act on, ranked, and what improved.

A pure function of figures the page already shows (tiles, stage friction, team pairs, sources),
so the ranking is testable without a warehouse or a browser. Rules (docs/scorecard.md):

1. a configured source with no row in the week (every other figure may be short of it);
2. tiles off target whose change against the previous week is significantly worse, the
   furthest beyond their target first (in units of the tile's target-to-watch band);
3. the stage whose share of journeys with friction rose most, if the rise is significant;
4. the team pair with the most failed handoffs.

At most `limit` items. Provisional figures (a look-ahead window still open) are never listed.
Then what improved: tiles and stages whose change is significantly better.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pipelines.report import stats


def _severity(tile) -> float:
    """How far past its target a tile is, in units of its target-to-watch band."""
    if tile.value is None or tile.target is None:
        return 0.0
    band = abs(tile.target - tile.watch) if getattr(tile, "watch", None) is not None else 0
    return abs(tile.value - tile.target) / (band or 1)


def stage_change(stage: dict) -> tuple[float | None, bool | None]:
    """The change of a stage's share with friction (percentage points) and its significance."""
    now, before = stage.get("share_now"), stage.get("share_before")
    if not now or not before or not now[1] or not before[1]:
        return None, None
    change = 100 * (now[0] / now[1] - before[0] / before[1])
    return change, stats.proportion_change_significant(now[0], now[1], before[0], before[1])


def this_week(
    tiles: Sequence,
    stages: Iterable[dict],
    pairs: Iterable[dict],
    sources: Iterable[dict],
    handoffs_provisional: bool,
    limit: int = 5,
) -> dict[str, list[dict]]:
    """{'act': ranked items, at most limit; 'improved': significant improvements}.

    tiles: the page's Tile objects (status, significant, trend, provisional, ...);
    stages: {key, provisional, share_now: (with friction, reached), share_before: (...)};
    pairs: {from, to, handoffs, failed, failed_before, slug}; sources: the quality rows;
    handoffs_provisional: the week's handoff failures may still change (no pair is listed).
    """
    act: list[dict] = []
    for source in sources:
        if source.get("configured") and not source.get("rows_in_week"):
            act.append({"kind": "source", "subject": source["source"], "link": "#quality"})
    worse = [
        t
        for t in tiles
        if not t.provisional and t.status == "off_target" and t.significant is True and t.trend == "worse"
    ]
    for tile in sorted(worse, key=lambda t: (-_severity(t), t.metric)):
        act.append(_tile_item(tile))
    rising, improved_stages = [], []
    for stage in stages:
        if stage.get("provisional"):
            continue
        change, significant = stage_change(stage)
        if change is None or not significant:
            continue
        item = {
            "kind": "stage",
            "subject": stage["key"],
            "figure": 100 * stage["share_now"][0] / stage["share_now"][1],
            "change": change,
            "link": f"#stage-{stage['key']}",
        }
        (rising if change > 0 else improved_stages).append(item)
    if rising:
        act.append(max(rising, key=lambda i: (i["change"], i["subject"])))
    failing = [p for p in pairs if p["failed"]]
    if failing and not handoffs_provisional:
        # the page's order of pairs (investigate.handoff_pairs): most failed, then most handoffs
        top = min(failing, key=lambda p: (-p["failed"], -p["handoffs"], p["from"], p["to"]))
        before = top.get("failed_before")
        act.append(
            {
                "kind": "pair",
                "subject": f"{top['from']}|{top['to']}",
                "from": top["from"],
                "to": top["to"],
                "figure": top["failed"],
                "handoffs": top["handoffs"],
                "change": top["failed"] - before if before is not None else None,
                "link": f"handoffs/{top['slug']}",  # the page adds '.<lang>.html'
            }
        )
    better = [t for t in tiles if not t.provisional and t.significant is True and t.trend == "better"]
    improved = [_tile_item(t) for t in sorted(better, key=lambda t: t.metric)]
    improved += sorted(improved_stages, key=lambda i: (i["change"], i["subject"]))
    for rank, item in enumerate(act[:limit], start=1):
        item["rank"] = rank
    return {"act": act[:limit], "improved": improved}


def _tile_item(tile) -> dict:
    return {
        "kind": "tile",
        "subject": tile.metric,
        "figure": tile.value,
        "unit": tile.unit,
        "target": tile.target,
        "display": tile.display,
        "change": tile.change,
        "change_display": tile.change_display,
        "target_display": tile.target_display,
        "link": f"#tile-{tile.metric}",
    }
