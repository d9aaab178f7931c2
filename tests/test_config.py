from pathlib import Path

import pytest

from pipelines.config import ConfigError, load_settings


def test_defaults_resolve_paths_against_the_base_dir(tmp_path):
    s = load_settings(base_dir=tmp_path)
    assert s.warehouse == tmp_path / "warehouse" / "esprit.duckdb"
    assert s.landing == tmp_path / "landing"
    assert s.week_timezone == "Europe/Paris"
    assert s.metrics["journey_window_days"] == 7


def test_project_file_overrides_key_by_key(tmp_path):
    cfg = tmp_path / "esprit.yaml"
    cfg.write_text("metrics:\n  long_wait_seconds: 90\nweek_timezone: UTC\n")
    s = load_settings(cfg, base_dir=tmp_path)
    assert s.metrics["long_wait_seconds"] == 90
    assert s.metrics["journey_window_days"] == 7
    assert s.week_timezone == "UTC"


def test_unknown_key_is_named(tmp_path):
    cfg = tmp_path / "esprit.yaml"
    cfg.write_text("metrics:\n  long_wiat_seconds: 90\n")
    with pytest.raises(ConfigError, match="metrics: unknown key 'long_wiat_seconds'"):
        load_settings(cfg, base_dir=tmp_path)


BOUNDED_METRICS = {  # key: (refused values, what the error says is expected, an accepted value, read back)
    "ping_pong_min_changes": (["0", "-1", "2.5", "true", "'three'"], "a whole number of at least 1", "1", 1),
    "journey_max_span_days": (["0", "-3", "'a month'", "true"], "a positive number of days or null", "null", None),
}


@pytest.mark.parametrize(
    "key,value", [(key, value) for key, (refused, *_) in BOUNDED_METRICS.items() for value in refused]
)
def test_bounded_metric_settings_refuse_values_out_of_their_range(tmp_path, key, value):
    _, expected, accepted, read_back = BOUNDED_METRICS[key]
    cfg = tmp_path / "esprit.yaml"
    cfg.write_text(f"metrics:\n  {key}: {value}\n")
    with pytest.raises(ConfigError, match=f"metrics.{key}: expected {expected}"):
        load_settings(cfg, base_dir=tmp_path)
    cfg.write_text(f"metrics:\n  {key}: {accepted}\n")
    assert load_settings(cfg, base_dir=tmp_path).metrics[key] == read_back


def test_the_default_journey_span_bound_is_30_days(tmp_path):
    assert load_settings(base_dir=tmp_path).metrics["journey_max_span_days"] == 30


def test_friction_signal_with_unknown_stage_is_refused(tmp_path):
    cfg = tmp_path / "esprit.yaml"
    cfg.write_text("friction_signals:\n  abandoned: {stage: nowhere, weight: 1}\n")
    with pytest.raises(ConfigError, match="friction_signals.abandoned.stage"):
        load_settings(cfg, base_dir=tmp_path)


def test_environment_overrides_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("ESPRIT_WAREHOUSE", str(tmp_path / "elsewhere.duckdb"))
    assert load_settings(base_dir=tmp_path).warehouse == Path(tmp_path / "elsewhere.duckdb")


@pytest.mark.parametrize(
    "text, message",
    [
        ("scorecard:\n  languages: [de]\n", "scorecard.languages"),
        ("scorecard:\n  small_sample: 0\n", "scorecard.small_sample"),
        (
            "headline:\n  - {metric: nps, en: NPS, fr: NPS, unit: points, better: up, target: 10, watch: 30}\n",
            r"headline\[0\].watch",
        ),
        ("headline:\n  - {metric: nps, en: NPS, fr: NPS, unit: points, better: sideways}\n", r"headline\[0\].better"),
        ("scorecard:\n  handoffs_per_page: 0\n", "scorecard.handoffs_per_page"),
        ("scorecard:\n  investigation_pairs: 0\n", "scorecard.investigation_pairs"),
        ("scorecard:\n  pdf_weeks: some\n", "scorecard.pdf_weeks"),
        ("ingest:\n  gx_rows: some\n", "ingest.gx_rows"),
        ("ingest:\n  gx_rows: 0\n", "ingest.gx_rows"),
        ("ingest:\n  memory_limit: lots\n", "ingest.memory_limit"),
    ],
)
def test_scorecard_settings_are_checked(tmp_path, text, message):
    cfg = tmp_path / "esprit.yaml"
    cfg.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_settings(cfg, base_dir=tmp_path)


def test_the_project_file_is_found_under_esprit_home_before_the_working_directory(tmp_path, monkeypatch):
    """A container sets ESPRIT_HOME and runs from elsewhere: its esprit.yaml must not be ignored."""
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    (home / "esprit.yaml").write_text("metrics:\n  long_wait_seconds: 90\n")
    (cwd / "esprit.yaml").write_text("metrics:\n  long_wait_seconds: 45\n")
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("ESPRIT_HOME", str(home))
    assert load_settings().metrics["long_wait_seconds"] == 90
    assert load_settings().warehouse == home / "warehouse" / "esprit.duckdb"
    (home / "esprit.yaml").unlink()  # none under ESPRIT_HOME: the working directory's
    assert load_settings().metrics["long_wait_seconds"] == 45
    monkeypatch.delenv("ESPRIT_HOME")
    assert load_settings().metrics["long_wait_seconds"] == 45
    monkeypatch.setenv("ESPRIT_CONFIG", str(home / "missing.yaml"))  # named explicitly: no fallback
    with pytest.raises((ConfigError, FileNotFoundError)):
        load_settings()
