import pytest

from pipelines.models import LAYERS, discover


def test_models_are_built_layer_by_layer_after_what_they_read():
    models = discover()
    names = [m.name for m in models]
    layers = [LAYERS.index(m.layer) for m in models]
    assert layers == sorted(layers)
    assert names.index("stg_calls") < names.index("stg_call_outcomes") < names.index("journey_contacts")
    assert names.index("handoffs") < names.index("friction_events") < names.index("weekly_metrics")
    assert names[-1] == "weekly_scorecard"


def test_a_reference_to_a_later_layer_is_refused(tmp_path):
    (tmp_path / "staging").mkdir()
    (tmp_path / "metrics").mkdir()
    (tmp_path / "staging" / "stg_a.sql").write_text("SELECT * FROM totals")
    (tmp_path / "metrics" / "totals.sql").write_text("SELECT 1 AS x")
    with pytest.raises(ValueError, match="reads totals from a later layer"):
        discover(tmp_path)


def test_a_cycle_is_refused(tmp_path):
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "a.sql").write_text("SELECT * FROM b")
    (tmp_path / "metrics" / "b.sql").write_text("SELECT * FROM a")
    with pytest.raises(ValueError, match="cycle"):
        discover(tmp_path)
