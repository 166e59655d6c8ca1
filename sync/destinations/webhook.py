"""A generic signed webhook (for a marketing tool): JSON batches signed with HMAC-SHA256 over
"<timestamp>.<body>" in X-CDP-Signature, secret from CDP_WEBHOOK_SECRET, URL from CDP_WEBHOOK_URL.

Every record carries a `delivery_id` that is unique per record change and the same on every resend of that
change (a resend after a lost response included), so a receiver drops replays by remembering ids. Actions:
`upsert`; `delete` (the person left the audience); `merge` (the record `key` was merged into `merged_into`);
`event` (an events sync: each record is one journey event whose `delivery_id` is its event id, delivered
once in effect); `erase` (a privacy erasure: the receiver must forget the person, `key`, everywhere). A sync
may have its own endpoint: CDP_WEBHOOK_URL_<SYNC NAME IN CAPITALS> (e.g. CDP_WEBHOOK_URL_JOURNEY_EVENTS_WEBHOOK)
wins over CDP_WEBHOOK_URL."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass, field

from sync.config import SyncConfig
from sync.destinations.base import OutRecord, RecordResult, destination_key, url_identity
from sync.errors import AuthError, TerminalError
from sync.http import HttpClient


def sign(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@dataclass
class SignedWebhook:
    cfg: SyncConfig
    client: HttpClient
    url: str
    secret: str = field(repr=False)
    name: str = "webhook"

    @classmethod
    def from_env(cls, cfg: SyncConfig) -> SignedWebhook:
        url = os.environ.get(f"CDP_WEBHOOK_URL_{cfg.name.upper()}") or os.environ.get("CDP_WEBHOOK_URL")
        secret = os.environ.get("CDP_WEBHOOK_SECRET")
        if not url or not secret:
            raise AuthError("CDP_WEBHOOK_URL and CDP_WEBHOOK_SECRET must be set")
        return cls(cfg, HttpClient(url, rate=cfg.rate_limit, rate_limit_budget_s=cfg.rate_limit_budget_s), url, secret)

    def close(self) -> None:
        self.client.close()

    def identify(self) -> str:
        return destination_key("webhook", url_identity(self.url), self.url)

    def prepare(self, values: dict[str, set[str]] | None = None) -> None:
        return None

    def _post(self, action: str, records: list[dict]) -> None:
        body = json.dumps({"sync": self.cfg.name, "action": action, "records": records}, separators=(",", ":")).encode()
        ts = str(int(time.time()))
        resp = self.client.request("POST", self.url, data=body, headers={
            "Content-Type": "application/json", "X-CDP-Timestamp": ts, "X-CDP-Signature": sign(self.secret, ts, body)})
        if resp.status_code in (401, 403):
            raise AuthError(f"webhook refused the signature ({resp.status_code})")
        if resp.status_code == 400:
            raise TerminalError(f"batch rejected: {resp.text[:300]}", 400)
        if resp.status_code >= 300:
            raise TerminalError(f"HTTP {resp.status_code}", resp.status_code)

    @staticmethod
    def _item(r: OutRecord, **extra: str) -> dict:
        return {"key": r.match_value, "delivery_id": r.delivery_id, **r.properties, **extra}

    def upsert(self, records: list[OutRecord]) -> list[RecordResult]:
        self._post("upsert", [self._item(r) for r in records])
        return [RecordResult(r.key, True, r.match_value) for r in records]

    def clear(self, records: list[OutRecord]) -> list[RecordResult]:
        self._post("delete", [{"key": r.match_value, "delivery_id": r.delivery_id} for r in records])
        return [RecordResult(r.key, True, r.match_value) for r in records]

    archive = clear

    def send_events(self, records: list[OutRecord]) -> list[RecordResult]:
        """One signed batch of journey events; a 2xx confirms every event in it (the receiver drops the
        delivery ids it has already applied, so a resend after a lost response is harmless)."""
        self._post("event", [self._item(r) for r in records])
        return [RecordResult(r.key, True, None) for r in records]

    def delete(self, records: list[OutRecord]) -> list[RecordResult]:
        """Privacy erasure: a signed `erase` of each person (the receiver forgets them: their record, their
        journey events and whatever it logged about them), unlike `delete`, which only leaves the audience."""
        self._post("erase", [{"key": r.match_value, "delivery_id": r.delivery_id} for r in records])
        return [RecordResult(r.key, True, r.match_value) for r in records]

    def merge(self, pairs: list[tuple[OutRecord, OutRecord]]) -> list[RecordResult]:
        self._post("merge", [{"key": a.match_value, "delivery_id": a.delivery_id, "merged_into": b.match_value}
                             for a, b in pairs])
        return [RecordResult(a.key, True, b.match_value) for a, b in pairs]


DESTINATION = SignedWebhook
