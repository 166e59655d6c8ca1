"""HubSpot CRM v3 contacts. A contact the sync has not met yet is upserted by email (so a contact someone
made in HubSpot is enriched, not duplicated); from then on the contact id HubSpot returned is remembered
and used (batch/update by id), so a changed email updates the same contact. Public contract used:
- GET /account-info/v3/details: the portal id, which state is bound to;
- POST /crm/v3/objects/contacts/batch/upsert (idProperty email) and .../batch/update (by id): at most 100
  inputs, values are strings; 200 with results, 207 Multi-Status with per-input errors (context.ids),
  400 when the batch is invalid (e.g. an unknown property), 429 with policyName and X-HubSpot-RateLimit-*;
- POST /crm/v3/objects/contacts/batch/archive: 204, idempotent;
- POST /crm/v3/objects/contacts/batch/read with idProperty email: the contacts a lost create may have made;
- POST /crm/v3/objects/contacts/merge {primaryObjectId, objectIdToMerge}: 200 with the merged contact;
- GET /crm/v3/objects/contacts/{id}: a merged-away id answers with the contact it was merged into;
- POST /crm/v3/properties/contacts creates a property; 409 means it already exists.
An events sync (mode: events) records each person's latest journey event as contact properties
(cdp_last_journey_event, cdp_last_journey_event_at: a datetime property, ISO 8601 UTC) on the contact
matched by email, through the same batch/upsert: writing the same event again sets the same values, so a
resend is harmless, and an older event never overwrites a newer one (`keeps_latest_event`)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import requests

from sync.config import SyncConfig
from sync.destinations.base import OutRecord, RecordResult, destination_key, url_identity
from sync.errors import AuthError, TerminalError
from sync.http import HttpClient


def _json(resp: requests.Response):
    try:
        return resp.json()
    except ValueError:
        return None


def is_daily_limit(resp: requests.Response) -> bool:
    """A 429 of the DAILY policy will not clear by waiting minutes: the run stops."""
    if resp.status_code != 429:
        return False
    body = _json(resp)
    return isinstance(body, dict) and str(body.get("policyName", "")).upper() == "DAILY"


def interval_wait(resp: requests.Response) -> float | None:
    if resp.headers.get("X-HubSpot-RateLimit-Remaining") == "0":
        interval = resp.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        if interval and interval.isdigit():
            return int(interval) / 1000
    return None


@dataclass
class HubSpotContacts:
    cfg: SyncConfig
    client: HttpClient
    base_url: str = ""
    name: str = "hubspot"
    on_delete = "archive"  # a record that left the model: its object is archived (deleted) by default

    @classmethod
    def from_env(cls, cfg: SyncConfig) -> HubSpotContacts:
        base = os.environ.get("HUBSPOT_BASE_URL", "https://api.hubapi.com")
        token = os.environ.get("HUBSPOT_ACCESS_TOKEN")
        if not token:
            raise AuthError("HUBSPOT_ACCESS_TOKEN is not set")
        client = HttpClient(base, {"Authorization": f"Bearer {token}"}, rate=cfg.rate_limit,
                            rate_limit_budget_s=cfg.rate_limit_budget_s, retry_after=interval_wait,
                            is_final_limit=is_daily_limit)
        return cls(cfg, client, base)

    def close(self) -> None:
        self.client.close()

    def _check_auth(self, resp: requests.Response) -> None:
        if resp.status_code in (401, 403):
            raise AuthError(f"HubSpot refused the token ({resp.status_code})")

    def identify(self) -> str:
        resp = self.client.request("GET", "/account-info/v3/details")
        self._check_auth(resp)
        body = _json(resp) if resp.status_code == 200 else None
        portal = body.get("portalId") if isinstance(body, dict) else None
        ident = f"portal-{portal}" if portal else url_identity(self.base_url or self.client.base_url)
        return destination_key("hubspot", ident, self.client.base_url)

    def prepare(self, values: dict[str, set[str]] | None = None) -> None:
        """Create the custom properties with their types (409: it exists); a multi-select property gets
        every option the run will send (existing options are kept: PATCH replaces the whole list)."""
        values = values or {}
        for prop in self.cfg.custom_properties:
            kind = self.cfg.property_type(prop)
            type_, field_type = PROPERTY_KINDS[kind]
            body = {"name": prop, "label": prop.replace("_", " ").title(), "type": type_, "fieldType": field_type,
                    "groupName": "contactinformation", "description": "Managed by the warehouse CDP sync"}
            wanted = sorted(values.get(prop, set()))
            if kind == "multi_select":
                body["options"] = _options(wanted)
            resp = self.client.request("POST", f"/crm/v3/properties/{self.cfg.object}", json=body)
            self._check_auth(resp)
            if resp.status_code not in (200, 201, 409):
                raise TerminalError(f"creating property {prop}: HTTP {resp.status_code} {resp.text[:200]}",
                                    resp.status_code)
            if resp.status_code == 409 and kind == "multi_select" and wanted:
                self._add_options(prop, wanted)

    def _add_options(self, prop: str, wanted: list[str]) -> None:
        resp = self.client.request("GET", f"/crm/v3/properties/{self.cfg.object}/{prop}")
        self._check_auth(resp)
        have = [o.get("value") for o in (_json(resp) or {}).get("options", [])] if resp.status_code == 200 else []
        missing = [v for v in wanted if v not in have]
        if missing:
            resp = self.client.request("PATCH", f"/crm/v3/properties/{self.cfg.object}/{prop}",
                                       json={"options": _options(have + missing)})
            self._check_auth(resp)
            if resp.status_code != 200:
                raise TerminalError(f"adding options to {prop}: HTTP {resp.status_code} {resp.text[:200]}",
                                    resp.status_code)

    def _batch(self, verb: str, inputs: list[dict], **extra: object) -> dict:
        resp = self.client.request("POST", f"/crm/v3/objects/{self.cfg.object}/batch/{verb}",
                                   json={"inputs": inputs, **extra})
        self._check_auth(resp)
        if resp.status_code == 400:
            body = _json(resp) or {}
            codes = {e.get("code") for e in body.get("errors", []) if isinstance(e, dict)}
            raise TerminalError(f"batch rejected: {resp.text[:300]}", 400, body,
                                batch_wide="PROPERTY_DOESNT_EXIST" in codes)
        if resp.status_code not in (200, 201, 204, 207):
            raise TerminalError(f"HTTP {resp.status_code}: {resp.text[:300]}", resp.status_code)
        return _json(resp) or {}

    def upsert(self, records: list[OutRecord]) -> list[RecordResult]:
        """The engine sends batches that are either all known (by id) or all new (by email)."""
        known = [r for r in records if r.destination_id]
        new = [r for r in records if not r.destination_id]
        results: dict[str, RecordResult] = {}
        if known:
            results.update(self._update_by_id(known))
            gone = [r for r in known if results[r.key].error_code == "OBJECT_NOT_FOUND"]
            if gone:  # deleted or merged away inside HubSpot: find or create it by email again
                results.update(self._upsert_by_email([OutRecord(r.key, r.match_value, r.properties) for r in gone]))
        if new:
            results.update(self._upsert_by_email(new))
        return [results[r.key] for r in records]

    def _update_by_id(self, records: list[OutRecord]) -> dict[str, RecordResult]:
        by_id = {str(r.destination_id): r for r in records}
        payload = self._batch("update", [{"id": r.destination_id, "properties": r.properties} for r in records])
        results: dict[str, RecordResult] = {}
        for item in payload.get("results", []):
            rec = by_id.get(str(item.get("id")))
            if rec:
                results[rec.key] = RecordResult(rec.key, True, str(item.get("id")))
        for err in payload.get("errors", []):
            for ident in (err.get("context", {}) or {}).get("ids", []):
                rec = by_id.get(str(ident))
                if rec:
                    results[rec.key] = RecordResult(rec.key, False, None, err.get("category", "ERROR"),
                                                    err.get("message", ""))
        return {r.key: results.get(r.key) or _unconfirmed(r) for r in records}

    def _upsert_by_email(self, records: list[OutRecord]) -> dict[str, RecordResult]:
        by_email = {r.match_value.lower(): r for r in records}
        # the match key is written too (the same value): the response's properties then carry it whatever
        # HubSpot returns by default, so each result is matched to its input (an events sync sends only its
        # event properties)
        payload = self._batch("upsert", [{"idProperty": self.cfg.match_key, "id": r.match_value,
                                          "properties": {self.cfg.match_key: r.match_value, **r.properties}}
                                         for r in records])
        results: dict[str, RecordResult] = {}
        for item in payload.get("results", []):
            ident = str(item.get("properties", {}).get(self.cfg.match_key, "")).lower()
            if ident in by_email:
                rec = by_email[ident]
                results[rec.key] = RecordResult(rec.key, True, str(item.get("id")))
        for err in payload.get("errors", []):
            for ident in (err.get("context", {}) or {}).get("ids", []):
                rec = by_email.get(str(ident).lower())
                if rec:
                    results[rec.key] = RecordResult(rec.key, False, None, err.get("category", "ERROR"),
                                                    err.get("message", ""))
        # an input the response does not mention is not confirmed: it will be sent again next run
        return {r.key: results.get(r.key) or _unconfirmed(r) for r in records}

    def clear(self, records: list[OutRecord]) -> list[RecordResult]:
        return self.upsert(records)

    def locate(self, records: list[OutRecord]) -> dict[str, str]:
        """The contact ids of records by their match value (batch/read with idProperty email, at most 100
        inputs a request): where a create whose answer was lost put the contact. Emails not found are left
        out (HubSpot answers 207 with their errors)."""
        found: dict[str, str] = {}
        for start in range(0, len(records), 100):
            chunk = records[start:start + 100]
            by_email = {r.match_value.lower(): r.key for r in chunk}
            payload = self._batch("read", [{"id": r.match_value} for r in chunk], idProperty=self.cfg.match_key,
                                  properties=[self.cfg.match_key])
            for item in payload.get("results", []):
                key = by_email.get(str(item.get("properties", {}).get(self.cfg.match_key, "")).lower())
                if key and item.get("id"):
                    found[key] = str(item["id"])
        return found

    # the contact properties hold the latest event only: the engine never sends an event older than one
    # already delivered for the same person (it is confirmed as superseded instead)
    keeps_latest_event = True

    def send_events(self, records: list[OutRecord]) -> list[RecordResult]:
        """Events come in delivery order (oldest first): per contact only the last one of the batch is
        written (batch/upsert takes each email once); the earlier ones share its outcome (superseded)."""
        latest: dict[str, OutRecord] = {}
        for r in records:
            latest[r.match_value.lower()] = r
        results = self._upsert_by_email(list(latest.values()))
        out = []
        for r in records:
            res = results[latest[r.match_value.lower()].key]
            out.append(RecordResult(r.key, res.ok, res.destination_id, res.error_code, res.message))
        return out

    def archive(self, records: list[OutRecord]) -> list[RecordResult]:
        with_id = [r for r in records if r.destination_id]
        if with_id:
            self._batch("archive", [{"id": r.destination_id} for r in with_id])
        # archive is idempotent (204 whether or not the contact still existed)
        return [RecordResult(r.key, True, r.destination_id) for r in records]

    def delete(self, records: list[OutRecord]) -> list[RecordResult]:
        """Privacy erasure: POST /crm/v3/objects/contacts/gdpr-delete per contact (204), which removes the
        contact permanently, unlike archive; an id that no longer exists counts as done."""
        out = []
        for r in records:
            if not r.destination_id:
                out.append(RecordResult(r.key, True, None))
                continue
            resp = self.client.request("POST", f"/crm/v3/objects/{self.cfg.object}/gdpr-delete",
                                       json={"objectId": r.destination_id})
            self._check_auth(resp)
            if resp.status_code in (200, 204, 404):
                out.append(RecordResult(r.key, True, r.destination_id))
            else:
                out.append(RecordResult(r.key, False, None, f"HTTP_{resp.status_code}", resp.text[:300]))
        return out

    def merge(self, pairs: list[tuple[OutRecord, OutRecord]]) -> list[RecordResult]:
        out = []
        for retired, survivor in pairs:
            resp = self.client.request("POST", f"/crm/v3/objects/{self.cfg.object}/merge", json={
                "primaryObjectId": survivor.destination_id, "objectIdToMerge": retired.destination_id})
            self._check_auth(resp)
            if resp.status_code == 200:
                out.append(RecordResult(retired.key, True, str((_json(resp) or {}).get("id") or survivor.destination_id)))
            elif self._already_merged(retired, survivor):
                out.append(RecordResult(retired.key, True, survivor.destination_id))
            else:
                body = _json(resp) or {}
                out.append(RecordResult(retired.key, False, None, body.get("category", f"HTTP_{resp.status_code}"),
                                        str(body.get("message", ""))[:300]))
        return out

    def _already_merged(self, retired: OutRecord, survivor: OutRecord) -> bool:
        """A merge whose response was lost: the retired id now reads as another contact (or as nothing)."""
        resp = self.client.request("GET", f"/crm/v3/objects/{self.cfg.object}/{retired.destination_id}")
        if resp.status_code == 404:
            return True
        body = _json(resp) or {}
        return resp.status_code == 200 and str(body.get("id")) != str(retired.destination_id)


PROPERTY_KINDS = {"string": ("string", "text"), "number": ("number", "number"), "date": ("date", "date"),
                  "datetime": ("datetime", "date"), "multi_select": ("enumeration", "checkbox")}


def _options(values: list[str]) -> list[dict]:
    return [{"label": v.replace("_", " ").capitalize(), "value": v, "displayOrder": i, "hidden": False}
            for i, v in enumerate(values)]


def _unconfirmed(r: OutRecord) -> RecordResult:
    return RecordResult(r.key, False, None, "NOT_CONFIRMED", "response did not mention this input")


DESTINATION = HubSpotContacts
