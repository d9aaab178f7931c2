-- weekly_channel_kpis: per ISO week the complaint was opened and per channel it came through,
-- how complaints were handled. Each rate keeps its numerator and denominator:
--   resolved_within_sla_rate  resolved within the case's SLA (stg_cases.sla_days) / resolved
--   reopen_rate               reopened at least once / resolved
--   resolution days           median and P90 of (first resolution - opening), resolved cases only
SELECT
    week,
    coalesce(channel, 'unknown') AS channel,
    count(*) AS opened,
    count(first_resolved_at) AS resolved,
    count(*) FILTER (
        WHERE epoch(first_resolved_at) - epoch(opened_at) <= 86400 * sla_days
    ) AS resolved_within_sla,
    count(*) FILTER (
        WHERE epoch(first_resolved_at) - epoch(opened_at) <= 86400 * sla_days
    ) / nullif(count(first_resolved_at), 0) AS resolved_within_sla_rate,
    count(*) FILTER (WHERE first_resolved_at IS NOT NULL AND reopenings > 0) AS reopened,
    count(*) FILTER (WHERE first_resolved_at IS NOT NULL AND reopenings > 0)
        / nullif(count(first_resolved_at), 0) AS reopen_rate,
    quantile_cont((epoch(first_resolved_at) - epoch(opened_at)) / 86400, 0.5) AS resolution_days_median,
    quantile_cont((epoch(first_resolved_at) - epoch(opened_at)) / 86400, 0.9) AS resolution_days_p90,
    getvariable('parameter_set') AS parameter_set
FROM stg_cases
GROUP BY week, coalesce(channel, 'unknown')
