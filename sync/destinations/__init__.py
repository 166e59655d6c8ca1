"""Destinations by name (a registry, not an if-chain): a new destination is a module with a class that has
`from_env(cfg)`, an entry here, its `syncs.yml` entry and its sync model. Each reads its base URL and
credentials from environment variables."""

from __future__ import annotations

import importlib

from sync.config import SyncConfig
from sync.destinations.base import Destination

REGISTRY: dict[str, str] = {
    "hubspot": "sync.destinations.hubspot:HubSpotContacts",
    "salesforce": "sync.destinations.salesforce:SalesforceObjects",
    "webhook": "sync.destinations.webhook:SignedWebhook",
}


def make_destination(cfg: SyncConfig) -> Destination:
    if cfg.destination not in REGISTRY:
        raise LookupError(f"unknown destination {cfg.destination!r} in sync {cfg.name}; known: {', '.join(REGISTRY)}")
    module, _, cls = REGISTRY[cfg.destination].partition(":")
    return getattr(importlib.import_module(module), cls).from_env(cfg)
