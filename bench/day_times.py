"""Per-model times of a full `dbt run` and of the incremental run after a day of new data, at one size:
`python bench/day_times.py --persons 100000 --label after [--compare before]`. Generates the raw files once
per size (seed 1, under --work), copies them per label, seeds and runs, appends a day (append_day: about 1% new
or changed records), runs again, and prints both runs' times per model from dbt's run_results.json, with the
identity layer summed (docs/incremental.md). --project runs another checkout of the project (an
earlier commit, extracted with `git archive`) with this environment's dbt, to compare back to back."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from datagen.sample_data import append_day, generate
from model_times import PROJECT, run  # the timed dbt run of bench/model_times.py (this folder)
IDENTITY = ["int_identity_scope_records", "int_identity_scope_old_values", "int_identifiers_observed",
            "int_records_named", "int_identity_scope_values", "int_identifiers_screened", "int_records_clustered_strong",
            "int_identifiers_decided", "int_records_clustered", "int_identity_scope_resolved", "int_records_resolved",
            "int_person_ids_assigned", "int_identity_scope_person_records", "person_records", "int_identity_scope_graph",
            "identity_graph", "identity_merge_rule_drops", "person_id_history"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=Path("/tmp/cdp_day_times"))
    parser.add_argument("--label", default="current")
    parser.add_argument("--compare", help="an earlier label to print beside this one")
    parser.add_argument("--project", type=Path, default=PROJECT, help="the project checkout to build")
    ns = parser.parse_args()
    base = ns.work / f"raw_{ns.persons}"
    if not (base / "ground_truth.csv").exists():
        generate(ns.persons, 1, base)
    raw = ns.work / ns.label / "raw"
    shutil.rmtree(raw, ignore_errors=True)
    shutil.copytree(base, raw)
    db = ns.work / ns.label / "w.duckdb"
    db.unlink(missing_ok=True)
    target = ns.work / ns.label / "target"
    full_wall, full_cpu, full = run(raw, db, target, project=ns.project)
    append_day(raw, 2, 0.01, start_index=10 * ns.persons)
    day_wall, day_cpu, day = run(raw, db, target, keep_db=True, project=ns.project)
    measured = {"full": full, "day": day, "full_wall": full_wall, "day_wall": day_wall, "full_cpu": full_cpu,
                "day_cpu": day_cpu}
    (ns.work / f"{ns.label}.json").write_text(json.dumps(measured, indent=1))
    labels = [ns.compare, ns.label] if ns.compare else [ns.label]
    runs = [json.loads((ns.work / f"{label}.json").read_text()) for label in labels]
    print("| model | " + " | ".join(f"{label} full (s) | {label} day (s)" for label in labels) + " |")
    print("| --- |" + " --- | --- |" * len(labels))
    for name in IDENTITY:
        print(f"| {name} | " + " | ".join(f"{r['full'][name]:.2f} | {r['day'][name]:.2f}" if name in r["full"]
                                         else "- | -" for r in runs) + " |")
    print("| identity layer, summed | " + " | ".join(
        f"{sum(r['full'].get(n, 0) for n in IDENTITY):.2f} | {sum(r['day'].get(n, 0) for n in IDENTITY):.2f}"
        for r in runs) + " |")
    print("| dbt run wall | " + " | ".join(f"{r['full_wall']:.1f} | {r['day_wall']:.1f}" for r in runs) + " |")
    print("| dbt run CPU | " + " | ".join(f"{r['full_cpu']:.1f} | {r['day_cpu']:.1f}" for r in runs) + " |")


if __name__ == "__main__":
    main()
