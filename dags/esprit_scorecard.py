"""Render the weekly scorecard every Monday at 06:00 Europe/Paris.

Airflow 3 cron schedules carry no data interval, so the task works out the week itself:
by default the ISO week completed before the run ('previous'); 'all' or a YYYY-Www in the
run's conf re-renders other weeks.
"""

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task


@dag(
    dag_id="esprit_scorecard",
    description="Weekly service-excellence scorecard",
    schedule=CronTriggerTimetable("0 6 * * 1", timezone="Europe/Paris"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Paris"),
    catchup=False,
    max_active_runs=1,
    params={"weeks": Param("previous", type="string",
                           description="'previous', 'all', or an ISO week such as 2026-W46")},
    tags=["esprit", "scorecard"],
)
def esprit_scorecard():
    @task(retries=2, retry_delay=timedelta(seconds=20))
    def render_scorecards() -> list[str]:
        from pipelines.tasks import render_scorecards as render

        context = get_current_context()
        return render(context["params"]["weeks"], context["dag_run"].run_after)

    render_scorecards()


esprit_scorecard()
