-- weekly_team_supplier: the internal-supplier view. Per ISO week and receiving team: how much
-- work other teams handed it, how often that handoff failed, and why: how well each team serves
-- the teams that hand work to it (symétrie des attentions).
-- One column per failure reason, counted from the handoffs' reasons one row each and pivoted on
-- the handoff_reason type, whose values are the reasons of sql/vocabulary.yaml in their order:
-- a reason added there has its column here, 0 in a week without it.
WITH received AS (
    SELECT
        week,
        to_team AS team,
        count(*) AS handoffs_received,
        count(DISTINCT from_team) AS teams_served,
        count(*) FILTER (WHERE failed) AS failed,
        count(*) FILTER (WHERE failed) / count(*) AS failure_rate
    FROM handoffs
    GROUP BY week, to_team
),
reasons AS (  -- every handoff once with no reason (so that each team has a row), once per reason
    SELECT h.week, h.to_team AS team, r.reason
    FROM handoffs AS h
    LEFT JOIN (SELECT handoff_key, unnest(failure_reasons) AS reason FROM handoffs) AS r USING (handoff_key)
)
SELECT
    received.*,
    COLUMNS(counts.* EXCLUDE (week, team)),
    getvariable('parameter_set') AS parameter_set
FROM received
JOIN (PIVOT reasons ON reason IN handoff_reason USING count(*) GROUP BY week, team) AS counts USING (week, team)
