"""Values and names written into DuckDB SQL text, quoted so that no value or name can end them."""

from __future__ import annotations


def sql_string(value: str) -> str:
    """A string literal: 'it''s'."""
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """A column or table name: "a ""quoted"" name"."""
    return '"' + name.replace('"', '""') + '"'


def sql_timestamp(moment) -> str:
    """A TIMESTAMPTZ constant, which DuckDB can compare with a column's zone maps (a bound
    parameter it cannot)."""
    return f"{sql_string(moment.isoformat())}::TIMESTAMPTZ"
