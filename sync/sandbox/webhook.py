"""The signed-webhook receiver: checks the signature and the timestamp, applies each delivery id once (a
replay is acknowledged and dropped), keeps journey events by id and every request in a log, and forgets a
person an `erase` names."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from sync.sandbox.store import WEBHOOK_MAX_AGE_S, Store, webhook_secret


class WebhookApi:
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
        with self.store.lock:
            self.store.webhook_log.append(entry)
        ts = self.headers.get("X-CDP-Timestamp", "")
        expected = "sha256=" + hmac.new(webhook_secret().encode(), ts.encode() + b"." + body,
                                        hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, self.headers.get("X-CDP-Signature", "")):
            self.store.stats["webhook_bad_signatures"] += 1
            entry["outcome"] = "bad_signature"
            return self._send(401, {"error": "bad signature"})
        if not ts.isdigit() or abs(time.time() - int(ts)) > WEBHOOK_MAX_AGE_S:  # a replayed old delivery
            self.store.stats["webhook_stale_timestamps"] = self.store.stats.get("webhook_stale_timestamps", 0) + 1
            entry["outcome"] = "stale_timestamp"
            return self._send(401, {"error": "timestamp outside the 5 minute window"})
        if self._faults_before():
            entry["outcome"] = "injected_failure"
            return
        with self.store.lock:
            self.store.stats["webhook_deliveries"] += 1
            for rec in records:
                did = rec.get("delivery_id")
                if did and did in self.store.webhook_seen:  # a replay of a change already applied
                    self.store.stats["webhook_replays_dropped"] += 1
                    entry["replays"].append(did)
                    continue
                if did:
                    self.store.webhook_seen.add(did)
                    entry["accepted"].append(did)
                if msg.get("action") == "event":
                    self.store.webhook_events[did] = rec
                elif msg.get("action") in ("delete", "merge", "erase"):
                    self.store.webhook.pop(rec["key"], None)
                    self.store.webhook_deleted.add(rec["key"])
                    if msg.get("action") == "erase":
                        forget_person(self.store, rec["key"], keep=entry)
                else:
                    self.store.webhook[rec["key"]] = rec
        if self._lose_after():
            entry["outcome"] = "applied_response_lost"
            return self._drop()
        entry["outcome"] = "applied"
        return self._send(200, {"accepted": len(entry["accepted"]), "replays": len(entry["replays"])})



def forget_person(store: Store, key: str, keep: dict) -> None:
    """An `erase` reached the receiver: the person's journey events and every logged request record about
    them go (the request's body is rewritten without them), as a receiver honouring an erasure must. Caller
    holds the lock; `keep` is the delete request's own log entry."""
    for did in [d for d, ev in store.webhook_events.items() if key in (ev.get("key"), ev.get("person_id"))]:
        store.webhook_events.pop(did)
    for entry in store.webhook_log:
        if entry is keep:
            continue
        records = [r for r in entry["records"] if key not in (r.get("key"), r.get("person_id"))]
        if len(records) != len(entry["records"]):
            entry["records"] = records
            entry["body"] = json.dumps({"action": entry["action"], "records": records, "note": "erased records removed"})

