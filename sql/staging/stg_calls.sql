-- stg_calls: one row per call segment, with its wait, the team it was passed to next (if any)
-- and the ISO week it was offered in.
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
    lead(team) OVER (PARTITION BY call_id ORDER BY segment_no) AS next_team,
    CASE WHEN answered_at IS NOT NULL THEN epoch(answered_at) - epoch(offered_at) END AS wait_seconds,
    iso_week(offered_at) AS week,
    source_file,
    source_line
FROM calls
