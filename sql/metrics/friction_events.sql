-- friction_events: one row per friction signal, with its journey, stage, weight and the row it
-- comes from. Stages and weights come from the friction_signals setting (param_friction_signals).
WITH contact_journey AS (
    SELECT contact_type, contact_ref, journey_id FROM journey_contacts WHERE journey_id IS NOT NULL
),
journey_calls AS (
    SELECT cj.journey_id, o.*
    FROM contact_journey AS cj
    JOIN stg_call_outcomes AS o ON cj.contact_type = 'call' AND o.call_id = cj.contact_ref
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
    SELECT later.journey_id, 'repeat_contact', later.started_at, 'calls', later.call_id
    FROM journey_calls AS later
    WHERE EXISTS (
        SELECT 1 FROM journey_calls AS earlier
        WHERE earlier.journey_id = later.journey_id AND earlier.answered
            AND earlier.started_at < later.started_at
    )
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
    SELECT cj.journey_id, 'complaint_opened', c.opened_at, 'cases', c.case_id
    FROM stg_cases AS c
    JOIN contact_journey AS cj ON cj.contact_type = 'case' AND cj.contact_ref = c.case_id
    UNION ALL
    SELECT cj.journey_id, 'complaint_resolved_beyond_sla', c.first_resolved_at, 'cases', c.case_id
    FROM stg_cases AS c
    JOIN contact_journey AS cj ON cj.contact_type = 'case' AND cj.contact_ref = c.case_id
    WHERE c.first_resolved_at - c.opened_at > to_days(getvariable('complaint_sla_days'))
)
SELECT
    s.journey_id,
    p.stage,
    s.signal,
    p.weight,
    s.event_at,
    s.source_table,
    s.source_ref
FROM signals AS s
JOIN param_friction_signals AS p USING (signal)
