-- journeys: one row per customer journey, the ISO week it started in and the stages it reached.
--   reach: every journey; understand and resolve: a call was answered or a case opened;
--   recover: a complaint case was opened.
-- first_contact_resolved: of journeys with an answered call, those with no further call or case
-- after their first answered call.
-- final_at: when the journey's outcome stops looking ahead (docs/metrics.md, look-ahead): no
-- contact can join it later than journey_window_days after its last call or case, the
-- resolution SLA runs resolution_sla_days from its start, a complaint's SLA (at most
-- complaint_sla_days_max) from its opening.
-- One pass over journey_contacts: a journey's first answered call is an aggregate of its own calls,
-- and no call or case came after it when its latest call or case did not.
WITH per_journey AS (
    SELECT
        jc.journey_id,
        -- the first contact's customer, as in journey_id: a case or a response of another customer can
        -- join a journey through its link, so any_value would pick either
        arg_min(jc.customer_ref, (jc.contact_at, jc.contact_type, jc.contact_ref)) AS customer_ref,
        min(jc.contact_at) FILTER (WHERE jc.contact_type IN ('call', 'case')) AS started_at,
        max(jc.contact_at) FILTER (WHERE jc.contact_type IN ('call', 'case')) AS last_contact_at,
        max(jc.contact_at) FILTER (WHERE jc.contact_type = 'case') AS last_case_at,
        count(*) FILTER (WHERE jc.contact_type = 'call') AS calls,
        count(*) FILTER (WHERE jc.contact_type = 'case') AS cases,
        count(*) FILTER (WHERE jc.contact_type = 'survey') AS survey_responses,
        bool_or(o.answered) AS any_answered,
        min(o.started_at) FILTER (WHERE o.answered) AS first_answered_at
    FROM journey_contacts AS jc
    LEFT JOIN stg_call_outcomes AS o ON jc.contact_type = 'call' AND o.call_id = jc.contact_ref
    WHERE jc.journey_id IS NOT NULL
    GROUP BY jc.journey_id
)
SELECT
    journey_id,
    customer_ref,
    started_at,
    iso_week(started_at) AS week,
    calls,
    cases,
    survey_responses,
    any_answered IS TRUE OR cases > 0 AS engaged,
    cases > 0 AS complained,
    first_answered_at,
    CASE
        WHEN first_answered_at IS NULL THEN NULL
        ELSE NOT coalesce(last_contact_at > first_answered_at, false)
    END AS first_contact_resolved,
    greatest(
        last_contact_at + to_days(getvariable('journey_window_days')),
        started_at + to_days(getvariable('resolution_sla_days')),
        last_case_at + to_seconds(86400 * getvariable('complaint_sla_days_max'))
    ) AS final_at
FROM per_journey
