# Esprit: every target creates the environment it needs from the lock file.
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export GX_ANALYTICS_ENABLED := false

.PHONY: help env chromium demo airflow airflow-stop lint test test-fast contracts clean bench mutate mutate-python evaluate-themes

help:
	@echo "make demo   - sample data through the real Airflow DAGs; prints where the scorecard is"
	@echo "make airflow - airflow standalone with Esprit's DAGs; prints the UI address and login"
	@echo "make airflow-stop - stop that Airflow, every process of it"
	@echo "make test   - make lint, then the whole test suite (includes the end-to-end DAG run)"
	@echo "make lint   - ruff (check and format) on the Python, sqlfluff on sql/ (pyproject.toml, .sqlfluff)"
	@echo "make env    - create .venv from uv.lock"
	@echo "make mutate - the SQL mutation gate (not in make test); writes docs/mutation.md"
	@echo "make evaluate-themes - precision and recall of the verbatim theme matcher (docs/metrics.md)"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

# --compile-bytecode: the packages' .pyc files are written once here, so that no process (an Airflow
# task, the CLI, a test) compiles Great Expectations or Airflow from source at import, which takes
# seconds, and every time where PYTHONDONTWRITEBYTECODE is set.
$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --all-extras --compile-bytecode --python $(PYTHON)
	@touch $@

env: $(VENV)/.synced

# Debian's Chromium prints the scorecard PDFs and renders the pages in the tests; Playwright only
# drives it (no browser is ever downloaded). Installed when missing, as root or through sudo.
# Debian's chromium prints the PDFs; pdftotext (poppler-utils) lets the tests read them back.
chromium:
	@{ command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } \
	  && command -v pdftotext >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium and poppler-utils"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium poppler-utils; }

# The demo prints PDFs only when Chromium is there: without root or sudo it goes on without them.
demo: env
	-@$(MAKE) --no-print-directory chromium
	$(VENV)/bin/esprit demo --fresh

# Airflow's own scheduler, triggerer, dag-processor and API server (airflow standalone: SQLite
# metadata, LocalExecutor) with Esprit's DAGs and pool: files dropped in landing/<source>/ load.
# PORT: the API server's port, which the tasks are told to reach too (make airflow PORT=8081).
PORT ?= 8080
airflow: env chromium
	ESPRIT_DEMO=$${ESPRIT_DEMO-1} $(VENV)/bin/esprit airflow --home . --port $(PORT)

# Stops every process of the Airflow `make airflow` started (its process group, then any process
# of its Airflow home), SIGKILL for what does not end within 30 s.
airflow-stop: env
	$(VENV)/bin/esprit airflow --stop --home .

# ruff checks and formats the Python ([tool.ruff] in pyproject.toml); sqlfluff lints the SQL models
# with the DuckDB dialect (.sqlfluff).
# The theme matcher against the hand labels (docs/labelling-guide.md): French always, English when
# the real NPS export is found (ESPRIT_REALDATA or ../shared/realdata).
evaluate-themes: env
	$(VENV)/bin/esprit themes evaluate

lint: env
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/sqlfluff lint sql

# The lint, then the whole suite, the scheduler and crash tests included, in TEST_WORKERS processes
# (pytest-xdist): each takes whole test files, the longest first (tests/conftest.py), so that a
# module's fixtures are built once. --durations=20 puts the slowest tests in CI's log.
TEST_WORKERS ?= 2
test: env lint chromium
	$(VENV)/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=20

test-fast: env chromium
	$(VENV)/bin/python -m pytest -m "not slow and not scheduler"

contracts: env
	$(VENV)/bin/esprit contracts

# Performance against raw DuckDB (docs/performance.md): BENCH_SIZES call segments per size;
# BENCH_ARGS passes more options (python -m benchmarks.bench --help).
BENCH_SIZES ?= 200000,1000000,5000000
bench: env
	$(VENV)/bin/python -m benchmarks.bench --sizes $(BENCH_SIZES) --doc docs/performance.md $(BENCH_ARGS)

# The mutation gate for the SQL models (docs/mutation.md), not part of `make test`: MUTATE_ARGS
# passes options, e.g. --models handoffs,friction_events --workers 2 (python -m tests.mutation --help).
mutate: env
	$(VENV)/bin/python -m tests.mutation $(MUTATE_ARGS)
	$(MAKE) --no-print-directory mutate-python

# The Python metric helpers (pipelines/report/stats.py) under mutmut, configured in pyproject.toml; the
# survivors it lists are each killed by a test or declared equivalent in docs/metrics.md.
mutate-python: env
	rm -rf mutants
	$(VENV)/bin/mutmut run
	$(VENV)/bin/mutmut results

clean:
	rm -rf landing warehouse out rejected .airflow .pytest_cache test-artifacts
