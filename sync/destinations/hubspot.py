"""HubSpot CRM v3 contacts: batch upsert keyed by a unique property (email), custom properties created
idempotently before the first write. Public contract:
- POST /crm/v3/objects/contacts/batch/upsert, at most 100 inputs, no duplicate ids in a batch, values are
  strings; 200/201 with results, 207 Multi-Status with per-input errors (context.ids), 400 when the batch
  is invalid (e.g. an unknown property), 429 with policyName and X-HubSpot-RateLimit-* headers;
- POST /crm/v3/properties/contacts creates a property; 409 means it already exists."""

from __future__ import annotations

import os
from dataclasses import dataclass

from sync.config import SyncConfig
from sync.destinations.base import OutRecord, RecordResult
from sync.errors import AuthError, TerminalError
from sync.http import HttpClient


@dataclass
class HubSpotContacts:
    cfg: SyncConfig
    client: HttpClient
    name: str = "hubspot"

    @classmethod
    def from_env(cls, cfg: SyncConfig) -> HubSpotContacts:
        base = os.environ.get("HUBSPOT_BASE_URL", "https://api.hubapi.com")
        token = os.environ.get("HUBSPOT_ACCESS_TOKEN")
        if not token:
            raise AuthError("HUBSPOT_ACCESS_TOKEN is not set")
        return cls(cfg, HttpClient(base, {"Authorization": f"Bearer {token}"}, rate=cfg.rate_limit))

    def close(self) -> None:
        self.client.close()

    def prepare(self) -> None:
        for prop in self.cfg.custom_properties:
            typed = self.cfg.custom_property_types.get(prop, "string")
            resp = self.client.request("POST", f"/crm/v3/properties/{self.cfg.object}", json={
                "name": prop, "label": prop.replace("_", " ").title(), "type": typed,
                "fieldType": "number" if typed == "number" else "text",
                "groupName": "contactinformation", "description": "Managed by the warehouse CDP sync",
            })
            if resp.status_code in (401, 403):
                raise AuthError(f"HubSpot refused the token ({resp.status_code})")
            if resp.status_code not in (200, 201, 409):
                raise TerminalError(f"creating property {prop}: HTTP {resp.status_code} {resp.text[:200]}",
                                    resp.status_code)

    def upsert(self, records: list[OutRecord]) -> list[RecordResult]:
        by_id = {r.match_value.lower(): r for r in records}
        body = {"inputs": [{"idProperty": self.cfg.match_key, "id": r.match_value, "properties": r.properties}
                           for r in records]}
        resp = self.client.request("POST", f"/crm/v3/objects/{self.cfg.object}/batch/upsert", json=body)
        if resp.status_code in (401, 403):
            raise AuthError(f"HubSpot refused the token ({resp.status_code})")
        if resp.status_code == 400:
            raise TerminalError(f"batch rejected: {resp.text[:300]}", 400, _json(resp))
        if resp.status_code not in (200, 201, 207):
            raise TerminalError(f"HTTP {resp.status_code}: {resp.text[:300]}", resp.status_code)
        payload = _json(resp) or {}
        results: dict[str, RecordResult] = {}
        for item in payload.get("results", []):
            ident = str(item.get("properties", {}).get(self.cfg.match_key, "")).lower()
            if ident in by_id:
                rec = by_id[ident]
                results[rec.key] = RecordResult(rec.key, True, str(item.get("id")))
        for err in payload.get("errors", []):
            for ident in (err.get("context", {}) or {}).get("ids", []):
                rec = by_id.get(str(ident).lower())
                if rec:
                    results[rec.key] = RecordResult(rec.key, False, None, err.get("category", "ERROR"),
                                                    err.get("message", ""))
        # an input the response does not mention is not confirmed: it will be sent again next run
        return [results.get(r.key) or RecordResult(r.key, False, None, "NOT_CONFIRMED",
                                                   "response did not mention this input") for r in records]

    def clear(self, records: list[OutRecord]) -> list[RecordResult]:
        return self.upsert(records)


def _json(resp):
    try:
        return resp.json()
    except ValueError:
        return None
