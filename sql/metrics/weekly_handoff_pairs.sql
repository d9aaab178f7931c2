-- weekly_handoff_pairs: per ISO week and from-team -> to-team pair, handoffs and failures.
SELECT
    week,
    from_team,
    to_team,
    count(*) AS handoffs,
    count(*) FILTER (WHERE failed) AS failed,
    count(*) FILTER (WHERE failed) / count(*) AS failure_rate,
    getvariable('parameter_set') AS parameter_set
FROM handoffs
GROUP BY week, from_team, to_team
