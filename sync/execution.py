"""Execution: the plan's actions in the order identity needs, batch by batch (planned upserts are read
back from the plan's spool one batch at a time)."""

from __future__ import annotations

from dataclasses import replace

from sync.config import SyncConfig
from sync.destinations.base import Destination, RecordResult
from sync.journal import Journal
from sync.merges import merge
from sync.planning import Plan
from sync.settlement import Executor, Progress
from sync.state import Snapshot, StateRow, StateStore
from sync.summary import RunSummary

BULK_RECORDS = 10_000  # records per bulk job: one job's CSV is the most a run holds at once


def execute(cfg: SyncConfig, store: StateStore, destination: Destination, dest_key: str, summary: RunSummary,
            plan: Plan, snap: Snapshot, progress: Progress | None, journal: Journal, erased: dict[str, str]) -> None:
    """Order matters for identity: (1) merges into survivors that already have an object, so the retired
    object frees its email before the survivor's update may take it; (2) archives and clears, so a removed
    person's email is free before someone else's upsert; (3) upserts; (4) merges into survivors that got
    their object in (3)."""
    state = dict(snap.state)
    ex = Executor(cfg, store, destination, dest_key, summary.run_id, summary, state, progress, summary.planned,
                  journal)
    ex.erased = erased
    try:
        _execute_actions(cfg, store, destination, dest_key, summary, plan, ex, state)
    finally:
        ex.flush()


def _execute_actions(cfg: SyncConfig, store: StateStore, destination: Destination, dest_key: str,
                     summary: RunSummary, plan: Plan, ex: Executor, state: dict[str, StateRow]) -> None:
    # privacy deletes first: the destination's own erasure call where it has one, else archive
    send_delete = getattr(destination, "delete", None) or destination.archive
    for start in range(0, len(plan.delete), cfg.batch_size):
        ex.run("delete", send_delete, plan.delete[start:start + cfg.batch_size])
    removing = {r.key for r in plan.archive + plan.clear + plan.delete} | {a for a, _ in plan.merge}
    ready = [(a, b) for a, b in plan.merge if state.get(b) and state[b].destination_id]
    merge(cfg, store, destination, dest_key, summary, ex, state, ready, final=False)
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
    bulk = getattr(destination, "bulk_upsert", None)
    use_bulk = bool(bulk and cfg.bulk_threshold and plan.known.count + plan.new.count >= cfg.bulk_threshold)
    for spool in (plan.known, plan.new):
        for batch in spool.batches(BULK_RECORDS if use_bulk else cfg.batch_size):
            hashes = {u.record.key: (u.hash, u.new) for u in batch}
            records = [replace(u.record, destination_id=state[u.record.key].destination_id)
                       if not u.new and state.get(u.record.key) and state[u.record.key].destination_id else u.record
                       for u in batch]
            ex.run("upsert", bulk if use_bulk else destination.upsert, records, hashes, bulk=use_bulk)
    done = {a for a, _ in ready}
    merge(cfg, store, destination, dest_key, summary, ex, state, [(a, b) for a, b in plan.merge if a not in done],
          final=True)
