"""Privacy at the door: keyed pseudonyms for customer identifiers, scrubbed free text.

The pseudonym is HMAC-SHA256(key, identifier), computed inside DuckDB so that no raw identifier
is ever written to the warehouse. The key comes from `ESPRIT_PSEUDONYM_KEY` (or, under
Airflow, the password of the connection `esprit_pseudonym`, which Airflow also exposes as
`AIRFLOW_CONN_ESPRIT_PSEUDONYM`). The demo key is public: it is accepted only in demo mode
(`ESPRIT_DEMO=1`, set by `esprit demo`).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from stdnum import iban, luhn
from stdnum.fr import nir
from stdnum.us import ssn

DEMO_KEY = "esprit-demo-key-PUBLIC-not-a-secret"
KEY_ENV = "ESPRIT_PSEUDONYM_KEY"
KEY_COMMAND = "python -c 'import secrets; print(secrets.token_hex(32))'"  # makes a good key
OLD_KEY_ENV = "ESPRIT_PSEUDONYM_KEY_OLD"  # the key being retired, read by `esprit rotate-key` only
# The warehouse records HMAC(key, this label): it tells two keys apart and gives nothing of either.
FINGERPRINT_LABEL = b"esprit pseudonym key fingerprint v1"
CONNECTION_ENV = "AIRFLOW_CONN_ESPRIT_PSEUDONYM"
PSEUDONYM_PREFIX = "p_"

# Backstops applied after the libraries below (`scrub`): forms they may leave, e.g. a French number
# in a range not yet assigned. Each needs a digit or an @ to match.
SCRUB_PATTERNS: tuple[tuple[str, str], ...] = (
    # IBAN: two letters, two digits, then 11 to 30 letters/digits, spaces allowed in groups of 4
    (r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b", "[iban]"),
    # payment card: 13 to 19 digits, optionally grouped by spaces or dashes
    (r"\b[0-9]{4}(?:[ -]?[0-9]{3,4}){2,3}(?:[ -]?[0-9]{1,3})?\b", "[card]"),
    # international (+33 6 12 34 56 78, +44 20 7946 0958, 0033...) and French (06 12 34 56 78) numbers
    (r"(?:\+|\b00)[1-9][0-9]{0,2}[ .-]?(?:\(0\)[ .-]?)?[0-9](?:[ .-]?[0-9]){6,12}\b", "[phone]"),
    (r"\b0[1-9](?:[ .-]?[0-9]{2}){4}\b", "[phone]"),
)
# e-mail addresses, accented local parts and domains included (\w is Unicode)
EMAIL_PATTERN = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+")
# Texts the number checks can find nothing in: no @ and fewer digits than the shortest phone number
# (7, a US local one). Most free text is such; scrub_sql does not hand it to Python at all.
PREFILTER_SQL = "@|[0-9](?:[^0-9]*[0-9]){6}"
PREFILTER = re.compile(PREFILTER_SQL)
DEFAULT_PHONE_REGIONS = ("FR", "US")
SCRUB_FUNCTION = "esprit_scrub"


class PrivacyError(RuntimeError):
    """The pseudonymisation key is missing or unsafe for this mode."""


@dataclass(frozen=True)
class PseudonymKey:
    key: bytes
    is_demo: bool

    def pads(self) -> tuple[bytes, bytes]:
        """HMAC inner and outer pads, so that DuckDB can compute HMAC-SHA256 with sha256()."""
        key = self.key
        if len(key) > 64:
            import hashlib

            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        return bytes(b ^ 0x36 for b in key), bytes(b ^ 0x5C for b in key)

    def fingerprint(self) -> str:
        import hashlib
        import hmac

        return hmac.new(self.key, FINGERPRINT_LABEL, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:  # never print the key
        return f"PseudonymKey(demo={self.is_demo})"


def demo_mode() -> bool:
    return os.environ.get("ESPRIT_DEMO", "").lower() in ("1", "true", "yes")


def resolve_key(variable: str = KEY_ENV) -> PseudonymKey:
    """The key of `variable` (for KEY_ENV, else the Airflow connection; in demo mode, the demo key)."""
    raw = os.environ.get(variable)
    if variable != KEY_ENV:
        if not raw:
            raise PrivacyError(f"{variable} is not set: it must hold the key being retired")
        return PseudonymKey(raw.encode(), raw == DEMO_KEY)
    if not raw and os.environ.get(CONNECTION_ENV):
        value = os.environ[CONNECTION_ENV]
        if value.lstrip().startswith("{"):
            import json

            raw = json.loads(value).get("password")
        else:
            raw = unquote(urlparse(value).password or "")
    if not raw:
        if demo_mode():
            return PseudonymKey(DEMO_KEY.encode(), True)
        raise PrivacyError(
            f"no pseudonymisation key: set {KEY_ENV} (or the Airflow connection 'esprit_pseudonym'); "
            f"the public demo key is only accepted with ESPRIT_DEMO=1"
        )
    problem = key_problem(raw, demo=demo_mode())
    if problem:
        raise PrivacyError(problem)
    return PseudonymKey(raw.encode(), raw == DEMO_KEY)


def key_problem(raw: str, demo: bool = False) -> str | None:
    """Why `raw` cannot be the pseudonymisation key (None when it can): the one rule ingest and the
    deployment's init (pipelines/orchestration/deployment.py) both apply. Never quotes the key."""
    if not raw:
        return f"{KEY_ENV} is not set: choose a random secret (e.g. {KEY_COMMAND})"
    if raw == DEMO_KEY:
        return None if demo else f"{KEY_ENV} is the public demo key: choose a secret key outside demo mode"
    if len(raw) < 16:
        return f"{KEY_ENV} is shorter than 16 characters: choose a longer secret (e.g. {KEY_COMMAND})"
    # a key of spaces, or of a few characters repeated (aaaa..., 1212...), is as guessable as a short one
    if raw.strip() != raw or len(set(raw)) < 8:
        return (
            f"{KEY_ENV} is blank at an end or has fewer than 8 different characters: "
            f"choose a random secret (e.g. {KEY_COMMAND})"
        )
    return None


KEY_TABLE_DDL = """
CREATE TABLE IF NOT EXISTS pseudonym_keys (
    fingerprint VARCHAR NOT NULL,   -- HMAC-SHA256(key, FINGERPRINT_LABEL): never the key
    since TIMESTAMPTZ NOT NULL,
    retired_at TIMESTAMPTZ          -- NULL: the key the warehouse's pseudonyms are made with
)"""


def short(fingerprint: str) -> str:
    return fingerprint[:8] + "..."


def warehouse_fingerprint(con) -> str | None:
    con.execute(KEY_TABLE_DDL)
    row = con.execute("SELECT fingerprint FROM pseudonym_keys WHERE retired_at IS NULL").fetchone()
    return row[0] if row else None


def check_key(con, key: PseudonymKey) -> None:
    """Refuse a key other than the one the warehouse's pseudonyms were made with: its customers
    would get a second reference and their journeys split. The first key used is recorded (a
    warehouse made before fingerprints adopts the key of its next load)."""
    recorded = warehouse_fingerprint(con)
    if recorded is None:
        con.execute("INSERT INTO pseudonym_keys VALUES (?, now(), NULL)", [key.fingerprint()])
    else:
        refuse_another_key(recorded, key)


def refuse_another_key(recorded: str, key: PseudonymKey) -> None:
    """PrivacyError when the key is not the one whose fingerprint the warehouse recorded."""
    if recorded != key.fingerprint():
        raise PrivacyError(
            f"the warehouse's customer references were made with another pseudonymisation key (fingerprint "
            f"{short(recorded)}; this key's: {short(key.fingerprint())}): loading with it would give every customer "
            f"a second reference and split their journeys. Set the warehouse's key ({KEY_ENV}, or the Airflow "
            f"connection 'esprit_pseudonym'), or change keys with esprit rotate-key (docs/operations.md)"
        )


def pseudonym_sql(expr: str) -> str:
    """SQL for the pseudonym of `expr`; needs variables hmac_ipad and hmac_opad (see set_key)."""
    return (
        f"CASE WHEN ({expr}) IS NULL THEN NULL ELSE '{PSEUDONYM_PREFIX}' || left(sha256("
        f"getvariable('hmac_opad') || unhex(sha256(getvariable('hmac_ipad') || encode(({expr})::VARCHAR)))), 24) "
        f"END"
    )


def set_key(con, key: PseudonymKey) -> None:
    ipad, opad = key.pads()
    con.execute("SET VARIABLE hmac_ipad = ?::BLOB", [ipad])
    con.execute("SET VARIABLE hmac_opad = ?::BLOB", [opad])


def scrub_sql(expr: str) -> str:
    """SQL: `scrub` of a text, through the Python function `register_scrubber` defines on the
    connection; texts the pre-filter rules out never leave DuckDB."""
    return (
        f"(CASE WHEN regexp_matches({expr}, '{PREFILTER_SQL}') "
        f"THEN {SCRUB_FUNCTION}({expr}, getvariable('phone_regions')) ELSE {expr} END)"
    )


def register_scrubber(con, regions=None) -> None:
    """Define `scrub` on the connection (once) and set the regions whose national phone formats it
    reads (`ingest.phone_regions`); without regions, keeps those set, else the defaults."""
    if regions is not None or con.execute("SELECT getvariable('phone_regions') IS NULL").fetchall()[0][0]:
        con.execute("SET VARIABLE phone_regions = ?::VARCHAR[]", [list(regions or DEFAULT_PHONE_REGIONS)])
    if con.execute("SELECT count(*) FROM duckdb_functions() WHERE function_name = ?", [SCRUB_FUNCTION]).fetchall()[0][
        0
    ]:
        return

    def scrub_batch(texts, regions):
        import pyarrow as pa  # when a text reaches Python: not at every ingest (0.2 s of CPU to import)

        # one batch of texts (Arrow), the regions the same on each row; each distinct text scrubbed once
        region_list = tuple(regions[0].as_py() or ()) if len(regions) else ()
        done: dict[str, str] = {}
        out = []
        for text in texts.to_pylist():
            if text is not None and text not in done:
                done[text] = scrub(text, region_list)
            out.append(None if text is None else done[text])
        return pa.array(out, pa.string())

    con.create_function(
        SCRUB_FUNCTION, scrub_batch, ["VARCHAR", "VARCHAR[]"], "VARCHAR", type="arrow", side_effects=False
    )


def scrub_regions(con) -> tuple[str, ...]:
    """The phone regions set on the connection (`register_scrubber`)."""
    regions = con.execute("SELECT getvariable('phone_regions')").fetchall()[0][0]
    return tuple(regions or DEFAULT_PHONE_REGIONS)


# Spaces typed inside numbers (no-break, narrow no-break, figure, thin, tab): read as plain spaces.
_SPACES = str.maketrans({c: " " for c in "\u00a0\u202f\u2007\u2009\u200a\t"})
# 06/55/44/33/22: slashes between four or more groups of digits (a date has three) read as spaces
_SLASHED = re.compile(r"[0-9]+(?:/[0-9]+){3,}")
# A run of letters and digits in groups (an IBAN, a card, a NIR, an SSN, with any separators); a
# group of four capitals (a bank code inside an IBAN) may hold no digit.
_GROUP = r"(?:[0-9A-Za-z]*[0-9][0-9A-Za-z]*|[A-Z]{4})"
_RUN = re.compile(rf"(?<![\w]){_GROUP}(?:[ .\-/]{{1,2}}{_GROUP})*(?![\w])")
_SEPARATOR = re.compile(r"[ .\-/]{1,2}")
_SEPARATORS = re.compile(r"[ .\-/]")
_IBAN_HEAD = re.compile(r"[A-Z]{2}[0-9]{2}")
# printed forms, accepted even when the check digits are wrong (a mistyped number is still the customer's)
_CARD_PRINTED = re.compile(r"[0-9]{4}(?:[ .\-][0-9]{4}){3}")
_NIR_PRINTED = re.compile(r"[1-478] ?[0-9]{2} ?[0-9]{2} ?(?:[0-9]{2}|2[AB]) ?[0-9]{3} ?[0-9]{3} ?[0-9]{2}", re.I)
_SSN_PRINTED = re.compile(r"[0-9]{3}([ -])[0-9]{2}\1[0-9]{4}")


def _number_label(written: str) -> str | None:
    """The kind of personal number `written` (one run of groups, separators included) is, if any:
    python-stdnum checks its structure and check digits."""
    compact = _SEPARATORS.sub("", written).upper()
    if len(compact) != 9 and len(compact) < 13:  # shorter than any of them (an SSN has 9 digits)
        return None
    if _IBAN_HEAD.match(compact) and 15 <= len(compact) <= 34:
        # the country's length and structure; check digits recomputed, so that a mistyped one counts
        fixed = compact[:2] + iban.calc_check_digits(compact) + compact[4:]
        if iban.is_valid(fixed, check_country=False):
            return "[iban]"
        return None
    if len(compact) == 15 and (nir.is_valid(compact) or _NIR_PRINTED.fullmatch(written)):
        return "[national_id]"
    if not compact.isdigit():
        return None
    if 13 <= len(compact) <= 19 and (luhn.is_valid(compact) or _CARD_PRINTED.fullmatch(written)):
        return "[card]"
    if len(compact) == 9 and _SSN_PRINTED.fullmatch(written) and ssn.is_valid(compact):
        return "[national_id]"
    return None


def _numbers(text: str) -> list[tuple[int, int, str]]:
    """Spans of IBANs, cards and national identifiers in `text`: within each run of groups, the
    longest window of whole groups that is one, left to right."""
    found = []
    for run in _RUN.finditer(text):
        if sum(ch.isdigit() for ch in run.group()) < 9:
            continue
        bounds, last = [], run.start()
        for sep in _SEPARATOR.finditer(run.group()):
            bounds.append((last, run.start() + sep.start()))
            last = run.start() + sep.end()
        bounds.append((last, run.end()))
        i = 0
        while i < len(bounds):
            for j in range(len(bounds), i, -1):
                label = _number_label(text[bounds[i][0] : bounds[j - 1][1]])
                if label:
                    found.append((bounds[i][0], bounds[j - 1][1], label))
                    i = j
                    break
            else:
                i += 1
    return found


# Where a phone number may be: 7 digits or more, with the separators and brackets numbers are
# written with, not touching a letter. libphonenumber reads only these (it is slow on long texts).
_PHONE_CANDIDATE = re.compile(r"(?<![\w/])[+(]*[0-9](?:[ ().\-]{0,3}[0-9]){6,}(?![\w:/])")


def _phones(text: str, regions) -> list[tuple[int, int, str]]:
    """Spans of phone numbers of `regions` (or international), found by Google's libphonenumber: a
    valid number, or one of a possible length with 9 digits or more (a mistyped or not yet assigned
    number is still the customer's; shorter ones would take amounts, 1 250 000, for local numbers).
    A candidate is read in the next region only when the ones before found nothing in it."""
    import phonenumbers

    spans = []
    for candidate in _PHONE_CANDIDATE.finditer(text):
        for region in regions:
            found = [
                (candidate.start() + m.start, candidate.start() + m.end, "[phone]")
                for m in phonenumbers.PhoneNumberMatcher(
                    candidate.group(), region, leniency=phonenumbers.Leniency.POSSIBLE
                )
                if sum(ch.isdigit() for ch in m.raw_string) >= 9 or phonenumbers.is_valid_number(m.number)
            ]
            if found:
                spans += found
                break
    return spans


def _replace(text: str, spans: list[tuple[int, int, str]]) -> str:
    """`text` with each span replaced by its label (overlapping spans merged, the first label kept)."""
    out, end = [], 0
    for start, stop, label in sorted(spans):
        if start < end:  # overlaps the previous span: extend it
            if stop > end:
                end = stop
            continue
        out += [text[end:start], label]
        end = stop
    out.append(text[end:])
    return "".join(out)


def scrub(text: str, regions=DEFAULT_PHONE_REGIONS) -> str:
    """Free text without e-mail addresses, IBANs, card numbers, national identifiers (French NIR,
    US SSN) or phone numbers (of `regions`' national formats, or international), each replaced by
    its label. Texts the pre-filter rules out are returned as they are."""
    if not PREFILTER.search(text):
        return text
    text = EMAIL_PATTERN.sub("[email]", text)
    # same-length normalisation: spans found in it are spans of the text
    plain = _SLASHED.sub(lambda m: m.group().replace("/", " "), text.translate(_SPACES))
    spans = _numbers(plain)
    text, plain = _replace(text, spans), _replace(plain, spans)
    if PREFILTER.search(plain):
        text = _replace(text, _phones(plain, regions))
    for pattern, label in _BACKSTOPS:
        text = pattern.sub(label, text)
    return text


_BACKSTOPS = tuple((re.compile(pattern), label) for pattern, label in SCRUB_PATTERNS)


def mask(text: str) -> str:
    """Only the shape of a text: letters (and their accents) become 'a', digits 0-9 '9', the rest
    stays; nothing identifying is left. Reports show a rejected value so (`mask_sql` in SQL)."""
    import unicodedata

    return "".join("9" if "0" <= ch <= "9" else "a" if unicodedata.category(ch)[0] in "LM" else ch for ch in text)


def mask_sql(expr: str) -> str:
    """SQL: `mask` of a text."""
    return f"regexp_replace(regexp_replace({expr}, '[\\pL\\pM]', 'a', 'g'), '[0-9]', '9', 'g')"


def shown_value(value) -> str:
    """A value of a row that broke a rule, as a report shows it: a number, a time or a truth value
    as it is (it converted to its column's type: it holds nothing else), text only by its shape
    (any column can receive personal data from a shifted or mislabelled export)."""
    if isinstance(value, str):
        cut = value if len(value) <= 60 else value[:57] + "..."
        return f"shaped {mask(cut)!r}"
    return repr(str(value))


def masked_message(text: str) -> str:
    """An error message (DuckDB's, a library's) with every single-quoted part masked: such
    messages quote the value that failed ("Could not convert string 'jean@x.fr' to INT32")."""
    return re.sub(r"'([^']*)'", lambda m: "'" + mask(m.group(1)) + "'", text)


def pseudonym(value: str, key: PseudonymKey) -> str:
    """The same pseudonym, computed in Python (for tests and investigations)."""
    import hashlib
    import hmac

    return PSEUDONYM_PREFIX + hmac.new(key.key, value.encode(), hashlib.sha256).hexdigest()[:24]


# ---- lines that did not parse ----------------------------------------------------------------
# Their identifiers cannot be pseudonymised in SQL by column: the line is split here with the
# file's own dialect, each value attributed to a column where the line allows it.

_JSON_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*("(?:[^"\\]|\\.)*"?|[^\s,{}\[\]":]+)')


@dataclass(frozen=True)
class UnparsedLine:
    values: list[tuple[str, str, bool]]  # (name, value, may hold a customer identifier)
    shape: str | None = None  # masked text that could not be attributed to a column
    note: str | None = None  # what could not be told apart, for the data engineer


def split_unparsed(
    text: str,
    kind: str,
    columns: list[str],
    personal: list[str],
    delimiter: str = ",",
    quote: str = '"',
    unmapped: frozenset[str] = frozenset(),
) -> UnparsedLine:
    """The line's values, each with its column when the line allows it. `unmapped`: columns the
    profile does not map; a field of a line with fields missing or extra that can only be one of
    them is left out."""
    if kind == "jsonl":
        return _split_json(text, set(personal))
    try:
        rows = list(csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quote, strict=False))
    except csv.Error:  # e.g. a field beyond the csv module's size limit
        return UnparsedLine(
            [],
            mask(text),
            "the line could not be split into fields: only its shape is kept (letters as a, digits as 9)",
        )
    fields = [f for row in rows for f in row]
    shift = abs(len(fields) - len(columns))
    positions = [columns.index(c) for c in personal if c in columns]
    # A field missing or added anywhere moves the later ones by `shift`: every field that may
    # have moved onto or off a customer identifier's column is treated as one.
    values = [
        (columns[i] if not shift else f"field {i + 1}", v, any(abs(i - p) <= shift for p in positions))
        for i, v in enumerate(fields)
        if not shift or not _only_unmapped(columns[max(0, i - shift) : i + shift + 1], unmapped)
    ]
    note = (
        None
        if not shift
        else (
            f"{len(fields)} fields for {len(columns)} columns: fields within {shift} "
            f"of a customer identifier's position are pseudonymised"
        )
    )
    return UnparsedLine(values, None, note)


def _only_unmapped(candidates: list[str], unmapped: frozenset[str]) -> bool:
    return bool(candidates) and all(c in unmapped for c in candidates)


def _split_json(text: str, personal: set[str]) -> UnparsedLine:
    values, rest, last = [], [], 0
    for m in _JSON_PAIR.finditer(text):
        rest.append(text[last : m.start()])
        last = m.end()
        name = _json_text(m.group(1), quoted=False)
        values.append((name, _json_text(m.group(2)), name in personal))
    rest.append(text[last:])
    leftover = "".join(rest)
    if re.search(r"[^\W_]", leftover):
        return UnparsedLine(values, mask(leftover), "text outside key-value pairs: only its shape is kept")
    return UnparsedLine(values)


def _json_text(token: str, quoted: bool = True) -> str:
    if quoted and not token.startswith('"'):
        return token
    body = token[1:] if quoted else token
    if quoted and body.endswith('"') and not body.endswith('\\"'):
        body = body[:-1]
    try:
        return json.loads('"' + body + '"')
    except ValueError:
        return body


# Values of an unparsed line that say nothing of a person: numbers, dates and times, truth values.
_PLAIN_VALUE = re.compile(
    r"[+-]?[0-9]+(?:[.,][0-9]+)?|true|false|[0-9]{2,4}[-/.][0-9]{1,2}[-/.][0-9]{1,4}(?:[ T][0-9:.]+)?(?:Z|[+-][0-9:]+)?",
    re.I,
)


def _token_of_identifier(value: str, plain_words: frozenset[str]) -> bool:
    return not re.search(r"\s", value) and not _PLAIN_VALUE.fullmatch(value) and value.lower() not in plain_words


def unparsed_record(
    line: UnparsedLine,
    key: PseudonymKey,
    columns: dict[str, bool],
    null_markers=("",),
    regions=DEFAULT_PHONE_REGIONS,
    plain_words: frozenset[str] = frozenset(),
) -> str:
    """The line as JSON. `columns`: the file's columns, each True when the profile maps it. A value
    of a personal column (by position or key) is pseudonymised; one of a column the profile does
    not map is left out; one that cannot be told to a column (a line with fields missing or too
    many, a key the file does not have) is pseudonymised when it is one word other than a number,
    a date or time, a truth value or one of `plain_words`; every other value is scrubbed. The record depends on the
    line alone, never on the customers the warehouse already holds (so on no load order)."""
    out: dict[str, str] = {}
    for name, value, personal in line.values:
        attributed = name in columns
        if attributed and not columns[name] and not personal:
            continue
        if value.strip() in null_markers:
            out[name] = value
        elif personal or (not attributed and _token_of_identifier(value.strip(), plain_words)):
            out[name] = pseudonym(value, key)
        else:
            out[name] = scrub(value, regions)
    if line.shape is not None:
        out["_shape"] = line.shape
    if line.note:
        out["_note"] = line.note
    return json.dumps(out, ensure_ascii=False)
