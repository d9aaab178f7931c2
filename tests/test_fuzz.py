"""Fuzzing ingest: random and mutated CSV and JSON Lines never raise, and every row is accounted for.

Real DuckDB and real Great Expectations, no mocks. Great Expectations costs about half a second
per file whatever its size, so the cases are batched:
- *line cases*: files of a few hundred lines, each line mutated on its own (a value replaced by
  a hostile or out-of-range one, a quote or a delimiter inserted, the line cut, bytes flipped...),
  loaded with `max_bad_row_share: 1` so that each line stands alone. In files whose mutations
  keep the CSV structure, every line is traced: loaded at its line, quarantined at its line, or a
  duplicate; a value known to break a rule is quarantined, an untouched line loads.
- *file cases*: whole files mutated (header, line endings, encodings, truncation, random bytes,
  gzip), with the default threshold: each is loaded or rejected with a report, never an
  unhandled exception, and `rows read = loaded + quarantined + duplicate (+ rejected)` holds.

`ESPRIT_FUZZ_CASES` (default 10,000) sets how many cases run, `ESPRIT_FUZZ_SEED` the seed (fixed by
default, so the normal suite is reproducible; a long run picks one and prints it on failure).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.config import load_settings
from pipelines.contracts import CONTRACTS
from pipelines.ingest.gx_check import check_loads
from pipelines.ingest.load import ingest_paths
from pipelines.warehouse import connect
from tests.test_ingest_corpus import _profile

CASES = int(os.environ.get("ESPRIT_FUZZ_CASES", "10000"))
SEED = int(os.environ.get("ESPRIT_FUZZ_SEED", "20261122"))
LINES_PER_FILE = 500
FILE_CASES = max(24, CASES // 400)  # whole-file cases; the rest are line cases
LINE_FILES = max(2, -(-(CASES - FILE_CASES) // LINES_PER_FILE))

SURVEY_COLS = CONTRACTS["survey_responses"].column_names
CALL_COLS = CONTRACTS["calls"].column_names

# ---- source rows ---------------------------------------------------------------------------


def survey(rid: str, rng: random.Random) -> dict:
    return {
        "response_id": rid,
        "customer_ref": f"C{rng.randrange(10**6):06d}",
        "interaction_type": "call",
        "interaction_ref": f"CALL{rng.randrange(10**5)}",
        "responded_at": "2026-10-05T10:00:00+02:00",
        "nps": str(rng.randrange(11)),
        "csat": str(rng.randrange(1, 6)),
        "ces": str(rng.randrange(1, 8)),
        "resolved": rng.choice(["true", "false"]),
        "had_to_repeat": "false",
        "journey_step": "",
        "verbatim": rng.choice(["Très bien", "Trop d'attente", "ok", ""]),
        "language": rng.choice(["fr", "en"]),
    }


def call(rid: str, rng: random.Random) -> dict:
    return {
        "call_id": rid,
        "segment_no": "1",
        "customer_ref": f"C{rng.randrange(10**6):06d}",
        "queue": "Q_ACCUEIL",
        "team": "accueil",
        "agent_id": "ACC-01",
        "offered_at": "2026-10-05T10:00:00+02:00",
        "answered_at": "2026-10-05T10:00:30+02:00",
        "ended_at": "2026-10-05T10:05:00+02:00",
        "outcome": "answered",
        "transfer_type": "none",
        "hold_seconds": str(rng.randrange(300)),
        "wrap_code": "resolved",
    }


# Value mutations that keep a CSV line's structure (no delimiter, quote, line break): column,
# value, and what must happen to the row: bad (quarantined), good (loaded), any (either).
HOSTILE_TEXT = [
    "=1+1",
    "+33 cmd|' /C calc'!A0",
    "'; DROP TABLE survey_responses; --",
    "<script>alert(1)</script>",
    "😀 émoji",
    "\u202eRTL\u202c",
    "zero\u200bwidth",
    "e\u0301",
    "\\",
    "NULL",
    "None",
    "null",
    "%s%n",
    "{{7*7}}",
    "${jndi:ldap://x}",
    "ﬁ",
    "Ⅻ",
    "𝟗",
]
SURVEY_VALUES = (
    [("nps", v, "bad") for v in ("11", "-1", "ten", "7.5", "1e3", "99999999999", "true")]
    + [("nps", v, "good") for v in ("0", "10", " 7 ", "")]
    + [("nps", v, "any") for v in ("NaN", "inf", "+5", "0x5", "٣", "1e0", "5.0")]
    + [("csat", v, "bad") for v in ("0", "6", "-3")]
    + [("ces", v, "bad") for v in ("0", "8")]
    + [("responded_at", v, "bad") for v in ("yesterday", "2026-02-30T10:00:00+01:00", "2026-13-01T00:00:00Z", "")]
    + [
        ("responded_at", v, "good")
        for v in ("2026-10-05 10:00:00", "2026-10-05T08:00:00Z", "2026-12-31T23:59:59+14:00")
    ]
    + [
        ("responded_at", v, "bad")
        for v in ("9999-12-31T23:59:59Z", "2026-10-05T10:00:00+25:00", "2026-10-05 10:00-1500")
    ]
    + [
        ("responded_at", v, "any")
        for v in (
            "2026-03-29T02:30:00",
            "2026-10-25T02:30:00",
            "0001-01-01T00:00:00Z",
            "20261005",
            "2026-10-05T10:00:00+14:00",
            "2026-10-05T10:00:00-12:00",
        )
    ]
    + [("customer_ref", "", "bad"), ("response_id", "", "bad"), ("customer_ref", "\u00a0", "any")]
    + [("customer_ref", v, "good") for v in HOSTILE_TEXT]
    + [("verbatim", v, "good") for v in HOSTILE_TEXT]
    + [("verbatim", "x" * 70000, "bad"), ("verbatim", "écrire à a.b@c.fr, 06 12 34 56 78", "good")]
    + [("interaction_type", "chat", "bad"), ("language", "de", "bad"), ("resolved", "maybe", "bad")]
    + [("resolved", v, "any") for v in ("TRUE", "1", "yes", "t", "0")]
    + [("journey_step", v, "good") for v in HOSTILE_TEXT]
)
CALL_VALUES = (
    [("segment_no", v, "bad") for v in ("0", "-1", "x", "1.5", "")]
    + [("hold_seconds", v, "bad") for v in ("-5", "1.5", "ten")]
    + [("hold_seconds", v, "good") for v in ("", "0")]
    + [("outcome", v, "bad") for v in ("busy", "ANSWERED", "")]
    + [("transfer_type", "blind", "bad")]
    + [("answered_at", "2026-10-05T09:00:00+02:00", "bad"), ("ended_at", "2026-10-05T09:59:00+02:00", "bad")]
    + [("answered_at", "", "bad")]  # answered without an answer time
    + [("queue", v, "good") for v in HOSTILE_TEXT]
    + [("team", v, "good") for v in HOSTILE_TEXT]
    + [("wrap_code", v, "good") for v in HOSTILE_TEXT]
    + [("call_id", "", "bad")]
)


@dataclass
class Kind:
    name: str
    table: str
    columns: list[str]
    key: str
    row: object
    values: list
    profile: str | dict
    delimiter: str = ","
    jsonl: bool = False


JSONL_PROFILE = {
    "name": "fuzz_jsonl",
    "table": "survey_responses",
    "format": {"type": "jsonl"},
    "null_markers": ["", "NA"],
    "personal_columns": ["customer_ref"],
}
AUTO_PROFILE = {
    "name": "fuzz_auto",
    "table": "survey_responses",
    "format": {"type": "csv", "delimiter": "auto"},
    "null_markers": ["", "NA", "?"],
    "personal_columns": ["customer_ref"],
}
KINDS = [
    Kind(
        "survey csv",
        "survey_responses",
        SURVEY_COLS,
        "response_id",
        survey,
        SURVEY_VALUES,
        "generator_survey_responses",
    ),
    Kind("calls csv", "calls", CALL_COLS, "call_id", call, CALL_VALUES, "generator_calls"),
    Kind(
        "survey jsonl", "survey_responses", SURVEY_COLS, "response_id", survey, SURVEY_VALUES, JSONL_PROFILE, jsonl=True
    ),
    Kind(
        "survey csv ; auto",
        "survey_responses",
        SURVEY_COLS,
        "response_id",
        survey,
        SURVEY_VALUES,
        AUTO_PROFILE,
        delimiter=";",
    ),
]


def render(kind: Kind, row: dict) -> str:
    if kind.jsonl:
        return json.dumps(row, ensure_ascii=False)
    out = io.StringIO()
    csv.writer(out, delimiter=kind.delimiter, lineterminator="").writerow([row.get(c, "") for c in kind.columns])
    return out.getvalue()


def header(kind: Kind) -> str:
    return "" if kind.jsonl else kind.delimiter.join(kind.columns)


# ---- line mutations ----------------------------------------------------------------------------


@dataclass
class Line:
    text: str
    expect: str  # good | bad | any
    key: str | None  # the key it was written with, when its structure is intact


def value_mutation(kind: Kind, row: dict, rng: random.Random, seen_keys: list[str]) -> Line:
    roll = rng.random()
    if roll < 0.08 and seen_keys:  # a redelivery of an earlier line's key within the file
        row[kind.key] = rng.choice(seen_keys)
        return Line(render(kind, row), "any", row[kind.key])
    if kind.jsonl and roll < 0.25:
        return json_value_mutation(row, rng)
    column, value, expect = rng.choice(kind.values)
    row[column] = value
    return Line(render(kind, row), expect, row[kind.key] or None)


def json_value_mutation(row: dict, rng: random.Random) -> Line:
    """JSON-only shapes: other types, nested values, unknown or repeated keys, missing keys."""
    choice = rng.randrange(9)
    if choice == 0:
        row["nps"] = int(row["nps"])
        return Line(json.dumps(row), "good", row["response_id"])
    if choice == 1:
        row["nps"] = None
        return Line(json.dumps(row), "good", row["response_id"])
    if choice == 2:
        row["verbatim"] = {"nested": [1, 2, {"deep": "x"}]}
        return Line(json.dumps(row), "good", row["response_id"])
    if choice == 3:
        row["unknown_key"] = "surplus"
        return Line(json.dumps(row), "good", row["response_id"])
    if choice == 4:
        del row["nps"]
        return Line(json.dumps(row), "good", row["response_id"])
    if choice == 5:
        del row["responded_at"]
        return Line(json.dumps(row), "bad", row["response_id"])
    if choice == 6:
        row["nps"] = [1, 2]
        return Line(json.dumps(row), "bad", row["response_id"])
    if choice == 7:  # a key repeated in one object, and a key differing only by case
        text = json.dumps(row)[:-1] + ', "nps": "4", "NPS": "5"}'
        return Line(text, "any", row["response_id"])
    row["customer_ref"] = 12345
    return Line(json.dumps(row), "good", row["response_id"])


STRUCTURE_CHARS = ['"', ",", ";", "\t", "|", "\r", "\\", "'", "\u2028", "\x0b", "\x1f", "{", "}", "[", "]", ":"]


def structure_mutation(kind: Kind, line: str, rng: random.Random) -> Line:
    choice = rng.randrange(12)
    pos = rng.randrange(len(line) + 1)
    if choice == 0:
        text = line[:pos] + rng.choice(STRUCTURE_CHARS) + line[pos:]
    elif choice == 1:
        text = line[:pos] + line[pos + 1 :]
    elif choice == 2:
        text = line[:pos]
    elif choice == 3:
        text = line[:pos] + "\n" + line[pos:]
    elif choice == 4:
        text = line + kind.delimiter + "extra"
    elif choice == 5:
        text = ""
    elif choice == 6:
        text = " " * rng.randrange(1, 4)
    elif choice == 7:  # bytes that are not UTF-8 (read as Windows-1252 or Latin-1)
        text = (
            line[:pos]
            + bytes(rng.randrange(0x80, 0x100) for _ in range(rng.randrange(1, 4))).decode("latin-1")
            + line[pos:]
        )
    elif choice == 8:
        text = line[:pos] + '"multi\nline, quoted"' + line[pos:]
    elif choice == 9:
        text = kind.delimiter * rng.randrange(1, 20)
    elif choice == 10:
        text = rng.choice(
            [
                "[1, 2]",
                "1",
                '"text"',
                "null",
                "true",
                "{}",
                "[" * 600 + "]" * 600,
                '{"a": 1e400}',
                '{"response_id": "\\u0000x"}',
                '{"response_id": "\\ud800"}',
                "{",
                "}{",
            ]
        )
    else:
        text = "".join(
            chr(rng.choice([rng.randrange(32, 127), rng.randrange(0xA0, 0x3000)])) for _ in range(rng.randrange(1, 80))
        )
    return Line(text, "any", None)


def line_file(kind: Kind, n: int, number: int, structural: bool, rng: random.Random) -> tuple[str, list[Line]]:
    lines, seen = [], []
    for i in range(n):
        row = kind.row(f"F{number:05d}~{i}", rng)
        roll = rng.random()
        if roll < 0.2:
            line = Line(render(kind, row), "good", row[kind.key])
        elif structural and roll < 0.6:
            line = structure_mutation(kind, render(kind, row), rng)
        else:
            line = value_mutation(kind, row, rng, seen)
        seen.append(row[kind.key])
        lines.append(line)
    head = header(kind)
    text = "\n".join(([head] if head else []) + [line.text for line in lines]) + "\n"
    return text, lines


# ---- whole-file mutations ------------------------------------------------------------------------


def whole_file(kind: Kind, number: int, rng: random.Random) -> tuple[str, bytes]:
    """A small file of the kind, mutated as a whole; returns (file name, content)."""
    rows = [kind.row(f"F{number:05d}~{i}", rng) for i in range(rng.randrange(1, 30))]
    lines = ([header(kind)] if not kind.jsonl else []) + [render(kind, r) for r in rows]
    suffix = ".jsonl" if kind.jsonl else ".csv"
    choice = rng.randrange(16)
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if choice == 0:  # bytes flipped anywhere, header included
        data = bytearray(data)
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(1, 256)
        data = bytes(data)
    elif choice == 1:
        data = data[: rng.randrange(len(data))]
    elif choice == 2:
        data = data.replace(b"\n", rng.choice([b"\r\n", b"\r", b"\n\n", b"\r\r\n"]))
    elif choice == 3:
        data = rng.choice([b"\xef\xbb\xbf", b"\xef\xbb\xbf\xef\xbb\xbf", b"\xff\xfe"]) + data
    elif choice == 4:
        data = "\n".join(lines).encode(rng.choice(["utf-16", "cp1252", "latin-1", "utf-8-sig"]), errors="replace")
    elif choice == 5:
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000)))
    elif choice == 6:
        data = "".join(
            chr(rng.randrange(32, 127)) if rng.random() < 0.95 else rng.choice("\n\r\"';,")
            for _ in range(rng.randrange(1, 3000))
        ).encode()
    elif choice == 7 and not kind.jsonl:  # header: a column dropped, repeated, renamed, emptied, cased
        cols = list(kind.columns)
        i = rng.randrange(len(cols))
        cols[i] = rng.choice(["", cols[(i + 1) % len(cols)], cols[i].upper(), cols[i] + " ", '"' + cols[i], "é"])
        lines[0] = kind.delimiter.join(cols)
        data = ("\n".join(lines) + "\n").encode()
    elif choice == 8:
        data = rng.choice([b"", b"\n", b"\n\n\n", b"   ", b"\r\n", b"\xef\xbb\xbf", b'"', b"{}", b"[]"])
    elif choice == 9:  # gzip: valid, corrupt, or not gzip at all
        packed = gzip.compress(data)
        data = rng.choice([packed, packed[: rng.randrange(1, len(packed))], data])
        suffix += ".gz"
    elif choice == 10:  # the file twice: a header in the middle, every key repeated
        data = data + data
    elif choice == 11:
        data = (
            (lines[0] + "\n" + "\n".join(rng.sample(lines[1:], len(lines) - 1)) + "\n").encode()
            if len(lines) > 1
            else data
        )
    elif choice == 12:  # a very long line
        data = data + b"x" * rng.randrange(70000, 200000) + b"\n"
    elif choice == 13:
        data = data.replace(b",", rng.choice([b";", b"\t", b"|", b",,"]))
    elif choice == 14:
        suffix = rng.choice([".tsv", ".txt", ".ndjson", ".parquet", ".xlsx", "", ".csv.gz"])
    else:
        data = data.replace(b"\n", b"\n\x00", 1) if rng.random() < 0.5 else data
    return f"f{number:05d}{suffix}", data


# ---- checks ----------------------------------------------------------------------------------------


def _settings(tmp_path: Path, threshold: float | None):
    tmp_path.mkdir(parents=True, exist_ok=True)
    cfg = tmp_path / "esprit.yaml"
    # the fuzzer's valid timestamps span every year: the plausible window (docs/ingestion.md) is
    # opened wide, so that its oracle, which knows the types and the suite, judges every line
    window = '  plausible_from: "0001-01-01"\n  plausible_future_days: 3000000\n'
    cfg.write_text("ingest:\n" + window + ("" if threshold is None else f"  max_bad_row_share: {threshold}\n"))
    return load_settings(cfg, base_dir=tmp_path)


def check_accounting(con, settings, result, kind: Kind, number: int) -> None:
    """The file's audit row, its rows in the table and in quarantine, and its report agree."""
    context = f"case {number} ({kind.name}, seed {SEED}): {result}"
    if result.status == "skipped":  # the same bytes as a file already loaded
        assert con.execute(
            "SELECT count(*) FROM load_audit WHERE file_sha256 = (SELECT file_sha256 FROM load_audit "
            "WHERE file_name = ? AND status = 'loaded')",
            [result.file],
        ).fetchone()[0], context
        return
    assert result.status in ("loaded", "rejected"), context
    assert (
        result.rows_read == result.rows_loaded + result.rows_quarantined + result.rows_duplicate + result.rows_rejected
    ), context
    audit = con.execute(
        "SELECT status, rows_read, rows_loaded, rows_quarantined, rows_duplicate, rows_rejected "
        "FROM load_audit WHERE load_id = ?",
        [result.load_id],
    ).fetchone()
    assert audit == (
        result.status,
        result.rows_read,
        result.rows_loaded,
        result.rows_quarantined,
        result.rows_duplicate,
        result.rows_rejected,
    ), context
    in_table = con.execute(f"SELECT count(*) FROM {kind.table} WHERE load_id = ?", [result.load_id]).fetchone()[0]
    quarantined = con.execute("SELECT count(*) FROM quarantine WHERE load_id = ?", [result.load_id]).fetchone()[0]
    if result.status == "rejected":
        assert in_table == 0 and quarantined == 0 and result.rows_loaded == 0, context
        assert (settings.rejected / "fuzz" / f"{result.file}.report.txt").is_file(), context
        return
    assert quarantined == result.rows_quarantined, context
    if in_table != result.rows_loaded:
        # only a later file delivering one of this file's keys may take its rows over: a key not of its
        # own file's form F<number>~ (a mutation made it), or of this file's form
        taken = con.execute(
            f"SELECT count(*) FROM {kind.table} WHERE load_id > ? AND (starts_with({kind.key}, ?) OR "
            f"NOT starts_with({kind.key}, 'F' || substr(source_file, 2, 5) || '~'))",
            [result.load_id, f"F{number:05d}~"],
        ).fetchone()[0]
        assert in_table < result.rows_loaded <= in_table + taken, context


def run_batch(tmp_path: Path, kind: Kind, files: list[tuple[str, bytes]], threshold: float | None):
    settings = _settings(tmp_path, threshold)
    folder = settings.landing / "fuzz"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, data in files:
        (folder / name).write_bytes(data)
        paths.append(folder / name)
    results = ingest_paths(settings, "fuzz", paths, _profile(kind.profile, tmp_path))
    assert len(results) == len(paths)
    check_loads(settings)  # Great Expectations agrees with the compiled rules on every load's sample
    return settings, results


# ---- the tests -------------------------------------------------------------------------------------


def test_mutated_lines_are_each_loaded_quarantined_or_counted_as_duplicates(tmp_path):
    rng = random.Random(SEED)
    plans = []
    for number in range(LINE_FILES):
        kind = KINDS[number % len(KINDS)]
        structural = number % 2 == 1
        text, lines = line_file(kind, LINES_PER_FILE, number, structural, rng)
        plans.append((kind, structural, text, lines, number))
    cases = sum(len(p[3]) for p in plans)
    for kind in KINDS:  # one warehouse per kind, every file of the kind in one call
        mine = [p for p in plans if p[0] is kind]
        folder = tmp_path / kind.name.replace(" ", "_").replace(";", "semi")
        suffix = ".jsonl" if kind.jsonl else ".csv"
        settings, results = run_batch(
            folder, kind, [(f"f{p[4]:05d}{suffix}", p[2].encode("utf-8", "surrogatepass")) for p in mine], 1.0
        )
        con = connect(settings.warehouse, read_only=True)
        try:
            for (_, structural, _text, lines, number), result in zip(mine, results):
                check_accounting(con, settings, result, kind, number)
                assert result.status == "loaded", (number, result.problems[:3])
                if structural:
                    continue
                _trace_every_line(con, kind, result, lines, number)
        finally:
            con.close()
    assert cases >= CASES - FILE_CASES


def _trace_every_line(con, kind: Kind, result, lines: list[Line], number: int) -> None:
    """Structure intact: line k+2 holds case k; each is loaded, quarantined or a duplicate."""
    first = 1 if kind.jsonl else 2
    loaded = {
        r[0]
        for r in con.execute(f"SELECT source_line FROM {kind.table} WHERE load_id = ?", [result.load_id]).fetchall()
    }
    quarantined = [
        r[0] for r in con.execute("SELECT source_line FROM quarantine WHERE load_id = ?", [result.load_id]).fetchall()
    ]
    context = f"case file {number} ({kind.name}, seed {SEED})"
    assert len(set(quarantined)) == len(quarantined), context  # one line, one record
    quarantined = set(quarantined)
    assert result.rows_read == len(lines), context
    assert not loaded & quarantined, context
    assert loaded | quarantined <= set(range(first, first + len(lines))), context
    assert len(loaded) + len(quarantined) + result.rows_duplicate == len(lines), context
    keys = [line.key for line in lines]
    for i, line in enumerate(lines):
        where = first + i
        if line.expect == "bad":
            assert where in quarantined, (context, where, line.text[:200])
        elif line.expect == "good" and line.key and keys.count(line.key) == 1:
            assert where in loaded, (context, where, line.text[:200])


def test_mutated_whole_files_are_loaded_or_rejected_with_a_report(tmp_path):
    rng = random.Random(SEED + 1)
    total = 0
    for k, kind in enumerate(KINDS):
        count = FILE_CASES // len(KINDS) + (k < FILE_CASES % len(KINDS))
        numbers = range(total, total + count)
        files = [whole_file(kind, n, rng) for n in numbers]
        names = [name for name, _ in files]
        unique = [f for i, f in enumerate(files) if f[0] not in names[:i]]
        settings, results = run_batch(tmp_path / f"kind{k}", kind, unique, None)
        con = connect(settings.warehouse, read_only=True)
        try:
            for (name, _), result, _n in zip(unique, results, numbers):
                check_accounting(con, settings, result, kind, int(name[1:6]))
        finally:
            con.close()
        total += count
    assert total == FILE_CASES


def test_a_bare_carriage_return_in_one_line_quarantines_only_that_line(tmp_path):
    """DuckDB's strict parser stopped the whole file at it (rule parseable_csv); a line ending in
    CRLF among LF lines did the same."""
    kind = KINDS[1]
    rng = random.Random(SEED)
    rows = [render(kind, call(f"CR{i}", rng)) for i in range(40)]
    rows[7] = rows[7].replace(",resolved", "\r,resolved")
    rows[9] += "\r"
    rows[11] = rows[11].replace("Q_ACCUEIL", '"Q_\rACCUEIL"')  # inside quotes: a value like any other
    settings, (result,) = run_batch(
        tmp_path, kind, [("calls.csv", ("\n".join([header(kind)] + rows) + "\n").encode())], None
    )
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined) == ("loaded", 40, 39, 1), (
        result.problems
    )
    assert result.problems == ["calls.csv: line 9: csv: a carriage return inside an unquoted field"]
    con = connect(settings.warehouse, read_only=True)
    try:
        assert con.execute("SELECT queue FROM calls WHERE source_line = 13").fetchone()[0] == "Q_\rACCUEIL"
        assert con.execute("SELECT raw_record LIKE '%CR7%' FROM quarantine WHERE source_line = 9").fetchone()[0]
    finally:
        con.close()


# ---- what the fuzzing found, one case each ----------------------------------------------------------


def csv_text_of(kind: Kind, rows: list[dict]) -> str:
    return "\n".join([header(kind)] + [render(kind, r) for r in rows]) + "\n"


FOUND = [
    # the csv module raised on a bare carriage return (old Mac line ends) in the header line
    (
        "old Mac line ends",
        KINDS[0],
        "f.csv",
        ",".join(SURVEY_COLS) + "\rR1,C1\r",
        "rejected",
        0,
        0,
        "rule parseable_csv",
    ),
    # a year DuckDB parses but Python cannot hold in Europe/Paris crashed Great Expectations' batch
    (
        "a timestamp in the year 10000 in Paris",
        KINDS[0],
        "f.csv",
        csv_text_of(
            KINDS[0],
            [dict(survey("R1", random.Random(1)), responded_at="9999-12-31T23:59:59Z")]
            + [survey(f"R{i}", random.Random(i)) for i in range(2, 40)],
        ),
        "loaded",
        38,
        1,
        "column responded_at: rule type; value shaped '9999-99-99a99:99:99a' is not TIMESTAMPTZ",
    ),
    # DuckDB read an offset of +25:00 as 25 hours
    (
        "a UTC offset no place has",
        KINDS[0],
        "f.csv",
        csv_text_of(
            KINDS[0],
            [dict(survey("R1", random.Random(1)), responded_at="2026-10-05T10:00:00+25:00")]
            + [survey(f"R{i}", random.Random(i)) for i in range(2, 40)],
        ),
        "loaded",
        38,
        1,
        "column responded_at: rule type; value shaped '9999-99-99a99:99:99+99:99' is not TIMESTAMPTZ",
    ),
    # nps and NPS were one column in DuckDB: one line's NPS silently blanked every line's nps
    (
        "JSON keys differing only by case",
        KINDS[2],
        "f.jsonl",
        "\n".join(
            [json.dumps(survey(f"R{i}", random.Random(i))) for i in range(1, 40)]
            + ['{"response_id": "R99", "NPS": "3", "customer_ref": "C9", "responded_at": "2026-10-05"}']
        )
        + "\n",
        "loaded",
        39,
        1,
        "json: key NPS differs only by case",
    ),
    (
        "header names differing only by case",
        KINDS[0],
        "f.csv",
        csv_text_of(KINDS[0], [survey("R1", random.Random(1))]).replace("\n", ",NPS\n", 1),
        "rejected",
        0,
        0,
        "rule duplicate_header",
    ),
]


@pytest.mark.parametrize(
    "name, kind, file, text, status, loaded, quarantined, reason", FOUND, ids=[f[0] for f in FOUND]
)
def test_what_the_fuzzing_found(tmp_path, name, kind, file, text, status, loaded, quarantined, reason):
    settings, (result,) = run_batch(tmp_path, kind, [(file, text.encode())], None)
    assert (result.status, result.rows_loaded, result.rows_quarantined) == (status, loaded, quarantined), result
    con = connect(settings.warehouse, read_only=True)
    try:
        check_accounting(con, settings, result, kind, 0)
        said = "\n".join(result.problems) + "".join(
            r[0] for r in con.execute("SELECT list_aggregate(reasons, 'string_agg', '; ') FROM quarantine").fetchall()
        )
        assert reason in said, said
        if kind.jsonl:  # the other lines' nps loaded, none blanked
            assert con.execute("SELECT count(nps) FROM survey_responses").fetchone()[0] == loaded
    finally:
        con.close()
