"""A local CRM sandbox that follows the public HubSpot and Salesforce contracts the sync uses, plus a
signed-webhook receiver, with fault injection and a small HTML page of the contacts.

Binds to 127.0.0.1 only. Credentials it accepts come from its own environment:
CDP_SANDBOX_HUBSPOT_TOKEN, CDP_SANDBOX_SF_CLIENT_ID / CDP_SANDBOX_SF_CLIENT_SECRET, CDP_SANDBOX_WEBHOOK_SECRET
(defaults are fixed sandbox values). Faults (POST /_sandbox/config): fail_rate (5xx before the write),
lost_rate (write applied, then the connection is dropped without a response), latency_ms, and
hubspot_limit (requests per rolling 10 s; 429 with HubSpot's headers past it), hubspot_daily_exhausted
(429 of policy DAILY), daily_exhausted_after_deletes (the DAILY 429 starts after that many GDPR deletes), and
script (a list of {"status", "headers"} answered, in order, to the next API
requests before anything else: for breaker and Retry-After tests).

Identity changes follow the real APIs: HubSpot batch/update by id (an email change moves the contact's
email; an email another live contact has is a CONFLICT), batch/archive (204, idempotent), merge
(primaryObjectId, objectIdToMerge; the merged-away id then reads as the primary), GET by id; Salesforce
Collections DELETE (?ids=...&allOrNone=false; ENTITY_IS_DELETED for a deleted id); Bulk API 2.0 `#N/A`
clears a field while a blank cell leaves it unchanged. Contacts keep each property's history, as HubSpot
does (GET by id with `propertiesWithHistory`, newest first); the page at /contacts/{id} shows a contact's
journey stage history. Each sandbox process is its own portal and org
(random ids, reported by /account-info/v3/details and the token's identity URL).

The webhook receiver checks the signature and timestamp, drops a delivery id it has applied, and keeps
every request with its outcome, rejected ones included (GET /_sandbox/webhook/log), and journey events
(action `event`) by id (GET /_sandbox/webhook/events); an `erase` of a person removes their events and their
records from the logged requests (a `delete` only leaves the audience). HubSpot `datetime` properties take
ISO 8601 or Unix milliseconds."""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import hmac
import html
import json
import os
import random
import re
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

HUBSPOT_STANDARD = {"email", "firstname", "lastname", "phone", "city", "country", "company", "jobtitle"}
SF_FIELDS = {"CDP_Person_Id__c", "Email", "FirstName", "LastName", "Phone", "MailingCity", "MailingCountry",
             "Title", "CDP_Lifetime_Value__c", "CDP_Order_Count__c", "CDP_Email_Consent__c", "CDP_Segments__c",
             "CDP_Churn_Risk__c", "CDP_Predicted_CLV__c", "CDP_Journey_Stage__c", "CDP_Next_Best_Action__c"}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.([A-Za-z]{2,})$")
RESERVED_TLDS = {"invalid", "test", "example", "localhost"}
DATETIME_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})")


def valid_email(value: str) -> bool:
    m = EMAIL_RE.match(value or "")
    return bool(m) and m.group(1).lower() not in RESERVED_TLDS


class Store:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.config = {"fail_rate": 0.0, "lost_rate": 0.0, "latency_ms": 0, "hubspot_limit": 0,
                       "salesforce_limit": 0, "seed": None, "hubspot_daily_exhausted": False, "script": [],
                       "daily_exhausted_after_deletes": None}
        self.portal_id = int(os.environ.get("CDP_SANDBOX_PORTAL_ID") or random.randint(10_000_000, 99_999_999))
        self.org_id = "00D" + "".join(random.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(15))
        self.rng = random.Random()
        # name -> {"type", "fieldType", "options": [values]}: values are checked against the type on write
        self.hs_properties: dict[str, dict] = {n: {"type": "string", "fieldType": "text", "options": []}
                                               for n in HUBSPOT_STANDARD}
        self.hs_contacts: dict[str, dict] = {}
        self.hs_by_email: dict[str, str] = {}
        self.hs_archived: dict[str, dict] = {}
        self.hs_merged_into: dict[str, str] = {}
        # HubSpot keeps every value a property had: contact id -> property -> [{value, timestamp, ...}], oldest first
        self.hs_history: dict[str, dict[str, list[dict]]] = {}
        self.sf_contacts: dict[str, dict] = {}
        self.sf_deleted: set[str] = set()
        self.webhook_seen: set[str] = set()
        # rejected writes not yet followed by a successful write of the same record: (system, key) -> info
        self.open_failures: dict[tuple[str, str], dict] = {}
        self.webhook: dict[str, dict] = {}
        self.webhook_deleted: set[str] = set()
        self.webhook_events: dict[str, dict] = {}  # journey events accepted, by delivery (event) id
        self.webhook_log: list[dict] = []          # every webhook request with its outcome
        self.sf_jobs: dict[str, dict] = {}
        self.window: deque = deque()
        self.sf_window: deque = deque()
        self.stats = {"requests": 0, "hubspot_upsert_calls": 0, "hubspot_creates": 0, "hubspot_updates": 0,
                      "hubspot_rate_limited": 0, "salesforce_calls": 0, "salesforce_creates": 0,
                      "salesforce_updates": 0, "webhook_deliveries": 0, "webhook_bad_signatures": 0,
                      "injected_failures": 0, "lost_responses": 0, "property_creates": 0,
                      "hubspot_update_calls": 0, "hubspot_archives": 0, "hubspot_merges": 0,
                      "salesforce_deletes": 0, "webhook_replays_dropped": 0, "scripted": 0}
        self.next_id = 1000


STORE = Store()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "CDPSandbox/1"

    def setup(self):
        super().setup()
        # headers and body go out in two writes; without TCP_NODELAY each response waits ~40 ms for
        # the client's delayed ACK (Nagle), which would make the sandbox, not the sync, the bottleneck
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # quiet; never logs headers (tokens)
        return

    # --- plumbing ---------------------------------------------------------------------------
    def _body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status: int, payload=None, headers: dict | None = None, content_type="application/json"):
        data = b"" if payload is None else (payload if isinstance(payload, bytes) else json.dumps(payload).encode())
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        self.wfile.write(data)

    def _drop(self):
        """A response lost after the write was applied: close the socket without answering."""
        STORE.stats["lost_responses"] += 1
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _faults_before(self) -> bool:
        cfg = STORE.config
        if cfg["latency_ms"]:
            time.sleep(cfg["latency_ms"] / 1000)
        if cfg["fail_rate"] and STORE.rng.random() < cfg["fail_rate"]:
            STORE.stats["injected_failures"] += 1
            self._send(503, {"status": "error", "message": "injected failure", "category": "INTERNAL_ERROR"})
            return True
        return False

    def _scripted(self) -> bool:
        """Answer from the configured script, if any entries are left (API paths only)."""
        with STORE.lock:
            script = STORE.config.get("script") or []
            if not script:
                return False
            step = script.pop(0)
            STORE.stats["scripted"] += 1
        body = step.get("body", {"status": "error", "message": "scripted response", "category": "SCRIPTED"})
        self._send(int(step.get("status", 503)), body, step.get("headers") or {})
        return True

    def _lose_after(self) -> bool:
        return bool(STORE.config["lost_rate"]) and STORE.rng.random() < STORE.config["lost_rate"]

    def _bearer(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else None

    # --- routes ---------------------------------------------------------------------------
    def do_GET(self):
        url = urlparse(self.path)
        STORE.stats["requests"] += 1
        if url.path == "/":
            return self._send(200, render_page().encode(), content_type="text/html; charset=utf-8")
        m = re.fullmatch(r"/contacts/(\d+)", url.path)
        if m:
            page = render_contact_page(m.group(1))
            return self._send(200 if page else 404, (page or "no such contact").encode(),
                              content_type="text/html; charset=utf-8")
        if url.path == "/_sandbox/stats":
            with STORE.lock:
                return self._send(200, {**STORE.stats, "hubspot_contacts": len(STORE.hs_contacts),
                                        "open_failures": len(STORE.open_failures),
                                        "salesforce_contacts": len(STORE.sf_contacts),
                                        "webhook_contacts": len(STORE.webhook), "config": STORE.config})
        if url.path == "/_sandbox/webhook":
            with STORE.lock:
                return self._send(200, {"records": STORE.webhook, "deleted": sorted(STORE.webhook_deleted)})
        if url.path == "/_sandbox/webhook/events":
            with STORE.lock:
                return self._send(200, {"events": STORE.webhook_events})
        if url.path == "/_sandbox/webhook/log":
            with STORE.lock:
                return self._send(200, {"requests": STORE.webhook_log})
        if url.path == "/_sandbox/salesforce":
            with STORE.lock:
                return self._send(200, {"records": STORE.sf_contacts})
        if "/jobs/ingest/" in url.path:
            if self._bearer() != sf_session():
                return self._send(401, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}])
            return self.bulk_get(url.path)
        if url.path == "/_sandbox/hubspot":
            with STORE.lock:
                return self._send(200, {"contacts": STORE.hs_contacts, "archived": STORE.hs_archived,
                                        "merged_into": STORE.hs_merged_into})
        if url.path.startswith(("/crm/v3/", "/account-info/")) and self._bearer() != hubspot_token():
            return self._send(401, {"status": "error", "category": "INVALID_AUTHENTICATION"})
        if url.path.startswith(("/crm/v3/", "/account-info/")) and self._scripted():
            return
        if url.path == "/account-info/v3/details":
            return self._send(200, {"portalId": STORE.portal_id, "accountType": "DEVELOPER_TEST", "timeZone": "UTC",
                                    "companyCurrency": "USD", "additionalCurrencies": [], "utcOffset": "+00:00",
                                    "utcOffsetMilliseconds": 0, "uiDomain": "127.0.0.1",
                                    "dataHostingLocation": "local"})
        m = re.fullmatch(r"/crm/v3/properties/contacts/(\w+)", url.path)
        if m:
            with STORE.lock:
                if m.group(1) not in STORE.hs_properties:
                    return self._send(404, {"status": "error", "category": "OBJECT_NOT_FOUND",
                                            "message": f"Unable to find property {m.group(1)}"})
                return self._send(200, property_body(m.group(1)))
        m = re.fullmatch(r"/crm/v3/objects/contacts/(\d+)", url.path)
        if m:
            with STORE.lock:
                hs_id = m.group(1)
                seen = {hs_id}
                while hs_id in STORE.hs_merged_into and STORE.hs_merged_into[hs_id] not in seen:
                    hs_id = STORE.hs_merged_into[hs_id]
                    seen.add(hs_id)
                contact = STORE.hs_contacts.get(hs_id)
                if contact is None:
                    return self._send(404, {"status": "error", "category": "OBJECT_NOT_FOUND",
                                            "message": "resource not found"})
                body = {"id": hs_id, "properties": contact["properties"], "archived": False,
                        "createdAt": contact["createdAt"], "updatedAt": contact["updatedAt"]}
                with_history = parse_qs(url.query).get("propertiesWithHistory")
                if with_history:
                    body["propertiesWithHistory"] = properties_with_history(hs_id, with_history)
                return self._send(200, body)
        if url.path == "/crm/v3/objects/contacts":
            q = parse_qs(url.query)
            limit, after = int(q.get("limit", ["100"])[0]), int(q.get("after", ["0"])[0])
            with STORE.lock:
                items = sorted(STORE.hs_contacts.items(), key=lambda kv: int(kv[0]))
            page = items[after:after + limit]
            body = {"results": [{"id": k, "properties": v["properties"], "createdAt": v["createdAt"],
                                 "updatedAt": v["updatedAt"]} for k, v in page]}
            if after + limit < len(items):
                body["paging"] = {"next": {"after": str(after + limit)}}
            return self._send(200, body)
        return self._send(404, {"status": "error", "message": "not found"})

    def do_POST(self):
        url = urlparse(self.path)
        body = self._body()
        STORE.stats["requests"] += 1
        if url.path == "/_sandbox/config":
            update = json.loads(body or b"{}")
            with STORE.lock:
                if update.get("reset"):
                    STORE.reset()
                STORE.config.update({k: v for k, v in update.items() if k in STORE.config})
                if STORE.config.get("seed") is not None:
                    STORE.rng.seed(STORE.config["seed"])
            return self._send(200, STORE.config)
        if url.path == "/services/oauth2/token":
            form = parse_qs(body.decode())
            if (form.get("client_id", [""])[0] != sf_client()[0] or
                    form.get("client_secret", [""])[0] != sf_client()[1]):
                return self._send(400, {"error": "invalid_client", "error_description": "invalid client credentials"})
            host = f"http://{self.headers.get('Host')}"
            return self._send(200, {"access_token": sf_session(), "instance_url": host, "token_type": "Bearer",
                                    "id": f"{host}/id/{STORE.org_id}/005{STORE.org_id[3:]}",
                                    "issued_at": str(int(time.time() * 1000))})
        if url.path.startswith("/webhook/"):
            return self.webhook(url.path, body)
        if re.fullmatch(r"/services/data/v\d+\.\d+/jobs/ingest/?", url.path):
            if self._bearer() != sf_session():
                return self._send(401, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}])
            spec = json.loads(body or b"{}")
            if spec.get("operation") != "upsert" or spec.get("object") != "Contact" or not spec.get("externalIdFieldName"):
                return self._send(400, [{"errorCode": "INVALIDJOB", "message": "unsupported job"}])
            with STORE.lock:
                STORE.next_id += 1
                job_id = f"750{STORE.next_id:015d}"
                STORE.sf_jobs[job_id] = {"state": "Open", "ext": spec["externalIdFieldName"], "csv": "",
                                         "ok": [], "failed": [], "polls": 0}
            return self._send(200, {"id": job_id, "state": "Open", "operation": "upsert", "object": "Contact"})
        if url.path.startswith("/crm/v3/"):
            if self._bearer() != hubspot_token():
                return self._send(401, {"status": "error", "message": "Authentication credentials not found.",
                                        "category": "INVALID_AUTHENTICATION"})
            if self._scripted() or self.hubspot_limited():
                return
            if url.path == "/crm/v3/properties/contacts":
                return self.create_property(body)
            if url.path == "/crm/v3/objects/contacts/batch/upsert":
                return self.batch_upsert(body)
            if url.path == "/crm/v3/objects/contacts/batch/update":
                return self.batch_update(body)
            if url.path == "/crm/v3/objects/contacts/batch/archive":
                return self.batch_archive(body)
            if url.path == "/crm/v3/objects/contacts/batch/read":
                return self.batch_read(body)
            if url.path == "/crm/v3/objects/contacts/merge":
                return self.merge(body)
            if url.path == "/crm/v3/objects/contacts/gdpr-delete":
                return self.gdpr_delete(body)
        return self._send(404, {"status": "error", "message": "not found"})

    def do_PUT(self):
        url = urlparse(self.path)
        body = self._body()
        STORE.stats["requests"] += 1
        m = re.fullmatch(r"/services/data/v\d+\.\d+/jobs/ingest/(\w+)/batches/?", url.path)
        if not m or m.group(1) not in STORE.sf_jobs:
            return self._send(404, [{"errorCode": "NOT_FOUND", "message": "no such job"}])
        if self._bearer() != sf_session():
            return self._send(401, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}])
        with STORE.lock:
            job = STORE.sf_jobs[m.group(1)]
            if job["state"] != "Open":
                return self._send(409, [{"errorCode": "INVALIDJOBSTATE", "message": "job is not open"}])
            job["csv"] += body.decode("utf-8")
        return self._send(201)

    def bulk_close(self, job_id: str, update: dict):
        if job_id not in STORE.sf_jobs or update.get("state") != "UploadComplete":
            return self._send(400, [{"errorCode": "INVALIDJOBSTATE", "message": "unsupported state change"}])
        with STORE.lock:
            job = STORE.sf_jobs[job_id]
            STORE.stats["salesforce_bulk_jobs"] = STORE.stats.get("salesforce_bulk_jobs", 0) + 1
            for row in csv.DictReader(io.StringIO(job["csv"])):
                # a blank CSV cell leaves a field unchanged; #N/A sets it to null
                fields = {k: (None if v == "#N/A" else v) for k, v in row.items() if v != ""}
                result = sf_apply(job["ext"], fields)
                if result["success"]:
                    job["ok"].append({"sf__Id": result["id"], "sf__Created": str(result["created"]).lower(), **row})
                else:
                    err = result["errors"][0]
                    job["failed"].append({"sf__Id": "", "sf__Error": f"{err['statusCode']}:{err['message']}", **row})
            job["state"] = "InProgress"
        return self._send(200, {"id": job_id, "state": "UploadComplete"})

    def bulk_get(self, path: str):
        m = re.fullmatch(r"/services/data/v\d+\.\d+/jobs/ingest/(\w+)(/(successfulResults|failedResults)/?)?", path)
        if not m or m.group(1) not in STORE.sf_jobs:
            return self._send(404, [{"errorCode": "NOT_FOUND", "message": "no such job"}])
        with STORE.lock:
            job = STORE.sf_jobs[m.group(1)]
            if not m.group(3):
                job["polls"] += 1
                if job["state"] == "InProgress" and job["polls"] > 1:  # the first poll sees it still running
                    job["state"] = "JobComplete"
                return self._send(200, {"id": m.group(1), "state": job["state"],
                                        "numberRecordsProcessed": len(job["ok"]) + len(job["failed"]),
                                        "numberRecordsFailed": len(job["failed"])})
            rows = job["ok"] if m.group(3) == "successfulResults" else job["failed"]
        buf = io.StringIO()
        if rows:
            writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        return self._send(200, buf.getvalue().encode(), content_type="text/csv")

    def do_PATCH(self):
        url = urlparse(self.path)
        body = self._body()
        STORE.stats["requests"] += 1
        prop = re.fullmatch(r"/crm/v3/properties/contacts/(\w+)", url.path)
        if prop:
            if self._bearer() != hubspot_token():
                return self._send(401, {"status": "error", "category": "INVALID_AUTHENTICATION"})
            update = json.loads(body or b"{}")
            with STORE.lock:
                if prop.group(1) not in STORE.hs_properties:
                    return self._send(404, {"status": "error", "category": "OBJECT_NOT_FOUND"})
                if "options" in update:  # PATCH replaces the option list
                    STORE.hs_properties[prop.group(1)]["options"] = [o.get("value") for o in update["options"]]
                    STORE.stats["property_updates"] = STORE.stats.get("property_updates", 0) + 1
                return self._send(200, property_body(prop.group(1)))
        if self._bearer() != sf_session() and "/jobs/ingest/" in url.path:
            return self._send(401, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}])
        job = re.fullmatch(r"/services/data/v\d+\.\d+/jobs/ingest/(\w+)", url.path)
        if job:
            return self.bulk_close(job.group(1), json.loads(body or b"{}"))
        m = re.fullmatch(r"/services/data/v\d+\.\d+/composite/sobjects/Contact/(\w+)", url.path)
        if not m:
            return self._send(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
        if self._bearer() != sf_session():
            return self._send(401, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}])
        return self.sf_upsert(m.group(1), json.loads(body or b"{}"))

    # --- HubSpot ------------------------------------------------------------------------------
    def hubspot_limited(self) -> bool:
        if STORE.config.get("hubspot_daily_exhausted"):
            STORE.stats["hubspot_rate_limited"] += 1
            self._send(429, {"status": "error", "message": "You have reached your daily limit.",
                             "errorType": "RATE_LIMIT", "policyName": "DAILY"},
                       {"X-HubSpot-RateLimit-Daily": 250000, "X-HubSpot-RateLimit-Daily-Remaining": 0})
            return True
        limit = STORE.config["hubspot_limit"]
        if not limit:
            return False
        now = time.monotonic()
        with STORE.lock:
            while STORE.window and now - STORE.window[0] > 10:
                STORE.window.popleft()
            remaining = limit - len(STORE.window)
            if remaining <= 0:
                STORE.stats["hubspot_rate_limited"] += 1
                self._send(429, {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
                                 "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"},
                           {"X-HubSpot-RateLimit-Interval-Milliseconds": 10000,
                            "X-HubSpot-RateLimit-Max": limit, "X-HubSpot-RateLimit-Remaining": 0})
                return True
            STORE.window.append(now)
        return False

    def create_property(self, body: bytes):
        prop = json.loads(body or b"{}")
        name = prop.get("name", "")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            return self._send(400, {"status": "error", "category": "VALIDATION_ERROR", "message": "invalid name"})
        with STORE.lock:
            if name in STORE.hs_properties:
                return self._send(409, {"status": "error", "category": "OBJECT_ALREADY_EXISTS",
                                        "message": f"Property named '{name}' already exists."})
            STORE.hs_properties[name] = {"type": prop.get("type", "string"), "fieldType": prop.get("fieldType", "text"),
                                         "options": [o.get("value") for o in prop.get("options", [])]}
            STORE.stats["property_creates"] += 1
        return self._send(201, property_body(name))

    def _batch_rejected(self, inputs: list[dict], ids: list[str]) -> bool:
        """What HubSpot rejects in a batch as a whole (answered here): duplicate ids, unknown properties."""
        if len(set(ids)) != len(ids):
            self._send(400, {"status": "error", "category": "VALIDATION_ERROR",
                             "message": "Duplicate IDs found in batch input"})
            return True
        unknown = sorted({p for i in inputs for p in i.get("properties", {}) if p not in STORE.hs_properties})
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
        note_outcome("HubSpot", [k for r in results for k in (r["id"], r["properties"].get("email", ""),
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
        STORE.stats["hubspot_upsert_calls"] += 1
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
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        with STORE.lock:
            for item in inputs:
                email = str(item["id"]).lower()
                props = {k: ("" if v is None else str(v)) for k, v in item.get("properties", {}).items()}
                if not valid_email(email) or ("email" in props and props["email"] and not valid_email(props["email"])):
                    errors.append({"status": "error", "category": "VALIDATION_ERROR",
                                   "message": f"Property values were not valid: email {email!r} is invalid",
                                   "context": {"ids": [item["id"]]}})
                    continue
                bad = invalid_values(props)
                if bad:
                    errors.append({"status": "error", "category": "VALIDATION_ERROR",
                                   "message": f"Property values were not valid: {bad}", "context": {"ids": [item["id"]]}})
                    continue
                hs_id = STORE.hs_by_email.get(email)
                new = hs_id is None
                if new:
                    STORE.next_id += 1
                    hs_id = str(STORE.next_id)
                    STORE.hs_by_email[email] = hs_id
                    STORE.hs_contacts[hs_id] = {"properties": {"email": email}, "createdAt": now, "updatedAt": now,
                                                "writes": 0}
                    STORE.stats["hubspot_creates"] += 1
                else:
                    STORE.stats["hubspot_updates"] += 1
                contact = STORE.hs_contacts[hs_id]
                record_history(hs_id, {} if new else contact["properties"], {**props, "email": email})
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
        STORE.stats["hubspot_update_calls"] += 1
        if len(inputs) > 100:
            return self._send(400, {"status": "error", "category": "VALIDATION_ERROR",
                                    "message": "Batch input size exceeds limit of 100"})
        if self._batch_rejected(inputs, [str(i.get("id", "")) for i in inputs]):
            return
        if self._faults_before():
            return
        results, errors = [], []
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        with STORE.lock:
            for item in inputs:
                hs_id = str(item.get("id"))
                props = {k: ("" if v is None else str(v)) for k, v in item.get("properties", {}).items()}
                contact = STORE.hs_contacts.get(hs_id)
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
                if email and STORE.hs_by_email.get(email, hs_id) != hs_id:
                    errors.append({"status": "error", "category": "CONFLICT",
                                   "message": "A contact with this email already exists",
                                   "context": {"ids": [hs_id]}})
                    continue
                bad = invalid_values(props)
                if bad:
                    errors.append({"status": "error", "category": "VALIDATION_ERROR",
                                   "message": f"Property values were not valid: {bad}", "context": {"ids": [hs_id]}})
                    continue
                old_email = contact["properties"].get("email", "")
                if email and email != old_email:
                    STORE.hs_by_email.pop(old_email, None)
                    STORE.hs_by_email[email] = hs_id
                    props["email"] = email
                record_history(hs_id, contact["properties"], props)
                contact["properties"].update(props)
                contact["updatedAt"] = now
                contact["writes"] += 1
                STORE.stats["hubspot_updates"] += 1
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
        with STORE.lock:
            for item in inputs:
                ident = str(item.get("id", ""))
                hs_id = STORE.hs_by_email.get(ident.lower()) if by_email else ident
                contact = STORE.hs_contacts.get(hs_id or "")
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
        with STORE.lock:
            for item in inputs:
                contact = STORE.hs_contacts.pop(str(item.get("id")), None)
                if contact is not None:  # archiving an unknown or archived id is not an error
                    STORE.hs_archived[str(item.get("id"))] = contact
                    STORE.hs_by_email.pop(contact["properties"].get("email", ""), None)
                    STORE.stats["hubspot_archives"] += 1
        if self._lose_after():
            return self._drop()
        return self._send(204)

    def gdpr_delete(self, body: bytes):
        """Permanently deletes the contact (it is not kept among archived contacts); 404 for an unknown id."""
        req = json.loads(body or b"{}")
        hs_id = str(req.get("objectId", ""))
        if self._faults_before():
            return
        with STORE.lock:
            contact = STORE.hs_contacts.pop(hs_id, None) or STORE.hs_archived.pop(hs_id, None)
            if contact is None:
                return self._send(404, {"status": "error", "category": "OBJECT_NOT_FOUND",
                                        "message": f"Object not found: {hs_id}"})
            STORE.hs_by_email.pop(contact["properties"].get("email", ""), None)
            STORE.hs_history.pop(hs_id, None)  # a permanent delete leaves no property history either
            STORE.stats["hubspot_gdpr_deletes"] = STORE.stats.get("hubspot_gdpr_deletes", 0) + 1
            left = STORE.config.get("daily_exhausted_after_deletes")
            if left is not None:  # the daily quota runs out after this many deletes (a 429 right after one)
                STORE.config["daily_exhausted_after_deletes"] = left - 1
                STORE.config["hubspot_daily_exhausted"] = left - 1 <= 0
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
        with STORE.lock:
            target, loser = STORE.hs_contacts.get(primary), STORE.hs_contacts.get(other)
            if target is None or loser is None:
                return self._send(404, {"status": "error", "category": "OBJECT_NOT_FOUND",
                                        "message": f"Object not found: {primary if target is None else other}"})
            for k, v in loser["properties"].items():  # the primary's values win; the loser fills gaps
                if k != "email" and v and not target["properties"].get(k):
                    target["properties"][k] = v
            STORE.hs_contacts.pop(other)
            STORE.hs_by_email.pop(loser["properties"].get("email", ""), None)
            STORE.hs_merged_into[other] = primary
            STORE.stats["hubspot_merges"] += 1
            result = {"id": primary, "properties": target["properties"], "archived": False,
                      "createdAt": target["createdAt"], "updatedAt": target["updatedAt"]}
        if self._lose_after():
            return self._drop()
        return self._send(200, result)

    # --- Salesforce --------------------------------------------------------------------------
    def do_DELETE(self):
        url = urlparse(self.path)
        STORE.stats["requests"] += 1
        if not re.fullmatch(r"/services/data/v\d+\.\d+/composite/sobjects/?", url.path):
            return self._send(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
        if self._bearer() != sf_session():
            return self._send(401, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}])
        q = parse_qs(url.query)
        ids = [i for i in q.get("ids", [""])[0].split(",") if i]
        if not ids or len(ids) > 200:
            return self._send(400, [{"errorCode": "INVALID_FIELD", "message": "ids: between 1 and 200 ids"}])
        if self._faults_before():
            return
        out = []
        with STORE.lock:
            by_id = {c["Id"]: ext for ext, c in STORE.sf_contacts.items()}
            for rid in ids:
                if rid in by_id:
                    STORE.sf_contacts.pop(by_id[rid])
                    STORE.sf_deleted.add(rid)
                    STORE.stats["salesforce_deletes"] += 1
                    out.append({"id": rid, "success": True, "errors": []})
                elif rid in STORE.sf_deleted:
                    out.append({"id": None, "success": False, "errors": [
                        {"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]})
                else:
                    out.append({"id": None, "success": False, "errors": [
                        {"statusCode": "INVALID_CROSS_REFERENCE_KEY", "message": "invalid cross reference id",
                         "fields": []}]})
        if self._lose_after():
            return self._drop()
        return self._send(200, out)

    def sf_upsert(self, ext_field: str, req: dict):
        STORE.stats["salesforce_calls"] += 1
        limit = STORE.config["salesforce_limit"]
        if limit:
            now = time.monotonic()
            with STORE.lock:
                while STORE.sf_window and now - STORE.sf_window[0] > 10:
                    STORE.sf_window.popleft()
                if len(STORE.sf_window) >= limit:
                    return self._send(403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED",
                                             "message": "TotalRequests Limit exceeded."}])
                STORE.sf_window.append(now)
        records = req.get("records", [])
        if len(records) > 200:
            return self._send(400, [{"errorCode": "EXCEEDED_ID_LIMIT", "message": "record limit is 200"}])
        if self._faults_before():
            return
        with STORE.lock:
            out = [sf_apply(ext_field, {k: v for k, v in rec.items() if k != "attributes"}) for rec in records]
        exts = [str(rec.get(ext_field, "")) for rec in records]
        note_outcome("Salesforce", [e for e, r in zip(exts, out) if r["success"]],
                     [(e, r["errors"][0]["statusCode"], r["errors"][0]["message"]) for e, r in zip(exts, out)
                      if not r["success"]])
        if self._lose_after():
            return self._drop()
        return self._send(200, out)

    # --- webhook -----------------------------------------------------------------------------
    def webhook(self, path: str, body: bytes):
        """Signed deliveries. Every request lands in the full request log (GET /_sandbox/webhook/log) with its
        outcome, rejected ones included; journey events (action `event`) are kept by delivery id
        (GET /_sandbox/webhook/events) and an id seen before is dropped as a replay."""
        try:
            msg = json.loads(body or b"{}")
        except ValueError:
            msg = {}
        records = msg.get("records", []) if isinstance(msg, dict) else []
        entry = {"path": path, "action": msg.get("action") if isinstance(msg, dict) else None,
                 "timestamp": self.headers.get("X-CDP-Timestamp", ""), "signature": self.headers.get("X-CDP-Signature", ""),
                 "body": body.decode("utf-8", "replace"), "records": records, "outcome": "", "accepted": [],
                 "replays": []}
        with STORE.lock:
            STORE.webhook_log.append(entry)
        ts = self.headers.get("X-CDP-Timestamp", "")
        expected = "sha256=" + hmac.new(webhook_secret().encode(), ts.encode() + b"." + body,
                                        hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, self.headers.get("X-CDP-Signature", "")):
            STORE.stats["webhook_bad_signatures"] += 1
            entry["outcome"] = "bad_signature"
            return self._send(401, {"error": "bad signature"})
        if not ts.isdigit() or abs(time.time() - int(ts)) > WEBHOOK_MAX_AGE_S:  # a replayed old delivery
            STORE.stats["webhook_stale_timestamps"] = STORE.stats.get("webhook_stale_timestamps", 0) + 1
            entry["outcome"] = "stale_timestamp"
            return self._send(401, {"error": "timestamp outside the 5 minute window"})
        if self._faults_before():
            entry["outcome"] = "injected_failure"
            return
        with STORE.lock:
            STORE.stats["webhook_deliveries"] += 1
            for rec in records:
                did = rec.get("delivery_id")
                if did and did in STORE.webhook_seen:  # a replay of a change already applied
                    STORE.stats["webhook_replays_dropped"] += 1
                    entry["replays"].append(did)
                    continue
                if did:
                    STORE.webhook_seen.add(did)
                    entry["accepted"].append(did)
                if msg.get("action") == "event":
                    STORE.webhook_events[did] = rec
                elif msg.get("action") in ("delete", "merge", "erase"):
                    STORE.webhook.pop(rec["key"], None)
                    STORE.webhook_deleted.add(rec["key"])
                    if msg.get("action") == "erase":
                        forget_person(rec["key"], keep=entry)
                else:
                    STORE.webhook[rec["key"]] = rec
        if self._lose_after():
            entry["outcome"] = "applied_response_lost"
            return self._drop()
        entry["outcome"] = "applied"
        return self._send(200, {"accepted": len(entry["accepted"]), "replays": len(entry["replays"])})


def forget_person(key: str, keep: dict) -> None:
    """An `erase` reached the receiver: the person's journey events and every logged request record about
    them go (the request's body is rewritten without them), as a receiver honouring an erasure must. Caller
    holds the lock; `keep` is the delete request's own log entry."""
    for did in [d for d, ev in STORE.webhook_events.items() if key in (ev.get("key"), ev.get("person_id"))]:
        STORE.webhook_events.pop(did)
    for entry in STORE.webhook_log:
        if entry is keep:
            continue
        records = [r for r in entry["records"] if key not in (r.get("key"), r.get("person_id"))]
        if len(records) != len(entry["records"]):
            entry["records"] = records
            entry["body"] = json.dumps({"action": entry["action"], "records": records, "note": "erased records removed"})


def note_outcome(system: str, ok_keys: list[str], failed: list[tuple[str, str, str]]) -> None:
    now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    with STORE.lock:
        for key in ok_keys:
            STORE.open_failures.pop((system, key.lower()), None)
        for key, code, message in failed:
            prev = STORE.open_failures.get((system, key.lower()))
            STORE.open_failures[(system, key.lower())] = {"code": code, "message": message, "last": now,
                                                          "attempts": (prev or {}).get("attempts", 0) + 1}


def property_body(name: str) -> dict:
    p = STORE.hs_properties[name]
    return {"name": name, "type": p["type"], "fieldType": p["fieldType"],
            "options": [{"label": o, "value": o, "displayOrder": i, "hidden": False} for i, o in enumerate(p["options"])]}


def invalid_values(props: dict[str, str]) -> str | None:
    """HubSpot checks values against the property type: numbers, ISO dates, declared enumeration options."""
    for name, value in props.items():
        spec = STORE.hs_properties.get(name)
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


def sf_apply(ext_field: str, fields: dict) -> dict:
    """Validate and upsert one Salesforce Contact (caller holds STORE.lock); a per-record result."""
    unknown = [k for k in fields if k not in SF_FIELDS]
    ext = fields.get(ext_field)
    if unknown:
        return {"success": False, "errors": [{"statusCode": "INVALID_FIELD", "fields": unknown,
                "message": f"No such column '{unknown[0]}' on sobject of type Contact"}]}
    if not ext:
        return {"success": False, "errors": [{"statusCode": "MISSING_ARGUMENT", "fields": [ext_field],
                "message": f"{ext_field} not specified"}]}
    if fields.get("Email") and not valid_email(fields["Email"]):
        return {"success": False, "errors": [{"statusCode": "INVALID_EMAIL_ADDRESS", "fields": ["Email"],
                "message": f"Email: invalid email address: {fields['Email']}"}]}
    if ext not in STORE.sf_contacts and not fields.get("LastName"):
        return {"success": False, "errors": [{"statusCode": "REQUIRED_FIELD_MISSING", "fields": ["LastName"],
                "message": "Required fields are missing: [LastName]"}]}
    created = ext not in STORE.sf_contacts
    if created:
        STORE.next_id += 1
        STORE.sf_contacts[ext] = {"Id": f"003{STORE.next_id:015d}", "writes": 0}
        STORE.stats["salesforce_creates"] += 1
    else:
        STORE.stats["salesforce_updates"] += 1
    STORE.sf_contacts[ext].update(fields)
    STORE.sf_contacts[ext]["writes"] += 1
    return {"id": STORE.sf_contacts[ext]["Id"], "success": True, "created": created, "errors": []}


def hubspot_token() -> str:
    return os.environ.get("CDP_SANDBOX_HUBSPOT_TOKEN", "sandbox-hubspot-token")


def sf_client() -> tuple[str, str]:
    return (os.environ.get("CDP_SANDBOX_SF_CLIENT_ID", "sandbox-client"),
            os.environ.get("CDP_SANDBOX_SF_CLIENT_SECRET", "sandbox-secret"))


def sf_session() -> str:
    return hashlib.sha256(("session:" + sf_client()[1]).encode()).hexdigest()[:32]


WEBHOOK_MAX_AGE_S = 300  # a signed delivery older (or further ahead) than this is refused


def webhook_secret() -> str:
    return os.environ.get("CDP_SANDBOX_WEBHOOK_SECRET", "sandbox-webhook-secret")


ENRICHED = ["cdp_person_id", "cdp_lifetime_value", "cdp_order_count", "cdp_email_consent", "cdp_segments",
            "cdp_churn_risk", "cdp_predicted_clv", "cdp_journey_stage", "cdp_next_best_action"]


def render_page(limit: int = 500) -> str:
    with STORE.lock:
        contacts = sorted(STORE.hs_contacts.items(), key=lambda kv: int(kv[0]))[:limit]
        total, sf, wh = len(STORE.hs_contacts), len(STORE.sf_contacts), len(STORE.webhook)
        failures = sorted(STORE.open_failures.items())[:limit]
    cols = ["email", "firstname", "lastname", "country", *ENRICHED]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ["HubSpot id", *cols])
    rows = "".join(
        "<tr>" + f"<td><a href='/contacts/{html.escape(k)}'>{html.escape(k)}</a></td>" +
        "".join(f"<td class='{'enriched' if c in ENRICHED else ''}'>{html.escape(v['properties'].get(c, ''))}</td>"
                for c in cols) + "</tr>" for k, v in contacts)
    fail_rows = "".join(
        f"<tr><td>{html.escape(sys_)}</td><td>{html.escape(key)}</td><td>{html.escape(f['code'])}</td>"
        f"<td>{html.escape(f['message'])}</td><td>{f['attempts']}</td><td>{html.escape(f['last'])}</td></tr>"
        for (sys_, key), f in failures)
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>CRM sandbox: contacts</title>
<style>body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 6px}}th{{background:#eef}}td.enriched{{background:#f4fff0}}</style>
</head><body><h1>CRM sandbox</h1>
<p id="summary">{total} HubSpot contacts, {sf} Salesforce contacts, {wh} marketing webhook contacts.
Showing the first {len(contacts)} HubSpot contacts; green columns are written by the CDP sync.</p>
<table id="contacts"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>
<h2>Open failures</h2>
<p id="failures-summary">{len(failures)} records whose last write was rejected and not yet written since.</p>
<table id="failures"><thead><tr><th>system</th><th>record</th><th>code</th><th>message</th><th>attempts</th>
<th>last (UTC)</th></tr></thead><tbody>{fail_rows}</tbody></table></body></html>"""


def history_timestamp() -> str:
    """Milliseconds, as HubSpot's history timestamps: two syncs within a second still order."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def record_history(hs_id: str, current: dict[str, str], written: dict[str, str]) -> None:
    """A new version for each written property whose value differs from the current one (caller holds the
    lock): the history HubSpot returns for `propertiesWithHistory` and the contact page shows."""
    at = history_timestamp()
    history = STORE.hs_history.setdefault(hs_id, {})
    for name, value in written.items():
        if name not in current or current[name] != value:
            history.setdefault(name, []).append({"value": value, "timestamp": at, "sourceType": "INTEGRATION",
                                                 "sourceId": "cdp-sync"})


def properties_with_history(hs_id: str, requested: list[str]) -> dict[str, list[dict]]:
    """HubSpot's `propertiesWithHistory` (comma-separated or repeated): each property's versions, newest
    first; a property never written has an empty list."""
    names = [n for item in requested for n in item.split(",") if n]
    history = STORE.hs_history.get(hs_id, {})
    return {n: list(reversed(history.get(n, []))) for n in names}


PAGE_STYLE = """body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 6px}th{background:#eef}td.enriched{background:#f4fff0}"""


def render_contact_page(hs_id: str) -> str | None:
    """One contact: its journey stage history as synced (value and time of each change, oldest first), then
    the history of every other CDP property."""
    with STORE.lock:
        contact = STORE.hs_contacts.get(hs_id)
        if contact is None:
            return None
        props = dict(contact["properties"])
        history = {name: list(versions) for name, versions in STORE.hs_history.get(hs_id, {}).items()}

    def table(table_id: str, name: str) -> str:
        rows = "".join(f"<tr><td>{html.escape(v['value'])}</td><td>{html.escape(v['timestamp'])}</td></tr>"
                       for v in history.get(name, []))
        return (f"<table id='{table_id}'><thead><tr><th>{html.escape(name)}</th><th>set at (UTC)</th></tr></thead>"
                f"<tbody>{rows}</tbody></table>")

    others = "".join(f"<h3>{html.escape(n)}</h3>{table('history-' + n, n)}"
                     for n in ENRICHED if n != "cdp_journey_stage" and history.get(n))
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>CRM sandbox: contact {html.escape(hs_id)}</title>
<style>{PAGE_STYLE}</style></head><body><p><a href="/">all contacts</a></p>
<h1>Contact {html.escape(hs_id)}</h1>
<p id="contact">{html.escape(props.get('email', ''))}, CDP person {html.escape(props.get('cdp_person_id', ''))},
journey stage now <b>{html.escape(props.get('cdp_journey_stage', ''))}</b></p>
<h2>Journey stage history</h2>
<p>Each value the CDP sync wrote to cdp_journey_stage, oldest first (the contact's property history).</p>
{table('stage-history', 'cdp_journey_stage')}
<h2>Other CDP properties</h2>{others}</body></html>"""


def serve(port: int = 0, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("the sandbox binds to loopback only")
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description="CRM sandbox (HubSpot/Salesforce/webhook) on loopback")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="write the chosen port here once listening")
    ns = parser.parse_args()
    server = serve(ns.port)
    port = server.server_address[1]
    if ns.port_file:
        tmp = ns.port_file + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(str(port))
        os.replace(tmp, ns.port_file)
    print(f"CRM sandbox listening on http://127.0.0.1:{port}/", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
