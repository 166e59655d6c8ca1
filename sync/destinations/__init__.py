"""Destinations: one module per destination (`hubspot`, `salesforce`, `webhook`), each with a `DESTINATION`
class behind the protocol in base.py, found by name through the registry (registry.py). So a new
destination is a module, its `syncs.yml` entry and its sync model. Each reads its base URL and credentials
from environment variables."""

from __future__ import annotations

from sync.destinations.registry import default_on_delete, make_destination, resolve

__all__ = ["default_on_delete", "make_destination", "resolve"]
