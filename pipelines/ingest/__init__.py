"""Ingest: read export files through their source profile, validate, quarantine, load.

For each file (identified by its content hash; a file already loaded is a no-op), in one
transaction:
1. read it into text columns (`readers`), lines that cannot be parsed set aside;
2. map it onto its canonical table (`profiles`): null markers, expressions, value maps, types;
3. pseudonymise customer identifiers and scrub free text (`privacy`);
4. validate every row with the table's Great Expectations suite (`validation`) compiled to
   DuckDB, before a key repeated within the file is reduced to its last good line, and keep a
   sample that GX itself checks before the next build (`gx_check`);
5. quarantine every row that broke a rule, with file, line, raw record and all its reasons;
   reject the whole file (moved to `rejected/<source>/` with a report) on a file-level failure
   or when bad rows exceed `ingest.max_bad_row_share`;
6. upsert the good rows: for a natural key delivered more than once, the greatest
   (record_version, source_file, load, source_line) wins, so any load order gives the same
   tables and a corrected export under the same name wins over its earlier delivery; a key
   another source's profiles own (key_namespace) is quarantined, never replaced.
Every file's audit row holds: rows read = loaded + quarantined + duplicate (+ rejected).
A reload (`esprit reload`) retracts the earlier loads of the same content and loads it again.

Where each step lives: `readers` (text), `profiles`, `typing_sql` (mapping and typing), `privacy`,
`gate` with `validation` (the suite) and `gx_check` (GX's check of the samples), `load` (quarantine, upsert, derive, audit, reload), `files`
(landing folders), `results` (what a load comes to), `rotation` (changing the pseudonym key).
"""
