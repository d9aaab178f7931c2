-- weekly_continuity: per ISO week of the follow-up, how often a customer coming back within a
-- journey reached the agent, and the team, who last handled the need (followups;
-- docs/metrics.md, continuity). A follow-up without both agents recorded is left out of agent
-- continuity and counted apart (no_agent_recorded), never as a break; a share with nothing to
-- count has no value, never 0.
SELECT
    week,
    count(*) FILTER (WHERE handled) AS followups,
    count(*) FILTER (WHERE agent_recorded) AS agent_recorded,
    count(*) FILTER (WHERE same_agent) AS same_agent,
    count(*) FILTER (WHERE handled AND NOT agent_recorded) AS no_agent_recorded,
    count(*) FILTER (WHERE team_recorded) AS team_recorded,
    count(*) FILTER (WHERE same_team) AS same_team,
    count(*) FILTER (WHERE same_agent) / nullif(count(*) FILTER (WHERE agent_recorded), 0) AS agent_continuity,
    count(*) FILTER (WHERE same_team) / nullif(count(*) FILTER (WHERE team_recorded), 0) AS team_continuity,
    max(final_at) AS final_at,
    getvariable('parameter_set') AS parameter_set
FROM followups
GROUP BY week
