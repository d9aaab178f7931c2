"""The whole pipeline for a landing folder, without Airflow: ingest, models, scorecards."""

from __future__ import annotations

from pipelines.config import Settings
from pipelines.ingest.gx_check import check_loads
from pipelines.ingest.load import ingest_source
from pipelines.model.build import build_models
from pipelines.report.scorecard import render_weeks


def run_all(settings: Settings, step=None) -> dict:
    """Ingest every source, build the models, render the weeks; `step(message)` hears of each
    stage as it ends (the CLI shows them on the terminal)."""
    step = step or (lambda message: None)
    files = []
    for source in settings.sources:
        done = [r.as_dict() for r in ingest_source(settings, source, fail_on_reject=False)]
        loaded = [f for f in done if f["status"] == "loaded"]
        step(
            f"ingest {source}: {len(done)} file(s), {len(loaded)} loaded, "
            f"{sum(f['rows_loaded'] for f in done):,} rows loaded"
        )
        files += done
    # Great Expectations on the loads' samples; a disagreement raises: nothing built or published
    checked = check_loads(settings)
    step(f"Great Expectations: {checked['checked']} load(s) checked, agreeing with the compiled suite")
    built = build_models(settings)
    step(f"models: {'full build' if built['full'] else 'incremental build'}, {len(built['weeks'])} week(s)")
    pages = render_weeks(settings) if built["weeks"] else []
    step(f"scorecards: {len(pages)} file(s) written")
    summary = {
        "files_loaded": sum(1 for f in files if f["status"] == "loaded"),
        "files_skipped": sum(1 for f in files if f["status"] == "skipped"),
        "rejected_files": [f["file"] for f in files if f["status"] == "rejected"],
        "failed_files": [f["file"] for f in files if f["status"] == "failed"],
        "rows_read": sum(f["rows_read"] for f in files),
        "rows_loaded": sum(f["rows_loaded"] for f in files),
        "rows_quarantined": sum(f["rows_quarantined"] for f in files),
        "rows_duplicate": sum(f["rows_duplicate"] for f in files),
        "weeks": built["weeks"],
        "scorecards": str(settings.scorecards_dir),
        "data_docs": checked["data_docs"],
    }
    return {"summary": summary, "files": files, "models": built, "pages": [str(p) for p in pages]}
