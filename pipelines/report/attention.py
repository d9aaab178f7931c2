"""The symmetry of attention on the scorecard: per team, how the other teams served it (the
internal pulse), how it served them (their pulse, its failed handoffs), what its customers
experienced, and the relationship across teams and weeks (docs/excellence.md).

The figures are read as the warehouse holds them (weekly_team_attention, team_attention_link):
a pulse figure below the anonymity threshold is already NULL there, with its status."""

from __future__ import annotations

OUTCOMES = ("nps", "friction_share")


# Means and correlations sum doubles in whatever order DuckDB reads the rows: their last bits
# differ between two warehouses built from the same files in another order. The page and
# scorecard.json carry them to this many decimals, so that the same data gives the same files.
DECIMALS = 9


def _rows(con, sql: str, params: list) -> list[dict]:
    cursor = con.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [{k: round(v, DECIMALS) if isinstance(v, float) else v for k, v in zip(names, r)} for r in cursor.fetchall()]


def team_attention(con, week: str, unassigned: str) -> dict:
    """{"teams": one row per team of the week, "links": outcome -> the relationship up to the
    week}; empty lists and mappings when the warehouse has no such tables yet."""
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if not {"weekly_team_attention", "team_attention_link"} <= tables:
        return {"teams": [], "links": {}}
    teams = _rows(
        con,
        "SELECT * EXCLUDE (parameter_set, build_id, computed_at) FROM weekly_team_attention "
        "WHERE week = ? AND team <> ? ORDER BY team",
        [week, unassigned],
    )
    links = {
        row["outcome"]: row
        for row in _rows(con, "SELECT * FROM team_attention_link WHERE week = ? ORDER BY outcome", [week])
    }
    return {"teams": teams, "links": {o: links[o] for o in OUTCOMES if o in links}}
