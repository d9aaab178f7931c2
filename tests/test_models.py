import pytest

from pipelines.model.build import LAYERS, build_models, discover


def test_models_are_built_layer_by_layer_after_what_they_read():
    models = discover()
    names = [m.name for m in models]
    layers = [LAYERS.index(m.layer) for m in models]
    assert layers == sorted(layers)
    assert names.index("stg_calls") < names.index("stg_call_outcomes") < names.index("journey_contacts")
    assert names.index("handoffs") < names.index("friction_events") < names.index("weekly_metrics")
    assert names.index("weekly_scorecard") < names.index("week_status") == len(names) - 1


def _layer(root, layer: str, models: dict[str, tuple[str, list[str]]]) -> None:
    """A layer folder of models {name: (sql, depends_on)} with its _models.yml."""
    import yaml

    (root / layer).mkdir()
    for name, (sql, _) in models.items():
        (root / layer / f"{name}.sql").write_text(sql)
    (root / layer / "_models.yml").write_text(
        yaml.safe_dump({"models": {name: {"depends_on": deps} for name, (_, deps) in models.items()}})
    )


def test_a_reference_to_a_later_layer_is_refused(tmp_path):
    _layer(tmp_path, "staging", {"stg_a": ("SELECT * FROM totals", ["totals"])})
    _layer(tmp_path, "metrics", {"totals": ("SELECT 1 AS x", [])})
    with pytest.raises(ValueError, match="reads totals from a later layer"):
        discover(tmp_path)


def test_a_cycle_is_refused(tmp_path):
    _layer(tmp_path, "metrics", {"a": ("SELECT * FROM b", ["b"]), "b": ("SELECT * FROM a", ["a"])})
    with pytest.raises(ValueError, match="cycle"):
        discover(tmp_path)


def test_what_a_model_reads_is_declared_and_checked_against_its_sql(tmp_path):
    """The build order comes from depends_on; DuckDB's parse of the SQL must read exactly those
    tables (a CTE is not a table; a name in a comment or a column is not read)."""
    _layer(tmp_path, "staging", {"stg_a": ("SELECT * FROM calls", ["calls"])})
    _layer(
        tmp_path,
        "metrics",
        {
            "weekly_b": ("-- not weekly_c\nWITH t AS (SELECT weekly_c FROM stg_a) SELECT * FROM t", ["stg_a"]),
            "weekly_c": ("SELECT * FROM weekly_b JOIN stg_a USING (x)", ["stg_a", "weekly_b"]),
        },
    )
    assert [m.name for m in discover(tmp_path)] == ["stg_a", "weekly_b", "weekly_c"]
    (tmp_path / "metrics" / "weekly_b.sql").write_text("SELECT * FROM stg_a JOIN weekly_c USING (x)")
    with pytest.raises(ValueError, match=r"weekly_b reads \['stg_a', 'weekly_c'\].*undeclared: weekly_c"):
        discover(tmp_path)
    (tmp_path / "metrics" / "weekly_b.sql").write_text("SELECT 1 AS x")
    with pytest.raises(ValueError, match="not read: stg_a"):
        discover(tmp_path)
    (tmp_path / "metrics" / "weekly_b.sql").write_text("SELECT * FROM stg_a")
    (tmp_path / "metrics" / "weekly_d.sql").write_text("SELECT 1 AS x")
    with pytest.raises(ValueError, match="weekly_d has no entry in"):
        discover(tmp_path)


def test_the_shipped_models_declare_their_incremental_settings():
    by_name = {m.name: m for m in discover()}
    assert {n for n, m in by_name.items() if m.incremental == "weekly"} == {
        n for n in by_name if n.startswith("weekly_") and n != "weekly_scorecard"
    }
    sliced = [m for m in by_name.values() if m.layer != "scorecard" and m.incremental != "weekly"]
    assert sliced and all(m.incremental == "slice" and m.slice and m.storage_order for m in sliced)
    assert by_name["journey_contacts"].storage_order == "contact_at"
    assert by_name["handoffs"].delete_bounds == ("stg_call_outcomes", "stg_case_events", "stg_cases")


# ---- incremental builds and restatements, on a real warehouse ------------------------------


def _call(call_id, customer, offered, wait, outcome="answered"):
    """A one-segment call at accueil offered at `offered` (Paris, winter time), answered after `wait` seconds
    and handled 100 s, or abandoned after `wait` seconds."""
    from datetime import datetime, timedelta

    start = datetime.fromisoformat(offered + "+01:00")
    answered = start + timedelta(seconds=wait)
    if outcome == "abandoned":
        return (call_id, 1, customer, "accueil", start.isoformat(), "", answered.isoformat(), "abandoned", "none")
    return (
        call_id,
        1,
        customer,
        "accueil",
        start.isoformat(),
        answered.isoformat(),
        (answered + timedelta(seconds=100)).isoformat(),
        "answered",
        "none",
    )


def _weekly_rows(con, table, week):
    return con.execute(f"SELECT * FROM {table} WHERE week = ? ORDER BY ALL", [week]).fetchall()


def _content_hash(con) -> str:
    """Every weekly table's rows, bar when and by which build they were computed."""
    import hashlib

    digest = hashlib.sha256()
    for (table,) in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE 'weekly_%' ORDER BY 1"
    ).fetchall():
        rows = con.execute(
            f"SELECT * EXCLUDE (build_id, computed_at) FROM {table}"
            if table != "weekly_scorecard"
            else f"SELECT * FROM {table}"
        ).fetchall()
        norm = sorted(repr(tuple(round(v, 9) if isinstance(v, float) else v for v in r)) for r in rows)
        digest.update((table + "\n".join(norm)).encode())
    return digest.hexdigest()


def test_late_files_recompute_only_the_weeks_they_touch_and_restate_them(settings):
    from pipelines.warehouse import connect
    from tests.test_golden import load_files

    w1, w2 = "2026-W10", "2026-W11"  # 2-8 and 9-15 March 2026
    load_files(
        settings,
        "w1",
        {
            "calls": [
                _call("W1A", "K1", "2026-03-02T10:00:00", 10),
                _call("W1B", "K2", "2026-03-03T10:00:00", 30, "abandoned"),
            ]
        },
    )
    load_files(
        settings,
        "w2",
        {"calls": [_call("W2A", "K3", "2026-03-09T10:00:00", 10), _call("W2B", "K4", "2026-03-11T10:00:00", 40)]},
    )
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
        (second["build_id"],)
    ]
    restated = {
        m: (old, new)
        for m, old, new in con.execute(
            "SELECT metric, previous_value, round(new_value, 2) FROM metric_restatements WHERE week = ?", [w1]
        ).fetchall()
    }
    assert restated["calls_offered"] == (2, 3)
    assert restated["abandonment_rate"] == (50, 66.67)  # 1 of 2, then 2 of 3
    assert con.execute("SELECT count(*) FROM metric_restatements WHERE week = ?", [w2]).fetchone()[0] == 0
    status = {w: (r, n) for w, r, n in con.execute("SELECT week, restated, changes FROM week_status").fetchall()}
    assert status == {w1: (True, len(restated)), w2: (False, 0)}
    assert con.execute(
        "SELECT list_sort(load_ids) = list_sort(?::BIGINT[]) FROM metric_restatements LIMIT 1",
        [[r[0] for r in con.execute("SELECT load_id FROM load_audit WHERE file_name LIKE '%late%'").fetchall()]],
    ).fetchone()[0]
    con.close()

    # K1 calls back on Monday of week 2: a file of week 2 only, but it reaches K1's journey, which
    # started in week 1 (no longer first-contact resolved): both weeks are recomputed
    load_files(settings, "late2", {"calls": [_call("L2", "K1", "2026-03-09T09:00:00", 10)]})
    third = build_models(settings)
    assert third["recomputed_weeks"] == [w1, w2]
    con = connect(settings.warehouse, read_only=True)
    assert con.execute(
        "SELECT previous_value, new_value FROM metric_restatements WHERE week = ? AND metric = "
        "'first_contact_resolution' AND load_ids = [(SELECT max(load_id) FROM load_audit)]",
        [w1],
    ).fetchone() == (100, 0)  # K1 is week 1's only journey with an answer
    incremental = _content_hash(con)
    con.close()

    # the same warehouse rebuilt from scratch gives the same weekly tables, and restates nothing
    rebuilt = build_models(settings, full=True)
    assert rebuilt["full"]
    con = connect(settings.warehouse, read_only=True)
    assert _content_hash(con) == incremental
    assert con.execute(
        "SELECT count(*) FROM metric_restatements WHERE restated_at = "
        "(SELECT built_at FROM model_builds WHERE build_id = ?)",
        [rebuilt["build_id"]],
    ).fetchone() == (0,)
    con.close()


def test_deleted_rows_are_reclaimed_once_they_add_up_to_the_compaction_share(settings, monkeypatch):
    """Incremental builds leave the rows they replace in place (no vacuum at their checkpoint) and
    count them; the build that brings them to COMPACT_SHARE of the entity rows compacts."""
    import pipelines.model.build as models
    from pipelines.warehouse import connect
    from tests.test_golden import load_files

    def builds():
        con = connect(settings.warehouse, read_only=True)
        try:
            return con.execute(
                "SELECT full_rebuild, rows_deleted, compacted FROM model_builds ORDER BY build_id"
            ).fetchall()
        finally:
            con.close()

    load_files(
        settings,
        "w1",
        {
            "calls": [
                _call("W1A", "K1", "2026-03-02T10:00:00", 10),
                _call("W1B", "K2", "2026-03-03T10:00:00", 30, "abandoned"),
            ]
        },
    )
    assert build_models(settings)["full"]
    monkeypatch.setattr(models, "COMPACT_SHARE", 1e9)  # never due
    # K1 calls again: its journey (call, outcome, journey, contacts...) is deleted and rebuilt
    load_files(settings, "k1", {"calls": [_call("K1B", "K1", "2026-03-04T10:00:00", 20)]})
    second = build_models(settings)
    assert second["rows_deleted"] > 0 and not second["compacted"]
    con = connect(settings.warehouse, read_only=True)
    incremental = _content_hash(con)
    con.close()
    monkeypatch.setattr(models, "COMPACT_SHARE", 1e-9)  # due from now on
    third = build_models(settings)  # nothing new: it deletes nothing, so it changes no table to vacuum
    assert third["rows_deleted"] == 0 and not third["compacted"]
    con = connect(settings.warehouse, read_only=True)
    assert _content_hash(con) == incremental
    con.close()
    load_files(settings, "k2", {"calls": [_call("K1C", "K1", "2026-03-05T10:00:00", 25)]})
    fourth = build_models(settings)  # the second build's rows and its own add up
    assert fourth["rows_deleted"] > 0 and fourth["compacted"]
    assert builds() == [
        (True, 0, True),
        (False, second["rows_deleted"], False),
        (False, 0, False),
        (False, fourth["rows_deleted"], True),
    ]
    con = connect(settings.warehouse, read_only=True)
    compacted = _content_hash(con)
    con.close()
    assert build_models(settings, full=True)["compacted"]  # a full build counts as one
    con = connect(settings.warehouse, read_only=True)
    assert _content_hash(con) == compacted  # compaction changes storage, not rows
    con.close()


def test_deleted_rows_are_reclaimed_at_once_outside_builds_and_by_a_builds_compacting_commit(tmp_path):
    """Real DuckDB storage: rows deleted under an ordinary connection (ingest's) are reclaimed at its
    checkpoint; under a build's they stay stored, even through an explicit CHECKPOINT, until the
    compacting commit (a build's, when compaction is due) reclaims them, earlier transactions'
    deletes included; the vacuum is off again after it."""
    from pipelines.warehouse import commit, connect, defer_vacuum

    con = connect(tmp_path / "storage.duckdb")

    def stored(table: str = "t") -> int:  # rows in the table's row groups, deleted ones included
        return con.execute(
            f"SELECT sum(count) FROM pragma_storage_info('{table}') WHERE column_id = 0 AND segment_type <> 'VALIDITY'"
        ).fetchone()[0]

    # a connection other than a build's (ingest's: upserts replace rows) reclaims at its checkpoint
    con.execute("CREATE TABLE u AS SELECT range AS i FROM range(1000000)")
    con.execute("CHECKPOINT")
    con.execute("DELETE FROM u WHERE i % 10 < 4")
    con.execute("CHECKPOINT")
    assert stored("u") < 600000 + 122880, stored("u")
    con.close()
    con = connect(tmp_path / "storage.duckdb")
    defer_vacuum(con)  # a build's
    con.execute("CREATE TABLE t AS SELECT range AS i FROM range(1000000)")
    con.execute("CHECKPOINT")
    # every commit checkpoints by itself, as a weekly build's large one does: a CHECKPOINT after it
    # finds nothing changed, so the vacuum must already be on for the commit
    con.execute("SET checkpoint_threshold = '1KB'")
    for digit in (1, 2, 3):  # three builds deleting 10 % each
        con.execute("BEGIN TRANSACTION")
        con.execute(f"DELETE FROM t WHERE i % 10 = {digit}")
        assert commit(con) is False
        con.execute("CHECKPOINT")
    assert stored() == 1000000
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM t WHERE i % 10 = 4")
    assert commit(con, compacting=True)
    live = con.execute("SELECT count(*) FROM t").fetchone()[0]
    assert live == 600000 and stored() < live + 122880, stored()  # within one row group of the live rows
    after = stored()
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM t WHERE i % 10 = 5")
    commit(con)
    con.execute("CHECKPOINT")
    assert stored() == after
    con.close()


# ---- incremental builds equal a full rebuild, whatever order files arrive in -----------------


def _case(case_id, customer, opened, origin=""):
    return (case_id, customer, opened + "+01:00", "web", "billing", origin, "normal")


def _event(case_id, seq, event_type, at, team="reclamations"):
    return (case_id, seq, event_type, at + "+01:00", team, "open" if event_type != "resolved" else "resolved")


def _survey(response_id, customer, rated_type, rated, responded):
    return (response_id, customer, rated_type, rated, responded + "+01:00", "3", "2", "2", "false", "true")


# Each file (name -> {table: rows}) reaches beyond its own rows: weeks 10-12 of 2026 are 2-8, 9-15
# and 16-22 March.
DELIVERIES = {
    "w10": {
        "calls": [
            _call("A1", "K1", "2026-03-04T10:00:00", 10),
            _call("B1", "K2", "2026-03-03T10:00:00", 30),
            _call("D1", "K4", "2026-03-02T10:00:00", 10),
            _call("C1", "K3", "2026-03-05T10:00:00", 10),
            # D1 is transferred to billing at 10:01:50
            (
                "D1",
                2,
                "K4",
                "facturation",
                "2026-03-02T10:01:50+01:00",
                "2026-03-02T10:02:00+01:00",
                "2026-03-02T10:05:00+01:00",
                "answered",
                "none",
            ),
        ]
    },
    # K1 again 5 days later (same journey, started in week 10); K4 14 days after D1: a new journey
    "w11": {"calls": [_call("A2", "K1", "2026-03-09T10:00:00", 10), _call("D3", "K4", "2026-03-16T10:00:00", 10)]},
    # late: K4 exactly journey_window_days after D1 and before D3, so D1, D2 and D3 become one journey,
    # and D1's transfer is followed by a recontact
    "bridge": {"calls": [_call("D2", "K4", "2026-03-09T10:00:00", 50, "abandoned")]},
    # K5's complaint escalated from K2's call, resolved after the SLA; a response of K7 rates K1's call
    "cases": {"cases": [_case("CASE1", "K5", "2026-03-03T11:00:00", origin="B1")]},
    "history": {
        "case_events": [
            _event("CASE1", 1, "opened", "2026-03-03T11:00:00"),
            _event("CASE1", 2, "reassigned", "2026-03-04T11:00:00", "facturation"),
            _event("CASE1", 3, "resolved", "2026-03-17T11:00:00", "facturation"),
        ]
    },
    "surveys": {
        "survey_responses": [
            _survey("R1", "K7", "call", "A1", "2026-03-18T10:00:00"),
            _survey("R2", "K3", "", "", "2026-03-10T10:00:00"),
        ]
    },
    # K5 calls two days after their complaint, K7 the day before their response: while CASE1's origin
    # call or the call R1 rates is not loaded, CASE1 and R1 are in these customers' own journeys
    "own": {"calls": [_call("E1", "K5", "2026-03-05T12:00:00", 10), _call("F1", "K7", "2026-03-17T10:00:00", 10)]},
    # a corrected export: C1 was K6's call, not K3's (a later file name takes the key over), so K3's
    # response no longer finds a journey of K3's
    "zfix": {"calls": [_call("C1", "K6", "2026-03-05T10:00:00", 10)]},
}


@pytest.mark.parametrize(
    "order",
    [
        list(DELIVERIES),
        list(reversed(DELIVERIES)),
        ["surveys", "history", "zfix", "own", "w11", "cases", "w10", "bridge"],
    ],
)
def test_incremental_builds_equal_a_full_rebuild_whatever_the_order_of_files(settings, order):
    from pipelines.ingest.load import ingest_paths
    from pipelines.ingest.profiles import load_profile
    from pipelines.warehouse import connect
    from tests.test_golden import load_files
    from tests.test_reliability import warehouse_hashes

    builds = []
    for name in order:
        load_files(settings, name, DELIVERIES[name])
        builds.append(build_models(settings))
    assert builds[0]["full"] and not any(b["full"] for b in builds[1:])
    # a file delivered again is recognised: nothing to recompute
    (again,) = ingest_paths(
        settings, "golden", [settings.landing / "golden" / "calls_w10.csv"], load_profile("generator_calls")
    )
    assert again.status == "skipped"
    assert build_models(settings)["recomputed_weeks"] == []
    incremental = warehouse_hashes(settings.warehouse)

    assert build_models(settings, full=True)["full"]
    assert warehouse_hashes(settings.warehouse) == incremental
    con = connect(settings.warehouse, read_only=True)
    journeys = dict(con.execute("SELECT contact_ref, journey_id FROM journey_contacts").fetchall())
    transfer = con.execute("SELECT failure_reasons, journey_id FROM handoffs WHERE container = 'D1'").fetchall()
    case_handoffs = con.execute("SELECT kind, journey_id FROM handoffs WHERE container = 'CASE1' ORDER BY 1").fetchall()
    # a journey is its first contact's customer's, even where another customer's case or response joined it
    owners = con.execute("SELECT journey_id, customer_ref FROM journeys").fetchall()
    mixed = con.execute(
        "SELECT count(*) FROM (SELECT journey_id FROM journey_contacts GROUP BY 1 HAVING count(DISTINCT customer_ref) > 1)"
    ).fetchone()[0]
    con.close()
    assert mixed >= 1 and all(journey.startswith(f"{customer}:") for journey, customer in owners), owners
    # a handoff names the journey its call or case is in now: D1's, since the bridge call joined D1 to D3
    assert transfer == [(["recontact"], journeys["D1"])]
    assert [kind for kind, _ in case_handoffs] == ["escalation", "reassignment"]
    assert {journey for _, journey in case_handoffs} == {journeys["CASE1"]}
    assert journeys["D1"] == journeys["D2"] == journeys["D3"] and journeys["D1"].endswith(":D1")
    assert journeys["CASE1"] == journeys["B1"] and journeys["R1"] == journeys["A1"] == journeys["A2"]
    assert journeys["R2"] is None  # K3 has no contact left once C1 is K6's


def test_a_long_journey_is_recomputed_from_its_first_contact(tmp_path):
    """K8 calls every 6 days from January on: one journey of 12 calls (its span is not bounded
    here). A call 6 days after the last joins it, so the incremental build must reach back to the
    first call, 66 days before the new one, although it reads the journeys from one window before
    the new call on and moves back step by step (another customer's call comes in the same file)."""
    settings = _settings_with(tmp_path, {"journey_max_span_days": None})
    from datetime import datetime, timedelta

    from pipelines.warehouse import connect
    from tests.test_golden import load_files
    from tests.test_reliability import warehouse_hashes

    first = datetime(2026, 1, 5, 9, 0, 0)
    chain = [_call(f"L{i:02d}", "K8", (first + timedelta(days=6 * i)).isoformat(), 10) for i in range(12)]
    load_files(settings, "chain", {"calls": chain})
    assert build_models(settings)["full"]
    after = first + timedelta(days=6 * 12)
    load_files(
        settings,
        "next",
        {
            "calls": [
                _call("L12", "K8", after.isoformat(), 10),
                _call("M1", "K9", (after - timedelta(days=6)).isoformat(), 10),
            ]
        },
    )
    built = build_models(settings)
    assert not built["full"]
    con = connect(settings.warehouse, read_only=True)
    journeys = dict(con.execute("SELECT contact_ref, journey_id FROM journey_contacts").fetchall())
    con.close()
    assert {journeys[f"L{i:02d}"] for i in range(13)} == {journeys["L00"]} and journeys["L00"].endswith(":L00")
    incremental = warehouse_hashes(settings.warehouse)
    assert build_models(settings, full=True)["full"]
    assert warehouse_hashes(settings.warehouse) == incremental


def _settings_with(tmp_path, metrics: dict):
    import json

    from pipelines.config import load_settings

    config = tmp_path / "esprit.yaml"
    config.write_text(json.dumps({"metrics": metrics}), encoding="utf-8")
    return load_settings(config_file=config, base_dir=tmp_path)


def test_a_journey_is_cut_when_it_would_span_more_than_its_bound(tmp_path):
    """K8 calls every 6 days, never a gap over journey_window_days (7). With journey_max_span_days
    30, a journey ends before the first call more than 30 days after its own first call, counted
    from that first call on: L00-L05 (days 0 to 30), L06-L11 (36 to 66), then L12 (72) in a later
    file. A late call on day 33 moves every later cut: L00-L05, L05b-L10 (33 to 60), L11-L12.
    Incremental builds agree with a full rebuild at each step."""
    from datetime import datetime, timedelta

    from pipelines.warehouse import connect
    from tests.test_golden import load_files
    from tests.test_reliability import warehouse_hashes

    settings = _settings_with(tmp_path, {"journey_max_span_days": 30})
    first = datetime(2026, 1, 5, 9, 0, 0)

    def call(name, day):
        return _call(name, "K8", (first + timedelta(days=day)).isoformat(), 10)

    def journeys():
        con = connect(settings.warehouse, read_only=True)
        try:
            rows = con.execute("SELECT contact_ref, journey_id, stitch_rule FROM journey_contacts").fetchall()
        finally:
            con.close()
        return {ref: (journey.split(":")[-1], rule) for ref, journey, rule in rows}

    def same_as_full():
        incremental = warehouse_hashes(settings.warehouse)
        assert build_models(settings, full=True)["full"]
        assert warehouse_hashes(settings.warehouse) == incremental

    load_files(settings, "chain", {"calls": [call(f"L{i:02d}", 6 * i) for i in range(12)]})
    assert build_models(settings)["full"]
    load_files(settings, "next", {"calls": [call("L12", 72), _call("M1", "K9", "2026-03-10T10:00:00", 10)]})
    assert not build_models(settings)["full"]
    placed = journeys()
    assert {ref: placed[ref][0] for ref in placed if ref.startswith("L")} == {
        **{f"L{i:02d}": "L00" for i in range(6)},
        **{f"L{i:02d}": "L06" for i in range(6, 12)},
        "L12": "L12",
    }
    assert placed["L06"][1] == placed["L12"][1] == "journey_span_limit" and placed["L00"][1] == "new_journey"
    assert placed["L05"][1] == "same_customer_within_window"
    same_as_full()
    load_files(settings, "late", {"calls": [call("L05b", 33)]})
    assert not build_models(settings)["full"]
    placed = journeys()
    assert {ref: placed[ref][0] for ref in placed if ref.startswith("L")} == {
        **{f"L{i:02d}": "L00" for i in range(6)},
        "L05b": "L05b",
        **{f"L{i:02d}": "L05b" for i in range(6, 11)},
        "L11": "L11",
        "L12": "L11",
    }
    same_as_full()


def test_a_call_and_a_case_sharing_an_id_count_their_team_changes_apart(settings):
    """Call Z1 changes team twice, case Z1 (another system's id) once: neither reaches the three
    changes of ping-pong; counted together by their shared id, every handoff was ping-pong."""
    from pipelines.warehouse import connect
    from tests.test_golden import load_files

    call = [
        ("Z1", 1, "K1", "accueil", "2026-03-02T10:00:00+01:00", "2026-03-02T10:00:10+01:00",
         "2026-03-02T10:05:00+01:00", "answered", "warm", "0"),
        ("Z1", 2, "K1", "facturation", "2026-03-02T10:05:00+01:00", "2026-03-02T10:05:10+01:00",
         "2026-03-02T10:10:00+01:00", "answered", "warm", "0"),
        ("Z1", 3, "K1", "accueil", "2026-03-02T10:10:00+01:00", "2026-03-02T10:10:10+01:00",
         "2026-03-02T10:15:00+01:00", "answered", "none", "0"),
    ]  # fmt: skip
    case = [("Z1", "K2", "2026-03-02T09:00:00+01:00", "web", "billing", "", "normal", "")]
    events = [
        ("Z1", 1, "opened", "2026-03-02T09:00:00+01:00", "reclamations", "open"),
        ("Z1", 2, "reassigned", "2026-03-02T10:00:00+01:00", "technique", "in_progress"),
    ]
    load_files(settings, "shared_id", {"calls": call, "cases": case, "case_events": events})
    build_models(settings)
    con = connect(settings.warehouse, read_only=True)
    try:
        found = con.execute(
            "SELECT kind, list_contains(failure_reasons, 'ping_pong') FROM handoffs WHERE container = 'Z1' ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    assert found == [("reassignment", False), ("transfer", False), ("transfer", False)]
