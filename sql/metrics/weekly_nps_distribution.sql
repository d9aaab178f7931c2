-- weekly_nps_distribution: per ISO week, how many responses gave each NPS score 0-10.
SELECT
    w.week,
    s.score,
    count(r.nps) AS responses,
    getvariable('parameter_set') AS parameter_set
FROM (SELECT DISTINCT week FROM stg_survey_responses) AS w
CROSS JOIN (SELECT unnest(range(0, 11)) AS score) AS s
LEFT JOIN stg_survey_responses AS r ON r.week = w.week AND r.nps = s.score
GROUP BY w.week, s.score
