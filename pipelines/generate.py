"""Seeded sample-data generator: a simulated service chain and what it injected.

Customers bring needs (information, billing, technical). They call the front office
(accueil), wait, sometimes abandon and retry; agents transfer them to billing (facturation)
or technical support (technique), sometimes to the wrong team and back; unresolved customers
call again within days, and repeated failure escalates into a complaint case handled by
the complaints team (réclamations), which may reassign it, resolve it late, or see it reopened.
Some customers answer a survey days later, in French or English. Each week, the staff of each
team answer an internal pulse (anonymous): how well each other team served theirs, and their own
engagement. How well a team is served that week is drawn at random; with a `pulse_link`, the
customers of the journeys it touched are that much happier or unhappier (their NPS), so that the
pipeline's relationship between internal service and customer outcome has a known sign.

The exports are written in the canonical formats (see docs/data-contracts.md), one file per
source and ISO week, and, beside them, `ground_truth/`: what the simulation did, recorded
from its own state as it happened, never by running the pipeline's detection code.
Everything is cut at the end of the last generated week: an event after it is not exported,
and a failure reason or friction signal whose evidence falls after it is not in the truth.
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from pipelines.contracts import CONTRACTS
from pipelines.vocabulary import REASONS, VOCABULARY
from pipelines.weeks import parse_week, week_label

DEFAULT_START_WEEK = "2026-W40"  # spans the end of summer time (25 October 2026)
TZ = "Europe/Paris"
PARIS = ZoneInfo(TZ)
UTC = UTC

TEAMS = {
    "accueil": "Q_ACCUEIL",
    "facturation": "Q_FACTURATION",
    "technique": "Q_TECHNIQUE",
    "reclamations": "Q_RECLAMATIONS",
}
NEED_TEAM = {"info": "accueil", "billing": "facturation", "technical": "technique"}
CATEGORY = {"info": "information", "billing": "billing", "technical": "technical"}
# Thresholds the simulation is built around (the pipeline's defaults). Most generated values keep
# clear of each threshold; boundary cases (EDGE_SHARE of the sites where a threshold applies) sit
# one second below, at and one second above it, and contacts start on each side of midnight
# between Sunday and Monday, so that a threshold moved by one unit, a < turned into <=, or a week
# cut in UTC changes a figure the truth pins. The truth labels them from the simulation's own
# state with these thresholds, never with the pipeline's rules.
LONG_WAIT_S, LONG_HOLD_S, SERVICE_LEVEL_S, COMPLAINT_SLA_DAYS, PING_PONG = 120, 120, 20, 10, 3
ACK_SLA_HOURS, SEVERAL_ATTEMPTS, RESOLUTION_SLA_DAYS, JOURNEY_WINDOW_DAYS = 48, 2, 5, 7
PICKUP_SLA = {"default": (120, 24), "reclamations": (120, 48)}  # team -> (call seconds, case hours)
SHORT_ABANDON_S = 5
EDGE_SHARE = 0.08
CASE_EDGE_SHARE = 0.3  # complaints are few: a larger share gives every rule its three sides
EDGE_OFFSETS = (-1, 0, 1)  # seconds around a threshold

SOURCE_FILES = {  # landing sub-folder, file prefix, contract
    "calls": [("calls", "calls")],
    "complaints": [("cases", "cases"), ("case_events", "case_events")],
    "surveys": [("survey_responses", "survey_responses")],
    "pulse": [("internal_pulse", "internal_pulse")],
}
# Staff answering the internal pulse, per team: Complaints is smaller than the default
# pulse.min_group_size, so its engagement is never shown (docs/excellence.md, anonymity).
PULSE_STAFF = {"accueil": 9, "facturation": 7, "technique": 7, "reclamations": 4}
PULSE_ANSWER_SHARE = 0.85  # staff answering in a given week
PULSE_SERVED_SPREAD = 0.7  # a pulse score moves this much (1-5 scale) per standard deviation of service
DEMO_PULSE_LINK = 1.5  # `esprit generate` and the demo: NPS points (0-10) per standard deviation
# Continuity of the same agent (docs/metrics.md): a customer calling again within a journey reaches
# the agent who last handled the need this often when that agent's team answers the call (else an
# agent of the team at random, 1 in 12 the same by chance); an answered segment has no agent
# recorded this often. Drawn from a stream of their own: the rest of the simulation is unchanged.
SAME_AGENT_SHARE = 0.4
NO_AGENT_SHARE = 0.03

# Each stage's verbatims with the themes they speak to (pipelines/listening/taxonomy.yaml, with their
# polarity, labelled by docs/labelling-guide.md): a response's verbatim is chosen from the stage its
# journey met most, so its true themes follow from the simulation's state and are written to
# ground_truth/verbatim_themes.csv. The lists keep their lengths: the random stream depends on them.
VERBATIMS = {
    "fr": {
        "none": [
            ("Conseiller très aimable, problème réglé en un appel.", "courtesy+ competence+ resolution_time+"),
            ("Rapide et efficace, merci.", "resolution_time+"),
            ("Accueil chaleureux et réponse claire.", "courtesy+ information+"),
        ],
        "reach": [
            ("Impossible de joindre quelqu'un, j'ai raccroché plusieurs fois.", "waiting- repeating-"),
            ("Beaucoup trop d'attente au téléphone.", "waiting-"),
        ],
        "understand": [
            ("J'ai dû répéter mon problème à chaque transfert.", "passed_around- repeating-"),
            ("On m'a passé d'un service à l'autre sans me comprendre.", "passed_around-"),
        ],
        "resolve": [
            ("J'ai dû rappeler, le problème n'était pas réglé.", "repeating- competence-"),
            ("Toujours pas de solution après deux appels.", "repeating- competence- resolution_time-"),
        ],
        "recover": [
            ("Ma réclamation a traîné pendant des semaines.", "resolution_time-"),
            ("Réclamation rouverte, personne ne prend en charge mon dossier.", "passed_around-"),
        ],
    },
    "en": {
        "none": [
            ("Friendly agent, sorted in one call.", "courtesy+ resolution_time+"),
            ("Quick and helpful, thank you.", "courtesy+ resolution_time+"),
        ],
        "reach": [
            ("Could not get through, I hung up several times.", "waiting- repeating-"),
            ("Far too long a wait before anyone answered.", "waiting-"),
        ],
        "understand": [
            ("I had to repeat my problem at every transfer.", "passed_around- repeating-"),
            ("Passed from one team to another.", "passed_around-"),
        ],
        "resolve": [
            ("I had to call back, nothing was fixed.", "repeating- competence-"),
            ("Still no solution after two calls.", "repeating- competence- resolution_time-"),
        ],
        "recover": [
            ("My complaint dragged on for weeks.", "resolution_time-"),
            ("The complaint was reopened and nobody follows it up.", "passed_around-"),
        ],
    },
}


@dataclass
class Handoff:
    key: str
    kind: str  # transfer | reassignment | escalation
    from_team: str
    to_team: str
    at: datetime
    container: str  # call_id or case_id
    reasons: dict[str, datetime] = field(default_factory=dict)  # reason -> when it became evident

    def add(self, reason: str, evident_at: datetime) -> None:
        if reason not in REASONS:  # the truth speaks the pipeline's vocabulary (sql/vocabulary.yaml)
            raise ValueError(f"unknown handoff failure reason {reason!r}: expected one of {REASONS}")
        self.reasons.setdefault(reason, evident_at)


@dataclass
class Journey:
    journey_no: int
    customer_ref: str
    need: str
    started_at: datetime
    signals: list[tuple[str, str, datetime]] = field(default_factory=list)  # signal, stage, evident_at
    engaged_at: datetime | None = None  # first answered call or case: reached understand/resolve
    case_opened_at: datetime | None = None  # reached recover
    first_answer_resolved: bool | None = None
    followup_at: datetime | None = None  # first contact after the first answered call
    last_anchor_at: datetime | None = None
    moments: list[datetime] = field(default_factory=list)  # each call or case, each case's first resolution
    teams: set[str] = field(default_factory=set)  # teams that took a call segment or held a case
    # who handled the need: (when, exported from, contact id, segment or event no, agent, team) of
    # each answered segment and case event; and the calls the customer made again (id, start)
    handlings: list[tuple] = field(default_factory=list)
    returns: list[tuple[str, datetime]] = field(default_factory=list)


# each signal's stage, as the default friction_signals setting has it (sql/vocabulary.yaml)
STAGE_OF = {name: spec["stage"] for name, spec in VOCABULARY.signals.items()}


def _iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(PARIS).isoformat()


class Simulation:
    def __init__(self, seed: int, start_week: str, weeks: int, journeys_per_week: int, pulse_link: float = 0.0):
        self.rng = random.Random(seed)
        # boundary cases draw from their own stream: the rest of the simulation stays as it was
        self.edge = random.Random(seed + 1_000_003)
        # so does the internal pulse: how well each team is served each week, and its answers
        self.pulse = random.Random(seed + 2_000_003)
        self.pulse_link = pulse_link
        self.served = {(team, w): self.pulse.gauss(0, 1) for w in range(weeks) for team in TEAMS}
        self.staff = random.Random(seed + 3_000_003)  # which agent a returning caller reaches
        self._returning: dict[str, tuple | None] = {}  # a returning call -> the previous handling
        self.boundaries: list[dict] = []
        self.conditions: list[dict] = []  # rule cases: each condition made to hold alone and to fail alone
        self.call_signals: dict[str, set[str]] = {}  # a planned call -> the friction signals it raised
        self._call_started: dict[str, datetime] = {}  # a planned call -> when it started
        self._journey_of: dict[str, Journey] = {}  # a planned call -> its journey
        year, week = parse_week(start_week)
        self.start = datetime.combine(date.fromisocalendar(year, week, 1), time(0), PARIS).astimezone(UTC)
        end_local = datetime.combine(date.fromisocalendar(year, week, 1) + timedelta(weeks=weeks), time(0), PARIS)
        self.end = end_local.astimezone(UTC)
        self.weeks = weeks
        self.journeys_per_week = journeys_per_week
        self.rows: dict[str, list[dict]] = defaultdict(list)
        self.handoffs: list[Handoff] = []
        self.journeys: list[Journey] = []
        self.counters = defaultdict(int)
        self.customer_free_at: dict[str, datetime] = {}
        self.call_handoffs: dict[str, list[Handoff]] = {}
        self.transfers_of: dict[str, list[Handoff]] = defaultdict(list)  # customer -> call transfers

    # ---- identifiers -------------------------------------------------------------------
    def _next(self, kind: str, fmt: str) -> str:
        self.counters[kind] += 1
        return fmt.format(self.counters[kind])

    def _agent(self, team: str) -> str:
        return f"{team[:3].upper()}-{self.rng.randint(1, 12):02d}"

    def _signal(self, j: Journey, signal: str, at: datetime) -> None:
        j.signals.append((signal, STAGE_OF[signal], at))

    # ---- the world ----------------------------------------------------------------------
    def run(self) -> None:
        starts = []
        for w in range(self.weeks):
            for day in range(6):  # Monday to Saturday
                local_day = (self.start.astimezone(PARIS) + timedelta(weeks=w, days=day)).date()
                n = int(self.journeys_per_week / 6 * self.rng.uniform(0.8, 1.2))
                for _ in range(n):
                    minute = self.rng.randint(8 * 60, 17 * 60 + 30)
                    local = datetime.combine(local_day, time(minute // 60, minute % 60, self.rng.randint(0, 59)), PARIS)
                    starts.append(local.astimezone(UTC))
        # a few journeys a week start either side of the week boundary in local time: Sunday 23:30
        # (still the week, in UTC too) and Monday 00:30 (the next week, though Sunday in UTC)
        for w in range(self.weeks):
            monday = (self.start.astimezone(PARIS) + timedelta(weeks=w)).date()
            for day, at in ((monday - timedelta(days=1), time(23, 30)), (monday, time(0, 30))):
                local = datetime.combine(day, at, PARIS)
                if self.start <= local.astimezone(UTC):
                    starts += [local.astimezone(UTC)] * 2
        starts.sort()
        for started_at in starts:
            customer = self._pick_customer(started_at)
            need = self.rng.choices(["info", "billing", "technical"], weights=[3, 4, 3])[0]
            j = Journey(len(self.journeys) + 1, customer, need, started_at)
            self.journeys.append(j)
            if self.rng.random() < 0.04:
                self._direct_complaint(j)
            else:
                self._phone_journey(j)
            self._close(j)
        self._scenarios()

    def _close(self, j: Journey) -> None:
        # the need was still open (another contact, or a case not yet resolved) after the SLA
        late = [m for m in j.moments if m - j.started_at > timedelta(days=RESOLUTION_SLA_DAYS)]
        if late:
            self._signal(j, "resolution_beyond_sla", min(late))
        # A customer's next need comes well after this journey, so journeys never merge.
        self.customer_free_at[j.customer_ref] = (j.last_anchor_at or j.started_at) + timedelta(days=21)

    # ---- boundary scenarios ----------------------------------------------------------------
    def _scenarios(self) -> None:
        """A fixed set of customers, each built on purpose around one edge of a rule that spans
        contacts, one second below, at and above it (offset -1, 0, +1), from the first week's
        Tuesday; and transfers either side of local midnight between the first two weeks. No
        random draw: the random simulation before them is unchanged."""
        answered = [{"wait": 10, "hold": 0, "talk": 290}]  # over 300 s after the call starts
        transferred = [
            {"wait": 10, "hold": 0, "talk": 290, "next": "facturation"},
            {"wait": 10, "hold": 0, "talk": 200},
        ]
        resolved = [{"wait": 10, "hold": 0, "talk": 120, "resolved": True}]
        tuesday = self.start.astimezone(PARIS).date() + timedelta(days=1)
        window, sla = 86400 * JOURNEY_WINDOW_DAYS, 86400 * RESOLUTION_SLA_DAYS
        for n, offset in enumerate(EDGE_OFFSETS):
            at = datetime.combine(tuesday, time(10, 10 * n), PARIS).astimezone(UTC)
            # a call after a transfer: recontact while it starts after the transfer, up to the window's end
            handoff_at = at + timedelta(seconds=300)
            for rule, threshold, gap in (("recontact_after", 0, 0), ("recontact_window", window, window)):
                second = handoff_at + timedelta(seconds=gap + offset)
                key = self._planned([(at, transferred), (second, resolved)])[0]
                self._edge_case(rule, f"call:{key}:2", threshold, gap + offset, second)
            # calls a journey window apart: one journey up to it, two beyond it
            second = at + timedelta(seconds=window + offset)
            self._edge_case(
                "journey_window",
                self._planned([(at, answered), (second, resolved)])[1],
                window,
                window + offset,
                second,
            )
            # a later call of the journey around the resolution SLA from its start
            second = at + timedelta(seconds=sla + offset)
            self._edge_case(
                "resolution_sla", self._planned([(at, answered), (second, resolved)])[1], sla, sla + offset, second
            )
        # transfers 5 minutes after calls at 23:50 and 00:10 local time, between Sunday and Monday
        monday = tuesday + timedelta(days=6)
        for day, clock in ((monday - timedelta(days=1), time(23, 50)), (monday, time(0, 10))):
            at = datetime.combine(day, clock, PARIS).astimezone(UTC)
            self._planned([(at, transferred)])
        self._condition_scenarios(tuesday + timedelta(days=1))

    def _condition_scenarios(self, day: date) -> None:
        """Customers whose calls make each condition of a call-based handoff reason or friction
        signal hold alone (the rule fires) or fail alone (every other condition holds, the rule must
        not fire), from `day` 10:00 local, 10 minutes apart. Each case is labelled in
        `self.conditions` with what the simulation did (the reason on its handoff, the signal its
        call raised), never with the pipeline's rules."""

        def seg(wait: int, to: str | None = None, abandons: bool = False, resolved: bool = False, **more) -> dict:
            return {
                "wait": wait,
                "hold": 0,
                "talk": 120,
                "next": to,
                "abandons": abandons,
                "resolved": resolved,
                **more,
            }

        slots = iter(datetime.combine(day, time(10 + n // 6, 10 * (n % 6)), PARIS).astimezone(UTC) for n in range(12))
        later = timedelta(days=1)
        # accueil -> facturation -> accueil: two team changes, the second back to a team of the call
        (back,) = self._planned([(next(slots), [seg(10, "facturation"), seg(10, "accueil"), seg(10, resolved=True)])])
        # three team changes: ping-pong at its threshold
        (thrice,) = self._planned(
            [
                (
                    next(slots),
                    [seg(10, "facturation"), seg(10, "accueil"), seg(10, "facturation"), seg(10, resolved=True)],
                )
            ]
        )
        # facturation held the customer's previous call (its second segment), not this one, whose
        # third segment it receives; the second call repeats the first
        at = next(slots)
        first, again = self._planned(
            [
                (at, [seg(10, "facturation"), seg(10)]),
                (at + later, [seg(10, "technique"), seg(10, "facturation"), seg(10, resolved=True)]),
            ]
        )
        # transferred, then the caller hangs up in facturation's queue after more than long_wait_seconds
        (dropped,) = self._planned([(next(slots), [seg(10, "facturation"), seg(LONG_WAIT_S + 1, abandons=True)])])
        # transferred, then answered in facturation after more than long_wait_seconds
        (slow,) = self._planned([(next(slots), [seg(10, "facturation"), seg(LONG_WAIT_S + 1, resolved=True)])])
        # a first call picked up after more than long_wait_seconds and abandoned there (an answer
        # time, yet not answered), then a call answered
        at = next(slots)
        gave_up, retried = self._planned(
            [(at, [seg(LONG_WAIT_S + 1, abandons=True, picked_up=True)]), (at + later, [seg(10, resolved=True)])]
        )
        # a first call answered after more than long_wait_seconds, unresolved, then another call
        at = next(slots)
        waited, repeated = self._planned([(at, [seg(LONG_WAIT_S + 1)]), (at + later, [seg(10, resolved=True)])])
        # responses a day after: had to repeat (rating `back`), did not (`thrice`), and had to repeat
        # rating the first call of the customer whose second call (`again`) was transferred too
        for call_id, repeat in ((back, True), (thrice, False), (first, True)):
            self._planned_survey(call_id, self._call_started[call_id] + later, repeat)
        for rule, condition, ref in (
            ("bounce_back", "holds", f"call:{back}:3"),
            ("bounce_back", "team not held before in the call", f"call:{back}:2"),
            ("bounce_back", "held in another call of the customer", f"call:{again}:3"),
            ("ping_pong", "holds", f"call:{thrice}:2"),
            ("ping_pong", "one team change too few", f"call:{back}:2"),
            ("dropped", "holds", f"call:{dropped}:2"),
            ("dropped", "answered in the receiving queue", f"call:{slow}:2"),
            ("abandoned", "holds", gave_up),
            ("abandoned", "abandoned after a transfer, not in the first segment", dropped),
            ("long_wait", "holds", waited),
            ("long_wait", "not answered", gave_up),
            ("long_wait", "not the first segment", slow),
            ("several_attempts", "holds", retried),
            ("several_attempts", "an earlier call was answered", repeated),
            ("repeat_contact", "holds", repeated),
            ("repeat_contact", "no earlier call was answered", retried),
            ("repeat_info", "holds", f"call:{back}:2"),
            ("repeat_info", "the customer did not have to repeat", f"call:{thrice}:2"),
            ("repeat_info", "the response rates another call of the customer", f"call:{again}:3"),
        ):
            if rule in REASONS:
                (h,) = (h for h in self.handoffs if h.key == ref)
                fires, at = rule in h.reasons, h.at
            else:
                fires, at = rule in self.call_signals[ref], self._call_started[ref]
            self.conditions.append({"rule": rule, "condition": condition, "ref": ref, "fires": fires, "at": at})

    def _planned_survey(self, call_id: str, at: datetime, repeat: bool) -> None:
        """A response rating a planned call, resolved, saying whether the customer had to repeat."""
        j = self._journey_of[call_id]
        if repeat:
            self._signal(j, "repeat_info", at)
            for h in self.call_handoffs[call_id]:
                h.add("repeat_info", at)
        self.rows["survey_responses"].append(
            {
                "response_id": self._next("response", "R{:07d}"),
                "customer_ref": j.customer_ref,
                "interaction_type": "call",
                "interaction_ref": call_id,
                "responded_at": _iso(at),
                "nps": 8,
                "csat": 4,
                "ces": 5,
                "resolved": "true",
                "had_to_repeat": str(repeat).lower(),
                "verbatim": (verbatim := VERBATIMS["en"]["understand" if repeat else "none"][0])[0],
                "language": "en",
                "_themes": verbatim[1],
                "_at": at,
            }
        )

    def _planned(self, calls: list[tuple[datetime, list[dict]]]) -> list[str]:
        """A new customer's calls, each (start, plan of its segments), in order; a call more than
        the journey window after the customer's previous one starts a new journey. Returns the
        call ids. The random simulation is over: no journey of it draws this customer."""
        customer = self._next("customer", "C{:06d}")
        ids, j, previous, answered_before, attempts = [], None, None, False, 0
        for at, plan in calls:
            if previous is None or at - previous > timedelta(days=JOURNEY_WINDOW_DAYS):
                if j is not None:
                    self._close(j)
                j = Journey(len(self.journeys) + 1, customer, "billing", at)
                self.journeys.append(j)
                answered_before, attempts = False, 0
            if answered_before and j.followup_at is None:
                j.followup_at = at
            raised = len(j.signals)
            attempts += 1
            if attempts == SEVERAL_ATTEMPTS and not answered_before:
                self._signal(j, "several_attempts", at)
            call_id, answered, resolved, *_ = self._call(j, at, answered_before, plan)
            self.call_signals[call_id] = {s for s, _, _ in j.signals[raised:]}
            self._call_started[call_id] = at
            self._journey_of[call_id] = j
            if answered and not answered_before:
                j.first_answer_resolved = resolved
            answered_before = answered_before or answered
            ids.append(call_id)
            previous = at
        self._close(j)
        return ids

    def _edge_case(self, rule: str, ref: str, threshold: float, value: float, at: datetime) -> None:
        self.boundaries.append(
            {"rule": rule, "ref": ref, "threshold": threshold, "value": value, "offset": value - threshold, "at": at}
        )

    def _pick_customer(self, at: datetime) -> str:
        free = [c for c, t in self.customer_free_at.items() if t <= at]
        if free and self.rng.random() < 0.5:
            return self.rng.choice(sorted(free))
        ref = self._next("customer", "C{:06d}")
        self.customer_free_at[ref] = at
        return ref

    def _phone_journey(self, j: Journey) -> None:
        t = j.started_at
        attempts_unanswered = 0
        unresolved_answers = 0
        answered_before = False
        attempts = 0
        while True:
            attempts += 1
            if attempts == SEVERAL_ATTEMPTS and not answered_before:
                self._signal(j, "several_attempts", t)
            call_id, answered, resolved, ended_at, transfers, last_team = self._call(j, t, answered_before)
            if answered_before and j.followup_at is None:
                j.followup_at = t
            if not answered:
                attempts_unanswered += 1
                if attempts_unanswered < 3 and self.rng.random() < 0.85:
                    t = ended_at + timedelta(minutes=self.rng.randint(5, 120))
                    continue
                return  # gave up (never after an answered, unresolved call: see below)
            attempts_unanswered = 0
            if not answered_before:
                j.first_answer_resolved = resolved
            answered_before = True
            if resolved:
                self._maybe_survey(j, "call", call_id, ended_at, resolved, transfers, self.call_handoffs[call_id])
                return
            unresolved_answers += 1
            if unresolved_answers >= 3 or self.rng.random() < (0.5 if unresolved_answers == 2 else 0.08):
                self._escalate(j, call_id, last_team, ended_at)
                return
            t = self._business_hours(
                ended_at + timedelta(days=self.rng.randint(1, 3), minutes=self.rng.randint(0, 600))
            )

    def _at_edge(
        self,
        value: float,
        threshold: float,
        rule: str,
        ref: str,
        row_at: datetime,
        after: bool = False,
        share: float = EDGE_SHARE,
    ) -> float:
        """value, or (EDGE_SHARE of the time) the threshold moved by -1, 0 or +1 second, recorded
        in the truth's boundary cases with which side of the threshold it is on. row_at: when the
        row deciding it happens (plus the value, `after`), so that the truth keeps only exported ones."""
        if self.edge.random() >= share:
            return value
        offset = self.edge.choice(EDGE_OFFSETS)
        at = row_at + timedelta(seconds=threshold + offset) if after else row_at
        self.boundaries.append(
            {"rule": rule, "ref": ref, "threshold": threshold, "value": threshold + offset, "offset": offset, "at": at}
        )
        return threshold + offset

    def _business_hours(self, t: datetime) -> datetime:
        local = t.astimezone(PARIS)
        if local.hour >= 18 or local.hour < 8:
            local = datetime.combine(local.date() + timedelta(days=1 if local.hour >= 18 else 0), time(9, 30), PARIS)
        if local.weekday() == 6:
            local = datetime.combine(local.date() + timedelta(days=1), time(9, 30), PARIS)
        return local.astimezone(UTC)

    def _call(self, j: Journey, t: datetime, answered_before: bool, plan: list[dict] | None = None):
        """Simulate one call from `t`; plan: one dict per segment (wait, hold, talk, next team,
        resolved) for a call built on purpose, which draws nothing at random.

        Returns (call_id, answered, resolved, ended_at, transfers, last answered team)."""
        call_id = self._next("call", "CALL{:07d}")
        handoffs = self.call_handoffs[call_id] = []
        if j.moments:  # not the journey's first contact: the customer calls again
            j.returns.append((call_id, t))
            self._returning[call_id] = previous_handling(j.handlings, call_id, t)
        j.last_anchor_at = t
        j.moments.append(t)
        if answered_before:
            self._signal(j, "repeat_contact", t)
        # another call of the customer after a transfer, within the journey window: a recontact
        for h in self.transfers_of[j.customer_ref]:
            if h.at < t <= h.at + timedelta(days=JOURNEY_WINDOW_DAYS):
                h.add("recontact", t)
        seg_no, team, offered = 1, "accueil", t
        teams_held, transfers = ["accueil"], []
        target = NEED_TEAM[j.need]
        answered_team, resolved = None, False
        while True:
            step = plan[seg_no - 1] if plan else None
            if step is None:
                wait, abandons = self._wait(call_id, seg_no, team, offered)
            else:
                wait, abandons = step["wait"], step.get("abandons", False)
            if abandons:
                # a planned caller may hang up once picked up: an answer time, yet abandoned
                picked_up = offered + timedelta(seconds=wait) if step and step.get("picked_up") else None
                ended = offered + timedelta(seconds=wait) if picked_up is None else picked_up + timedelta(seconds=30)
                self._segment(call_id, seg_no, j, team, offered, picked_up, ended, "abandoned", "none", None, "")
                if seg_no == 1:
                    self._signal(j, "abandoned", offered)
                else:
                    handoffs[-1].add("dropped", offered)
                return call_id, answered_team is not None, False, ended, transfers, answered_team
            answered_at = offered + timedelta(seconds=wait)
            if seg_no > 1 and wait > PICKUP_SLA.get(team, PICKUP_SLA["default"])[0]:
                handoffs[-1].add("slow_pickup", offered)
            if answered_team is None and j.engaged_at is None:
                j.engaged_at = answered_at
            if seg_no == 1 and wait > LONG_WAIT_S:
                self._signal(j, "long_wait", offered)
            answered_team = team
            if step is None:
                long_hold = self.rng.random() < 0.1
                hold = self.rng.randint(150, 500) if long_hold else self.rng.choice([0, 0, self.rng.randint(5, 90)])
                hold = self._at_edge(hold, LONG_HOLD_S, "long_hold", f"{call_id}:{seg_no}", offered)
            else:
                hold = step["hold"]
            if hold > LONG_HOLD_S:
                self._signal(j, "long_hold", answered_at)
            talk = self.rng.randint(60, 600) if step is None else step["talk"]
            ended = answered_at + timedelta(seconds=hold + talk)
            if step is None:
                next_team = self._route(team, target, teams_held, len(transfers))
                if next_team is None:
                    specialist_ok = team == target and j.need != "info"
                    resolved = self.rng.random() < (
                        0.85 if team == target == "accueil" else 0.8 if specialist_ok else 0.0
                    )
                transfer_type = "none" if next_team is None else ("warm" if self.rng.random() < 0.6 else "cold")
            else:
                next_team, resolved = step.get("next"), step.get("resolved", False)
                transfer_type = "warm" if next_team else "none"
            wrap = "transferred" if next_team else ("resolved" if resolved else "unresolved")
            self._segment(call_id, seg_no, j, team, offered, answered_at, ended, "answered", transfer_type, hold, wrap)
            if next_team is None:
                return call_id, True, resolved, ended, transfers, answered_team
            h = Handoff(f"call:{call_id}:{seg_no + 1}", "transfer", team, next_team, ended, call_id)
            if next_team in teams_held:
                h.add("bounce_back", ended)
            self.handoffs.append(h)
            handoffs.append(h)
            self.transfers_of[j.customer_ref].append(h)
            transfers.append(transfer_type)
            self._signal(j, "transferred", ended)
            teams_held.append(next_team)
            if len(handoffs) == PING_PONG:
                for other in handoffs:
                    other.add("ping_pong", ended)
            elif len(handoffs) > PING_PONG:
                h.add("ping_pong", ended)
            seg_no, team, offered = seg_no + 1, next_team, ended

    def _wait(self, call_id: str, seg_no: int, team: str, offered: datetime) -> tuple[float, bool]:
        """A segment's wait and whether the caller abandons, drawn at random (boundary cases
        included)."""
        long_wait = self.rng.random() < 0.15
        wait = (
            self.rng.randint(150, 600)
            if long_wait
            else self.rng.choice([self.rng.randint(3, SERVICE_LEVEL_S - 2), self.rng.randint(SERVICE_LEVEL_S + 2, 100)])
        )
        abandons = self.rng.random() < (0.12 if seg_no == 1 else 0.08)
        if abandons:
            if seg_no == 1:
                wait = self._at_edge(wait, SHORT_ABANDON_S, "short_abandon", call_id, offered)
        elif seg_no == 1:
            rule = self.edge.choice(("service_level", "long_wait"))
            threshold = SERVICE_LEVEL_S if rule == "service_level" else LONG_WAIT_S
            wait = self._at_edge(wait, threshold, rule, call_id, offered)
        else:
            wait = self._at_edge(
                wait,
                PICKUP_SLA.get(team, PICKUP_SLA["default"])[0],
                "slow_pickup",
                f"call:{call_id}:{seg_no}",
                offered,
            )
        return wait, abandons

    def _route(self, team: str, target: str, teams_held: list[str], n_transfers: int) -> str | None:
        """The team this team passes the call to, or None when it handles it itself."""
        if n_transfers >= 4:
            return None
        if team == "accueil":
            if target == "accueil":
                return None
            if len(teams_held) == 1:
                return target if self.rng.random() < 0.9 else None
            # back from a specialist: try the same one again, or the other one
            return target if self.rng.random() < 0.5 else ("technique" if target == "facturation" else "facturation")
        if team != target:
            return "accueil" if self.rng.random() < 0.7 else None  # wrong team: back to the front office
        return "accueil" if self.rng.random() < 0.08 else None

    def _segment(self, call_id, seg_no, j, team, offered, answered, ended, outcome, transfer_type, hold, wrap):
        j.teams.add(team)
        agent = self._agent(team) if answered else ""
        if outcome == "answered":
            previous = self._returning.pop(call_id, None)  # the call's first answered segment only
            if previous and previous[5] == team and previous[4] and self.staff.random() < SAME_AGENT_SHARE:
                agent = previous[4]
            if self.staff.random() < NO_AGENT_SHARE:
                agent = ""
            j.handlings.append((answered, offered, call_id, seg_no, agent, team))
        self.rows["calls"].append(
            {
                "call_id": call_id,
                "segment_no": seg_no,
                "customer_ref": j.customer_ref,
                "queue": TEAMS[team],
                "team": team,
                "agent_id": agent,
                "offered_at": _iso(offered),
                "answered_at": _iso(answered),
                "ended_at": _iso(ended),
                "outcome": outcome,
                "transfer_type": transfer_type,
                "hold_seconds": "" if hold is None else hold,
                "wrap_code": wrap,
                "_at": offered,
            }
        )

    # ---- complaints ---------------------------------------------------------------------
    def _direct_complaint(self, j: Journey) -> None:
        channel = self.rng.choice(["email", "web", "letter"])
        self._case(j, j.started_at, channel, origin=None, from_team=None)

    def _escalate(self, j: Journey, call_id: str, last_team: str, call_end: datetime) -> None:
        opened = call_end + timedelta(minutes=self.rng.randint(5, 120))
        self._case(j, opened, "phone", origin=call_id, from_team=last_team)

    def _case(self, j: Journey, opened: datetime, channel: str, origin: str | None, from_team: str | None) -> None:
        case_id = self._next("case", "CASE{:06d}")
        if origin is None:
            j.last_anchor_at = opened
        if j.engaged_at is None:
            j.engaged_at = opened
        if j.followup_at is None and j.first_answer_resolved is not None:
            j.followup_at = opened
        j.case_opened_at = opened
        j.moments.append(opened)
        if origin is not None:  # an escalation into a complaint; a direct complaint is not one
            self._signal(j, "complaint_opened", opened)
        self.rows["cases"].append(
            {
                "case_id": case_id,
                "customer_ref": j.customer_ref,
                "opened_at": _iso(opened),
                "channel": channel,
                "category": CATEGORY[j.need],
                "origin_ref": origin or "",
                "priority": self.rng.choice(["low", "normal", "normal", "high"]),
                "_at": opened,
            }
        )
        events: list[tuple[str, datetime, str, str]] = []  # type, at, team, status
        handoffs: list[Handoff] = []
        if from_team is not None:
            h = Handoff(f"escalation:{case_id}", "escalation", from_team, "reclamations", opened, case_id)
            handoffs.append(h)
        events.append(("opened", opened, "reclamations", "open"))
        t, team, held = opened, "reclamations", ["reclamations"]
        specialist = NEED_TEAM[j.need] if j.need != "info" else "facturation"
        reassignments = 0

        def reassign(to: str) -> None:
            nonlocal t, team, reassignments
            t = t + timedelta(hours=self.rng.randint(2, 60))
            h = Handoff(f"case:{case_id}:{len(events) + 1}", "reassignment", team, to, t, case_id)
            if to in held:
                h.add("bounce_back", t)
            events.append(("reassigned", t, to, "in_progress"))
            handoffs.append(h)
            held.append(to)
            team = to
            reassignments += 1
            case_handoffs = [x for x in handoffs if x.kind == "reassignment"]
            if reassignments == PING_PONG:
                for x in case_handoffs:
                    x.add("ping_pong", t)
            elif reassignments > PING_PONG:
                h.add("ping_pong", t)
            # the receiving team takes the case in hand, sometimes later than its pickup SLA
            sla_hours = PICKUP_SLA.get(to, PICKUP_SLA["default"])[1]
            slow = self.rng.random() < 0.2
            pickup = timedelta(
                hours=self.rng.randint(sla_hours + 2, sla_hours + 48) if slow else self.rng.randint(1, sla_hours - 2)
            )
            pickup = timedelta(
                seconds=self._at_edge(
                    pickup.total_seconds(),
                    3600 * sla_hours,
                    "slow_pickup",
                    f"case:{case_id}:{len(events)}",
                    t,
                    after=True,
                    share=CASE_EDGE_SHARE,
                )
            )
            slow = pickup > timedelta(hours=sla_hours)
            t = t + pickup
            events.append(("assigned", t, to, "in_progress"))
            if slow:
                h.add("slow_pickup", t)

        late_ack = self.rng.random() < 0.15
        t = t + timedelta(
            hours=self.rng.randint(ACK_SLA_HOURS + 2, ACK_SLA_HOURS + 72)
            if late_ack
            else self.rng.randint(1, ACK_SLA_HOURS - 2)
        )
        t = opened + timedelta(
            seconds=self._at_edge(
                (t - opened).total_seconds(),
                3600 * ACK_SLA_HOURS,
                "complaint_acknowledged_beyond_sla",
                case_id,
                opened,
                after=True,
                share=CASE_EDGE_SHARE,
            )
        )
        late_ack = t - opened > timedelta(hours=ACK_SLA_HOURS)
        events.append(("assigned", t, "reclamations", "in_progress"))
        if late_ack:
            self._signal(j, "complaint_acknowledged_beyond_sla", t)
        if self.rng.random() < 0.5:
            reassign(specialist)
            if self.rng.random() < 0.25:
                reassign("reclamations")
                if self.rng.random() < 0.5:
                    reassign(specialist)
        late = self.rng.random() < 0.3
        days = self.rng.uniform(COMPLAINT_SLA_DAYS + 1, 25) if late else self.rng.uniform(1, COMPLAINT_SLA_DAYS - 1)
        resolved_at = max(opened + timedelta(days=days), t + timedelta(hours=1))
        at_sla = (resolved_at - opened).total_seconds()
        if opened + timedelta(seconds=86400 * COMPLAINT_SLA_DAYS - 1) >= t + timedelta(hours=1):
            at_sla = self._at_edge(
                at_sla,
                86400 * COMPLAINT_SLA_DAYS,
                "complaint_resolved_beyond_sla",
                case_id,
                opened,
                after=True,
                share=CASE_EDGE_SHARE,
            )
        resolved_at = opened + timedelta(seconds=at_sla)
        late = resolved_at - opened > timedelta(days=COMPLAINT_SLA_DAYS)
        events.append(("resolved", resolved_at, team, "resolved"))
        j.moments.append(resolved_at)
        if late:
            self._signal(j, "complaint_resolved_beyond_sla", resolved_at)
        t = resolved_at
        if self.rng.random() < 0.15:
            t = t + timedelta(days=self.rng.uniform(1, 5))
            events.append(("reopened", t, team, "open"))
            self._signal(j, "case_reopened", t)
            # the last handoff that gave the case to the team that resolved it
            into_team = [h for h in handoffs if h.at <= resolved_at and h.to_team == team]
            if into_team:
                into_team[-1].add("reopened", t)
            t = t + timedelta(days=self.rng.uniform(1, 7))
            events.append(("resolved", t, team, "resolved"))
        t = t + timedelta(days=self.rng.uniform(1, 3))
        events.append(("closed", t, team, "closed"))
        j.teams.update(eteam for _, _, eteam, _ in events)
        for seq, (etype, at, eteam, status) in enumerate(events, start=1):
            agent = self._agent(eteam)
            j.handlings.append((at, at, case_id, seq, agent, eteam))
            self.rows["case_events"].append(
                {
                    "case_id": case_id,
                    "event_seq": seq,
                    "event_type": etype,
                    "event_at": _iso(at),
                    "team": eteam,
                    "agent_id": agent,
                    "status": status,
                    "_at": at,
                }
            )
        self.handoffs.extend(handoffs)
        self._maybe_survey(
            j, "case", case_id, resolved_at, self.rng.random() < 0.85, ["reassigned"] * len(handoffs), handoffs
        )

    # ---- surveys ------------------------------------------------------------------------
    def _maybe_survey(self, j, kind, ref, after, resolved, transfers, handoffs) -> None:
        if self.rng.random() > 0.4:
            return
        responded = after + timedelta(days=self.rng.randint(0, 5), hours=self.rng.randint(1, 20))
        if kind == "call":
            repeat = self.rng.random() < (0.7 if "cold" in transfers else 0.2 if "warm" in transfers else 0.03)
        else:
            repeat = self.rng.random() < (0.5 if len(transfers) > 1 else 0.05)
        # A few call ratings carry no reference; the pipeline then places them in the customer's
        # journey by time, but cannot tell which call's handoffs they speak of.
        keep_ref = kind == "case" or self.rng.random() > 0.05
        pain = sum(1 for s in j.signals if s[2] <= responded) + (0 if resolved else 2) + (1 if repeat else 0)
        nps = max(0, min(10, round(self.rng.gauss(9.2 - 1.3 * pain + self.pulse_link * self._served_mean(j), 1.4))))
        csat = max(1, min(5, round(self.rng.gauss(4.6 - 0.6 * pain, 0.7))))
        ces = max(1, min(7, round(self.rng.gauss(6.3 - 0.9 * pain, 1.0))))
        if repeat:
            self._signal(j, "repeat_info", responded)
            for h in handoffs if keep_ref else []:
                h.add("repeat_info", responded)
        if not resolved:
            self._signal(j, "not_resolved", responded)
        lang = "fr" if self.rng.random() < 0.7 else "en"
        stages = [s[1] for s in j.signals if s[2] <= responded]
        topic = max(set(stages), key=stages.count) if stages else "none"
        self.rows["survey_responses"].append(
            {
                "response_id": self._next("response", "R{:07d}"),
                "customer_ref": j.customer_ref,
                "interaction_type": kind if keep_ref else "",
                "interaction_ref": ref if keep_ref else "",
                "responded_at": _iso(responded),
                "nps": nps,
                "csat": csat,
                "ces": ces,
                "resolved": str(bool(resolved)).lower(),
                "had_to_repeat": str(bool(repeat)).lower(),
                "verbatim": (verbatim := self.rng.choice(VERBATIMS[lang][topic]))[0],
                "language": lang,
                "_themes": verbatim[1],
                "_at": responded,
            }
        )

    def _served_mean(self, j: Journey) -> float:
        """How well the teams of a journey were served by the others in the week it started."""
        w = (j.started_at - self.start) // timedelta(weeks=1)
        served = [self.served[(t, w)] for t in sorted(j.teams) if (t, w) in self.served]
        return sum(served) / len(served) if served else 0.0

    # ---- internal pulse -------------------------------------------------------------------
    def run_pulse(self) -> None:
        """Each week, each team's staff answer on Thursday or Friday: one row per other team rated
        (the scores move with how well the other teams served the rater's team that week), one on
        their engagement."""
        for w in range(self.weeks):
            monday = self.start.astimezone(PARIS).date() + timedelta(weeks=w)
            for rater, staff in PULSE_STAFF.items():
                for _ in range(staff):
                    if self.pulse.random() > PULSE_ANSWER_SHARE:
                        continue
                    day = monday + timedelta(days=self.pulse.choice((3, 4)))
                    at = datetime.combine(day, time(self.pulse.randint(9, 17), self.pulse.randint(0, 59)), PARIS)
                    for rated in TEAMS:
                        if rated == rater:
                            row = {"engagement": self._score(3.6)}
                        else:
                            level = 3.4 + PULSE_SERVED_SPREAD * self.served[(rater, w)]
                            row = {k: self._score(level) for k in ("reactivity", "handoff_clarity", "helpfulness")}
                        self.rows["internal_pulse"].append(
                            {
                                "answer_id": self._next("pulse", "P{:07d}"),
                                "answered_at": _iso(at),
                                "rater_team": rater,
                                "rated_team": "" if rated == rater else rated,
                                **row,
                                "_at": at.astimezone(UTC),
                            }
                        )

    def _score(self, level: float) -> int:
        return max(1, min(5, round(self.pulse.gauss(level, 0.8))))


def previous_handling(handlings: list[tuple], contact: str, at: datetime) -> tuple | None:
    """The last handling of another contact strictly before `at` (at one instant, the later
    contact id, then the later segment or event), or None."""
    before = [h for h in handlings if h[0] < at and h[2] != contact]
    return max(before, key=lambda h: (h[0], h[2], h[3])) if before else None


def _week(moment: datetime) -> str:
    return week_label(moment, TZ)


def generate(
    out: Path,
    weeks: int = 8,
    seed: int = 7,
    start_week: str = DEFAULT_START_WEEK,
    journeys_per_week: int = 300,
    pulse_link: float = 0.0,
) -> dict:
    """Write the landing files and ground truth under `out`; return a summary. `pulse_link`: NPS
    points (0-10 scale) a customer's answer moves by per standard deviation of how well the teams
    of their journey were served by the others that week (0: no link)."""
    sim = Simulation(seed, start_week, weeks, journeys_per_week, pulse_link)
    sim.run()
    sim.run_pulse()
    out = Path(out)
    files = 0
    for source, outputs in SOURCE_FILES.items():
        for table, prefix in outputs:
            by_week: dict[str, list[dict]] = defaultdict(list)
            for row in sim.rows[table]:
                if row["_at"] < sim.end:
                    by_week[_week(row["_at"])].append(row)
            folder = out / source
            folder.mkdir(parents=True, exist_ok=True)
            columns = CONTRACTS[table].column_names
            for wk, rows in sorted(by_week.items()):
                with open(folder / f"{prefix}_{wk}.csv", "w", newline="", encoding="utf-8") as fh:
                    writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
                    writer.writeheader()
                    writer.writerows(rows)
                files += 1
    truth = write_ground_truth(sim, out / "ground_truth")
    return {"files": files, "out": str(out), **truth}


def write_ground_truth(sim: Simulation, folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    end = sim.end
    handoffs = [h for h in sim.handoffs if h.at < end]
    with open(folder / "handoffs.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["handoff_key", "kind", "container", "from_team", "to_team", "handoff_at", "week", "failed", "reasons"]
        )
        for h in sorted(handoffs, key=lambda x: x.key):
            reasons = sorted(r for r, at in h.reasons.items() if at < end)
            w.writerow(
                [
                    h.key,
                    h.kind,
                    h.container,
                    h.from_team,
                    h.to_team,
                    _iso(h.at),
                    _week(h.at),
                    str(bool(reasons)).lower(),
                    ";".join(reasons),
                ]
            )
    journeys = [j for j in sim.journeys if j.started_at < end]
    with open(folder / "journeys.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "journey_no",
                "customer_ref",
                "started_at",
                "week",
                "reached",
                "friction_stages",
                "signals",
                "first_contact_resolved",
                "first_contact_resolved_final",
            ]
        )
        for j in journeys:
            reached = ["reach"]
            if j.engaged_at is not None and j.engaged_at < end:
                reached += ["understand", "resolve"]
            if j.case_opened_at is not None and j.case_opened_at < end:
                reached.append("recover")
            signals = sorted(f"{s}@{_week(at)}" for s, _, at in j.signals if at < end)
            stages = sorted({stage for _, stage, at in j.signals if at < end})
            fcr = fcr_final = ""
            if j.first_answer_resolved is not None:
                # As observable in the export: a follow-up after the cut-off cannot be seen yet.
                followed = j.followup_at is not None and j.followup_at < end
                fcr = str(not followed).lower()
                # As the simulation ran it to its end, follow-ups after the cut-off included: what
                # the figure is once final.
                fcr_final = str(j.followup_at is None).lower()
            w.writerow(
                [
                    j.journey_no,
                    j.customer_ref,
                    _iso(j.started_at),
                    _week(j.started_at),
                    ";".join(reached),
                    ";".join(stages),
                    ";".join(signals),
                    fcr,
                    fcr_final,
                ]
            )
    with open(folder / "continuity.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["call_id", "week", "handled", "agent_recorded", "same_agent", "team_recorded", "same_team"])
        for j in journeys:
            exported = [h for h in j.handlings if h[1] < end]
            for call_id, at in (r for r in j.returns if r[1] < end):
                previous = previous_handling(exported, call_id, at)
                own = [h for h in exported if h[2] == call_id]
                if previous is None:  # nothing handled before: the journey's first handled contact
                    continue
                reached = min(own, key=lambda h: (h[0], h[3])) if own else None
                agents = reached is not None and bool(reached[4] and previous[4])
                w.writerow(
                    [
                        call_id,
                        _week(at),
                        str(reached is not None).lower(),
                        str(agents).lower(),
                        str(agents and reached[4] == previous[4]).lower(),
                        str(reached is not None).lower(),
                        str(reached is not None and reached[5] == previous[5]).lower(),
                    ]
                )
    with open(folder / "verbatim_themes.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["response_id", "language", "themes"])
        for row in sim.rows["survey_responses"]:
            if row["_at"] < end:
                w.writerow([row["response_id"], row["language"], row["_themes"]])
    with open(folder / "boundaries.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["rule", "ref", "threshold_seconds", "value_seconds", "offset_seconds", "beyond"])
        for b in (b for b in sim.boundaries if b["at"] < end):
            # a short abandon is one under the threshold: at it, the call counts in the service level
            past = b["value"] >= b["threshold"] if b["rule"] == "short_abandon" else b["value"] > b["threshold"]
            w.writerow([b["rule"], b["ref"], b["threshold"], b["value"], b["offset"], str(past).lower()])
    with open(folder / "conditions.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["rule", "condition", "ref", "fires"])
        for c in (c for c in sim.conditions if c["at"] < end):
            w.writerow([c["rule"], c["condition"], c["ref"], str(c["fires"]).lower()])
    with open(folder / "pulse_served.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["team", "week", "served"])
        for (team, n), served in sorted(sim.served.items(), key=lambda x: (x[0][1], x[0][0])):
            w.writerow([team, _week(sim.start + timedelta(weeks=n, days=3)), f"{served:.6f}"])
    summary = {
        "start": _iso(sim.start),
        "end": _iso(end),
        "timezone": TZ,
        "weeks": sorted({_week(j.started_at) for j in journeys}),
        "journeys": len(journeys),
        "handoffs": len(handoffs),
        "failed_handoffs": sum(1 for h in handoffs if any(at < end for at in h.reasons.values())),
        "pulse_link": sim.pulse_link,
        "thresholds": {
            "long_wait_seconds": LONG_WAIT_S,
            "long_hold_seconds": LONG_HOLD_S,
            "service_level_seconds": SERVICE_LEVEL_S,
            "complaint_sla_days": COMPLAINT_SLA_DAYS,
            "short_abandon_seconds": SHORT_ABANDON_S,
            "ping_pong_min_changes": PING_PONG,
            "complaint_ack_sla_hours": ACK_SLA_HOURS,
            "several_attempts_min_calls": SEVERAL_ATTEMPTS,
            "resolution_sla_days": RESOLUTION_SLA_DAYS,
            "pickup_sla": {k: {"call_seconds": c, "case_hours": h} for k, (c, h) in PICKUP_SLA.items()},
        },
    }
    (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (folder / "README.md").write_text(GROUND_TRUTH_README.format(reasons=", ".join(REASONS)), encoding="utf-8")
    return summary


GROUND_TRUTH_README = """# Ground truth of a generated data set

Written by `esprit generate` from the simulation's own state, not by the pipeline.
Everything is as observable at the end of the last generated week (`summary.json`: end).

- `handoffs.csv`: every change of responsible team the simulation made: call transfers
  (`call:<call_id>:<segment receiving the work>`), case reassignments (`case:<case_id>:<event_seq>`)
  and escalations of a call into a complaint (`escalation:<case_id>`), with the failure reasons
  the simulation caused ({reasons}).
- `journeys.csv`: one row per customer journey, the week it started, the stages it reached,
  the stages where it met friction and each friction signal with the week it became evident,
  and whether its first answered call resolved the need (empty when no call was answered):
  `first_contact_resolved` as observable at the end, `first_contact_resolved_final` once every
  follow-up the simulation made, after the end included, is counted.
- `boundaries.csv`: the boundary cases the simulation placed on purpose, one second below, at and
  one second above a threshold (`rule`: service_level, long_wait, short_abandon, long_hold,
  slow_pickup of a call transfer or a case reassignment, complaint_acknowledged_beyond_sla,
  complaint_resolved_beyond_sla; and, built on purpose for a few customers: recontact_after and
  recontact_window, a call after a transfer, journey_window, a call after the customer's previous
  one, resolution_sla, a call after its journey's start), the row they are in (`ref`: a call,
  `call:segment`, a handoff key or a case), and `beyond`: whether the value is past the threshold
  (strictly greater; for short_abandon, not under it: an abandon after exactly 5 s counts in the
  service level). Journeys also start at Sunday 23:30 and Monday 00:30 local time, either side of
  the week boundary, and calls are transferred at Sunday 23:55 and Monday 00:15.
- `conditions.csv`: calls built on purpose so that each condition of a call-based rule holds
  alone or fails alone (`condition`: `holds` when every condition holds, else the one made false),
  the handoff key or call it is about (`ref`), and whether the rule fired in the simulation
  (`fires`): bounce_back, ping_pong, dropped and repeat_info (handoffs), abandoned, long_wait,
  several_attempts and repeat_contact (friction signals, `ref` the call that raises them).
- `continuity.csv`: each call a customer made again within a journey once something of it had been
  handled (a follow-up, `docs/metrics.md`), the week it started, and, from the agents and teams the
  simulation gave each answered segment and case event: whether an agent answered it (`handled`),
  whether both it and the previous handling (the last before the call) have an agent recorded, and
  whether the agent, and the team, are the same. A returning caller reaches the previous agent
  when that agent's team answers in a known share of calls (`SAME_AGENT_SHARE`); a few answered
  segments have no agent recorded (`NO_AGENT_SHARE`).
- `pulse_served.csv`: how well each team was served by the others each week, as the simulation
  drew it (standard normal): the internal pulse's scores of the team move with it, and, with
  `pulse_link` (`summary.json`) other than 0, so does the NPS of the customers whose journeys
  the team touched (`pulse_link` NPS points per unit, averaged over the journey's teams).
"""
