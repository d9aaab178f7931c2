-- stg_calls: one row per call segment, with its wait, the teams it came from and was passed to next
-- (if any) and the ISO week it was offered in. Both neighbours come from one window, so that the
-- models reading a segment's previous team (stg_call_outcomes, handoffs) need no window of their own.
SELECT
    call_id,
    segment_no,
    customer_ref,
    queue,
    team,
    agent_id,
    offered_at,
    answered_at,
    ended_at,
    outcome,
    transfer_type,
    coalesce(hold_seconds, 0) AS hold_seconds,
    wrap_code,
    lead(team) OVER segments AS next_team,
    lag(team) OVER segments AS previous_team,
    CASE WHEN answered_at IS NOT NULL THEN epoch(answered_at) - epoch(offered_at) END AS wait_seconds,
    iso_week(offered_at) AS week,
    source_file,
    source_line
FROM calls
WINDOW segments AS (PARTITION BY call_id ORDER BY segment_no)
