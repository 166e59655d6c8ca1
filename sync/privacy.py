"""Privacy requests on the sync side (docs/privacy.md): the entry point that takes erasures and
suppressions to every destination, and the ledger helpers other packages use.

`deliver_privacy_requests` runs, for every declared sync, only what privacy and consent require: the
persons erased by a request are deleted where they were sent (HubSpot GDPR delete, Salesforce Collections
DELETE, a signed webhook `delete`; events syncs delete the person too), and suppressed or opted-out persons
are removed. Nothing else is created, updated or merged, so it may run when a failed check blocks the rest
of the syncs. Each confirmed delete is audited in `cdp_sync.privacy_destination_log` in the same transaction
that drops the person's state, and the record log keeps only the person's hash."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from sync.config import SyncConfig, load_syncs
from sync.destinations import make_destination
from sync.destinations.base import Destination
from sync.engine import RunSummary, run_sync
from sync.privacy_ledger import DEFAULT_SALT, destination_log, erased_keys, privacy_hash, suppressed_keys

__all__ = ["DEFAULT_SALT", "deliver_privacy_requests", "destination_log", "erased_keys", "privacy_hash",
           "suppressed_keys"]


def deliver_privacy_requests(db_path: Path, syncs: Mapping[str, SyncConfig] | None = None,
                             destination_factory: Callable[[SyncConfig], Destination] = make_destination
                             ) -> dict[str, RunSummary]:
    """Erasures and privacy- or consent-driven removals, to every destination of `syncs` (default: every
    sync of syncs.yml), and nothing else. One summary per sync; a sync whose run fails does not stop the
    others."""
    syncs = load_syncs() if syncs is None else syncs
    return {name: run_sync(cfg, Path(db_path), destination_factory, privacy_only=True) for name, cfg in syncs.items()}
