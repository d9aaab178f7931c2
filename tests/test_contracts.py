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
    ranges = {e["kwargs"]["column"]: (e["kwargs"]["min_value"], e["kwargs"]["max_value"])
              for e in suite["expectations"] if e["type"] == "expect_column_values_to_be_between"}
    assert ranges == {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}


def _batch(sql: str):
    """A typed batch as ingest hands it to Great Expectations: read from DuckDB."""
    import duckdb

    return duckdb.connect().execute(sql).df()


def test_every_column_has_a_type_expectation_that_catches_a_wrong_value():
    from pipelines.validation import validate_frame

    for contract in CONTRACTS.values():
        typed = {e["kwargs"]["column"] for e in expectation_suite(contract)["expectations"]
                 if e["type"] == "expect_column_values_to_be_in_type_list"}
        assert typed == set(contract.column_names)
    frame = _batch("SELECT 'R1' AS response_id, 'p_1' AS customer_ref, TIMESTAMPTZ '2026-10-05 10:00+02' AS "
                   "responded_at, 9 AS nps, 2::BIGINT AS source_line")
    frame["nps"] = frame["nps"].astype(object)
    frame.loc[0, "nps"] = "9"  # a text where a whole number belongs
    report = validate_frame("survey_responses", frame)
    assert report.row_reasons[2] == ["column nps: rule expect_column_values_to_be_in_type_list; value nps='9'"]


def test_a_case_resolved_before_it_was_opened_breaks_the_timestamp_order():
    from pipelines.validation import validate_frame

    frame = _batch("SELECT * FROM (VALUES ('K1', TIMESTAMPTZ '2026-10-05 10:00+00', TIMESTAMPTZ '2026-10-04 10:00+00', 7), "
                   "('K2', TIMESTAMPTZ '2026-10-05 10:00+00', TIMESTAMPTZ '2026-10-06 10:00+00', 8), "
                   "('K3', TIMESTAMPTZ '2026-10-05 10:00+00', NULL, 9)) "
                   "t(case_id, opened_at, resolved_at, source_line)")
    for col in ("customer_ref", "channel", "category"):
        frame[col] = {"customer_ref": "p_1", "channel": "web", "category": "billing"}[col]
    report = validate_frame("cases", frame)
    assert list(report.row_reasons) == [7]
    assert report.row_reasons[7][0].startswith(
        "column resolved_at/opened_at: rule expect_column_pair_values_a_to_be_greater_than_b")
