-- Macros the models share, defined on every connection that builds models or loads files
-- (warehouse.define_macros), after the week_tz variable they read.
-- iso_week: the ISO week label ('2026-W43') of a moment, cut at midnight in the week timezone
-- (a Sunday 23:30 call in Paris belongs to that Sunday's week).
CREATE OR REPLACE TEMP MACRO iso_week(moment) AS strftime(moment AT TIME ZONE getvariable('week_tz'), '%G-W%V');
