-- weekly_scorecard: every weekly figure with its previous week, change and 4-week average, and
-- the friction of each journey stage. Tiles, targets and wording are chosen when rendering.
WITH figures AS (
    SELECT week, metric, numerator, denominator, value, unit, ci_low, ci_high
    FROM weekly_metrics
    UNION ALL
    SELECT week, 'friction_index_' || stage, weighted_signals, journeys_reached, friction_index, 'index',
        NULL, NULL
    FROM weekly_stage_friction
    UNION ALL
    SELECT week, 'friction_share_' || stage, journeys_with_friction, journeys_reached,
        100.0 * friction_share, 'pct', NULL, NULL
    FROM weekly_stage_friction
)
SELECT
    week,
    metric,
    value,
    numerator,
    denominator,
    unit,
    ci_low,
    ci_high,
    lag(value) OVER w AS previous_value,
    value - lag(value) OVER w AS change,
    avg(value) OVER (w ROWS BETWEEN 4 PRECEDING AND 1 PRECEDING) AS average_4_weeks,
    getvariable('parameter_set') AS parameter_set
FROM figures
WINDOW w AS (PARTITION BY metric ORDER BY week)
