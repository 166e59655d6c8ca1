"""HubSpot property semantics the sandbox follows: a property's definition as the API returns it, values
checked against the property's type, and every value a property had (`propertiesWithHistory`)."""

from __future__ import annotations

import re
import time

from sync.sandbox.store import Store

DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})")


def property_body(store: Store, name: str) -> dict:
    p = store.hs_properties[name]
    return {"name": name, "type": p["type"], "fieldType": p["fieldType"],
            "options": [{"label": o, "value": o, "displayOrder": i, "hidden": False} for i, o in enumerate(p["options"])]}


def invalid_values(store: Store, props: dict[str, str]) -> str | None:
    """HubSpot checks values against the property type: numbers, ISO dates, declared enumeration options."""
    for name, value in props.items():
        spec = store.hs_properties.get(name)
        if spec is None or value == "":
            continue
        if spec["type"] == "number":
            try:
                float(value)
            except ValueError:
                return f"{value!r} is not a number for {name}"
        elif spec["type"] == "date" and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            return f"{value!r} is not a date (YYYY-MM-DD) for {name}"
        elif spec["type"] == "datetime" and not (value.isdigit() or DATETIME_RE.fullmatch(value)):
            return f"{value!r} is not a datetime (ISO 8601 or Unix milliseconds) for {name}"
        elif spec["type"] == "enumeration":
            unknown = [v for v in value.split(";") if v not in spec["options"]]
            if unknown:
                return f"{unknown[0]!r} was not one of the allowed options for {name}"
    return None



def history_timestamp() -> str:
    """Milliseconds, as HubSpot's history timestamps: two syncs within a second still order."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def record_history(store: Store, hs_id: str, current: dict[str, str], written: dict[str, str]) -> None:
    """A new version for each written property whose value differs from the current one (caller holds the
    lock): the history HubSpot returns for `propertiesWithHistory` and the contact page shows."""
    at = history_timestamp()
    history = store.hs_history.setdefault(hs_id, {})
    for name, value in written.items():
        if name not in current or current[name] != value:
            history.setdefault(name, []).append({"value": value, "timestamp": at, "sourceType": "INTEGRATION",
                                                 "sourceId": "cdp-sync"})


def properties_with_history(store: Store, hs_id: str, requested: list[str]) -> dict[str, list[dict]]:
    """HubSpot's `propertiesWithHistory` (comma-separated or repeated): each property's versions, newest
    first; a property never written has an empty list."""
    names = [n for item in requested for n in item.split(",") if n]
    history = store.hs_history.get(hs_id, {})
    return {n: list(reversed(history.get(n, []))) for n in names}
