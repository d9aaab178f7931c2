"""The SQL mutant generator of the mutation gate (tests/mutation): which mutants a small model
gets, that their ids stay put, and that a mutant runs in DuckDB and changes the answer."""

import duckdb

from tests.mutation.generate import mutants, regenerate, token_mutants

MODEL = """
WITH recent AS (
    SELECT k, x, ts FROM t
    WHERE x > 5 AND y = getvariable('k_min')
        AND ts - t0 <= to_days(getvariable('window_days'))
)
SELECT strftime(r.ts AT TIME ZONE getvariable('week_tz'), '%G-W%V') AS week, r.x
FROM recent AS r
JOIN u ON u.k = r.k
"""


def _summary(sql: str) -> set[tuple[str, str, str]]:
    return {(m.operator, m.before, m.after) for m in mutants("m", sql)}


def test_each_operator_mutates_each_of_its_sites_once():
    assert _summary(MODEL) == {
        ("gt_to_ge", "x > 5", "x >= 5"),
        ("num_plus", "x > 5", "x > 6"),
        ("num_minus", "x > 5", "x > 4"),
        ("eq_to_ne", "y = GETVARIABLE('k_min')", "y <> GETVARIABLE('k_min')"),
        ("param_plus", "y = GETVARIABLE('k_min')", "y = (GETVARIABLE('k_min') + 1)"),
        ("param_minus", "y = GETVARIABLE('k_min')", "y = (GETVARIABLE('k_min') - 1)"),
        ("le_to_lt", "ts - t0 <= TO_DAYS(GETVARIABLE('window_days'))", "ts - t0 < TO_DAYS(GETVARIABLE('window_days'))"),
        (
            "days_plus",
            "ts - t0 <= TO_DAYS(GETVARIABLE('window_days'))",
            "ts - t0 <= TO_DAYS((GETVARIABLE('window_days') + 1))",
        ),
        (
            "days_minus",
            "ts - t0 <= TO_DAYS(GETVARIABLE('window_days'))",
            "ts - t0 <= TO_DAYS((GETVARIABLE('window_days') - 1))",
        ),
        ("and_drop", "x > 5", "(dropped)"),
        ("and_drop", "y = GETVARIABLE('k_min')", "(dropped)"),
        ("and_drop", "ts - t0 <= TO_DAYS(GETVARIABLE('window_days'))", "(dropped)"),
        ("tz_drop", "r.ts AT TIME ZONE GETVARIABLE('week_tz')", "r.ts"),
        ("join_on_true", "u.k = r.k", "true"),
        ("eq_to_ne", "u.k = r.k", "u.k <> r.k"),
    }
    # the window parameter is moved once, through to_days, not a second time as a parameter
    assert not any(m.operator.startswith("param") and "window_days" in m.before for m in mutants("m", MODEL))


def test_ids_are_stable_and_do_not_move_with_other_lines():
    first = {m.id: m.sql for m in mutants("m", MODEL)}
    assert first == {m.id: m.sql for m in mutants("m", MODEL)}
    assert len(first) == 15 and all(i.startswith("m:") for i in first)
    assert {i.split(":")[1] for i in first} == {"recent", "main"}  # the CTE is part of the id
    # a comment and a new column above change every line number but no id
    moved = MODEL.replace("WITH recent AS (", "-- a comment\n-- and another\nWITH recent AS (\n").replace(
        "SELECT k, x, ts FROM t", "SELECT k, x, ts, t0 AS origin FROM t"
    )
    assert {m.id for m in mutants("m", moved)} == set(first)
    assert {m.line for m in mutants("m", moved)} != {m.line for m in mutants("m", MODEL)}


def test_a_mutant_runs_in_duckdb_and_changes_the_answer_at_its_boundary():
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (1, 5), (2, 6), (3, 7)) AS v(k, x)")
    sql = "SELECT k FROM t WHERE x > 5 AND k <> 3 ORDER BY k"
    assert con.execute(regenerate(sql)).fetchall() == con.execute(sql).fetchall() == [(2,)]
    got = {m.operator + ":" + m.before: con.execute(m.sql).fetchall() for m in mutants("m", sql)}
    assert got["gt_to_ge:x > 5"] == [(1,), (2,)]  # the boundary row now counts
    assert got["num_plus:x > 5"] == []
    assert got["and_drop:k <> 3"] == [(2,), (3,)]


def test_token_level_mutants_edit_the_original_text():
    sql = "SELECT a FROM t WHERE b >= 10 -- ten\n"
    found = {(m.operator, m.sql) for m in token_mutants("m", sql)}
    assert found == {
        ("ge_to_gt", "SELECT a FROM t WHERE b > 10 -- ten\n"),
        ("num_plus", "SELECT a FROM t WHERE b >= 11 -- ten\n"),
        ("num_minus", "SELECT a FROM t WHERE b >= 9 -- ten\n"),
    }
    assert len({m.id for m in token_mutants("m", sql)}) == 3
