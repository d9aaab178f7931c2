-- weekly_survey_drivers: per ISO week and rated aspect of a wide survey (survey_answers), how
-- satisfied and dissatisfied respondents rated it: the aspects whose ratings differ most between
-- them are those that go with dissatisfaction. A respondent is satisfied with a CSAT of 4 or 5
-- (dissatisfied: 1 to 3), or, without a CSAT, with an NPS of 7 or more (a detractor: 0 to 6);
-- without either, only the all-respondents figures count them. A mean over no answer is NULL
-- ("no data"), never 0.
WITH answers AS (
    SELECT
        r.week,
        a.question,
        a.scale,
        a.value,
        a.not_applicable,
        CASE
            WHEN r.csat IS NOT NULL THEN r.csat >= 4
            WHEN r.nps IS NOT NULL THEN r.nps >= 7
        END AS satisfied
    FROM survey_answers AS a
    INNER JOIN stg_survey_responses AS r ON a.response_ref = r.response_id
)

SELECT
    week,
    question,
    scale,
    count(value) AS answers,
    count(*) FILTER (WHERE not_applicable) AS not_applicable,
    avg(value) AS mean_value,
    count(value) FILTER (WHERE satisfied) AS satisfied_answers,
    avg(value) FILTER (WHERE satisfied) AS satisfied_mean,
    count(value) FILTER (WHERE NOT satisfied) AS dissatisfied_answers,
    avg(value) FILTER (WHERE NOT satisfied) AS dissatisfied_mean,
    avg(value) FILTER (WHERE satisfied) - avg(value) FILTER (WHERE NOT satisfied) AS gap,
    getvariable('parameter_set') AS parameter_set
FROM answers
GROUP BY week, question, scale
