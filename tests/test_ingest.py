import shutil

import pytest

from pipelines.contracts import CONTRACTS
from pipelines.ingest import IngestError, ingest_source
from pipelines.warehouse import connect
from tests.conftest import copy_landing

HEADER = ",".join(CONTRACTS["survey_responses"].column_names)
GOOD = "R1,C1,call,CALL1,2026-10-05T10:00:00+02:00,9,5,6,true,false,Très bien,fr"


def _survey_file(settings, name, *lines):
    folder = settings.landing / "surveys"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join((HEADER,) + lines) + "\n", encoding="utf-8")
    return path


def _audit(settings):
    con = connect(settings.warehouse, read_only=True)
    try:
        return con.execute("SELECT file_name, status, rows_read, rows_loaded, rows_quarantined, rows_duplicate, "
                           "rows_rejected FROM load_audit ORDER BY load_id").fetchall()
    finally:
        con.close()


def test_every_row_read_is_accounted_for_and_reloading_changes_nothing(generated, settings):
    copy_landing(generated, settings.landing)
    results = ingest_source(settings, "complaints")
    assert results and all(r.status == "loaded" for r in results)
    audit = _audit(settings)
    for _, status, read, loaded, quarantined, duplicate, rejected in audit:
        assert read == loaded + quarantined + duplicate + rejected
    con = connect(settings.warehouse, read_only=True)
    cases = con.execute("SELECT count(*) FROM cases").fetchone()[0]
    con.close()
    assert cases == sum(r.rows_loaded for r in results if r.table == "cases") > 0
    again = ingest_source(settings, "complaints")
    assert {r.status for r in again} == {"skipped"}
    assert _audit(settings) == audit


def test_rows_already_loaded_from_another_file_are_counted_as_duplicates(settings):
    _survey_file(settings, "a.csv", GOOD)
    ingest_source(settings, "surveys")
    _survey_file(settings, "b.csv", GOOD, GOOD.replace("R1,", "R2,", 1))
    (result,) = [r for r in ingest_source(settings, "surveys") if r.file == "b.csv"]
    assert (result.rows_read, result.rows_loaded, result.rows_duplicate) == (2, 1, 1)


def test_a_bad_file_is_rejected_with_file_line_column_and_rule_and_good_files_still_load(settings):
    _survey_file(settings, "good.csv", GOOD)
    bad = GOOD.replace("R1,", "R9,", 1)
    _survey_file(settings, "bad.csv",
                 bad.replace(",9,5,", ",11,5,"),                         # line 2: NPS out of range
                 bad.replace("R9,", "R10,").replace("2026-10-05T10:00:00+02:00", "yesterday"))  # line 3
    with pytest.raises(IngestError) as failure:
        ingest_source(settings, "surveys")
    message = str(failure.value)
    assert "bad.csv: line 2, column nps: rule expect_column_values_to_be_between" in message
    assert "bad.csv: line 3, column responded_at: rule type TIMESTAMPTZ; value 'yesterday'" in message
    assert not (settings.landing / "surveys" / "bad.csv").exists()
    assert (settings.rejected / "surveys" / "bad.csv").exists()
    report = (settings.rejected / "surveys" / "bad.csv.report.txt").read_text(encoding="utf-8")
    assert "line 2, column nps" in report
    statuses = {row[0]: row[1:] for row in _audit(settings)}
    assert statuses["good.csv"][:3] == ("loaded", 1, 1)
    assert statuses["bad.csv"] == ("rejected", 2, 0, 0, 0, 2)


def test_a_file_missing_a_required_column_is_rejected_whole(settings):
    folder = settings.landing / "surveys"
    folder.mkdir(parents=True)
    (folder / "short.csv").write_text("response_id,nps\nR1,5\n", encoding="utf-8")
    with pytest.raises(IngestError, match="short.csv: line 1, column customer_ref: rule required_column"):
        ingest_source(settings, "surveys")


def test_unknown_source_is_refused(settings):
    with pytest.raises(ValueError, match="unknown source 'fax'"):
        ingest_source(settings, "fax")
