-- handoffs: every change of responsible team, succeeded or failed, with every failure reason
-- that applies (docs/metrics.md defines each):
--   transfer      a call segment passed to a segment of another team  key call:<call_id>:<segment_no received>
--   reassignment  a case event that moves the case to another team    key case:<case_id>:<event_seq>
--   escalation    a call escalated into a complaint case              key escalation:<case_id>
-- journey_id: the journey of the call or case the handoff happened in (journey_contacts), so that
-- a failed handoff leads to its journey without a lookup by contact over every contact.
WITH transfers AS (
    SELECT
        'call:' || s.call_id || ':' || s.segment_no AS handoff_key,
        'transfer' AS kind,
        s.call_id AS container,
        s.customer_ref,
        s.previous_team AS from_team,
        s.team AS to_team,
        s.offered_at AS handoff_at,
        NULL::INTEGER AS event_seq,
        s.outcome = 'abandoned' AS dropped,
        -- pickup: the wait in the receiving queue, once someone there answered
        CASE WHEN s.outcome = 'answered' THEN s.wait_seconds END AS pickup_seconds,
        EXISTS(
            SELECT 1 FROM stg_calls AS e
            WHERE e.call_id = s.call_id AND e.segment_no < s.segment_no AND e.team = s.team
        ) AS bounce_back
    FROM stg_calls AS s
    WHERE s.previous_team IS NOT NULL AND s.team <> s.previous_team
),
reassignments AS (
    SELECT
        'case:' || e.case_id || ':' || e.event_seq AS handoff_key,
        'reassignment' AS kind,
        e.case_id AS container,
        c.customer_ref,
        e.previous_team AS from_team,
        e.team AS to_team,
        e.event_at AS handoff_at,
        e.event_seq,
        false AS dropped,
        -- pickup: until the receiving team's next event on the case (unknown while none came)
        epoch(e.next_event_at) - epoch(e.event_at) AS pickup_seconds,
        EXISTS(
            SELECT 1 FROM stg_case_events AS p
            WHERE p.case_id = e.case_id AND p.event_seq < e.event_seq AND p.team = e.team
        ) AS bounce_back
    FROM stg_case_events AS e
    JOIN stg_cases AS c USING (case_id)
    WHERE e.previous_team IS NOT NULL AND e.team <> e.previous_team
),
escalations AS (
    SELECT
        'escalation:' || c.case_id AS handoff_key,
        'escalation' AS kind,
        c.case_id AS container,
        c.customer_ref,
        o.last_answered_team AS from_team,
        c.opened_by_team AS to_team,
        c.opened_at AS handoff_at,
        NULL::INTEGER AS event_seq,  -- the case's opening: before its events
        false AS dropped,
        NULL::DOUBLE AS pickup_seconds,
        false AS bounce_back
    FROM stg_cases AS c
    JOIN stg_call_outcomes AS o ON o.call_id = c.origin_ref
    WHERE o.last_answered_team IS NOT NULL AND c.opened_by_team IS NOT NULL
        AND o.last_answered_team <> c.opened_by_team
),
all_handoffs AS (
    SELECT * FROM transfers
    UNION ALL
    SELECT * FROM reassignments
    UNION ALL
    SELECT * FROM escalations
),
changes AS (  -- team changes within one call or one case (escalations excluded); a call and a case
    -- may share an id (two systems), so the kind tells them apart
    SELECT container, kind, count(*) AS team_changes
    FROM all_handoffs
    WHERE kind <> 'escalation'
    GROUP BY container, kind
),
-- for each reopening, the last handoff that gave the case to the team that resolved it (its last
-- resolution before the reopening), at or before that resolution: a move away at the very instant
-- of the resolution neither hides nor takes the blame. Handoffs at one instant are ordered by the
-- case's events (an escalation, the case's opening, first).
reopen_blame AS (
    SELECT DISTINCT h.handoff_key
    FROM stg_case_events AS reopen
    JOIN LATERAL (
        SELECT r.team, r.event_at
        FROM stg_case_events AS r
        WHERE r.case_id = reopen.case_id AND r.event_type = 'resolved' AND r.event_seq < reopen.event_seq
        ORDER BY r.event_seq DESC
        LIMIT 1
    ) AS resolution ON true
    JOIN LATERAL (
        SELECT a.handoff_key
        FROM all_handoffs AS a
        WHERE a.container = reopen.case_id AND a.kind IN ('reassignment', 'escalation')
            AND a.to_team = resolution.team AND a.handoff_at <= resolution.event_at
        ORDER BY a.handoff_at DESC, a.event_seq DESC NULLS LAST
        LIMIT 1
    ) AS h ON true
    WHERE reopen.event_type = 'reopened'
),
flags AS (
    SELECT
        a.*,
        a.kind <> 'escalation' AND coalesce(ch.team_changes, 0) >= getvariable('ping_pong_min_changes') AS ping_pong,
        a.kind = 'transfer' AND EXISTS (
            SELECT 1 FROM stg_call_outcomes AS o
            WHERE o.customer_ref = a.customer_ref AND o.call_id <> a.container
                AND o.started_at > a.handoff_at
                AND o.started_at <= a.handoff_at + to_days(getvariable('journey_window_days'))
        ) AS recontact,
        EXISTS(
            SELECT 1 FROM stg_survey_responses AS r
            WHERE r.had_to_repeat AND r.interaction_ref = a.container
                AND r.interaction_type = CASE WHEN a.kind = 'transfer' THEN 'call' ELSE 'case' END
        ) AS repeat_info,
        a.handoff_key IN (SELECT handoff_key FROM reopen_blame) AS reopened,
        a.pickup_seconds > CASE a.kind
            WHEN 'transfer' THEN coalesce(sla.call_seconds, dflt.call_seconds)
            WHEN 'reassignment' THEN 3600 * coalesce(sla.case_hours, dflt.case_hours)
        END AS slow_pickup
    FROM all_handoffs AS a
    LEFT JOIN changes AS ch USING (container, kind)
    LEFT JOIN param_pickup_sla AS sla ON sla.team = a.to_team
    LEFT JOIN param_pickup_sla AS dflt ON dflt.team = 'default'
)
SELECT
    f.handoff_key,
    f.kind,
    f.container,
    jc.journey_id,
    f.customer_ref,
    from_team,
    to_team,
    handoff_at,
    pickup_seconds,
    iso_week(handoff_at) AS week,
    list_filter([
        CASE WHEN bounce_back THEN 'bounce_back' END,
        CASE WHEN dropped THEN 'dropped' END,
        CASE WHEN ping_pong THEN 'ping_pong' END,
        CASE WHEN recontact THEN 'recontact' END,
        CASE WHEN repeat_info THEN 'repeat_info' END,
        CASE WHEN slow_pickup THEN 'slow_pickup' END,
        CASE WHEN reopened THEN 'reopened' END
    ], lambda x: x IS NOT NULL) AS failure_reasons,
    len(failure_reasons) > 0 AS failed
FROM flags AS f
LEFT JOIN journey_contacts AS jc
    ON jc.contact_ref = f.container AND jc.contact_type = CASE WHEN f.kind = 'transfer' THEN 'call' ELSE 'case' END
