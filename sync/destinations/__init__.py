"""Destinations by name. Each reads its base URL and credentials from environment variables."""

from __future__ import annotations

from sync.config import SyncConfig
from sync.destinations.base import Destination


def make_destination(cfg: SyncConfig) -> Destination:
    if cfg.destination == "hubspot":
        from sync.destinations.hubspot import HubSpotContacts

        return HubSpotContacts.from_env(cfg)
    if cfg.destination == "salesforce":
        from sync.destinations.salesforce import SalesforceObjects

        return SalesforceObjects.from_env(cfg)
    if cfg.destination == "webhook":
        from sync.destinations.webhook import SignedWebhook

        return SignedWebhook.from_env(cfg)
    raise ValueError(f"unknown destination {cfg.destination!r} in sync {cfg.name}")
