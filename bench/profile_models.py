"""EXPLAIN ANALYZE the compiled SQL of chosen models against a built DuckDB warehouse and print each query's
costliest operators, for bench/results/profile.md: `python bench/profile_models.py WAREHOUSE TARGET_DIR MODEL...`
(TARGET_DIR: the --target-path of the dbt run that built WAREHOUSE; a model's compiled select is re-run as
`create temp table ... as`, so the warehouse is read, never changed)."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import duckdb


def operators(node: dict, depth: int = 0) -> list[tuple[float, str, int, int]]:
    """(seconds, operator, output rows, depth) for every operator of a DuckDB JSON profile."""
    out = []
    name = node.get("operator_name") or node.get("name") or ""
    if name:
        extra = node.get("extra_info") or {}
        detail = " ".join(f"{k}={v}" for k, v in extra.items() if k in ("Join Type", "Conditions", "Groups",
                                                                         "Aggregates", "Table", "Function"))
        out.append((float(node.get("operator_timing", 0.0)), f"{name} {detail}"[:160],
                    int(node.get("operator_cardinality", 0)), depth))
    for child in node.get("children", []):
        out += operators(child, depth + 1)
    return out


def profile(con: duckdb.DuckDBPyConnection, sql: str, top: int = 6) -> tuple[float, list[tuple[float, str, int, int]]]:
    with tempfile.NamedTemporaryFile(suffix=".json") as fh:
        con.execute("pragma enable_profiling = 'json'")
        con.execute(f"pragma profiling_output = '{fh.name}'")
        started = time.perf_counter()
        con.execute(f"create or replace temp table profiled as {sql}")
        seconds = time.perf_counter() - started
        con.execute("pragma disable_profiling")
        tree = json.loads(Path(fh.name).read_text())
    return seconds, sorted(operators(tree), reverse=True)[:top]


def main() -> None:
    warehouse, target, *models = sys.argv[1:]
    compiled = {p.stem: p for p in Path(target, "compiled").rglob("*.sql")}
    con = duckdb.connect(warehouse, read_only=True)
    con.execute("set enable_progress_bar = false")
    for model in models:
        sql = compiled[model].read_text()
        seconds, top = profile(con, sql)
        print(f"\n### {model}: {seconds:.2f} s\n\n| operator | seconds | rows out |\n| --- | --- | --- |")
        for op_seconds, name, rows, _depth in top:
            print(f"| {name.replace('|', '/')} | {op_seconds:.2f} | {rows:,} |")


if __name__ == "__main__":
    main()
