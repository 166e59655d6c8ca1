"""A sync run's lifecycle: lock, run row, destination identity, journal replay, planning, execution, and a
run row that ends whatever happens. The parts live beside it: planning (`planning`), sending in batches
(`batching`, `execution`), settling confirmations (`settlement`, `journal`), merges (`merges`), events
syncs (`events`), counts (`summary`) and value helpers (`values`)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Collection
from pathlib import Path

import duckdb

from sync.batching import send_with_split
from sync.config import SyncConfig
from sync.destinations.base import Destination, OutRecord
from sync.errors import MirrorGuardError, RateLimitExhausted, SyncError, SyncLockedError
from sync.events import run_events
from sync.execution import execute
from sync.journal import IN_DOUBT, Journal
from sync.lock import SyncLock
from sync.planning import Plan, build_plan, privacy_subset
from sync.privacy_ledger import consent_or_privacy_driven, erased_keys, privacy_hash, purge_erased_state
from sync.redact import redact
from sync.settlement import Progress
from sync.spark_reader import mirror_tables, spark_target, sync_queries
from sync.state import Attempt, Settlement, StateStore, duplicate_keys, is_lock_error, model_chunks, read_snapshot
from sync.summary import RunSummary, count_failures, finish_status
from sync.values import delivery_id, payload_hash, to_text

__all__ = ["RunSummary", "build_plan", "delivery_id", "payload_hash", "replay_journal", "run_sync",
           "send_with_split", "to_text"]


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
    plan: Plan | None = None
    run_started = False
    try:
        if not dry_run:
            lock = SyncLock.acquire(db_path, cfg.name, summary.run_id)
            summary.run_id = store.start_run(cfg.name, dry_run)
            lock.record(summary.run_id)
            run_started = True
        if spark_target():  # on Spark the run plans from a copy of its model made now (sync/spark_reader.py)
            mirror_tables(sync_queries(cfg.model), store.connect)
        destination = destination_factory(cfg)
        dest_key = destination.identify()
        summary.destination_key = dest_key
        if run_started:
            store.set_run_destination(summary.run_id, dest_key)
        if journal is not None:  # what an earlier run confirmed or left in doubt, before anything is planned
            replay_journal(cfg, store, journal, destination, dest_key)
            with store.connect() as con:  # state of destinations this run cannot reach keeps no erased person
                purge_erased_state(con, cfg.name, dest_key)
        erased = {k: privacy_hash("person_id", k) for k in erase_keys}
        if cfg.mode == "events":
            snap = store.load(cfg.name, dest_key, cfg.model, cfg.columns, read_only=dry_run)
            run_events(cfg, store, destination, dest_key, summary, snap, dry_run, full_resync, progress, journal,
                       erased, privacy_only)
            return summary
        with store.connect(read_only=dry_run) as con:  # one read: state, then the model in chunks
            snap = read_snapshot(con, cfg.name, dest_key, cfg.model, cfg.columns, rows=False, match_key=cfg.match_key,
                                 keep=cfg.tolerances)
            erased.update(erased_keys(con, snap.state))  # erased persons (privacy requests)
            plan = build_plan(cfg, snap, full_resync, erased, rows=model_chunks(con, cfg.model, cfg.columns),
                              duplicates=duplicate_keys(con, cfg.model, cfg.key))
            # removals caused by an opt-out or a privacy request are always delivered: the guard counts the others
            driven = consent_or_privacy_driven(con, [r.key for r in plan.clear + plan.archive], plan.opted_out)
        if privacy_only:
            plan = privacy_subset(plan, driven)
        _summarise_plan(summary, plan)
        removals = len(plan.clear) + len(plan.archive) - len(driven)
        if removals and not force_clear and removals > cfg.max_clear_share * max(1, len(snap.state)):
            raise MirrorGuardError(
                f"the run would {cfg.removal} {removals} of {len(snap.state)} synced records, more than "
                f"max_clear_share={cfg.max_clear_share} ({len(driven)} more removals are consent or privacy "
                f"driven and not held back); check the model, or run with --force-clear")
        count_failures(summary, [(k, c) for k, c, _ in plan.invalid])
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
            destination.prepare(plan.options)
            execute(cfg, store, destination, dest_key, summary, plan, snap, progress, journal, erased)
        finish_status(cfg, summary)
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
        if plan is not None:
            plan.close()
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
    applied = store.applied_entries(cfg.name)  # a crash after a flush, before the journal was rewritten
    for dk, run_id, settlement in replay.outcomes:
        if not (settlement.entries and set(settlement.entries) <= applied):
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


def _summarise_plan(summary: RunSummary, plan: Plan) -> None:
    summary.excluded = plan.excluded
    summary.skipped = plan.unchanged
    summary.in_scope = plan.in_scope
    summary.created, summary.updated = plan.creates, plan.updates
    summary.cleared, summary.archived, summary.merged = len(plan.clear), len(plan.archive), len(plan.merge)
    summary.deleted = len(plan.delete)
    summary.planned = (plan.creates + plan.updates + len(plan.clear) + len(plan.archive) + len(plan.merge)
                       + len(plan.delete))
    summary.plan_samples = {"create": plan.new.samples[:3] if plan.creates else [],
                            "update": plan.known.samples[:3] if plan.updates else [],
                            "clear": [r.key for r in plan.clear[:3]],
                            "archive": [r.key for r in plan.archive[:3]],
                            "merge": [f"{a}->{b}" for a, b in plan.merge[:3]]}
