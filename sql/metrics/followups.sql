-- followups: one row per follow-up, a call or a case the customer made again within a journey
-- (placed by same_customer_within_window) once some contact of the journey had been handled, with
-- who handled the need last before it and whom the customer reached (docs/metrics.md, continuity).
--   a handling: an answered call segment, or a case event by an agent or a team (the unassigned
--     state is no team); transfers and reassignments inside one contact are no follow-up, nor is
--     a case escalated from a call (the organisation's move, not the customer's return).
--   previous_*: the journey's last handling of another contact strictly before the follow-up
--     started (at one instant, the later contact id, then the later segment or event).
--   agent_id, team: the follow-up's own first handling; none yet (abandoned, or a case not taken
--     in hand): handled is false.
--   final_at: a case not taken in hand yet may still be, until its acknowledgement deadline.
-- Agent codes are pseudonyms (keyed at ingest, equality kept): same agent, same pseudonym.
WITH handlings AS (
    SELECT
        jc.journey_id,
        'call' AS contact_type,
        s.call_id AS contact_ref,
        s.segment_no AS seq,
        s.answered_at AS handled_at,
        nullif(trim(s.agent_id), '') AS agent_id,
        nullif(trim(s.team), '') AS team
    FROM stg_calls AS s
    JOIN journey_contacts AS jc ON jc.contact_type = 'call' AND jc.contact_ref = s.call_id
    WHERE s.outcome = 'answered'
    UNION ALL
    SELECT
        jc.journey_id,
        'case',
        e.case_id,
        e.event_seq,
        e.event_at,
        nullif(trim(e.agent_id), ''),
        nullif(e.team, getvariable('unassigned_team'))
    FROM stg_case_events AS e
    JOIN journey_contacts AS jc ON jc.contact_type = 'case' AND jc.contact_ref = e.case_id
    WHERE nullif(trim(e.agent_id), '') IS NOT NULL OR e.team <> getvariable('unassigned_team')
),
returns AS (
    SELECT journey_id, contact_type, contact_ref, contact_at
    FROM journey_contacts
    WHERE stitch_rule = 'same_customer_within_window'
),
previous AS (
    SELECT
        r.contact_type,
        r.contact_ref,
        h.agent_id,
        h.team,
        row_number() OVER (
            PARTITION BY r.contact_type, r.contact_ref ORDER BY h.handled_at DESC, h.contact_ref DESC, h.seq DESC
        ) AS position
    FROM returns AS r
    JOIN handlings AS h
        ON
            h.journey_id = r.journey_id
            AND h.handled_at < r.contact_at
            AND NOT (h.contact_type = r.contact_type AND h.contact_ref = r.contact_ref)
),
reached AS (
    SELECT
        contact_type,
        contact_ref,
        agent_id,
        team,
        row_number() OVER (PARTITION BY contact_type, contact_ref ORDER BY handled_at, seq) AS position
    FROM handlings
)
SELECT
    r.journey_id,
    r.contact_type,
    r.contact_ref,
    r.contact_at,
    iso_week(r.contact_at) AS week,
    p.agent_id AS previous_agent_id,
    p.team AS previous_team,
    f.agent_id,
    f.team,
    f.contact_ref IS NOT NULL AS handled,
    coalesce(p.agent_id IS NOT NULL AND f.agent_id IS NOT NULL, false) AS agent_recorded,
    coalesce(p.agent_id = f.agent_id, false) AS same_agent,
    coalesce(p.team IS NOT NULL AND f.team IS NOT NULL, false) AS team_recorded,
    coalesce(p.team = f.team, false) AS same_team,
    CASE WHEN f.contact_ref IS NULL THEN r.contact_at + to_microseconds((3600e6 * c.ack_sla_hours)::BIGINT) END
        AS final_at
FROM returns AS r
JOIN previous AS p ON p.contact_type = r.contact_type AND p.contact_ref = r.contact_ref AND p.position = 1
LEFT JOIN reached AS f ON f.contact_type = r.contact_type AND f.contact_ref = r.contact_ref AND f.position = 1
LEFT JOIN stg_cases AS c ON r.contact_type = 'case' AND c.case_id = r.contact_ref
