"""Value helpers every part of a sync shares: how a model value becomes the string a destination gets, the
hash that says whether a record changed, the tolerance under which a number's drift is not worth a write,
and the delivery id a receiver deduplicates on."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

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


def format_value(value: object, kind: str, places: int | None = None) -> str:
    """A model value as the destination's typed property expects it: dates as YYYY-MM-DD, numbers plain
    (rounded half away from zero to `places` decimals when given), multi-select values joined by ";" (the
    model already joins segments so)."""
    if kind == "date" and hasattr(value, "date") and callable(value.date):
        return value.date().isoformat()
    if kind == "date" and hasattr(value, "isoformat"):
        return value.isoformat()
    if places is not None and value is not None and not isinstance(value, bool):
        number = _number(str(value))
        if number is not None:
            return f"{number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP):f}"
    return to_text(value)


@dataclass(frozen=True)
class Tolerance:
    """How far a number may drift from the value last delivered before the change is sent: `amount` in the
    field's units, or, when `relative`, as a fraction of the delivered value."""
    amount: Decimal
    relative: bool = False

    def holds(self, new: str, delivered: str) -> bool:
        """True when `new` is within tolerance of `delivered` (both as sent). A value that is not a number,
        or that appears or disappears, is never held back."""
        a, b = _number(new), _number(delivered)
        if a is None or b is None:
            return new == delivered
        limit = self.amount * abs(b) if self.relative else self.amount
        return abs(a - b) <= limit


def parse_tolerance(spec: object) -> Tolerance:
    """`0.02` (absolute) or `"5%"` (relative to the delivered value), as the schema allows them."""
    text = str(spec).strip()
    if text.endswith("%"):
        return Tolerance(Decimal(text[:-1]) / 100, relative=True)
    return Tolerance(Decimal(text))


def _number(text: str) -> Decimal | None:
    try:
        number = Decimal(text) if text else None
    except InvalidOperation:
        return None
    return number if number is not None and number.is_finite() else None


def within_tolerance(payload: Mapping[str, str], delivered: Mapping[str, str], delivered_hash: str,
                     tolerances: Mapping[str, Tolerance]) -> bool:
    """True when `payload` differs from what was last delivered only by drift each field's tolerance allows:
    the tolerated fields are set back to their delivered values and the hash must then match the delivered
    one. Comparing against the delivered value (not the previous model row) means small drifts add up: once
    their sum passes the tolerance, the change is sent."""
    if not tolerances:
        return False
    compared = dict(payload)
    for dest, tolerance in tolerances.items():
        if dest not in delivered or dest not in compared or not tolerance.holds(compared[dest], delivered[dest]):
            return False
        compared[dest] = delivered[dest]
    return payload_hash(compared) == delivered_hash


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
