"""The raw contract's worst cases through a whole `cdp run` (what `make run` calls), on a few hundred generated
persons with their own state and raw folders: lines with more fields than the header far beyond any sampling
window, a 10 MB field, a NUL byte, timestamps dated 9999 and 1066, a key-less row with placeholder identifiers,
21,000 byte-identical duplicates, CRLF line ends and a byte-order mark, a quoted newline. Every raw row is
accounted for in source_row_counts; no planted personal value reaches a log, dbt's logs and run_results, or the
Dagster event log; and the marts equal a build of the same folder without the bad rows. A file with a duplicate
header stops the run before dbt with one line that names it."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from datagen.sample_data import RAW_FILES, generate
from sync.sandbox import start_sandbox
from tests.compare import clusters, comparable, differences, person_keys_view
from tests.conftest import PROJECT_DIR, dbt

BIN = Path(sys.executable).parent
# personal values that only the bad rows carry: none may be written anywhere but the warehouse's quarantine
SECRETS = {"wide": "wendy.wide@planted.example", "huge": "harry.huge@planted.example",
           "nul": "nina.nul@planted.example", "future": "fred.future@planted.example",
           "past": "paula.past@planted.example", "phone": "+44 7700 900123", "name": "Plantagenet"}
# marts compared with the clean build, with the column naming a person (None: no person column)
MARTS = {"customer_profiles": "person_id", "customer_predictions": "person_id", "segment_memberships": "person_id",
         "identity_graph": "person_id", "predictive_model_parameters": None}
BUILD_COLUMNS = ("model_fitted_at",)  # the time of the fit


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _records(path: Path) -> int:
    """Raw rows of a CSV as RFC 4180 counts them (a quoted newline is inside its row), the header excluded."""
    csv.field_size_limit(1 << 30)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return sum(1 for _ in csv.reader(fh)) - 1


def _plant(clean: Path, bad: Path) -> None:
    """The bad folder: the clean one plus the worst rows, in CRLF with a BOM where it matters."""
    shutil.copytree(clean, bad)
    orders = _lines(bad / "shop_orders.csv")
    header = orders[0].rstrip("\n").split(",")
    paid = next(line.rstrip("\n").split(",") for line in orders[1:] if ",paid," in line and line.split(",")[1])
    planted = []
    for key, when in (("future", "9999-12-31T23:59:59Z"), ("past", "1066-10-14")):
        row = dict(zip(header, paid, strict=True))
        planted.append({**row, "order_id": f"O-{key}", "email": SECRETS[key], "ordered_at": when})
    text = "".join(orders) + "".join(",".join(r[c] for c in header) + "\n" for r in planted)
    (bad / "shop_orders.csv").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))

    events = _lines(bad / "web_events.csv")
    copies = [events[1]] * 21_000  # byte-identical duplicates, and a window far larger than a sniffer's sample
    wide = f"E-wide,anon-wide,,{SECRETS['wide']},track,click,/x,2025-01-01T00:00:00Z,{SECRETS['phone']},extra\n"
    huge = f"E-huge,anon-huge,,{SECRETS['huge']},track,{'x' * (10 << 20)},/x,2025-01-01T00:00:00Z\n"
    (bad / "web_events.csv").write_text("".join(events + copies) + wide + huge + events[1], encoding="utf-8")

    contacts = (bad / "crm_contacts.csv").read_text(encoding="utf-8")
    nul = f"C-nul,{SECRETS['nul']},{SECRETS['phone']},Nina\x00,{SECRETS['name']},,,London,UK,lead,2025-01-01,2025-01-02\n"
    placeholder = f",test@test.com,0000000000,{SECRETS['name']},,,,,,,2025-01-01,2025-01-01\n"
    (bad / "crm_contacts.csv").write_text(contacts + nul + placeholder, encoding="utf-8")


def _with_quoted_newline(raw: Path) -> None:
    """A ticket subject across two lines, quoted: a valid row in both folders, which must still parse."""
    path = raw / "support_tickets.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    rows[1][RAW_FILES["support_tickets"].index("subject")] = "Refund\nplease"
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def _files_with_secrets(roots: list[Path], since: float) -> list[str]:
    """Files under the roots (written since the test began) holding a planted value; warehouse files excepted."""
    found = []
    needles = [s.encode() for s in SECRETS.values()]
    for root in roots:
        for path in (p for p in root.rglob("*") if p.is_file()):
            if path.suffix in (".duckdb", ".wal") or path.stat().st_mtime < since:
                continue
            data = path.read_bytes()
            found += [f"{path}: {n.decode()}" for n in needles if n in data]
    return found


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A clean dbt build, and a whole `cdp run` of the same folder with the bad rows planted."""
    root = tmp_path_factory.mktemp("adversarial")
    generate(300, 17, root / "clean")
    _with_quoted_newline(root / "clean")
    _plant(root / "clean", root / "bad")
    started = time.time() - 1
    dbt(root / "clean", root / "clean.duckdb", "build", "--exclude-resource-type", "unit_test")
    state = root / "state"
    env = dict(os.environ, CDP_RAW_DIR=str(root / "bad"), CDP_DUCKDB_PATH=str(state / "warehouse.duckdb"),
               CDP_STATE_DIR=str(state), DAGSTER_HOME=str(state / "dagster"))
    sandbox = start_sandbox()
    try:
        proc = subprocess.run([str(BIN / "cdp"), "run"], env={**env, **sandbox.client_env()}, capture_output=True,
                              text=True, cwd=PROJECT_DIR, timeout=1200)
    finally:
        sandbox.stop()
    return root, state, proc, started


def test_the_run_succeeds_and_every_raw_row_is_accounted_for(runs):
    root, state, proc, _ = runs
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    with duckdb.connect(str(state / "warehouse.duckdb"), read_only=True) as con:
        counts = dict(con.execute("select source_name, rows_loaded from source_row_counts").fetchall())
        reasons = con.execute("select source_name, quarantine_reason, count(*) from quarantine "
                              "group by all").fetchall()
        planted = dict(con.execute("select source_record_id, quarantine_reason from quarantine where source_record_id "
                                   "in ('O-future', 'O-past', 'C-nul')").fetchall())
        duplicates = con.execute("select rows_duplicate from source_row_counts where source_name = 'web_events'").fetchone()
        subject = con.execute("select count(*) from stg_support__tickets where subject = 'Refund\nplease'").fetchone()
    for name in RAW_FILES:
        assert counts[name] == _records(root / "bad" / f"{name}.csv"), name
    reasons = {(s, r): n for s, r, n in reasons}
    assert reasons[("web_events", "malformed_line_too_many_columns")] == 1
    assert reasons[("web_events", "malformed_line_line_size_over_maximum")] == 1
    assert planted == {"O-future": "out_of_range_ordered_at", "O-past": "out_of_range_ordered_at", "C-nul": "nul_byte"}
    assert duplicates[0] >= 21_001
    assert subject == (1,)


def test_nothing_personal_in_any_log(runs):
    _, state, proc, started = runs
    output = proc.stdout + proc.stderr
    assert not [s for s in SECRETS.values() if s in output]
    roots = [state, PROJECT_DIR / "logs", PROJECT_DIR / "target"]
    assert _files_with_secrets(roots, started) == []
    assert any((state / "dagster").rglob("*.db")), "the Dagster event log was scanned"


def test_the_marts_equal_a_build_without_the_bad_rows(runs):
    root, state, _, _ = runs
    con = duckdb.connect()
    con.execute(f"attach '{root / 'clean.duckdb'}' as clean (read_only)")
    con.execute(f"attach '{state / 'warehouse.duckdb'}' as bad (read_only)")
    for name in ("clean", "bad"):
        for table in ("person_records", *MARTS):
            con.execute(f"create view {name}_{table} as select * from {name}.main.{table}")
        person_keys_view(con, name)
    assert differences(con, clusters("clean"), clusters("bad")) == []
    for table, person in MARTS.items():
        clean, bad = (comparable(con, f"{name}_{table}", person_column=person, prefix=name, exclude=BUILD_COLUMNS)
                      for name in ("clean", "bad"))
        assert con.execute(f"select count(*) from ({clean})").fetchone()[0] > 0, table
        assert differences(con, clean, bad) == [], table


def test_a_duplicate_header_stops_the_run_with_one_line(tmp_path):
    generate(50, 3, tmp_path / "raw")
    path = tmp_path / "raw" / "email_consents.csv"
    lines = _lines(path)
    path.write_text(lines[0].replace("email,", "email,email,", 1) + "".join(
        line.replace(",", f",{SECRETS['wide']},", 1) for line in lines[1:]), encoding="utf-8")
    env = dict(os.environ, CDP_RAW_DIR=str(tmp_path / "raw"), CDP_STATE_DIR=str(tmp_path / "state"),
               CDP_DUCKDB_PATH=str(tmp_path / "state" / "w.duckdb"))
    proc = subprocess.run([str(BIN / "cdp"), "run"], env=env, capture_output=True, text=True, cwd=PROJECT_DIR,
                          timeout=300)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"raw data in {tmp_path / 'raw'}: email_consents.csv: the header names column(s) email more than once"]
    assert not (tmp_path / "state" / "w.duckdb").exists()
