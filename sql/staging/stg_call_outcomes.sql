-- stg_call_outcomes: one row per call (all its segments): how it started and how far it got.
-- A call is abandoned when its first segment was; a transfer that is then abandoned is a
-- dropped handoff (see handoffs), not an abandoned call.
SELECT
    call_id,
    any_value(customer_ref) AS customer_ref,
    min(offered_at) AS started_at,
    arg_min(week, segment_no) AS week,
    arg_min(outcome, segment_no) AS first_outcome,
    arg_min(wait_seconds, segment_no) AS first_wait_seconds,
    -- how long a caller waited before hanging up, when the first segment was abandoned
    arg_min(CASE WHEN outcome = 'abandoned' THEN epoch(ended_at) - epoch(offered_at) END, segment_no)
        AS first_abandon_seconds,
    -- handle time: from pick-up to the end of each answered segment (talk and hold), summed
    sum(epoch(ended_at) - epoch(answered_at)) FILTER (WHERE outcome = 'answered') AS handle_seconds,
    bool_or(outcome = 'answered') AS answered,
    count(*) AS segments,
    count(*) FILTER (WHERE previous_team IS NOT NULL AND team <> previous_team) AS team_changes,
    arg_max(team, segment_no) FILTER (WHERE outcome = 'answered') AS last_answered_team
FROM stg_calls
GROUP BY call_id
