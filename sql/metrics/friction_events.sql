-- friction_events: one row per friction signal, with its journey (and the week it started),
-- stage, weight and the row it comes from. Stages and weights come from the friction_signals
-- setting (param_friction_signals). Durations are elapsed time (a day is 24 hours), so that a
-- daylight-saving change neither adds nor removes an hour of SLA.
WITH contact_journey AS (
    SELECT contact_type, contact_ref, journey_id FROM journey_contacts WHERE journey_id IS NOT NULL
),
journey_calls AS (  -- the columns the signals read only: the rows are sorted by journey below
    SELECT cj.journey_id, o.call_id, o.started_at, o.answered, o.first_outcome, o.first_wait_seconds
    FROM contact_journey AS cj
    JOIN stg_call_outcomes AS o ON cj.contact_type = 'call' AND o.call_id = cj.contact_ref
),
attempts AS (  -- calls in order, and when the journey first reached an agent
    SELECT
        *,
        row_number() OVER (PARTITION BY journey_id ORDER BY started_at, call_id) AS attempt,
        min(started_at) FILTER (WHERE answered) OVER (PARTITION BY journey_id) AS first_answered_at
    FROM journey_calls
),
journey_moments AS (  -- every call or case of a journey, and every case's first resolution
    SELECT jc.journey_id, jc.contact_at AS moment_at,
        CASE jc.contact_type WHEN 'call' THEN 'calls' ELSE 'cases' END AS source_table, jc.contact_ref AS source_ref
    FROM journey_contacts AS jc
    WHERE jc.journey_id IS NOT NULL AND jc.contact_type IN ('call', 'case')
    UNION ALL
    SELECT cj.journey_id, c.first_resolved_at, 'cases', c.case_id
    FROM stg_cases AS c
    JOIN contact_journey AS cj ON cj.contact_type = 'case' AND cj.contact_ref = c.case_id
    WHERE c.first_resolved_at IS NOT NULL
),
late_moments AS (
    SELECT m.*
    FROM journey_moments AS m
    JOIN journeys AS j USING (journey_id)
    WHERE epoch(m.moment_at) - epoch(j.started_at) > 86400 * getvariable('resolution_sla_days')
),
signals AS (
    SELECT journey_id, 'abandoned' AS signal, started_at AS event_at, 'calls' AS source_table,
        call_id AS source_ref
    FROM journey_calls WHERE first_outcome = 'abandoned'
    UNION ALL
    SELECT journey_id, 'long_wait', started_at, 'calls', call_id
    FROM journey_calls
    WHERE first_outcome = 'answered' AND first_wait_seconds > getvariable('long_wait_seconds')
    UNION ALL
    -- the call that made it several attempts, if no earlier call had reached an agent
    SELECT journey_id, 'several_attempts', started_at, 'calls', call_id
    FROM attempts
    WHERE attempt = getvariable('several_attempts_min_calls')
        AND (first_answered_at IS NULL OR started_at <= first_answered_at)
    UNION ALL
    SELECT cj.journey_id, 'transferred', h.handoff_at, 'handoffs', h.handoff_key
    FROM handoffs AS h
    JOIN contact_journey AS cj ON cj.contact_type = 'call' AND cj.contact_ref = h.container
    WHERE h.kind = 'transfer'
    UNION ALL
    SELECT cj.journey_id, 'long_hold', s.answered_at, 'calls', s.call_id || ':' || s.segment_no
    FROM stg_calls AS s
    JOIN contact_journey AS cj ON cj.contact_type = 'call' AND cj.contact_ref = s.call_id
    WHERE s.outcome = 'answered' AND s.hold_seconds > getvariable('long_hold_seconds')
    UNION ALL
    SELECT cj.journey_id, 'repeat_info', r.responded_at, 'survey_responses', r.response_id
    FROM stg_survey_responses AS r
    JOIN contact_journey AS cj ON cj.contact_type = 'survey' AND cj.contact_ref = r.response_id
    WHERE r.had_to_repeat
    UNION ALL
    -- a call after the journey's first answered one: an earlier call had reached an agent
    SELECT journey_id, 'repeat_contact', started_at, 'calls', call_id
    FROM attempts
    WHERE started_at > first_answered_at
    UNION ALL
    SELECT cj.journey_id, 'case_reopened', e.event_at, 'case_events', e.case_id || ':' || e.event_seq
    FROM stg_case_events AS e
    JOIN contact_journey AS cj ON cj.contact_type = 'case' AND cj.contact_ref = e.case_id
    WHERE e.event_type = 'reopened'
    UNION ALL
    SELECT cj.journey_id, 'not_resolved', r.responded_at, 'survey_responses', r.response_id
    FROM stg_survey_responses AS r
    JOIN contact_journey AS cj ON cj.contact_type = 'survey' AND cj.contact_ref = r.response_id
    WHERE r.resolved = false
    UNION ALL
    -- the first contact or case resolution after the resolution SLA: the need was still open
    SELECT journey_id, 'resolution_beyond_sla', min(moment_at), arg_min(source_table, moment_at),
        arg_min(source_ref, moment_at)
    FROM late_moments
    GROUP BY journey_id
    UNION ALL
    -- the escalation of a call into a complaint (a complaint made directly is not an escalation)
    SELECT journey_id, 'complaint_opened', contact_at, 'cases', contact_ref
    FROM journey_contacts
    WHERE stitch_rule = 'explicit_origin_call'
    UNION ALL
    -- no acknowledging event within the SLA, seen at the case's first event after the deadline
    SELECT cj.journey_id, 'complaint_acknowledged_beyond_sla', min(e.event_at), 'cases', c.case_id
    FROM stg_cases AS c
    JOIN contact_journey AS cj ON cj.contact_type = 'case' AND cj.contact_ref = c.case_id
    JOIN stg_case_events AS e USING (case_id)
    WHERE epoch(e.event_at) - epoch(c.opened_at) > 3600 * c.ack_sla_hours
        AND (c.acknowledged_at IS NULL
             OR epoch(c.acknowledged_at) - epoch(c.opened_at) > 3600 * c.ack_sla_hours)
    GROUP BY cj.journey_id, c.case_id
    UNION ALL
    SELECT cj.journey_id, 'complaint_resolved_beyond_sla', c.first_resolved_at, 'cases', c.case_id
    FROM stg_cases AS c
    JOIN contact_journey AS cj ON cj.contact_type = 'case' AND cj.contact_ref = c.case_id
    WHERE epoch(c.first_resolved_at) - epoch(c.opened_at) > 86400 * c.sla_days
)
SELECT
    s.journey_id,
    j.week,
    p.stage,
    s.signal,
    p.weight,
    s.event_at,
    s.source_table,
    s.source_ref
FROM signals AS s
JOIN param_friction_signals AS p USING (signal)
JOIN journeys AS j USING (journey_id)
