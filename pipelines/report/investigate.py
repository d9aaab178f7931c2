"""Failed handoffs between two teams, and the journey behind each: what quality leads read.

Used by the investigation pages of the scorecard and by `esprit handoffs`. Reads the warehouse
through a connection the caller opened (read-only); times are shown in the week timezone.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import datetime

from pipelines.report.i18n import timeline_detail
from pipelines.sqltext import sql_timestamp


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # call | case_event | survey
    ref: str
    team: str | None
    detail: str  # in English, for the terminal; pages word `facts` in their language
    facts: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FailedHandoff:
    handoff_key: str
    kind: str
    from_team: str
    to_team: str
    handoff_at: datetime
    reasons: list[str]
    journey_id: str | None
    timeline: list[TimelineEntry] = field(default_factory=list)

    @property
    def failing_step(self) -> int | None:
        """The position in the timeline of the step the handoff happened at: the receiving call
        segment, the reassigning case event, or an escalated case's first event."""
        kind, _, rest = self.handoff_key.partition(":")
        container, _, number = rest.rpartition(":") if kind in ("call", "case") else (rest, "", "")
        wanted = "call" if kind == "call" else "case_event"
        for i, entry in enumerate(self.timeline):
            if entry.kind == wanted and (
                entry.ref == f"{container} #{number}" if number else entry.ref.startswith(f"{container} #")
            ):
                return i
        return None


# Pickup-time buckets (seconds, upper bound excluded) of a pair's overview
PICKUP_BUCKETS = (("< 1 min", 60), ("1–5 min", 300), ("5–15 min", 900), ("15–60 min", 3600), ("1–8 h", 28800))


def reason_definition(reason: str) -> str:
    """A reason's rule from sql/vocabulary.yaml, its parameter markup as plain words."""
    from pipelines.vocabulary import VOCABULARY

    rule = VOCABULARY.reasons.get(reason, {}).get("rule", "")
    return re.sub(r"\[`([^`]+)`\]|`([^`]+)`", lambda m: m.group(1) or m.group(2), " ".join(str(rule).split()))


def agent_ref(agent_id: str | None) -> str | None:
    """An agent as the pages show one: a short hash of its pseudonym (the warehouse holds no code,
    which may be a name); `esprit pseudonym CODE` tells a key holder which agent it is."""
    return None if agent_id is None else "agent-" + hashlib.sha256(agent_id.encode()).hexdigest()[:8]


def pair_overview(con, week: str, from_team: str, to_team: str) -> dict:
    """What a pair's page opens with: its failed handoffs by reason (with each reason's
    definition), the pickup times of all its handoffs, its handoffs by receiving queue and agent,
    and its worst journeys (most failed handoffs, then most reasons, then the longest pickup)."""
    # the receiving step: a transfer's call segment, a reassignment's case event (by the key)
    received = """
        WITH pair AS (
            SELECT handoff_key, kind, container, journey_id, pickup_seconds, failed, failure_reasons,
                try_cast(regexp_extract(handoff_key, ':([0-9]+)$', 1) AS BIGINT) AS step
            FROM handoffs WHERE week = $week AND from_team = $from AND to_team = $to
        )
        SELECT p.*, c.queue, coalesce(c.agent_id, e.agent_id) AS agent_id
        FROM pair AS p
        LEFT JOIN stg_calls AS c ON p.kind = 'transfer' AND c.call_id = p.container AND c.segment_no = p.step
        LEFT JOIN stg_case_events AS e
            ON p.kind = 'reassignment' AND e.case_id = p.container AND e.event_seq = p.step
    """
    params = {"week": week, "from": from_team, "to": to_team}
    rows = con.execute(
        f"SELECT handoff_key, journey_id, pickup_seconds, failed, failure_reasons, queue, agent_id FROM ({received})",
        params,
    ).fetchall()
    reasons: dict[str, int] = {}
    for *_, failed, found, _, _ in rows:
        for reason in found if failed else []:
            reasons[reason] = reasons.get(reason, 0) + 1
    pickup = [{"label": label, "handoffs": 0, "failed": 0} for label, _ in PICKUP_BUCKETS]
    pickup += [{"label": f"≥ {PICKUP_BUCKETS[-1][0].split('–')[1]}", "handoffs": 0, "failed": 0}]
    pickup += [{"label": None, "handoffs": 0, "failed": 0}]  # not picked up, or not known yet
    queues: dict = {}
    agents: dict = {}
    journeys: dict[str, dict] = {}
    for key, journey, seconds, failed, found, queue, agent in rows:
        if seconds is None:
            bucket = pickup[-1]
        else:
            bucket = next((pickup[i] for i, (_, upper) in enumerate(PICKUP_BUCKETS) if seconds < upper), pickup[-2])
        for counts in (bucket, queues.setdefault(queue, {"handoffs": 0, "failed": 0})):
            counts["handoffs"] += 1
            counts["failed"] += bool(failed)
        counts = agents.setdefault(agent_ref(agent), {"handoffs": 0, "failed": 0})
        counts["handoffs"] += 1
        counts["failed"] += bool(failed)
        if failed and journey is not None:
            j = journeys.setdefault(journey, {"journey": journey, "failed": 0, "reasons": set(), "pickup": None})
            j["failed"] += 1
            j["reasons"] |= set(found)
            j["first_key"] = min(j.get("first_key", key), key)
            if seconds is not None and (j["pickup"] is None or seconds > j["pickup"]):
                j["pickup"] = seconds

    def ranked(counts: dict) -> list[dict]:
        return sorted(
            ({"name": name, **c} for name, c in counts.items()),
            key=lambda c: (-c["failed"], -c["handoffs"], c["name"] is None, str(c["name"])),
        )

    worst = sorted(
        journeys.values(), key=lambda j: (-j["failed"], -len(j["reasons"]), -(j["pickup"] or 0), j["journey"])
    )
    return {
        "handoffs": len(rows),
        "failed": sum(1 for r in rows if r[3]),
        "reasons": [
            {"reason": r, "failed": n, "definition": reason_definition(r)}
            for r, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "pickup": pickup,
        "queues": ranked(queues),
        "agents": ranked(agents)[:10],
        "agents_total": len(agents),
        "worst": [{**j, "reasons": sorted(j["reasons"])} for j in worst[:5]],
    }


def group_by_reason(items: list[FailedHandoff]) -> list[tuple[str, list[FailedHandoff]]]:
    """Failed handoffs grouped by their first reason, the largest group first; in a group, those
    with the most reasons first, then by time."""
    groups: dict[str, list[FailedHandoff]] = {}
    for item in items:
        groups.setdefault(item.reasons[0] if item.reasons else "", []).append(item)
    return sorted(
        (
            (reason, sorted(found, key=lambda h: (-len(h.reasons), h.handoff_at, h.handoff_key)))
            for reason, found in groups.items()
        ),
        key=lambda g: (-len(g[1]), g[0]),
    )


def pair_slug(from_team: str, to_team: str) -> str:
    """A file name for a team pair that no team name can turn into a path or a collision."""
    readable = re.sub(r"[^a-z0-9]+", "-", f"{from_team}-to-{to_team}".lower()).strip("-")[:40]
    digest = hashlib.sha256(f"{from_team}\0{to_team}".encode()).hexdigest()[:10]
    return f"{readable or 'pair'}-{digest}"


def handoff_pairs(con, week: str, leave_out: str | None = None) -> list[tuple[str, str, int, int]]:
    """(from_team, to_team, handoffs, failed) for every pair with a handoff in the week, but those
    from or to the team `leave_out` (the unassigned state, reported apart)."""
    return con.execute(
        "SELECT from_team, to_team, handoffs, failed FROM weekly_handoff_pairs WHERE week = $week "
        "AND ($out IS NULL OR (from_team <> $out AND to_team <> $out)) "
        "ORDER BY failed DESC, handoffs DESC, from_team, to_team",
        {"week": week, "out": leave_out},
    ).fetchall()


def failed_handoffs(
    con,
    week: str,
    from_team: str | None,
    to_team: str | None,
    tz: str,
    with_timeline: bool = True,
    per_pair: int | None = None,
) -> list[FailedHandoff]:
    """The week's failed handoffs (of one pair, or of every pair when the teams are None), the
    first `per_pair` of each pair by time when given."""
    rows = con.execute(
        """
        SELECT h.handoff_key, h.kind, h.from_team, h.to_team, h.handoff_at, h.failure_reasons, h.journey_id
        FROM handoffs AS h
        WHERE h.week = $week AND h.failed
            AND ($from IS NULL OR h.from_team = $from) AND ($to IS NULL OR h.to_team = $to)
        QUALIFY $per_pair IS NULL
            OR row_number() OVER (PARTITION BY h.from_team, h.to_team ORDER BY h.handoff_at, h.handoff_key) <= $per_pair
        ORDER BY h.from_team, h.to_team, h.handoff_at, h.handoff_key
        """,
        {"week": week, "from": from_team, "to": to_team, "per_pair": per_pair},
    ).fetchall()
    journeys = sorted({r[6] for r in rows if r[6] is not None})
    timelines = journey_timelines(con, journeys, tz) if with_timeline and journeys else {}
    return [
        FailedHandoff(key, kind, src, dst, at.astimezone(_zone(tz)), list(reasons), journey, timelines.get(journey, []))
        for key, kind, src, dst, at, reasons, journey in rows
    ]


def journey_timelines(con, journey_ids: list[str], tz: str) -> dict[str, list[TimelineEntry]]:
    """Every call segment, case event and survey response of each journey, in time order."""
    contacts = con.execute(
        "SELECT journey_id, contact_type, contact_ref, contact_at FROM journey_contacts "
        "WHERE journey_id IN (SELECT unnest($ids::VARCHAR[]))",
        {"ids": journey_ids},
    ).fetchall()
    # A call's segments are offered from its contact time (its first segment) on, and a response is
    # at its contact time: from the earliest of them, the week-ordered staging tables skip older
    # row groups. Case events may precede their case's opening, so they have no bound.
    calls_from = min((at for _, kind, _, at in contacts if kind == "call" and at is not None), default=None)
    surveys_from = min((at for _, kind, _, at in contacts if kind == "survey" and at is not None), default=None)

    def since(column: str, bound) -> str:
        return "TRUE" if bound is None else f"{column} >= {sql_timestamp(bound)}"

    rows = con.execute(
        f"""
        WITH contacts AS (
            SELECT unnest($journeys::VARCHAR[]) AS journey_id, unnest($types::VARCHAR[]) AS contact_type,
                unnest($refs::VARCHAR[]) AS contact_ref
        )
        SELECT c.journey_id, s.offered_at AS at, 'call' AS kind, s.call_id || ' #' || s.segment_no AS ref, s.team,
            json_object('queue', s.queue, 'outcome', s.outcome, 'wait_seconds', round(s.wait_seconds)::BIGINT,
                'transfer_type', s.transfer_type, 'hold_seconds', s.hold_seconds)::VARCHAR AS facts
        FROM stg_calls AS s JOIN contacts AS c ON c.contact_type = 'call' AND c.contact_ref = s.call_id
        WHERE {since("s.offered_at", calls_from)}
        UNION ALL
        SELECT c.journey_id, e.event_at, 'case_event', e.case_id || ' #' || e.event_seq, e.team,
            json_object('event_type', e.event_type, 'status', e.status)::VARCHAR
        FROM stg_case_events AS e JOIN contacts AS c ON c.contact_type = 'case' AND c.contact_ref = e.case_id
        UNION ALL
        SELECT c.journey_id, r.responded_at, 'survey', r.response_id, NULL,
            json_object('nps', r.nps, 'csat', r.csat, 'ces', r.ces, 'resolved', r.resolved,
                'had_to_repeat', r.had_to_repeat, 'verbatim', r.verbatim, 'language', r.language)::VARCHAR
        FROM stg_survey_responses AS r
        JOIN contacts AS c ON c.contact_type = 'survey' AND c.contact_ref = r.response_id
        WHERE {since("r.responded_at", surveys_from)}
        """,
        {"journeys": [c[0] for c in contacts], "types": [c[1] for c in contacts], "refs": [c[2] for c in contacts]},
    ).fetchall()
    zone = _zone(tz)
    timelines: dict[str, list[TimelineEntry]] = {}
    for journey, at, kind, ref, team, facts in rows:
        if at is not None:
            facts = json.loads(facts)
            timelines.setdefault(journey, []).append(
                TimelineEntry(at.astimezone(zone), kind, ref, team, english_detail(kind, facts), facts)
            )
    for entries in timelines.values():
        entries.sort(key=lambda e: (e.at, e.kind, e.ref))
    return timelines


def english_detail(kind: str, facts: dict) -> str:
    detail = timeline_detail(kind, facts, "en")
    verbatim = facts.get("verbatim")
    return f"{detail}, “{verbatim}”" if verbatim else detail


def _zone(tz: str):
    from zoneinfo import ZoneInfo

    return ZoneInfo(tz)
