"""Reading HubSpot contacts page by page, as a loader does: the list endpoint
(GET /crm/v3/objects/contacts: `limit` at most 100, `after`, `properties`) and the CRM search endpoint
(POST /crm/v3/objects/contacts/search: `filterGroups` of filters, one sort, `properties`, `limit` at most 200,
`after`; `total`, `results`, `paging.next.after`; at most 10,000 results per query, a page past that is a
400). Dates compare as instants: a filter value may be Unix milliseconds or ISO 8601, as HubSpot takes."""

from __future__ import annotations

import json
from datetime import datetime

from sync.sandbox.store import contact_properties

LIST_MAX_LIMIT = 100
SEARCH_MAX_LIMIT = 200
SEARCH_MAX_RESULTS = 10_000
SEARCH_MAX_FILTER_GROUPS = 5
SEARCH_MAX_FILTERS_PER_GROUP = 6
# what a search returns when the request names no properties (HubSpot's defaults for contacts)
SEARCH_DEFAULT_PROPERTIES = ["createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"]
DATETIME_PROPERTIES = {"createdate", "lastmodifieddate"}
OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "HAS_PROPERTY", "NOT_HAS_PROPERTY", "IN", "NOT_IN"}


def instant_ms(value) -> int | None:
    """Unix milliseconds of a datetime value given as milliseconds or ISO 8601; None when it is neither."""
    text = str(value or "").strip()
    if text.isdigit():
        return int(text)
    try:
        return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def _comparable(name: str, value):
    if name in DATETIME_PROPERTIES:
        return instant_ms(value)
    text = "" if value is None else str(value)
    try:
        return float(text)
    except ValueError:
        return text.lower()


def matches(props: dict[str, str], flt: dict) -> bool:
    name, op = flt.get("propertyName", ""), flt.get("operator", "EQ")
    have = props.get(name)
    if op == "HAS_PROPERTY":
        return have not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return have in (None, "")
    if have in (None, ""):
        return op in ("NEQ", "NOT_IN")
    left = _comparable(name, have)
    if op in ("IN", "NOT_IN"):
        found = left in {_comparable(name, v) for v in flt.get("values", [])}
        return found if op == "IN" else not found
    right = _comparable(name, flt.get("value"))
    if left is None or right is None or type(left) is not type(right):
        return op == "NEQ"
    return {"EQ": left == right, "NEQ": left != right, "LT": left < right, "LTE": left <= right,
            "GT": left > right, "GTE": left >= right}[op]


def _item(hs_id: str, contact: dict, props: dict[str, str], wanted: list[str] | None) -> dict:
    shown = props if wanted is None else {n: props.get(n) for n in wanted}
    return {"id": hs_id, "properties": shown, "createdAt": contact["createdAt"], "updatedAt": contact["updatedAt"],
            "archived": False}


def _names(values) -> list[str]:
    return [n for v in values for n in str(v).split(",") if n]


class HubSpotSearchApi:
    def list_contacts(self, query: dict[str, list[str]]):
        """A page of live contacts in id order; `after` is the opaque token the previous page gave. Without
        `properties` every stored property is returned (the sandbox's tests read them so); with it, those
        named (null when unset), as HubSpot does."""
        try:
            limit = min(int(query.get("limit", ["10"])[0]), LIST_MAX_LIMIT)
            after = int(query.get("after", ["0"])[0] or 0)
        except ValueError:
            return self._send(400, {"status": "error", "category": "VALIDATION_ERROR",
                                    "message": "limit and after must be integers"})
        wanted = _names(query["properties"]) if "properties" in query else None
        with self.store.lock:
            items = sorted(self.store.hs_contacts.items(), key=lambda kv: int(kv[0]))
            page = [_item(k, v, contact_properties(k, v), wanted) for k, v in items[after:after + limit]]
        body = {"results": page}
        if after + limit < len(items):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return self._send(200, body)

    def search_contacts(self, raw: bytes):
        try:
            req = json.loads(raw or b"{}")
            limit, after = int(req.get("limit", 10)), int(req.get("after") or 0)
        except (ValueError, TypeError):
            return self._send(400, {"status": "error", "category": "VALIDATION_ERROR",
                                    "message": "Invalid input JSON"})
        groups, sorts = req.get("filterGroups") or [], req.get("sorts") or []
        problem = self._search_problem(groups, sorts, limit, after)
        if problem:
            return self._send(400, {"status": "error", "category": "VALIDATION_ERROR", "message": problem})
        if self._faults_before():
            return None
        wanted = _names(req["properties"]) if req.get("properties") else SEARCH_DEFAULT_PROPERTIES
        sort = sorts[0] if sorts else {"propertyName": "hs_object_id", "direction": "ASCENDING"}
        name, descending = sort.get("propertyName", "hs_object_id"), sort.get("direction") == "DESCENDING"
        with self.store.lock:
            found = [(k, v, contact_properties(k, v)) for k, v in self.store.hs_contacts.items()]
        found = [f for f in found if not groups or any(all(matches(f[2], flt) for flt in g.get("filters", []))
                                                      for g in groups)]
        # ties are broken by id, so pages of one query never overlap
        found.sort(key=lambda f: int(f[0]))
        found.sort(key=lambda f: (f[2].get(name) in (None, ""), _sort_key(name, f[2].get(name))), reverse=descending)
        page = [_item(k, v, props, wanted) for k, v, props in found[after:after + limit]]
        body = {"total": len(found), "results": page}
        if after + limit < len(found):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return self._send(200, body)

    @staticmethod
    def _search_problem(groups: list, sorts: list, limit: int, after: int) -> str | None:
        if not 1 <= limit <= SEARCH_MAX_LIMIT:
            return f"limit must be between 1 and {SEARCH_MAX_LIMIT}"
        if after < 0 or after + limit > SEARCH_MAX_RESULTS:
            return f"the search returns at most {SEARCH_MAX_RESULTS} results per query; narrow the filters"
        if len(groups) > SEARCH_MAX_FILTER_GROUPS or any(
                len(g.get("filters", [])) > SEARCH_MAX_FILTERS_PER_GROUP for g in groups):
            return (f"at most {SEARCH_MAX_FILTER_GROUPS} filterGroups of at most {SEARCH_MAX_FILTERS_PER_GROUP} "
                    "filters each")
        unknown = [f.get("operator") for g in groups for f in g.get("filters", []) if f.get("operator") not in OPERATORS]
        if unknown:
            return f"unknown operator {unknown[0]!r}"
        if len(sorts) > 1:
            return "one sort at most"
        return None


def _sort_key(name: str, value):
    key = _comparable(name, value)
    return (0, key, "") if isinstance(key, float | int) else (1, 0.0, "" if key is None else str(key))
