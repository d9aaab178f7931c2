-- weekly_metrics: one row per ISO week and metric, with numerator and denominator so that every
-- figure can be traced and its sample size shown, a 95 % interval where one applies, and the
-- parameter set it was computed with. Definitions: docs/metrics.md.
-- final_at: for a figure that looks ahead in time, when the last of its rows stops looking ahead
-- (NULL: it does not look ahead); past the data's horizon the figure is provisional
-- (weekly_scorecard).
WITH calls AS (
    SELECT
        week,
        count(*) AS offered,
        count(*) FILTER (WHERE first_outcome = 'abandoned') AS abandoned,
        count(*) FILTER (
            WHERE first_outcome = 'abandoned' AND first_abandon_seconds < getvariable('short_abandon_seconds')
        ) AS short_abandoned,
        count(*) FILTER (
            WHERE first_outcome = 'answered' AND first_wait_seconds <= getvariable('service_level_seconds')
        ) AS answered_in_time,
        count(*) FILTER (WHERE first_outcome = 'answered') AS answered_first,
        sum(first_wait_seconds) FILTER (WHERE first_outcome = 'answered') AS wait_sum,
        count(*) FILTER (WHERE answered) AS answered,
        sum(handle_seconds) FILTER (WHERE answered) AS handle_sum,
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
        sum(ces) AS ces_sum,
        count(*) FILTER (WHERE ces >= 5) AS ces_easy,
        count(resolved) AS said_n,
        count(*) FILTER (WHERE resolved) AS said_resolved
    FROM stg_survey_responses
    GROUP BY week
),
-- praise: a verbatim that names something going well and nothing going wrong (its themes read by
-- the build, verbatim_themes); only responses with a verbatim count, so a survey without free text
-- has no figure, not 0 %
praise AS (
    SELECT
        week,
        count(*) AS with_verbatim,
        count(*) FILTER (
            WHERE response_id IN (SELECT response_id FROM verbatim_themes WHERE polarity = '+')
                AND response_id NOT IN (SELECT response_id FROM verbatim_themes WHERE polarity = '-')
        ) AS praising
    FROM stg_survey_responses
    WHERE nullif(trim(verbatim), '') IS NOT NULL
    GROUP BY week
),
-- acknowledgement is read from the case history: a case with no event at all (a snapshot export,
-- or a history not delivered yet) is not counted, so a site without history has no figure, not 0 %
cases_opened AS (
    SELECT
        week,
        count(*) AS opened,
        count(*) FILTER (WHERE has_history) AS with_history,
        count(*) FILTER (
            WHERE has_history AND epoch(acknowledged_at) - epoch(opened_at) <= 3600 * ack_sla_hours
        ) AS acknowledged_in_time
    FROM stg_cases
    GROUP BY week
),
cases_resolved AS (
    SELECT
        iso_week(first_resolved_at) AS week,
        count(*) AS resolved,
        count(*) FILTER (
            WHERE epoch(first_resolved_at) - epoch(opened_at) <= 86400 * sla_days
        ) AS within_sla,
        count(*) FILTER (WHERE reopenings > 0) AS reopened,
        quantile_cont((epoch(first_resolved_at) - epoch(opened_at)) / 86400, 0.5) AS days_median,
        quantile_cont((epoch(first_resolved_at) - epoch(opened_at)) / 86400, 0.9) AS days_p90
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
-- when each look-ahead figure of a week becomes final: a first answer that resolved can still be
-- followed by another contact of its journey, a handoff by the caller's recontact, a resolved
-- complaint by its reopening, each within journey_window_days; a complaint not acknowledged yet
-- may still be, until its acknowledgement deadline
look_ahead AS (
    SELECT week, 'first_contact_resolution' AS metric,
        max(first_answered_at) FILTER (WHERE first_contact_resolved) + to_days(getvariable('journey_window_days'))
            AS final_at
    FROM journeys
    GROUP BY week
    UNION ALL
    SELECT week, 'handoff_failure_rate', max(handoff_at) + to_days(getvariable('journey_window_days'))
    FROM handoffs
    GROUP BY week
    UNION ALL
    SELECT week, 'complaints_acknowledged_within_sla',
        max(opened_at + to_microseconds((3600e6 * ack_sla_hours)::BIGINT))
    FROM stg_cases
    GROUP BY week
    UNION ALL
    SELECT resolved_week, 'complaint_reopen_rate',
        max(first_resolved_at) + to_days(getvariable('journey_window_days'))
    FROM stg_cases
    WHERE first_resolved_at IS NOT NULL
    GROUP BY resolved_week
),
-- one row per week of any source (NULL where a source has none); stacked and grouped rather than
-- joined, so that a filter on weeks reaches every source's scan
wide AS (
    SELECT week, max(COLUMNS(* EXCLUDE (week))) AS "\0"
    FROM (
        SELECT * FROM calls
        UNION ALL BY NAME SELECT * FROM surveys
        UNION ALL BY NAME SELECT * FROM praise
        UNION ALL BY NAME SELECT * FROM cases_opened
        UNION ALL BY NAME SELECT * FROM cases_resolved
        UNION ALL BY NAME SELECT * FROM journey_weeks
        UNION ALL BY NAME SELECT * FROM handoff_weeks
    )
    GROUP BY week
),
-- metric, numerator, denominator, unit, and an explicit value where it is not num / den
long AS (
    SELECT week, 'calls_offered' AS metric, offered AS numerator, NULL AS denominator, 'count' AS unit,
        NULL::DOUBLE AS explicit_value, NULL::DOUBLE AS ci_low, NULL::DOUBLE AS ci_high FROM wide
    UNION ALL SELECT week, 'abandonment_rate', abandoned, offered, 'pct', NULL, NULL, NULL FROM wide
    UNION ALL SELECT week, 'service_level', answered_in_time, offered - short_abandoned, 'pct', NULL, NULL, NULL
        FROM wide
    UNION ALL SELECT week, 'average_speed_of_answer', wait_sum, answered_first, 'seconds', NULL, NULL, NULL FROM wide
    UNION ALL SELECT week, 'average_handle_time', handle_sum, answered, 'seconds', NULL, NULL, NULL FROM wide
    UNION ALL SELECT week, 'transfer_rate', transferred, answered, 'pct', NULL, NULL, NULL FROM wide
    UNION ALL SELECT week, 'survey_responses', nps_n, NULL, 'count', NULL, NULL, NULL FROM wide
    -- NPS interval: the variance of (promoter - detractor) per response is p + d - (p - d)^2
    -- (normal approximation, clamped to the scale's -100..+100)
    UNION ALL SELECT week, 'nps', promoters - detractors, nps_n, 'points', NULL,
        greatest(-100, 100 * ((promoters - detractors) / nps_n - 1.96 * sqrt(((promoters + detractors) / nps_n
            - power((promoters - detractors) / nps_n, 2)) / nps_n))),
        least(100, 100 * ((promoters - detractors) / nps_n + 1.96 * sqrt(((promoters + detractors) / nps_n
            - power((promoters - detractors) / nps_n, 2)) / nps_n)))
        FROM wide
    UNION ALL SELECT week, 'nps_promoters', promoters, nps_n, 'pct', NULL, NULL, NULL FROM wide
    UNION ALL SELECT week, 'verbatim_praise', praising, with_verbatim, 'pct', NULL, NULL, NULL FROM wide
    UNION ALL SELECT week, 'nps_passives', passives, nps_n, 'pct', NULL, NULL, NULL FROM wide
    UNION ALL SELECT week, 'nps_detractors', detractors, nps_n, 'pct', NULL, NULL, NULL FROM wide
    -- CSAT top-2-box with a Wilson score interval (z = 1.96)
    UNION ALL SELECT week, 'csat', csat_satisfied, csat_n, 'pct', NULL,
        100 * ((csat_satisfied / csat_n + 1.9208 / csat_n) - 1.96 * sqrt(csat_satisfied / csat_n
            * (1 - csat_satisfied / csat_n) / csat_n + 0.9604 / power(csat_n, 2))) / (1 + 3.8416 / csat_n),
        100 * ((csat_satisfied / csat_n + 1.9208 / csat_n) + 1.96 * sqrt(csat_satisfied / csat_n
            * (1 - csat_satisfied / csat_n) / csat_n + 0.9604 / power(csat_n, 2))) / (1 + 3.8416 / csat_n)
        FROM wide
    UNION ALL SELECT week, 'ces', ces_sum, ces_n, 'score', NULL, NULL, NULL FROM wide
    UNION ALL SELECT week, 'ces_easy', ces_easy, ces_n, 'pct', NULL, NULL, NULL FROM wide
    UNION ALL SELECT week, 'journeys', journeys, NULL, 'count', NULL, NULL, NULL FROM wide
    UNION ALL SELECT week, 'first_contact_resolution', resolved_first, with_answer, 'pct', NULL, NULL, NULL FROM wide
    UNION ALL SELECT week, 'resolved_customer_reported', said_resolved, said_n, 'pct', NULL, NULL, NULL FROM wide
    UNION ALL SELECT week, 'handoffs', handoffs, NULL, 'count', NULL, NULL, NULL FROM wide
    UNION ALL SELECT week, 'handoff_failure_rate', failed, handoffs, 'pct', NULL, NULL, NULL FROM wide
    UNION ALL SELECT week, 'complaints_opened', opened, NULL, 'count', NULL, NULL, NULL FROM wide
    -- a week with no call data has no contact base to count against: no figure, not 1,000
    UNION ALL SELECT week, 'complaints_per_1000_contacts', 1000 * coalesce(opened, 0),
        offered + coalesce(opened, 0), 'per_1000', NULL, NULL, NULL FROM wide
    UNION ALL SELECT week, 'complaints_acknowledged_within_sla', acknowledged_in_time, with_history, 'pct', NULL, NULL,
        NULL FROM wide
    UNION ALL SELECT week, 'complaints_resolved_within_sla', within_sla, resolved, 'pct', NULL, NULL, NULL FROM wide
    UNION ALL SELECT week, 'complaint_reopen_rate', reopened, resolved, 'pct', NULL, NULL, NULL FROM wide
    UNION ALL SELECT week, 'complaint_resolution_days_median', NULL, resolved, 'days', days_median, NULL, NULL
        FROM wide
    UNION ALL SELECT week, 'complaint_resolution_days_p90', NULL, resolved, 'days', days_p90, NULL, NULL FROM wide
)
SELECT
    week,
    metric,
    CASE WHEN unit = 'days' THEN numerator ELSE coalesce(numerator, 0) END::DOUBLE AS numerator,
    denominator::DOUBLE AS denominator,
    CASE
        WHEN explicit_value IS NOT NULL THEN explicit_value
        WHEN unit = 'count' THEN coalesce(numerator, 0)::DOUBLE
        -- a rate with nothing to count (a week without surveys, or without calls) has no value,
        -- never a false 0 %
        WHEN coalesce(denominator, 0) = 0 THEN NULL
        WHEN unit IN ('pct', 'points') THEN 100.0 * coalesce(numerator, 0) / denominator
        ELSE coalesce(numerator, 0)::DOUBLE / denominator
    END AS value,
    unit,
    CASE WHEN denominator > 0 THEN ci_low END AS ci_low,
    CASE WHEN denominator > 0 THEN ci_high END AS ci_high,
    a.final_at,
    getvariable('parameter_set') AS parameter_set
FROM long
LEFT JOIN look_ahead AS a USING (week, metric)
