-- weekly_scorecard: every weekly figure with its previous week, change and 4-week average, the
-- friction of each journey stage and the continuity of agent and team (weekly_continuity).
-- Tiles, targets and wording are chosen when rendering.
--   missing_feeds: a figure the configured feeds cannot measure (param_unmeasured) has no value,
--     never a 0: a complaint-only site has no service level and no reach-stage friction.
--   provisional: the figure looks ahead (final_at) past the data's horizon, the latest event time
--     of the configured feeds: it may still change, and becomes final on a later build.
WITH figures AS (
    SELECT week, metric, numerator, denominator, value, unit, ci_low, ci_high, final_at
    FROM weekly_metrics
    UNION ALL
    SELECT week, 'friction_index_' || stage, weighted_signals, journeys_reached, friction_index, 'index',
        NULL, NULL, final_at
    FROM weekly_stage_friction
    UNION ALL
    SELECT week, 'friction_share_' || stage, journeys_with_friction, journeys_reached,
        100.0 * friction_share, 'pct', NULL, NULL, final_at
    FROM weekly_stage_friction
    UNION ALL
    SELECT week, 'agent_continuity', same_agent, agent_recorded, 100.0 * agent_continuity, 'pct', NULL, NULL, final_at
    FROM weekly_continuity
    UNION ALL
    SELECT week, 'team_continuity', same_team, team_recorded, 100.0 * team_continuity, 'pct', NULL, NULL, final_at
    FROM weekly_continuity
    UNION ALL
    SELECT week, 'followups_without_agent', no_agent_recorded, NULL, no_agent_recorded::DOUBLE, 'count', NULL, NULL,
        final_at
    FROM weekly_continuity
),
measured AS (
    SELECT
        f.week,
        f.metric,
        CASE WHEN u.metric IS NULL THEN f.value END AS value,
        CASE WHEN u.metric IS NULL THEN f.numerator END AS numerator,
        CASE WHEN u.metric IS NULL THEN f.denominator END AS denominator,
        f.unit,
        CASE WHEN u.metric IS NULL THEN f.ci_low END AS ci_low,
        CASE WHEN u.metric IS NULL THEN f.ci_high END AS ci_high,
        u.missing_feeds,
        CASE WHEN u.metric IS NULL THEN f.final_at END AS final_at
    FROM figures AS f
    LEFT JOIN param_unmeasured AS u USING (metric)
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
    missing_feeds,
    final_at,
    coalesce(final_at > getvariable('data_horizon'), false) AS provisional,
    getvariable('data_horizon') AS data_horizon,
    getvariable('parameter_set') AS parameter_set
FROM measured
WINDOW w AS (PARTITION BY metric ORDER BY week)
