"""Values and names written into DuckDB SQL text, quoted so that no value or name can end them."""

from __future__ import annotations


def sql_string(value: str) -> str:
    """A string literal: 'it''s'."""
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """A column or table name: "a ""quoted"" name"."""
    return '"' + name.replace('"', '""') + '"'
