-- stg_survey_responses: one row per response, with its NPS category and ISO week.
SELECT
    response_id,
    customer_ref,
    interaction_type,
    interaction_ref,
    responded_at,
    nps,
    CASE WHEN nps >= 9 THEN 'promoter' WHEN nps >= 7 THEN 'passive' WHEN nps >= 0 THEN 'detractor' END
        AS nps_category,
    csat,
    ces,
    resolved,
    had_to_repeat,
    verbatim,
    language,
    iso_week(responded_at) AS week,
    source_file,
    source_line
FROM survey_responses
