"""The Salesforce APIs as the sync uses them (see sync/destinations/salesforce.py): the OAuth token with the
org's identity URL, sObject Collections upsert by external id and DELETE, and Bulk API 2.0 ingest jobs
(where `#N/A` clears a field and a blank cell leaves it unchanged)."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from urllib.parse import parse_qs

from sync.sandbox.store import SF_FIELDS, Store, note_outcome, sf_client, sf_session, valid_email

SESSION_INVALID = [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}]


class SalesforceApi:
    def salesforce_token(self, body: bytes) -> None:
        form = parse_qs(body.decode())
        if (form.get("client_id", [""])[0] != sf_client()[0] or
                form.get("client_secret", [""])[0] != sf_client()[1]):
            return self._send(400, {"error": "invalid_client", "error_description": "invalid client credentials"})
        host = f"http://{self.headers.get('Host')}"
        return self._send(200, {"access_token": sf_session(), "instance_url": host, "token_type": "Bearer",
                                "id": f"{host}/id/{self.store.org_id}/005{self.store.org_id[3:]}",
                                "issued_at": str(int(time.time() * 1000))})

    def salesforce_post(self, url, body: bytes) -> None:
        """POST /services/data/vXX.X/jobs/ingest: a new Bulk API 2.0 upsert job."""
        if not re.fullmatch(r"/services/data/v\d+\.\d+/jobs/ingest/?", url.path):
            return self._send(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
        if self._bearer() != sf_session():
            return self._send(401, SESSION_INVALID)
        spec = json.loads(body or b"{}")
        if spec.get("operation") != "upsert" or spec.get("object") != "Contact" or not spec.get("externalIdFieldName"):
            return self._send(400, [{"errorCode": "INVALIDJOB", "message": "unsupported job"}])
        with self.store.lock:
            self.store.next_id += 1
            job_id = f"750{self.store.next_id:015d}"
            self.store.sf_jobs[job_id] = {"state": "Open", "ext": spec["externalIdFieldName"], "csv": "",
                                          "ok": [], "failed": [], "polls": 0}
        return self._send(200, {"id": job_id, "state": "Open", "operation": "upsert", "object": "Contact"})

    def salesforce_patch(self, url, body: bytes) -> None:
        """PATCH: close a bulk job, or a Collections upsert by external id."""
        if self._bearer() != sf_session() and "/jobs/ingest/" in url.path:
            return self._send(401, SESSION_INVALID)
        job = re.fullmatch(r"/services/data/v\d+\.\d+/jobs/ingest/(\w+)", url.path)
        if job:
            return self.bulk_close(job.group(1), json.loads(body or b"{}"))
        m = re.fullmatch(r"/services/data/v\d+\.\d+/composite/sobjects/Contact/(\w+)", url.path)
        if not m:
            return self._send(404, [{"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}])
        if self._bearer() != sf_session():
            return self._send(401, SESSION_INVALID)
        return self.sf_upsert(m.group(1), json.loads(body or b"{}"))

    def salesforce_put(self, url, body: bytes) -> None:
        """PUT of a bulk job's CSV data."""
        m = re.fullmatch(r"/services/data/v\d+\.\d+/jobs/ingest/(\w+)/batches/?", url.path)
        if not m or m.group(1) not in self.store.sf_jobs:
            return self._send(404, [{"errorCode": "NOT_FOUND", "message": "no such job"}])
        if self._bearer() != sf_session():
            return self._send(401, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}])
        with self.store.lock:
            job = self.store.sf_jobs[m.group(1)]
            if job["state"] != "Open":
                return self._send(409, [{"errorCode": "INVALIDJOBSTATE", "message": "job is not open"}])
            job["csv"] += body.decode("utf-8")
        return self._send(201)

    def bulk_close(self, job_id: str, update: dict):
        if job_id not in self.store.sf_jobs or update.get("state") != "UploadComplete":
            return self._send(400, [{"errorCode": "INVALIDJOBSTATE", "message": "unsupported state change"}])
        with self.store.lock:
            job = self.store.sf_jobs[job_id]
            self.store.stats["salesforce_bulk_jobs"] = self.store.stats.get("salesforce_bulk_jobs", 0) + 1
            for row in csv.DictReader(io.StringIO(job["csv"])):
                # a blank CSV cell leaves a field unchanged; #N/A sets it to null
                fields = {k: (None if v == "#N/A" else v) for k, v in row.items() if v != ""}
                result = sf_apply(self.store, job["ext"], fields)
                if result["success"]:
                    job["ok"].append({"sf__Id": result["id"], "sf__Created": str(result["created"]).lower(), **row})
                else:
                    err = result["errors"][0]
                    job["failed"].append({"sf__Id": "", "sf__Error": f"{err['statusCode']}:{err['message']}", **row})
            job["state"] = "InProgress"
        return self._send(200, {"id": job_id, "state": "UploadComplete"})

    def bulk_get(self, path: str):
        m = re.fullmatch(r"/services/data/v\d+\.\d+/jobs/ingest/(\w+)(/(successfulResults|failedResults)/?)?", path)
        if not m or m.group(1) not in self.store.sf_jobs:
            return self._send(404, [{"errorCode": "NOT_FOUND", "message": "no such job"}])
        with self.store.lock:
            job = self.store.sf_jobs[m.group(1)]
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

    def salesforce_delete(self, url) -> None:
        """Collections DELETE ?ids=...&allOrNone=false."""
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
        with self.store.lock:
            by_id = {c["Id"]: ext for ext, c in self.store.sf_contacts.items()}
            for rid in ids:
                if rid in by_id:
                    self.store.sf_contacts.pop(by_id[rid])
                    self.store.sf_deleted.add(rid)
                    self.store.stats["salesforce_deletes"] += 1
                    out.append({"id": rid, "success": True, "errors": []})
                elif rid in self.store.sf_deleted:
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
        self.store.stats["salesforce_calls"] += 1
        limit = self.store.config["salesforce_limit"]
        if limit:
            now = time.monotonic()
            with self.store.lock:
                while self.store.sf_window and now - self.store.sf_window[0] > 10:
                    self.store.sf_window.popleft()
                if len(self.store.sf_window) >= limit:
                    return self._send(403, [{"errorCode": "REQUEST_LIMIT_EXCEEDED",
                                             "message": "TotalRequests Limit exceeded."}])
                self.store.sf_window.append(now)
        records = req.get("records", [])
        if len(records) > 200:
            return self._send(400, [{"errorCode": "EXCEEDED_ID_LIMIT", "message": "record limit is 200"}])
        if self._faults_before():
            return
        with self.store.lock:
            out = [sf_apply(self.store, ext_field, {k: v for k, v in rec.items() if k != "attributes"}) for rec in records]
        exts = [str(rec.get(ext_field, "")) for rec in records]
        note_outcome(self.store, "Salesforce", [e for e, r in zip(exts, out) if r["success"]],
                     [(e, r["errors"][0]["statusCode"], r["errors"][0]["message"]) for e, r in zip(exts, out)
                      if not r["success"]])
        if self._lose_after():
            return self._drop()
        return self._send(200, out)



def sf_apply(store: Store, ext_field: str, fields: dict) -> dict:
    """Validate and upsert one Salesforce Contact (caller holds store.lock); a per-record result."""
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
    if ext not in store.sf_contacts and not fields.get("LastName"):
        return {"success": False, "errors": [{"statusCode": "REQUIRED_FIELD_MISSING", "fields": ["LastName"],
                "message": "Required fields are missing: [LastName]"}]}
    created = ext not in store.sf_contacts
    if created:
        store.next_id += 1
        store.sf_contacts[ext] = {"Id": f"003{store.next_id:015d}", "writes": 0}
        store.stats["salesforce_creates"] += 1
    else:
        store.stats["salesforce_updates"] += 1
    store.sf_contacts[ext].update(fields)
    store.sf_contacts[ext]["writes"] += 1
    return {"id": store.sf_contacts[ext]["Id"], "success": True, "created": created, "errors": []}

