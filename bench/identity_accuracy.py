"""make bench-identity: pair precision, recall and F1 of identity resolution.

- FEBRL3 (deduplication) and FEBRL4 (linkage) fed through the raw contract (CRM contacts; FEBRL4's second file as
  shop accounts) and built with dbt at the default thresholds: the warehouse sees name, city and country only.
- The same FEBRL files given straight to the tier's matcher with every field they have (date of birth, postcode,
  address, national id): what the Splink settings reach when those attributes exist.
- Generated persons with ground truth (datagen): named records (CRM contacts, shop accounts, tickets), the
  deterministic graph alone against the graph with the probabilistic tier.
Writes nothing but a temporary folder; prints one table."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import yaml

from cdp.dbt_args import dbt_command
from datagen import febrl
from cdp.identity_accuracy import score_splink_direct
from datagen.evaluation import PairwiseScore, f1, score_named_records, score_person_records
from datagen.sample_data import generate

PROJECT = Path(__file__).resolve().parents[1]


def default_threshold() -> float:
    return float(yaml.safe_load((PROJECT / "dbt_project.yml").read_text())["vars"]["auto_merge_threshold"])


def build(raw: Path, db: Path, tier: bool = True) -> float:
    env = dict(os.environ, CDP_RAW_DIR=str(raw), CDP_DUCKDB_PATH=str(db), DBT_PROFILES_DIR=str(PROJECT),
               CDP_TARGET="duckdb")
    started = time.perf_counter()
    for verb in ("seed", "run"):
        cmd = [str(Path(sys.executable).with_name("dbt")),
               *dbt_command(verb, project_dir=str(PROJECT), vars={"identity_probabilistic_tier": tier}), "--quiet",
               "--target-path", str(db.parent / "target"), "--log-path", str(db.parent / "logs")]
        proc = subprocess.run(cmd, env=env, cwd=PROJECT, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"dbt {verb} failed:\n{proc.stdout[-3000:]}")
    return time.perf_counter() - started


def line(label: str, score: PairwiseScore, seconds: float) -> str:
    return (f"| {label} | {score.records} | {score.precision:.4f} | {score.recall:.4f} | {f1(score):.4f} "
            f"| {seconds:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=2000, help="generated persons (default 2000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-contract", action="store_true", help="skip the FEBRL builds through dbt")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    threshold = default_threshold()
    rows = [f"auto_merge_threshold {threshold} (dbt_project.yml)", "",
            "| data | records | precision | recall | F1 | seconds |", "| --- | --- | --- | --- | --- | --- |"]
    with tempfile.TemporaryDirectory(prefix="cdp-identity-accuracy-") as tmp:
        for which in ("febrl3", "febrl4"):
            frames = febrl.dataset(which)
            started = time.perf_counter()
            direct = score_splink_direct(pd.concat(frames.values(), ignore_index=True), threshold)
            rows.append(line(f"{which}, matcher with every FEBRL field", direct, time.perf_counter() - started))
            if not args.skip_contract:
                raw, db = Path(tmp) / which / "raw", Path(tmp) / which / "warehouse.duckdb"
                truth = febrl.write_raw(which, raw)
                seconds = build(raw, db)
                rows.append(line(f"{which}, through the raw contract (dbt run)", score_person_records(db, truth),
                                 seconds))
        raw, db = Path(tmp) / "generated" / "raw", Path(tmp) / "generated" / "warehouse.duckdb"
        generate(args.persons, args.seed, raw)
        seconds = build(raw, db)
        named = score_named_records(db, raw)
        rows.append(line(f"generated {args.persons} persons, named records, deterministic graph", named.deterministic,
                         seconds))
        rows.append(line(f"generated {args.persons} persons, named records, with the probabilistic tier",
                         named.final, seconds))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
