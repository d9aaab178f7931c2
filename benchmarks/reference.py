"""A pandas-only reference of the friction and handoff metrics, for the benchmark only.

It reads the landing CSV files and recomputes, with pandas and no SQL, what `sql/` computes
for the weekly friction and handoff tables: staging, journey stitching, handoffs with their
failure reasons, friction signals, then weekly_stage_friction, weekly_handoff_pairs and
weekly_handoff_reasons. The benchmark times it against the SQL pipeline on the same files and
checks that both give the same figures (`compare`). It is what a team would write without
DuckDB: vectorised pandas (no Python loop over rows), so that the comparison is fair.

Differences it does not reproduce: ingest's quarantine and key deduplication (benchmark data
has neither bad rows nor repeated keys), and pseudonymisation (it does not change a count).
Durations are elapsed time, as in the SQL run on a UTC session.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipelines.vocabulary import REASONS  # each needs its column below: a reason left out fails by name

TIMES = {
    "calls": ("offered_at", "answered_at", "ended_at"),
    "cases": ("opened_at", "resolved_at"),
    "case_events": ("event_at",),
    "survey_responses": ("responded_at",),
}
INTS = {
    "calls": ("segment_no", "hold_seconds"),
    "case_events": ("event_seq",),
    "survey_responses": ("nps", "csat", "ces"),
}
BOOLS = {"survey_responses": ("resolved", "had_to_repeat")}


def read_tables(files: dict[str, list[Path]]) -> dict[str, pd.DataFrame]:
    """Each table's CSV files, typed as the contracts type them."""
    tables = {}
    for table, paths in files.items():
        frame = (
            pd.concat(
                [pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""]) for p in paths], ignore_index=True
            )
            if paths
            else pd.DataFrame()
        )
        for col in TIMES.get(table, ()):
            frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601")
        for col in INTS.get(table, ()):
            frame[col] = pd.to_numeric(frame[col]).astype("Int64")
        for col in BOOLS.get(table, ()):
            frame[col] = frame[col].str.lower().map({"true": True, "false": False}).astype("boolean")
        tables[table] = frame
    return tables


def iso_week(moments: pd.Series, tz: str) -> pd.Series:
    cal = moments.dt.tz_convert(tz).dt.isocalendar()
    week = cal["year"].astype(str) + "-W" + cal["week"].astype(str).str.zfill(2)
    return week.where(moments.notna())


def seconds(delta: pd.Series) -> pd.Series:
    return delta.dt.total_seconds()


def _span_cuts(at: pd.Series, run: pd.Series, span: pd.Timedelta) -> pd.Series:
    """The anchors (in order) that open a journey because they come more than `span` after the
    first anchor of their journey, within a run with no gap over the window; counted greedily."""
    cuts = pd.Series(False, index=at.index)
    by_run = at.groupby(run)
    long_run = (by_run.transform("max") - by_run.transform("min")) > span
    for _, times in at[long_run].groupby(run[long_run]):
        start = None
        for i, moment in times.items():
            if start is not None and moment - start > span:
                cuts[i] = True
                start = moment
            start = moment if start is None else start
    return cuts


def compute(tables: dict[str, pd.DataFrame], metrics: dict, signals: dict, stages: dict, tz: str) -> dict:
    """The weekly friction and handoff tables from typed source tables."""
    window = pd.Timedelta(days=metrics["journey_window_days"])

    # ---- staging -------------------------------------------------------------------------
    calls = tables["calls"].sort_values(["call_id", "segment_no"], ignore_index=True)
    calls["hold_seconds"] = calls["hold_seconds"].fillna(0)
    by_call = calls.groupby("call_id", sort=False)
    calls["previous_team"] = by_call["team"].shift(1)
    calls["wait_seconds"] = seconds(calls["answered_at"] - calls["offered_at"])
    answered_seg = calls["outcome"] == "answered"
    outcomes = by_call.agg(
        customer_ref=("customer_ref", "first"),
        started_at=("offered_at", "min"),
        first_outcome=("outcome", "first"),
        first_wait_seconds=("wait_seconds", "first"),
    )
    outcomes["answered"] = answered_seg.groupby(calls["call_id"], sort=False).any()
    outcomes["last_answered_team"] = calls[answered_seg].groupby("call_id", sort=False)["team"].last()
    outcomes = outcomes.reset_index()

    events = tables["case_events"].sort_values(["case_id", "event_seq"], ignore_index=True)
    by_case = events.groupby("case_id", sort=False)
    events["previous_team"] = by_case["team"].shift(1)
    events["next_event_at"] = by_case["event_at"].shift(-1)
    firsts = by_case.agg(opened_by_team=("team", "first"))
    firsts["first_resolved_at"] = events[events["event_type"] == "resolved"].groupby("case_id")["event_at"].min()
    ack = events["event_type"].isin(metrics["complaint_ack_events"])
    firsts["acknowledged_at"] = events[ack].groupby("case_id")["event_at"].min()
    cases = tables["cases"].merge(firsts.reset_index(), on="case_id", how="left")

    surveys = tables["survey_responses"]

    # ---- journey_contacts ----------------------------------------------------------------
    cases["origin_call_id"] = cases["origin_ref"].where(cases["origin_ref"].isin(outcomes["call_id"]))
    anchors = pd.concat(
        [
            pd.DataFrame(
                {
                    "contact_type": "call",
                    "contact_ref": outcomes["call_id"],
                    "customer_ref": outcomes["customer_ref"],
                    "contact_at": outcomes["started_at"],
                }
            ),
            pd.DataFrame(
                {
                    "contact_type": "case",
                    "contact_ref": cases["case_id"],
                    "customer_ref": cases["customer_ref"],
                    "contact_at": cases["opened_at"],
                }
            )[cases["origin_call_id"].isna().to_numpy()],
        ],
        ignore_index=True,
    ).sort_values(["customer_ref", "contact_at", "contact_ref"], ignore_index=True)
    same_customer = anchors["customer_ref"].eq(anchors["customer_ref"].shift(1))
    gap = anchors["contact_at"] - anchors["contact_at"].shift(1)
    gap_starts = ~same_customer | (gap > window)
    span = metrics.get("journey_max_span_days")
    span_starts = (
        _span_cuts(anchors["contact_at"], gap_starts.cumsum(), pd.Timedelta(days=span))
        if span is not None
        else pd.Series(False, index=anchors.index)
    )
    starts = gap_starts | span_starts
    opener = anchors["contact_ref"].where(starts).ffill()
    anchors["journey_id"] = anchors["customer_ref"] + ":" + opener
    anchors["stitch_rule"] = np.select(
        [gap_starts, span_starts], ["new_journey", "journey_span_limit"], "same_customer_within_window"
    )

    call_journey = anchors.loc[anchors["contact_type"] == "call", ["contact_ref", "journey_id"]]
    escalated = cases.dropna(subset=["origin_call_id"]).merge(
        call_journey, left_on="origin_call_id", right_on="contact_ref", suffixes=("", "_call")
    )
    escalated = pd.DataFrame(
        {
            "contact_type": "case",
            "contact_ref": escalated["case_id"],
            "customer_ref": escalated["customer_ref"],
            "contact_at": escalated["opened_at"],
            "journey_id": escalated["journey_id"],
            "stitch_rule": "explicit_origin_call",
        }
    )
    placed = pd.concat([anchors, escalated], ignore_index=True)
    last_anchor = (
        anchors.groupby("journey_id", sort=False)
        .agg(customer_ref=("customer_ref", "first"), last_anchor_at=("contact_at", "max"))
        .reset_index()
    )

    explicit = surveys[["response_id", "interaction_type", "interaction_ref"]].merge(
        placed[["contact_type", "contact_ref", "journey_id"]], left_on="interaction_ref", right_on="contact_ref"
    )
    explicit = explicit[
        explicit["interaction_type"].isna() | (explicit["interaction_type"] == explicit["contact_type"])
    ]
    explicit = explicit[["response_id", "journey_id"]]
    rest = surveys.loc[
        ~surveys["response_id"].isin(explicit["response_id"]), ["response_id", "customer_ref", "responded_at"]
    ]
    rest = rest.dropna(subset=["responded_at"]).sort_values("responded_at")
    by_window = pd.merge_asof(
        rest,
        last_anchor.dropna(subset=["last_anchor_at"]).sort_values("last_anchor_at"),
        left_on="responded_at",
        right_on="last_anchor_at",
        by="customer_ref",
        direction="backward",
    )
    by_window = by_window[(by_window["responded_at"] - by_window["last_anchor_at"]) <= window]
    survey_journey = pd.concat([explicit, by_window[["response_id", "journey_id"]]], ignore_index=True)
    survey_contacts = surveys[["response_id", "customer_ref", "responded_at"]].merge(
        survey_journey, on="response_id", how="left"
    )
    contacts = pd.concat(
        [
            placed,
            pd.DataFrame(
                {
                    "contact_type": "survey",
                    "contact_ref": survey_contacts["response_id"],
                    "customer_ref": survey_contacts["customer_ref"],
                    "contact_at": survey_contacts["responded_at"],
                    "journey_id": survey_contacts["journey_id"],
                    "stitch_rule": "survey",
                }
            ),
        ],
        ignore_index=True,
    )
    contact_journey = contacts.dropna(subset=["journey_id"])[["contact_type", "contact_ref", "journey_id"]]

    # ---- journeys ------------------------------------------------------------------------
    jc_calls = contact_journey[contact_journey["contact_type"] == "call"].merge(
        outcomes, left_on="contact_ref", right_on="call_id"
    )
    anchored_or_case = contacts[contacts["contact_type"].isin(["call", "case"])].dropna(subset=["journey_id"])
    journeys = anchored_or_case.groupby("journey_id").agg(started_at=("contact_at", "min")).reset_index()
    journeys["week"] = iso_week(journeys["started_at"], tz)
    has_case = set(contact_journey.loc[contact_journey["contact_type"] == "case", "journey_id"])
    has_answer = set(jc_calls.loc[jc_calls["answered"], "journey_id"])
    journeys["complained"] = journeys["journey_id"].isin(has_case)
    journeys["engaged"] = journeys["complained"] | journeys["journey_id"].isin(has_answer)

    # ---- handoffs ------------------------------------------------------------------------
    calls["bounce_back"] = calls.groupby(["call_id", "team"], sort=False).cumcount() > 0
    moved = calls[calls["previous_team"].notna() & (calls["team"] != calls["previous_team"])]
    transfers = pd.DataFrame(
        {
            "handoff_key": "call:" + moved["call_id"] + ":" + moved["segment_no"].astype(str),
            "kind": "transfer",
            "container": moved["call_id"],
            "customer_ref": moved["customer_ref"],
            "from_team": moved["previous_team"],
            "to_team": moved["team"],
            "handoff_at": moved["offered_at"],
            "dropped": moved["outcome"] == "abandoned",
            "pickup_seconds": moved["wait_seconds"].where(moved["outcome"] == "answered"),
            "bounce_back": moved["bounce_back"],
        }
    )
    events["bounce_back"] = events.groupby(["case_id", "team"], sort=False).cumcount() > 0
    moved = events[events["previous_team"].notna() & (events["team"] != events["previous_team"])].merge(
        cases[["case_id", "customer_ref"]], on="case_id"
    )
    reassignments = pd.DataFrame(
        {
            "handoff_key": "case:" + moved["case_id"] + ":" + moved["event_seq"].astype(str),
            "kind": "reassignment",
            "container": moved["case_id"],
            "customer_ref": moved["customer_ref"],
            "from_team": moved["previous_team"],
            "to_team": moved["team"],
            "handoff_at": moved["event_at"],
            "event_seq": moved["event_seq"],  # transfers and escalations have none (NaN)
            "dropped": False,
            "pickup_seconds": seconds(moved["next_event_at"] - moved["event_at"]),
            "bounce_back": moved["bounce_back"],
        }
    )
    esc = cases.merge(outcomes[["call_id", "last_answered_team"]], left_on="origin_ref", right_on="call_id")
    esc = esc[
        esc["last_answered_team"].notna()
        & esc["opened_by_team"].notna()
        & (esc["last_answered_team"] != esc["opened_by_team"])
    ]
    escalations = pd.DataFrame(
        {
            "handoff_key": "escalation:" + esc["case_id"],
            "kind": "escalation",
            "container": esc["case_id"],
            "customer_ref": esc["customer_ref"],
            "from_team": esc["last_answered_team"],
            "to_team": esc["opened_by_team"],
            "handoff_at": esc["opened_at"],
            "dropped": False,
            "pickup_seconds": np.nan,
            "bounce_back": False,
        }
    )
    handoffs = pd.concat([transfers, reassignments, escalations], ignore_index=True)
    not_escalation = handoffs["kind"] != "escalation"
    # per call or per case: a call and a case may share an id, the kind tells them apart
    changes = handoffs[not_escalation].groupby(["container", "kind"]).size().rename("team_changes")
    counted = handoffs.join(changes, on=["container", "kind"])["team_changes"].fillna(0)
    handoffs["ping_pong"] = not_escalation & (counted >= metrics["ping_pong_min_changes"])

    # recontact: another call of the customer within the window after a transfer (the call of
    # the transfer started before it, so the next call strictly after is another call)
    is_transfer = handoffs["kind"] == "transfer"
    probe = handoffs.loc[is_transfer, ["customer_ref", "handoff_at"]].reset_index().sort_values("handoff_at")
    later = pd.merge_asof(
        probe,
        outcomes[["customer_ref", "started_at"]].sort_values("started_at"),
        left_on="handoff_at",
        right_on="started_at",
        by="customer_ref",
        direction="forward",
        allow_exact_matches=False,
    ).set_index("index")
    handoffs["recontact"] = False
    handoffs.loc[later.index, "recontact"] = (later["started_at"] - later["handoff_at"]) <= window

    repeated = surveys[surveys["had_to_repeat"].fillna(False)]
    kind_type = pd.Series(np.where(is_transfer, "call", "case"), index=handoffs.index)
    handoffs["repeat_info"] = (kind_type + "|" + handoffs["container"]).isin(
        repeated["interaction_type"] + "|" + repeated["interaction_ref"]
    )

    # reopened: the last handoff (reassignment or escalation) that gave the case to the team that
    # resolved it last before each reopening, at or before that resolution; at one instant, the
    # later event (merge_asof takes the last of equal keys; an escalation, without event, first)
    resolved = events["event_type"] == "resolved"
    events["_res_team"] = events["team"].where(resolved)
    events["_res_at"] = events["event_at"].where(resolved)
    events[["_res_team", "_res_at"]] = events.groupby("case_id", sort=False)[["_res_team", "_res_at"]].ffill()
    reopen = events[(events["event_type"] == "reopened") & events["_res_at"].notna()][
        ["case_id", "_res_team", "_res_at"]
    ]
    case_handoffs = handoffs.loc[
        handoffs["kind"].isin(["reassignment", "escalation"]),
        ["handoff_key", "container", "to_team", "handoff_at", "event_seq"],
    ]
    blame = pd.merge_asof(
        reopen.sort_values("_res_at"),
        case_handoffs.sort_values(["handoff_at", "event_seq"], na_position="first"),
        left_on="_res_at",
        right_on="handoff_at",
        left_by=["case_id", "_res_team"],
        right_by=["container", "to_team"],
        direction="backward",
    )
    blamed = set(blame["handoff_key"].dropna())
    handoffs["reopened"] = handoffs["handoff_key"].isin(blamed)

    sla = metrics["pickup_sla"]
    call_sla = (
        handoffs["to_team"].map({t: s["call_seconds"] for t, s in sla.items()}).fillna(sla["default"]["call_seconds"])
    )
    case_sla = 3600 * handoffs["to_team"].map({t: s["case_hours"] for t, s in sla.items()}).fillna(
        sla["default"]["case_hours"]
    )
    limit = np.where(is_transfer, call_sla, np.where(handoffs["kind"] == "reassignment", case_sla, np.nan))
    handoffs["slow_pickup"] = (handoffs["pickup_seconds"] > limit).fillna(False).astype(bool)
    handoffs["week"] = iso_week(handoffs["handoff_at"], tz)
    flags = handoffs[list(REASONS)].astype(bool)
    handoffs["failed"] = flags.any(axis=1)

    # ---- friction_events -----------------------------------------------------------------
    jc = jc_calls.sort_values(["journey_id", "started_at", "call_id"], ignore_index=True)
    jc["attempt"] = jc.groupby("journey_id", sort=False).cumcount() + 1
    jc["first_answered_at"] = jc["started_at"].where(jc["answered"]).groupby(jc["journey_id"]).transform("min")
    survey_j = contact_journey[contact_journey["contact_type"] == "survey"].merge(
        surveys, left_on="contact_ref", right_on="response_id"
    )
    case_j = contact_journey[contact_journey["contact_type"] == "case"].merge(
        cases, left_on="contact_ref", right_on="case_id"
    )
    call_j = contact_journey.loc[contact_journey["contact_type"] == "call", ["contact_ref", "journey_id"]]
    parts = [
        ("abandoned", jc.loc[jc["first_outcome"] == "abandoned", "journey_id"]),
        (
            "long_wait",
            jc.loc[
                (jc["first_outcome"] == "answered") & (jc["first_wait_seconds"] > metrics["long_wait_seconds"]),
                "journey_id",
            ],
        ),
        (
            "several_attempts",
            jc.loc[
                (jc["attempt"] == metrics["several_attempts_min_calls"])
                & (jc["first_answered_at"].isna() | (jc["started_at"] <= jc["first_answered_at"])),
                "journey_id",
            ],
        ),
        (
            "transferred",
            handoffs.loc[is_transfer, ["container"]].merge(call_j, left_on="container", right_on="contact_ref")[
                "journey_id"
            ],
        ),
        (
            "long_hold",
            calls.loc[answered_seg & (calls["hold_seconds"] > metrics["long_hold_seconds"]), ["call_id"]].merge(
                call_j, left_on="call_id", right_on="contact_ref"
            )["journey_id"],
        ),
        ("repeat_info", survey_j.loc[survey_j["had_to_repeat"].fillna(False).astype(bool), "journey_id"]),
        ("repeat_contact", jc.loc[jc["started_at"] > jc["first_answered_at"], "journey_id"]),
        (
            "case_reopened",
            events.loc[events["event_type"] == "reopened", ["case_id"]].merge(
                case_j[["case_id", "journey_id"]], on="case_id"
            )["journey_id"],
        ),
        ("not_resolved", survey_j.loc[survey_j["resolved"].eq(False).fillna(False).astype(bool), "journey_id"]),
    ]
    moments = pd.concat(
        [
            anchored_or_case[["journey_id", "contact_at"]].rename(columns={"contact_at": "moment_at"}),
            case_j.loc[case_j["first_resolved_at"].notna(), ["journey_id", "first_resolved_at"]].rename(
                columns={"first_resolved_at": "moment_at"}
            ),
        ],
        ignore_index=True,
    ).merge(journeys[["journey_id", "started_at"]], on="journey_id")
    late = moments[seconds(moments["moment_at"] - moments["started_at"]) > 86400 * metrics["resolution_sla_days"]]
    parts.append(("resolution_beyond_sla", pd.Series(late["journey_id"].unique())))
    parts.append(("complaint_opened", contacts.loc[contacts["stitch_rule"] == "explicit_origin_call", "journey_id"]))
    ack_sla = 3600 * metrics["complaint_ack_sla_hours"]
    late_ack = case_j[["journey_id", "case_id", "opened_at", "acknowledged_at"]].merge(
        events[["case_id", "event_at"]], on="case_id"
    )
    late_ack = late_ack[
        (seconds(late_ack["event_at"] - late_ack["opened_at"]) > ack_sla)
        & (
            late_ack["acknowledged_at"].isna()
            | (seconds(late_ack["acknowledged_at"] - late_ack["opened_at"]) > ack_sla)
        )
    ]
    parts.append(
        ("complaint_acknowledged_beyond_sla", late_ack.drop_duplicates(["journey_id", "case_id"])["journey_id"])
    )
    parts.append(
        (
            "complaint_resolved_beyond_sla",
            case_j.loc[
                (case_j["first_resolved_at"] - case_j["opened_at"]) > pd.Timedelta(days=metrics["complaint_sla_days"]),
                "journey_id",
            ],
        )
    )
    friction = pd.concat(
        [pd.DataFrame({"journey_id": ids.to_numpy(), "signal": name}) for name, ids in parts], ignore_index=True
    )
    params = pd.DataFrame(
        [(name, spec["stage"], float(spec["weight"])) for name, spec in signals.items()],
        columns=["signal", "stage", "weight"],
    )
    friction = friction.merge(params, on="signal")

    # ---- weekly tables -------------------------------------------------------------------
    reached = []
    for stage, spec in stages.items():
        who = {
            "all": journeys["journey_id"].notna(),
            "engaged": journeys["engaged"],
            "complained": journeys["complained"],
        }[spec["reached_by"]]
        reached.append(journeys.loc[who, ["journey_id", "week"]].assign(stage=stage))
    reached = pd.concat(reached, ignore_index=True)
    per_journey = friction.groupby(["journey_id", "stage"], as_index=False).agg(
        weight=("weight", "sum"), signals=("signal", "size")
    )
    joined = reached.merge(per_journey, on=["journey_id", "stage"], how="left")
    stage_friction = joined.groupby(["week", "stage"], as_index=False).agg(
        journeys_reached=("journey_id", "size"),
        journeys_with_friction=("signals", "count"),
        signals=("signals", "sum"),
        weighted_signals=("weight", "sum"),
    )
    stage_friction["friction_index"] = (
        100.0 * stage_friction["weighted_signals"] / stage_friction["journeys_reached"]
    ).round(2)

    pairs = handoffs.groupby(["week", "from_team", "to_team"], as_index=False).agg(
        handoffs=("handoff_key", "size"), failed=("failed", "sum")
    )
    pairs["failure_rate"] = pairs["failed"] / pairs["handoffs"]

    weekly = handoffs.groupby("week").size().rename("handoffs")
    reasons = pd.concat([handoffs.loc[flags[r], ["week"]].assign(reason=r) for r in REASONS], ignore_index=True)
    reason_counts = (
        reasons.groupby(["week", "reason"], as_index=False).size().rename(columns={"size": "handoffs_with_reason"})
    )
    reason_counts["handoffs"] = reason_counts["week"].map(weekly)
    reason_counts["share_of_handoffs"] = reason_counts["handoffs_with_reason"] / reason_counts["handoffs"]
    return {
        "weekly_stage_friction": stage_friction,
        "weekly_handoff_pairs": pairs,
        "weekly_handoff_reasons": reason_counts,
        "counts": {
            "journeys": len(journeys),
            "handoffs": len(handoffs),
            "failed_handoffs": int(handoffs["failed"].sum()),
            "friction_events": len(friction),
        },
    }


COMPARED = {  # table -> (key columns, value columns) compared with the SQL pipeline's table
    "weekly_stage_friction": (
        ("week", "stage"),
        ("journeys_reached", "journeys_with_friction", "signals", "weighted_signals", "friction_index"),
    ),
    "weekly_handoff_pairs": (("week", "from_team", "to_team"), ("handoffs", "failed", "failure_rate")),
    "weekly_handoff_reasons": (("week", "reason"), ("handoffs_with_reason", "handoffs", "share_of_handoffs")),
}


def compare(result: dict, sql_tables: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Rows that differ (missing on either side, or another value) per compared table."""
    differences = {}
    for table, (keys, values) in COMPARED.items():
        ours = result[table][list(keys + values)]
        theirs = sql_tables[table][list(keys + values)]
        both = ours.merge(theirs, on=list(keys), how="outer", suffixes=("_pd", "_sql"), indicator=True)
        bad = both["_merge"] != "both"
        for col in values:
            a = pd.to_numeric(both[f"{col}_pd"], errors="coerce").astype(float)
            b = pd.to_numeric(both[f"{col}_sql"], errors="coerce").astype(float)
            # friction_index is rounded to 2 decimals: DuckDB rounds halves away from zero, numpy to even
            tolerance = 0.0051 if col == "friction_index" else 1e-9
            bad |= ~np.isclose(a, b, rtol=0, atol=tolerance, equal_nan=True)
        differences[table] = int(bad.sum())
    return differences
