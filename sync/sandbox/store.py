"""The sandbox's state: one Store per server (contacts of the HubSpot portal and the Salesforce org, the
webhook receiver's records and log, fault settings and counters), and the sandbox's own credentials."""

from __future__ import annotations

import hashlib
import os
import random
import re
import threading
import time
from collections import deque

HUBSPOT_STANDARD = {"email", "firstname", "lastname", "phone", "city", "country", "company", "jobtitle",
                    "lifecyclestage"}
SF_FIELDS = {"CDP_Person_Id__c", "Email", "FirstName", "LastName", "Phone", "MailingCity", "MailingCountry",
             "Title", "CDP_Lifetime_Value__c", "CDP_Order_Count__c", "CDP_Email_Consent__c", "CDP_Segments__c",
             "CDP_Churn_Risk__c", "CDP_Predicted_CLV__c", "CDP_Last_Order_Date__c", "CDP_Journey_Stage__c",
             "CDP_Next_Best_Action__c"}
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.([A-Za-z]{2,})$")
RESERVED_TLDS = {"invalid", "test", "example", "localhost"}


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


def hs_timestamp() -> str:
    """Now as HubSpot stamps createdAt/updatedAt (and so createdate/lastmodifieddate): ISO 8601 UTC with
    milliseconds, so two writes within a second still order."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


def contact_properties(hs_id: str, contact: dict) -> dict[str, str]:
    """A contact's properties with those HubSpot maintains itself: hs_object_id, createdate and
    lastmodifieddate (changed by every write, the sync's too)."""
    return {**contact["properties"], "hs_object_id": hs_id, "createdate": contact["createdAt"],
            "lastmodifieddate": contact["updatedAt"]}


def note_outcome(store: Store, system: str, ok_keys: list[str], failed: list[tuple[str, str, str]]) -> None:
    now = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    with store.lock:
        for key in ok_keys:
            store.open_failures.pop((system, key.lower()), None)
        for key, code, message in failed:
            prev = store.open_failures.get((system, key.lower()))
            store.open_failures[(system, key.lower())] = {"code": code, "message": message, "last": now,
                                                          "attempts": (prev or {}).get("attempts", 0) + 1}



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

