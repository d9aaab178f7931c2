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
from pipelines.vocabulary import VOCABULARY, Feeds, Vocabulary

# The canonical tables each feed fills.
FEED_TABLES = {
    "calls": ("calls",),
    "complaints": ("cases", "case_events"),
    "surveys": ("survey_responses",),
    "pulse": ("internal_pulse",),
}
# The feeds whose latest event bounds what the customers' contacts can still change (the data's
# horizon): staff answering the internal pulse later tells nothing of a customer's journey.
CUSTOMER_FEEDS = ("calls", "complaints", "surveys")


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


def _measured(needs: Feeds, feeds: set[str]) -> bool:
    return any(set(alternative) <= feeds for alternative in needs)


def _missing(needs: Feeds, feeds: set[str]) -> str:
    """The feeds the nearest alternative lacks, e.g. 'calls' or 'calls, complaints'."""
    lacking = min((sorted(set(a) - feeds) for a in needs), key=len)
    return ", ".join(lacking)


def unmeasured(
    settings: Settings, feeds: set[str] | None = None, vocabulary: Vocabulary = VOCABULARY
) -> dict[str, str]:
    """Figure (weekly_scorecard metric) -> the feeds it lacks, for every figure the configured
    feeds cannot measure. What each figure and each friction signal is counted from is declared
    in sql/vocabulary.yaml; a stage is measured when one of its signals is. A signal the
    vocabulary does not know is taken as measured."""
    feeds = configured_feeds(settings) if feeds is None else feeds
    metric_feeds, signal_feeds = vocabulary.feeds("metrics"), vocabulary.feeds("signals")
    missing = {metric: _missing(needs, feeds) for metric, needs in metric_feeds.items() if not _measured(needs, feeds)}
    for stage in settings.stages:
        signals = [s for s, spec in settings.friction_signals.items() if spec["stage"] == stage]
        if signals and not any(_measured(signal_feeds.get(s, ((),)), feeds) for s in signals):
            lacking = _missing(tuple(a for s in signals for a in signal_feeds[s]), feeds)
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
    parts = [
        f"SELECT max({CONTRACTS[t].event_time}) AS moment FROM {t}"
        for f in sorted(set(feeds) & set(CUSTOMER_FEEDS))
        for t in FEED_TABLES[f]
    ]
    if not parts:
        return "SELECT NULL::TIMESTAMPTZ"
    return f"SELECT max(moment)::TIMESTAMPTZ FROM ({' UNION ALL '.join(parts)})"
