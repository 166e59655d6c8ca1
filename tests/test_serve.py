"""Continuous mode (docs/continuous.md): `cdp serve` as a real process on a generated raw folder in landing-folder
form, with a real DuckDB file and the syncs going to the CRM sandbox over loopback; the Dagster sensor
`raw_deliveries_sensor` evaluated on real folders; and the privacy request helpers that see landing folders."""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb

from cdp.first_erasure import requested_erasures
from cdp.landing import source_files
from cdp.privacy_cli import COLUMNS, append_request
from cdp.registry import load_registry
from cdp.serve import hold_serve_lock, raw_entries, signature
from datagen.sample_data import generate
from orchestration.automation import raw_deliveries_sensor, raw_signature
from orchestration.resources import WarehouseResource
from sync.sandbox import start_sandbox
from tests.sync_support import by_person

PROJECT_DIR = Path(__file__).resolve().parents[1]
ORDER_HEADER = ["order_id", "customer_id", "email", "status", "currency", "total_amount", "ordered_at"]


def _landing_raw(root: Path, persons: int = 60) -> Path:
    """A generated raw folder where crm_contacts and shop_orders are landing folders of one delivery each."""
    raw = root / "raw"
    generate(persons, 7, raw)
    for name in ("crm_contacts", "shop_orders"):
        (raw / name).mkdir()
        (raw / f"{name}.csv").rename(raw / name / "0001.csv")
    return raw


def _land(path: Path, rows: list[list[str]], header: list[str] = ORDER_HEADER) -> None:
    """A delivery appears whole: written under another name, then renamed into the folder."""
    partial = path.with_name(path.name + ".partial")
    with partial.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(partial, path)


def _sensor_tick(raw: Path, db: Path, cursor: str | None):
    context = dg.build_sensor_context(cursor=cursor, resources={"warehouse": WarehouseResource(
        duckdb_path=str(db), raw_dir=str(raw), state_dir=str(raw.parent / "state"))})
    return raw_deliveries_sensor.evaluate_tick(context)


def test_the_sensor_requests_one_run_per_new_set_of_deliveries(tmp_path):
    # on in `make ui` from the start, and quick enough for a delivery to reach the CRM within a minute
    assert raw_deliveries_sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert raw_deliveries_sensor.minimum_interval_seconds <= 10
    raw = _landing_raw(tmp_path)
    db = tmp_path / "warehouse.duckdb"
    first = _sensor_tick(raw, db, None)
    assert [r.run_key for r in first.run_requests] == [first.cursor]
    # the run key is the same in another process (a daemon restart must not start the same deliveries again)
    other = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; from orchestration.automation "
                            "import raw_signature; print(raw_signature(Path(sys.argv[1])))", str(raw)],
                           capture_output=True, text=True, check=True, cwd=PROJECT_DIR)
    assert other.stdout.strip() == first.cursor == raw_signature(raw)

    again = _sensor_tick(raw, db, first.cursor)
    assert again.run_requests == [] and again.skip_message == "no new deliveries"
    # files that are not deliveries do not count: a delivery still being written, the generator's ground truth
    (raw / "shop_orders" / "0002.csv.partial").write_text("order_id\n", encoding="utf-8")
    (raw / "ground_truth.csv").write_text("changed\n", encoding="utf-8")
    assert _sensor_tick(raw, db, first.cursor).run_requests == []

    with duckdb.connect() as con:  # a Parquet delivery (every column a string) counts
        con.execute(f"copy (select 'O-parquet-1' as order_id, '' as customer_id, 'a@example.com' as email, 'paid' "
                    f"as status, 'EUR' as currency, '10.00' as total_amount, '2026-01-01' as ordered_at) "
                    f"to '{raw / 'shop_orders' / '0002.parquet'}' (format parquet)")
    parquet = _sensor_tick(raw, db, first.cursor)
    assert [r.run_key for r in parquet.run_requests] == [parquet.cursor] and parquet.cursor != first.cursor
    # a landing folder's new CSV delivery and a changed top-level file count too
    _land(raw / "crm_contacts" / "0002.csv", [], header=load_registry()["crm_contacts"].raw_columns)
    delivered = _sensor_tick(raw, db, parquet.cursor)
    assert len(delivered.run_requests) == 1 and delivered.cursor != parquet.cursor
    with (raw / "web_events.csv").open("a", encoding="utf-8") as fh:
        fh.write("\n")
    assert len(_sensor_tick(raw, db, delivered.cursor).run_requests) == 1


def test_the_sensor_first_look_skips_files_the_warehouse_has_read(tmp_path):
    """A new daemon's first tick starts no run when the ledger raw.raw_deliveries holds every file as it is."""
    raw = _landing_raw(tmp_path)
    db = tmp_path / "warehouse.duckdb"
    entries = raw_entries(raw)
    with duckdb.connect(str(db)) as con:
        con.execute("create schema raw")
        con.execute("create table raw.raw_deliveries (source_name varchar, file_name varchar, file_size bigint, "
                    "modified_at timestamp, content_hash varchar, status varchar, header varchar, rows_read bigint, "
                    "registered_at timestamp)")
        for name, (size, mtime_ns) in entries.items():
            con.execute("insert into raw.raw_deliveries values (?, ?, ?, make_timestamp(? // 1000000 * 1000000), "
                        "null, 'read', null, 0, now())", [name.split("/")[0], name, size, mtime_ns // 1000])
    first = _sensor_tick(raw, db, None)
    assert first.run_requests == [] and first.cursor == signature(entries)
    _land(raw / "shop_orders" / "0002.csv", [])
    assert len(_sensor_tick(raw, db, first.cursor).run_requests) == 1


def _privacy_landing(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    (raw / "privacy_requests").mkdir(parents=True)
    _land(raw / "privacy_requests" / "0001.csv", [["r1", "erasure", "a@example.com", "", "2026-01-01"],
                                                  ["r2", "suppression", "b@example.com", "", "2026-01-01"]],
          header=COLUMNS)
    return raw


def test_erasure_requests_in_a_landing_folder_are_counted(tmp_path):
    """The first build of a new warehouse builds the identity graph first when erasures are requested: requests
    in CSV and Parquet deliveries count (a count of 0 would let a first erasure miss the person's other records)."""
    raw = _privacy_landing(tmp_path)
    with duckdb.connect() as con:
        con.execute(f"copy (select 'r3' as request_id, ' Erasure ' as request_type, '' as email, '+442079460958' "
                    f"as phone, '2026-01-02' as received_at) to '{raw / 'privacy_requests' / '0002.parquet'}' "
                    "(format parquet)")
    assert requested_erasures(raw) == 2


def test_a_request_filed_on_a_landing_folder_lands_as_a_delivery(tmp_path):
    """A privacy_requests.csv beside the folder would make the source both a file and a folder (refused)."""
    raw = _privacy_landing(tmp_path)
    append_request(raw, "erasure", "c@example.com", None, "r9")
    assert not (raw / "privacy_requests.csv").exists()
    found = source_files(raw, load_registry()["privacy_requests"])
    assert found.form == "folder" and len(found.files) == 2
    with found.files[-1].open(newline="", encoding="utf-8") as fh:
        assert [row["request_id"] for row in csv.DictReader(fh)] == ["r9"]
    assert not list((raw / "privacy_requests").glob("*.partial"))
    assert requested_erasures(raw) == 2
    plain = tmp_path / "plain"  # with no landing folder the request is appended to the file, as before
    append_request(plain, "suppression", None, "+442079460958", "r10")
    assert [p.name for p in plain.iterdir()] == ["privacy_requests.csv"]


# ---------------------------------------------------------------------------------------------------------------
# `cdp serve` end to end: three runs of the real pipeline (28 minutes in all on a 2-core machine shared at load 15)


class Serve:
    """`cdp serve` in a child process; its log lines collected as they come."""

    def __init__(self, env: dict[str, str], out: Path) -> None:
        self.out = out
        self.proc = subprocess.Popen([sys.executable, "-m", "cdp.cli", "serve", "--poll", "1"], cwd=PROJECT_DIR,
                                     env=env, stdout=out.open("a"), stderr=subprocess.STDOUT)

    def lines(self) -> list[str]:
        return self.out.read_text(encoding="utf-8").splitlines()

    def run_lines(self) -> list[str]:
        return [line for line in self.lines() if " run " in line and "; output " in line]


def _wait(what: str, condition, timeout: float = 900):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _run_log_has(state: Path, run: int, text: str) -> bool:
    logs = sorted((state / "logs").glob(f"serve-*-run{run}.log"))
    return bool(logs) and text in logs[-1].read_text(encoding="utf-8", errors="replace")


def _order(order_id: str, template: list[str]) -> list[str]:
    return [order_id, *template[1:3], "paid", template[4], "42.00", template[6]]


def test_serve_takes_deliveries_that_land_mid_run_and_survives_sigterm_and_restart(tmp_path):
    raw = _landing_raw(tmp_path, persons=150)
    state, db = tmp_path / "state", tmp_path / "state" / "warehouse.duckdb"
    with (raw / "shop_orders" / "0001.csv").open(newline="", encoding="utf-8") as fh:
        template = next(r for r in list(csv.reader(fh))[1:]
                        if r[1].strip() and re.fullmatch(r"[a-z0-9.]+@[a-z0-9.]+\.[a-z]+", r[2]) and r[3] == "paid")
    sandbox = start_sandbox()
    env = {**os.environ, **sandbox.client_env(), "CDP_RAW_DIR": str(raw), "CDP_STATE_DIR": str(state),
           "CDP_DUCKDB_PATH": str(db)}
    out = tmp_path / "serve.out"
    try:
        serve = Serve(env, out)
        # run 1 builds the first deliveries; D1 lands after its dbt builds are done (while checks or syncs run)
        _wait("run 1's dbt builds", lambda: _run_log_has(state, 1, "done   dbt build: identity"))
        _land(raw / "shop_orders" / "0002.csv", [_order("O-serve-1", template)])
        _wait("run 1's line", lambda: len(serve.run_lines()) >= 1)
        # run 2 takes D1; D2 lands after run 2 staged its data, then SIGTERM arrives while run 2 goes on
        _wait("run 2's staging", lambda: _run_log_has(state, 2, "done   dbt build: seeds and staging"))
        _land(raw / "shop_orders" / "0003.csv", [_order("O-serve-2", template)])
        shutil.copyfile(raw / "shop_orders" / "0002.csv", raw / "shop_orders" / "0003b.csv.partial")
        os.replace(raw / "shop_orders" / "0003b.csv.partial", raw / "shop_orders" / "0004.csv")  # D1 again
        serve.proc.send_signal(signal.SIGTERM)
        assert serve.proc.wait(600) == 0
        lines = serve.lines()
        assert any("stop requested: run 2 finishes first" in line for line in lines)
        assert len(serve.run_lines()) == 2 and lines[-1].endswith("stopped after 2 run(s)")
        assert all("succeeded" in line for line in serve.run_lines()), serve.run_lines()
        assert "shop_orders/0002.csv" in serve.run_lines()[1]
        with duckdb.connect(str(db), read_only=True) as con:
            staged = {k for (k,) in con.execute("select shop_order_id from stg_shop__orders "
                                                "where shop_order_id like 'O-serve-%'").fetchall()}
            ledger = con.execute("select file_name, status from raw.raw_deliveries "
                                 "where source_name = 'shop_orders' order by 1").fetchall()
        assert staged == {"O-serve-1"}  # D2 is not half-applied: it waits for the next run
        assert ("shop_orders/0002.csv", "read") in ledger

        # the restart resumes: one run takes D2 and the repeat, then the service idles until SIGTERM
        (state / "logs").rename(state / "logs-first")
        serve = Serve(env, out)
        _wait("the restarted service's run", lambda: len(serve.run_lines()) >= 3)
        time.sleep(3)  # a few polls: nothing new, so no further run
        serve.proc.send_signal(signal.SIGTERM)
        assert serve.proc.wait(60) == 0
        assert len(serve.run_lines()) == 3 and "succeeded" in serve.run_lines()[2]
        assert "shop_orders/0003.csv" in serve.run_lines()[2] and "shop_orders/0004.csv" in serve.run_lines()[2]
        with duckdb.connect(str(db), read_only=True) as con:
            orders = con.execute("select shop_order_id, count(*) from stg_shop__orders where shop_order_id like "
                                 "'O-serve-%' group by 1 order by 1").fetchall()
            ledger = con.execute("select file_name, status, count(*) over (partition by file_name) from "
                                 "raw.raw_deliveries where source_name = 'shop_orders' order by 1").fetchall()
            loaded = con.execute("select rows_loaded, rows_duplicate from source_row_counts "
                                 "where source_name = 'shop_orders'").fetchone()
            person, order_count = con.execute(
                "select c.person_id, c.order_count from person_records as r join sync_hubspot__contacts as c "
                "using (person_id) where r.source_name = 'shop_orders' and r.source_record_id = 'O-serve-2'").fetchone()
        assert orders == [("O-serve-1", 1), ("O-serve-2", 1)]
        assert ledger == [("shop_orders/0001.csv", "read", 1), ("shop_orders/0002.csv", "read", 1),
                          ("shop_orders/0003.csv", "read", 1), ("shop_orders/0004.csv", "repeat", 1)]
        with (raw / "shop_orders" / "0001.csv").open(newline="", encoding="utf-8") as fh:
            first_rows = sum(1 for _ in csv.reader(fh)) - 1
        assert loaded[0] == first_rows + 2  # the repeat added nothing
        # the delivery reached the CRM: the person's contact carries the order count the warehouse holds
        contacts = by_person(sandbox.url)[person]
        assert [int(float(c["cdp_order_count"])) for c in contacts] == [order_count]
    finally:
        for proc in (getattr(locals().get("serve"), "proc", None),):
            if proc and proc.poll() is None:
                proc.kill()
        sandbox.stop()


def test_one_service_per_state_folder(tmp_path):
    first = hold_serve_lock(tmp_path)
    assert first is not None and hold_serve_lock(tmp_path) is None
    first.close()
    assert hold_serve_lock(tmp_path) is not None
