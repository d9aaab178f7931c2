-- weekly_stage_friction: per ISO week of journey start and stage, the journeys that reached the
-- stage, those that met friction there, and the friction index (weighted signals per 100
-- journeys that reached the stage).
-- Which journeys reached a stage is configured (param_stages.reached_by). final_at: the week's
-- friction is final once every journey started in it is (journeys.final_at).
WITH reached AS (
    SELECT j.journey_id, j.week, s.stage, j.final_at
    FROM journeys AS j
    CROSS JOIN param_stages AS s
    WHERE s.reached_by = 'all'
        OR (s.reached_by = 'engaged' AND j.engaged)
        OR (s.reached_by = 'complained' AND j.complained)
),
per_journey AS (  -- joined on week too, so that the weeks asked for bound the friction events read
    SELECT r.week, r.stage, r.journey_id, any_value(r.final_at) AS final_at, sum(f.weight) AS weight,
        count(f.journey_id) AS signals
    FROM reached AS r
    LEFT JOIN friction_events AS f ON f.week = r.week AND f.journey_id = r.journey_id AND f.stage = r.stage
    GROUP BY r.week, r.stage, r.journey_id
)
SELECT
    week,
    stage,
    count(*) AS journeys_reached,
    count(*) FILTER (WHERE signals > 0) AS journeys_with_friction,
    sum(signals) AS signals,
    coalesce(sum(weight), 0) AS weighted_signals,
    round(100.0 * coalesce(sum(weight), 0) / count(*), 2) AS friction_index,
    count(*) FILTER (WHERE signals > 0) / count(*) AS friction_share,
    max(final_at) AS final_at,
    getvariable('parameter_set') AS parameter_set
FROM per_journey
GROUP BY week, stage
