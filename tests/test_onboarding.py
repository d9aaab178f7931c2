"""`esprit profile init`: a proposed profile from a sample of an unseen export; nothing loaded."""

from __future__ import annotations

import yaml

from pipelines.cli import main
from pipelines.ingest.load import ingest_paths
from pipelines.ingest.onboarding import propose_profile
from pipelines.ingest.profiles import load_profile


def _todo(proposal, prefix: str) -> list[str]:
    return [t for t in proposal.todo if t.startswith(prefix)]


def test_a_canonical_export_needs_no_edit_and_loads_every_row(generated, settings, tmp_path):
    """The generator's calls file names every canonical column: the proposal maps each to itself,
    and the profile it writes loads the file exactly as the shipped profile does."""
    path = sorted((generated / "calls").iterdir())[0]
    proposal = propose_profile(path, "calls", "proposed_calls")
    assert [t.split(":")[0] for t in proposal.todo] == ["timezone"]
    assert all(v == k for k, v in proposal.profile["columns"].items())
    assert proposal.profile["format"] == {"type": "csv", "delimiter": ",", "encoding": "auto"}
    out = tmp_path / "profiles" / "proposed_calls.yaml"
    assert main(["profile", "init", str(path), "--table", "calls", "--name", "proposed_calls", "--out", str(out)]) == 0
    assert main(["profile", "init", str(path), "--table", "calls", "--out", str(out)]) == 2  # never over a file
    (mine,) = ingest_paths(settings, "calls", [path], load_profile(out))
    assert mine.status == "loaded" and mine.rows_read == mine.rows_loaded > 0 and not mine.rows_quarantined
    assert not settings.rejected.exists() or not any(settings.rejected.rglob("*"))


def test_dialect_empty_header_formats_and_value_stubs_of_an_unseen_export(tmp_path, capsys):
    """A semicolon export with an unnamed index column, day-first times (a 13th day settles the
    order), a channel spelt its own way, and no customer column."""
    text = "\n".join(
        [
            ";Ticket ID;Opened;Closed;Via;Product",
            '1;T-1;13/10/2026 09:15;14/10/2026 10:00;Telephone;"Card, debit"',
            "2;T-2;02/10/2026 11:00;;Courriel;Loan",
            "3;T-3;05/10/2026 16:40;06/10/2026 08:00;Telephone;Loan",
        ]
    )
    path = tmp_path / "tickets.csv"
    path.write_text(text + "\n", encoding="utf-8")
    proposal = propose_profile(path, "cases")
    profile = proposal.profile
    assert profile["format"]["delimiter"] == ";"
    assert [c.name for c in proposal.columns][:2] == ["column1", "Ticket ID"]  # named by its position
    assert profile["columns"]["case_id"] == '"Ticket ID"' and profile["columns"]["category"] == '"Product"'
    assert profile["columns"]["opened_at"] == '"Opened"' and profile["columns"]["resolved_at"] == '"Closed"'
    assert profile["timestamp_formats"] == {"opened_at": "%d/%m/%Y %H:%M", "resolved_at": "%d/%m/%Y %H:%M"}
    assert profile["columns"]["channel"] == '"Via"'
    assert set(profile["value_maps"]["channel"]) == {"Telephone", "Courriel"}
    assert _todo(proposal, "value_maps.channel")
    # no customer column: the TODO says how to make each case its own customer
    (customer,) = _todo(proposal, "customer_ref")
    assert "`'tickets/' || \"Ticket ID\"`" in customer
    # every day at most 12: the order cannot be told, and the TODO says so
    path.write_text(text.replace("13/10", "12/10").replace("14/10", "11/10") + "\n", encoding="utf-8")
    assert _todo(propose_profile(path, "cases"), "timestamp_formats.opened_at")
    assert main(["profile", "init", str(path), "--table", "cases"]) == 0
    printed = capsys.readouterr()
    assert yaml.safe_load(printed.out)["table"] == "cases" and "thing(s) to decide" in printed.err


def test_repeated_and_empty_header_names_get_stable_names_and_the_proposal_loads(settings, tmp_path):
    """A header repeating 'Date' (case aside) and 'Note', with an empty name: the later ones are
    read as date_2 and note_3 (Note_2 is a name the file has already), the empty one as column1; the proposal says so and loads the file, which the default profile rejects."""
    from pipelines.ingest.readers import numbered_duplicates

    assert numbered_duplicates(["a", "A", "a", "b"]) == ["a", "A_2", "a_3", "b"]
    path = tmp_path / "cases_dup.csv"
    path.write_text(
        ",Case,Date,date,Via,Note,note,Note_2,Product\n"
        "1,C1,2026-10-05 09:00,2026-10-06 10:00,web,x,y,z,Loan\n"
        "2,C2,2026-10-06 11:00,,web,,,,Card\n",
        encoding="utf-8",
    )
    proposal = propose_profile(path, "cases", "dup_cases")
    names = [c.name for c in proposal.columns]
    assert names == ["column1", "Case", "Date", "date_2", "Via", "Note", "note_3", "Note_2", "Product"]
    assert proposal.profile["duplicate_headers"] == "number"
    assert any("name_2" in n for n in proposal.notes)
    profile = proposal.profile
    profile["columns"]["customer_ref"] = "'dup/' || \"Case\""
    profile["columns"]["opened_at"] = '"Date"'
    profile["columns"]["resolved_at"] = '"date_2"'
    out = tmp_path / "dup_cases.yaml"
    out.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    (result,) = ingest_paths(settings, "complaints", [path], load_profile(out))
    assert (result.status, result.rows_read, result.rows_loaded) == ("loaded", 2, 2), result.problems
    # without the key, such a header is still refused, naming the names
    profile.pop("duplicate_headers")
    out.write_text(yaml.safe_dump(profile, allow_unicode=True), encoding="utf-8")
    other = tmp_path / "cases_dup2.csv"
    other.write_text(path.read_text(encoding="utf-8") + "3,C3,2026-10-07 11:00,,web,,,,Card\n", encoding="utf-8")
    (result,) = ingest_paths(settings, "complaints", [other], load_profile(out))
    assert result.status == "rejected" and "rule duplicate_header" in result.problems[0]


def test_an_unknown_table_or_a_missing_file_is_refused_with_what_to_do(tmp_path, capsys):
    import pytest

    from pipelines.ingest.onboarding import OnboardingError

    with pytest.raises(OnboardingError, match="unknown table 'tickets': expected one of"):
        propose_profile(tmp_path / "x.csv", "tickets")
    assert main(["profile", "init", str(tmp_path / "missing.csv"), "--table", "cases"]) == 2
    assert "no such file" in capsys.readouterr().err


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_a_dry_run_shows_rows_and_rules_and_writes_nothing(generated, settings, capsys):
    """On a warehouse holding a week already: a file with a bad row, then a file that would be
    rejected. The warehouse's tables, the landing, out/ and rejected/ folders are as they were."""
    from pipelines.ingest.dry_run import dry_run
    from pipelines.model.build import build_models
    from tests.test_reliability import warehouse_hashes

    first, second = sorted((generated / "calls").iterdir())[:2]
    landing = settings.landing / "calls"
    landing.mkdir(parents=True)
    for path in (first, second):
        (landing / path.name).write_bytes(path.read_bytes())
    ingest_paths(settings, "calls", [landing / first.name], load_profile("generator_calls"))
    build_models(settings)
    header, *rows = (landing / second.name).read_text(encoding="utf-8").splitlines()
    fields = rows[1].split(",")
    rows[1] = ",".join([fields[0], "zero", *fields[2:]])  # segment_no not a number
    (landing / second.name).write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    broken = landing / "calls_broken.csv"
    broken.write_text("call_id,segment_no\nX1,1\n", encoding="utf-8")
    before = (warehouse_hashes(settings.warehouse), _listing(settings.landing), _listing(settings.out))
    assert not settings.rejected.exists()

    run = dry_run(settings, "calls", landing / second.name, load_profile("generator_calls"), limit=4)
    assert run.result.status == "loaded" and run.result.rows_read == len(rows)
    assert run.result.rows_loaded == len(rows) - 1 and run.result.rows_quarantined == 1
    assert len(run.rows) == 4 and "customer_ref" in run.columns and "load_id" not in run.columns
    customer = run.columns.index("customer_ref")
    assert all(str(row[customer]).startswith("p_") for row in run.rows)  # pseudonymised
    assert run.reasons == [("column segment_no: rule type", 1)]
    assert main(["ingest", str(broken), "--profile", "generator_calls", "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert "nothing was written" in out and "rejected" in out and "rule" in out

    assert (warehouse_hashes(settings.warehouse), _listing(settings.landing), _listing(settings.out)) == before
    assert not settings.rejected.exists()


def _tickets(tmp_path, opened=("13/10/2026 09:15", "02/10/2026 11:00", "05/10/2026 16:40")):
    lines = ["Ticket ID,Opened,Via,Product"] + [f"T-{i},{at},web,Loan" for i, at in enumerate(opened)]
    path = tmp_path / "landing" / "complaints" / "tickets.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _ticket_profile(tmp_path, **columns):
    import yaml

    data = {
        "name": "tickets",
        "table": "cases",
        "format": {"type": "csv", "delimiter": ","},
        "columns": {
            "case_id": '"Ticket ID"',
            "customer_ref": "'t/' || \"Ticket ID\"",
            "opened_at": '"Opened"',
            "channel": '"Via"',
            "category": '"Product"',
            **columns,
        },
    }
    path = tmp_path / "tickets.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_profile(path)


def test_a_failing_expression_is_named_with_its_column_and_the_files_columns(settings, tmp_path):
    path = _tickets(tmp_path)
    profile = _ticket_profile(tmp_path, category='"Prodcut"')
    (result,) = ingest_paths(settings, "complaints", [path], profile)
    assert result.status == "rejected"
    (problem,) = result.problems
    assert "line 1, column category: rule profile_expression" in problem
    assert 'column category: "Prodcut" fails: Binder Error' in problem and "Transaction" not in problem
    assert problem.count(" fails: ") == 1  # the other expressions apply
    assert "The file has the columns Ticket ID, Opened, Via, Product" in problem and "tickets.yaml" in problem


def test_a_timestamp_format_is_proposed_when_most_values_do_not_read(settings, tmp_path):
    path = _tickets(tmp_path)
    (result,) = ingest_paths(settings, "complaints", [path], _ticket_profile(tmp_path))
    assert result.status == "rejected"
    hints = [p for p in result.problems if p.startswith("hint:")]
    assert hints == [
        "hint: column opened_at: 3 of the first 3 values do not read as ISO 8601; they read as '%d/%m/%Y %H:%M': "
        "set timestamp_formats.opened_at: '%d/%m/%Y %H:%M' in the profile"
    ]


def test_building_blocks_let_file_name_values_and_a_renamed_header(settings, tmp_path):
    """A daily call log whose day is only in its name, times of day, and a header variant:
    `file_name` takes the day, `let` builds each time once, `rename` reads `Caller` as `caller`.
    A file whose name does not match is rejected, saying so."""
    import yaml

    data = {
        "name": "daily_calls",
        "table": "calls",
        "format": {"type": "csv", "delimiter": ","},
        "timezone": "Europe/Paris",
        "personal_columns": ["caller"],
        "file_name": r"calls_(?P<day>\d{4}-\d{2}-\d{2})\.csv",
        "rename": {"Caller": "caller"},
        "let": {
            "began": "strptime(day || ' ' || \"start\", '%Y-%m-%d %H:%M:%S')",
            "stop": 'began + to_seconds("seconds"::INT)',
        },
        "columns": {
            "call_id": "day || '/' || \"id\"",
            "segment_no": "1",
            "customer_ref": "caller",
            "queue": "'Q1'",
            "team": "'accueil'",
            "offered_at": "began",
            "answered_at": "began",
            "ended_at": "stop",
            "outcome": "'answered'",
            "transfer_type": "'none'",
        },
    }
    (tmp_path / "daily_calls.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    profile = load_profile(tmp_path / "daily_calls.yaml")
    folder = settings.landing / "calls"
    folder.mkdir(parents=True)
    text = "id,Caller,start,seconds\n1,C1,09:00:00,120\n2,C2,23:59:30,60\n"
    (folder / "calls_2026-10-05.csv").write_text(text, encoding="utf-8")
    (result,) = ingest_paths(settings, "calls", [folder / "calls_2026-10-05.csv"], profile)
    assert result.status == "loaded" and result.rows_loaded == 2, result.problems
    from pipelines.warehouse import connect

    con = connect(settings.warehouse, read_only=True)
    try:
        rows = con.execute(
            "SELECT call_id, strftime(offered_at AT TIME ZONE 'Europe/Paris', '%Y-%m-%d %H:%M:%S'), "
            "date_diff('second', offered_at, ended_at), customer_ref LIKE 'p_%' FROM calls ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    assert rows == [
        ("2026-10-05/1", "2026-10-05 09:00:00", 120, True),
        ("2026-10-05/2", "2026-10-05 23:59:30", 60, True),
    ]
    (folder / "calls_latest.csv").write_text(text.replace("C1", "C4"), encoding="utf-8")
    (refused,) = ingest_paths(settings, "calls", [folder / "calls_latest.csv"], profile)
    assert refused.status == "rejected" and "rule file_name" in refused.problems[0]
    assert "(?P<day>" in refused.problems[0] and "rename the file" in refused.problems[0]
    # a let named like a column of the file would hide it: refused, saying which
    data["let"]["start"] = data["let"].pop("began")
    (tmp_path / "daily_calls.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    (folder / "calls_2026-10-06.csv").write_text(text.replace("C2", "C3"), encoding="utf-8")
    renamed = load_profile(tmp_path / "daily_calls.yaml")
    (clash,) = ingest_paths(settings, "calls", [folder / "calls_2026-10-06.csv"], renamed)
    assert clash.status == "rejected" and "rule let_name" in clash.problems[0] and "'start'" in clash.problems[0]


def test_a_failing_let_is_named_and_the_columns_reading_it_are_not_blamed(settings, tmp_path):
    import yaml

    path = _tickets(tmp_path)
    data = yaml.safe_load((_ticket_profile(tmp_path).path).read_text(encoding="utf-8"))
    data["let"] = {"opened_time": "strptime(\"Openned\", '%d/%m/%Y %H:%M')"}
    data["columns"]["opened_at"] = "opened_time"
    (tmp_path / "tickets.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    (result,) = ingest_paths(settings, "complaints", [path], load_profile(tmp_path / "tickets.yaml"))
    (problem,) = result.problems
    assert "let opened_time: strptime" in problem and "Openned" in problem and problem.count(" fails: ") == 1


def test_derived_rows_break_their_contract_and_the_file_is_rejected_naming_each_rule(settings, tmp_path):
    """A case history deriving cases with no customer, an unknown channel and a resolution before
    the opening: rejected with a report naming the three rules, nothing loaded (before, they loaded
    without a word)."""
    import yaml

    spec = yaml.safe_load(load_profile("generator_case_events").path.read_text(encoding="utf-8"))
    spec.update(
        name="events_deriving",
        derive=[
            {
                "table": "cases",
                "sql": "SELECT case_id, NULL AS customer_ref, min(event_at) AS opened_at, 'pigeon' AS channel, "
                "'x' AS category, NULL AS origin_ref, NULL AS priority, min(event_at) - INTERVAL 1 DAY AS resolved_at "
                "FROM batch GROUP BY case_id",
            }
        ],
    )
    (tmp_path / "events_deriving.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    folder = settings.landing / "complaints"
    folder.mkdir(parents=True)
    path = folder / "case_events_x.csv"
    path.write_text(
        "case_id,event_seq,event_type,event_at,team,agent_id,status\n"
        "K1,1,opened,2026-10-05T10:00:00+02:00,reclamations,A1,open\n",
        encoding="utf-8",
    )
    (result,) = ingest_paths(settings, "complaints", [path], load_profile(tmp_path / "events_deriving.yaml"))
    assert result.status == "rejected" and result.rows_loaded == 0
    (problem,) = result.problems
    assert "rule derived_rows" in problem and "derive cases makes rows that break the table's contract" in problem
    for broken in (
        "column customer_ref: rule expect_column_values_to_not_be_null: 1 row(s)",
        "column channel: rule expect_column_values_to_be_in_set: 1 row(s)",
        "column resolved_at/opened_at: rule expect_column_pair_values_a_to_be_greater_than_b: 1 row(s)",
    ):
        assert broken in problem, problem
    report = settings.rejected / "complaints" / "case_events_x.csv.report.txt"
    assert "derived_rows" in report.read_text(encoding="utf-8")
