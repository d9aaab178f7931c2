"""Hostile file names through ingest (landing folder, `esprit ingest`, the rejection path), the
landing watcher and the scorecard: quotes, shell metacharacters, line breaks, leading dashes, dots,
glob characters, SQL and HTML in the name, very long names, bytes that are not UTF-8.

What must hold: every file is loaded (or rejected) under its own name, as text, wherever the name
appears (audit, lineage, quarantine, reports, logs, printed tables); no SQL from a name runs; no
command runs; nothing is written outside the warehouse, out/ and rejected/<source>/. Real DuckDB
and Great Expectations. Findings in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from pipelines.config import load_settings
from pipelines.console import shown_name
from pipelines.ingest.load import ingest_source
from pipelines.orchestration.landing_watch import LandingFolderTrigger, LandingScanner
from pipelines.warehouse import connect
from tests.test_ingest_corpus import CALL_COLS, call_row, csv_text

HOSTILE = [
    "calls_it's.csv",
    'calls_"double".csv',
    "calls_; rm -rf ~ ;.csv",
    "calls_$(touch pwned).csv",
    "calls_`touch pwned`.csv",
    "calls_&& touch pwned |.csv",
    "calls_new\nline.csv",
    "calls_return\rhere.csv",
    "calls_tab\there.csv",
    "-calls_leading_dash.csv",
    "--help.csv",
    "calls_..csv",
    "calls_..%2F..%2Fescape.csv",
    "calls_'); DROP TABLE load_audit; --.csv",
    'calls_" OR 1=1 --.csv',
    "calls_*.csv",  # DuckDB reads * ? [ ] in a path as a glob
    "calls_?.csv",
    "calls_[a-z].csv",
    "calls_<img src=x onerror=alert(1)>.csv",
    "calls_back\\slash.csv",
    "calls_\u202egnp.csv",  # a right-to-left override
    "calls_é€✓.csv",
    "calls_" + "x" * 200 + ".csv",
]
# A file name is at most 255 bytes; ingest names what it writes from the file's name.
LONGEST = "calls_" + "y" * 245 + ".csv"
NOT_UTF8 = b"calls_\xff\xfe latin1 \xe9.csv"
PWNED = "pwned"


def hostile_calls(i: int) -> str:
    """Thirty good call segments and one that breaks a rule (quarantined): a file of its own content."""
    rows = [call_row(call_id=f"H{i}-{k}") for k in range(30)] + [call_row(call_id=f"H{i}-bad", outcome="lost")]
    return csv_text(rows, columns=CALL_COLS)


def land(folder: Path, names: list[str | bytes], content) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        path = os.path.join(os.fsencode(folder), name if isinstance(name, bytes) else os.fsencode(name))
        with open(path, "wb") as handle:
            handle.write(content(i).encode("utf-8"))
    return [os.fsdecode(n) for n in names]


def tree(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def written_outside(before: set[Path], root: Path, allowed: list[Path]) -> list[str]:
    return sorted(
        str(p.relative_to(root)) for p in tree(root) - before if not any(p == a or a in p.parents for a in allowed)
    )


@pytest.fixture
def home(tmp_path, monkeypatch):
    """The run's home is also the working folder: a command run from a name would write here."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ESPRIT_HOME", str(tmp_path))
    return load_settings(base_dir=tmp_path)


def audit_and_lineage(settings) -> tuple[dict, dict, dict, set[str]]:
    con = connect(settings.warehouse, read_only=True)
    try:
        audit = {
            r[0]: r[1:]
            for r in con.execute(
                "SELECT file_name, status, rows_loaded, rows_quarantined, report FROM load_audit"
            ).fetchall()
        }
        lineage = dict(con.execute("SELECT source_file, count(*) FROM calls GROUP BY 1").fetchall())
        quarantine = dict(con.execute("SELECT source_file, count(*) FROM quarantine GROUP BY 1").fetchall())
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    finally:
        con.close()
    return audit, lineage, quarantine, tables


def test_hostile_names_in_a_landing_folder_load_under_their_own_name(home, tmp_path):
    names = land(home.landing / "calls", HOSTILE, hostile_calls)
    before = tree(tmp_path)
    results = ingest_source(home, "calls")
    texts = [shown_name(n) for n in names]  # the name as one line of text: line breaks written \n
    assert len(set(texts)) == len(names) and sorted(r.file for r in results) == sorted(texts)
    assert {r.status for r in results} == {"loaded"}, [(r.file, r.problems) for r in results if r.status != "loaded"]
    audit, lineage, quarantine, tables = audit_and_lineage(home)
    assert set(audit) == set(texts)
    assert all(a[:3] == ("loaded", 30, 1) for a in audit.values()), audit
    assert lineage == {n: 30 for n in texts}  # each file's own rows: calls_*.csv read itself, not its neighbours
    assert quarantine == {n: 1 for n in texts}
    assert {"load_audit", "calls", "quarantine"} <= tables  # the SQL in a name did not run
    assert not list(tmp_path.rglob(PWNED))  # nor did a command
    assert written_outside(before, tmp_path, [home.warehouse.parent, home.out]) == []
    assert sorted(p.name for p in (home.landing / "calls").iterdir()) == sorted(names)  # loaded files stay


def test_hostile_names_of_rejected_files_move_to_rejected_with_a_report(home, tmp_path):
    names = land(home.landing / "calls", HOSTILE, lambda i: f"not,the,calls,header\n{i},2,3,4\n")
    before = tree(tmp_path)
    results = ingest_source(home, "calls", fail_on_reject=False)
    assert {r.status for r in results} == {"rejected"}
    folder = home.rejected / "calls"
    for name in names:
        assert (folder / name).read_text(encoding="utf-8").startswith("not,the,calls,header\n")
        report = (folder / f"{name}.report.txt").read_bytes().decode("utf-8")
        assert f"file {shown_name(name)} (source calls" in report and "required_column" in report
    assert sorted(p.name for p in folder.iterdir()) == sorted(names + [f"{n}.report.txt" for n in names])
    assert list((home.landing / "calls").iterdir()) == []
    audit, _, _, tables = audit_and_lineage(home)
    assert set(audit) == {shown_name(n) for n in names} and {a[0] for a in audit.values()} == {"rejected"}
    assert all(a[3].startswith(f"{n}: line 1, column") for n, a in audit.items())
    assert "load_audit" in tables and not list(tmp_path.rglob(PWNED))
    assert written_outside(before, tmp_path, [home.warehouse.parent, home.out, home.rejected]) == []


def test_esprit_ingest_prints_names_as_text_and_keeps_the_source_inside_rejected(home, tmp_path, capsys):
    from pipelines.cli import main

    outside = tmp_path / "exports" / "calls"
    names = land(outside, HOSTILE, hostile_calls)
    before = tree(tmp_path)
    # a path with .. segments: the default source is the folder's real name, not ".."
    via_dots = outside / ".." / "calls"
    assert main(["ingest", str(via_dots), "--profile", "generator_calls"]) == 0
    printed = capsys.readouterr().out.splitlines()
    table = [line for line in printed if line[41:50].strip() in ("loaded", "rejected", "skipped")]
    # one table line per file, whatever its name holds
    assert sorted(table) == sorted(
        f"{shown_name(n)[:40]:<40} {'loaded':<9} {31:>9} {30:>9} {1:>9} {0:>7} {0:>8}" for n in names
    ), printed
    audit, _, _, _ = audit_and_lineage(home)
    assert set(audit) == {shown_name(n) for n in names} and {a[0] for a in audit.values()} == {"loaded"}
    # an explicit source that would climb out of rejected/ is refused before anything is read
    for source in ("..", "../../elsewhere", "."):
        assert main(["ingest", str(outside), "--profile", "generator_calls", "--source", source]) == 2
        assert "not a plain name" in capsys.readouterr().err
    assert written_outside(before, tmp_path, [home.warehouse.parent, home.out]) == []
    assert not list(tmp_path.rglob(PWNED))


def test_a_rejected_file_loaded_from_elsewhere_is_copied_into_rejected_of_its_source(home, tmp_path, capsys):
    from pipelines.cli import main

    outside = tmp_path / "drop" / "calls"
    names = land(outside, HOSTILE[:8], lambda i: f"not,the,calls,header\n{i},2,3,4\n")
    before = tree(tmp_path)
    assert main(["ingest", str(outside / ".." / ".." / "drop" / "calls"), "--profile", "generator_calls"]) == 1
    out = capsys.readouterr().out
    assert "\nline.csv" not in out and shown_name("calls_new\nline.csv") in out  # no line forged by a name
    assert sorted(p.name for p in outside.iterdir()) == sorted(names)  # its owner's copies stay where they were
    assert written_outside(before, tmp_path, [home.warehouse.parent, home.out, home.rejected]) == []
    assert len(list((home.rejected / "calls").iterdir())) == 2 * len(names)


def test_hostile_names_reach_the_scorecard_as_counts_and_never_as_markup(home, tmp_path):
    from pipelines.model.build import build_models
    from pipelines.report.scorecard import render_weeks

    names = land(home.landing / "calls", HOSTILE, hostile_calls)
    ingest_source(home, "calls")
    build_models(home)
    render_weeks(home, languages=["en"], pdf=False)
    figures = json.loads(next(home.scorecards_dir.glob("*/scorecard.json")).read_text(encoding="utf-8"))
    calls = next(s for s in figures["quality"]["sources"] if s["source"] == "calls")
    assert calls["files"] == len(names) and calls["rows_quarantined"] == len(names)  # the data-quality panel
    pages = [p for p in home.out.rglob("*") if p.suffix in (".html", ".csv", ".json") and p.is_file()]
    assert pages
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "<img src=x" not in text and "DROP TABLE" not in text, page


def test_the_landing_watcher_announces_hostile_names_and_logs_each_on_one_line(tmp_path, capfd):
    names = land(tmp_path, HOSTILE + [NOT_UTF8], hostile_calls)
    scanner = LandingScanner(tmp_path)
    scanner.poll()
    assert scanner.poll() == sorted(names)
    trigger = LandingFolderTrigger(folder=str(tmp_path), source="calls", poll_seconds=0.05)

    async def first_event():
        events = trigger.run()
        event = await asyncio.wait_for(events.__anext__(), timeout=10)
        await events.aclose()
        return event

    capfd.readouterr()
    event = asyncio.run(first_event())
    assert sorted(event.payload["files"]) == sorted(names)
    assert json.loads(json.dumps(event.payload))["files"] == event.payload["files"]  # storable as JSON
    output = capfd.readouterr()
    logged = [line for line in (output.out + output.err).splitlines() if "landed in" in line]  # structlog
    assert len(logged) == 1 and logged[0].isprintable()
    assert all(shown_name(n) in logged[0] for n in sorted(names)[:20])  # the log names the first twenty


def test_the_task_log_of_rejected_files_shows_each_name_on_its_line():
    from pipelines.orchestration.tasks import rejection_report

    report = rejection_report(
        {
            "source": "calls",
            "rejected": [
                {
                    "file": "calls_new\nline.csv",
                    "problems": ["calls_new\nline.csv: line 1, column -: rule empty_file: empty"],
                },
                {"file": os.fsdecode(NOT_UTF8), "problems": []},
            ],
        }
    )
    assert report.splitlines() == [
        "2 file(s) of source 'calls' rejected (moved to rejected/ with a report):",
        "- calls_new\\nline.csv",
        "    calls_new\\nline.csv: line 1, column -: rule empty_file: empty",
        "- calls_\\udcff\\udcfe latin1 \\udce9.csv",
    ]


def test_a_name_of_255_bytes_loads_and_is_rejected_with_a_report(home):
    """Ingest names files after the landed file (validation results, reports): cut below 255 bytes."""
    land(home.landing / "calls", [LONGEST], hostile_calls)
    (result,) = ingest_source(home, "calls")
    assert result.status == "loaded" and result.file == LONGEST
    (home.landing / "calls" / LONGEST).write_text("not,the,calls,header\n1,2,3,4\n", encoding="utf-8")
    (result,) = ingest_source(home, "calls", fail_on_reject=False)
    assert result.status == "rejected" and (home.rejected / "calls" / LONGEST).is_file()
    (report,) = (home.rejected / "calls").glob("*.report.txt")
    assert LONGEST in report.read_text(encoding="utf-8")


def test_a_name_that_is_not_utf8_loads_under_its_text_form(home):
    (name,) = land(home.landing / "calls", [NOT_UTF8], hostile_calls)
    (result,) = ingest_source(home, "calls")
    assert result.status == "loaded" and result.file == shown_name(name) == "calls_\\udcff\\udcfe latin1 \\udce9.csv"
    audit, lineage, _, _ = audit_and_lineage(home)
    assert set(audit) == set(lineage) == {shown_name(name)}
