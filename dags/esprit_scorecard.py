"""The weekly scorecard: `scorecard.publish_delay_hours` after each week ends in `week_timezone`
(Mondays 06:00), and again when late data restates a week.

Airflow 3 cron schedules carry no data interval, so a scheduled run works out the week itself:
the ISO week completed before the run ('previous'); 'all' or a YYYY-Www in the run's conf
re-renders other weeks. A run started by the metrics Asset renders the weeks that build
recomputed, so a restated week is re-published.
"""

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from pipelines.orchestration.tasks import METRICS_ASSET, dag_arguments, orchestration_settings

SETTINGS = orchestration_settings()


@dag(
    dag_id="esprit_scorecard",
    description="Weekly service-excellence scorecard",
    doc_md=__doc__,
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(SETTINGS["scorecard_cron"], timezone=SETTINGS["week_timezone"]),
        assets=Asset(**METRICS_ASSET),
    ),
    params={
        "weeks": Param("previous", type="string", description="'previous', 'all', or an ISO week such as 2026-W46")
    },
    tags=["esprit", "scorecard"],
    **dag_arguments(SETTINGS),
)
def esprit_scorecard():
    # readers open the warehouse read-only, but a read-only open still fails while a writer holds it:
    # rendering takes the warehouse pool's slot too (default_args)
    @task()
    def render_scorecards() -> list[str]:
        from pipelines.ingest.gx_check import ChecksPending, GreatExpectationsDisagree
        from pipelines.orchestration.tasks import NothingToRender, changed_weeks_from_events
        from pipelines.orchestration.tasks import render_scorecards as render

        context = get_current_context()
        events = [event.extra for asset_events in context["triggering_asset_events"].values() for event in asset_events]
        try:
            return render(context["params"]["weeks"], context["dag_run"].run_after, changed_weeks_from_events(events))
        except NothingToRender as reason:  # a fresh install's first Monday: nothing loaded yet
            raise AirflowSkipException(str(reason)) from None
        except ChecksPending as reason:  # the metrics run to come checks, builds, then publishes it
            raise AirflowSkipException(str(reason)) from None
        except GreatExpectationsDisagree as held:  # a week whose rows GX disagreed on: a bug to fix
            raise AirflowFailException(str(held)) from None

    render_scorecards()


esprit_scorecard()
