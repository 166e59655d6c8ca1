"""Planning: compare the model with this destination's state, and decide each record's action.

- bad input is not sent: null and duplicate keys, a missing match value, a match value two records share
  become failures with a code (duplicate keys count as present, so they are never archived);
- new records are created (matched by the destination's match key first), known ones are updated through
  the destination id they got, unchanged ones are skipped unless they have an open failure (the outcome
  of their last write is unknown, so they are sent again whatever their hash); a record whose only change
  is a number drifting within its field's tolerance of the value last delivered counts as unchanged;
- records that left the model follow the identity graph: a person id retired by a merge
  (person_id_history) is merged into its survivor's object; any other is archived, cleared or kept per
  `on_delete`; erased persons are deleted.

The model is read in chunks and the planned upserts go to a spool on local disk (an unlinked temporary
file, gone when the process ends), read back one batch at a time: memory holds one chunk of rows, one
batch of records and a few small values per key (state hash and destination id, keys seen, match values
seen), not the plan."""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field

from sync.config import SyncConfig
from sync.destinations.base import OutRecord
from sync.state import Snapshot, StateRow
from sync.values import format_value, next_delivery, payload_hash, to_text, within_tolerance


@dataclass
class Upsert:
    record: OutRecord
    hash: str
    new: bool


class Spool:
    """Planned upserts in a temporary file, one JSON line each, read back in batches."""

    def __init__(self) -> None:
        self._fh = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115 (lives with the plan)
        self.count = 0
        self.samples: list[str] = []
        self.peak = 0  # most records read back at once

    def add(self, u: Upsert) -> None:
        r = u.record
        self._fh.write(json.dumps([r.key, r.match_value, r.properties, r.destination_id, r.delivery_id, u.hash,
                                   u.new], separators=(",", ":")) + "\n")
        self.count += 1
        if len(self.samples) < 3:
            self.samples.append(r.key)

    def batches(self, size: int) -> Iterator[list[Upsert]]:
        self._fh.flush()
        self._fh.seek(0)
        batch: list[Upsert] = []
        for line in self._fh:
            key, match, props, dest_id, did, h, new = json.loads(line)
            batch.append(Upsert(OutRecord(key, match, props, dest_id, did), h, new))
            if len(batch) >= size:
                self.peak = max(self.peak, len(batch))
                yield batch
                batch = []
        if batch:
            self.peak = max(self.peak, len(batch))
            yield batch
        self._fh.seek(0, 2)

    def __iter__(self) -> Iterator[Upsert]:
        for batch in self.batches(500):
            yield from batch

    def close(self) -> None:
        self._fh.close()


@dataclass
class Plan:
    known: Spool = field(default_factory=Spool)  # upserts by the destination id they have
    new: Spool = field(default_factory=Spool)    # upserts by match key (creates, and updates without an id)
    clear: list[OutRecord] = field(default_factory=list)
    archive: list[OutRecord] = field(default_factory=list)
    merge: list[tuple[str, str]] = field(default_factory=list)  # retired key, survivor key
    delete: list[OutRecord] = field(default_factory=list)  # privacy erasure: removed, never sent again
    creates: int = 0
    updates: int = 0
    unchanged: int = 0
    excluded: int = 0
    kept: int = 0
    in_scope: int = 0   # records of the model the sync covers (not excluded)
    stale_failures: list[str] = field(default_factory=list)  # open failures of keys no longer anywhere
    invalid: list[tuple[str, str, str]] = field(default_factory=list)  # key, code, message
    options: dict[str, set[str]] = field(default_factory=dict)  # every value a multi-select property gets
    opted_out: set[str] = field(default_factory=set)  # keys in the model but excluded as unsubscribed
    peak_rows: int = 0  # most model rows held at once while planning

    def add(self, u: Upsert) -> None:
        (self.known if u.record.destination_id else self.new).add(u)
        if u.new:
            self.creates += 1
        else:
            self.updates += 1

    @property
    def upserts(self) -> list[Upsert]:
        """Every planned upsert (reads the spools whole: for small plans and tests)."""
        return [*self.known, *self.new]

    @property
    def create(self) -> list[Upsert]:
        return [u for u in self.upserts if u.new]

    @property
    def update(self) -> list[Upsert]:
        return [u for u in self.upserts if not u.new]

    def close(self) -> None:
        self.known.close()
        self.new.close()


def resolve_survivor(key: str, merges: dict[str, str]) -> str:
    """Follow merges (retired id -> survivor id) to the id that is current now."""
    seen = {key}
    while key in merges and merges[key] not in seen:
        key = merges[key]
        seen.add(key)
    return key


def build_plan(cfg: SyncConfig, snap: Snapshot, full_resync: bool = False, erase: Collection[str] = (),
               rows: Iterable[list[dict]] | None = None, duplicates: dict[str, int] | None = None) -> Plan:
    """`rows`: the model in chunks (default: `snap.rows` as one chunk); `duplicates`: keys that more than one
    row has, with their count (default: counted from `snap.rows`). `erase`: keys to remove from the
    destination for a privacy request (never sent again, deleted where they were sent, never counted by the
    removal guard)."""
    plan = Plan()
    erase = set(erase)
    if rows is None:
        rows = [snap.rows]
        duplicates = {k: n for k, n in Counter(to_text(r.get(cfg.key)) for r in snap.rows).items() if n > 1}
    duplicates = duplicates or {}
    seen_match: set[str] = set()
    fields = list(cfg.fields.items())
    dated = {dest for dest, _ in fields if cfg.property_type(dest) == "date"}
    multi = [dest for dest, _ in fields if cfg.property_type(dest) == "multi_select"]
    plan.options = {dest: set() for dest in multi}
    present: set[str] = set()       # keys in the model (valid or not): never archived
    current: set[str] = set()       # keys whose record is in the destination's future (sent or unchanged)
    i = 0
    for chunk in rows:
        plan.peak_rows = max(plan.peak_rows, len(chunk))
        for row in chunk:
            i += 1
            key = to_text(row.get(cfg.key))
            if not key:
                plan.invalid.append((f"(null key, row {i})", "NULL_KEY", f"{cfg.key} is null"))
                continue
            present.add(key)
            if key in erase:
                continue
            if cfg.exclude_opted_out and row.get("email_consent") == "unsubscribed":
                plan.excluded += 1
                plan.opted_out.add(key)
                present.discard(key)  # an opted-out person leaves the audience like one who left the model
                continue
            plan.in_scope += 1
            if key in duplicates:
                plan.invalid.append((key, "DUPLICATE_KEY", f"{duplicates[key]} rows of {cfg.model} have this {cfg.key}"))
                continue
            payload = {dest: (format_value(row[col], "date") if dest in dated
                              else format_value(row[col], "number", cfg.rounding[dest]) if dest in cfg.rounding
                              else to_text(row[col]))
                       for dest, col in fields}
            match_value = payload.get(cfg.match_key) or to_text(row.get(cfg.match_key))
            if not match_value:
                plan.invalid.append((key, "MISSING_MATCH_KEY", f"no value for {cfg.match_key}"))
                continue
            if match_value.lower() in seen_match:
                plan.invalid.append((key, "DUPLICATE_MATCH_KEY", f"another record has {cfg.match_key} = this value"))
                continue
            seen_match.add(match_value.lower())
            current.add(key)
            _plan_upsert(cfg, snap, plan, key, match_value, payload, full_resync)
    _plan_removals(cfg, snap, plan, erase, present, current)
    return plan


def _plan_upsert(cfg: SyncConfig, snap: Snapshot, plan: Plan, key: str, match_value: str, payload: dict[str, str],
                 full_resync: bool) -> None:
    h = payload_hash(payload)
    previous = snap.state.get(key)
    tried = snap.attempts.get(key)
    did = next_delivery(cfg.name, key, "upsert", h, previous, tried)
    if previous is None and tried is not None and tried.destination_id:
        # a create whose answer was lost, found in the destination since: written there by its id
        upsert = Upsert(OutRecord(key, match_value, payload, tried.destination_id, did), h, False)
    elif previous is None:
        if cfg.mode == "update_only":
            return
        upsert = Upsert(OutRecord(key, match_value, payload, None, did), h, True)
    elif full_resync or key in snap.failures or (
            previous.payload_hash != h
            and not within_tolerance(payload, previous.payload, previous.payload_hash, cfg.tolerances)):
        upsert = Upsert(OutRecord(key, match_value, payload, previous.destination_id, did), h, False)
    else:
        plan.unchanged += 1
        return
    for prop in plan.options:
        plan.options[prop].update(v for v in payload.get(prop, "").split(";") if v)
    plan.add(upsert)


def _plan_removals(cfg: SyncConfig, snap: Snapshot, plan: Plan, erase: set[str], present: set[str],
                   current: set[str]) -> None:
    # objects a lost create made (found by `locate`) are the record's too, until state confirms one
    lost = {k: StateRow(t.payload_hash or "", t.destination_id, {}) for k, t in snap.attempts.items()
            if t.destination_id and k not in snap.state}
    for key, old in {**lost, **snap.state}.items():
        tried = snap.attempts.get(key)
        match_value = old.payload.get(cfg.match_key) or key
        if key in erase:
            plan.delete.append(OutRecord(key, match_value, {}, old.destination_id,
                                         next_delivery(cfg.name, key, "delete", "", old, tried)))
            continue
        if key in present:
            continue
        survivor = resolve_survivor(key, snap.merges)
        if survivor != key and survivor in current:
            plan.merge.append((key, survivor))
            continue
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


def privacy_subset(plan: Plan, driven: set[str]) -> Plan:
    """Only what privacy and consent require: erasure deletes and the removals an opt-out or a suppression
    causes. Nothing is created, updated or merged."""
    plan.close()
    return Plan(delete=plan.delete, archive=[r for r in plan.archive if r.key in driven],
                clear=[r for r in plan.clear if r.key in driven], in_scope=plan.in_scope, excluded=plan.excluded)
