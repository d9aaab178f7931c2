"""One ingest DAG per source, started by the arrival of its files: validate, load, emit an Asset.

The source's landing Asset is watched from the triggerer (AssetWatcher): a file landing in
landing/<source>/ — or, when `orchestration.redis_channel` is set, an entry of the Redis
stream <channel>:<source> (`esprit announce`) — creates an Asset event that starts this DAG,
one per arrival whichever watcher saw it first. No polling DAG runs, no manual trigger.

load -> publish: emits the source's Asset when files were loaded (metrics follow);
load -> check:   fails, loudly and without retry, when a file was rejected. The good files of
                 the same arrival are published all the same.
Only `load` opens the warehouse: `publish` and `check` leave its pool's one slot to the next
warehouse task (the metrics run their publish starts), so that it need not wait for them.
"""

from airflow.sdk import Asset, AssetWatcher, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from pipelines.orchestration.announcements import AnnouncementStreamTrigger, announcement_stream
from pipelines.orchestration.landing_watch import LandingFolderTrigger
from pipelines.orchestration.tasks import dag_arguments, landing_asset, orchestration_settings, source_asset

SETTINGS = orchestration_settings()
OUTSIDE_WAREHOUSE = "default_pool"  # Airflow's own pool, for tasks that do not open the warehouse


def landing_watchers(source: str) -> list[AssetWatcher]:
    folder = SETTINGS["landing"][source]
    stream = announcement_stream(SETTINGS["redis_channel"], source) if SETTINGS["redis_channel"] else ""
    watchers = [
        AssetWatcher(
            name=f"esprit_{source}_landing_folder",
            trigger=LandingFolderTrigger(
                folder=folder,
                source=source,
                poll_seconds=SETTINGS["watch_poll_seconds"],
                announcement_stream=stream,
                redis_conn_id=SETTINGS["redis_conn_id"] if stream else "",
            ),
        )
    ]
    if stream:
        watchers.append(
            AssetWatcher(
                name=f"esprit_{source}_announcements",
                trigger=AnnouncementStreamTrigger(
                    stream=stream, source=source, folder=folder, redis_conn_id=SETTINGS["redis_conn_id"]
                ),
            )
        )
    return watchers


def ingest_dag(source: str):
    landed = Asset(**landing_asset(source), watchers=landing_watchers(source))
    loaded = Asset(**source_asset(source))

    @dag(
        dag_id=f"esprit_ingest_{source}",
        description=f"Validate and load the {source} landing files into the warehouse",
        doc_md=__doc__,
        schedule=[landed],
        tags=["esprit", "ingest"],
        **dag_arguments(SETTINGS),
    )
    def ingest_source():
        @task(task_id="load")
        def load() -> dict:
            from pipelines.orchestration.tasks import ingest

            return ingest(source)

        @task(task_id="publish", outlets=[loaded], pool=OUTSIDE_WAREHOUSE)
        def publish(result: dict) -> dict:
            if not result["files"]:  # nothing new: no Asset event, no metrics run; the log says why
                from pipelines.orchestration.tasks import skip_report

                raise AirflowSkipException(skip_report(result))
            get_current_context()["outlet_events"][loaded].extra = {
                k: v for k, v in result.items() if k not in ("rejected", "failed", "skipped")
            }
            return result

        @task(task_id="check", pool=OUTSIDE_WAREHOUSE)
        def check(result: dict) -> None:
            from pipelines.orchestration.tasks import rejection_report

            report = rejection_report(result)
            if report:  # a rejected file: retrying cannot fix it; fail now, with the validation result
                raise AirflowFailException(report)

        result = load()
        publish(result)
        check(result)

    return ingest_source()


for _source in SETTINGS["sources"]:
    globals()[f"esprit_ingest_{_source}"] = ingest_dag(_source)
