-- stg_case_events: the case history, with the team that held the case before each event and
-- when the next event came (how long the team receiving a reassigned case took to act on it).
SELECT
    case_id,
    event_seq,
    event_type,
    event_at,
    -- an empty team is the explicit unassigned state: moves to and from it are handoffs
    coalesce(nullif(trim(team), ''), getvariable('unassigned_team')) AS team,
    lag(coalesce(nullif(trim(team), ''), getvariable('unassigned_team')))
        OVER (PARTITION BY case_id ORDER BY event_seq) AS previous_team,
    lead(event_at) OVER (PARTITION BY case_id ORDER BY event_seq) AS next_event_at,
    agent_id,
    status,
    iso_week(event_at) AS week,
    source_file,
    source_line
FROM case_events
