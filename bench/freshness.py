"""Freshness: how long a delivered record takes to reach the CRM while `cdp serve` runs.

Generates a population in landing-folder form, builds and syncs it once (`cdp run`), then starts `cdp serve`
against the CRM sandbox and drops a delivery every --interval seconds for --minutes: new persons (CRM contacts,
shop accounts, orders, web events, tickets, consents) of about --records rows, each file renamed into its
landing folder in one step. For every new person whose email reaches HubSpot, the latency is the sandbox's
`createdAt` of the contact minus the moment its delivery landed. Then a refresh with no new data (`cdp run`
one day later) counts the contacts it rewrites, and a full build of the same files into a fresh warehouse is
compared with the served one (the same records grouped into the same persons, the same profile count).

    python bench/freshness.py --persons 10000 --minutes 5     # writes bench/results/freshness.md
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import requests

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from datagen.sample_data import RAW_FILES, generate  # noqa: E402
from sync.sandbox import start_sandbox  # noqa: E402

CDP = str(Path(sys.executable).with_name("cdp"))
EMAIL_COLUMNS = {"crm_contacts": "email", "shop_customers": "email"}


def to_landing(flat: Path, raw: Path, name: str) -> dict[str, int]:
    """Move each source file of `flat` into raw/<source>/<name>.csv (written aside, then renamed into place)."""
    rows = {}
    for source in RAW_FILES:
        src = flat / f"{source}.csv"
        if not src.exists():
            continue
        folder = raw / source
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}.partial"
        shutil.copyfile(src, tmp)
        os.replace(tmp, folder / f"{name}.csv")
        with src.open(encoding="utf-8") as fh:
            rows[source] = sum(1 for _ in fh) - 1
    return rows


def delivered_emails(flat: Path) -> set[str]:
    emails = set()
    for source, column in EMAIL_COLUMNS.items():
        with (flat / f"{source}.csv").open(newline="", encoding="utf-8") as fh:
            emails |= {(r[column] or "").strip().lower() for r in csv.DictReader(fh)}
    return {e for e in emails if "@" in e}


def hubspot_created(url: str) -> dict[str, float]:
    """email -> the moment the sandbox created its contact (epoch seconds)."""
    contacts = requests.get(f"{url}/_sandbox/hubspot", timeout=60).json()["contacts"]
    out = {}
    for c in contacts.values():
        email = (c["properties"].get("email") or "").lower()
        created = datetime.fromisoformat(c["createdAt"].replace("Z", "+00:00")).timestamp()
        out[email] = min(created, out.get(email, created))
    return out


def run(cmd: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=PROJECT, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[1:])} failed:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    return time.perf_counter() - started


def clusters(db: Path) -> set[frozenset[tuple[str, str]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("select person_id, source_name, source_record_id from person_records").fetchall()
    by_person: dict[str, set] = {}
    for person, source, record in rows:
        by_person.setdefault(person, set()).add((source, record))
    return {frozenset(v) for v in by_person.values()}


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--persons", type=int, default=10_000)
    ap.add_argument("--records", type=int, default=1_000, help="raw rows per delivery (about)")
    ap.add_argument("--interval", type=float, default=30.0, help="seconds between deliveries")
    ap.add_argument("--minutes", type=float, default=10.0, help="how long deliveries keep landing")
    ap.add_argument("--out", type=Path, default=PROJECT / "bench" / "results" / "freshness.md")
    ns = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="cdp-freshness-"))
    raw, state = work / "raw", work / "state"
    generate(ns.persons, 1, work / "initial")
    rows = to_landing(work / "initial", raw, "0000-initial")
    per_person = sum(rows.values()) / ns.persons
    sandbox = start_sandbox()
    env = {**os.environ, **sandbox.client_env(), "CDP_RAW_DIR": str(raw), "CDP_DUCKDB_PATH": str(work / "w.duckdb"),
           "CDP_STATE_DIR": str(state), "CDP_TARGET": "duckdb"}
    env.pop("CDP_AS_OF", None)
    serve = None
    try:
        initial_s = run([CDP, "run"], env)
        log_path = work / "serve.log"
        serve = subprocess.Popen([CDP, "serve", "--poll", "2"], env=env, cwd=PROJECT,
                                 stdout=log_path.open("w"), stderr=subprocess.STDOUT, start_new_session=True)
        landed: dict[str, float] = {}
        deliveries = int(ns.minutes * 60 // ns.interval)
        k = max(1, round(ns.records / per_person))
        started = time.monotonic()
        for i in range(1, deliveries + 1):
            flat = work / f"delivery-{i}"
            generate(k, 100 + i, flat, start_index=10_000_000 + i * k)
            emails = delivered_emails(flat)
            to_landing(flat, raw, f"{i:04d}-delivery")
            last_landed = time.time()
            landed.update((e, last_landed) for e in emails)
            time.sleep(max(0.0, started + i * ns.interval - time.monotonic()))
        # the last delivery is built by the first run that started after it landed
        deadline = time.monotonic() + 3600
        while not any(start >= last_landed - 1 for start, _s in serve_runs(log_path)):
            if time.monotonic() > deadline or serve.poll() is not None:
                raise SystemExit(f"cdp serve did not build the last delivery:\n{log_path.read_text()[-3000:]}")
            time.sleep(2)
        serve.send_signal(signal.SIGTERM)
        serve.wait(3600)
        serve = None
        created = hubspot_created(sandbox.url)
        latencies = sorted(created[e] - t for e, t in landed.items() if e in created)
        run_seconds = [s for _start, s in serve_runs(log_path)]

        contacts = len(created)
        before = sandbox.stats()
        refresh_env = {**env, "CDP_AS_OF": (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
        refresh_s = run([CDP, "run"], refresh_env)
        after = sandbox.stats()
        written = sum(after.get(key, 0) - before.get(key, 0) for key in ("hubspot_creates", "hubspot_updates"))

        full_env = {**env, "CDP_DUCKDB_PATH": str(work / "full.duckdb"), "CDP_STATE_DIR": str(work / "full-state")}
        full_s = run([CDP, "build"], full_env)
        equal = clusters(work / "w.duckdb") == clusters(work / "full.duckdb")
    finally:
        if serve is not None:
            serve.kill()
        sandbox.stop()

    load = os.getloadavg()[0]
    lines = [
        "# Freshness", "",
        f"`python bench/freshness.py --persons {ns.persons} --records {ns.records} --interval {ns.interval:g} "
        f"--minutes {ns.minutes:g}`, {datetime.now(UTC):%Y-%m-%d}, 2 cores, load average {load:.1f} at the end.", "",
        "| measure | value |", "| --- | --- |",
        f"| initial `cdp run` ({ns.persons:,} persons) | {initial_s:.0f} s |",
        f"| deliveries | {deliveries} of about {k * per_person:.0f} rows ({k} new persons) every {ns.interval:g} s |",
        f"| new persons' emails delivered / reached HubSpot | {len(landed):,} / {len(latencies):,} |",
        f"| landing to HubSpot create: p50 / p95 / max | {percentile(latencies, 50):.0f} s / "
        f"{percentile(latencies, 95):.0f} s / {latencies[-1]:.0f} s |" if latencies else "| latency | no contact arrived |",
        f"| serve runs / seconds each (min, median, max) | {len(run_seconds)} / {min(run_seconds):.0f}, "
        f"{statistics.median(run_seconds):.0f}, {max(run_seconds):.0f} |" if run_seconds else "| serve runs | none |",
        f"| refresh a day later, no new data: contacts written | {written:,} of {contacts:,} "
        f"({100 * written / max(contacts, 1):.1f}%), {refresh_s:.0f} s |",
        f"| full build of the same files: same persons | {'yes' if equal else '**no**'} ({full_s:.0f} s) |",
    ]
    ns.out.parent.mkdir(parents=True, exist_ok=True)
    ns.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)


RUN_LINE = re.compile(r"^(\S+Z) run \d+: .*; ([\d.]+) s; ")


def serve_runs(log_path: Path) -> list[tuple[float, float]]:
    """(start, seconds) of each run `cdp serve` logged: its line is written at the run's end."""
    out = []
    for line in log_path.read_text(encoding="utf-8").splitlines():
        if m := RUN_LINE.match(line):
            end = datetime.strptime(m[1], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
            out.append((end - float(m[2]), float(m[2])))
    return out


if __name__ == "__main__":
    main()
