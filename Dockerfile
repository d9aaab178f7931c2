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

RUN useradd --uid 50000 --home-dir /opt/airflow --create-home airflow \
    && mkdir -p /data/landing /data/warehouse /data/out /data/rejected \
    && chown -R airflow /data /opt/airflow
USER airflow
