"""The sync engine: plan, send in batches, advance state only for what the destination confirmed, record
failures for retry on the next run, log every action, finish the run row whatever happens.

Planning (pure, `build_plan`) compares the model with this destination's state:
- bad input is not sent: null and duplicate keys, a missing match value, a match value two records share
  become failures with a code (duplicate keys count as present, so they are never archived);
- new records are created (matched by the destination's match key first), known ones are updated through
  the destination id they got, unchanged ones are skipped unless they have an open failure (the outcome
  of their last write is unknown, so they are sent again whatever their hash);
- records that left the model follow the identity graph: a person id retired by a merge
  (person_id_history) is merged into its survivor's object; any other is archived, cleared or kept per
  `on_delete`. Archives and clears beyond `max_clear_share` of the state stop the run (MirrorGuardError).

Execution: upserts first (so a survivor has its object), then merges, then archives and clears. A batch
the destination rejects as a whole is split in halves (at most log2(batch) levels, and not at all when
the error is about the request rather than a record); what a destination confirmed is settled (state,
failures, record log) in short transactions about once a second, also when a later half or batch fails."""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

import duckdb

from sync.config import SyncConfig
from sync.destinations.base import Destination, OutRecord, RecordResult
from sync.errors import (
    AuthError,
    InputError,
    MirrorGuardError,
    RateLimitExhausted,
    SyncError,
    SyncLockedError,
    TerminalError,
    TransientError,
)
from sync.journal import IN_DOUBT, Intent, Journal
from sync.lock import SyncLock
from sync.redact import redact
from sync.privacy_ledger import consent_or_privacy_driven, erased_keys, privacy_hash, purge_erased_state
from sync.state import Attempt, Settlement, Snapshot, StateRow, StateStore, is_lock_error

Progress = Callable[[int, int], None]
FLUSH_SECONDS = float(os.environ.get("CDP_SYNC_FLUSH_SECONDS", "1.0"))
Send = Callable[[list[OutRecord]], list[RecordResult]]


def to_text(value: object) -> str:
    """Destination values are strings; a missing value is "" (which clears the field)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def format_value(value: object, kind: str) -> str:
    """A model value as the destination's typed property expects it: dates as YYYY-MM-DD, numbers plain,
    multi-select values joined by ";" (the model already joins segments so)."""
    if kind == "date" and hasattr(value, "date") and callable(value.date):
        return value.date().isoformat()
    if kind == "date" and hasattr(value, "isoformat"):
        return value.isoformat()
    return to_text(value)


def payload_hash(payload: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def delivery_id(sync_name: str, key: str, action: str, new_hash: str, previous: str | None) -> str:
    """`previous` is the id of the record's last delivery (confirmed or not), or its previous payload hash when
    none is known. Chained so, every delivery of a new state gets an id never used before (A -> B -> A -> B
    does not repeat one), and a re-send of one delivery is recognised before it is built (`next_delivery`)."""
    raw = f"{sync_name}|{key}|{action}|{new_hash}|{previous or ''}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def next_delivery(sync_name: str, key: str, action: str, new_hash: str, state: StateRow | None,
                  attempt: Attempt | None) -> str:
    """The delivery id of sending `new_hash` (`action` for removals): the unconfirmed attempt's own id when it
    sent the same thing (a re-send keeps its id, so a receiver drops it if it was applied), else a new id
    chained from the last delivery sent, confirmed or not."""
    sent = new_hash if action == "upsert" else action
    if attempt is not None and attempt.delivery_id and attempt.payload_hash == sent:
        return attempt.delivery_id
    previous = ((attempt.delivery_id if attempt is not None else None)
                or (state.delivery_id or state.payload_hash if state is not None else None))
    return delivery_id(sync_name, key, action, new_hash, previous)


@dataclass
class Upsert:
    record: OutRecord
    hash: str
    new: bool


@dataclass
class Plan:
    upserts: list[Upsert] = field(default_factory=list)
    clear: list[OutRecord] = field(default_factory=list)
    archive: list[OutRecord] = field(default_factory=list)
    merge: list[tuple[str, str]] = field(default_factory=list)  # retired key, survivor key
    delete: list[OutRecord] = field(default_factory=list)  # privacy erasure: removed, never sent again
    unchanged: int = 0
    excluded: int = 0
    kept: int = 0
    in_scope: int = 0   # records of the model the sync covers (not excluded)
    stale_failures: list[str] = field(default_factory=list)  # open failures of keys no longer anywhere
    invalid: list[tuple[str, str, str]] = field(default_factory=list)  # key, code, message

    @property
    def create(self) -> list[Upsert]:
        return [u for u in self.upserts if u.new]

    @property
    def update(self) -> list[Upsert]:
        return [u for u in self.upserts if not u.new]


@dataclass
class RunSummary:
    sync_name: str
    run_id: str
    status: str = "running"
    dry_run: bool = False
    destination_key: str | None = None
    planned: int = 0
    created: int = 0
    updated: int = 0
    cleared: int = 0
    archived: int = 0
    merged: int = 0
    deleted: int = 0
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    invalid: int = 0
    skipped: int = 0
    excluded: int = 0
    in_scope: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    journaled: int = 0  # outcomes the destination confirmed that wait in the local journal (warehouse locked)
    duration_s: float = 0.0
    error: str | None = None
    retryable: bool = True
    failures_by_code: Counter = field(default_factory=Counter)
    failure_samples: dict[str, list[str]] = field(default_factory=dict)
    plan_samples: dict[str, list[str]] = field(default_factory=dict)  # a few keys per planned action

    @property
    def failed_share(self) -> float:
        return self.failed / max(1, self.in_scope)

    def as_counts(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in (
            "planned", "created", "updated", "cleared", "archived", "merged", "deleted", "sent", "succeeded", "failed",
            "invalid", "skipped", "excluded", "requests", "retries", "rate_limited", "duration_s", "error")}


def resolve_survivor(key: str, merges: dict[str, str]) -> str:
    """Follow merges (retired id -> survivor id) to the id that is current now."""
    seen = {key}
    while key in merges and merges[key] not in seen:
        key = merges[key]
        seen.add(key)
    return key


def build_plan(cfg: SyncConfig, snap: Snapshot, full_resync: bool = False, erase: Collection[str] = ()) -> Plan:
    """`erase`: keys to remove from the destination for a privacy request (never sent again, deleted where
    they were sent, never counted by the removal guard)."""
    plan = Plan()
    erase = set(erase)
    keys = Counter(to_text(row.get(cfg.key)) for row in snap.rows)
    seen_match: set[str] = set()
    fields = list(cfg.fields.items())
    dated = {dest for dest, _ in fields if cfg.property_type(dest) == "date"}
    present: set[str] = set()       # keys in the model (valid or not): never archived
    current: set[str] = set()       # keys whose record is in the destination's future (sent or unchanged)
    for i, row in enumerate(snap.rows):
        key = to_text(row.get(cfg.key))
        if not key:
            plan.invalid.append((f"(null key, row {i + 1})", "NULL_KEY", f"{cfg.key} is null"))
            continue
        present.add(key)
        if key in erase:
            continue
        if cfg.exclude_opted_out and row.get("email_consent") == "unsubscribed":
            plan.excluded += 1
            present.discard(key)  # an opted-out person leaves the audience like one who left the model
            continue
        plan.in_scope += 1
        if keys[key] > 1:
            plan.invalid.append((key, "DUPLICATE_KEY", f"{keys[key]} rows of {cfg.model} have this {cfg.key}"))
            continue
        payload = {dest: (format_value(row[col], "date") if dest in dated else to_text(row[col])) for dest, col in fields}
        match_value = payload.get(cfg.match_key) or to_text(row.get(cfg.match_key))
        if not match_value:
            plan.invalid.append((key, "MISSING_MATCH_KEY", f"no value for {cfg.match_key}"))
            continue
        if match_value.lower() in seen_match:
            plan.invalid.append((key, "DUPLICATE_MATCH_KEY", f"another record has {cfg.match_key} = this value"))
            continue
        seen_match.add(match_value.lower())
        current.add(key)
        h = payload_hash(payload)
        previous = snap.state.get(key)
        tried = snap.attempts.get(key)
        did = next_delivery(cfg.name, key, "upsert", h, previous, tried)
        if previous is None and tried is not None and tried.destination_id:
            # a create whose answer was lost, found in the destination since: written there by its id
            plan.upserts.append(Upsert(OutRecord(key, match_value, payload, tried.destination_id, did), h, False))
        elif previous is None:
            if cfg.mode != "update_only":
                plan.upserts.append(Upsert(OutRecord(key, match_value, payload, None, did), h, True))
        elif full_resync or previous.payload_hash != h or key in snap.failures:
            plan.upserts.append(Upsert(OutRecord(key, match_value, payload, previous.destination_id, did), h, False))
        else:
            plan.unchanged += 1
    # objects a lost create made (found by `locate`) are the record's too, until state confirms one
    lost = {k: StateRow(t.payload_hash or "", t.destination_id, {}) for k, t in snap.attempts.items()
            if t.destination_id and k not in snap.state}
    for key, old in {**lost, **snap.state}.items():
        tried = snap.attempts.get(key)
        if key in erase:
            plan.delete.append(OutRecord(key, old.payload.get(cfg.match_key) or key, {}, old.destination_id,
                                         next_delivery(cfg.name, key, "delete", "", old, tried)))
            continue
        if key in present:
            continue
        survivor = resolve_survivor(key, snap.merges)
        if survivor != key and survivor in current:
            plan.merge.append((key, survivor))
            continue
        match_value = old.payload.get(cfg.match_key) or key
        if cfg.removal == "archive":
            plan.archive.append(OutRecord(key, match_value, {}, old.destination_id,
                                          next_delivery(cfg.name, key, "archive", "", old, tried)))
        elif cfg.removal == "clear":
            cleared = {dest: (old.payload.get(dest, "") if dest == cfg.match_key else "") for dest in cfg.fields}
            plan.clear.append(OutRecord(key, match_value, cleared, old.destination_id,
                                        next_delivery(cfg.name, key, "clear", "", old, tried)))
        else:
            plan.kept += 1
    invalid_keys = {k for k, _, _ in plan.invalid}
    plan.stale_failures = sorted(set(snap.failures) - present - invalid_keys - set(snap.state) - set(lost))
    return plan


def failed(batch: list[OutRecord], code: str, message: str) -> list[RecordResult]:
    return [RecordResult(r.key, False, None, code, message) for r in batch]


def _attempt(send: Send, batch: list[OutRecord], out: list[RecordResult]) -> TerminalError | None:
    """One request: results go to `out`; a whole-batch rejection is returned for the caller to split."""
    try:
        out.extend(send(batch))
    except AuthError:
        raise
    except TransientError as exc:  # retries ran out: the outcome is unknown, the records are tried next run
        out.extend(failed(batch, f"TRANSIENT_{exc.status or 'NETWORK'}", str(exc)))
    except TerminalError as exc:
        return exc
    return None


def send_with_split(send: Send, batch: list[OutRecord], out: list[RecordResult]) -> None:
    """Send a batch; one the destination rejects as a whole is split in halves to isolate the bad records,
    at most log2(len(batch)) levels deep, and not at all when the error is about the request (batch_wide)
    or when both halves are rejected with the parent's very error. Every result lands in `out` as soon as
    it is known, so a later exception never loses a confirmed half."""
    err = _attempt(send, batch, out)
    if err is not None:
        _split(send, batch, err, out, 0, math.ceil(math.log2(len(batch))) if len(batch) > 1 else 0)


def _split(send: Send, batch: list[OutRecord], err: TerminalError, out: list[RecordResult], depth: int,
           max_depth: int) -> None:
    code = f"HTTP_{err.status or 'ERROR'}"
    if len(batch) == 1 or err.batch_wide or depth >= max_depth:
        out.extend(failed(batch, code, str(err)))
        return
    mid = len(batch) // 2
    halves = [batch[:mid], batch[mid:]]
    errors = [_attempt(send, half, out) for half in halves]
    if all(e is not None and str(e) == str(err) for e in errors) and len(batch) > 2:
        out.extend(failed(batch, code, str(err)))  # the same rejection either way: not about one record
        return
    for half, e in zip(halves, errors):
        if e is not None:
            _split(send, half, e, out, depth + 1, max_depth)


class _Executor:
    """Sends planned actions and settles each batch's outcome (state, failures, log) right away."""

    def __init__(self, cfg: SyncConfig, store: StateStore, destination: Destination, dest_key: str, run_id: str,
                 summary: RunSummary, state: dict[str, StateRow], progress: Progress | None, total: int,
                 journal: Journal):
        self.cfg, self.store, self.destination, self.dest_key = cfg, store, destination, dest_key
        self.journal = journal
        self.waiting: dict[str, Intent] = {}  # sent, no answer yet: in doubt if the process dies now
        self.run_id, self.summary, self.state, self.progress = run_id, summary, state, progress
        self.total, self.done = total, 0
        self.pending = Settlement()
        self.journeys: dict[str, str] = {}  # events syncs: event id -> the journey that routed it
        self.persons: dict[str, str] = {}   # events syncs: event id -> its person (to find it when erased)
        self.erased: dict[str, str] = {}    # erased keys -> their hash (the audit and log never keep the key)
        self.flushed_at = time.monotonic()
        self.flush_cost = 0.0

    def run(self, action: str, send: Send, batch: list[OutRecord], hashes: dict[str, tuple[str, bool]] | None = None,
            bulk: bool = False) -> None:
        out: list[RecordResult] = []
        intents = [Intent(self.run_id, self.dest_key, action, r.key,
                          (hashes or {}).get(r.key, (action,))[0] if action == "upsert" else action, r.delivery_id,
                          r.destination_id, None if r.destination_id else r.match_value) for r in batch]
        self.journal.intend(intents)  # before the request: a crash from here on leaves these in doubt
        self.waiting.update((i.key, i) for i in intents)
        try:
            if bulk:
                try:
                    out.extend(send(batch))
                except TransientError as exc:
                    out.extend(failed(batch, f"TRANSIENT_{exc.status or 'NETWORK'}", str(exc)))
                except TerminalError as exc:
                    if isinstance(exc, AuthError):
                        raise
                    out.extend(failed(batch, f"HTTP_{exc.status or 'ERROR'}", str(exc)))
            else:
                send_with_split(send, batch, out)
        finally:
            self.settle(action, batch, out, hashes or {})

    def flush(self) -> None:
        """Write what the destination confirmed since the last flush, in one short transaction. Writing
        about once a second (not per batch) keeps the warehouse's cost per record low; a crash loses at
        most that second's bookkeeping, and re-sending those records is harmless (upserts by id or match
        key, idempotent archives, merges checked, webhook replays dropped by delivery id)."""
        pending, self.pending = self.pending, Settlement()
        started = time.monotonic()
        try:
            self.store.settle(self.cfg.name, self.dest_key, self.run_id, pending)
        except Exception as exc:
            if not is_lock_error(exc):
                raise
            # another process held the warehouse past the wait: the outcomes stay in the journal (and here)
            # for the next flush, or the next run, and sending goes on
            pending.confirmed += self.pending.confirmed
            pending.forgotten += self.pending.forgotten
            pending.failures += self.pending.failures
            pending.log += self.pending.log
            pending.erased.update(self.pending.erased)
            self.pending = pending
            self.summary.journaled = len(pending.log)
            self.flushed_at = time.monotonic()
            return
        self.summary.journaled = 0
        self.journal.compact(list(self.waiting.values()))
        self.flushed_at = time.monotonic()
        self.flush_cost = self.flushed_at - started  # the next flush waits five times this: at most ~20% overhead

    def settle(self, action: str, batch: list[OutRecord], results: list[RecordResult],
               hashes: dict[str, tuple[str, bool]]) -> None:
        by_key = {r.key: r for r in batch}
        s = Settlement()
        for res in results:
            rec = by_key.get(res.key)
            if rec is None:
                continue
            kind = action
            if action == "upsert":
                kind = "create" if hashes[res.key][1] else "update"
            if res.ok:
                if action == "event":  # an event's fate, never its payload (no personal data in state)
                    meta = {"status": "delivered", "journey": self.journeys.get(rec.key, ""),
                            "person": self.persons.get(rec.key, "")}
                    s.confirmed.append((rec.key, "delivered", meta, res.destination_id, rec.delivery_id))
                    self.state[rec.key] = StateRow("delivered", res.destination_id, meta, rec.delivery_id)
                elif action == "upsert":
                    dest_id = res.destination_id or rec.destination_id
                    s.confirmed.append((rec.key, hashes[rec.key][0], rec.properties, dest_id, rec.delivery_id))
                    self.state[rec.key] = StateRow(hashes[rec.key][0], dest_id, rec.properties, rec.delivery_id)
                else:
                    s.forgotten.append(rec.key)
                    self.state.pop(rec.key, None)
                s.log.append((rec.key, kind, True, res.destination_id, None))
            else:
                sent = hashes[rec.key][0] if action == "upsert" else action
                tried = Attempt(sent, rec.delivery_id, rec.destination_id) if action != "event" else None
                s.failures.append((rec.key, kind, res.error_code or "ERROR", res.message or "", tried))
                s.log.append((rec.key, kind, False, None, res.error_code or "ERROR"))
        if action == "delete":  # a privacy erasure: audited, and its log rows keyed by hash, in the same write
            s.erased = {res.key: self.erased.get(res.key) or privacy_hash("person_id", res.key)
                        for res in results if res.key in by_key}
        self.journal.settled(self.dest_key, self.run_id, s)
        for res in results:
            self.waiting.pop(res.key, None)
        self.pending.confirmed += s.confirmed
        self.pending.forgotten += s.forgotten
        self.pending.failures += s.failures
        self.pending.log += s.log
        self.pending.erased.update(s.erased)
        if time.monotonic() - self.flushed_at >= max(FLUSH_SECONDS, 5 * self.flush_cost):
            self.flush()
        self.summary.sent += len(batch)
        self.summary.succeeded += sum(1 for r in results if r.ok)
        _count_failures(self.summary, [(r.key, r.error_code or "ERROR") for r in results if not r.ok])
        self.done += len(batch)
        if self.progress:
            self.progress(self.done, self.total)


def run_sync(cfg: SyncConfig, db_path: Path, destination_factory: Callable[[SyncConfig], Destination], *,
             dry_run: bool = False, full_resync: bool = False, force_clear: bool = False,
             progress: Progress | None = None, erase_keys: Collection[str] = (),
             privacy_only: bool = False) -> RunSummary:
    """One run. A dry run reads and plans only: it writes nothing to the warehouse or the destination and
    creates no file. A real run holds the sync's lock; its run row ends `success`, `partial` (some records
    failed, within max_failed_share), `failed` (with the reason) or `rate_limit_exhausted`.

    Erased persons (the ledger's, and `erase_keys`) are deleted where they were sent, whatever else the run
    does; `privacy_only` runs only that and the removals an opt-out or a suppression causes (for a run whose
    other work is blocked, e.g. by a failed governance check)."""
    started = time.perf_counter()
    store = StateStore(db_path)
    summary = RunSummary(cfg.name, uuid.uuid4().hex, dry_run=dry_run)
    destination: Destination | None = None
    lock: SyncLock | None = None
    journal = None if dry_run else Journal.for_sync(db_path, cfg.name)
    run_started = False
    try:
        if not dry_run:
            lock = SyncLock.acquire(db_path, cfg.name, summary.run_id)
            summary.run_id = store.start_run(cfg.name, dry_run)
            lock.record(summary.run_id)
            run_started = True
        destination = destination_factory(cfg)
        dest_key = destination.identify()
        summary.destination_key = dest_key
        if run_started:
            store.set_run_destination(summary.run_id, dest_key)
        if journal is not None:  # what an earlier run confirmed or left in doubt, before anything is planned
            replay_journal(cfg, store, journal, destination, dest_key)
            with store.connect() as con:  # state of destinations this run cannot reach keeps no erased person
                purge_erased_state(con, cfg.name, dest_key)
        snap = store.load(cfg.name, dest_key, cfg.model, cfg.columns, read_only=dry_run)
        erased = {k: privacy_hash("person_id", k) for k in erase_keys}
        if cfg.mode == "events":
            _run_events(cfg, store, destination, dest_key, summary, snap, dry_run, full_resync, progress, journal,
                        erased, privacy_only)
            return summary
        with store.connect(read_only=dry_run) as con:  # erased persons (privacy requests, sync/privacy_ledger.py)
            erased.update(erased_keys(con, snap.state))
        plan = build_plan(cfg, snap, full_resync, erased)
        # removals caused by an opt-out or a privacy request are always delivered: the guard counts the others
        with store.connect(read_only=dry_run) as con:
            driven = consent_or_privacy_driven(con, [r.key for r in plan.clear + plan.archive], snap.rows, cfg.key)
        if privacy_only:
            plan = privacy_subset(plan, driven)
        _summarise_plan(summary, plan)
        removals = len(plan.clear) + len(plan.archive) - len(driven)
        if removals and not force_clear and removals > cfg.max_clear_share * max(1, len(snap.state)):
            raise MirrorGuardError(
                f"the run would {cfg.removal} {removals} of {len(snap.state)} synced records, more than "
                f"max_clear_share={cfg.max_clear_share} ({len(driven)} more removals are consent or privacy "
                f"driven and not held back); check the model, or run with --force-clear")
        _count_failures(summary, [(k, c) for k, c, _ in plan.invalid])
        summary.invalid = len(plan.invalid)
        if dry_run:
            summary.status = "dry_run"
            return summary
        if plan.invalid or plan.stale_failures:
            store.settle(cfg.name, dest_key, summary.run_id, Settlement(
                forgotten=plan.stale_failures,
                failures=[(k, "input", c, m, None) for k, c, m in plan.invalid],
                log=[(k, "invalid", False, None, c) for k, c, _ in plan.invalid]))
        if summary.planned:
            destination.prepare(option_values(cfg, plan))
            _execute(cfg, store, destination, dest_key, summary, plan, snap, progress, journal, erased)
        _finish_status(cfg, summary)
    except SyncLockedError as exc:
        summary.status = "locked"
        summary.error = str(exc)
        summary.retryable = False
    except RateLimitExhausted as exc:
        summary.status = "rate_limit_exhausted"
        summary.error = str(exc)
    except Exception as exc:  # every abort ends the run row as failed, with the reason
        summary.status = "failed"
        summary.error = f"{type(exc).__name__}: {exc}"
        summary.retryable = getattr(exc, "retryable", True) and isinstance(exc, SyncError)
    finally:
        if destination is not None:
            summary.requests = destination.client.stats.requests
            summary.retries = destination.client.stats.retries
            summary.rate_limited = destination.client.stats.rate_limited
            destination.close()
        summary.duration_s = round(time.perf_counter() - started, 3)
        summary.error = redact(summary.error) or None  # a URL in a message keeps no query or credentials
        try:
            if summary.journaled:
                summary.error = (f"the warehouse stayed locked by another process: {summary.journaled} outcomes "
                                 f"the destination confirmed wait in the sync's journal; the next run writes them "
                                 f"first")
            if run_started:
                _finish_run(store, journal, summary)
        finally:
            if journal is not None:
                journal.close()
            if lock is not None:
                lock.release()
    return summary


def _finish_run(store: StateStore, journal: Journal | None, summary: RunSummary) -> None:
    """End the run row; while the warehouse stays locked, the journal keeps it for the next run to write."""
    if not summary.journaled or journal is None:
        try:
            store.finish_run(summary.run_id, summary.status, summary.as_counts())
            return
        except duckdb.Error as exc:
            if journal is None or not is_lock_error(exc):
                raise
    journal.finish(summary.run_id, summary.status, summary.as_counts())


def replay_journal(cfg: SyncConfig, store: StateStore, journal: Journal, destination: Destination,
                   dest_key: str) -> int:
    """Write what an earlier run's journal holds: its confirmed outcomes, then each write it left in doubt as
    an open IN_DOUBT failure carrying the attempt (so the record is sent again whatever the model now says,
    a re-send of the same state keeping its delivery id). A lost create is looked up first where the
    destination can (`locate`: by the match value it was sent with), so the next write goes to the object
    it made, by id: an email changed since never leaves a second object. Returns the writes in doubt."""
    replay = journal.read()
    if replay.empty:
        return 0
    for dk, run_id, settlement in replay.outcomes:
        store.settle(cfg.name, dk, run_id, settlement)
    lost = [i for i in replay.in_doubt if i.destination_key == dest_key and not i.destination_id and i.match_value]
    locate = getattr(destination, "locate", None)
    found = locate([OutRecord(i.key, i.match_value or "", {}) for i in lost]) if lost and locate else {}
    by_run: dict[tuple[str, str], Settlement] = {}
    for i in replay.in_doubt:
        s = by_run.setdefault((i.destination_key, i.run_id), Settlement())
        s.failures.append((i.key, i.action, IN_DOUBT, "the run ended before the destination's answer was recorded",
                           Attempt(i.sent_hash, i.delivery_id, i.destination_id or found.get(i.key))))
    for (dk, run_id), settlement in by_run.items():
        store.settle(cfg.name, dk, run_id, settlement)
    for run_id, status, counts in replay.finished:
        store.finish_run(run_id, status, counts)
    journal.compact([])
    return len(replay.in_doubt)


def _run_events(cfg: SyncConfig, store: StateStore, destination: Destination, dest_key: str, summary: RunSummary,
                snap: Snapshot, dry_run: bool, full_resync: bool, progress: Progress | None,
                journal: Journal | None, erase: dict[str, str], privacy_only: bool) -> None:
    """An events sync (sync/events.py): record the fates decided without sending (baseline, not routed,
    consent skips, superseded) in one transaction, then deliver the rest in order, settling confirmations
    as every sync does."""
    from sync.events import plan_events  # sync.events imports this module's helpers

    if full_resync:
        raise InputError("--full-resync does not apply to an events sync: a delivered event is never sent again")
    persons: dict[str, list[str]] = {}  # person -> the keys of their delivered events
    for k, row in snap.state.items():
        if row.payload.get("person"):
            persons.setdefault(str(row.payload["person"]), []).append(k)
    with store.connect(read_only=dry_run) as con:
        erased = erased_keys(con, persons)
    erased.update({p: h for p, h in erase.items() if p in persons})
    if privacy_only:
        summary.deleted = summary.planned = len(erased)
        if not dry_run and erased:
            _erase_event_persons(cfg, store, destination, dest_key, summary, snap, persons, erased)
        summary.status = "dry_run" if dry_run else summary.status
        if not dry_run:
            _finish_status(cfg, summary)
        return
    plan = plan_events(cfg, snap, bool(getattr(destination, "keeps_latest_event", False)))
    summary.created = len(plan.deliver)
    summary.deleted = len(erased)
    summary.planned = summary.created + summary.deleted
    summary.excluded = len(plan.skipped)
    summary.skipped = plan.known + len([d for d in plan.decided if d[1] not in ("skipped", "baseline_marker")])
    summary.in_scope = len(plan.deliver) + len(plan.skipped)
    summary.invalid = len(plan.invalid)
    summary.plan_samples = {"create": [r.key for r in plan.deliver[:3]], "skip": [k for k, _ in plan.skipped[:3]]}
    _count_failures(summary, [(k, c) for k, c, _ in plan.invalid])
    if dry_run:
        summary.status = "dry_run"
        return
    if erased:
        _erase_event_persons(cfg, store, destination, dest_key, summary, snap, persons, erased)
    store.settle(cfg.name, dest_key, summary.run_id, Settlement(
        confirmed=[(k, fate, meta, None, None) for k, fate, meta in plan.decided],
        forgotten=plan.stale_failures,
        failures=[(k, "input", c, m, None) for k, c, m in plan.invalid],
        log=[(k, "skip", True, None, reason) for k, reason in plan.skipped]
        + [(k, "invalid", False, None, c) for k, c, _ in plan.invalid]))
    if plan.deliver and journal is not None:
        destination.prepare({})
        ex = _Executor(cfg, store, destination, dest_key, summary.run_id, summary, dict(snap.state), progress,
                       len(plan.deliver), journal)
        ex.journeys, ex.persons = plan.journeys, plan.persons
        send = destination.send_events
        try:
            for start in range(0, len(plan.deliver), cfg.batch_size):
                ex.run("event", send, plan.deliver[start:start + cfg.batch_size])
        finally:
            ex.flush()
    _finish_status(cfg, summary)


def _erase_event_persons(cfg: SyncConfig, store: StateStore, destination: Destination, dest_key: str,
                         summary: RunSummary, snap: Snapshot, persons: dict[str, list[str]],
                         erased: dict[str, str]) -> None:
    """An erased person's events were delivered: the destination gets the person's erasure (a webhook
    `delete` of the person, HubSpot's GDPR delete of the contact the events were written to), and once it is
    confirmed their events' state keeps no person id (so it is sent once)."""
    records = []
    for person in sorted(erased):
        rows = [snap.state[k] for k in sorted(persons[person])]
        dest_id = next((r.destination_id for r in rows if r.destination_id), None)
        records.append(OutRecord(person, person, {}, dest_id,
                                 delivery_id(cfg.name, person, "delete", "", rows[0].delivery_id or rows[0].payload_hash)))
    send = getattr(destination, "delete", None) or destination.archive
    out: list[RecordResult] = []
    for start in range(0, len(records), cfg.batch_size):
        send_with_split(send, records[start:start + cfg.batch_size], out)
    s = Settlement(erased={res.key: erased[res.key] for res in out})
    for res in out:
        if res.ok:
            for k in persons[res.key]:
                row = snap.state[k]
                meta = {name: v for name, v in row.payload.items() if name != "person"}
                s.confirmed.append((k, row.payload_hash, meta, row.destination_id, row.delivery_id))
        else:
            s.failures.append((res.key, "delete", res.error_code or "ERROR", res.message or "", None))
        s.log.append((res.key, "delete", res.ok, None, res.error_code))
    store.settle(cfg.name, dest_key, summary.run_id, s)
    summary.sent += len(out)
    summary.succeeded += sum(1 for r in out if r.ok)
    _count_failures(summary, [(r.key, r.error_code or "ERROR") for r in out if not r.ok])


def privacy_subset(plan: Plan, driven: set[str]) -> Plan:
    """Only what privacy and consent require: erasure deletes and the removals an opt-out or a suppression
    causes. Nothing is created, updated or merged."""
    return Plan(delete=plan.delete, archive=[r for r in plan.archive if r.key in driven],
                clear=[r for r in plan.clear if r.key in driven], in_scope=plan.in_scope, excluded=plan.excluded)


def option_values(cfg: SyncConfig, plan: Plan) -> dict[str, set[str]]:
    """Every value a multi-select property will receive in this run (its options must exist first)."""
    out: dict[str, set[str]] = {}
    for prop in cfg.fields:
        if cfg.property_type(prop) == "multi_select":
            out[prop] = {v for u in plan.upserts for v in u.record.properties.get(prop, "").split(";") if v}
    return out


def _summarise_plan(summary: RunSummary, plan: Plan) -> None:
    summary.excluded = plan.excluded
    summary.skipped = plan.unchanged
    summary.in_scope = plan.in_scope
    summary.created, summary.updated = len(plan.create), len(plan.update)
    summary.cleared, summary.archived, summary.merged = len(plan.clear), len(plan.archive), len(plan.merge)
    summary.deleted = len(plan.delete)
    summary.planned = len(plan.upserts) + len(plan.clear) + len(plan.archive) + len(plan.merge) + len(plan.delete)
    summary.plan_samples = {"create": [u.record.key for u in plan.create[:3]],
                            "update": [u.record.key for u in plan.update[:3]],
                            "clear": [r.key for r in plan.clear[:3]],
                            "archive": [r.key for r in plan.archive[:3]],
                            "merge": [f"{a}->{b}" for a, b in plan.merge[:3]]}


def _finish_status(cfg: SyncConfig, summary: RunSummary) -> None:
    if summary.failed == 0:
        summary.status = "success"
    elif summary.failed_share <= cfg.max_failed_share:
        summary.status = "partial"
    else:
        summary.status = "failed"
        summary.error = (f"{summary.failed} of {summary.in_scope} records failed ({summary.failed_share:.1%}), "
                         f"more than max_failed_share={cfg.max_failed_share:.0%}")
        summary.retryable = any(c.startswith("TRANSIENT") for c in summary.failures_by_code)


def _execute(cfg: SyncConfig, store: StateStore, destination: Destination, dest_key: str, summary: RunSummary,
             plan: Plan, snap: Snapshot, progress: Progress | None, journal: Journal, erased: dict[str, str]) -> None:
    """Order matters for identity: (1) merges into survivors that already have an object, so the retired
    object frees its email before the survivor's update may take it; (2) archives and clears, so a removed
    person's email is free before someone else's upsert; (3) upserts; (4) merges into survivors that got
    their object in (3)."""
    state = dict(snap.state)
    ex = _Executor(cfg, store, destination, dest_key, summary.run_id, summary, state, progress, summary.planned,
                   journal)
    ex.erased = erased
    try:
        _execute_actions(cfg, store, destination, dest_key, summary, plan, ex, state)
    finally:
        ex.flush()


def _execute_actions(cfg: SyncConfig, store: StateStore, destination: Destination, dest_key: str,
                     summary: RunSummary, plan: Plan, ex: _Executor, state: dict[str, StateRow]) -> None:
    hashes = {u.record.key: (u.hash, u.new) for u in plan.upserts}
    # privacy deletes first: the destination's own erasure call where it has one, else archive
    send_delete = getattr(destination, "delete", None) or destination.archive
    for start in range(0, len(plan.delete), cfg.batch_size):
        ex.run("delete", send_delete, plan.delete[start:start + cfg.batch_size])
    removing = {r.key for r in plan.archive + plan.clear + plan.delete} | {a for a, _ in plan.merge}
    ready = [(a, b) for a, b in plan.merge if state.get(b) and state[b].destination_id]
    _merge(cfg, store, destination, dest_key, summary, ex, state, ready, final=False)
    for action, records in (("archive", plan.archive), ("clear", plan.clear)):
        send = destination.archive if action == "archive" else destination.clear
        # an object another current record now owns (it took the same email) is released, not removed
        owned = {row.destination_id for k, row in state.items() if k not in removing and row.destination_id}
        shared = [r for r in records if r.destination_id and r.destination_id in owned]
        if shared:
            ex.settle(action, shared, [RecordResult(r.key, True, None) for r in shared], {})
        records = [r for r in records if r not in shared]
        for start in range(0, len(records), cfg.batch_size):
            ex.run(action, send, records[start:start + cfg.batch_size])
    # known records (by destination id, which a merge may have changed) and new ones go in separate batches
    upserts = [replace(u.record, destination_id=state[u.record.key].destination_id)
               if not u.new and state.get(u.record.key) else u.record for u in plan.upserts]
    known = [r for r in upserts if r.destination_id]
    new = [r for r in upserts if not r.destination_id]
    bulk = getattr(destination, "bulk_upsert", None)
    if bulk and cfg.bulk_threshold and len(upserts) >= cfg.bulk_threshold:
        ex.run("upsert", bulk, known + new, hashes, bulk=True)
    else:
        for group in (known, new):
            for start in range(0, len(group), cfg.batch_size):
                ex.run("upsert", destination.upsert, group[start:start + cfg.batch_size], hashes)
    done = {a for a, _ in ready}
    _merge(cfg, store, destination, dest_key, summary, ex, state, [(a, b) for a, b in plan.merge if a not in done],
           final=True)


def _merge(cfg: SyncConfig, store: StateStore, destination: Destination, dest_key: str, summary: RunSummary,
           ex: _Executor, state: dict[str, StateRow], merges: list[tuple[str, str]], final: bool) -> None:
    """Fold each retired person's object into its survivor's; one whose survivor has no object yet waits
    (a failure row, retried next run)."""
    pairs: list[tuple[OutRecord, OutRecord]] = []
    waiting: list[tuple[str, str, str]] = []
    same: list[OutRecord] = []
    for retired, survivor in merges:
        old, target = state.get(retired), state.get(survivor)
        rec = OutRecord(retired, (old.payload.get(cfg.match_key) if old else None) or retired, {},
                        old.destination_id if old else None,
                        delivery_id(cfg.name, retired, "merge", survivor,
                                    (old.delivery_id or old.payload_hash) if old else None))
        if target is None or not target.destination_id:
            waiting.append((retired, "SURVIVOR_NOT_SYNCED", f"waits for {survivor} to reach the destination"))
        elif rec.destination_id == target.destination_id:
            same.append(rec)  # the survivor took over the same object (matched by email): nothing to merge
        else:
            pairs.append((rec, OutRecord(survivor, target.payload.get(cfg.match_key) or survivor, {},
                                         target.destination_id)))
    if waiting and final:
        store.settle(cfg.name, dest_key, summary.run_id, Settlement(
            failures=[(k, "merge", c, m, None) for k, c, m in waiting],
            log=[(k, "merge", False, None, c) for k, c, _ in waiting]))
        _count_failures(summary, [(k, c) for k, c, _ in waiting])
    if same:
        ex.settle("merge", same, [RecordResult(r.key, True, r.destination_id) for r in same], {})
    merged_ids: dict[str, str] = {}  # a destination may give the merged object a new id: the survivor follows
    for start in range(0, len(pairs), cfg.batch_size):
        chunk = pairs[start:start + cfg.batch_size]
        survivors = {a.key: b for a, b in chunk}

        def send_merge(batch: list[OutRecord], _s: dict[str, OutRecord] = survivors) -> list[RecordResult]:
            results = destination.merge([(r, _s[r.key]) for r in batch])
            for res in results:
                if res.ok and res.destination_id and res.destination_id != _s[res.key].destination_id:
                    merged_ids[_s[res.key].key] = res.destination_id
            return results

        ex.run("merge", send_merge, [a for a, _ in chunk])
    if merged_ids:
        ex.flush()  # the survivors' pending confirmations first, then their new ids
    for survivor, new_id in merged_ids.items():
        row = state[survivor]
        state[survivor] = StateRow(row.payload_hash, new_id, row.payload, row.delivery_id)
        store.set_destination_id(cfg.name, dest_key, survivor, new_id)


def _count_failures(summary: RunSummary, failures: list[tuple[str, str]]) -> None:
    summary.failed += len(failures)
    for key, code in failures:
        summary.failures_by_code[code] += 1
        samples = summary.failure_samples.setdefault(code, [])
        if len(samples) < 3:
            samples.append(key)
