-- stg_cases: one row per complaint case, with the team that opened it, when it was first
-- acknowledged (its first event of a type in complaint_ack_events) and first resolved: at its
-- first resolution event, or, for a case without one (a snapshot export has no history), when the
-- export says it was resolved (cases.resolved_at). sla_days and ack_sla_hours: its deadlines, from
-- the first rule of complaint_sla_rules (param_complaint_sla) matching its priority and category
-- that sets each, else complaint_sla_days and complaint_ack_sla_hours. has_history: the case has
-- at least one event (a snapshot export has none; acknowledgement cannot be read without one).
WITH firsts AS (
    SELECT
        case_id,
        arg_min(coalesce(nullif(trim(team), ''), getvariable('unassigned_team')), event_seq) AS opened_by_team,
        min(event_at) FILTER (WHERE event_type = 'resolved') AS first_resolved_at,
        min(event_at) FILTER (WHERE list_contains(getvariable('complaint_ack_events'), event_type))
            AS acknowledged_at,
        count(*) FILTER (WHERE event_type = 'reopened') AS reopenings
    FROM case_events
    GROUP BY case_id
)
SELECT
    c.case_id,
    c.customer_ref,
    c.opened_at,
    c.channel,
    c.category,
    c.origin_ref,
    c.priority,
    coalesce((SELECT r.sla_days FROM param_complaint_sla AS r
              WHERE r.sla_days IS NOT NULL AND (r.priority IS NULL OR r.priority = c.priority)
                  AND (r.category IS NULL OR r.category = c.category)
              ORDER BY r.position LIMIT 1), getvariable('complaint_sla_days')) AS sla_days,
    coalesce((SELECT r.ack_hours FROM param_complaint_sla AS r
              WHERE r.ack_hours IS NOT NULL AND (r.priority IS NULL OR r.priority = c.priority)
                  AND (r.category IS NULL OR r.category = c.category)
              ORDER BY r.position LIMIT 1), getvariable('complaint_ack_sla_hours')) AS ack_sla_hours,
    f.opened_by_team,
    coalesce(f.first_resolved_at, c.resolved_at) AS first_resolved_at,
    iso_week(coalesce(f.first_resolved_at, c.resolved_at)) AS resolved_week,
    f.acknowledged_at,
    f.case_id IS NOT NULL AS has_history,
    coalesce(f.reopenings, 0) AS reopenings,
    iso_week(c.opened_at) AS week,
    c.source_file,
    c.source_line
FROM cases AS c
LEFT JOIN firsts AS f USING (case_id)
