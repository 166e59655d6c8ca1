"""What every destination provides. A destination is a small class; the engine does planning, batching,
splitting, state and reporting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sync.http import HttpClient


@dataclass(frozen=True)
class OutRecord:
    key: str                      # the sync's record key (person_id)
    match_value: str              # the value the destination matches on (email, external id)
    properties: dict[str, str]    # destination field -> string value ("" clears a field)


@dataclass(frozen=True)
class RecordResult:
    key: str
    ok: bool
    destination_id: str | None = None
    error_code: str | None = None
    message: str | None = None


class Destination(Protocol):
    name: str
    client: HttpClient

    def prepare(self) -> None:
        """Authenticate and create what must exist before the first write (idempotent)."""

    def upsert(self, records: list[OutRecord]) -> list[RecordResult]:
        """Create or update. Raises TerminalError when the whole batch is rejected (the engine splits it),
        TransientError when retries ran out, AuthError when credentials are refused."""

    def clear(self, records: list[OutRecord]) -> list[RecordResult]:
        """Mirror mode: clear the synced fields of records that left the model."""

    def close(self) -> None: ...
