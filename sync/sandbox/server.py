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
ISO 8601 or Unix milliseconds.

One module per API it imitates (hubspot, salesforce, webhook), faults, pages and the store (one per
server, reached from each request as `self.store`); this module routes requests and serves."""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

from sync.sandbox.faults import FaultsMixin
from sync.sandbox.hubspot import HubSpotApi
from sync.sandbox.pages import render_contact_page, render_page
from sync.sandbox.salesforce import SalesforceApi
from sync.sandbox.store import Store, hubspot_token, sf_client, sf_session, webhook_secret
from sync.sandbox.webhook import WebhookApi

__all__ = ["Handler", "SandboxServer", "Store", "hubspot_token", "serve", "sf_client", "sf_session",
           "webhook_secret"]
HUBSPOT_PATHS = ("/crm/v3/", "/account-info/")


class SandboxServer(ThreadingHTTPServer):
    """A threading HTTP server that owns its sandbox's store."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], store: Store | None = None):
        super().__init__(address, Handler)
        self.store = store or Store()


class Handler(FaultsMixin, HubSpotApi, SalesforceApi, WebhookApi, BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "CDPSandbox/1"

    @property
    def store(self) -> Store:
        return self.server.store

    def setup(self):
        super().setup()
        # headers and body go out in two writes; without TCP_NODELAY each response waits ~40 ms for
        # the client's delayed ACK (Nagle), which would make the sandbox, not the sync, the bottleneck
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, fmt, *args):  # quiet; never logs headers (tokens)
        return

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

    def _bearer(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        return auth[7:] if auth.startswith("Bearer ") else None

    def _inspect(self, path: str) -> object | None:
        """The sandbox's own read endpoints (tests and the page read the store through them)."""
        st = self.store
        with st.lock:
            views = {"/_sandbox/stats": lambda: {**st.stats, "hubspot_contacts": len(st.hs_contacts),
                                                 "open_failures": len(st.open_failures),
                                                 "salesforce_contacts": len(st.sf_contacts),
                                                 "webhook_contacts": len(st.webhook), "config": st.config},
                     "/_sandbox/webhook": lambda: {"records": st.webhook, "deleted": sorted(st.webhook_deleted)},
                     "/_sandbox/webhook/events": lambda: {"events": st.webhook_events},
                     "/_sandbox/webhook/log": lambda: {"requests": st.webhook_log},
                     "/_sandbox/salesforce": lambda: {"records": st.sf_contacts},
                     "/_sandbox/hubspot": lambda: {"contacts": st.hs_contacts, "archived": st.hs_archived,
                                                   "merged_into": st.hs_merged_into}}
            view = views.get(path)
            return json.dumps(view()).encode() if view else None

    def do_GET(self):
        url = urlparse(self.path)
        self.store.stats["requests"] += 1
        if url.path == "/":
            return self._send(200, render_page(self.store).encode(), content_type="text/html; charset=utf-8")
        m = re.fullmatch(r"/contacts/(\d+)", url.path)
        if m:
            page = render_contact_page(self.store, m.group(1))
            return self._send(200 if page else 404, (page or "no such contact").encode(),
                              content_type="text/html; charset=utf-8")
        inspected = self._inspect(url.path)
        if inspected is not None:
            return self._send(200, inspected)
        if "/jobs/ingest/" in url.path:
            if self._bearer() != sf_session():
                return self._send(401, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}])
            return self.bulk_get(url.path)
        if url.path.startswith(HUBSPOT_PATHS):
            return self.hubspot_get(url)
        return self._send(404, {"status": "error", "message": "not found"})

    def do_POST(self):
        url = urlparse(self.path)
        body = self._body()
        self.store.stats["requests"] += 1
        if url.path == "/_sandbox/config":
            update = json.loads(body or b"{}")
            with self.store.lock:
                if update.get("reset"):
                    self.store.reset()
                self.store.config.update({k: v for k, v in update.items() if k in self.store.config})
                if self.store.config.get("seed") is not None:
                    self.store.rng.seed(self.store.config["seed"])
            return self._send(200, self.store.config)
        if url.path == "/services/oauth2/token":
            return self.salesforce_token(body)
        if url.path.startswith("/webhook/"):
            return self.webhook(url.path, body)
        if url.path.startswith("/services/data/"):
            return self.salesforce_post(url, body)
        if url.path.startswith("/crm/v3/"):
            return self.hubspot_post(url, body)
        return self._send(404, {"status": "error", "message": "not found"})

    def do_PUT(self):
        url = urlparse(self.path)
        body = self._body()
        self.store.stats["requests"] += 1
        return self.salesforce_put(url, body)

    def do_PATCH(self):
        url = urlparse(self.path)
        body = self._body()
        self.store.stats["requests"] += 1
        prop = re.fullmatch(r"/crm/v3/properties/contacts/(\w+)", url.path)
        if prop:
            return self.hubspot_patch_property(prop.group(1), body)
        return self.salesforce_patch(url, body)

    def do_DELETE(self):
        url = urlparse(self.path)
        self.store.stats["requests"] += 1
        return self.salesforce_delete(url)


def serve(port: int = 0, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit("the sandbox binds to loopback only")
    return SandboxServer((host, port))


def main() -> None:
    parser = argparse.ArgumentParser(description="CRM sandbox (HubSpot/Salesforce/webhook) on loopback")
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: a free one)")
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
