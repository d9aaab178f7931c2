"""Expected weekly figures, computed in plain Python from what the generator wrote: its
ground truth (handoffs, journeys) and the simulated rows themselves (calls, cases, surveys).

Deliberately independent of the pipeline's SQL: no DuckDB, no pipelines code but the week helper.
"""

from __future__ import annotations

import csv
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

from pipelines.weeks import week_label

TZ = "Europe/Paris"


def _rows(folder: Path, prefix: str) -> list[dict]:
    rows = []
    for path in sorted(folder.glob(f"{prefix}_*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            rows += list(csv.DictReader(fh))
    return rows


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _week(value: str) -> str:
    return week_label(_ts(value), TZ)


def truth_handoffs(landing: Path) -> dict[str, dict]:
    with open(landing / "ground_truth" / "handoffs.csv", newline="", encoding="utf-8") as fh:
        return {r["handoff_key"]: r for r in csv.DictReader(fh)}


def truth_journeys(landing: Path) -> list[dict]:
    with open(landing / "ground_truth" / "journeys.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def expected_weekly(
    landing: Path,
    service_level_s: int = 20,
    sla_days: int = 10,
    short_abandon_s: int = 5,
    ack_hours: int = 48,
    ack_events: tuple[str, ...] = ("acknowledged", "assigned", "reassigned", "resolved"),
) -> dict[str, dict[str, tuple]]:
    """week -> metric -> (numerator, denominator), for the scorecard's figures."""
    out: dict[str, dict[str, tuple]] = defaultdict(dict)
    # calls, by the week their first segment was offered
    calls = defaultdict(list)
    for r in _rows(landing / "calls", "calls"):
        calls[r["call_id"]].append(r)
    per_week = defaultdict(Counter)
    for segs in calls.values():
        segs.sort(key=lambda s: int(s["segment_no"]))
        first = segs[0]
        c = per_week[_week(first["offered_at"])]
        c["offered"] += 1
        if first["outcome"] == "abandoned":
            c["abandoned"] += 1
            c["short"] += (_ts(first["ended_at"]) - _ts(first["offered_at"])).total_seconds() < short_abandon_s
        else:
            wait = (_ts(first["answered_at"]) - _ts(first["offered_at"])).total_seconds()
            c["in_time"] += wait <= service_level_s
        if any(s["outcome"] == "answered" for s in segs):
            c["answered"] += 1
            c["transferred"] += any(a["team"] != b["team"] for a, b in zip(segs, segs[1:]))
    cases = _rows(landing / "complaints", "cases")
    opened = Counter(_week(r["opened_at"]) for r in cases)
    for week, c in per_week.items():
        out[week]["abandonment_rate"] = (c["abandoned"], c["offered"])
        out[week]["service_level"] = (c["in_time"], c["offered"] - c["short"])
        out[week]["transfer_rate"] = (c["transferred"], c["answered"])
    for week in set(per_week) | set(opened):
        out[week]["complaints_per_1000_contacts"] = (1000 * opened[week], per_week[week]["offered"] + opened[week])
    # complaints resolved within SLA, by the week of first resolution
    opened_at = {r["case_id"]: _ts(r["opened_at"]) for r in cases}
    first_resolved: dict[str, datetime] = {}
    first_ack: dict[str, datetime | None] = {}
    for e in _rows(landing / "complaints", "case_events"):
        first_ack.setdefault(e["case_id"], None)
        if e["event_type"] in ack_events:
            at = _ts(e["event_at"])
            if first_ack[e["case_id"]] is None or at < first_ack[e["case_id"]]:
                first_ack[e["case_id"]] = at
        if e["event_type"] == "resolved":
            at = _ts(e["event_at"])
            if e["case_id"] not in first_resolved or at < first_resolved[e["case_id"]]:
                first_resolved[e["case_id"]] = at
    sla = defaultdict(Counter)
    for case_id, at in first_resolved.items():
        c = sla[week_label(at, TZ)]
        c["resolved"] += 1
        c["within"] += (at - opened_at[case_id]).total_seconds() <= sla_days * 86400
    for week, c in sla.items():
        out[week]["complaints_resolved_within_sla"] = (c["within"], c["resolved"])
    # complaints acknowledged within their deadline, by the week of opening, over cases with a history
    ack = defaultdict(Counter)
    for case_id, at in first_ack.items():
        c = ack[week_label(opened_at[case_id], TZ)]
        c["with_history"] += 1
        c["in_time"] += at is not None and (at - opened_at[case_id]).total_seconds() <= ack_hours * 3600
    for week, c in ack.items():
        out[week]["complaints_acknowledged_within_sla"] = (c["in_time"], c["with_history"])
    # surveys, by the week of response
    surveys = defaultdict(Counter)
    for r in _rows(landing / "surveys", "survey_responses"):
        c = surveys[_week(r["responded_at"])]
        nps = int(r["nps"])
        c["n"] += 1
        c["nps"] += (nps >= 9) - (nps <= 6)
        c["csat_ok"] += int(r["csat"]) >= 4
        c["ces"] += int(r["ces"])
    # praise: a verbatim whose true themes (the simulation's) include one going well and none going wrong
    true_themes = {}
    with open(landing / "ground_truth" / "verbatim_themes.csv", newline="", encoding="utf-8") as fh:
        for t in csv.DictReader(fh):
            true_themes[t["response_id"]] = t["themes"].split()
    for r in _rows(landing / "surveys", "survey_responses"):
        if r["verbatim"].strip():
            c = surveys[_week(r["responded_at"])]
            themes = true_themes[r["response_id"]]
            c["with_verbatim"] += 1
            c["praising"] += any(t.endswith("+") for t in themes) and not any(t.endswith("-") for t in themes)
    for week, c in surveys.items():
        if c["with_verbatim"]:
            out[week]["verbatim_praise"] = (c["praising"], c["with_verbatim"])
        out[week]["nps"] = (c["nps"], c["n"])
        out[week]["csat"] = (c["csat_ok"], c["n"])
        out[week]["ces"] = (c["ces"], c["n"])
    # handoffs (ground truth), by the week of the handoff
    handoffs = defaultdict(Counter)
    for h in truth_handoffs(landing).values():
        handoffs[h["week"]]["n"] += 1
        handoffs[h["week"]]["failed"] += h["failed"] == "true"
    for week, c in handoffs.items():
        out[week]["handoff_failure_rate"] = (c["failed"], c["n"])
    # journeys (ground truth), by the week they started
    journeys = truth_journeys(landing)
    fcr = defaultdict(Counter)
    stages = defaultdict(Counter)
    for j in journeys:
        if j["first_contact_resolved"]:
            fcr[j["week"]]["n"] += 1
            fcr[j["week"]]["ok"] += j["first_contact_resolved"] == "true"
        for stage in j["reached"].split(";"):
            stages[(j["week"], stage)]["reached"] += 1
        for stage in filter(None, j["friction_stages"].split(";")):
            stages[(j["week"], stage)]["friction"] += 1
    for week, c in fcr.items():
        out[week]["first_contact_resolution"] = (c["ok"], c["n"])
    for (week, stage), c in stages.items():
        out[week][f"friction_share_{stage}"] = (c["friction"], c["reached"])
    # continuity (ground truth: the agents the simulation gave), by the week of the follow-up
    continuity = defaultdict(Counter)
    with open(landing / "ground_truth" / "continuity.csv", newline="", encoding="utf-8") as fh:
        for f in csv.DictReader(fh):
            c = continuity[f["week"]]
            for column in ("handled", "agent_recorded", "same_agent", "team_recorded", "same_team"):
                c[column] += f[column] == "true"
    for week, c in continuity.items():
        out[week]["agent_continuity"] = (c["same_agent"], c["agent_recorded"])
        out[week]["team_continuity"] = (c["same_team"], c["team_recorded"])
        out[week]["followups_without_agent"] = (c["handled"] - c["agent_recorded"], None)
    return dict(out)


def _segments_with_next(landing: Path):
    """Every exported call segment with the call's next segment (None for its last)."""
    calls = defaultdict(list)
    for r in _rows(landing / "calls", "calls"):
        calls[r["call_id"]].append(r)
    for segs in calls.values():
        segs.sort(key=lambda s: int(s["segment_no"]))
        yield from zip(segs, segs[1:] + [None])


def expected_queue_kpis(landing: Path, service_level_s: int = 20, short_abandon_s: int = 5) -> dict[tuple, tuple]:
    """(week, queue) -> (offered, answered, abandoned, short abandons, answered in time, transferred), per segment."""
    out: dict[tuple, Counter] = defaultdict(Counter)
    for seg, nxt in _segments_with_next(landing):
        c = out[(_week(seg["offered_at"]), seg["queue"])]
        c["offered"] += 1
        if seg["outcome"] == "abandoned":
            c["abandoned"] += 1
            c["short"] += (_ts(seg["ended_at"]) - _ts(seg["offered_at"])).total_seconds() < short_abandon_s
        else:
            c["answered"] += 1
            c["in_time"] += (_ts(seg["answered_at"]) - _ts(seg["offered_at"])).total_seconds() <= service_level_s
            c["transferred"] += nxt is not None and nxt["team"] != seg["team"]
    return {
        k: (c["offered"], c["answered"], c["abandoned"], c["short"], c["in_time"], c["transferred"])
        for k, c in out.items()
    }


def expected_team_kpis(landing: Path) -> dict[tuple, tuple]:
    """(week, team) -> (segments offered, answered, abandoned, total wait of the answered, total
    handle time of the answered, transferred out: the next segment is another team's)."""
    out: dict[tuple, Counter] = defaultdict(Counter)
    for seg, nxt in _segments_with_next(landing):
        c = out[(_week(seg["offered_at"]), seg["team"])]
        c["offered"] += 1
        if seg["outcome"] == "answered":
            c["answered"] += 1
            c["wait"] += (_ts(seg["answered_at"]) - _ts(seg["offered_at"])).total_seconds()
            c["handle"] += (_ts(seg["ended_at"]) - _ts(seg["answered_at"])).total_seconds()
        elif seg["outcome"] == "abandoned":
            c["abandoned"] += 1
        c["transferred"] += nxt is not None and nxt["team"] != seg["team"]
    return {
        k: (c["offered"], c["answered"], c["abandoned"], c["wait"], c["handle"], c["transferred"])
        for k, c in out.items()
    }
