"""Salesforce: OAuth 2.0 client-credentials token (its `id` URL names the org, which state is bound to),
then sObject Collections upsert by an external id field (PATCH
/services/data/vXX.X/composite/sobjects/<Object>/<ExternalIdField>, at most 200 records, allOrNone false,
one result per record in order; JSON null clears a field). The external id is the person id, so an email
change updates the same Contact. Salesforce's REST API has no Contact merge in sObject Collections, so a
retired person's Contact is deleted (Collections DELETE ?ids=...&allOrNone=false, up to 200 ids), like a
person who left the model; a record already deleted (ENTITY_IS_DELETED) counts as done. Bulk API 2.0 CSV
leaves a blank cell unchanged, so a cleared field is written as `#N/A`. 403 REQUEST_LIMIT_EXCEEDED is an
API limit (retried by the HTTP client), not an auth failure; 401 INVALID_SESSION_ID triggers one
re-authentication."""

from __future__ import annotations

import csv
import io
import os
import time
from dataclasses import dataclass, field

from sync.config import SyncConfig
import requests

from sync.destinations.base import OutRecord, RecordResult, destination_key
from sync.errors import AuthError, TerminalError
from sync.http import HttpClient

API_VERSION = os.environ.get("SALESFORCE_API_VERSION", "v60.0")
BULK_NULL = "#N/A"  # Bulk API 2.0: the value that sets a field to null (a blank cell leaves it unchanged)
GONE = {"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"}


def is_request_limit(resp: requests.Response) -> bool:
    """Salesforce says 403 REQUEST_LIMIT_EXCEEDED for an API limit: a limit, not an auth failure."""
    if resp.status_code == 429:
        return True
    if resp.status_code != 403:
        return False
    try:
        body = resp.json()
    except ValueError:
        return False
    items = body if isinstance(body, list) else [body]
    return any(isinstance(i, dict) and i.get("errorCode") == "REQUEST_LIMIT_EXCEEDED" for i in items)


@dataclass
class SalesforceObjects:
    cfg: SyncConfig
    client: HttpClient
    login_url: str
    client_id: str
    client_secret: str = field(repr=False)
    name: str = "salesforce"
    on_delete = "archive"  # a record that left the model: its object is archived (deleted) by default
    instance_url: str | None = None
    org_id: str | None = None

    @classmethod
    def from_env(cls, cfg: SyncConfig) -> SalesforceObjects:
        login = os.environ.get("SALESFORCE_LOGIN_URL", "https://login.salesforce.com")
        cid, secret = os.environ.get("SALESFORCE_CLIENT_ID"), os.environ.get("SALESFORCE_CLIENT_SECRET")
        if not cid or not secret:
            raise AuthError("SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET must be set")
        client = HttpClient(login, rate=cfg.rate_limit, rate_limit_budget_s=cfg.rate_limit_budget_s,
                            is_rate_limit=is_request_limit)
        return cls(cfg, client, login, cid, secret)

    def close(self) -> None:
        self.client.close()

    def identify(self) -> str:
        if self.instance_url is None:
            self.prepare()
        ident = f"org-{self.org_id}" if self.org_id else (self.instance_url or self.login_url)
        return destination_key("salesforce", ident, self.login_url)

    def prepare(self, values: dict[str, set[str]] | None = None) -> None:
        resp = self.client.request("POST", f"{self.login_url.rstrip('/')}/services/oauth2/token", data={
            "grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret})
        if resp.status_code != 200:
            raise AuthError(f"Salesforce token request refused ({resp.status_code})")
        body = resp.json()
        self.instance_url = body["instance_url"].rstrip("/")
        # the identity URL is https://login.salesforce.com/id/<org id>/<user id>
        parts = str(body.get("id", "")).rstrip("/").split("/")
        self.org_id = parts[-2] if len(parts) >= 2 and parts[-3:-2] == ["id"] else None
        self.client.session.headers["Authorization"] = f"Bearer {body['access_token']}"

    def upsert(self, records: list[OutRecord], _reauth: bool = True) -> list[RecordResult]:
        path = (f"{self.instance_url}/services/data/{API_VERSION}/composite/sobjects/"
                f"{self.cfg.object}/{self.cfg.match_key}")
        body = {"allOrNone": False, "records": [
            {"attributes": {"type": self.cfg.object}, **{k: (v if v != "" else None) for k, v in r.properties.items()}}
            for r in records]}
        resp = self.client.request("PATCH", path, json=body)
        if resp.status_code == 401 and _reauth:
            self.prepare()
            return self.upsert(records, _reauth=False)
        if resp.status_code in (401, 403):
            raise AuthError(f"Salesforce refused the session ({resp.status_code})")
        if resp.status_code == 400:
            raise TerminalError(f"batch rejected: {resp.text[:300]}", 400)
        if resp.status_code != 200:
            raise TerminalError(f"HTTP {resp.status_code}: {resp.text[:300]}", resp.status_code)
        out = []
        for rec, res in zip(records, resp.json()):
            if res.get("success"):
                out.append(RecordResult(rec.key, True, res.get("id")))
            else:
                err = (res.get("errors") or [{}])[0]
                out.append(RecordResult(rec.key, False, None, err.get("statusCode", "ERROR"), err.get("message", "")))
        return out

    def clear(self, records: list[OutRecord]) -> list[RecordResult]:
        return self.upsert(records)

    def archive(self, records: list[OutRecord], _reauth: bool = True) -> list[RecordResult]:
        with_id = [r for r in records if r.destination_id]
        out = {r.key: RecordResult(r.key, True, None) for r in records if not r.destination_id}
        if with_id:
            ids = ",".join(str(r.destination_id) for r in with_id)
            resp = self.client.request("DELETE", f"{self.instance_url}/services/data/{API_VERSION}/composite/sobjects",
                                       params={"ids": ids, "allOrNone": "false"})
            if resp.status_code == 401 and _reauth:
                self.prepare()
                return self.archive(records, _reauth=False)
            if resp.status_code in (401, 403):
                raise AuthError(f"Salesforce refused the session ({resp.status_code})")
            if resp.status_code != 200:
                raise TerminalError(f"HTTP {resp.status_code}: {resp.text[:300]}", resp.status_code)
            for rec, res in zip(with_id, resp.json()):
                err = (res.get("errors") or [{}])[0]
                if res.get("success") or err.get("statusCode") in GONE:
                    out[rec.key] = RecordResult(rec.key, True, rec.destination_id)
                else:
                    out[rec.key] = RecordResult(rec.key, False, None, err.get("statusCode", "ERROR"),
                                                err.get("message", ""))
        return [out.get(r.key) or RecordResult(r.key, False, None, "NOT_CONFIRMED", "no result for this id")
                for r in records]

    def delete(self, records: list[OutRecord]) -> list[RecordResult]:
        """Privacy erasure: the Contact is deleted (Collections DELETE), as for archive."""
        return self.archive(records)

    def merge(self, pairs: list[tuple[OutRecord, OutRecord]]) -> list[RecordResult]:
        """No Contact merge over REST Collections: the retired person's Contact is deleted."""
        return self.archive([retired for retired, _ in pairs])

    def bulk_upsert(self, records: list[OutRecord], poll_seconds: float = 0.5,
                    timeout_seconds: float = 3600) -> list[RecordResult]:
        """Bulk API 2.0 ingest for large runs: create an upsert job, upload one CSV, close it, poll until
        it ends, then read per-record successful and failed results (matched by the external id)."""
        base = f"{self.instance_url}/services/data/{API_VERSION}/jobs/ingest"
        resp = self.client.request("POST", base, json={
            "object": self.cfg.object, "externalIdFieldName": self.cfg.match_key, "contentType": "CSV",
            "operation": "upsert", "lineEnding": "LF"})
        if resp.status_code not in (200, 201):
            raise TerminalError(f"creating bulk job: HTTP {resp.status_code} {resp.text[:200]}", resp.status_code)
        job = resp.json()["id"]
        fields = list(records[0].properties)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(fields)
        for r in records:
            writer.writerow([r.properties.get(f) or BULK_NULL for f in fields])
        resp = self.client.request("PUT", f"{base}/{job}/batches", data=buf.getvalue().encode(),
                                   headers={"Content-Type": "text/csv"})
        if resp.status_code != 201:
            raise TerminalError(f"uploading bulk data: HTTP {resp.status_code}", resp.status_code)
        self.client.request("PATCH", f"{base}/{job}", json={"state": "UploadComplete"})
        deadline = time.monotonic() + timeout_seconds
        while True:
            state = self.client.request("GET", f"{base}/{job}").json().get("state")
            if state in ("JobComplete", "Failed", "Aborted"):
                break
            if time.monotonic() > deadline:
                raise TerminalError(f"bulk job {job} still {state} after {timeout_seconds}s")
            time.sleep(poll_seconds)
        by_ext = {r.match_value: r for r in records}
        results: dict[str, RecordResult] = {}
        for row in self._result_rows(f"{base}/{job}/successfulResults/"):
            rec = by_ext.get(row.get(self.cfg.match_key, ""))
            if rec:
                results[rec.key] = RecordResult(rec.key, True, row.get("sf__Id"))
        for row in self._result_rows(f"{base}/{job}/failedResults/"):
            rec = by_ext.get(row.get(self.cfg.match_key, ""))
            if rec:
                code, _, message = (row.get("sf__Error") or "ERROR").partition(":")
                results[rec.key] = RecordResult(rec.key, False, None, code, message.strip())
        return [results.get(r.key) or RecordResult(r.key, False, None, "NOT_CONFIRMED",
                                                   f"bulk job {job} ended {state} without a result")
                for r in records]

    def _result_rows(self, url: str) -> list[dict[str, str]]:
        resp = self.client.request("GET", url)
        return list(csv.DictReader(io.StringIO(resp.text))) if resp.status_code == 200 else []


DESTINATION = SalesforceObjects
