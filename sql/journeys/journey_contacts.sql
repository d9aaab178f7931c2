-- journey_contacts: every contact (call, case, survey response) with the journey it belongs to
-- and the rule that placed it there.
--   new_journey / same_customer_within_window: calls and cases not escalated from a call are
--     anchors; a customer's anchors closer than journey_window_days form one journey. With
--     journey_scope 'case' (a case-only site's default), each such case is a journey of its own.
--   journey_span_limit: a run of anchors with no such gap is cut again where an anchor comes more
--     than journey_max_span_days after the first anchor of its journey; the next journey is
--     counted from that anchor on (null: no bound).
--   explicit_origin_call: a case escalated from a call joins that call's journey.
--   explicit_interaction_ref: a survey response joins the journey of the call or case it rates.
--   customer_window: a response without a usable reference joins its customer's latest journey
--     whose last anchor is at most journey_window_days before the response.
--   unmatched: none of the above; kept, with no journey, and counted.
WITH RECURSIVE case_origin AS (
    SELECT
        c.case_id,
        c.customer_ref,
        c.opened_at,
        o.call_id AS origin_call_id
    FROM stg_cases AS c
    LEFT JOIN stg_call_outcomes AS o ON o.call_id = c.origin_ref
),
anchors AS (
    SELECT 'call' AS contact_type, call_id AS contact_ref, customer_ref, started_at AS contact_at, '' AS scope
    FROM stg_call_outcomes
    UNION ALL
    SELECT 'case', case_id, customer_ref, opened_at,
        CASE WHEN getvariable('journey_scope') = 'case' THEN case_id ELSE '' END
    FROM case_origin
    WHERE origin_call_id IS NULL
),
gaps AS (
    SELECT
        *,
        CASE
            WHEN lag(contact_at) OVER w IS NULL THEN 1
            WHEN contact_at - lag(contact_at) OVER w > to_days(getvariable('journey_window_days')) THEN 1
            ELSE 0
        END AS starts_journey
    FROM anchors
    WINDOW w AS (PARTITION BY customer_ref, scope ORDER BY contact_at, contact_ref)
),
-- the same order, running: the journey's number and its first anchor (the latest journey start so
-- far: its time and reference), so that no window over a whole journey is needed where no cut is
sessions AS (
    SELECT
        *,
        sum(starts_journey) OVER w AS journey_no,
        last_value(
            CASE WHEN starts_journey = 1 THEN struct_pack(at := contact_at, ref := contact_ref) END IGNORE NULLS
        ) OVER w AS journey_start
    FROM gaps
    WINDOW w AS (PARTITION BY customer_ref, scope ORDER BY contact_at, contact_ref ROWS UNBOUNDED PRECEDING)
),
-- runs longer than journey_max_span_days (an anchor that far after the run's first): few, walked below
long_runs AS (
    SELECT DISTINCT customer_ref, scope, journey_no
    FROM sessions
    WHERE contact_at - struct_extract(journey_start, 'at') > to_days(getvariable('journey_max_span_days'))
),
numbered AS (
    SELECT
        s.*,
        row_number() OVER (
            PARTITION BY s.customer_ref, s.scope, s.journey_no ORDER BY s.contact_at, s.contact_ref
        ) AS anchor_no
    FROM sessions AS s
    JOIN long_runs USING (customer_ref, scope, journey_no)  -- one row per run: no row repeated
),
-- only runs longer than the bound are walked, anchor by anchor: each cut depends on the last one
span_walk AS (
    SELECT customer_ref, scope, journey_no, anchor_no, contact_at AS span_start, 0 AS span_no, false AS cut
    FROM numbered
    WHERE anchor_no = 1
    UNION ALL
    SELECT
        customer_ref,
        scope,
        journey_no,
        anchor_no,
        CASE WHEN cut THEN contact_at ELSE span_start END AS span_start,
        span_no + CASE WHEN cut THEN 1 ELSE 0 END AS span_no,
        cut
    FROM (
        SELECT
            n.customer_ref,
            n.scope,
            n.journey_no,
            n.anchor_no,
            n.contact_at,
            w.span_start,
            w.span_no,
            n.contact_at - w.span_start > to_days(getvariable('journey_max_span_days')) AS cut
        FROM span_walk AS w
        JOIN numbered AS n
            ON
                n.customer_ref = w.customer_ref
                AND n.scope = w.scope
                AND n.journey_no = w.journey_no
                AND n.anchor_no = w.anchor_no + 1
    )
),
-- an anchor starts a span where the walk cut, not wherever it shares the span's first instant
spans AS (
    SELECT
        n.*,
        w.span_no,
        w.cut AS starts_span
    FROM numbered AS n
    JOIN span_walk AS w USING (customer_ref, scope, journey_no, anchor_no)
),
anchored AS (
    SELECT
        s.contact_type,
        s.contact_ref,
        s.customer_ref,
        s.contact_at,
        -- named after the customer and the contact that opened the journey: readable and traceable
        s.customer_ref || ':' || struct_extract(s.journey_start, 'ref') AS journey_id,
        CASE WHEN s.starts_journey = 1 THEN 'new_journey' ELSE 'same_customer_within_window' END AS stitch_rule,
        -- the first anchor of the run with no gap over the window: an incremental build starts there
        struct_extract(s.journey_start, 'at') AS run_started_at
    FROM sessions AS s
    WHERE NOT EXISTS (
        SELECT 1 FROM long_runs
        WHERE long_runs.customer_ref = s.customer_ref AND long_runs.scope = s.scope
            AND long_runs.journey_no = s.journey_no
    )
    UNION ALL
    SELECT
        contact_type,
        contact_ref,
        customer_ref,
        contact_at,
        customer_ref || ':' || first_value(contact_ref) OVER (
            PARTITION BY customer_ref, scope, journey_no, span_no ORDER BY contact_at, contact_ref
        ) AS journey_id,
        CASE
            WHEN starts_journey = 1 THEN 'new_journey'
            WHEN starts_span THEN 'journey_span_limit'
            ELSE 'same_customer_within_window'
        END AS stitch_rule,
        struct_extract(journey_start, 'at') AS run_started_at
    FROM spans
),
escalated AS (
    SELECT 'case' AS contact_type, c.case_id AS contact_ref, c.customer_ref, c.opened_at AS contact_at,
        a.journey_id, 'explicit_origin_call' AS stitch_rule, a.run_started_at
    FROM case_origin AS c
    JOIN anchored AS a ON a.contact_type = 'call' AND a.contact_ref = c.origin_call_id
),
placed AS (
    SELECT * FROM anchored
    UNION ALL
    SELECT * FROM escalated
),
journey_last_anchor AS (
    SELECT customer_ref, journey_id, max(contact_at) AS last_anchor_at
    FROM anchored
    GROUP BY customer_ref, journey_id
),
survey_explicit AS (
    SELECT r.response_id, p.journey_id
    FROM stg_survey_responses AS r
    JOIN placed AS p
        ON p.contact_ref = r.interaction_ref
        AND (r.interaction_type IS NULL OR p.contact_type = r.interaction_type)
),
survey_window AS (
    SELECT r.response_id, j.journey_id
    FROM stg_survey_responses AS r
    ASOF JOIN journey_last_anchor AS j
        ON j.customer_ref = r.customer_ref AND r.responded_at >= j.last_anchor_at
    WHERE r.response_id NOT IN (SELECT response_id FROM survey_explicit)
        AND r.responded_at - j.last_anchor_at <= to_days(getvariable('journey_window_days'))
)
SELECT * FROM placed
UNION ALL
SELECT
    'survey' AS contact_type,
    r.response_id AS contact_ref,
    r.customer_ref,
    r.responded_at AS contact_at,
    coalesce(e.journey_id, w.journey_id) AS journey_id,
    CASE
        WHEN e.journey_id IS NOT NULL THEN 'explicit_interaction_ref'
        WHEN w.journey_id IS NOT NULL THEN 'customer_window'
        ELSE 'unmatched'
    END AS stitch_rule,
    NULL::TIMESTAMPTZ AS run_started_at
FROM stg_survey_responses AS r
LEFT JOIN survey_explicit AS e USING (response_id)
LEFT JOIN survey_window AS w USING (response_id)
