-- weekly_queue_kpis: per ISO week and queue, how the queue served the call segments offered to
-- it (a transferred call is offered again to the receiving queue). Each rate keeps its numerator
-- and denominator:
--   service_level     answered within service_level_seconds / (offered - abandoned within short_abandon_seconds)
--   abandonment_rate  abandoned / offered
--   ASA               sum of waits of answered segments / answered
--   AHT               sum of handle times (answer to end, hold included) / answered
--   transfer_rate     answered segments passed on to another team / answered
WITH segments AS (
    SELECT
        *,
        outcome = 'abandoned' AND epoch(ended_at) - epoch(offered_at) < getvariable('short_abandon_seconds')
            AS short_abandon
    FROM stg_calls
),
counts AS (
    SELECT
        week,
        queue,
        count(*) AS offered,
        count(*) FILTER (WHERE outcome = 'answered') AS answered,
        count(*) FILTER (WHERE outcome = 'abandoned') AS abandoned,
        count(*) FILTER (WHERE short_abandon) AS short_abandoned,
        count(*) FILTER (WHERE outcome = 'answered' AND wait_seconds <= getvariable('service_level_seconds'))
            AS answered_in_time,
        sum(wait_seconds) FILTER (WHERE outcome = 'answered') AS wait_seconds,
        sum(epoch(ended_at) - epoch(answered_at)) FILTER (WHERE outcome = 'answered') AS handle_seconds,
        count(*) FILTER (WHERE outcome = 'answered' AND next_team IS NOT NULL AND next_team <> team)
            AS transferred
    FROM segments
    GROUP BY week, queue
)
SELECT
    week,
    queue,
    offered,
    answered,
    abandoned,
    short_abandoned,
    answered_in_time,
    answered_in_time / nullif(offered - short_abandoned, 0) AS service_level,
    abandoned / offered AS abandonment_rate,
    wait_seconds / nullif(answered, 0) AS average_speed_of_answer,
    handle_seconds / nullif(answered, 0) AS average_handle_time,
    transferred,
    transferred / nullif(answered, 0) AS transfer_rate,
    getvariable('parameter_set') AS parameter_set
FROM counts
