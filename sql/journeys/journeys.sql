-- journeys: one row per customer journey, the ISO week it started in and the stages it reached.
--   reach: every journey; understand and resolve: a call was answered or a case opened;
--   recover: a complaint case was opened.
-- first_contact_resolved: of journeys with an answered call, those with no further call or case
-- after their first answered call.
-- final_at: when the journey's outcome stops looking ahead (docs/metrics.md, look-ahead): no
-- contact can join it later than journey_window_days after its last call or case, the
-- resolution SLA runs resolution_sla_days from its start, a complaint's SLA (at most
-- complaint_sla_days_max) from its opening.
WITH calls AS (
    SELECT jc.journey_id, o.call_id, o.started_at, o.answered
    FROM journey_contacts AS jc
    JOIN stg_call_outcomes AS o ON jc.contact_type = 'call' AND o.call_id = jc.contact_ref
),
firsts AS (
    SELECT journey_id, min(started_at) FILTER (WHERE answered) AS first_answered_at
    FROM calls
    GROUP BY journey_id
)
SELECT
    jc.journey_id,
    -- the first contact's customer, as in journey_id: a case or a response of another customer can
    -- join a journey through its link, so any_value would pick either
    arg_min(jc.customer_ref, (jc.contact_at, jc.contact_type, jc.contact_ref)) AS customer_ref,
    min(jc.contact_at) FILTER (WHERE jc.contact_type IN ('call', 'case')) AS started_at,
    iso_week(min(jc.contact_at) FILTER (WHERE jc.contact_type IN ('call', 'case'))) AS week,
    count(*) FILTER (WHERE jc.contact_type = 'call') AS calls,
    count(*) FILTER (WHERE jc.contact_type = 'case') AS cases,
    count(*) FILTER (WHERE jc.contact_type = 'survey') AS survey_responses,
    bool_or(o.answered) IS TRUE OR count(*) FILTER (WHERE jc.contact_type = 'case') > 0 AS engaged,
    count(*) FILTER (WHERE jc.contact_type = 'case') > 0 AS complained,
    any_value(f.first_answered_at) AS first_answered_at,
    CASE
        WHEN any_value(f.first_answered_at) IS NULL THEN NULL
        ELSE count(*) FILTER (
            WHERE jc.contact_type IN ('call', 'case') AND jc.contact_at > f.first_answered_at
        ) = 0
    END AS first_contact_resolved,
    greatest(
        max(jc.contact_at) FILTER (WHERE jc.contact_type IN ('call', 'case'))
            + to_days(getvariable('journey_window_days')),
        min(jc.contact_at) FILTER (WHERE jc.contact_type IN ('call', 'case'))
            + to_days(getvariable('resolution_sla_days')),
        max(jc.contact_at) FILTER (WHERE jc.contact_type = 'case')
            + to_seconds(86400 * getvariable('complaint_sla_days_max'))
    ) AS final_at
FROM journey_contacts AS jc
LEFT JOIN stg_call_outcomes AS o ON jc.contact_type = 'call' AND o.call_id = jc.contact_ref
LEFT JOIN firsts AS f USING (journey_id)
WHERE jc.journey_id IS NOT NULL
GROUP BY jc.journey_id
