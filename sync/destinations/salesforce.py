"""Salesforce: OAuth 2.0 client-credentials token, then sObject Collections upsert by an external id
field (PATCH /services/data/vXX.X/composite/sobjects/<Object>/<ExternalIdField>, at most 200 records,
allOrNone false, one result per record in order). 403 REQUEST_LIMIT_EXCEEDED is an API limit (retried by
the HTTP client), not an auth failure; 401 INVALID_SESSION_ID triggers one re-authentication."""

from __future__ import annotations

import csv
import io
import os
import time
from dataclasses import dataclass, field

from sync.config import SyncConfig
from sync.destinations.base import OutRecord, RecordResult
from sync.errors import AuthError, TerminalError
from sync.http import HttpClient

API_VERSION = os.environ.get("SALESFORCE_API_VERSION", "v60.0")


@dataclass
class SalesforceObjects:
    cfg: SyncConfig
    client: HttpClient
    login_url: str
    client_id: str
    client_secret: str = field(repr=False)
    name: str = "salesforce"
    instance_url: str | None = None

    @classmethod
    def from_env(cls, cfg: SyncConfig) -> SalesforceObjects:
        login = os.environ.get("SALESFORCE_LOGIN_URL", "https://login.salesforce.com")
        cid, secret = os.environ.get("SALESFORCE_CLIENT_ID"), os.environ.get("SALESFORCE_CLIENT_SECRET")
        if not cid or not secret:
            raise AuthError("SALESFORCE_CLIENT_ID and SALESFORCE_CLIENT_SECRET must be set")
        return cls(cfg, HttpClient(login, rate=cfg.rate_limit), login, cid, secret)

    def close(self) -> None:
        self.client.close()

    def prepare(self) -> None:
        resp = self.client.request("POST", f"{self.login_url.rstrip('/')}/services/oauth2/token", data={
            "grant_type": "client_credentials", "client_id": self.client_id, "client_secret": self.client_secret})
        if resp.status_code != 200:
            raise AuthError(f"Salesforce token request refused ({resp.status_code})")
        body = resp.json()
        self.instance_url = body["instance_url"].rstrip("/")
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
            writer.writerow([r.properties.get(f, "") for f in fields])
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
