"""Delivery guarantees at the edges, over real HTTP to the CRM sandbox with a small hand-made warehouse: a
repeated change, redirects, a crash between send and state flush, a warehouse locked for long, erasure
after a failure, secrets in URLs."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from sync.destinations import make_destination
from sync.engine import run_sync
from sync.sandbox import start_sandbox
from tests.sync_support import TinyWarehouse, config, person


@pytest.fixture
def sandbox(monkeypatch):
    sb = start_sandbox()
    for k, v in sb.client_env().items():
        monkeypatch.setenv(k, v)
    yield sb
    sb.stop()


@pytest.fixture
def tw(tmp_path: Path) -> TinyWarehouse:
    w = TinyWarehouse(tmp_path / "warehouse.duckdb")
    w.write([person(i) for i in range(1, 4)])
    return w


def sync(tw: TinyWarehouse, name: str = "hubspot_contacts", **cfg_changes):
    return run_sync(config(name, **cfg_changes), tw.db_path, make_destination)


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
