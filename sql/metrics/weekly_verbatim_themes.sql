-- weekly_verbatim_themes: per ISO week of the response, journey stage the theme speaks of, team of
-- the rated interaction, theme and polarity, how many responses' verbatims name it
-- (verbatim_themes, read by the build from pipelines/listening/taxonomy.yaml), beside how many
-- responses of that week and team carry a verbatim (the share's denominator). The team of a
-- rated call is the team of its last segment (who ended it), of a rated case the team that
-- opened it; a response without a usable reference has no team (NULL).
WITH rated AS (
    SELECT
        r.response_id,
        r.week,
        coalesce(
            (SELECT arg_max(c.team, c.segment_no) FROM stg_calls AS c WHERE c.call_id = r.interaction_ref
                AND r.interaction_type = 'call'),
            (SELECT k.opened_by_team FROM stg_cases AS k WHERE k.case_id = r.interaction_ref
                AND r.interaction_type = 'case')
        ) AS team
    FROM stg_survey_responses AS r
    WHERE nullif(trim(r.verbatim), '') IS NOT NULL
),

per_team AS (
    SELECT week, team, count(*) AS responses_with_verbatim FROM rated GROUP BY week, team
)

SELECT
    r.week,
    t.stage,
    r.team,
    t.theme,
    t.polarity,
    count(DISTINCT r.response_id) AS responses,
    any_value(p.responses_with_verbatim) AS responses_with_verbatim,
    getvariable('parameter_set') AS parameter_set
FROM rated AS r
INNER JOIN verbatim_themes AS t ON r.response_id = t.response_id
INNER JOIN per_team AS p ON r.week = p.week AND r.team IS NOT DISTINCT FROM p.team
GROUP BY r.week, t.stage, r.team, t.theme, t.polarity
