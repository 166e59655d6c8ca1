"""Sync throughput against the local CRM sandbox (make bench-sync).

1. no limit: client-side records/s with rate limiting off (sandbox and client);
   then every record changes and a second run sends them as batch/update by the remembered contact id;
2. HubSpot limit: the sandbox enforces 190 requests per rolling 10 s (the ceiling is 1,900 records/s at
   100 inputs per request); the client runs with its configured rate (sync/syncs.yml) and we report
   the share of the ceiling reached and how many 429s it got.
Writes bench/results/sync.md."""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import duckdb

from sync.config import load_syncs
from sync.destinations import make_destination
from sync.engine import run_sync
from sync.sandbox import start_sandbox


def make_warehouse(path: Path, n: int) -> None:
    rng = random.Random(1)
    with duckdb.connect(str(path)) as con:
        con.execute("""create table sync_hubspot__contacts as
            select 'per_' || i as person_id, 'person' || i || '@mail.com' as email, 'First' || i as first_name,
                   'Last' || i as last_name, '+1415555' || lpad(cast(i % 10000 as varchar), 4, '0') as phone,
                   'Boston' as city, 'US' as country, 'Acme' as company, 'Buyer' as job_title,
                   cast(round(random() * 1000, 2) as decimal(18,2)) as lifetime_value,
                   cast(i % 7 as bigint) as order_count, 'subscribed' as email_consent, 'high_value' as segments
            from range(?) t(i)""", [n])
    del rng


def bench(n: int, rate: float, sandbox_limit: int, update_pass: bool = False) -> dict:
    sb = start_sandbox()
    try:
        sb.configure(hubspot_limit=sandbox_limit)
        os.environ.update(sb.client_env())
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "w.duckdb"
            make_warehouse(db, n)
            cfg = replace(load_syncs()["hubspot_contacts"], rate_limit=rate)
            t = time.perf_counter()
            summary = run_sync(cfg, db, make_destination)
            seconds = time.perf_counter() - t
            assert summary.succeeded == n, summary
            update = None
            if update_pass:
                with duckdb.connect(str(db)) as con:
                    con.execute("update sync_hubspot__contacts set first_name = first_name || 'x'")
                t = time.perf_counter()
                second = run_sync(cfg, db, make_destination)
                took = time.perf_counter() - t
                assert second.succeeded == n and second.updated == n, second
                update = {"records": n, "seconds": round(took, 2), "records_per_s": round(n / took),
                          "requests": second.requests, "http_429": 0, "retries": second.retries}
        stats = sb.stats()
    finally:
        sb.stop()
    return {"records": n, "seconds": round(seconds, 2), "records_per_s": round(n / seconds),
            "requests": summary.requests, "http_429": stats["hubspot_rate_limited"], "retries": summary.retries,
            "update": update}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--limited-records", type=int, default=30_000)
    ns = parser.parse_args()
    configured = load_syncs()["hubspot_contacts"].rate_limit
    free = bench(ns.records, rate=0, sandbox_limit=0, update_pass=True)
    upd = free["update"]
    limited = bench(ns.limited_records, rate=configured, sandbox_limit=190)
    ceiling = 1900
    share = limited["records_per_s"] / ceiling
    lines = [
        "# Sync benchmark (hubspot_contacts against the local sandbox)",
        "",
        f"Command: `make bench-sync` (python bench/sync_bench.py --records {ns.records} "
        f"--limited-records {ns.limited_records}), 2 cores.",
        "",
        "| case | records | seconds | records/s | requests | HTTP 429 | retries |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| no rate limit | {free['records']} | {free['seconds']} | {free['records_per_s']} | {free['requests']} | "
        f"{free['http_429']} | {free['retries']} |",
        f"| no rate limit, every record changed (batch/update by id) | {upd['records']} | {upd['seconds']} | "
        f"{upd['records_per_s']} | {upd['requests']} | {upd['http_429']} | {upd['retries']} |",
        f"| HubSpot limit 190 req/10 s, client {configured} req/s | {limited['records']} | {limited['seconds']} | "
        f"{limited['records_per_s']} | {limited['requests']} | {limited['http_429']} | {limited['retries']} |",
        "",
        f"Targets: at least 5,000 records/s without a limit: {'met' if free['records_per_s'] >= 5000 else 'NOT met'} "
        f"({free['records_per_s']}). With the limit, at least 90% of the 1,900 records/s ceiling with no 429 storm: "
        f"{share:.0%} of the ceiling, {limited['http_429']} responses with 429: "
        f"{'met' if share >= 0.9 and limited['http_429'] <= 2 else 'NOT met'}.",
    ]
    out = Path(__file__).with_name("results")
    out.mkdir(exist_ok=True)
    (out / "sync.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
