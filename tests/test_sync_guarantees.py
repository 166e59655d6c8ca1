"""Delivery guarantees at the edges, over real HTTP to the CRM sandbox with a small hand-made warehouse: a
repeated change, redirects, a crash between send and state flush, a warehouse locked for long, erasure
after a failure, secrets in URLs."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from sync.engine import build_plan
from sync.sandbox import start_sandbox
from sync.state import Snapshot
from tests.conftest import PROJECT_DIR
from sync.privacy import deliver_privacy_requests, privacy_hash
from tests.sync_support import TinyWarehouse, by_person, config, sandbox_for, sync, erase, person, stage_event, write_events


@pytest.fixture
def sandbox(monkeypatch):
    with sandbox_for(monkeypatch) as sb:
        yield sb


@pytest.fixture
def tw(tmp_path: Path) -> TinyWarehouse:
    w = TinyWarehouse(tmp_path / "warehouse.duckdb")
    w.write([person(i) for i in range(1, 4)])
    return w


def webhook_state(url: str) -> dict:
    return requests.get(f"{url}/_sandbox/webhook", timeout=10).json()


def test_a_repeated_change_gets_a_new_delivery_id_every_time(sandbox, tw):
    """A -> B -> A -> B and subscribe -> unsubscribe -> subscribe -> unsubscribe: the receiver (which drops
    delivery ids it has seen) applies every one of them."""
    rest = [person(2), person(3)]
    for name in ("Ann", "Bea", "Ann", "Bea"):
        tw.write([person(1, first_name=name), *rest])
        s = sync(tw, "marketing_webhook")
        assert s.status == "success", s
        assert webhook_state(sandbox.url)["records"]["p0001"]["first_name"] == name
    for consent in ("unsubscribed", "subscribed", "unsubscribed"):
        tw.write([person(1, first_name="Bea", email_consent=consent), *rest])
        assert sync(tw, "marketing_webhook").status == "success"
        live = webhook_state(sandbox.url)["records"]
        assert ("p0001" in live) == (consent == "subscribed"), f"receiver out of step after {consent}"
    assert sandbox.stats()["webhook_replays_dropped"] == 0
    ids = [r["delivery_id"] for entry in requests.get(f"{sandbox.url}/_sandbox/webhook/log", timeout=10).json()[
        "requests"] for r in entry["records"] if r["key"] == "p0001"]
    assert len(ids) == len(set(ids)) == 7


class _Recorder(BaseHTTPRequestHandler):
    """A loopback server that records every request it gets (method, path, body)."""
    received: list = []

    def _any(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append((self.command, self.path, body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PUT = do_PATCH = _any

    def log_message(self, *args):
        return


def _redirector(status: int, target: str) -> type[BaseHTTPRequestHandler]:
    class Redirect(BaseHTTPRequestHandler):
        def _any(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(status)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_POST = do_PUT = do_PATCH = _any

        def log_message(self, *args):
            return
    return Redirect


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler]):
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_a_failure_and_nothing_reaches_its_target(tw, monkeypatch, status):
    recorder = type("Recorder", (_Recorder,), {"received": []})
    with serving(recorder) as target, serving(_redirector(status, f"{target}/stolen")) as hook:
        monkeypatch.setenv("CDP_WEBHOOK_URL", f"{hook}/webhook/marketing")
        monkeypatch.setenv("CDP_WEBHOOK_SECRET", "s3cret")
        s = sync(tw, "marketing_webhook")
    assert recorder.received == [], "nothing may reach the redirect's target"
    assert s.status == "failed" and s.succeeded == 0 and s.failures_by_code == {f"HTTP_{status}": 3}, s
    rows = tw.sql("select error_code, count(*) from cdp_sync.sync_failures group by 1")
    assert rows == [(f"HTTP_{status}", 3)]
    assert tw.sql("select count(*) from cdp_sync.sync_state") == [(0,)], "nothing is marked delivered"


KILLABLE_RUN = """
import sys
from dataclasses import replace
from pathlib import Path

from sync.config import load_syncs
from sync.destinations import make_destination
from sync.engine import build_plan, run_sync

run_sync(replace(load_syncs()[sys.argv[2]], batch_size=1), Path(sys.argv[1]), make_destination)
"""


def kill_after(sandbox, tw: TinyWarehouse, sync_name: str, sent: Callable[[], bool]) -> None:
    """Run the sync in its own process with state flushed only at its end, and SIGKILL it as soon as `sent()`
    says the destination has what matters: between the send and the state flush."""
    env = dict(os.environ, CDP_SYNC_FLUSH_SECONDS="3600")
    proc = subprocess.Popen([sys.executable, "-c", KILLABLE_RUN, str(tw.db_path), sync_name], env=env,
                            cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not sent():
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before it could be killed"
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended (and flushed) before the kill"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)


def test_writes_in_doubt_after_a_kill_are_reconciled_whatever_the_model_says(sandbox, tw):
    """A value that reverts after the crash is sent again, and a create whose email changed after the crash
    leaves one contact, not two."""
    tw.write([person(i) for i in range(1, 6)])
    assert sync(tw).status == "success"
    later = [person(i) for i in range(7, 21)]  # sent after p0006: the run is still busy when it is killed
    tw.write([person(1, first_name="Changed"), *[person(i) for i in range(2, 6)],
              person(6, email="first.address@example.com"), *later])
    sandbox.configure(latency_ms=150)
    kill_after(sandbox, tw, "hubspot_contacts", lambda: "p0006" in by_person(sandbox.url))
    assert by_person(sandbox.url)["p0001"][0]["firstname"] == "Changed", "the write reached the CRM"
    assert tw.sql("select count(*) from cdp_sync.sync_state where record_key = 'p0006'") == [(0,)], "not flushed"
    sandbox.configure(latency_ms=0)
    # the rebuild: p0001's change is undone, p0006 has another email
    tw.write([*[person(i) for i in range(1, 6)], person(6, email="second.address@example.com"), *later])
    s = sync(tw)
    assert s.status == "success", s
    live = by_person(sandbox.url)
    assert live["p0001"][0]["firstname"] == "First1", "the reverted value was sent again"
    assert [c["email"] for c in live["p0006"]] == ["second.address@example.com"], live["p0006"]
    assert all(len(v) == 1 for v in live.values()) and len(live) == 20
    again = sync(tw)
    assert (again.status, again.planned) == ("success", 0)


KILLED_AFTER_A_FLUSH = """
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path

from sync.config import load_syncs
from sync.destinations import make_destination
from sync.engine import run_sync
from sync.journal import Journal

flushed = Journal.compact
def die_before_compacting(journal, waiting):
    if journal.path.exists():  # the first flush is committed; its journal lines are still there
        os.kill(os.getpid(), signal.SIGKILL)
    flushed(journal, waiting)
Journal.compact = die_before_compacting
run_sync(replace(load_syncs()[sys.argv[2]], batch_size=2), Path(sys.argv[1]), make_destination)
"""


def test_a_crash_between_a_flush_and_the_journal_rewrite_logs_each_outcome_once(sandbox, tw):
    """The warehouse has a flush's outcomes but the journal still holds them: the next run's replay must not
    write them again (one log row per record and attempt, failure counts not doubled)."""
    tw.write([person(i) for i in range(1, 7)])
    proc = subprocess.run([sys.executable, "-c", KILLED_AFTER_A_FLUSH, str(tw.db_path), "hubspot_contacts"],
                          cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    logged = tw.sql("select record_key, count(*) from cdp_sync.sync_record_log group by 1 order by 1")
    assert logged and all(n == 1 for _k, n in logged), logged
    s = sync(tw)
    assert s.status == "success", s
    rows = tw.sql("select record_key, count(*) from cdp_sync.sync_record_log where ok group by 1 order by 1")
    assert rows == [(f"p{i:04d}", 1) for i in range(1, 7)], rows
    assert len(by_person(sandbox.url)) == 6


HOLD_LOCK = """
import sys
import time

import duckdb

deadline = time.monotonic() + 20
while True:  # the sync opens the file for a moment at each flush: take the lock between two of them
    try:
        con = duckdb.connect(sys.argv[1])  # a writer (like dbt) holds DuckDB's one write lock while open
        break
    except duckdb.IOException:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.01)
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def test_a_long_warehouse_lock_keeps_confirmed_writes_in_the_journal(sandbox, tw, monkeypatch):
    """Another process holds the warehouse longer than a state write waits: the run does not fail, what the
    CRM confirmed waits in the local journal, and the next run writes it before planning (nothing re-sent)."""
    monkeypatch.setenv("CDP_SYNC_LOCK_WAIT_SECONDS", "0.5")
    tw.write([person(i) for i in range(1, 6)])
    sandbox.configure(latency_ms=300)
    result: dict = {}
    runner = threading.Thread(target=lambda: result.setdefault("s", sync(tw, batch_size=1)))
    runner.start()
    deadline = time.monotonic() + 60
    while sandbox.stats()["hubspot_upsert_calls"] < 1:
        assert runner.is_alive() and time.monotonic() < deadline
        time.sleep(0.02)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tw.db_path), "8"], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "locked"
    runner.join(60)
    assert not runner.is_alive() and holder.poll() is None, "the run ended while the lock was still held"
    first = result["s"]
    assert first.status == "success" and first.succeeded == 5 and "journal" in (first.error or ""), first
    holder.wait(30)
    sandbox.configure(latency_ms=0)
    creates = sandbox.stats()["hubspot_creates"]
    again = sync(tw)
    assert (again.status, again.planned) == ("success", 0), "the journal was written first: nothing to resend"
    assert sandbox.stats()["hubspot_creates"] == creates == 5
    assert tw.sql("select count(*) from cdp_sync.sync_state where sync_name = 'hubspot_contacts'") == [(5,)]
    assert tw.sql("select status from cdp_sync.sync_runs where run_id = ?", [first.run_id]) == [("success",)]
    assert tw.sql("select count(*) from cdp_sync.sync_record_log where run_id = ? and ok", [first.run_id]) == [(5,)]



def webhook_log_text(url: str) -> str:
    return json.dumps(requests.get(f"{url}/_sandbox/webhook/log", timeout=10).json())


def test_an_erasure_confirmed_before_a_429_is_recorded(sandbox, tw):
    """The GDPR delete is confirmed, then the next request hits HubSpot's daily limit: the audit row is written
    and the record log keeps no raw person id."""
    tw.write([person(i) for i in range(1, 6)])
    assert sync(tw).status == "success"
    erase(tw, ["p0001"])
    tw.write([person(i, first_name="Changed") if i == 2 else person(i) for i in range(2, 6)])
    sandbox.configure(daily_exhausted_after_deletes=1)  # the delete passes; the update after it gets a DAILY 429
    s = sync(tw)
    assert s.status == "rate_limit_exhausted", s
    assert "p0001" not in by_person(sandbox.url), "the delete reached HubSpot"
    logged = tw.sql("select request_id, person_hash, action from cdp_sync.privacy_destination_log")
    assert logged == [("req-1", privacy_hash("person_id", "p0001"), "delete")]
    assert tw.sql("select count(*) from cdp_sync.sync_record_log where record_key = 'p0001'") == [(0,)]
    assert tw.sql("select count(*) from cdp_sync.sync_state where record_key = 'p0001'") == [(0,)]


def test_events_syncs_and_the_webhook_log_forget_an_erased_person(sandbox, tw):
    tw.write([person(i) for i in range(1, 4)])
    write_events(tw, [stage_event(1, 3, "active", "2026-01-01 00:00:00", from_stage="prospect")])
    assert sync(tw, "journey_events_webhook").status == "success"  # the baseline
    assert sync(tw, "marketing_webhook").status == "success"
    write_events(tw, [stage_event(1, 3, "active", "2026-01-01 00:00:00", from_stage="prospect"),
                      stage_event(2, 1, "at_risk", "2026-02-01 00:00:00"),
                      stage_event(3, 2, "at_risk", "2026-02-01 00:00:00")])
    delivered = sync(tw, "journey_events_webhook")
    assert (delivered.status, delivered.succeeded) == ("success", 2)
    assert "person1@example.com" in webhook_log_text(sandbox.url)
    erase(tw, ["p0001"])
    for name in ("marketing_webhook", "journey_events_webhook"):
        s = sync(tw, name)
        assert s.status == "success" and s.deleted == 1, (name, s)
    events = requests.get(f"{sandbox.url}/_sandbox/webhook/events", timeout=10).json()["events"]
    assert {e["person_id"] for e in events.values()} == {"p0002"}
    assert "person1@example.com" not in webhook_log_text(sandbox.url), "the receiver's log keeps no erased email"
    audit = tw.sql("select sync_name from cdp_sync.privacy_destination_log order by 1")
    assert audit == [("journey_events_webhook",), ("marketing_webhook",)]
    assert tw.sql("select count(*) from cdp_sync.sync_state where payload like '%p0001%'") == [(0,)]
    again = sync(tw, "journey_events_webhook")
    assert (again.deleted, again.planned) == (0, 0), "an erasure is sent once"


def test_state_of_a_former_portal_is_cleaned_of_erased_persons(sandbox, tw, monkeypatch):
    tw.write([person(i) for i in range(1, 4)])
    assert sync(tw).status == "success"
    other = start_sandbox()  # the company moved to another portal
    try:
        monkeypatch.setenv("HUBSPOT_BASE_URL", other.url)
        assert sync(tw).status == "success"
        erase(tw, ["p0002"])
        assert sync(tw).deleted == 1
    finally:
        other.stop()
    assert tw.sql("select count(*) from cdp_sync.sync_state where record_key = 'p0002' "
                  "or payload like '%person2@%'") == [(0,)]
    assert tw.sql("select count(*) from cdp_sync.sync_record_log where record_key = 'p0002'") == [(0,)]
    assert tw.sql("select count(distinct destination_key) from cdp_sync.sync_state") == [(2,)]


def test_privacy_requests_alone_reach_every_destination(sandbox, tw):
    """The entry point a blocked run calls: erasures and suppression-driven removals go out, nothing else."""
    names = ("hubspot_contacts", "salesforce_contacts", "marketing_webhook")
    for name in names:
        assert sync(tw, name).status == "success"
    erase(tw, ["p0001"])
    tw.write([person(2, first_name="Held back"), person(3)])
    done = deliver_privacy_requests(tw.db_path, {n: config(n) for n in names})
    assert {n: (s.status, s.deleted, s.sent) for n, s in done.items()} == {n: ("success", 1, 1) for n in names}
    assert "p0001" not in by_person(sandbox.url) and by_person(sandbox.url)["p0002"][0]["firstname"] == "First2"
    assert tw.sql("select count(distinct sync_name) from cdp_sync.privacy_destination_log") == [(3,)]


class _EchoRejecter(BaseHTTPRequestHandler):
    """A receiver that rejects every batch and echoes the URL it was called at (token and all)."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = f"bad batch sent to http://{self.headers.get('Host')}{self.path}".encode()
        self.send_response(400)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        return


def test_urls_in_messages_keep_no_query_or_credentials(tw, monkeypatch):
    monkeypatch.setenv("CDP_WEBHOOK_SECRET", "s3cret")
    secrets = ("TOKEN123", "pa55word")
    with serving(_EchoRejecter) as hook:
        port = hook.rsplit(":", 1)[1]
        monkeypatch.setenv("CDP_WEBHOOK_URL", f"http://user:pa55word@127.0.0.1:{port}/hook?token=TOKEN123#x")
        rejected = sync(tw, "marketing_webhook")
    assert rejected.failures_by_code == {"HTTP_400": 3}
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there: connection errors name the URL
    monkeypatch.setenv("CDP_WEBHOOK_URL", f"http://user:pa55word@127.0.0.1:{port}/hook?token=TOKEN123")
    tw.write([person(i, first_name="Other") for i in range(1, 4)])
    refused = sync(tw, "marketing_webhook")
    assert set(refused.failures_by_code) == {"TRANSIENT_NETWORK"}, refused
    stored = tw.sql("select error_message from cdp_sync.sync_failures") + tw.sql("select error from cdp_sync.sync_runs")
    assert any("127.0.0.1" in (m or "") for (m,) in stored), "the messages still name the host"
    env = dict(os.environ, CDP_DUCKDB_PATH=str(tw.db_path))
    cdp = str(Path(sys.executable).with_name("cdp"))
    printed = [subprocess.run([cdp, "sync", *args], env=env, capture_output=True, text=True, cwd=PROJECT_DIR).stdout
               for args in (["failures", "marketing_webhook"], ["failures", "marketing_webhook", "--json"],
                            ["status"])]
    assert "TRANSIENT_NETWORK" in printed[0]
    for text in [*printed, *(m or "" for (m,) in stored), str(rejected), str(refused)]:
        assert not any(s in text for s in secrets), text


def test_planning_holds_one_chunk_of_rows_and_hands_out_one_batch():
    chunks = ([person(i) for i in range(start, start + 500)] for start in range(1, 5001, 500))
    plan = build_plan(config("hubspot_contacts"), Snapshot([], {}, {}), rows=chunks)
    assert (plan.creates, plan.peak_rows) == (5000, 500)
    assert [len(b) for b in plan.new.batches(100)] == [100] * 50 and plan.new.peak == 100
    plan.close()


def test_a_run_over_thousands_of_records_never_holds_the_plan(sandbox, tw):
    """About 4 KB per record were held before (the model's rows, the plan and every payload until the flush);
    now a chunk of rows, a batch of records and a few values per key."""
    n = 4000
    tw.write([person(i) for i in range(1, n + 1)])
    tracemalloc.start()
    try:
        s = sync(tw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (s.status, s.created) == ("success", n), s
    assert peak < 2000 * n, f"{peak / n:.0f} bytes per record"
