"""Compare two builds of the project table by table. Person ids differ between builds (new ids are salted
with the build time), so people are named by their smallest source record instead."""

from __future__ import annotations

import duckdb


def person_keys_view(con: duckdb.DuckDBPyConnection, prefix: str) -> None:
    """View {prefix}_person_keys(person_id, person_key) over relation {prefix}_person_records."""
    con.execute(f"""
        create or replace view {prefix}_person_keys as
        select person_id, min(source_name || ':' || source_record_id) as person_key
        from {prefix}_person_records group by person_id""")


def clusters(prefix: str) -> str:
    """SQL: each source record of build `prefix` with the person key of its person."""
    return (f"select t.source_name, t.source_record_id, k.person_key from {prefix}_person_records t "
            f"join {prefix}_person_keys k using (person_id)")


def comparable(con: duckdb.DuckDBPyConnection, relation: str, *, person_column: str | None = None,
               prefix: str | None = None, exclude: tuple[str, ...] = ()) -> str:
    """SQL for the relation with every column as text (integer widths and double noise do not count) and,
    if it names people, the person column replaced by the person key of build `prefix`."""
    types = dict((row[0], row[1]) for row in con.execute(f"describe {relation}").fetchall())
    values = []
    for column, type_name in types.items():
        if column == person_column or column in exclude:
            continue
        value = f'round("{column}", 9)' if type_name in ("DOUBLE", "FLOAT") else f'"{column}"'
        values.append(f'cast({value} as varchar) as "{column}"')
    if person_column is None:
        return f"select {', '.join(values)} from {relation}"
    return (f"select k.person_key, {', '.join(values)} from {relation} t "
            f"join {prefix}_person_keys k on k.person_id = t.{person_column}")


def differences(con: duckdb.DuckDBPyConnection, left: str, right: str, limit: int = 10) -> list[tuple]:
    """Rows in one query and not the other, duplicates counted."""
    return con.execute(f"({left} except all {right}) union all ({right} except all {left}) limit {limit}").fetchall()


def columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    return [row[0] for row in con.execute(f"describe {relation}").fetchall()]
