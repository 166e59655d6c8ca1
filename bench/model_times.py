"""Per-model execution times of one full `dbt run` (from dbt's run_results.json), to measure a change model by
model: `python bench/model_times.py --persons 100000 --label after --compare before`. Raw files are generated
once per size and seed (under --work) and reused, so two labels compare the same data. With --from-db and
--select, only the selected models run (--full-refresh) on a copy of an earlier label's warehouse: a layer
compared back to back. The dbt process's CPU seconds are printed beside wall time: on a shared machine they
vary less with the other users' load than wall time does. With --day, a day of new data (`append_day`, 1%) is
appended to a copy of the raw files after the full run and the incremental run's model times are reported too
(label `<label>_day`): `python bench/model_times.py --persons 100000 --label after --day --compare before`."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from cdp.dbt_args import dbt_command
from datagen.sample_data import append_day, generate

PROJECT = Path(__file__).resolve().parents[1]
DBT = str(Path(sys.executable).with_name("dbt"))


def run(raw: Path, db: Path, target_path: Path, select: str | None = None,
        from_db: Path | None = None, keep_db: bool = False,
        project: Path = PROJECT) -> tuple[float, float, dict[str, float]]:
    """Seed and run into a fresh DuckDB file (or run the selected models on a copy of from_db, or with keep_db
    run again on the file as it is: an incremental run); the run's wall seconds, its CPU seconds (user + system
    of dbt and its threads) and each model's execution seconds. `project`: the checkout to build (another
    commit's, to compare back to back, bench/day_times.py)."""
    if not keep_db:
        db.unlink(missing_ok=True)
    if from_db is not None:
        shutil.copyfile(from_db, db)
    env = dict(os.environ, CDP_RAW_DIR=str(raw), CDP_DUCKDB_PATH=str(db), DBT_PROFILES_DIR=str(project),
               CDP_TARGET="duckdb")
    wall = cpu = 0.0
    for verb in ("run",) if from_db is not None or keep_db else ("seed", "run"):
        extra = ["--select", *select.split(), "--full-refresh"] if select and verb == "run" else []
        cmd = [DBT, *dbt_command(verb, project_dir=str(project)), *extra, "--quiet", "--target-path", str(target_path)]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        proc = subprocess.run(cmd, env=env, cwd=project, capture_output=True, text=True)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        if proc.returncode != 0:
            raise SystemExit(f"dbt {verb} failed:\n{proc.stdout[-3000:]}")
    results = json.loads((target_path / "run_results.json").read_text())["results"]
    return wall, cpu, {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/cdp_model_times"))
    parser.add_argument("--label", default="current")
    parser.add_argument("--compare", help="an earlier label to compare with")
    parser.add_argument("--select", help="dbt selection (space separated) to run on a copy of --from-db")
    parser.add_argument("--from-db", help="an earlier label whose warehouse the selected models run on")
    parser.add_argument("--day", action="store_true", help="then append a day of data and time the incremental run")
    ns = parser.parse_args()
    raw = ns.work / f"raw_{ns.persons}_{ns.seed}"
    if not (raw / "ground_truth.csv").exists():
        generate(ns.persons, ns.seed, raw)
    from_db = ns.work / f"{ns.from_db}.duckdb" if ns.from_db else None
    # a copy keeps the file name: DuckDB names the catalog after it, and the staging views refer to it
    db = ns.work / ns.label / from_db.name if from_db else ns.work / f"{ns.label}.duckdb"
    db.parent.mkdir(parents=True, exist_ok=True)
    if ns.day:
        # the day is appended to a copy, so the generated files stay the same for every label
        day_raw = ns.work / f"raw_{ns.label}_day"
        shutil.rmtree(day_raw, ignore_errors=True)
        shutil.copytree(raw, day_raw)
        raw = day_raw
    wall, cpu, times = run(raw, db, ns.work / f"target_{ns.label}", ns.select, from_db)
    (ns.work / f"{ns.label}.json").write_text(json.dumps({"wall": wall, "cpu": cpu, "models": times}, indent=1))
    report(ns.work, ns.label, ns.compare, wall, cpu, times)
    if ns.day:
        append_day(raw, 2, 0.01, start_index=10 * ns.persons)
        wall, cpu, times = run(raw, db, ns.work / f"target_{ns.label}_day", keep_db=True)
        (ns.work / f"{ns.label}_day.json").write_text(json.dumps({"wall": wall, "cpu": cpu, "models": times}, indent=1))
        report(ns.work, f"{ns.label}_day", f"{ns.compare}_day" if ns.compare else None, wall, cpu, times)


def report(work: Path, label: str, compare: str | None, wall: float, cpu: float, times: dict[str, float]) -> None:
    """A markdown table of each model's seconds, beside an earlier label's when asked."""
    before = json.loads((work / f"{compare}.json").read_text()) if compare else None
    print(f"| model | {compare + ' (s) | ' if before else ''}{label} (s) |")
    print(f"| --- | {'--- | ' if before else ''}--- |")
    for name, seconds in sorted(times.items(), key=lambda kv: -kv[1]):
        old = f"{before['models'].get(name, 0):.2f} | " if before else ""
        print(f"| {name} | {old}{seconds:.2f} |")
    old_wall = f"{before['wall']:.1f} | " if before else ""
    print(f"| dbt run wall | {old_wall}{wall:.1f} |")
    old_cpu = f"{before.get('cpu', float('nan')):.1f} | " if before else ""
    print(f"| dbt run CPU seconds | {old_cpu}{cpu:.1f} |")
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
