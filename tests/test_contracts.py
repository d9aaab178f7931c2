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
