# The Airflow image for Esprit's multi-node deployment: the project's locked dependencies
# on the Python 3.11 base, the DAGs and the pipelines package.
FROM python:3.11-slim

ENV AIRFLOW_HOME=/opt/airflow \
    PATH=/opt/esprit/.venv/bin:$PATH \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/esprit/.venv \
    PYTHONUNBUFFERED=1

# Debian's Chromium prints the scorecard PDFs
RUN apt-get update && apt-get install -y --no-install-recommends chromium curl \
    && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /opt/esprit
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project --all-extras
COPY pipelines ./pipelines
COPY sql ./sql
COPY expectations ./expectations
COPY profiles ./profiles
COPY dags ./dags
RUN uv sync --frozen --no-dev --all-extras

# The default user; docker-compose.yml runs AIRFLOW_UID (any), group 0, and its init service hands
# the mounted folders to that user. Group 0 may write what user 50000 may (Airflow's convention).
RUN useradd --uid 50000 --gid 0 --home-dir /opt/airflow --create-home airflow \
    && mkdir -p /data/landing /data/warehouse /data/out /data/rejected \
    && chown -R 50000:0 /data /opt/airflow \
    && chmod -R g=u /data /opt/airflow
USER 50000:0
