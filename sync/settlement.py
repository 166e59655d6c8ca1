"""Settlement: what the destination answered for each batch becomes state, failures and the action log,
journaled at once and written to the warehouse in short transactions about once a second."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable

from sync.batching import Send, send_whole, send_with_split
from sync.config import SyncConfig
from sync.destinations.base import Destination, OutRecord, RecordResult
from sync.journal import Intent, Journal
from sync.privacy_ledger import privacy_hash
from sync.state import Attempt, Settlement, StateRow, StateStore, is_lock_error
from sync.summary import RunSummary, count_failures

Progress = Callable[[int, int], None]
FLUSH_SECONDS = float(os.environ.get("CDP_SYNC_FLUSH_SECONDS", "1.0"))
FLUSH_BATCHES = 10  # a fast destination still gets a flush every this many batches: memory stays bounded


class Executor:
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
            (send_whole if bulk else send_with_split)(send, batch, out)
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
            pending.entries += self.pending.entries
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
                    # held as text until the flush: a fraction of the memory of the dict
                    s.confirmed.append((rec.key, hashes[rec.key][0], json.dumps(rec.properties, default=str),
                                        dest_id, rec.delivery_id))
                    # in memory only what merges and removals read (the warehouse gets the whole payload)
                    match = {self.cfg.match_key: rec.properties.get(self.cfg.match_key) or rec.match_value}
                    self.state[rec.key] = StateRow(hashes[rec.key][0], dest_id, match, rec.delivery_id)
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
        self.pending.entries += s.entries
        if (time.monotonic() - self.flushed_at >= max(FLUSH_SECONDS, 5 * self.flush_cost)
                or len(self.pending.log) >= FLUSH_BATCHES * self.cfg.batch_size):
            self.flush()
        self.summary.sent += len(batch)
        self.summary.succeeded += sum(1 for r in results if r.ok)
        count_failures(self.summary, [(r.key, r.error_code or "ERROR") for r in results if not r.ok])
        self.done += len(batch)
        if self.progress:
            self.progress(self.done, self.total)
