"""Feeds: the kinds of export a deployment receives, the figures each one makes possible, and
how far the data reaches (its horizon).

A site may receive calls only, complaints only or surveys only. A figure whose feeds are not
configured has no data (the page says so), never a 0: `unmeasured` names those figures and
the missing feeds. Which feeds are configured is read from `sources:` (each rule's profile
names the canonical table it fills, and the tables it derives).
"""

from __future__ import annotations

from pipelines.config import Settings
from pipelines.contracts import CONTRACTS

# The canonical tables each feed fills.
FEED_TABLES = {"calls": ("calls",), "complaints": ("cases", "case_events"), "surveys": ("survey_responses",)}

# What a figure is counted from: alternatives, each a set of feeds that must all be configured.
CALLS = (("calls",),)
COMPLAINTS = (("complaints",),)
SURVEYS = (("surveys",),)
CALLS_OR_COMPLAINTS = (("calls",), ("complaints",))
CALLS_AND_COMPLAINTS = (("calls", "complaints"),)

METRIC_FEEDS = {
    **dict.fromkeys(("calls_offered", "abandonment_rate", "service_level", "average_speed_of_answer",
                     "average_handle_time", "transfer_rate", "first_contact_resolution"), CALLS),
    **dict.fromkeys(("survey_responses", "nps", "nps_promoters", "nps_passives", "nps_detractors", "csat",
                     "ces", "ces_easy", "resolved_customer_reported"), SURVEYS),
    **dict.fromkeys(("journeys", "handoffs", "handoff_failure_rate"), CALLS_OR_COMPLAINTS),
    **dict.fromkeys(("complaints_opened", "complaints_resolved_within_sla", "complaint_reopen_rate",
                     "complaint_resolution_days_median", "complaint_resolution_days_p90"), COMPLAINTS),
    "complaints_per_1000_contacts": CALLS_AND_COMPLAINTS,
}

# What each friction signal is seen in (sql/metrics/friction_events.sql). A stage is measured
# when at least one of its signals is.
SIGNAL_FEEDS = {
    **dict.fromkeys(("abandoned", "long_wait", "several_attempts", "transferred", "long_hold", "repeat_contact"),
                    CALLS),
    **dict.fromkeys(("repeat_info", "not_resolved"), SURVEYS),
    **dict.fromkeys(("case_reopened", "complaint_acknowledged_beyond_sla", "complaint_resolved_beyond_sla"),
                    COMPLAINTS),
    "resolution_beyond_sla": CALLS_OR_COMPLAINTS,
    "complaint_opened": CALLS_AND_COMPLAINTS,
}


def source_tables(settings: Settings) -> dict[str, set[str]]:
    """Per configured source (landing folder): the canonical tables its profiles fill."""
    from pipelines.ingest.profiles import load_profile

    tables: dict[str, set[str]] = {}
    for source, rules in settings.sources.items():
        found = tables.setdefault(source, set())
        for rule in rules:
            profile = load_profile(rule["profile"])
            found.add(profile.table)
            found.update(d.table for d in profile.derive)
    return tables


def configured_feeds(settings: Settings) -> set[str]:
    tables = set().union(*source_tables(settings).values()) if settings.sources else set()
    return {feed for feed, feed_tables in FEED_TABLES.items() if tables & set(feed_tables)}


def _measured(needs: tuple[tuple[str, ...], ...], feeds: set[str]) -> bool:
    return any(set(alternative) <= feeds for alternative in needs)


def _missing(needs: tuple[tuple[str, ...], ...], feeds: set[str]) -> str:
    """The feeds the nearest alternative lacks, e.g. 'calls' or 'calls, complaints'."""
    lacking = min((sorted(set(a) - feeds) for a in needs), key=len)
    return ", ".join(lacking)


def unmeasured(settings: Settings, feeds: set[str] | None = None) -> dict[str, str]:
    """Figure (weekly_scorecard metric) -> the feeds it lacks, for every figure the configured
    feeds cannot measure. A signal the table does not know is taken as measured."""
    feeds = configured_feeds(settings) if feeds is None else feeds
    missing = {metric: _missing(needs, feeds) for metric, needs in METRIC_FEEDS.items()
               if not _measured(needs, feeds)}
    for stage in settings.stages:
        signals = [s for s, spec in settings.friction_signals.items() if spec["stage"] == stage]
        if signals and not any(_measured(SIGNAL_FEEDS.get(s, ((),)), feeds) for s in signals):
            lacking = _missing(tuple(a for s in signals for a in SIGNAL_FEEDS[s]), feeds)
            missing[f"friction_index_{stage}"] = missing[f"friction_share_{stage}"] = lacking
    return missing


def journey_scope(settings: Settings, feeds: set[str] | None = None) -> str:
    """customer or case: metrics.journey_scope, auto resolved by the configured feeds. A case-only
    site's customer (a caller with hundreds of incidents, or none at all) is no journey's bound."""
    scope = settings.metrics["journey_scope"]
    if scope != "auto":
        return scope
    feeds = configured_feeds(settings) if feeds is None else feeds
    return "customer" if "calls" in feeds else "case"


def data_horizon_sql(feeds: set[str]) -> str:
    """A query for the data's horizon: the latest event time in the configured feeds' tables
    (NULL while they are empty). Figures that look ahead of it are provisional."""
    parts = [f"SELECT max({CONTRACTS[t].event_time}) AS moment FROM {t}" for f in sorted(feeds) for t in FEED_TABLES[f]]
    if not parts:
        return "SELECT NULL::TIMESTAMPTZ"
    return f"SELECT max(moment)::TIMESTAMPTZ FROM ({' UNION ALL '.join(parts)})"
