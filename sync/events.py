"""Events syncs (`mode: events`, docs/profiles-segments-journeys.md): append-only delivery of the rows of an events model,
each keyed by its event id and delivered exactly once in effect.

Each event's fate is decided once and kept in `cdp_sync.sync_state` (record_key = event id, payload_hash =
the fate, payload = {"status", "journey", "reason"}; no personal data):
- `delivered`: the destination confirmed it. Delivery carries the event id as delivery (idempotency) id,
  so the resend of an event whose confirmation was lost (a dropped response, a crash before the state
  flush) is dropped by the receiver; a confirmed event is never sent again, updated or removed.
- `skipped`: the sync's purpose is marketing and the address was not subscribed when the event was due
  (consent is read at delivery, from the latest build); recorded with the reason, never sent, and not
  retried when the person subscribes later (a journey event is about its moment; a later re-subscription
  does not replay old events). The skip is in `sync_record_log` too (action `skip`, code CONSENT_...).
- `superseded`: a destination that keeps only a person's latest event (HubSpot contact properties) already
  has a later event of that person; the older one is not sent.
- `not_routed`: no journey of the sync matches it (a journey added later applies to events after it).
- `baseline`: it was in the model at the sync's first run against this destination, or occurred no later
  than the latest event then (it reaches the model late: a person who gets an email, an id merged into
  another), and `backfill` is false (the default: like Hightouch and Census event syncs, a new sync starts
  from now instead of replaying history); a marker row (`__baseline__`, with that instant as `through`)
  says the first run happened. With `backfill: true` the first run delivers every event.
Events without a fate (new, or whose delivery failed or was not confirmed) are sent on the next run, in
order of occurrence; failures go to `sync_failures` like any record's. State is written as the engine
writes it for other syncs: confirmed batches in one transaction about once a second."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sync.batching import send_with_split
from sync.config import JOURNEY_FIELD, SyncConfig
from sync.destinations.base import Destination, OutRecord, RecordResult
from sync.errors import InputError
from sync.journal import Journal
from sync.privacy_ledger import erased_keys
from sync.settlement import Executor, Progress
from sync.state import Settlement, Snapshot, StateStore
from sync.summary import RunSummary, count_failures, finish_status
from sync.values import delivery_id, iso_utc, to_text

BASELINE_KEY = "__baseline__"


@dataclass
class EventPlan:
    deliver: list[OutRecord] = field(default_factory=list)        # in order of occurrence
    journeys: dict[str, str] = field(default_factory=dict)         # event id -> journey that routed it
    persons: dict[str, str] = field(default_factory=dict)          # event id -> its person
    decided: list[tuple[str, str, dict]] = field(default_factory=list)  # event id, fate, state payload
    skipped: list[tuple[str, str]] = field(default_factory=list)   # event id, reason (consent)
    invalid: list[tuple[str, str, str]] = field(default_factory=list)  # key, code, message
    known: int = 0          # events whose fate was decided by an earlier run
    first_run: bool = False
    stale_failures: list[str] = field(default_factory=list)       # open failures of events no longer in the model

    def count(self, fate: str) -> int:
        return sum(1 for _, f, _ in self.decided if f == fate)


def payload(cfg: SyncConfig, row: dict, journey_name: str, selected: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for dest, col in cfg.fields.items():
        if selected and dest not in selected:
            continue
        value = journey_name if col == JOURNEY_FIELD else row.get(col)
        kind = cfg.property_type(dest)
        out[dest] = iso_utc(value) if kind == "datetime" or isinstance(value, datetime) else to_text(value)
    return out


def _order(row: dict) -> tuple:
    at = row.get("occurred_at")
    return (at.isoformat() if isinstance(at, datetime) else to_text(at), to_text(row.get("event_id")))


def plan_events(cfg: SyncConfig, snap: Snapshot, keeps_latest: bool = False) -> EventPlan:
    """Decide what this run does with each event of the model (pure: no I/O)."""
    plan = EventPlan(first_run=BASELINE_KEY not in snap.state)
    # events that occurred by the first run's latest event belong to the baseline, also when they reach the
    # model only later (a person who gets an email, an id merged into another)
    marker = snap.state.get(BASELINE_KEY)
    through = str(marker.payload.get("through") or "") if marker is not None else ""
    keys = {}
    for row in snap.rows:
        k = to_text(row.get(cfg.key))
        keys[k] = keys.get(k, 0) + 1
    numbered = sorted(enumerate(snap.rows, 1), key=lambda item: _order(item[1]))  # (row number in the model, row)
    rows = [row for _, row in numbered]
    # the latest occurrence already delivered per person (destinations that keep only the latest event)
    latest: dict[str, tuple] = {}
    if keeps_latest:
        for row in rows:
            st = snap.state.get(to_text(row.get(cfg.key)))
            if st is not None and st.payload_hash == "delivered":
                latest[to_text(row.get("person_id"))] = _order(row)
    seen: set[str] = set()
    for i, row in numbered:
        key = to_text(row.get(cfg.key))
        if not key:
            plan.invalid.append((f"(null key, row {i})", "NULL_KEY", f"{cfg.key} is null"))
            continue
        seen.add(key)
        if key in snap.state:
            plan.known += 1
            continue
        if keys[key] > 1:
            plan.invalid.append((key, "DUPLICATE_KEY", f"{keys[key]} rows of {cfg.model} have this {cfg.key}"))
            continue
        if (plan.first_run and not cfg.backfill) or (through and _order(row)[0] <= through):
            plan.decided.append((key, "baseline", {"status": "baseline"}))
            continue
        journey = cfg.journey_for(row)
        if journey is None:
            plan.decided.append((key, "not_routed", {"status": "not_routed"}))
            continue
        if cfg.purpose == "marketing" and row.get("email_consent") != "subscribed":
            reason = f"CONSENT_{to_text(row.get('email_consent') or 'unknown').upper()}"
            plan.decided.append((key, "skipped", {"status": "skipped", "journey": journey.name, "reason": reason}))
            plan.skipped.append((key, reason))
            continue
        person = to_text(row.get("person_id"))
        if keeps_latest and person in latest and latest[person][0] > _order(row)[0]:  # strictly older only
            plan.decided.append((key, "superseded", {"status": "superseded", "journey": journey.name}))
            continue
        props = payload(cfg, row, journey.name, journey.fields)
        match_value = props.get(cfg.match_key) or to_text(row.get(cfg.match_key))
        if not match_value:
            plan.invalid.append((key, "MISSING_MATCH_KEY", f"no value for {cfg.match_key}"))
            continue
        plan.deliver.append(OutRecord(key, match_value, props, None, key))
        plan.journeys[key] = journey.name
        plan.persons[key] = person
    if plan.first_run:
        latest_at = max((_order(r)[0] for r in rows), default="") if not cfg.backfill else ""
        plan.decided.append((BASELINE_KEY, "baseline_marker", {
            "status": "baseline_marker", "backfill": cfg.backfill, "baseline_events": plan.count("baseline"),
            "through": latest_at, "at": datetime.now(UTC).isoformat(timespec="seconds")}))
    invalid = {k for k, _, _ in plan.invalid}
    plan.stale_failures = sorted(set(snap.failures) - seen - invalid)
    return plan


def run_events(cfg: SyncConfig, store: StateStore, destination: Destination, dest_key: str, summary: RunSummary,
               snap: Snapshot, dry_run: bool, full_resync: bool, progress: Progress | None,
               journal: Journal | None, erase: dict[str, str], privacy_only: bool) -> None:
    """An events sync: record the fates decided without sending (baseline, not routed,
    consent skips, superseded) in one transaction, then deliver the rest in order, settling confirmations
    as every sync does."""
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
            erase_event_persons(cfg, store, destination, dest_key, summary, snap, persons, erased)
        summary.status = "dry_run" if dry_run else summary.status
        if not dry_run:
            finish_status(cfg, summary)
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
    count_failures(summary, [(k, c) for k, c, _ in plan.invalid])
    if dry_run:
        summary.status = "dry_run"
        return
    if erased:
        erase_event_persons(cfg, store, destination, dest_key, summary, snap, persons, erased)
    store.settle(cfg.name, dest_key, summary.run_id, Settlement(
        confirmed=[(k, fate, meta, None, None) for k, fate, meta in plan.decided],
        forgotten=plan.stale_failures,
        failures=[(k, "input", c, m, None) for k, c, m in plan.invalid],
        log=[(k, "skip", True, None, reason) for k, reason in plan.skipped]
        + [(k, "invalid", False, None, c) for k, c, _ in plan.invalid]))
    if plan.deliver and journal is not None:
        destination.prepare({})
        ex = Executor(cfg, store, destination, dest_key, summary.run_id, summary, dict(snap.state), progress,
                      len(plan.deliver), journal)
        ex.journeys, ex.persons = plan.journeys, plan.persons
        send = destination.send_events
        try:
            for start in range(0, len(plan.deliver), cfg.batch_size):
                ex.run("event", send, plan.deliver[start:start + cfg.batch_size])
        finally:
            ex.flush()
    finish_status(cfg, summary)


def erase_event_persons(cfg: SyncConfig, store: StateStore, destination: Destination, dest_key: str,
                        summary: RunSummary, snap: Snapshot, persons: dict[str, list[str]],
                        erased: dict[str, str]) -> None:
    """An erased person's events were delivered: the destination gets the person's erasure (a webhook
    `erase` of the person, HubSpot's GDPR delete of the contact the events were written to), and once it is
    confirmed their events' state keeps no person id (so it is sent once)."""
    records = []
    for person in sorted(erased):
        rows = [snap.state[k] for k in sorted(persons[person])]
        dest_id = next((r.destination_id for r in rows if r.destination_id), None)
        previous = rows[0].delivery_id or rows[0].payload_hash
        records.append(OutRecord(person, person, {}, dest_id, delivery_id(cfg.name, person, "delete", "", previous)))
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
    count_failures(summary, [(r.key, r.error_code or "ERROR") for r in out if not r.ok])
