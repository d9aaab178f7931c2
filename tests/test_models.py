import pytest

from pipelines.models import LAYERS, build_models, discover


def test_models_are_built_layer_by_layer_after_what_they_read():
    models = discover()
    names = [m.name for m in models]
    layers = [LAYERS.index(m.layer) for m in models]
    assert layers == sorted(layers)
    assert names.index("stg_calls") < names.index("stg_call_outcomes") < names.index("journey_contacts")
    assert names.index("handoffs") < names.index("friction_events") < names.index("weekly_metrics")
    assert names.index("weekly_scorecard") < names.index("week_status") == len(names) - 1


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


# ---- incremental builds and restatements, on a real warehouse ------------------------------

def _call(call_id, customer, offered, wait, outcome="answered"):
    """A one-segment call at accueil offered at `offered` (Paris, winter time), answered after `wait` seconds
    and handled 100 s, or abandoned after `wait` seconds."""
    from datetime import datetime, timedelta

    start = datetime.fromisoformat(offered + "+01:00")
    answered = start + timedelta(seconds=wait)
    if outcome == "abandoned":
        return (call_id, 1, customer, "accueil", start.isoformat(), "", answered.isoformat(), "abandoned", "none")
    return (call_id, 1, customer, "accueil", start.isoformat(), answered.isoformat(),
            (answered + timedelta(seconds=100)).isoformat(), "answered", "none")


def _weekly_rows(con, table, week):
    return con.execute(f"SELECT * FROM {table} WHERE week = ? ORDER BY ALL", [week]).fetchall()


def _content_hash(con) -> str:
    """Every weekly table's rows, bar when and by which build they were computed."""
    import hashlib

    digest = hashlib.sha256()
    for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'weekly_%' "
                                "ORDER BY 1").fetchall():
        rows = con.execute(f"SELECT * EXCLUDE (build_id, computed_at) FROM {table}" if table != "weekly_scorecard"
                           else f"SELECT * FROM {table}").fetchall()
        norm = sorted(repr(tuple(round(v, 9) if isinstance(v, float) else v for v in r)) for r in rows)
        digest.update((table + "\n".join(norm)).encode())
    return digest.hexdigest()


def test_late_files_recompute_only_the_weeks_they_touch_and_restate_them(settings):
    from pipelines.warehouse import connect
    from tests.test_golden import load_files

    w1, w2 = "2026-W10", "2026-W11"  # 2-8 and 9-15 March 2026
    load_files(settings, "w1", {"calls": [_call("W1A", "K1", "2026-03-02T10:00:00", 10),
                                          _call("W1B", "K2", "2026-03-03T10:00:00", 30, "abandoned")]})
    load_files(settings, "w2", {"calls": [_call("W2A", "K3", "2026-03-09T10:00:00", 10),
                                          _call("W2B", "K4", "2026-03-11T10:00:00", 40)]})
    first = build_models(settings)
    assert first["full"] and first["recomputed_weeks"] == [w1, w2]
    con = connect(settings.warehouse, read_only=True)
    before = {t: _weekly_rows(con, t, w2) for t in ("weekly_metrics", "weekly_stage_friction", "weekly_queue_kpis")}
    con.close()

    # a late file with one more call in week 1, from a new customer: week 2 is left alone
    load_files(settings, "late", {"calls": [_call("L1", "K5", "2026-03-04T10:00:00", 40, "abandoned")]})
    second = build_models(settings)
    assert not second["full"] and second["recomputed_weeks"] == [w1]
    con = connect(settings.warehouse, read_only=True)
    for table, rows in before.items():  # same rows, same build id and computed_at
        assert _weekly_rows(con, table, w2) == rows, table
    assert con.execute("SELECT DISTINCT build_id FROM weekly_metrics WHERE week = ?", [w1]).fetchall() == [
        (second["build_id"],)]
    restated = {m: (old, new) for m, old, new in con.execute(
        "SELECT metric, previous_value, round(new_value, 2) FROM metric_restatements WHERE week = ?", [w1]).fetchall()}
    assert restated["calls_offered"] == (2, 3)
    assert restated["abandonment_rate"] == (50, 66.67)  # 1 of 2, then 2 of 3
    assert con.execute("SELECT count(*) FROM metric_restatements WHERE week = ?", [w2]).fetchone()[0] == 0
    status = {w: (r, n) for w, r, n in con.execute("SELECT week, restated, changes FROM week_status").fetchall()}
    assert status == {w1: (True, len(restated)), w2: (False, 0)}
    assert con.execute("SELECT list_sort(load_ids) = list_sort(?::BIGINT[]) FROM metric_restatements LIMIT 1",
                       [[r[0] for r in con.execute("SELECT load_id FROM load_audit WHERE file_name LIKE '%late%'"
                                                   ).fetchall()]]).fetchone()[0]
    con.close()

    # K1 calls back on Monday of week 2: a file of week 2 only, but it reaches K1's journey, which
    # started in week 1 (no longer first-contact resolved): both weeks are recomputed
    load_files(settings, "late2", {"calls": [_call("L2", "K1", "2026-03-09T09:00:00", 10)]})
    third = build_models(settings)
    assert third["recomputed_weeks"] == [w1, w2]
    con = connect(settings.warehouse, read_only=True)
    assert con.execute("SELECT previous_value, new_value FROM metric_restatements WHERE week = ? AND metric = "
                       "'first_contact_resolution' AND load_ids = [(SELECT max(load_id) FROM load_audit)]",
                       [w1]).fetchone() == (100, 0)  # K1 is week 1's only journey with an answer
    incremental = _content_hash(con)
    con.close()

    # the same warehouse rebuilt from scratch gives the same weekly tables, and restates nothing
    rebuilt = build_models(settings, full=True)
    assert rebuilt["full"]
    con = connect(settings.warehouse, read_only=True)
    assert _content_hash(con) == incremental
    assert con.execute("SELECT count(*) FROM metric_restatements WHERE restated_at = "
                       "(SELECT built_at FROM model_builds WHERE build_id = ?)", [rebuilt["build_id"]]).fetchone() == (0,)
    con.close()
