-- week_status: per ISO week on the scorecard, whether any of its figures was restated (changed
-- after an earlier build had published it), when last, and how many figure changes in all
-- (metric_restatements lists each).
SELECT
    w.week,
    count(r.week) > 0 AS restated,
    max(r.restated_at) AS restated_at,
    count(r.week)::INTEGER AS changes
FROM (SELECT DISTINCT week FROM weekly_scorecard) AS w
LEFT JOIN metric_restatements AS r USING (week)
GROUP BY w.week
