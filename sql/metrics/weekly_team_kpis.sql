-- weekly_team_kpis: per ISO week and team, the call segments its queues were offered and how it
-- handled them: abandonment, speed of answer, handle time, transfers out.
SELECT
    week,
    team,
    count(*) AS segments_offered,
    count(*) FILTER (WHERE outcome = 'answered') AS answered,
    count(*) FILTER (WHERE outcome = 'abandoned') / count(*) AS abandonment_rate,
    avg(wait_seconds) FILTER (WHERE outcome = 'answered') AS average_speed_of_answer,
    avg(epoch(ended_at) - epoch(answered_at)) FILTER (WHERE outcome = 'answered') AS average_handle_time,
    count(*) FILTER (WHERE next_team IS NOT NULL AND next_team <> team) AS transferred_out,
    getvariable('parameter_set') AS parameter_set
FROM stg_calls
GROUP BY week, team
