-- weekly_team_supplier: the internal-supplier view. Per ISO week and receiving team: how much
-- work other teams handed it, how often that handoff failed, and why: how well each team serves
-- the teams that hand work to it (symétrie des attentions).
SELECT
    week,
    to_team AS team,
    count(*) AS handoffs_received,
    count(DISTINCT from_team) AS teams_served,
    count(*) FILTER (WHERE failed) AS failed,
    count(*) FILTER (WHERE failed) / count(*) AS failure_rate,
    count(*) FILTER (WHERE list_contains(failure_reasons, 'bounce_back')) AS bounce_back,
    count(*) FILTER (WHERE list_contains(failure_reasons, 'dropped')) AS dropped,
    count(*) FILTER (WHERE list_contains(failure_reasons, 'ping_pong')) AS ping_pong,
    count(*) FILTER (WHERE list_contains(failure_reasons, 'recontact')) AS recontact,
    count(*) FILTER (WHERE list_contains(failure_reasons, 'repeat_info')) AS repeat_info,
    count(*) FILTER (WHERE list_contains(failure_reasons, 'slow_pickup')) AS slow_pickup,
    count(*) FILTER (WHERE list_contains(failure_reasons, 'reopened')) AS reopened,
    getvariable('parameter_set') AS parameter_set
FROM handoffs
GROUP BY week, to_team
