"""The sync engine: plan (new, changed, unchanged, cleared), send in batches, advance state only for
what the destination confirmed, record failures for retry on the next run, log the run."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sync.config import SyncConfig
from sync.destinations.base import Destination, OutRecord, RecordResult
from sync.errors import (
    AuthError,
    CircuitOpenError,
    MirrorGuardError,
    SyncError,
    TerminalError,
    TransientError,
)
from sync.state import StateStore

Progress = Callable[[int, int], None]


def to_text(value: object) -> str:
    """Destination values are strings; a missing value is "" (which clears the field)."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def payload_hash(payload: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass
class Plan:
    create: list[tuple[OutRecord, str]] = field(default_factory=list)
    update: list[tuple[OutRecord, str]] = field(default_factory=list)
    clear: list[OutRecord] = field(default_factory=list)
    unchanged: int = 0
    excluded: int = 0
    invalid: list[tuple[str, str, str]] = field(default_factory=list)  # key, code, message


@dataclass
class RunSummary:
    sync_name: str
    run_id: str
    status: str = "running"
    dry_run: bool = False
    planned: int = 0
    created: int = 0
    updated: int = 0
    cleared: int = 0
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    skipped: int = 0
    excluded: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    duration_s: float = 0.0
    error: str | None = None
    failures_by_code: Counter = field(default_factory=Counter)
    failure_samples: dict[str, list[str]] = field(default_factory=dict)
    plan_samples: dict[str, list[str]] = field(default_factory=dict)  # a few keys per planned action

    def as_counts(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in (
            "planned", "created", "updated", "cleared", "sent", "succeeded", "failed", "skipped", "excluded",
            "requests", "retries", "rate_limited", "duration_s", "error")}


def build_plan(cfg: SyncConfig, rows: list[dict], state: dict, full_resync: bool) -> Plan:
    plan = Plan()
    seen_match: set[str] = set()
    present: set[str] = set()
    for row in rows:
        key = to_text(row[cfg.key])
        if cfg.exclude_opted_out and row.get("email_consent") == "unsubscribed":
            plan.excluded += 1
            continue
        present.add(key)
        payload = {dest: to_text(row[col]) for dest, col in cfg.fields.items()}
        match_value = payload.get(cfg.match_key) or to_text(row.get(cfg.match_key))
        if not match_value:
            plan.invalid.append((key, "MISSING_MATCH_KEY", f"no value for {cfg.match_key}"))
            continue
        if match_value.lower() in seen_match:
            plan.invalid.append((key, "DUPLICATE_MATCH_KEY", f"another record has {cfg.match_key} = this value"))
            continue
        seen_match.add(match_value.lower())
        h = payload_hash(payload)
        previous = state.get(key)
        rec = OutRecord(key, match_value, payload)
        if previous is None:
            if cfg.mode != "update_only":
                plan.create.append((rec, h))
        elif full_resync or previous[0] != h:
            plan.update.append((rec, h))
        else:
            plan.unchanged += 1
    if cfg.mode == "mirror":
        for key, (_h, _dest_id, old_payload) in state.items():
            if key not in present:
                old = json.loads(old_payload) if old_payload else {}
                match_value = old.get(cfg.match_key, key)
                cleared = {dest: (old.get(dest, "") if dest == cfg.match_key else "") for dest in cfg.fields}
                plan.clear.append(OutRecord(key, match_value, cleared))
    return plan


def send_with_split(send: Callable[[list[OutRecord]], list[RecordResult]], batch: list[OutRecord]) -> list[RecordResult]:
    """A batch the destination rejects as a whole is split in halves until the bad records stand alone."""
    try:
        return send(batch)
    except AuthError:
        raise
    except TerminalError as exc:
        if len(batch) == 1:
            return [RecordResult(batch[0].key, False, None, f"HTTP_{exc.status or 'ERROR'}", str(exc))]
        mid = len(batch) // 2
        return send_with_split(send, batch[:mid]) + send_with_split(send, batch[mid:])


def run_sync(cfg: SyncConfig, db_path: Path, destination_factory: Callable[[SyncConfig], Destination], *,
             dry_run: bool = False, full_resync: bool = False, force_clear: bool = False,
             progress: Progress | None = None) -> RunSummary:
    started = time.perf_counter()
    store = StateStore(db_path)
    run_id = store.start_run(cfg.name, dry_run)
    summary = RunSummary(cfg.name, run_id, dry_run=dry_run)
    destination: Destination | None = None
    try:
        rows = store.read_model(cfg.model, cfg.columns)
        state = store.state(cfg.name)
        plan = build_plan(cfg, rows, state, full_resync)
        summary.excluded = plan.excluded
        summary.skipped = plan.unchanged
        summary.planned = len(plan.create) + len(plan.update) + len(plan.clear)
        summary.created, summary.updated, summary.cleared = len(plan.create), len(plan.update), len(plan.clear)
        summary.plan_samples = {"create": [r.key for r, _ in plan.create[:3]],
                                "update": [r.key for r, _ in plan.update[:3]],
                                "clear": [r.key for r in plan.clear[:3]]}
        if plan.clear and not force_clear and len(plan.clear) > cfg.max_clear_share * max(1, len(state)):
            raise MirrorGuardError(
                f"mirror mode would clear {len(plan.clear)} of {len(state)} synced records, more than "
                f"max_clear_share={cfg.max_clear_share}; check the model, or run with --force-clear")
        if plan.invalid:
            store.fail(cfg.name, run_id, plan.invalid)
            _count_failures(summary, [(k, c) for k, c, _ in plan.invalid])
        if dry_run:
            summary.status = "dry_run"
            return summary
        if summary.planned == 0:
            summary.status = "success" if not plan.invalid else "partial"
            return summary

        destination = destination_factory(cfg)
        destination.prepare()
        hashes = {rec.key: h for rec, h in plan.create + plan.update}
        work = [("upsert", rec) for rec, _ in plan.create + plan.update] + [("clear", rec) for rec in plan.clear]
        done, total = 0, len(work)
        bulk = getattr(destination, "bulk_upsert", None)
        if bulk and cfg.bulk_threshold and len(plan.create) + len(plan.update) >= cfg.bulk_threshold:
            upserts = [rec for a, rec in work if a == "upsert"]
            _settle(store, cfg, run_id, summary, upserts, hashes, "upsert", bulk(upserts))
            work = [(a, rec) for a, rec in work if a != "upsert"]
            done = len(upserts)
            if progress:
                progress(done, total)
        for start in range(0, len(work), cfg.batch_size):
            chunk = work[start:start + cfg.batch_size]
            for action in ("upsert", "clear"):
                batch = [rec for a, rec in chunk if a == action]
                if not batch:
                    continue
                send = destination.upsert if action == "upsert" else destination.clear
                try:
                    results = send_with_split(send, batch)
                except TransientError as exc:
                    results = [RecordResult(r.key, False, None, f"TRANSIENT_{exc.status or 'NETWORK'}", str(exc))
                               for r in batch]
                _settle(store, cfg, run_id, summary, batch, hashes, action, results)
            done += len(chunk)
            if progress:
                progress(done, total)
        summary.status = "success" if summary.failed == 0 else "partial"
    except (CircuitOpenError, AuthError, MirrorGuardError, LookupError, SyncError) as exc:
        summary.status = "failed"
        summary.error = f"{type(exc).__name__}: {exc}"
    finally:
        if destination is not None:
            summary.requests = destination.client.stats.requests
            summary.retries = destination.client.stats.retries
            summary.rate_limited = destination.client.stats.rate_limited
            destination.close()
        summary.duration_s = round(time.perf_counter() - started, 3)
        store.finish_run(run_id, summary.status, summary.as_counts())
        store.close()
    return summary


def _settle(store: StateStore, cfg: SyncConfig, run_id: str, summary: RunSummary, batch: list[OutRecord],
            hashes: dict[str, str], action: str, results: list[RecordResult]) -> None:
    """Advance state for what the destination confirmed; record the rest as failures."""
    summary.sent += len(batch)
    by_key = {r.key: r for r in batch}
    ok = [r for r in results if r.ok]
    bad = [r for r in results if not r.ok]
    if action == "upsert":
        store.confirm(cfg.name, [(r.key, hashes[r.key], by_key[r.key].properties, r.destination_id) for r in ok])
    else:
        store.forget(cfg.name, [r.key for r in ok])
    store.fail(cfg.name, run_id, [(r.key, r.error_code or "ERROR", r.message or "") for r in bad])
    summary.succeeded += len(ok)
    _count_failures(summary, [(r.key, r.error_code or "ERROR") for r in bad])


def _count_failures(summary: RunSummary, failures: list[tuple[str, str]]) -> None:
    summary.failed += len(failures)
    for key, code in failures:
        summary.failures_by_code[code] += 1
        samples = summary.failure_samples.setdefault(code, [])
        if len(samples) < 3:
            samples.append(key)
