"""The warehouse's models: `build` runs `sql/` (staging, journeys, metrics, scorecard) in full or
by week slices; `feeds` says which figures the configured feeds make measurable, and the data's
horizon that decides which figures are still provisional."""
