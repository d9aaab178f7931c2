import json

import great_expectations as gx

from pipelines.contracts import CONTRACTS, REPO_ROOT, contracts_markdown, expectation_suite


def test_committed_suites_and_contract_doc_are_generated_from_the_contracts():
    for table, contract in CONTRACTS.items():
        committed = json.loads((REPO_ROOT / "expectations" / f"{table}.json").read_text(encoding="utf-8"))
        assert committed == expectation_suite(contract), f"run `esprit contracts` to regenerate {table}.json"
    doc = (REPO_ROOT / "docs" / "data-contracts.md").read_text(encoding="utf-8")
    assert doc == contracts_markdown(), "run `esprit contracts` to regenerate docs/data-contracts.md"


def test_every_suite_loads_into_great_expectations():
    for table in CONTRACTS:
        spec = json.loads((REPO_ROOT / "expectations" / f"{table}.json").read_text(encoding="utf-8"))
        suite = gx.ExpectationSuite(name=spec["name"], expectations=spec["expectations"])
        assert len(suite.expectations) == len(spec["expectations"]) > 5


def test_survey_ranges_follow_the_scales():
    suite = expectation_suite(CONTRACTS["survey_responses"])
    ranges = {
        e["kwargs"]["column"]: (e["kwargs"]["min_value"], e["kwargs"]["max_value"])
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_between"
    }
    assert ranges == {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


def _batch(sql: str):
    """A typed batch as ingest hands it to Great Expectations: read from DuckDB."""
    import duckdb

    return duckdb.connect().execute(sql).df()


def test_every_column_has_a_type_expectation_that_catches_a_wrong_value():
    from pipelines.ingest.validation import validate_frame

    for contract in CONTRACTS.values():
        typed = {
            e["kwargs"]["column"]
            for e in expectation_suite(contract)["expectations"]
            if e["type"] == "expect_column_values_to_be_in_type_list"
        }
        assert typed == set(contract.column_names)
    frame = _batch(
        "SELECT 'R1' AS response_id, 'p_1' AS customer_ref, TIMESTAMPTZ '2026-10-05 10:00+02' AS "
        "responded_at, 9 AS nps, 2::BIGINT AS source_line"
    )
    frame["nps"] = frame["nps"].astype(object)
    frame.loc[0, "nps"] = "9"  # a text where a whole number belongs
    report = validate_frame("survey_responses", frame)
    assert report.row_reasons[2] == ["column nps: rule expect_column_values_to_be_in_type_list; value nps=shaped '9'"]


def test_a_case_resolved_before_it_was_opened_breaks_the_timestamp_order():
    from pipelines.ingest.validation import validate_frame

    frame = _batch(
        "SELECT * FROM (VALUES ('K1', TIMESTAMPTZ '2026-10-05 10:00+00', TIMESTAMPTZ '2026-10-04 10:00+00', 7), "
        "('K2', TIMESTAMPTZ '2026-10-05 10:00+00', TIMESTAMPTZ '2026-10-06 10:00+00', 8), "
        "('K3', TIMESTAMPTZ '2026-10-05 10:00+00', NULL, 9)) "
        "t(case_id, opened_at, resolved_at, source_line)"
    )
    for col in ("customer_ref", "channel", "category"):
        frame[col] = {"customer_ref": "p_1", "channel": "web", "category": "billing"}[col]
    report = validate_frame("cases", frame)
    assert list(report.row_reasons) == [7]
    assert report.row_reasons[7][0].startswith(
        "column resolved_at/opened_at: rule expect_column_pair_values_a_to_be_greater_than_b"
    )


# Each table, with rows that break each row rule of its suite once (and NULLs, NaN, edge values).
BROKEN_ROWS = {
    "calls": """SELECT * FROM (VALUES
        ('C1', 1, 'p_1', 'q', 't', 'a', TIMESTAMPTZ '2026-10-05 10:00+02', TIMESTAMPTZ '2026-10-05 10:01+02',
         TIMESTAMPTZ '2026-10-05 10:05+02', 'answered', 'none', 0, 'w', 2::BIGINT),
        (NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, -1, NULL, 3),
        ('C3', 1, 'p_1', 'q', 't', 'a', TIMESTAMPTZ '2026-10-05 10:00+02', NULL,
         TIMESTAMPTZ '2026-10-05 09:00+02', 'answered', 'blind', 5, 'w', 4),
        ('C4', 1, 'p_1', 'q', 't', 'a', TIMESTAMPTZ '2026-10-05 10:00+02', TIMESTAMPTZ '2026-10-05 09:59+02',
         TIMESTAMPTZ '2026-10-05 09:58+02', 'busy', 'none', NULL, NULL, 5),
        ('C1', 1, 'p_2', 'q', 't', 'a', TIMESTAMPTZ '2026-10-05 10:00+02', NULL,
         TIMESTAMPTZ '2026-10-05 10:00+02', 'abandoned', 'none', 0, NULL, 6))
        t(call_id, segment_no, customer_ref, queue, team, agent_id, offered_at, answered_at, ended_at, outcome,
          transfer_type, hold_seconds, wrap_code, source_line)""",
    "survey_responses": """SELECT * FROM (VALUES
        ('R1', 'p_1', NULL, TIMESTAMPTZ '2026-10-05 10:00+02', 11, 0, 8, NULL, NULL, NULL, 'de', 2::BIGINT),
        ('R2', 'p_1', NULL, TIMESTAMPTZ '2026-10-05 10:00+02', 0, 5, 1, true, false, 'x', 'fr', 3),
        ('R2', NULL, NULL, NULL, -1, 6, 0, NULL, NULL, NULL, NULL, 4),
        ('R4', 'p_1', NULL, TIMESTAMPTZ '2026-10-05 10:00+02', 10, 1, 7, NULL, NULL, NULL, 'en', 5))
        t(response_id, customer_ref, interaction_ref, responded_at, nps, csat, ces, resolved, had_to_repeat,
          journey_step, language, source_line)""",
}


def test_the_compiled_rules_find_the_rows_and_rules_great_expectations_finds():
    """The compiled suite (ingest's pass over every row) against GX's own verdict, rule by rule."""
    import duckdb

    from pipelines.ingest.validation import compile_suite, key_unexpected_sql, sql_disagreements, validate_frame

    for table, sql in BROKEN_ROWS.items():
        contract = CONTRACTS[table]
        con = duckdb.connect()
        con.execute(f"CREATE TABLE batch AS SELECT * FROM ({sql})")
        for col in contract.columns:  # the contract's columns, each in its contract type
            con.execute(f"ALTER TABLE batch ADD COLUMN IF NOT EXISTS {col.name} {col.type}")
            con.execute(f"ALTER TABLE batch ALTER {col.name} TYPE {col.type}")
        rules = compile_suite(table, {c.name: c.type for c in contract.columns})
        row_rules = [r for r in rules if r.kind == "row"]
        sql_reasons = {}
        for line, *values in con.execute(
            f"SELECT source_line, {', '.join(contract.column_names)} FROM batch"
        ).fetchall():
            row = dict(zip(contract.column_names, values))
            broken = [
                r.reason(row)
                for r in row_rules
                if con.execute(f"SELECT {r.fails} FROM batch WHERE source_line = ?", [line]).fetchone()[0]
            ]
            if broken:
                sql_reasons[line] = broken
        frame = con.execute(f"SELECT {', '.join(contract.column_names)}, source_line FROM batch").df()
        report = validate_frame(table, frame)
        lines = [int(n) for n in frame["source_line"]]
        assert len(sql_reasons) >= len(lines) - 2, sql_reasons  # the rows do break rules
        assert sql_disagreements(report, sql_reasons, lines) == []
        gx_counts = {(f.rule, f.columns): f.unexpected_count for f in report.failures}
        for rule in (r for r in rules if r.kind == "key"):
            assert (
                con.execute(key_unexpected_sql(rule, "batch")).fetchone()[0]
                == gx_counts[(rule.rule, rule.columns)]
                == 2
            )
            # counted in passes over shares of the keys (ingest's bounded memory), the same total
            for parts in (2, 3, 7):
                shares = [
                    con.execute(key_unexpected_sql(rule, "batch", parts, part)).fetchone()[0] for part in range(parts)
                ]
                assert sum(shares) == 2 and max(shares) <= 2


def test_disagreement_between_gx_and_the_compiled_rules_is_reported_by_line():
    from pipelines.ingest.validation import ValidationReport, sql_disagreements

    report = ValidationReport(
        "calls",
        False,
        1,
        (),
        {2: ["column outcome: rule expect_column_values_to_be_in_set; value outcome='busy'"]},
        (),
        {},
    )
    assert sql_disagreements(report, {}, [2, 3]) == [
        "line 2: Great Expectations ['column outcome: rule expect_column_values_to_be_in_set'] / compiled rules []"
    ]
    assert (
        sql_disagreements(
            report, {2: ["column outcome: rule expect_column_values_to_be_in_set; value outcome='busy'"]}, [2, 3]
        )
        == []
    )


def test_an_expectation_the_compiler_does_not_know_leaves_the_whole_file_to_gx(monkeypatch):
    import pytest

    import pipelines.ingest.validation as validation

    spec = json.loads((REPO_ROOT / "expectations" / "calls.json").read_text(encoding="utf-8"))
    spec["expectations"][1]["kwargs"]["mostly"] = 0.9
    monkeypatch.setattr(validation, "load_suite_json", lambda table: spec)
    with pytest.raises(validation.UnsupportedExpectation, match="mostly"):
        validation.compile_suite("calls", {})
    spec["expectations"][1] = {
        "type": "expect_column_values_to_match_regex",
        "kwargs": {"column": "call_id", "regex": "^C"},
    }
    with pytest.raises(validation.UnsupportedExpectation, match="regex"):
        validation.compile_suite("calls", {})


def test_great_expectations_registration_noise_stays_out_of_the_log(tmp_path):
    """What a task log shows of a validation (logging at INFO, warnings logged, as Airflow's task
    runner does): no line from Great Expectations' registration, context or deprecations."""
    import subprocess
    import sys

    script = """
import logging, warnings
logging.basicConfig(level=logging.INFO, format="%(name)s %(message)s")
logging.captureWarnings(True)
warnings.simplefilter("default")
import pandas as pd
from pipelines.ingest.validation import validate_frame
frame = pd.DataFrame({"call_id": ["c1"], "source_line": [2]})
try:
    validate_frame("calls", frame)
except Exception as error:  # the batch is incomplete: only the log lines matter here
    print("validation ended with", type(error).__name__)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    noise = [line for line in done.stderr.splitlines() if "great_expectations" in line or "GX Core" in line]
    assert noise == [], noise[:5]
