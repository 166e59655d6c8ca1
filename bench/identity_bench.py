"""make bench: time each layer of the dbt build at several sizes, peak memory, a plain-Python union-find
baseline over the same raw files, and connected components on a 10,000-node chain.
Writes bench/results/identity.md."""

from __future__ import annotations

import argparse
import csv
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from orchestration.dbt_args import dbt_command
from orchestration.sample_data import generate

PROJECT = Path(__file__).resolve().parents[1]
DBT = str(Path(sys.executable).with_name("dbt"))
LAYERS = [
    ("staging (with seeds)", ["path:models/staging"]),
    ("identifiers", ["int_identifiers_observed", "int_identifiers_screened", "int_records_named"]),
    ("connected components", ["int_records_clustered_strong", "int_identifiers_decided", "int_records_clustered"]),
    ("ids and identity marts", ["int_person_ids_assigned", "path:models/marts/identity"]),
    ("profile traits", ["path:models/intermediate/profiles"]),
    ("segments, profiles, CRM and quality marts", ["segment_memberships", "segments", "customer_profiles",
                                                   "path:models/marts/crm", "path:models/marts/quality"]),
]


def dbt(raw: Path, db: Path, verb: str, select: list[str], vars: dict | None = None) -> float:
    env = dict(os.environ, CDP_RAW_DIR=str(raw), CDP_DUCKDB_PATH=str(db), DBT_PROFILES_DIR=str(PROJECT))
    cmd = [DBT, *dbt_command(verb, project_dir=str(PROJECT), select=select, vars=vars), "--quiet"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=PROJECT, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"dbt {verb} {select} failed:\n{proc.stdout[-3000:]}")
    return seconds


def union_find_baseline(raw: Path) -> tuple[float, int]:
    """The obvious Python approach: read the raw CSVs, normalise identifiers crudely, union records."""
    t = time.perf_counter()
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    digits = re.compile(r"\D")
    sources = {"crm_contacts": ("contact_id", {"email": "email", "phone": "phone", "crm": "contact_id"}),
               "shop_customers": ("customer_id", {"email": "email", "phone": "phone", "cust": "customer_id"}),
               "shop_orders": ("order_id", {"email": "email", "cust": "customer_id"}),
               "web_events": ("event_id", {"anon": "anonymous_id", "cust": "user_id", "email": "email"}),
               "support_tickets": ("ticket_id", {"email": "requester_email", "phone": "requester_phone"})}
    for name, (key, ids) in sources.items():
        with (raw / f"{name}.csv").open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                node = f"r|{name}|{row[key].strip()}"
                find(node)
                for kind, col in ids.items():
                    value = (row.get(col) or "").strip().lower()
                    if kind == "phone":
                        value = digits.sub("", value)[-9:]
                    if value and value not in ("n/a", "unknown", "test@test.com", "noreply@example.com"):
                        union(node, f"i|{kind}|{value}")
    persons = len({find(x) for x in parent if x.startswith("r|")})
    return time.perf_counter() - t, persons


def chain_rounds(n: int, workdir: Path) -> tuple[int, float]:
    db = workdir / "chain.duckdb"
    generate(10, 1, workdir)  # on-run-start registers the raw files, so a folder must exist
    with duckdb.connect(str(db)) as con:
        con.execute("create table bench_chain_edges as select 'n' || lpad(cast(i as varchar), 6, '0') as node_a, "
                    "'n' || lpad(cast(i + 1 as varchar), 6, '0') as node_b from range(?) t(i)", [n - 1])
    seconds = dbt(workdir, db, "run", ["bench_chain_components"], vars={"bench_chain": True})
    with duckdb.connect(str(db), read_only=True) as con:
        rounds, components = con.execute(
            "select max(converged_in_rounds), count(distinct component_id) from bench_chain_components").fetchone()
    assert components == 1
    return rounds, seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=os.environ.get("CDP_BENCH_SIZES", "10000,100000,1000000"))
    ns = parser.parse_args()
    sizes = [int(s) for s in ns.sizes.split(",")]
    lines = ["# Identity build benchmark", "",
             f"Command: `make bench` (python bench/identity_bench.py --sizes {ns.sizes}); 2 cores, DuckDB.", "",
             "| persons | raw rows | " + " | ".join(n for n, _ in LAYERS) + " | dbt tests | build total (s) | "
             "peak RSS of dbt (MB) | union-find baseline (s) | build / baseline |",
             "| " + " | ".join(["---"] * (len(LAYERS) + 7)) + " |"]
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            counts = generate(n, 1, tmp / "raw")
            db = tmp / "w.duckdb"
            seed_s = dbt(tmp / "raw", db, "seed", [])
            times = [dbt(tmp / "raw", db, "run", select) for _, select in LAYERS]
            times[0] += seed_s
            test_s = dbt(tmp / "raw", db, "test", [])
            peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            base_s, _ = union_find_baseline(tmp / "raw")
        total = sum(times)
        lines.append(f"| {n:,} | {sum(counts.values()):,} | " + " | ".join(f"{t:.1f}" for t in times)
                     + f" | {test_s:.1f} | {total:.1f} | {peak_mb:.0f} | {base_s:.1f} | {total / base_s:.2f} |")
        print(lines[-1], flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        rounds, seconds = chain_rounds(10_000, Path(tmp))
        print(f"chain: {rounds} rounds", flush=True)
    lines += ["", f"Connected components on a 10,000-node chain: converged in {rounds} rounds ({seconds:.1f} s "
              "including dbt start-up).", "",
              "Build times are dbt `run` per layer (each a separate dbt invocation, so each includes about 3 s of "
              "dbt start-up); the baseline is a single-threaded Python union-find with crude normalisation and "
              "no merge rules, profiles or quarantine, over the same raw CSVs."]
    out = Path(__file__).with_name("results")
    out.mkdir(exist_ok=True)
    (out / "identity.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
