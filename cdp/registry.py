"""The source registry as Python reads it: `vars.raw_sources` in dbt_project.yml, the one declaration per
raw source that the dbt macros read too (macros/normalise/staged_sources.sql). The GX staging suite and
the tests derive from it, so a new source is checked without editing them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from cdp.settings import PROJECT_DIR


@dataclass(frozen=True)
class RawSource:
    source_name: str
    source: str
    base: str
    model: str
    raw_columns: list[str]
    record_id: str
    latest_by: list[str]
    raw_key: str | None = None
    quality: list[str] = field(default_factory=list)
    observed_at: str | None = None
    first_name: str | None = None
    identifiers: dict[str, str] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)  # amount, ordered_at, is_revenue: SQL over stg_ columns
    persons_by: dict[str, str] = field(default_factory=dict)  # identifier type -> staged column (no identifiers)
    optional: bool = False  # the file may be absent (privacy_requests): staged as empty
    relation: str | None = None  # schema.table: a warehouse relation a loader keeps, instead of files

    @property
    def file_name(self) -> str:
        return f"{self.source_name}.csv"


def load_registry(project_dir: Path = PROJECT_DIR) -> dict[str, RawSource]:
    """source_name -> declaration, in the order of dbt_project.yml."""
    project = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    entries = project["vars"]["raw_sources"]
    return {e["source_name"]: RawSource(**e) for e in entries}
