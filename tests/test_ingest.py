import json

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from pipelines.cli import main
from pipelines.config import load_settings
from pipelines.ingest.load import ingest_paths, ingest_source
from pipelines.ingest.privacy import DEMO_KEY, PrivacyError, pseudonym, resolve_key
from pipelines.ingest.profiles import ProfileError, load_profile, parse_profile
from pipelines.ingest.results import IngestError
from pipelines.report.investigate import agent_ref
from pipelines.warehouse import connect
from tests.conftest import copy_landing
from tests.test_ingest_corpus import SURVEY_COLS, call_row, csv_text, survey_row


def _audit(settings):
    con = connect(settings.warehouse, read_only=True)
    try:
        return con.execute(
            "SELECT file_name, status, rows_read, rows_loaded, rows_quarantined, rows_duplicate, "
            "rows_rejected, profile FROM load_audit ORDER BY load_id"
        ).fetchall()
    finally:
        con.close()


def test_every_row_read_is_accounted_for_and_reloading_changes_nothing(generated, settings):
    copy_landing(generated, settings.landing)
    results = ingest_source(settings, "complaints")
    assert results and all(r.status == "loaded" for r in results)
    audit = _audit(settings)
    for _, _status, read, loaded, quarantined, duplicate, rejected, profile in audit:
        assert read == loaded + quarantined + duplicate + rejected
        assert profile in ("generator_cases", "generator_case_events")
    con = connect(settings.warehouse, read_only=True)
    cases = con.execute("SELECT count(*) FROM cases").fetchone()[0]
    con.close()
    assert cases == sum(r.rows_loaded for r in results if r.table == "cases") > 0
    again = ingest_source(settings, "complaints")
    assert {r.status for r in again} == {"skipped"}
    assert _audit(settings) == audit


def test_a_rejected_file_fails_the_source_loudly_and_the_others_still_load(settings):
    folder = settings.landing / "surveys"
    folder.mkdir(parents=True)
    (folder / "good.csv").write_text(csv_text([survey_row()]), encoding="utf-8")
    (folder / "short.csv").write_text("response_id,nps\nR1,5\n", encoding="utf-8")
    with pytest.raises(IngestError, match=r"short.csv: line 1, column customer_ref: rule required_column"):
        ingest_source(settings, "surveys")
    statuses = {row[0]: row[1] for row in _audit(settings)}
    assert statuses == {"good.csv": "loaded", "short.csv": "rejected"}
    report = (settings.rejected / "surveys" / "short.csv.report.txt").read_text(encoding="utf-8")
    assert "none of its 1 rows were loaded" in report and "rule required_column" in report


def test_unknown_source_is_refused(settings):
    with pytest.raises(ValueError, match="unknown source 'fax'"):
        ingest_source(settings, "fax")


def _write(folder, name, rows):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(csv_text(rows), encoding="utf-8")
    return folder / name


def _table(settings):
    con = connect(settings.warehouse, read_only=True)
    try:
        return con.execute(
            f"SELECT {', '.join(SURVEY_COLS)}, source_file, source_line FROM survey_responses ORDER BY response_id"
        ).fetchall()
    finally:
        con.close()


def test_a_record_delivered_again_is_upserted_and_the_latest_export_wins(settings):
    profile = load_profile("generator_survey_responses")
    folder = settings.landing / "surveys"
    first = _write(folder, "export_2026-10-05.csv", [survey_row(rid="R1", nps="3"), survey_row(rid="R2")])
    later = _write(folder, "export_2026-10-06.csv", [survey_row(rid="R1", nps="8"), survey_row(rid="R2")])
    (r_late,) = ingest_paths(settings, "surveys", [later], profile)
    (r_first,) = ingest_paths(settings, "surveys", [first], profile)  # arrives late, but is the older export
    assert (r_late.rows_loaded, r_late.rows_duplicate) == (2, 0)
    assert (r_first.rows_loaded, r_first.rows_duplicate) == (0, 2)
    rows = {r[0]: r for r in _table(settings)}
    assert rows["R1"][SURVEY_COLS.index("nps")] == 8


_IN_ORDER: dict[str, list] = {}


@hyp_settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(order=st.permutations(range(4)), redeliver=st.lists(st.integers(0, 3), max_size=3))
def test_any_order_and_any_redelivery_give_the_same_tables(order, redeliver, tmp_path_factory):
    """Property: loading the same exports in any order, some of them twice, gives identical tables."""
    exports = [
        [survey_row(rid="R1", nps="3"), survey_row(rid="R2", nps="5")],
        [survey_row(rid="R1", nps="9"), survey_row(rid="R3", nps="7")],
        [survey_row(rid="R2", nps="6"), survey_row(rid="R4", nps="x")],  # R4 quarantined
        [survey_row(rid="R3", nps="7"), survey_row(rid="R5", nps="10")],
    ]
    profile = load_profile("generator_survey_responses")

    def load(sequence, home):
        (home / "esprit.yaml").write_text("ingest:\n  max_bad_row_share: 1.0\n")
        settings = load_settings(home / "esprit.yaml", base_dir=home)
        folder = home / "landing" / "surveys"
        results = []
        for i in sequence:  # each delivery drops the export into the landing folder again
            path = _write(folder, f"export_{i}.csv", exports[i])
            results += ingest_paths(settings, "surveys", [path], profile)
        for r in results:
            assert r.rows_read == r.rows_loaded + r.rows_quarantined + r.rows_duplicate + r.rows_rejected
        return _table(settings)

    if "reference" not in _IN_ORDER:  # the same for every example: loaded once
        _IN_ORDER["reference"] = load([0, 1, 2, 3], tmp_path_factory.mktemp("ref"))
    reference = _IN_ORDER["reference"]
    shuffled = load(list(order) + list(redeliver), tmp_path_factory.mktemp("shuffled"))
    assert shuffled == reference
    assert {r[0]: r[SURVEY_COLS.index("nps")] for r in reference} == {"R1": 9, "R2": 6, "R3": 7, "R5": 10}


def test_profiles_are_validated_with_the_key_and_what_was_expected(tmp_path):
    with pytest.raises(ProfileError, match=r"key 'format.delimiter': expected one of .* got ';;'"):
        parse_profile({"name": "x", "table": "calls", "format": {"delimiter": ";;"}}, "x.yaml")
    with pytest.raises(ProfileError, match=r"key 'table': expected one of \['calls'"):
        parse_profile({"name": "x", "table": "phone_calls"}, "x.yaml")
    with pytest.raises(
        ProfileError, match=r"key 'value_maps.outcome.HANG': expected one of \['answered', 'abandoned'\]"
    ):
        parse_profile({"name": "x", "table": "calls", "value_maps": {"outcome": {"HANG": "hung"}}}, "x.yaml")
    with pytest.raises(ProfileError, match=r"key 'colums': expected one of"):
        parse_profile({"name": "x", "table": "calls", "colums": {}}, "x.yaml")
    with pytest.raises(ProfileError, match=r"key 'timezone': expected an IANA timezone"):
        parse_profile({"name": "x", "table": "calls", "timezone": "Paris"}, "x.yaml")
    with pytest.raises(ProfileError, match="profile 'nope' not found"):
        load_profile("nope")


def test_sources_bind_landing_folders_to_profiles(tmp_path):
    cfg = tmp_path / "esprit.yaml"
    cfg.write_text("sources:\n  bank:\n    - {match: '*.csv', profile: anonbank_calls}\n")
    settings = load_settings(cfg, base_dir=tmp_path)
    assert settings.sources["bank"] == [{"match": "*.csv", "profile": "anonbank_calls"}]
    # a project's sources replace the defaults whole: the sources it names are the site's feeds
    assert set(settings.sources) == {"bank"}
    cfg.write_text("sources:\n  bank: anonbank_calls\n")
    with pytest.raises(ValueError, match=r"sources.bank: expected a list of \{match"):
        load_settings(cfg, base_dir=tmp_path)


def test_pseudonyms_are_keyed_hashes_computed_in_the_warehouse(settings):
    profile = load_profile("generator_survey_responses")
    path = _write(settings.landing / "surveys", "a.csv", [survey_row(customer="+33612345678")])
    ingest_paths(settings, "surveys", [path], profile)
    con = connect(settings.warehouse, read_only=True)
    stored = con.execute("SELECT customer_ref FROM survey_responses").fetchone()[0]
    con.close()
    assert stored == pseudonym("+33612345678", resolve_key())
    assert "612345678" not in stored


def test_agent_codes_are_pseudonymised_like_customers(settings, capsys):
    """An agent code is a member of staff's identifier (often initials or a name): it is kept as a
    keyed pseudonym, so continuity of the same agent can still be measured and nobody without the
    key can read who it was; a quarantined row holds the pseudonym too."""
    profile = load_profile("generator_calls")
    rows = [call_row(call_id=f"CALL{i}", agent_id="Jeanne.Dupont") for i in range(20)]
    rows.append(call_row(call_id="BAD", agent_id="Jeanne.Dupont", outcome="nope"))  # 1 in 21: quarantined
    (settings.landing / "calls").mkdir(parents=True, exist_ok=True)
    path = settings.landing / "calls" / "a.csv"
    path.write_text(csv_text(rows, columns=list(rows[0])), encoding="utf-8")
    ingest_paths(settings, "calls", [path], profile)
    con = connect(settings.warehouse, read_only=True)
    stored = con.execute("SELECT DISTINCT agent_id FROM calls").fetchall()
    quarantined = con.execute("SELECT raw_record FROM quarantine").fetchall()
    con.close()
    assert stored == [(pseudonym("Jeanne.Dupont", resolve_key()),)]
    assert len(quarantined) == 1 and pseudonym("Jeanne.Dupont", resolve_key()) in quarantined[0][0]
    assert "Dupont" not in quarantined[0][0]
    main(["pseudonym", "Jeanne.Dupont"])  # how a key holder finds the agent on the pages
    assert capsys.readouterr().out.splitlines() == [
        f"warehouse: {stored[0][0]}",
        f"investigation pages (agent): {agent_ref(stored[0][0])}",
    ]


def test_the_demo_key_is_refused_outside_demo_mode(monkeypatch):
    monkeypatch.setenv("ESPRIT_PSEUDONYM_KEY", DEMO_KEY)
    monkeypatch.delenv("ESPRIT_DEMO", raising=False)
    with pytest.raises(PrivacyError, match="public demo key"):
        resolve_key()
    monkeypatch.delenv("ESPRIT_PSEUDONYM_KEY")
    with pytest.raises(PrivacyError, match="no pseudonymisation key"):
        resolve_key()
    monkeypatch.setenv(
        "AIRFLOW_CONN_ESPRIT_PSEUDONYM", '{"conn_type": "generic", "password": "from-airflow-0123456789"}'
    )
    assert resolve_key().key == b"from-airflow-0123456789"
    monkeypatch.delenv("AIRFLOW_CONN_ESPRIT_PSEUDONYM")
    monkeypatch.setenv("ESPRIT_DEMO", "1")
    assert resolve_key().is_demo
    assert DEMO_KEY not in repr(resolve_key())


def _snapshot(settings):
    con = connect(settings.warehouse, read_only=True)
    try:
        return [
            con.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in ("survey_responses", "cases", "quarantine", "validation_results", "load_audit")
        ]
    finally:
        con.close()


def _derive_profile(tmp_path, name, derive_sql):
    """The generator's survey profile, plus a derived table whose SQL is given."""
    import yaml

    spec = yaml.safe_load(load_profile("generator_survey_responses").path.read_text(encoding="utf-8"))
    spec.update(name=name, derive=[{"table": "cases", "sql": derive_sql}])
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return load_profile(path)


def _two_exports(settings):
    """Settings accepting any share of bad rows, and two exports, the first one loaded."""
    home = settings.landing.parent
    (home / "esprit.yaml").write_text("ingest:\n  max_bad_row_share: 1.0\n")
    settings = load_settings(home / "esprit.yaml", base_dir=home)
    folder = settings.landing / "surveys"
    first = _write(folder, "export_1.csv", [survey_row(rid="R1", nps="3"), survey_row(rid="R2", nps="x")])
    second = _write(
        folder, "export_2.csv", [survey_row(rid="R1", nps="8"), survey_row(rid="R9", nps="x"), survey_row(rid="R3")]
    )
    ingest_paths(settings, "surveys", [first], load_profile("generator_survey_responses"))
    return settings, second


def test_a_file_rejected_after_its_rows_were_upserted_leaves_no_row_behind(settings, tmp_path):
    """The derived table fails after the file's own rows went in: the file is rejected, and the
    canonical table, quarantine and results are as before; only its audit row is added."""
    settings, second = _two_exports(settings)
    before = _snapshot(settings)
    failing = _derive_profile(tmp_path, "tmp_derive_fails", "SELECT * FROM no_such_table")
    (result,) = ingest_paths(settings, "surveys", [second], failing)
    assert result.status == "rejected" and "derive cases failed" in result.problems[0]
    after = _snapshot(settings)
    assert after[:4] == before[:4]
    assert after[4][:-1] == before[4] and after[4][-1][6] == "rejected"


def test_an_interrupted_load_leaves_nothing_half_written_and_a_rerun_loads_the_file(settings, tmp_path):
    """A real DuckDB error inside the transaction, after the file's rows were upserted and its bad
    rows quarantined (a derived timestamp that does not convert): everything is rolled back; the
    file's load is reported failed, the attempt counted, and the file left to be loaded again."""
    settings, second = _two_exports(settings)
    before = _snapshot(settings)
    kept_before = sorted((settings.out / "validation_results").glob("*.json"))
    breaking = _derive_profile(
        tmp_path,
        "tmp_derive_breaks",
        "SELECT response_id AS case_id, customer_ref, 'not a time' AS opened_at, "
        "'web' AS channel, 'x' AS category, NULL AS origin_ref, NULL AS priority, "
        "NULL AS resolved_at "
        "FROM batch",
    )
    (failed,) = ingest_paths(settings, "surveys", [second], breaking)
    assert failed.status == "failed"
    assert "rule load_failed: ConversionException: " in failed.problems[0] and "'not a time'" not in failed.problems[0]
    assert _snapshot(settings) == before
    con = connect(settings.warehouse, read_only=True)
    assert con.execute("SELECT file_name, attempts FROM load_failures").fetchall() == [("export_2.csv", 1)]
    con.close()
    assert sorted((settings.out / "validation_results").glob("*.json")) == kept_before
    assert second.exists()
    (rerun,) = ingest_paths(settings, "surveys", [second], load_profile("generator_survey_responses"))
    assert (rerun.status, rerun.rows_loaded, rerun.rows_quarantined) == ("loaded", 2, 1)
    assert {r[0]: r[SURVEY_COLS.index("nps")] for r in _table(settings)} == {"R1": 8, "R3": 9}


def test_the_progress_bar_follows_the_bytes_read_and_stays_off_outside_a_terminal(tmp_path):
    import gzip
    import io

    from pipelines.console import progress
    from pipelines.ingest.readers import scan, scan_bytes
    from tests.test_ingest_corpus import good_rows

    text = csv_text(good_rows(15000)).encode("utf-8")  # above one 1 MiB read
    for name, content in (("a.csv", text), ("a.csv.gz", gzip.compress(text))):
        path = tmp_path / name
        path.write_bytes(content)
        seen = []
        scan(path, seen.append)
        assert sum(seen) == scan_bytes(path) == len(content) and len(seen) >= 2  # chunk by chunk
        shown = io.StringIO()
        with progress(scan_bytes(path), f"reading {name}", file=shown, enabled=True, mininterval=0, miniters=1) as bar:
            scan(path, bar.update)
            assert bar.n == scan_bytes(path)
        assert f"reading {name}: 100%" in shown.getvalue()
    rows = io.StringIO()
    with progress(5, "validating a.csv", unit="rows", file=rows, enabled=True, mininterval=0, miniters=1) as bar:
        bar.update(5)
    assert "validating a.csv: 100%" in rows.getvalue() and "5.00/5.00" in rows.getvalue()
    quiet = io.StringIO()  # not a terminal, as in task logs: nothing written, however large
    with progress(10, "reading big.csv", file=quiet) as bar:
        bar.update(10)
    assert quiet.getvalue() == ""


def test_a_warehouse_made_before_cases_had_resolved_at_gets_the_column(settings):
    """cases.resolved_at joined the contract later: an older warehouse is given it, empty."""
    con = connect(settings.warehouse)
    con.execute(
        "CREATE TABLE cases (case_id VARCHAR, customer_ref VARCHAR, opened_at TIMESTAMPTZ, channel VARCHAR, "
        "category VARCHAR, origin_ref VARCHAR, priority VARCHAR, source_file VARCHAR, source_line BIGINT, "
        "record_version VARCHAR, load_id BIGINT)"
    )
    con.close()
    columns = ["case_id", "customer_ref", "opened_at", "channel", "category"]
    path = settings.landing / "complaints" / "cases_1.csv"
    path.parent.mkdir(parents=True)
    path.write_text(
        csv_text(
            [
                {
                    "case_id": "K1",
                    "customer_ref": "C1",
                    "opened_at": "2026-10-05T10:00:00+02:00",
                    "channel": "web",
                    "category": "billing",
                }
            ],
            columns=columns,
        ),
        encoding="utf-8",
    )
    (result,) = ingest_paths(settings, "complaints", [path], load_profile("generator_cases"))
    assert (result.status, result.rows_loaded) == ("loaded", 1)
    con = connect(settings.warehouse, read_only=True)
    try:
        assert con.execute("SELECT case_id, resolved_at FROM cases").fetchall() == [("K1", None)]
    finally:
        con.close()


def test_gx_on_every_row_and_the_compiled_suite_with_a_gx_sample_load_the_same(tmp_path, monkeypatch):
    """ingest.gx_rows: the sample (here the first line and the flagged ones) or all: same rows, same reasons;
    and the same when the uniqueness rule counts the repeated keys in passes of 7 rows."""
    import pipelines.ingest.gate
    from pipelines.ingest.gx_check import check_loads

    rows = [survey_row(rid=f"R{i}", nps=str(i % 13), csat=str(i % 6)) for i in range(40)] + [survey_row(rid="R1")]
    outcomes = []
    for gx_rows, group_rows in (
        (1, pipelines.ingest.gate.KEY_GROUP_ROWS),
        ("all", pipelines.ingest.gate.KEY_GROUP_ROWS),
        (1, 7),
    ):
        monkeypatch.setattr(pipelines.ingest.gate, "KEY_GROUP_ROWS", group_rows)
        home = load_settings(base_dir=tmp_path / f"{gx_rows}-{group_rows}")
        home.ingest["gx_rows"] = gx_rows
        home.ingest["max_bad_row_share"] = 1.0
        _write(home.landing / "surveys", "mixed.csv", rows)
        (result,) = ingest_source(home, "surveys")
        # the sample's GX check, run later (gx_check): GX agrees with the compiled rules on it
        assert check_loads(home)["agreed"] == (0 if gx_rows == "all" else 1)
        con = connect(home.warehouse, read_only=True)
        try:
            outcomes.append(
                (
                    result.rows_loaded,
                    result.rows_quarantined,
                    result.rows_duplicate,
                    con.execute("SELECT source_line, reasons FROM quarantine ORDER BY 1").fetchall(),
                    con.execute(
                        "SELECT expectation, columns, success, unexpected_count FROM validation_results "
                        "ORDER BY 1, 2::VARCHAR"
                    ).fetchall(),
                )
            )
        finally:
            con.close()
    sample, every_row, in_passes = outcomes
    assert sample[:3] == (29, 11, 1) and len(sample[3]) == 11  # nps 11 or 12, or csat 0
    assert sample == every_row == in_passes
    assert ("expect_column_values_to_be_unique", ["response_id"], False, 2) in sample[4]


def test_a_file_unchanged_in_the_landing_folder_is_not_read_again_a_touched_one_is_hashed(settings):
    import os

    path = _write(settings.landing / "surveys", "week.csv", [survey_row()])
    assert [r.status for r in ingest_source(settings, "surveys")] == ["loaded"]
    stat = path.stat()
    # same name, size and modification time: taken as the file loaded, without reading it (documented)
    path.write_text(csv_text([survey_row(nps="1")]), encoding="utf-8")
    assert path.stat().st_size == stat.st_size
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert [r.status for r in ingest_source(settings, "surveys")] == ["skipped"]
    # a new modification time: the content is hashed, and a changed content loads
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert [r.status for r in ingest_source(settings, "surveys")] == ["loaded"]
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2 * 10**9))  # touched, same content: a no-op
    assert [r.status for r in ingest_source(settings, "surveys")] == ["skipped"]
    assert [row[1] for row in _audit(settings)] == ["loaded", "loaded"]


def test_out_of_memory_fails_the_load_and_leaves_the_file_to_load_again_never_rejected(settings):
    rows = [survey_row(rid=f"R{i}", verbatim="x" * 2000) for i in range(3000)]
    path = _write(settings.landing / "surveys", "big.csv", rows)
    settings.ingest["memory_limit"] = "2MB"  # DuckDB runs out of memory reading the file
    with pytest.raises(IngestError, match=r"big.csv: line 1, column -: rule load_failed: OutOfMemoryException: "):
        ingest_source(settings, "surveys")  # the run says so; the attempt is counted (1 of ingest.max_attempts)
    assert path.exists() and not (settings.rejected / "surveys").exists()
    assert _audit(settings) == []
    settings.ingest["memory_limit"] = "1GB"
    assert [r.status for r in ingest_source(settings, "surveys")] == ["loaded"]


@pytest.mark.parametrize("unparseable", [False, True], ids=["clean", "with an unparseable line"])
def test_a_file_read_by_several_threads_keeps_every_line_number(settings, unparseable):
    """Large enough for DuckDB to parse it in several ranges at once: each record keeps its own
    line, in a file that parses whole (typed straight from the reader, numbered by row ids, and read
    again for the text of its bad rows) and in one with a line DuckDB rejects (read again on one
    thread); a row that breaks a rule of the suite and one whose value does not convert are
    quarantined with their own line and their own text."""
    header = csv_text([survey_row()]).splitlines()[0]
    template = csv_text([survey_row(rid="{rid}", customer="C{customer}")]).splitlines()[1]
    lines = [header]
    for line_no in range(2, 250_002):  # about 25 MB
        if unparseable and line_no == 123_457:
            lines.append(template.format(rid=f"L{line_no}", customer=1) + ",an extra field")
        else:
            lines.append(template.format(rid=f"L{line_no}", customer=line_no % 5000))
    bad_type = 200_001  # a value that is not a number: quarantined with its line
    lines[bad_type - 1] = lines[bad_type - 1].replace(",9,5,6,", ",nine,5,6,")
    bad_rule = 170_001  # nps 11: breaks the suite's range rule
    lines[bad_rule - 1] = lines[bad_rule - 1].replace(",9,5,6,", ",11,5,6,")
    folder = settings.landing / "surveys"
    folder.mkdir(parents=True)
    path = folder / "big.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    (result,) = ingest_paths(settings, "surveys", [path])
    assert (result.status, result.rows_read, result.rows_quarantined) == ("loaded", 250_000, 2 + unparseable)
    con = connect(settings.warehouse, read_only=True)
    try:
        assert (
            con.execute(
                "SELECT count(*), count(*) FILTER (WHERE response_id = 'L' || source_line) FROM survey_responses"
            ).fetchone()
            == (250_000 - 2 - unparseable,) * 2
        )
        quarantined = con.execute("SELECT source_line, reasons[1], raw_record FROM quarantine ORDER BY 1").fetchall()
    finally:
        con.close()
    assert [line for line, _, _ in quarantined] == [123_457] * unparseable + [bad_rule, bad_type]
    assert "column nps: rule expect_column_values_to_be_between; value nps='11'" in quarantined[-2][1]
    assert "column nps: rule type; value shaped 'aaaa'" in quarantined[-1][1]
    for line, _, record in quarantined[-2:]:
        assert json.loads(record)["response_id"] == f"L{line}"
    if unparseable:
        assert "too many columns" in quarantined[0][1]


@hyp_settings(max_examples=300, deadline=None)
@given(
    text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
    | st.from_regex(r"[A-Za-z +().\-]{0,20}(\+|00)?[A-Z]{0,2}[ .\-]?[A-Za-z .\-]{0,20}", fullmatch=True)
)
def test_scrubbing_leaves_a_text_without_digits_or_at_signs_alone(text):
    """scrub_sql skips such texts (most verbatims): no pattern may need anything else to match."""
    from pipelines.ingest.privacy import scrub

    bare = "".join(ch for ch in text if ch != "@" and not ch.isdigit())
    assert scrub(bare) == bare


def test_a_changed_week_timezone_recuts_the_weeks_each_load_lists(tmp_path):
    """Monday 00:30 in Paris is Sunday 23:30 UTC: loaded with week_timezone Europe/Paris, the load
    lists week 42; once the site counts weeks in UTC, the next ingest lists week 41 for it."""
    home = load_settings(base_dir=tmp_path)
    _write(home.landing / "surveys", "late.csv", [survey_row(rid="R1", at="2026-10-12T00:30:00+02:00")])
    ingest_source(home, "surveys")
    con = connect(home.warehouse, read_only=True)
    assert con.execute("SELECT weeks, weeks_timezone FROM load_audit").fetchall() == [(["2026-W42"], "Europe/Paris")]
    con.close()
    import dataclasses

    assert ingest_paths(dataclasses.replace(home, week_timezone="UTC"), "surveys", []) == []
    con = connect(home.warehouse, read_only=True)
    assert con.execute("SELECT weeks, weeks_timezone FROM load_audit").fetchall() == [(["2026-W41"], "UTC")]
    con.close()


@pytest.mark.parametrize(
    "key",
    [
        "                        ",
        "aaaaaaaaaaaaaaaaaaaaaaaa",
        "12121212121212121212",
        " a-secret-key-with-a-space",
        "abcdefgabcdefgabcdefg",
    ],
)
def test_a_blank_or_low_variety_key_is_refused_like_a_short_one(monkeypatch, key):
    monkeypatch.setenv("ESPRIT_PSEUDONYM_KEY", key)
    with pytest.raises(PrivacyError, match="fewer than 8 different characters|blank at an end"):
        resolve_key()
    monkeypatch.setenv("ESPRIT_PSEUDONYM_KEY", "abcdefgh" * 2)  # eight different characters: accepted
    assert resolve_key().key == b"abcdefghabcdefgh"
