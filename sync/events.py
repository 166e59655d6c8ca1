"""Events syncs (`mode: events`, README "Journeys"): append-only delivery of the rows of an events model,
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

from sync.config import JOURNEY_FIELD, SyncConfig
from sync.destinations.base import OutRecord
from sync.state import Snapshot

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


def iso_utc(value: object) -> str:
    """A timestamp as ISO 8601 UTC with milliseconds (HubSpot datetime properties, webhook payloads)."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return "" if value is None else str(value)


def _text(value: object) -> str:
    from sync.engine import to_text  # the engine imports this module

    return to_text(value)


def payload(cfg: SyncConfig, row: dict, journey_name: str, selected: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for dest, col in cfg.fields.items():
        if selected and dest not in selected:
            continue
        value = journey_name if col == JOURNEY_FIELD else row.get(col)
        kind = cfg.property_type(dest)
        out[dest] = iso_utc(value) if kind == "datetime" or isinstance(value, datetime) else _text(value)
    return out


def _order(row: dict) -> tuple:
    at = row.get("occurred_at")
    return (at.isoformat() if isinstance(at, datetime) else _text(at), _text(row.get("event_id")))


def plan_events(cfg: SyncConfig, snap: Snapshot, keeps_latest: bool = False) -> EventPlan:
    """Decide what this run does with each event of the model (pure: no I/O)."""
    plan = EventPlan(first_run=BASELINE_KEY not in snap.state)
    # events that occurred by the first run's latest event belong to the baseline, also when they reach the
    # model only later (a person who gets an email, an id merged into another)
    marker = snap.state.get(BASELINE_KEY)
    through = str(marker.payload.get("through") or "") if marker is not None else ""
    keys = {}
    for row in snap.rows:
        k = _text(row.get(cfg.key))
        keys[k] = keys.get(k, 0) + 1
    numbered = sorted(enumerate(snap.rows, 1), key=lambda item: _order(item[1]))  # (row number in the model, row)
    rows = [row for _, row in numbered]
    # the latest occurrence already delivered per person (destinations that keep only the latest event)
    latest: dict[str, tuple] = {}
    if keeps_latest:
        for row in rows:
            st = snap.state.get(_text(row.get(cfg.key)))
            if st is not None and st.payload_hash == "delivered":
                latest[_text(row.get("person_id"))] = _order(row)
    seen: set[str] = set()
    for i, row in numbered:
        key = _text(row.get(cfg.key))
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
            reason = f"CONSENT_{_text(row.get('email_consent') or 'unknown').upper()}"
            plan.decided.append((key, "skipped", {"status": "skipped", "journey": journey.name, "reason": reason}))
            plan.skipped.append((key, reason))
            continue
        person = _text(row.get("person_id"))
        if keeps_latest and person in latest and latest[person][0] > _order(row)[0]:  # strictly older only
            plan.decided.append((key, "superseded", {"status": "superseded", "journey": journey.name}))
            continue
        props = payload(cfg, row, journey.name, journey.fields)
        match_value = props.get(cfg.match_key) or _text(row.get(cfg.match_key))
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


