"""The HubSpot CRM v3 contacts API as the sync uses it (see sync/destinations/hubspot.py): account details,
custom properties, batch upsert/update/read/archive, merge, GDPR delete, GET by id with property history,
and the 10-second and daily rate limits."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import parse_qs

from sync.sandbox.hubspot_properties import invalid_values, properties_with_history, property_body, record_history
from sync.sandbox.hubspot_search import HubSpotSearchApi
from sync.sandbox.store import hs_timestamp, hubspot_token, note_outcome, valid_email


class HubSpotApi(HubSpotSearchApi):
    def hubspot_get(self, url) -> None:
        """GET of the HubSpot API: account details, a property, a contact (a merged-away id reads as the
        contact it was merged into; `propertiesWithHistory`), a page of contacts."""
        if self._bearer() != hubspot_token():
            return self._send(401, {"status": "error", "category": "INVALID_AUTHENTICATION"})
        if self._scripted():
            return None
        if url.path == "/account-info/v3/details":
            return self._send(200, {"portalId": self.store.portal_id, "accountType": "DEVELOPER_TEST",
                                    "timeZone": "UTC", "companyCurrency": "USD", "additionalCurrencies": [],
                                    "utcOffset": "+00:00", "utcOffsetMilliseconds": 0, "uiDomain": "127.0.0.1",
                                    "dataHostingLocation": "local"})
        m = re.fullmatch(r"/crm/v3/properties/contacts/(\w+)", url.path)
        if m:
            with self.store.lock:
                if m.group(1) not in self.store.hs_properties:
                    return self._send(404, {"status": "error", "category": "OBJECT_NOT_FOUND",
                                            "message": f"Unable to find property {m.group(1)}"})
                return self._send(200, property_body(self.store, m.group(1)))
        m = re.fullmatch(r"/crm/v3/objects/contacts/(\d+)", url.path)
        if m:
            with self.store.lock:
                hs_id = m.group(1)
                seen = {hs_id}
                while hs_id in self.store.hs_merged_into and self.store.hs_merged_into[hs_id] not in seen:
                    hs_id = self.store.hs_merged_into[hs_id]
                    seen.add(hs_id)
                contact = self.store.hs_contacts.get(hs_id)
                if contact is None:
                    return self._send(404, {"status": "error", "category": "OBJECT_NOT_FOUND",
                                            "message": "resource not found"})
                body = {"id": hs_id, "properties": contact["properties"], "archived": False,
                        "createdAt": contact["createdAt"], "updatedAt": contact["updatedAt"]}
                with_history = parse_qs(url.query).get("propertiesWithHistory")
                if with_history:
                    body["propertiesWithHistory"] = properties_with_history(self.store, hs_id, with_history)
                return self._send(200, body)
        if url.path == "/crm/v3/objects/contacts":
            return self.list_contacts(parse_qs(url.query))
        return self._send(404, {"status": "error", "message": "not found"})

    def hubspot_post(self, url, body: bytes) -> None:
        if self._bearer() != hubspot_token():
            return self._send(401, {"status": "error", "message": "Authentication credentials not found.",
                                    "category": "INVALID_AUTHENTICATION"})
        if self._scripted() or self.hubspot_limited():
            return None
        routes = {"/crm/v3/properties/contacts": self.create_property,
                  "/crm/v3/objects/contacts/batch/upsert": self.batch_upsert,
                  "/crm/v3/objects/contacts/batch/update": self.batch_update,
                  "/crm/v3/objects/contacts/batch/archive": self.batch_archive,
                  "/crm/v3/objects/contacts/batch/read": self.batch_read,
                  "/crm/v3/objects/contacts/search": self.search_contacts,
                  "/crm/v3/objects/contacts/merge": self.merge,
                  "/crm/v3/objects/contacts/gdpr-delete": self.gdpr_delete}
        if url.path in routes:
            return routes[url.path](body)
        return self._send(404, {"status": "error", "message": "not found"})

    def hubspot_patch_property(self, name: str, body: bytes) -> None:
        """PATCH of a property: a new option list replaces the old one."""
        if self._bearer() != hubspot_token():
            return self._send(401, {"status": "error", "category": "INVALID_AUTHENTICATION"})
        update = json.loads(body or b"{}")
        with self.store.lock:
            if name not in self.store.hs_properties:
                return self._send(404, {"status": "error", "category": "OBJECT_NOT_FOUND"})
            if "options" in update:  # PATCH replaces the option list
                self.store.hs_properties[name]["options"] = [o.get("value") for o in update["options"]]
                self.store.stats["property_updates"] = self.store.stats.get("property_updates", 0) + 1
            return self._send(200, property_body(self.store, name))

    def hubspot_limited(self) -> bool:
        if self.store.config.get("hubspot_daily_exhausted"):
            self.store.stats["hubspot_rate_limited"] += 1
            self._send(429, {"status": "error", "message": "You have reached your daily limit.",
                             "errorType": "RATE_LIMIT", "policyName": "DAILY"},
                       {"X-HubSpot-RateLimit-Daily": 250000, "X-HubSpot-RateLimit-Daily-Remaining": 0})
            return True
        limit = self.store.config["hubspot_limit"]
        if not limit:
            return False
        now = time.monotonic()
        with self.store.lock:
            while self.store.window and now - self.store.window[0] > 10:
                self.store.window.popleft()
            remaining = limit - len(self.store.window)
            if remaining <= 0:
                self.store.stats["hubspot_rate_limited"] += 1
                self._send(429, {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                                 "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"},
                           {"X-HubSpot-RateLimit-Interval-Milliseconds": 10000,
                            "X-HubSpot-RateLimit-Max": limit, "X-HubSpot-RateLimit-Remaining": 0})
                return True
            self.store.window.append(now)
        return False

    def create_property(self, body: bytes):
        prop = json.loads(body or b"{}")
        name = prop.get("name", "")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            return self._send(400, {"status": "error", "category": "VALIDATION_ERROR", "message": "invalid name"})
        with self.store.lock:
            if name in self.store.hs_properties:
                return self._send(409, {"status": "error", "category": "OBJECT_ALREADY_EXISTS",
                                        "message": f"Property named '{name}' already exists."})
            self.store.hs_properties[name] = {"type": prop.get("type", "string"), "fieldType": prop.get("fieldType", "text"),
                                         "options": [o.get("value") for o in prop.get("options", [])]}
            self.store.stats["property_creates"] += 1
        return self._send(201, property_body(self.store, name))

    def _batch_rejected(self, inputs: list[dict], ids: list[str]) -> bool:
        """What HubSpot rejects in a batch as a whole (answered here): duplicate ids, unknown properties."""
        if len(set(ids)) != len(ids):
            self._send(400, {"status": "error", "category": "VALIDATION_ERROR",
                             "message": "Duplicate IDs found in batch input"})
            return True
        unknown = sorted({p for i in inputs for p in i.get("properties", {}) if p not in self.store.hs_properties})
        if unknown:
            self._send(400, {"status": "error", "category": "VALIDATION_ERROR",
                             "message": f"Property \"{unknown[0]}\" does not exist",
                             "errors": [{"code": "PROPERTY_DOESNT_EXIST", "context": {"propertyName": unknown}}]})
            return True
        return False

    def _batch_outcome(self, inputs: list[dict], results: list[dict], errors: list[dict]):
        """Note each input's outcome for the page, then answer 200, or 207 with the per-input errors."""
        # a record is named by its cdp_person_id when it has one (the page is about the CDP's records)
        person_of = {str(i.get("id", "")).lower(): i.get("properties", {}).get("cdp_person_id") for i in inputs}
        note_outcome(self.store, "HubSpot", [k for r in results for k in (r["id"], r["properties"].get("email", ""),
                                                               r["properties"].get("cdp_person_id", ""))],
                     [(person_of.get(str(i).lower()) or str(i), e["category"], e["message"])
                      for e in errors for i in e["context"]["ids"]])
        if self._lose_after():
            return self._drop()
        if errors:
            return self._send(207, {"status": "COMPLETE", "results": results, "errors": errors,
                                    "numErrors": len(errors)})
        return self._send(200, {"status": "COMPLETE", "results": results})

    def batch_upsert(self, body: bytes):
        req = json.loads(body or b"{}")
        inputs = req.get("inputs", [])
        self.store.stats["hubspot_upsert_calls"] += 1
        if len(inputs) > 100:
            return self._send(400, {"status": "error", "category": "VALIDATION_ERROR",
                                    "message": "Batch input size exceeds limit of 100"})
        if self._batch_rejected(inputs, [str(i.get("id", "")).lower() for i in inputs]):
            return
        if any(i.get("idProperty") != "email" for i in inputs):
            return self._send(400, {"status": "error", "category": "VALIDATION_ERROR",
                                    "message": "idProperty must be a unique property (email)"})
        if self._faults_before():
            return
        results, errors = [], []
        now = hs_timestamp()
        with self.store.lock:
            for item in inputs:
                email = str(item["id"]).lower()
                props = {k: ("" if v is None else str(v)) for k, v in item.get("properties", {}).items()}
                if not valid_email(email) or ("email" in props and props["email"] and not valid_email(props["email"])):
                    errors.append({"status": "error", "category": "VALIDATION_ERROR",
                                   "message": f"Property values were not valid: email {email!r} is invalid",
                                   "context": {"ids": [item["id"]]}})
                    continue
                bad = invalid_values(self.store, props)
                if bad:
                    errors.append({"status": "error", "category": "VALIDATION_ERROR",
                                   "message": f"Property values were not valid: {bad}", "context": {"ids": [item["id"]]}})
                    continue
                hs_id = self.store.hs_by_email.get(email)
                new = hs_id is None
                if new:
                    self.store.next_id += 1
                    hs_id = str(self.store.next_id)
                    self.store.hs_by_email[email] = hs_id
                    self.store.hs_contacts[hs_id] = {"properties": {"email": email}, "createdAt": now, "updatedAt": now,
                                                "writes": 0}
                    self.store.stats["hubspot_creates"] += 1
                else:
                    self.store.stats["hubspot_updates"] += 1
                contact = self.store.hs_contacts[hs_id]
                record_history(self.store, hs_id, {} if new else contact["properties"], {**props, "email": email})
                contact["properties"].update(props)
                contact["properties"]["email"] = email
                contact["updatedAt"] = now
                contact["writes"] += 1
                results.append({"id": hs_id, "properties": contact["properties"], "new": new,
                                "createdAt": contact["createdAt"], "updatedAt": now})
        return self._batch_outcome(inputs, results, errors)

    def batch_update(self, body: bytes):
        """batch/update by contact id: 207 with OBJECT_NOT_FOUND for ids that do not exist (archived or
        merged away), CONFLICT for an email another live contact has."""
        inputs = json.loads(body or b"{}").get("inputs", [])
        self.store.stats["hubspot_update_calls"] += 1
        if len(inputs) > 100:
            return self._send(400, {"status": "error", "category": "VALIDATION_ERROR",
                                    "message": "Batch input size exceeds limit of 100"})
        if self._batch_rejected(inputs, [str(i.get("id", "")) for i in inputs]):
            return
        if self._faults_before():
            return
        results, errors = [], []
        now = hs_timestamp()
        with self.store.lock:
            for item in inputs:
                hs_id = str(item.get("id"))
                props = {k: ("" if v is None else str(v)) for k, v in item.get("properties", {}).items()}
                contact = self.store.hs_contacts.get(hs_id)
                if contact is None:
                    errors.append({"status": "error", "category": "OBJECT_NOT_FOUND",
                                   "message": "Could not get some CONTACT objects, they may be deleted or not exist.",
                                   "context": {"ids": [hs_id]}})
                    continue
                email = props.get("email", "").lower()
                if "email" in props and email and not valid_email(email):
                    errors.append({"status": "error", "category": "VALIDATION_ERROR",
                                   "message": f"Property values were not valid: email {email!r} is invalid",
                                   "context": {"ids": [hs_id]}})
                    continue
                if email and self.store.hs_by_email.get(email, hs_id) != hs_id:
                    errors.append({"status": "error", "category": "CONFLICT",
                                   "message": "A contact with this email already exists",
                                   "context": {"ids": [hs_id]}})
                    continue
                bad = invalid_values(self.store, props)
                if bad:
                    errors.append({"status": "error", "category": "VALIDATION_ERROR",
                                   "message": f"Property values were not valid: {bad}", "context": {"ids": [hs_id]}})
                    continue
                old_email = contact["properties"].get("email", "")
                if email and email != old_email:
                    self.store.hs_by_email.pop(old_email, None)
                    self.store.hs_by_email[email] = hs_id
                    props["email"] = email
                record_history(self.store, hs_id, contact["properties"], props)
                contact["properties"].update(props)
                contact["updatedAt"] = now
                contact["writes"] += 1
                self.store.stats["hubspot_updates"] += 1
                results.append({"id": hs_id, "properties": contact["properties"], "createdAt": contact["createdAt"],
                                "updatedAt": now, "archived": False})
        return self._batch_outcome(inputs, results, errors)

    def batch_read(self, body: bytes):
        """batch/read by id, or by email with idProperty email: 200 with the contacts found, 207 with
        OBJECT_NOT_FOUND for the inputs that match none."""
        req = json.loads(body or b"{}")
        inputs = req.get("inputs", [])
        if len(inputs) > 100:
            return self._send(400, {"status": "error", "category": "VALIDATION_ERROR",
                                    "message": "Batch input size exceeds limit of 100"})
        by_email = req.get("idProperty") == "email"
        results, missing = [], []
        with self.store.lock:
            for item in inputs:
                ident = str(item.get("id", ""))
                hs_id = self.store.hs_by_email.get(ident.lower()) if by_email else ident
                contact = self.store.hs_contacts.get(hs_id or "")
                if contact is None:
                    missing.append(ident)
                    continue
                results.append({"id": hs_id, "properties": contact["properties"], "archived": False,
                                "createdAt": contact["createdAt"], "updatedAt": contact["updatedAt"]})
        if missing:
            return self._send(207, {"status": "COMPLETE", "results": results, "numErrors": 1, "errors": [
                {"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Could not get some CONTACT objects",
                 "context": {"ids": missing}}]})
        return self._send(200, {"status": "COMPLETE", "results": results})

    def batch_archive(self, body: bytes):
        inputs = json.loads(body or b"{}").get("inputs", [])
        if len(inputs) > 100:
            return self._send(400, {"status": "error", "category": "VALIDATION_ERROR",
                                    "message": "Batch input size exceeds limit of 100"})
        if self._faults_before():
            return
        with self.store.lock:
            for item in inputs:
                contact = self.store.hs_contacts.pop(str(item.get("id")), None)
                if contact is not None:  # archiving an unknown or archived id is not an error
                    self.store.hs_archived[str(item.get("id"))] = contact
                    self.store.hs_by_email.pop(contact["properties"].get("email", ""), None)
                    self.store.stats["hubspot_archives"] += 1
        if self._lose_after():
            return self._drop()
        return self._send(204)

    def gdpr_delete(self, body: bytes):
        """Permanently deletes the contact (it is not kept among archived contacts); 404 for an unknown id."""
        req = json.loads(body or b"{}")
        hs_id = str(req.get("objectId", ""))
        if self._faults_before():
            return
        with self.store.lock:
            contact = self.store.hs_contacts.pop(hs_id, None) or self.store.hs_archived.pop(hs_id, None)
            if contact is None:
                return self._send(404, {"status": "error", "category": "OBJECT_NOT_FOUND",
                                        "message": f"Object not found: {hs_id}"})
            self.store.hs_by_email.pop(contact["properties"].get("email", ""), None)
            self.store.hs_history.pop(hs_id, None)  # a permanent delete leaves no property history either
            self.store.stats["hubspot_gdpr_deletes"] = self.store.stats.get("hubspot_gdpr_deletes", 0) + 1
            left = self.store.config.get("daily_exhausted_after_deletes")
            if left is not None:  # the daily quota runs out after this many deletes (a 429 right after one)
                self.store.config["daily_exhausted_after_deletes"] = left - 1
                self.store.config["hubspot_daily_exhausted"] = left - 1 <= 0
        if self._lose_after():
            return self._drop()
        return self._send(204)

    def merge(self, body: bytes):
        req = json.loads(body or b"{}")
        primary, other = str(req.get("primaryObjectId", "")), str(req.get("objectIdToMerge", ""))
        if not primary or not other or primary == other:
            return self._send(400, {"status": "error", "category": "VALIDATION_ERROR",
                                    "message": "primaryObjectId and objectIdToMerge must be two different ids"})
        if self._faults_before():
            return
        with self.store.lock:
            target, loser = self.store.hs_contacts.get(primary), self.store.hs_contacts.get(other)
            if target is None or loser is None:
                return self._send(404, {"status": "error", "category": "OBJECT_NOT_FOUND",
                                        "message": f"Object not found: {primary if target is None else other}"})
            for k, v in loser["properties"].items():  # the primary's values win; the loser fills gaps
                if k != "email" and v and not target["properties"].get(k):
                    target["properties"][k] = v
            self.store.hs_contacts.pop(other)
            self.store.hs_by_email.pop(loser["properties"].get("email", ""), None)
            self.store.hs_merged_into[other] = primary
            target["updatedAt"] = hs_timestamp()
            self.store.stats["hubspot_merges"] += 1
            result = {"id": primary, "properties": target["properties"], "archived": False,
                      "createdAt": target["createdAt"], "updatedAt": target["updatedAt"]}
        if self._lose_after():
            return self._drop()
        return self._send(200, result)
