"""What people read: the weekly scorecard pages (`scorecard`, with `charts`, `i18n` and the
significance of changes in `stats`), the failed-handoff investigation pages (`investigate`),
CSV/Parquet `exports` and `pdf` prints."""
