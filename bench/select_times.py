"""Each model's compiled SELECT timed on its own, best of three in one DuckDB connection, on a copy of a warehouse
left by `bench/model_times.py`: per-model costs that the other users of a shared machine disturb less than one
`dbt run` (no other model runs beside it). The compiled SQL is the run's own (for an incremental model, its scoped
SELECT with that run's scope), read from `<work>/target_<label>/compiled`:
`python bench/select_times.py --work /tmp/inc-prof-bench --label thischange_day --db thischange.duckdb
--models int_profile_attributes_observed int_profile_attributes_survived`."""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import duckdb


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--label", required=True, help="the run whose compiled SQL is timed (target_<label>)")
    parser.add_argument("--db", required=True, help="the warehouse file in --work that the run left")
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--threads", type=int, default=2)
    ns = parser.parse_args()
    compiled = ns.work / f"target_{ns.label}" / "compiled"
    with tempfile.TemporaryDirectory() as tmp:
        # a copy keeps the file name: DuckDB names the catalog after it, and the compiled SQL refers to it
        db = Path(tmp) / ns.db
        shutil.copyfile(ns.work / ns.db, db)
        con = duckdb.connect(str(db))
        con.execute(f"set threads = {ns.threads}")
        total = 0.0
        print(f"| model | {ns.label}: best of 3 (s) |\n| --- | --- |")
        for model in ns.models:
            sql = next(compiled.rglob(f"{model}.sql")).read_text()
            times = []
            for _ in range(3):
                started = time.perf_counter()
                con.execute(f"create or replace temp table timed as {sql}")
                times.append(time.perf_counter() - started)
            total += min(times)
            print(f"| {model} | {min(times):.2f} |")
        print(f"| total | {total:.2f} |")


if __name__ == "__main__":
    main()
