"""Value helpers every part of a sync shares: how a model value becomes the string a destination gets, the
hash that says whether a record changed, and the delivery id a receiver deduplicates on."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal

from sync.state import Attempt, StateRow


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


def iso_utc(value: object) -> str:
    """A timestamp as ISO 8601 UTC with milliseconds (HubSpot datetime properties, webhook payloads)."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    return "" if value is None else str(value)


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
