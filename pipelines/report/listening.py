"""The scorecard's listening section: the week's themes of service per journey stage, from
`weekly_verbatim_themes` (docs/listening.md), each with its count, its share of the week's
verbatims, its change against the week before, the teams it came from, and example verbatims,
de-duplicated and chosen first among the journeys that met the stage's top friction signal."""

from __future__ import annotations

from collections import defaultdict

from pipelines.listening.taxonomy import load
from pipelines.weeks import shift_week

EXAMPLES_PER_THEME = 2


def _counts(con, week: str) -> dict[tuple[str, str, str], dict]:
    """{(stage, theme, polarity): {"responses": n, "teams": {team: n}}} of one week."""
    found: dict[tuple[str, str, str], dict] = defaultdict(lambda: {"responses": 0, "teams": {}})
    for stage, team, theme, polarity, responses in con.execute(
        "SELECT stage, team, theme, polarity, responses FROM weekly_verbatim_themes WHERE week = ? "
        "ORDER BY stage, theme, polarity, team NULLS LAST",
        [week],
    ).fetchall():
        entry = found[(stage, theme, polarity)]
        entry["responses"] += responses
        entry["teams"][team] = responses
    return found


def _with_verbatim(con, week: str) -> int:
    return con.execute(
        "SELECT count(*) FROM stg_survey_responses WHERE week = ? AND nullif(trim(verbatim), '') IS NOT NULL", [week]
    ).fetchone()[0]


def _examples(con, week: str, stages: list[dict], per_theme: int) -> dict[tuple[str, str, str], list[dict]]:
    wanted = [(s["key"], s["top"][0][0]) for s in stages if s.get("top")]
    rows = con.execute(
        """
        WITH wanted AS (SELECT unnest($stages::VARCHAR[]) AS stage, unnest($signals::VARCHAR[]) AS signal),
        on_signal AS (
            SELECT DISTINCT f.stage, jc.contact_ref AS response_id
            FROM friction_events AS f
            JOIN wanted AS w USING (stage, signal)
            JOIN journey_contacts AS jc ON jc.journey_id = f.journey_id AND jc.contact_type = 'survey'
            WHERE f.week = $week
        ),
        candidates AS (
            SELECT t.stage, t.theme, t.polarity, r.response_id, r.verbatim, r.language, r.nps,
                o.response_id IS NOT NULL AS on_signal
            FROM verbatim_themes AS t
            JOIN stg_survey_responses AS r USING (response_id)
            LEFT JOIN on_signal AS o ON o.stage = t.stage AND o.response_id = t.response_id
            WHERE r.week = $week AND nullif(trim(r.verbatim), '') IS NOT NULL
            -- the same words once: a verbatim many customers wrote is one example
            QUALIFY row_number() OVER (
                PARTITION BY t.stage, t.theme, t.polarity, r.verbatim, r.language
                ORDER BY o.response_id IS NOT NULL DESC, r.response_id) = 1
        )
        SELECT stage, theme, polarity, verbatim, language, nps, on_signal FROM candidates
        QUALIFY row_number() OVER (
            PARTITION BY stage, theme, polarity
            ORDER BY on_signal DESC, CASE WHEN polarity = '-' THEN nps ELSE -nps END NULLS LAST, response_id
        ) <= $per_theme
        ORDER BY stage, theme, polarity, on_signal DESC, CASE WHEN polarity = '-' THEN nps ELSE -nps END NULLS LAST
        """,
        {
            "week": week,
            "stages": [k for k, _ in wanted],
            "signals": [s for _, s in wanted],
            "per_theme": per_theme,
        },
    ).fetchall()
    examples: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for stage, theme, polarity, text, language, nps, on_signal in rows:
        examples[(stage, theme, polarity)].append(
            {"text": text, "language": language, "nps": nps, "on_signal": on_signal}
        )
    return examples


def listening_section(con, week: str, stages: list[dict], per_theme: int = EXAMPLES_PER_THEME) -> dict:
    """The section's figures: per stage (the site's, in order; a theme whose stage the site does
    not have goes under `other`), its themes this week, most mentioned first."""
    taxonomy = load()
    total = _with_verbatim(con, week)
    before = shift_week(week, -1)
    previous_total = _with_verbatim(con, before)
    now, previous = _counts(con, week), _counts(con, before)
    examples = _examples(con, week, stages, per_theme) if now else {}
    keys = [s["key"] for s in stages]
    grouped: dict[str, list[dict]] = {k: [] for k in [*keys, "other"]}
    for (stage, theme, polarity), entry in now.items():
        was = previous.get((stage, theme, polarity), {}).get("responses", 0) if previous_total else None
        grouped[stage if stage in keys else "other"].append(
            {
                "stage": stage,
                "theme": theme,
                "polarity": polarity,
                "name_en": taxonomy.themes[theme].names["en"],
                "name_fr": taxonomy.themes[theme].names["fr"],
                "responses": entry["responses"],
                "share": 100 * entry["responses"] / total,
                "previous": was,
                "change": None if was is None else entry["responses"] - was,
                "teams": sorted(entry["teams"].items(), key=lambda kv: (-kv[1], kv[0] is None, kv[0] or "")),
                "examples": examples.get((stage, theme, polarity), []),
            }
        )
    for themes in grouped.values():
        themes.sort(key=lambda t: (-t["responses"], t["polarity"], t["theme"]))
    return {
        "week": week,
        "previous_week": before,
        "with_verbatim": total,
        "previous_with_verbatim": previous_total,
        "stages": [{"key": k, "themes": grouped[k]} for k in [*keys, "other"] if grouped[k] or k in keys],
    }


def theme_labels(labels: list[str], lang: str, t) -> str:
    """["waiting-", "courtesy+"] as the page's words: "Waiting to get through (going wrong), ..."."""
    themes = load().themes
    return ", ".join(
        f"{themes[label[:-1]].names[lang]} ({t('going_well') if label.endswith('+') else t('going_wrong')})"
        for label in labels
        if label[:-1] in themes
    )
