-- weekly_metrics: one row per ISO week and metric, with numerator and denominator so that every
-- figure can be traced and its sample size shown. Definitions: docs/metrics.md.
WITH calls AS (
    SELECT
        week,
        count(*) AS offered,
        count(*) FILTER (WHERE first_outcome = 'abandoned') AS abandoned,
        count(*) FILTER (
            WHERE first_outcome = 'answered' AND first_wait_seconds <= getvariable('service_level_seconds')
        ) AS answered_in_time,
        count(*) FILTER (WHERE answered) AS answered,
        count(*) FILTER (WHERE answered AND team_changes > 0) AS transferred
    FROM stg_call_outcomes
    GROUP BY week
),
surveys AS (
    SELECT
        week,
        count(nps) AS nps_n,
        count(*) FILTER (WHERE nps_category = 'promoter') AS promoters,
        count(*) FILTER (WHERE nps_category = 'passive') AS passives,
        count(*) FILTER (WHERE nps_category = 'detractor') AS detractors,
        count(csat) AS csat_n,
        count(*) FILTER (WHERE csat >= 4) AS csat_satisfied,
        count(ces) AS ces_n,
        sum(ces) AS ces_sum
    FROM stg_survey_responses
    GROUP BY week
),
cases_opened AS (
    SELECT week, count(*) AS opened FROM stg_cases GROUP BY week
),
cases_resolved AS (
    SELECT
        strftime(first_resolved_at AT TIME ZONE getvariable('week_tz'), '%G-W%V') AS week,
        count(*) AS resolved,
        count(*) FILTER (
            WHERE first_resolved_at - opened_at <= to_days(getvariable('complaint_sla_days'))
        ) AS within_sla
    FROM stg_cases
    WHERE first_resolved_at IS NOT NULL
    GROUP BY 1
),
journey_weeks AS (
    SELECT
        week,
        count(*) AS journeys,
        count(first_contact_resolved) AS with_answer,
        count(*) FILTER (WHERE first_contact_resolved) AS resolved_first
    FROM journeys
    GROUP BY week
),
handoff_weeks AS (
    SELECT week, count(*) AS handoffs, count(*) FILTER (WHERE failed) AS failed
    FROM handoffs
    GROUP BY week
),
weeks AS (
    SELECT week FROM calls UNION SELECT week FROM surveys UNION SELECT week FROM cases_opened
    UNION SELECT week FROM journey_weeks UNION SELECT week FROM handoff_weeks
),
wide AS (
    SELECT *
    FROM weeks
    LEFT JOIN calls USING (week)
    LEFT JOIN surveys USING (week)
    LEFT JOIN cases_opened USING (week)
    LEFT JOIN cases_resolved USING (week)
    LEFT JOIN journey_weeks USING (week)
    LEFT JOIN handoff_weeks USING (week)
),
long AS (
    SELECT week, 'calls_offered' AS metric, offered AS numerator, NULL AS denominator, 'count' AS unit FROM wide
    UNION ALL SELECT week, 'abandonment_rate', abandoned, offered, 'pct' FROM wide
    UNION ALL SELECT week, 'service_level', answered_in_time, offered, 'pct' FROM wide
    UNION ALL SELECT week, 'transfer_rate', transferred, answered, 'pct' FROM wide
    UNION ALL SELECT week, 'survey_responses', nps_n, NULL, 'count' FROM wide
    UNION ALL SELECT week, 'nps', promoters - detractors, nps_n, 'points' FROM wide
    UNION ALL SELECT week, 'nps_promoters', promoters, nps_n, 'pct' FROM wide
    UNION ALL SELECT week, 'nps_passives', passives, nps_n, 'pct' FROM wide
    UNION ALL SELECT week, 'nps_detractors', detractors, nps_n, 'pct' FROM wide
    UNION ALL SELECT week, 'csat', csat_satisfied, csat_n, 'pct' FROM wide
    UNION ALL SELECT week, 'ces', ces_sum, ces_n, 'score' FROM wide
    UNION ALL SELECT week, 'journeys', journeys, NULL, 'count' FROM wide
    UNION ALL SELECT week, 'first_contact_resolution', resolved_first, with_answer, 'pct' FROM wide
    UNION ALL SELECT week, 'handoffs', handoffs, NULL, 'count' FROM wide
    UNION ALL SELECT week, 'handoff_failure_rate', failed, handoffs, 'pct' FROM wide
    UNION ALL SELECT week, 'complaints_opened', opened, NULL, 'count' FROM wide
    UNION ALL SELECT week, 'complaints_per_1000_contacts', 1000 * coalesce(opened, 0),
        coalesce(offered, 0) + coalesce(opened, 0), 'per_1000' FROM wide
    UNION ALL SELECT week, 'complaints_resolved_within_sla', within_sla, resolved, 'pct' FROM wide
)
SELECT
    week,
    metric,
    coalesce(numerator, 0)::DOUBLE AS numerator,
    denominator::DOUBLE AS denominator,
    CASE
        WHEN denominator IS NULL THEN coalesce(numerator, 0)::DOUBLE
        WHEN denominator = 0 THEN NULL
        WHEN unit IN ('pct', 'points') THEN 100.0 * coalesce(numerator, 0) / denominator
        ELSE coalesce(numerator, 0)::DOUBLE / denominator
    END AS value,
    unit
FROM long
