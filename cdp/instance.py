"""The project's Dagster instance (DAGSTER_HOME under the state folder): `cdp run` records its runs there
and `cdp ui` serves the same folder, so the UI shows every run made from the command line."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from cdp.settings import Settings

DAGSTER_YAML = """# Written by cdp (cdp/instance.py): the project's Dagster instance, shared by `cdp run` and `cdp ui`.
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1   # pool duckdb_writer: one step writes the DuckDB file at a time
"""


def prepare_dagster_home(settings: Settings) -> Path:
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists() or config.read_text() != DAGSTER_YAML:
        config.write_text(DAGSTER_YAML)
    return home


def project_instance(settings: Settings) -> dg.DagsterInstance:
    """A persistent instance on the project's DAGSTER_HOME (sqlite storage in that folder)."""
    return dg.DagsterInstance.from_config(str(prepare_dagster_home(settings)))
