-- weekly_stage_friction: per ISO week of journey start and stage, the journeys that reached the
-- stage, those that met friction there, and the friction index (weighted signals per 100
-- journeys that reached the stage).
-- Which journeys reached a stage is configured (param_stages.reached_by).
WITH reached AS (
    SELECT j.journey_id, j.week, s.stage
    FROM journeys AS j
    CROSS JOIN param_stages AS s
    WHERE s.reached_by = 'all'
        OR (s.reached_by = 'engaged' AND j.engaged)
        OR (s.reached_by = 'complained' AND j.complained)
),
per_journey AS (
    SELECT journey_id, stage, sum(weight) AS weight, count(*) AS signals
    FROM friction_events
    GROUP BY journey_id, stage
)
SELECT
    r.week,
    r.stage,
    count(*) AS journeys_reached,
    count(p.journey_id) AS journeys_with_friction,
    coalesce(sum(p.signals), 0) AS signals,
    coalesce(sum(p.weight), 0) AS weighted_signals,
    round(100.0 * coalesce(sum(p.weight), 0) / count(*), 2) AS friction_index,
    count(p.journey_id) / count(*) AS friction_share,
    getvariable('parameter_set') AS parameter_set
FROM reached AS r
LEFT JOIN per_journey AS p USING (journey_id, stage)
GROUP BY r.week, r.stage
