"""Fast tests of the sync engine's parts, without dbt: planning, splitting, pacing, retry parsing, the
breaker and the rate-limit budget (over real HTTP to the sandbox's scripted answers), schema validation."""

from __future__ import annotations

import ast
import os
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests

from sync.config import ConfigError, parse_syncs
from sync.destinations.base import OutRecord, RecordResult
from sync.destinations.hubspot import HubSpotContacts
from sync.engine import build_plan, delivery_id, payload_hash, send_with_split
from sync.errors import AuthError, CircuitOpenError, RateLimitExhausted, TerminalError, TransientError
from sync.http import HttpClient, RetryPolicy, TokenBucket, parse_retry_after
from sync.sandbox import start_sandbox
from sync.sandbox.server import serve
from sync.state import Snapshot, StateRow
from tests.sync_support import config, person


@pytest.fixture(scope="module")
def sandbox():
    sb = start_sandbox()
    yield sb
    sb.stop()


def hubspot_client(sb, sleeps: list[float], **kw) -> HttpClient:
    token = sb.client_env()["HUBSPOT_ACCESS_TOKEN"]
    return HttpClient(sb.url, {"Authorization": f"Bearer {token}"}, rate=0, sleep=sleeps.append, **kw)


# --- retry parsing and pacing ---------------------------------------------------------------------
def test_retry_after_accepts_seconds_and_http_dates():
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert parse_retry_after("Wed, 01 Jan 2020 00:00:00 GMT", now) == 0.0  # in the past: go now
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None


def test_token_bucket_paces_evenly():
    t = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        t[0] += s

    bucket = TokenBucket(10, burst=1.0, clock=lambda: t[0], sleep=sleep)
    for _ in range(11):
        bucket.acquire()
    assert sum(slept) == pytest.approx(1.0)


def test_retry_after_http_date_is_honoured_over_http(sandbox):
    when = datetime.now(UTC) + timedelta(seconds=8)
    sandbox.configure(reset=True, script=[{"status": 503, "headers": {"Retry-After": format_datetime(when, usegmt=True)}}])
    sleeps: list[float] = []
    resp = hubspot_client(sandbox, sleeps).request("GET", "/account-info/v3/details")
    assert resp.status_code == 200
    assert len(sleeps) == 1 and 5 <= sleeps[0] <= 8.2, sleeps


# --- breaker and rate limits ----------------------------------------------------------------------
def test_breaker_counts_failures_only_and_a_success_closes_it(sandbox):
    sandbox.configure(reset=True, script=[{"status": 503}] * 9)
    client = hubspot_client(sandbox, [], retry=RetryPolicy(max_attempts=10), breaker_threshold=10)
    assert client.request("GET", "/account-info/v3/details").status_code == 200  # the 10th answer is a 200
    assert client.stats.consecutive_failures == 0
    sandbox.configure(script=[{"status": 503}] * 9)  # nine more failures after the success: still closed
    assert client.request("GET", "/account-info/v3/details").status_code == 200
    sandbox.configure(script=[{"status": 503}] * 12)
    with pytest.raises(CircuitOpenError):
        client.request("GET", "/account-info/v3/details")


def test_sustained_429_stops_with_rate_limit_exhausted(sandbox):
    sandbox.configure(reset=True, script=[{"status": 429, "headers": {"Retry-After": "30"}}] * 20)
    sleeps: list[float] = []
    client = hubspot_client(sandbox, sleeps, retry=RetryPolicy(max_attempts=20, max_delay=60),
                            rate_limit_budget_s=100)
    with pytest.raises(RateLimitExhausted, match="rate limit exhausted"):
        client.request("GET", "/account-info/v3/details")
    assert sum(sleeps) <= 100 and len(sleeps) == 3
    assert client.stats.consecutive_failures == 0, "429s never open the breaker"


def test_daily_quota_429_stops_at_once(sandbox, monkeypatch):
    sandbox.configure(reset=True, hubspot_daily_exhausted=True)
    for k, v in sandbox.client_env().items():
        monkeypatch.setenv(k, v)
    dest = HubSpotContacts.from_env(config("hubspot_contacts"))
    dest.client.sleep = lambda s: pytest.fail("waited on a daily quota")
    with pytest.raises(RateLimitExhausted, match="rate limit exhausted"):
        dest.upsert([OutRecord("p1", "a@example.com", {"email": "a@example.com"})])
    assert dest.client.stats.requests == 1
    sandbox.configure(reset=True)


# --- splitting ------------------------------------------------------------------------------------
def records(n: int) -> list[OutRecord]:
    return [OutRecord(f"k{i}", f"k{i}@example.com", {"x": str(i)}) for i in range(n)]


class Recorder:
    def __init__(self, bad: set[str] = frozenset(), message=lambda batch: "batch rejected", wide=False,
                 transient_for: set[str] = frozenset(), auth_for: set[str] = frozenset()):
        self.bad, self.message, self.wide = bad, message, wide
        self.transient_for, self.auth_for = transient_for, auth_for
        self.calls: list[int] = []

    def __call__(self, batch: list[OutRecord]) -> list[RecordResult]:
        self.calls.append(len(batch))
        keys = {r.key for r in batch}
        if keys & self.auth_for and len(batch) <= 2:  # the token expires while the split goes on
            raise AuthError("refused", 401)
        if keys & self.transient_for and len(batch) <= 4:
            raise TransientError("HTTP 503", None, 503)
        if self.wide or keys & self.bad:
            raise TerminalError(self.message(batch), 400, batch_wide=self.wide)
        return [RecordResult(r.key, True, f"id-{r.key}") for r in batch]


def test_one_bad_record_is_isolated_in_about_log2_levels():
    send = Recorder(bad={"k37"}, message=lambda b: f"bad record in {len(b)}")
    out: list[RecordResult] = []
    send_with_split(send, records(100), out)
    assert sorted(r.key for r in out if not r.ok) == ["k37"] and sum(r.ok for r in out) == 99
    assert len(send.calls) <= 1 + 2 * 7


def test_a_batch_wide_400_is_not_split():
    send = Recorder(wide=True)
    out: list[RecordResult] = []
    send_with_split(send, records(100), out)
    assert send.calls == [100] and len(out) == 100 and not any(r.ok for r in out)


def test_the_same_rejection_for_both_halves_stops_splitting():
    send = Recorder(bad={f"k{i}" for i in range(100)})  # every record bad, one message: not about a record
    out: list[RecordResult] = []
    send_with_split(send, records(100), out)
    assert len(send.calls) == 3, "not 199 requests"
    assert len(out) == 100 and {r.error_code for r in out} == {"HTTP_400"}


def test_confirmed_half_is_kept_when_the_other_half_fails():
    out: list[RecordResult] = []
    send_with_split(Recorder(bad={"k1"}, transient_for={"k7"}), records(8), out)
    ok = {r.key for r in out if r.ok}
    assert ok == {"k0", "k2", "k3"}
    assert {r.key for r in out if r.error_code == "TRANSIENT_503"} == {"k4", "k5", "k6", "k7"}
    # an auth failure in the second half still leaves the confirmed results for the engine to settle
    out = []
    with pytest.raises(AuthError):
        send_with_split(Recorder(bad={"k6"}, auth_for={"k6"}), records(8), out)
    assert {r.key for r in out if r.ok} == {"k0", "k1", "k2", "k3", "k4", "k5"}


# --- planning -------------------------------------------------------------------------------------
def snap(rows, state=None, failures=None, merges=None) -> Snapshot:
    return Snapshot(rows, state or {}, failures or {}, merges or {})


def hs_state(row: dict, cfg, dest_id: str) -> StateRow:
    from sync.engine import to_text

    payload = {d: to_text(row[c]) for d, c in cfg.fields.items()}
    return StateRow(payload_hash(payload), dest_id, payload)


def test_a_key_with_an_open_failure_is_sent_whatever_its_hash():
    cfg = config("hubspot_contacts")
    rows = [person(1), person(2)]
    state = {r["person_id"]: hs_state(r, cfg, f"{i}") for i, r in enumerate(rows)}
    plan = build_plan(cfg, snap(rows, state))
    assert not plan.upserts and plan.unchanged == 2
    plan = build_plan(cfg, snap(rows, state, failures={"p0002": ("TRANSIENT_NETWORK", 1)}))
    assert [u.record.key for u in plan.upserts] == ["p0002"]
    assert plan.upserts[0].record.destination_id == "1", "sent by the remembered id"


def test_null_and_duplicate_keys_are_reported_and_never_sent_or_archived():
    cfg = config("hubspot_contacts")
    rows = [person(1), person(2), person(2, email="other@example.com"), person(3, person_id=None)]
    state = {"p0002": hs_state(person(2), cfg, "9")}
    plan = build_plan(cfg, snap(rows, state))
    codes = sorted((k, c) for k, c, _ in plan.invalid)
    assert codes == [("(null key, row 4)", "NULL_KEY"), ("p0002", "DUPLICATE_KEY"), ("p0002", "DUPLICATE_KEY")]
    assert [u.record.key for u in plan.upserts] == ["p0001"]
    assert not plan.archive, "a duplicated key is still in the model"


def test_left_records_are_merged_archived_cleared_or_kept():
    cfg = config("hubspot_contacts")
    rows = [person(1)]
    state = {"p0001": hs_state(person(1), cfg, "1"), "p0002": hs_state(person(2), cfg, "2"),
             "p0003": hs_state(person(3), cfg, "3")}
    plan = build_plan(cfg, snap(rows, state, merges={"p0002": "p0009", "p0009": "p0001"}))
    assert plan.merge == [("p0002", "p0001")], "merges are followed to the current id"
    assert [r.key for r in plan.archive] == ["p0003"] and plan.archive[0].destination_id == "3"
    assert [r.key for r in build_plan(config("hubspot_contacts", on_delete="clear"), snap(rows, state)).clear] == [
        "p0002", "p0003"]
    assert build_plan(config("hubspot_contacts", on_delete="keep"), snap(rows, state)).kept == 2


def test_delivery_ids_differ_per_change_and_repeat_per_resend():
    a, b = payload_hash({"x": "a"}), payload_hash({"x": "b"})
    first = delivery_id("s", "k", "upsert", a, None)
    assert first == delivery_id("s", "k", "upsert", a, None)
    back_to_a = delivery_id("s", "k", "upsert", a, b)
    assert len({first, delivery_id("s", "k", "upsert", b, a), back_to_a}) == 3


# --- configuration --------------------------------------------------------------------------------
def test_syncs_yml_errors_name_their_line(tmp_path: Path):
    text = ("syncs:\n  - name: a\n    model: nope\n    destination: hubspott\n    object: contacts\n"
            "    key: person_id\n    match_key: email\n    max_clear_share: 1.5\n    colour: red\n"
            "    batch_size: many\n    fields: {email: email}\n")
    with pytest.raises(ConfigError) as err:
        parse_syncs(text, tmp_path / "syncs.yml", {"sync_hubspot__contacts"})
    lines = str(err.value).splitlines()
    assert [ln.split(":")[1] for ln in lines] == ["3", "4", "8", "9", "10"], lines
    assert "unknown model 'nope'" in lines[0] and "hubspott" in lines[1] and "outside 0..1" in lines[2]
    assert "unknown key 'colour'" in lines[3] and "not of type 'integer'" in lines[4]
    with pytest.raises(ConfigError, match=r"syncs.yml:\d+:\d+: not valid YAML"):
        parse_syncs("syncs:\n  - name: [a\n", tmp_path / "syncs.yml")


# --- layout -----------------------------------------------------------------------------------------
SYNC_DIR = Path(__file__).resolve().parents[1] / "sync"


def test_sync_files_stay_small_and_import_at_the_top():
    """One concern per file (under 400 lines), and no import hidden in a function (a cycle stays visible)."""
    for path in SYNC_DIR.rglob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, path
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                inner = [n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)]
                assert not inner, f"{path}:{inner[0].lineno} imports inside {node.name}()"


def test_a_destination_declares_its_own_removal():
    assert config("hubspot_contacts").removal == "archive" and config("salesforce_contacts").removal == "archive"
    assert config("marketing_webhook", mode="upsert").removal == "keep"
    assert config("marketing_webhook").removal == "clear", "mirror mode clears"


def test_each_sandbox_server_has_its_own_store():
    first, second = serve(), serve()
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (first, second)]
    for t in threads:
        t.start()
    try:
        url = f"http://127.0.0.1:{first.server_address[1]}"
        requests.post(f"{url}/_sandbox/config", json={"latency_ms": 5}, timeout=5)
        assert first.store.config["latency_ms"] == 5 and second.store.config["latency_ms"] == 0
        assert first.store.portal_id != second.store.portal_id or os.environ.get("CDP_SANDBOX_PORTAL_ID")
    finally:
        for s in (first, second):
            s.shutdown()
            s.server_close()
