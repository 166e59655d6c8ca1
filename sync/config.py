"""Sync declarations (sync/syncs.yml) as typed objects."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

DEFAULT_CONFIG = Path(__file__).with_name("syncs.yml")
MODES = ("upsert", "update_only", "mirror")


class ConfigError(ValueError):
    """The sync configuration is wrong; the message says where."""


@dataclass(frozen=True)
class SyncConfig:
    name: str
    model: str
    destination: str
    object: str
    key: str
    match_key: str
    fields: dict[str, str]
    mode: str = "upsert"
    batch_size: int = 100
    rate_limit: float = 10.0
    exclude_opted_out: bool = False
    max_clear_share: float = 0.2
    description: str = ""
    custom_properties: list[str] = field(default_factory=list)
    custom_property_types: dict[str, str] = field(default_factory=dict)  # HubSpot type when not string (number)
    bulk_threshold: int = 0  # at least this many upserts in a run go through the bulk API (0: never)

    @property
    def columns(self) -> list[str]:
        """Model columns read: the key, the mapped fields and, for opt-out checks, email_consent."""
        cols = dict.fromkeys([self.key, *self.fields.values()])
        if self.exclude_opted_out:
            cols["email_consent"] = None
        return list(cols)


def load_syncs(path: Path | None = None) -> dict[str, SyncConfig]:
    path = Path(os.environ.get("CDP_SYNCS_FILE", path or DEFAULT_CONFIG))
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    syncs: dict[str, SyncConfig] = {}
    for i, entry in enumerate(raw.get("syncs", [])):
        try:
            cfg = SyncConfig(**entry)
        except TypeError as exc:
            raise ConfigError(f"{path}: sync #{i + 1}: {exc}") from None
        if cfg.mode not in MODES:
            raise ConfigError(f"{path}: sync {cfg.name}: mode must be one of {MODES}, not {cfg.mode!r}")
        if not 1 <= cfg.batch_size <= 10_000:
            raise ConfigError(f"{path}: sync {cfg.name}: batch_size out of range")
        if cfg.name in syncs:
            raise ConfigError(f"{path}: sync {cfg.name} declared twice")
        syncs[cfg.name] = cfg
    return syncs
