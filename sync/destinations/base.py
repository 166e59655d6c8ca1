"""What every destination provides. A destination is a small class; the engine does planning, batching,
splitting, state and reporting. Actions a destination performs on one record:
- upsert: create or update (by the remembered destination id when there is one, else by the match key);
- clear: blank the synced fields of a record that left the model (on_delete: clear);
- archive: remove the object of a record that left the model (on_delete: archive);
- merge: fold a retired person's object into the surviving person's object (where the destination cannot
  merge, the retired object is archived);
- delete (reserved): a privacy erasure, which a destination maps to its own erasure call; until one
  implements it the engine falls back to archive.
A destination that can receive journey events (`mode: events`, sync/events.py) also has
`send_events(records) -> list[RecordResult]`, each record's delivery_id being its event id; one whose
objects keep only the latest event sets `keeps_latest_event = True`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from sync.http import HttpClient

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class OutRecord:
    key: str                          # the sync's record key (person_id)
    match_value: str                  # the value the destination matches on (email, external id)
    properties: dict[str, str]        # destination field -> string value ("" clears a field)
    destination_id: str | None = None  # the destination's own id, once it returned one
    delivery_id: str | None = None    # unique per record change: a receiver drops a replay of the same change


@dataclass(frozen=True)
class RecordResult:
    key: str
    ok: bool
    destination_id: str | None = None
    error_code: str | None = None
    message: str | None = None


def destination_key(kind: str, ident: str, url: str) -> str:
    """`<kind>:<ident>`, prefixed `sandbox:` when the destination is on this machine (the CRM sandbox), so
    that resetting sandbox state can never touch a real portal's or org's state."""
    host = urlsplit(url).hostname or ""
    return f"{'sandbox:' if host in LOOPBACK else ''}{kind}:{ident}"


def url_identity(url: str) -> str:
    """scheme://host[:port]/path of a URL, without user info or query (which may carry secrets)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


class Destination(Protocol):
    name: str
    client: HttpClient

    def identify(self) -> str:
        """The destination's identity for state (portal or org id), without writing anything."""

    def prepare(self, values: dict[str, set[str]] | None = None) -> None:
        """Create what must exist before the first write (idempotent); `values` are the options each
        multi-select property needs for this run."""

    def upsert(self, records: list[OutRecord]) -> list[RecordResult]:
        """Create or update. Raises TerminalError when the whole batch is rejected (the engine splits it),
        TransientError when retries ran out, AuthError when credentials are refused."""

    def clear(self, records: list[OutRecord]) -> list[RecordResult]:
        """Blank the synced fields of records that left the model."""

    def archive(self, records: list[OutRecord]) -> list[RecordResult]:
        """Remove the objects (records carry destination_id) of records that left the model."""

    def merge(self, pairs: list[tuple[OutRecord, OutRecord]]) -> list[RecordResult]:
        """(retired, survivor): fold the retired record's object into the survivor's; results per retired key,
        with the survivor's object id after the merge."""

    def close(self) -> None: ...
