-- weekly_team_attention: the symmetry of attention, per ISO week and team (docs/excellence.md).
--   served_*: how the other teams served this team, as its own staff rated them in the internal
--     pulse (reactivity, clarity of handoffs, helpfulness, 1-5; served_score the mean of an
--     answer's items, averaged over the answers);
--   serving_score: how this team served the others, as their staff rated it; engagement: its own
--     staff's engagement (1-5);
--   handoffs received and given, and the share that failed (handoffs: to_team and from_team);
--   journeys_touched: journeys started that week with a call segment or a case event of the team;
--     friction_share, the share of them with a friction signal; nps (-100 to 100) of their
--     survey responses.
-- Anonymity: a pulse figure rests on at least pulse_min_group_size respondents, else it and its
-- count are NULL and its status says too_few_answers (no answers at all: no_data). Without a
-- respondent id the respondents are counted from the answers: a staff member answers once per team
-- rated, so a team's respondents are at least its most-answered pair's answers (a lower bound:
-- the threshold errs towards hiding).
WITH pulse AS (
    SELECT
        iso_week(answered_at) AS week,
        rater_team,
        nullif(trim(rated_team), '') AS rated_team,
        coalesce(respondent_ref, answer_id) AS respondent,
        -- the mean of the items the answer gives (list_avg skips the empty ones)
        list_avg([reactivity, handoff_clarity, helpfulness]) AS score,
        reactivity,
        handoff_clarity,
        helpfulness,
        engagement
    FROM internal_pulse
),
ratings AS (  -- an answer about another team's service, once as its rater's and once as its rated team's
    SELECT 'served' AS side, rater_team AS team, * FROM pulse WHERE rated_team <> rater_team AND score IS NOT NULL
    UNION ALL
    SELECT 'serving', rated_team, * FROM pulse WHERE rated_team <> rater_team AND score IS NOT NULL
    UNION ALL
    SELECT 'engagement', rater_team, * FROM pulse WHERE rated_team IS NULL AND engagement IS NOT NULL
),
pair_respondents AS (
    SELECT side, week, team, rater_team, rated_team, count(DISTINCT respondent) AS respondents
    FROM ratings
    GROUP BY ALL
),
group_respondents AS (  -- the same staff answer about each team they rate; staff of two teams are distinct
    SELECT side, week, team, sum(respondents)::INTEGER AS respondents
    FROM (SELECT side, week, team, rater_team, max(respondents) AS respondents FROM pair_respondents GROUP BY ALL)
    GROUP BY ALL
),
groups AS (
    SELECT
        r.side,
        r.week,
        r.team,
        g.respondents >= getvariable('pulse_min_group_size') AS shown,
        g.respondents,
        avg(r.score) AS score,
        avg(r.reactivity) AS reactivity,
        avg(r.handoff_clarity) AS handoff_clarity,
        avg(r.helpfulness) AS helpfulness,
        avg(r.engagement) AS engagement
    FROM ratings AS r
    JOIN group_respondents AS g USING (side, week, team)
    GROUP BY ALL
),
pulse_groups AS (  -- only what may be shown leaves this step
    SELECT
        side,
        week,
        team,
        CASE WHEN shown THEN 'shown' ELSE 'too_few_answers' END AS status,
        CASE WHEN shown THEN respondents END AS respondents,
        CASE WHEN shown THEN score END AS score,
        CASE WHEN shown THEN reactivity END AS reactivity,
        CASE WHEN shown THEN handoff_clarity END AS handoff_clarity,
        CASE WHEN shown THEN helpfulness END AS helpfulness,
        CASE WHEN shown THEN engagement END AS engagement
    FROM groups
),
handoff_sides AS (
    SELECT week, to_team AS team, count(*) AS received, count(*) FILTER (WHERE failed) AS failed_received,
        0 AS given, 0 AS failed_given
    FROM handoffs
    GROUP BY ALL
    UNION ALL
    SELECT week, from_team, 0, 0, count(*), count(*) FILTER (WHERE failed)
    FROM handoffs
    GROUP BY ALL
),
handoff_teams AS (
    SELECT
        week,
        team,
        sum(received)::BIGINT AS handoffs_received,
        sum(failed_received)::BIGINT AS failed_received,
        sum(given)::BIGINT AS handoffs_given,
        sum(failed_given)::BIGINT AS failed_given
    FROM handoff_sides
    GROUP BY ALL
),
team_journeys AS (  -- the journeys a team touched: a call segment offered to it, a case event while it held the case
    SELECT c.team, jc.journey_id
    FROM journey_contacts AS jc
    JOIN stg_calls AS c ON jc.contact_type = 'call' AND c.call_id = jc.contact_ref
    UNION
    SELECT e.team, jc.journey_id
    FROM journey_contacts AS jc
    JOIN stg_case_events AS e ON jc.contact_type = 'case' AND e.case_id = jc.contact_ref
),
journey_outcomes AS (
    SELECT
        j.journey_id,
        j.week,
        f.journey_id IS NOT NULL AS had_friction
    FROM journeys AS j
    LEFT JOIN (SELECT DISTINCT journey_id FROM friction_events) AS f ON f.journey_id = j.journey_id
),
journey_answers AS (
    SELECT jc.journey_id, r.nps_category
    FROM journey_contacts AS jc
    JOIN stg_survey_responses AS r ON jc.contact_type = 'survey' AND r.response_id = jc.contact_ref
    WHERE r.nps_category IS NOT NULL
),
customer_teams AS (
    SELECT
        o.week,
        tj.team,
        count(DISTINCT o.journey_id) AS journeys_touched,
        count(DISTINCT o.journey_id) FILTER (WHERE o.had_friction) AS journeys_with_friction
    FROM team_journeys AS tj
    JOIN journey_outcomes AS o USING (journey_id)
    GROUP BY ALL
),
customer_answers AS (
    SELECT
        o.week,
        tj.team,
        count(*) AS nps_responses,
        count(*) FILTER (WHERE a.nps_category = 'promoter') AS promoters,
        count(*) FILTER (WHERE a.nps_category = 'detractor') AS detractors
    FROM team_journeys AS tj
    JOIN journey_outcomes AS o USING (journey_id)
    JOIN journey_answers AS a USING (journey_id)
    GROUP BY ALL
),
team_weeks AS (
    SELECT week, team FROM pulse_groups
    UNION SELECT week, team FROM handoff_teams
    UNION SELECT week, team FROM customer_teams
)
SELECT
    tw.week,
    tw.team,
    coalesce(served.status, 'no_data') AS served_status,
    served.respondents AS served_respondents,
    served.score AS served_score,
    served.reactivity AS served_reactivity,
    served.handoff_clarity AS served_handoff_clarity,
    served.helpfulness AS served_helpfulness,
    coalesce(serving.status, 'no_data') AS serving_status,
    serving.respondents AS serving_respondents,
    serving.score AS serving_score,
    coalesce(engaged.status, 'no_data') AS engagement_status,
    engaged.respondents AS engagement_respondents,
    engaged.engagement,
    h.handoffs_received,
    h.failed_received,
    h.failed_received / nullif(h.handoffs_received, 0) AS failure_rate_received,
    h.handoffs_given,
    h.failed_given,
    h.failed_given / nullif(h.handoffs_given, 0) AS failure_rate_given,
    c.journeys_touched,
    c.journeys_with_friction / c.journeys_touched AS friction_share,
    a.nps_responses,
    100.0 * (a.promoters - a.detractors) / a.nps_responses AS nps,
    getvariable('parameter_set') AS parameter_set
FROM team_weeks AS tw
LEFT JOIN pulse_groups AS served ON served.side = 'served' AND served.week = tw.week AND served.team = tw.team
LEFT JOIN pulse_groups AS serving ON serving.side = 'serving' AND serving.week = tw.week AND serving.team = tw.team
LEFT JOIN pulse_groups AS engaged ON engaged.side = 'engagement' AND engaged.week = tw.week AND engaged.team = tw.team
LEFT JOIN handoff_teams AS h ON h.week = tw.week AND h.team = tw.team
LEFT JOIN customer_teams AS c ON c.week = tw.week AND c.team = tw.team
LEFT JOIN customer_answers AS a ON a.week = tw.week AND a.team = tw.team
WHERE tw.team IS NOT NULL AND tw.team <> getvariable('unassigned_team')
