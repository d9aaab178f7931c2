-- weekly_handoff_reasons: per ISO week and failure reason, the handoffs it applies to and their
-- share of all the week's handoffs (a handoff can fail for several reasons).
WITH weekly AS (
    SELECT week, count(*) AS handoffs FROM handoffs GROUP BY week
),
reasons AS (
    SELECT week, unnest(failure_reasons) AS reason FROM handoffs
)
SELECT
    r.week,
    r.reason,
    count(*) AS handoffs_with_reason,
    any_value(w.handoffs) AS handoffs,
    count(*) / any_value(w.handoffs) AS share_of_handoffs,
    getvariable('parameter_set') AS parameter_set
FROM reasons AS r
JOIN weekly AS w USING (week)
GROUP BY r.week, r.reason
