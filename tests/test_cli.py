"""The command line a data engineer lives in: help with examples and defaults, names matched
without case and refused with the valid ones listed, relative paths, output piped to `head`."""

from __future__ import annotations

import subprocess
import sys

import pytest

from pipelines.cli import EXAMPLES, build_parser, main
from tests.conftest import REPO_ROOT


def _commands() -> list[list[str]]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    found = []
    for name, command in sub.choices.items():
        found.append([name])
        nested = [a for a in command._actions if isinstance(a, type(sub))]
        found += [[name, n] for a in nested for n in a.choices]
    return found


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_every_command_has_a_description_examples_and_its_defaults_in_help(command, capsys):
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    assert done.value.code == 0
    text = capsys.readouterr().out
    assert f"esprit {' '.join(command)}" in text.split("\n")[0] or "usage: esprit" in text
    body = text.split("\n\n")[1].strip()  # the description, after the usage
    assert body and not body.startswith("options:"), text
    assert "examples:\n  esprit" in text or "examples:\n  ESPRIT" in text
    assert EXAMPLES[" ".join(command)]


def test_options_show_their_defaults(capsys):
    for command, shown in ((["ingest"], "(default: 10)"), (["generate"], "(default: 8)")):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        assert shown in capsys.readouterr().out


def test_relative_paths_are_resolved_where_the_command_starts(tmp_path, monkeypatch):
    from pipelines.cli import _settings

    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(["run", "--out", "out2", "--landing", "in", "--warehouse", "w/e.duckdb"])
    settings = _settings(args)
    assert settings.out == tmp_path / "out2" and settings.out.is_absolute()
    assert settings.landing == tmp_path / "in" and settings.warehouse == tmp_path / "w" / "e.duckdb"


def test_handoffs_match_weeks_and_teams_without_case_and_list_the_valid_ones(pipeline_run, capsys):
    settings, result = pipeline_run
    week = result["summary"]["weeks"][-1]
    base = ["handoffs", "--week", week, "--warehouse", str(settings.warehouse)]
    assert main([*base, "--from", "ACCUEIL"]) == 0
    by_code = capsys.readouterr().out
    assert main([*base, "--from", "front office"]) == 0  # its display name, any case
    assert capsys.readouterr().out == by_code and "failed handoff(s)" in by_code
    assert main([*base, "--from", "acceuil"]) == 2
    err = capsys.readouterr().err
    assert "unknown team 'acceuil'" in err and "accueil (Front office, Accueil)" in err
    assert main(["handoffs", "--week", "2019-W01", "--warehouse", str(settings.warehouse)]) == 2
    err = capsys.readouterr().err
    assert "unknown week '2019-W01'" in err and week in err


def test_demo_ends_with_the_summary_a_run_prints_read_from_the_warehouse(pipeline_run):
    """`esprit demo` runs the DAGs in its own process: its closing summary is read back from the
    warehouse (load_audit), and says what the run that filled it said."""
    from pipelines.cli import _run_summary, warehouse_summary

    settings, result = pipeline_run
    ran, found = result["summary"], warehouse_summary(settings)
    for key in ("files_loaded", "rejected_files", "rows_read", "rows_loaded", "rows_quarantined", "rows_duplicate"):
        assert found[key] == ran[key], key
    assert found["weeks"] == ran["weeks"] and found["failed_files"] == []
    text = _run_summary(found)
    assert text.startswith(f"files: {ran['files_loaded']} loaded") and f"{ran['rows_loaded']:,} loaded" in text


def test_output_piped_to_head_ends_quietly(pipeline_run):
    settings, result = pipeline_run
    week = result["summary"]["weeks"][-1]
    done = subprocess.run(
        f"{sys.executable} -m pipelines.cli handoffs --week {week} --timeline --json "
        f"--warehouse {settings.warehouse} | head -c 100 >/dev/null; echo ${{PIPESTATUS[0]}}",
        shell=True,
        executable="/bin/bash",
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip() == "0" and "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done
