-- team_attention_link: per ISO week, the relationship across teams and weeks between how a team
-- is served by the others (served_score of weekly_team_attention) and what its customers
-- experience (outcome: nps, friction_share), over the team-weeks of the pulse_link_weeks weeks up
-- to that week that have both figures: team_weeks (n), Pearson's correlation with its 95 %
-- interval (Fisher's z: tanh(atanh(r) -+ 1.959964 / sqrt(n - 3))) and the least-squares slope
-- (outcome units per point of served_score).
-- status: no_data below 4 team-weeks (or without any spread: no correlation), provisional below
-- pulse_min_team_weeks, else final. A correlation across team-weeks says the figures move together,
-- not which drives which.
WITH weeks AS (
    SELECT week, row_number() OVER (ORDER BY week) AS position
    FROM (SELECT DISTINCT week FROM weekly_team_attention)
),
points AS (
    SELECT a.week, a.team, 'nps' AS outcome, a.served_score AS served, a.nps AS value
    FROM weekly_team_attention AS a
    UNION ALL
    SELECT a.week, a.team, 'friction_share', a.served_score, a.friction_share
    FROM weekly_team_attention AS a
),
windows AS (
    SELECT
        w.week,
        p.outcome,
        count(*) FILTER (WHERE p.served IS NOT NULL AND p.value IS NOT NULL) AS team_weeks,
        corr(p.value, p.served) AS r,
        regr_slope(p.value, p.served) AS slope
    FROM weeks AS w
    JOIN weeks AS earlier ON earlier.position BETWEEN w.position - getvariable('pulse_link_weeks') + 1 AND w.position
    JOIN points AS p ON p.week = earlier.week
    GROUP BY ALL
),
outcomes AS (
    SELECT w.week, o.outcome
    FROM weeks AS w
    CROSS JOIN (VALUES ('nps'), ('friction_share')) AS o (outcome)
),
judged AS (
    SELECT
        o.week,
        o.outcome,
        coalesce(w.team_weeks, 0) AS team_weeks,
        -- a correlation of exactly +-1 has no finite z: its interval is the point itself
        CASE WHEN coalesce(w.team_weeks, 0) >= 4 AND isfinite(w.r) THEN w.r END AS r,
        CASE WHEN coalesce(w.team_weeks, 0) >= 4 AND isfinite(w.r) THEN w.slope END AS slope,
        1.959964 / sqrt(greatest(coalesce(w.team_weeks, 0) - 3, 1)) AS z_margin
    FROM outcomes AS o
    LEFT JOIN windows AS w USING (week, outcome)
)
SELECT
    week,
    outcome,
    team_weeks,
    r AS correlation,
    CASE WHEN abs(r) < 1 THEN tanh(atanh(r) - z_margin) ELSE r END AS correlation_low,
    CASE WHEN abs(r) < 1 THEN tanh(atanh(r) + z_margin) ELSE r END AS correlation_high,
    slope,
    CASE
        WHEN r IS NULL THEN 'no_data'
        WHEN team_weeks < getvariable('pulse_min_team_weeks') THEN 'provisional'
        ELSE 'final'
    END AS status
FROM judged
