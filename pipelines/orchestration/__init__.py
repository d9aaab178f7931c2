"""Where Airflow meets Esprit: `tasks` (the one function each DAG task calls), `landing_watch`
(the trigger behind the landing-folder asset watchers), `local_airflow` (an embedded Airflow's
environment and `dag.test()` runs), and `run` (the whole pipeline without Airflow)."""
