"""Read an export file, whatever its dialect, into a DuckDB temp table of text columns.

`scan` streams the file once (hash, size, NUL bytes, UTF-8 validity, line count). `read_raw`
then loads it into `_raw` (one VARCHAR column per source column, plus `source_line`) and the
lines that cannot be parsed into `_unparsed` (`source_line`, `raw_record`, `reason`):
- CSV: header and delimiter read here, records by DuckDB with explicit columns; files that are
  not UTF-8 (Windows-1252, Latin-1, or mixed) are transcoded line by line to a temporary file.
- JSON Lines: one record per line; a line that is not a JSON object is unparsed.
- Parquet: every column cast to text; the line is the row number (header = 0).
gzip-compressed versions of each are recognised by the `.gz` suffix.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

import duckdb

from pipelines.ingest.privacy import masked_message
from pipelines.ingest.profiles import Profile
from pipelines.ingest.results import MACHINE_ERRORS, FileRejected
from pipelines.sqltext import sql_ident, sql_string
from pipelines.warehouse import drop_relation, is_view

CHUNK = 1 << 20
# The defaults of the limits a scan applies (settings ingest.max_line_bytes, max_json_depth,
# max_decompressed_bytes): a record may hold a field of tens of MB; the row rules judge it.
MAX_LINE_BYTES = 64 << 20
MAX_JSON_DEPTH = 1000
MAX_DECOMPRESSED_BYTES = 4 << 30
QUOTES = ('"', "'")  # quote characters the scan looks for
SUFFIXES = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


@dataclass
class FileScan:
    sha256: str
    size: int  # bytes after decompression
    gzipped: bool
    kind: str | None  # csv | jsonl | parquet | None (unknown)
    has_nul: bool
    utf8: bool
    bom: bool
    newlines: int
    odd_returns: bool = False  # a carriage return that is not a line end like the others
    ends_with_newline: bool = True
    quotes: frozenset = frozenset()  # which of QUOTES the text holds
    long_line: int | None = None  # the first line longer than line_limit
    line_limit: int = MAX_LINE_BYTES
    json_depth_limit: int = MAX_JSON_DEPTH

    @property
    def lines(self) -> int:
        """Physical lines of the text (a last line without its line feed counts)."""
        return self.newlines + (0 if self.ends_with_newline else 1)


def file_kind(path: Path) -> tuple[str | None, bool]:
    name = path.name.lower()
    gz = name.endswith(".gz")
    if gz:
        name = name[:-3]
    return SUFFIXES.get(Path(name).suffix), gz


def _open(path: Path, gz: bool):
    return gzip.open(path, "rb") if gz else open(path, "rb")


class _TextChecks:
    """What the readers must know of a file's text, fed chunk by chunk: NUL bytes, UTF-8 validity,
    line feeds, carriage returns. Most chunks take the quick way: ASCII needs no decoding, and a
    chunk without a carriage return needs no count of them."""

    def __init__(self, text: bool = True, line_limit: int = MAX_LINE_BYTES):
        self.text = text  # False (Parquet): only the size and the first bytes
        self.size, self.has_nul, self.utf8, self.newlines, self.first, self.last = 0, False, True, 0, b"", b""
        # bytes of the line read so far, and the first line longer than the limit: a line within one
        # chunk is never longer than the limit (at least a chunk), so only a chunk's ends are measured
        self.line_limit, self.run, self.long_line = line_limit, 0, None
        self.returns = self.crlf = 0
        self.quotes: set[str] = set()
        self._decoder = codecs.getincrementaldecoder("utf-8")()

    def feed(self, chunk: bytes) -> None:
        if not self.first:
            self.first = chunk[:3]
        self.size += len(chunk)
        if not self.text:
            return
        self.last = chunk[-1:]
        self.has_nul = self.has_nul or b"\0" in chunk
        before = self.newlines
        self.newlines += chunk.count(b"\n")
        end = chunk.find(b"\n")
        if end < 0:
            self.run += len(chunk)
        else:
            if self.run + end > self.line_limit and self.long_line is None:
                self.long_line = before + 1
            self.run = len(chunk) - chunk.rfind(b"\n") - 1
        if self.run > self.line_limit and self.long_line is None:
            self.long_line = self.newlines + 1
        self.quotes.update(q for q in QUOTES if q not in self.quotes and q.encode() in chunk)
        if b"\r" in chunk:
            self.returns += chunk.count(b"\r")
            self.crlf += chunk.count(b"\r\n")  # one split between chunks only costs a careful read
        if self.utf8 and not (chunk.isascii() and not self._decoder.getstate()[0]):
            try:
                self._decoder.decode(chunk)
            except UnicodeDecodeError:
                self.utf8 = False

    def finish(self) -> None:
        if self.utf8:
            try:
                self._decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.utf8 = False


def scan_bytes(path: Path) -> int:
    """How many bytes `scan` reports reading: the file's size."""
    return path.stat().st_size


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def scan(path: Path, on_bytes=lambda n: None, limits: dict | None = None) -> FileScan:
    """Hash and check the file; `on_bytes(n)` is told of every n bytes of the file checked.
    `limits`: the ingest settings (max_line_bytes, max_json_depth, max_decompressed_bytes); a
    .gz expanding beyond its limit is rejected there, unread further.

    The hash runs in a thread beside the checks: hashlib lets go of the GIL, so both cores work."""
    from concurrent.futures import ThreadPoolExecutor

    limits = limits or {}
    line_limit = limits.get("max_line_bytes", MAX_LINE_BYTES)
    most = limits.get("max_decompressed_bytes", MAX_DECOMPRESSED_BYTES)
    kind, gz = file_kind(path)
    checks = _TextChecks(text=kind != "parquet", line_limit=line_limit)
    with ThreadPoolExecutor(1, thread_name_prefix="hash") as pool:
        hashed = pool.submit(sha256_of, path)
        try:
            with open(path, "rb") as raw, gzip.GzipFile(fileobj=raw) if gz else raw as fh:
                position = 0
                for chunk in iter(lambda: fh.read(CHUNK), b""):
                    on_bytes(raw.tell() - position)  # compressed bytes for a .gz
                    position = raw.tell()
                    checks.feed(chunk)
                    if gz and checks.size > most:
                        raise FileRejected(
                            "decompressed_size",
                            f"decompressed, the file holds more than {_size(most)} (ingest.max_decompressed_bytes): "
                            "stopped there, as a file expanding that far is more often a gzip bomb than an export; "
                            "if it is a genuine export, raise the setting",
                        )
            checks.finish()
        except (OSError, EOFError) as exc:  # a corrupt gzip stream
            raise FileRejected("decompress", f"cannot decompress: {exc}") from exc
        digest = hashed.result()
    return FileScan(
        digest,
        checks.size,
        gz,
        kind,
        checks.has_nul,
        checks.utf8,
        checks.first == codecs.BOM_UTF8,
        checks.newlines,
        checks.returns != checks.crlf or 0 < checks.crlf < checks.newlines,
        ends_with_newline=checks.last in (b"\n", b""),
        quotes=frozenset(checks.quotes),
        long_line=checks.long_line,
        line_limit=line_limit,
        json_depth_limit=limits.get("max_json_depth", MAX_JSON_DEPTH),
    )


def _size(n: int) -> str:
    """A byte count as people read it (binary units, as the settings take them)."""
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= factor:
            return f"{n / factor:g} {unit}"
    return f"{n} bytes"


def _line_too_long(line: int, limit: int) -> FileRejected:
    return FileRejected(
        "line_too_long",
        f"line {line} is longer than {_size(limit)} (ingest.max_line_bytes): no reader can take the record "
        "whole, so the file is rejected rather than the record dropped; split the field in the export, or "
        "raise the setting (DuckDB holds two such lines in memory)",
        line=line,
    )


def _decode_line(raw: bytes, encoding: str) -> tuple[str, bool]:
    """Decode one line: UTF-8 first unless the profile names another encoding; True if it fell back."""
    if encoding in ("auto", "utf-8"):
        try:
            return raw.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
        try:
            return raw.decode("cp1252"), True
        except UnicodeDecodeError:
            return raw.decode("latin-1"), True
    return raw.decode(encoding, errors="strict" if encoding == "latin-1" else "replace"), True


def utf8_copy(path: Path, fs: FileScan, profile: Profile, workdir: Path) -> tuple[Path, int]:
    """A UTF-8, uncompressed, BOM-less copy when needed; returns (path to read, lines transcoded)."""
    needs_transcode = not fs.utf8 or profile.format.encoding in ("cp1252", "latin-1")
    if not needs_transcode and not fs.gzipped and not fs.bom:
        return path, 0
    target = workdir / f"utf8-{path.name[:-3] if fs.gzipped else path.name}"
    transcoded = 0
    with _open(path, fs.gzipped) as src, open(target, "wb") as dst:
        if not needs_transcode:
            head = src.read(3)
            if head != codecs.BOM_UTF8:
                dst.write(head)
            shutil.copyfileobj(src, dst, CHUNK)
            return target, 0
        first = True
        for number, raw in enumerate(src, 1):
            if first and raw.startswith(codecs.BOM_UTF8):
                raw = raw[3:]
            first = False
            text, fell_back = _decode_line(raw, profile.format.encoding)
            transcoded += fell_back
            encoded = text.encode("utf-8")
            if len(encoded) > fs.line_limit:  # a Windows-1252 line grows in UTF-8
                raise _line_too_long(number, fs.line_limit)
            dst.write(encoded)
    return target, transcoded


def _csv_header(path: Path, profile: Profile) -> tuple[list[str], str]:
    with open(path, encoding="utf-8", newline="") as fh:
        sample = fh.read(64 * 1024)
    if not sample.strip():
        raise FileRejected("empty_file", "the file holds no header and no rows")
    first_line = sample.splitlines()[0] if sample.splitlines() else ""
    delimiter = profile.format.delimiter
    if delimiter == "auto":
        counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
        delimiter = max(counts, key=lambda d: counts[d])
        if counts[delimiter] == 0:
            delimiter = ","  # a one-column header
    reader = csv.reader(io.StringIO(sample), delimiter=delimiter, quotechar=profile.format.quote)
    try:
        header = next(reader, [])
    except csv.Error as exc:  # e.g. a bare carriage return (old Mac line ends) in the header line
        raise FileRejected("parseable_csv", f"the header line cannot be read as CSV: {exc}") from exc
    return [h.strip() for h in header], delimiter


def read_raw(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    fs: FileScan,
    profile: Profile,
    workdir: Path,
    direct: bool = False,
    again: dict | None = None,
) -> dict:
    """Load the file into _raw and _unparsed; returns facts for the audit (columns, transcoding,
    delimiter) and `numbered`.

    `direct`: a CSV file that both cores can parse (no quote character, no stray carriage return)
    is not loaded: `_raw` is then a view of DuckDB's reader, without line numbers (`source_line`
    NULL), for the caller to type in one pass; records keep the file's order in the table that
    pass fills, so that its row ids number them (`direct_read_complete` tells whether they do).
    Any other file is loaded and numbered. `again`: the facts of an earlier read of the file into
    the same `workdir`, whose copy (transcoded, decompressed) is read again."""
    drop_raw(con)
    con.execute("CREATE TEMP TABLE _unparsed (source_line BIGINT, raw_record VARCHAR, reason VARCHAR)")
    if fs.kind is None:
        raise FileRejected(
            "unknown_format", f"unknown file type '{path.name}': expected {', '.join(sorted(SUFFIXES))}, optionally .gz"
        )
    if fs.kind != profile.format.type:
        raise FileRejected("format", f"the file is {fs.kind} but profile {profile.name} reads {profile.format.type}")
    if fs.size == 0:
        raise FileRejected("empty_file", "the file is empty")
    if fs.has_nul:
        raise FileRejected("binary", "the file holds NUL bytes: it is binary, not text")
    if fs.long_line is not None:
        raise _line_too_long(fs.long_line, fs.line_limit)
    if again:
        readable, transcoded = Path(again["readable"]), again["transcoded_lines"]
    else:
        path = _literal_path(path, fs, workdir)
        if fs.kind == "parquet":
            return _read_parquet(con, path, fs, workdir)
        readable, transcoded = utf8_copy(path, fs, profile, workdir)
    facts = {"transcoded_lines": transcoded, "readable": str(readable)}
    if fs.kind == "jsonl":
        columns, delimiter = _read_jsonl(con, readable, fs), None
    else:
        quoted = profile.format.quote not in QUOTES or profile.format.quote in fs.quotes
        if direct and not quoted and not fs.odd_returns:
            header, delimiter = _csv_columns(readable, profile)
            reader, select = _csv_reader(readable, profile, header, delimiter, fs.line_limit)
            _drop_rejects(con)
            con.execute(
                f"CREATE TEMP VIEW _raw AS SELECT {select}, NULL::BIGINT AS source_line FROM {reader}parallel = true)"
            )
            return facts | {"columns": header, "delimiter": delimiter, "numbered": False}
        columns, delimiter = _read_csv(
            con, readable, profile, fs.lines, quoted, workdir if fs.odd_returns else None, fs.line_limit
        )
    return facts | {"columns": columns, "delimiter": delimiter, "numbered": True}


def first_record_line(profile: Profile) -> int:
    """The physical line of a file's first record (the header is line 1)."""
    return 2 if profile.format.header else 1


def direct_read_complete(con, fs: FileScan, profile: Profile, records: int) -> bool:
    """After a pass over a direct `_raw` (`read_raw`) that stored `records` rows: DuckDB rejected
    no record and every physical line is one, so that row ids number the records. Otherwise the
    file is to be read again, numbered (rejected records and extra lines are placed there)."""
    first = first_record_line(profile)
    rejected = con.execute("SELECT count(*) FROM _csv_errors").fetchone()[0]
    return not rejected and fs.lines == records + first - 1


def drop_raw(con) -> None:
    """Drop what `read_raw` made."""
    for name in ("_raw", "_numbered", "_records", "_unparsed"):
        drop_relation(con, name)


def _drop_rejects(con) -> None:
    for name in ("_csv_errors", "_csv_scans"):
        drop_relation(con, name)


def _literal_path(path: Path, fs: FileScan, workdir: Path) -> Path:
    """The file under a name DuckDB takes literally: it reads `*`, `?` and `[...]` anywhere in a path
    as a glob (`calls_*.csv` would read every calls file), and needs UTF-8. A link in the work
    folder, whatever the file's own name and folders hold."""
    link = workdir / f"source.{fs.kind}{'.gz' if fs.gzipped else ''}"
    link.symlink_to(path.resolve())
    return link


def _read_csv(
    con,
    path: Path,
    profile: Profile,
    lines: int,
    quoted: bool = True,
    workdir: Path | None = None,
    line_limit: int = MAX_LINE_BYTES,
) -> tuple[list[str], str]:
    """`lines`: the file's physical lines (`FileScan.lines`); `quoted`: it may hold the profile's
    quote character. `workdir`: the file holds carriage returns other than line ends; DuckDB's strict parser would
    stop the whole file at one outside quotes: a copy without them is read, their lines set aside."""
    header, delimiter = _csv_columns(path, profile)
    broken: dict[int, str] = {}
    if workdir is not None:
        copy, broken = _without_bare_returns(path, profile.format.quote, workdir)
        try:  # quotes told apart, unless a broken quote misleads: then every carriage return breaks its line
            with duckdb.connect() as probe:
                probe.execute(
                    f"SELECT count(*) FROM {_csv_reader(copy, profile, header, delimiter, line_limit)[0]}"
                    f"parallel = {str(not quoted).lower()}, ignore_errors = true)"
                )
        except duckdb.Error:
            copy, broken = _without_bare_returns(path, "", workdir)
        path, lines = copy, None  # a bare return at the very end went: counted again
    reader, select = _csv_reader(path, profile, header, delimiter, line_limit)
    first = first_record_line(profile)
    # Both cores parse a file without quotes, and DuckDB keeps the file's order in the table it
    # fills: a record's row id is its number, as if no record were rejected. Broken quoting can stop
    # the parallel parser where one thread reads on, and the line DuckDB gives a rejected record is
    # taken from its one-thread read: a file with quotes is read on one thread, and one with a
    # rejected record is read again that way.
    _load_records(con, f"SELECT {select} FROM {reader}parallel = {str(not quoted).lower()})")
    if not quoted and con.execute("SELECT count(*) FROM _csv_errors").fetchone()[0]:
        _load_records(con, f"SELECT {select} FROM {reader}parallel = false)")
    # row ids count from where the table's rows start (inside a transaction, far from 0)
    start = con.execute("SELECT coalesce(min(rowid), 0) FROM _records").fetchone()[0]
    con.execute(f"CREATE TEMP VIEW _numbered AS SELECT *, rowid - {start} + {first} AS source_line FROM _records")
    # DuckDB counts records (header = 1); rejected records leave gaps that number the rest.
    errors = con.execute(
        "SELECT line, string_agg(DISTINCT coalesce(column_name, 'column ' || column_idx) || ': ' || "
        "lower(error_type) || ' (' || error_message || ')', '; '), any_value(csv_line), min(line_byte_position) "
        "FROM _csv_errors GROUP BY line ORDER BY line"
    ).fetchall()
    rejected_lines = [e[0] for e in errors]
    con.execute(
        "INSERT INTO _unparsed SELECT line, raw, 'csv: ' || why FROM "
        "(SELECT unnest(?) AS line, unnest(?) AS why, unnest(?) AS raw)",
        [rejected_lines, [masked_message(e[1]) for e in errors], [e[2] for e in errors]],
    )
    if rejected_lines:  # the n-th parsed record sits at the n-th record number not taken by a rejected one
        con.execute("CREATE TEMP TABLE _gaps AS SELECT unnest(?::BIGINT[]) AS line", [rejected_lines])
        _number_with_gaps(con, first)
    elif broken or lines is None or lines > con.execute("SELECT count(*) FROM _records").fetchone()[0] + first - 1:
        con.execute("CREATE TEMP TABLE _raw AS SELECT * FROM _numbered")  # numbers to be mended below
    else:  # every line a record: nothing to mend, nothing copied
        con.execute("ALTER VIEW _numbered RENAME TO _raw")
    _physical_lines(con, path, profile, delimiter, {e[0]: e[3] for e in errors}, lines)
    if broken:
        con.execute("DELETE FROM _raw WHERE source_line IN (SELECT unnest(?::BIGINT[]))", [list(broken)])
        con.execute("DELETE FROM _unparsed WHERE source_line IN (SELECT unnest(?::BIGINT[]))", [list(broken)])
        con.executemany(
            "INSERT INTO _unparsed VALUES (?, ?, 'csv: a carriage return inside an unquoted field')",
            [[line, text] for line, text in sorted(broken.items())],
        )
    drop_relation(con, "_numbered")
    con.execute("DROP TABLE IF EXISTS _gaps")
    if not is_view(con, "_raw"):
        con.execute("DROP TABLE _records")
    return header, delimiter


def numbered_duplicates(header: list[str]) -> list[str]:
    """A name repeated in a header: the first keeps it, the later ones become name_2, name_3 (their
    position among the columns of that name; DuckDB's names ignore case, so do these), skipping a
    name the header already has."""
    taken = {name.lower() for name in header}
    counts: dict[str, int] = {}
    out = []
    for name in header:
        counts[name.lower()] = counts.get(name.lower(), 0) + 1
        if counts[name.lower()] == 1:
            out.append(name)
            continue
        n = counts[name.lower()]
        while f"{name}_{n}".lower() in taken:
            n += 1
        out.append(f"{name}_{n}")
        taken.add(out[-1].lower())
    return out


def _csv_columns(path: Path, profile: Profile) -> tuple[list[str], str]:
    """The file's column names (checked) and delimiter."""
    header, delimiter = _csv_header(path, profile)
    if not profile.format.header:
        header = [f"column{i + 1}" for i in range(len(header))]
    # an empty name (a spreadsheet's row-index column) is named by its position, as a file without
    # a header names every column: column1 is the first
    header = [name or f"column{i + 1}" for i, name in enumerate(header)]
    header = [profile.rename.get(name, name) for name in header]  # a variant of the header, named as the profile reads
    if profile.duplicate_headers == "number":
        header = numbered_duplicates(header)
    seen, dupes = set(), []
    for name in header:  # DuckDB names are case-insensitive: nps and NPS are one column
        if name.lower() in seen:
            dupes.append(name)
        seen.add(name.lower())
    if dupes:
        raise FileRejected("duplicate_header", f"header names repeated: {sorted(set(dupes))}", column=dupes[0])
    return header, delimiter


def _csv_reader(
    path: Path, profile: Profile, header: list[str], delimiter: str, line_limit: int = MAX_LINE_BYTES
) -> tuple[str, str]:
    """DuckDB's reader of the file in its dialect, every column as text, strict, rejected records
    to `_csv_errors` (open: the caller adds the thread option and the closing parenthesis), and the
    select list naming its columns. `line_limit`: the longest record read; DuckDB's buffer holds two
    (its default of 16 would exceed the memory limit of an ingest)."""
    names = {f"c{i}": "VARCHAR" for i in range(len(header))}
    options = (
        f"auto_detect = false, header = {str(profile.format.header).lower()}, delim = {sql_string(delimiter)}, "
        f"quote = {sql_string(profile.format.quote)}, escape = {sql_string(profile.format.quote)}, "
        f"columns = {names!r}, max_line_size = {line_limit}, buffer_size = {2 * line_limit}, "
        f"strict_mode = true, null_padding = false"
    )
    reader = (
        f"read_csv({sql_string(str(path))}, {options}, store_rejects = true, rejects_table = '_csv_errors', "
        f"rejects_scan = '_csv_scans', "
    )
    return reader, ", ".join(f"c{i} AS {sql_ident(h)}" for i, h in enumerate(header))


def _load_records(con, select: str) -> None:
    """The file's records, as text, into _records; DuckDB's rejected ones into _csv_errors."""
    for name in ("_numbered", "_records"):
        drop_relation(con, name)
    _drop_rejects(con)
    try:
        con.execute(f"CREATE TEMP TABLE _records AS {select}")
    except MACHINE_ERRORS:
        raise
    except duckdb.Error as exc:
        raise FileRejected("parseable_csv", f"not readable as CSV: {masked_message(str(exc).splitlines()[0])}") from exc


def _without_bare_returns(path: Path, quote: str, workdir: Path) -> tuple[Path, dict[int, str]]:
    """A copy of the file without the carriage returns outside quotes: before a line feed one ends
    the line (mixed line ends); anywhere else it breaks its line. Returns the copy and the broken
    lines (physical line number: text without its carriage returns)."""
    data = path.read_bytes()
    # even parts lie outside quotes (a doubled quote toggles twice); no quote: every return breaks its line
    parts = data.split(quote.encode()) if quote else [data]
    lines = data.split(b"\n")
    broken: dict[int, str] = {}
    line = 1
    for k, part in enumerate(parts):
        if k % 2 == 0:
            part = part.replace(b"\r\n", b"\n")
            number = line
            for m in re.finditer(rb"[\r\n]", part) if b"\r" in part else ():
                if m.group() == b"\n":
                    number += 1
                else:
                    broken[number] = lines[number - 1].decode("utf-8", "replace").replace("\r", "")
            parts[k] = part.replace(b"\r", b"")
        line += parts[k].count(b"\n")
    copy = workdir / f"cr-{path.name}"
    copy.write_bytes(quote.encode().join(parts))
    return copy, broken


def _physical_lines(
    con, path: Path, profile: Profile, delimiter: str, reject_bytes: dict[int, int], lines: int | None = None
) -> None:
    """Reconcile DuckDB's records with the file's physical lines.

    DuckDB numbers records, not lines: a quoted field holding a line break shifts every later
    record. And a last record with an unterminated quote is dropped by DuckDB without a reject.
    When the file has more lines than DuckDB saw records, Python's csv module (slow, so only
    then) tells where each record starts and which trailing records DuckDB dropped; those are
    set aside as unparsed, so that nothing read is lost.

    In such a file the line DuckDB gives a rejected record is not a record number (it ran past
    the count of records, and two rows got one line): when both readers see the same records,
    each rejected record is placed by the byte where its line starts (`reject_bytes`, DuckDB's
    line -> byte), and the parsed ones, in order, at the record starts left.
    """
    header = 1 if profile.format.header else 0
    records = con.execute("SELECT (SELECT count(*) FROM _raw) + (SELECT count(*) FROM _unparsed)").fetchone()[0]
    if lines is None:
        checks = _TextChecks()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                checks.feed(chunk)
        lines = checks.newlines + (0 if checks.last in (b"\n", b"") else 1)
    if lines <= records + header:
        return
    starts, texts = [0], {}  # starts[k]: physical line where record k starts (record 1: the header)
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter, quotechar=profile.format.quote, strict=False)
        previous_end = 0
        try:
            for row in reader:
                if row:
                    starts.append(previous_end + 1)
                    if len(starts) - 1 > records + header:
                        texts[len(starts) - 1] = csv_line(row, delimiter, profile.format.quote)[:10000]
                previous_end = reader.line_num
        except csv.Error:
            return
    python_records = len(starts) - 1
    if python_records < records + header:
        return  # the readers disagree in a way that cannot be placed: keep record numbers
    if (
        python_records == records + header
        and reject_bytes
        and _place_by_bytes(con, path, starts[1 + header :], reject_bytes)
    ):
        return
    if texts:
        con.executemany(
            "INSERT INTO _unparsed VALUES (?, ?, ?)",
            [[k, text, "csv: record not terminated (an opening quote is never closed)"] for k, text in texts.items()],
        )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _line_map AS SELECT unnest(range(?)) AS record, unnest(?) AS line",
        [len(starts), starts],
    )
    for table in ("_raw", "_unparsed"):
        con.execute(f"UPDATE {table} t SET source_line = m.line FROM _line_map m WHERE m.record = t.source_line")
    con.execute("DROP TABLE _line_map")


def _place_by_bytes(con, path: Path, record_starts: list[int], reject_bytes: dict[int, int]) -> bool:
    """Number rejected records by the physical line of their first byte, parsed ones by the record
    starts left, in order; False (nothing changed) when the two do not fit together."""
    import bisect

    newlines, offset = [], 0
    starts = set(record_starts)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            newlines += [offset + m.start() for m in re.finditer(b"\n", chunk)]
            offset += len(chunk)
        rejected = {
            line: bisect.bisect_left(newlines, position) + 1
            for line, position in reject_bytes.items()
            if position is not None
        }
        for line, physical in rejected.items():
            # after blank lines DuckDB may give the end of the line before them: the record starts after them
            following = bisect.bisect_right(record_starts, physical)
            if physical in starts or following == len(record_starts) or newlines[physical - 1] != reject_bytes[line]:
                continue
            fh.seek(reject_bytes[line])
            if not fh.read(newlines[record_starts[following] - 2] + 1 - reject_bytes[line]).strip(b"\r\n"):
                rejected[line] = record_starts[following]
    taken = set(rejected.values())
    left = [line for line in record_starts if line not in taken]
    parsed = con.execute("SELECT count(*) FROM _raw").fetchone()[0]
    if len(rejected) != len(reject_bytes) or len(taken) != len(rejected) or not taken <= starts or len(left) != parsed:
        return False
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _line_map AS SELECT unnest(?::BIGINT[]) AS record, unnest(?::BIGINT[]) AS line",
        [list(rejected), list(rejected.values())],
    )
    con.execute("UPDATE _unparsed t SET source_line = m.line FROM _line_map m WHERE m.record = t.source_line")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _line_map AS SELECT unnest(?::BIGINT[]) AS line, "
        "unnest(range(1, ?::BIGINT + 1)) AS k",
        [left, len(left)],
    )
    con.execute(
        "UPDATE _raw t SET source_line = m.line FROM (SELECT source_line AS record, row_number() OVER "
        "(ORDER BY source_line) AS k FROM _raw) r JOIN _line_map m USING (k) WHERE r.record = t.source_line"
    )
    con.execute("DROP TABLE _line_map")
    return True


def csv_line(fields: list[str], delimiter: str, quote: str) -> str:
    """Fields written back as one CSV record of the file's dialect (quoted where needed)."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, quotechar=quote, lineterminator="").writerow(fields)
    return out.getvalue()


def _number_with_gaps(con, first: int) -> None:
    """source_line for each parsed record: the record numbers from `first` on, skipping rejected ones."""
    con.execute(f"""
        CREATE TEMP TABLE _raw AS
        WITH total AS (SELECT (SELECT count(*) FROM _numbered) + (SELECT count(*) FROM _gaps) AS n),
        free AS (
            SELECT line, row_number() OVER (ORDER BY line) AS k
            FROM (SELECT unnest(range({first}, {first} + (SELECT n FROM total))) AS line)
            WHERE line NOT IN (SELECT line FROM _gaps)
        )
        SELECT n.* EXCLUDE (source_line), f.line AS source_line
        FROM _numbered n JOIN free f ON f.k = n.source_line - {first - 1}
        ORDER BY n.source_line
    """)


def _read_jsonl(con, path: Path, fs: FileScan) -> list[str]:
    con.execute(
        f"CREATE TEMP TABLE _lines AS SELECT line AS record, row_number() OVER () AS source_line "
        f"FROM read_csv({sql_string(str(path))}, auto_detect = false, header = false, delim = '\x1f', "
        f"quote = '', escape = '', columns = {{'line': 'VARCHAR'}}, max_line_size = {fs.line_limit}, "
        f"buffer_size = {2 * fs.line_limit}, "
        f"strict_mode = false, parallel = false)"
    )
    _set_aside_deep_lines(con, fs.json_depth_limit)
    con.execute("""
        INSERT INTO _unparsed
        SELECT source_line, record, 'json: not a JSON object on this line'
        FROM _lines
        WHERE record IS NOT NULL AND trim(record) <> ''
          AND (NOT json_valid(record) OR json_type(record) <> 'OBJECT')
    """)
    keys = [
        r[0]
        for r in con.execute("""
        SELECT DISTINCT unnest(json_keys(record)) AS k FROM _lines
        WHERE record IS NOT NULL AND json_valid(record) AND json_type(record) = 'OBJECT' ORDER BY k
    """).fetchall()
    ]
    keys = _set_aside_case_variants(con, keys)
    if not keys and con.execute("SELECT count(*) FROM _unparsed").fetchone()[0] == 0:
        raise FileRejected("empty_file", "the file holds no JSON record")
    cols = ", ".join(f"json_extract_string(record, {sql_string(_json_path(k))}) AS {sql_ident(k)}" for k in keys)
    con.execute(f"""
        CREATE TEMP TABLE _raw AS
        SELECT {cols + ", " if cols else ""}source_line FROM _lines
        WHERE record IS NOT NULL AND json_valid(record) AND json_type(record) = 'OBJECT'
    """)
    con.execute("DROP TABLE _lines")
    return keys


def json_depth(text: str) -> int:
    """How deep a JSON text nests its arrays and objects (brackets inside strings left out)."""
    brackets = re.sub(r"[^\[\]{}]", "", re.sub(r'"(?:[^"\\]|\\.)*"', "", text))
    steps = map({"[": 1, "{": 1, "]": -1, "}": -1}.__getitem__, brackets)
    return max(accumulate(steps, initial=0))


def _set_aside_deep_lines(con, limit: int) -> None:
    """Lines nested deeper than `limit` are unparsed: DuckDB's JSON functions would exhaust the
    memory of the ingest on them. Only lines holding more brackets than the limit are measured."""
    candidates = con.execute(
        "SELECT source_line, record FROM _lines WHERE length(record) - length(translate(record, '[{', '')) > ?",
        [limit],
    )
    deep = []
    while batch := candidates.fetchmany(100):
        deep += [(line, text[:10000]) for line, text in batch if json_depth(text) > limit]
    if deep:
        con.executemany(
            "INSERT INTO _unparsed VALUES (?, ?, ?)",
            [[line, text, f"json: nested deeper than {limit} levels (ingest.max_json_depth)"] for line, text in deep],
        )
        con.execute("DELETE FROM _lines WHERE source_line IN (SELECT unnest(?::BIGINT[]))", [[d[0] for d in deep]])


def _set_aside_case_variants(con, keys: list[str]) -> list[str]:
    """Keys differing only by case would be one column in DuckDB (one silently read for the other):
    the spelling most lines use is kept, lines using another are unparsed."""
    groups: dict[str, list[str]] = {}
    for k in keys:
        groups.setdefault(k.lower(), []).append(k)
    clashing = [k for group in groups.values() if len(group) > 1 for k in group]
    if not clashing:
        return keys
    counts = dict(
        con.execute(
            "SELECT k, count(*) FROM (SELECT unnest(json_keys(record)) AS k FROM _lines WHERE record IS NOT NULL "
            "AND json_valid(record) AND json_type(record) = 'OBJECT') WHERE k IN (SELECT unnest(?)) GROUP BY k",
            [clashing],
        ).fetchall()
    )
    kept = {max(sorted(g), key=lambda k: counts.get(k, 0)) for g in groups.values() if len(g) > 1}
    dropped = sorted(set(clashing) - kept)
    con.execute(
        """
        INSERT INTO _unparsed
        SELECT source_line, record, 'json: key ' || list_filter(json_keys(record), lambda k: list_contains($1, k))[1]
            || ' differs only by case from a key other lines use'
        FROM _lines WHERE record IS NOT NULL AND json_valid(record) AND json_type(record) = 'OBJECT'
          AND list_has_any(json_keys(record), $1)
    """,
        [dropped],
    )
    con.execute("DELETE FROM _lines WHERE source_line IN (SELECT source_line FROM _unparsed)")
    return [k for k in keys if k not in dropped]


def _json_path(key: str) -> str:
    return '$."' + key.replace('"', "") + '"'


def _read_parquet(con, path: Path, fs: FileScan, workdir: Path) -> dict:
    readable = path
    if fs.gzipped:
        readable = workdir / path.name[:-3]
        with gzip.open(path, "rb") as src, open(readable, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
    try:
        rel = con.sql(f"SELECT * FROM read_parquet({sql_string(str(readable))}) LIMIT 0")
        columns = list(rel.columns)
        casts = ", ".join(f"CAST({sql_ident(c)} AS VARCHAR) AS {sql_ident(c)}" for c in columns)
        con.execute(
            f"CREATE TEMP TABLE _raw AS SELECT {casts}, file_row_number + 1 AS source_line "
            f"FROM read_parquet({sql_string(str(readable))}, file_row_number = true)"
        )
    except MACHINE_ERRORS[:1] + MACHINE_ERRORS[2:]:  # an IO error here is a file that is not Parquet
        raise
    except duckdb.Error as exc:
        raise FileRejected(
            "parseable_parquet", f"not readable as Parquet: {masked_message(str(exc).splitlines()[0])}"
        ) from exc
    return {"columns": columns, "transcoded_lines": 0, "numbered": True}


WORKDIR_PREFIX = "ingest-"


def make_workdir(root: Path) -> Path:
    """A private folder (owner only) for the file's decompressed or transcoded copies, in `root`
    (the warehouse's `tmp/`, never a shared temporary folder), named after this process so that a
    later ingest removes it if this one dies before removing it (`remove_stale_workdirs`)."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(root, 0o700)
    return Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-", dir=root))


def remove_stale_workdirs(root: Path) -> list[Path]:
    """Remove the work folders in `root` left by ingests whose process is gone (killed, crashed);
    those of a running process (another source's ingest) are left. Returns what was removed."""
    removed = []
    for folder in sorted(root.glob(f"{WORKDIR_PREFIX}*")) if root.is_dir() else []:
        pid = folder.name[len(WORKDIR_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
