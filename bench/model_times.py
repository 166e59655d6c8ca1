"""Per-model execution times of one full `dbt run` (from dbt's run_results.json), to measure a change model by
model: `python bench/model_times.py --persons 100000 --label after --compare before`. Raw files are generated
once per size and seed (under --work) and reused, so two labels compare the same data."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from cdp.dbt_args import dbt_command
from datagen.sample_data import generate

PROJECT = Path(__file__).resolve().parents[1]
DBT = str(Path(sys.executable).with_name("dbt"))


def run(raw: Path, db: Path, target_path: Path) -> tuple[float, dict[str, float]]:
    """Seed and run into a fresh DuckDB file; the run's wall seconds and each model's execution seconds."""
    db.unlink(missing_ok=True)
    env = dict(os.environ, CDP_RAW_DIR=str(raw), CDP_DUCKDB_PATH=str(db), DBT_PROFILES_DIR=str(PROJECT),
               CDP_TARGET="duckdb")
    wall = 0.0
    for verb in ("seed", "run"):
        cmd = [DBT, *dbt_command(verb, project_dir=str(PROJECT)), "--quiet", "--target-path", str(target_path)]
        started = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=PROJECT, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            raise SystemExit(f"dbt {verb} failed:\n{proc.stdout[-3000:]}")
    results = json.loads((target_path / "run_results.json").read_text())["results"]
    return wall, {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/cdp_model_times"))
    parser.add_argument("--label", default="current")
    parser.add_argument("--compare", help="an earlier label to compare with")
    ns = parser.parse_args()
    raw = ns.work / f"raw_{ns.persons}_{ns.seed}"
    if not (raw / "ground_truth.csv").exists():
        generate(ns.persons, ns.seed, raw)
    wall, times = run(raw, ns.work / f"{ns.label}.duckdb", ns.work / f"target_{ns.label}")
    (ns.work / f"{ns.label}.json").write_text(json.dumps({"wall": wall, "models": times}, indent=1))
    before = json.loads((ns.work / f"{ns.compare}.json").read_text()) if ns.compare else None
    print(f"| model | {ns.compare + ' (s) | ' if before else ''}{ns.label} (s) |")
    print(f"| --- | {'--- | ' if before else ''}--- |")
    for name, seconds in sorted(times.items(), key=lambda kv: -kv[1]):
        old = f"{before['models'].get(name, 0):.2f} | " if before else ""
        print(f"| {name} | {old}{seconds:.2f} |")
    old_wall = f"{before['wall']:.1f} | " if before else ""
    print(f"| dbt run wall | {old_wall}{wall:.1f} |")


if __name__ == "__main__":
    main()
