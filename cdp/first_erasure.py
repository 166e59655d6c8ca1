"""Erasure requests on a brand-new warehouse.

An erasure request resolves through the identity graph of the previous build
(models/staging/privacy/privacy_erased_identifiers.sql: the ledger must be built before the base_ tables it
filters). A warehouse that was never built has no graph, so a request in the files of its first build would
erase only the rows carrying the request's own email or phone, and keep the person's other records (an order
placed under another address, their web events, a CRM record reached through the shop account).

So when a warehouse without a graph is built from files that ask for an erasure, the graph is built first,
from the staged data and without the ledger (seeds, staging and identity models, no tests); the build proper
then resolves each request to the person's every record, identifier and person id. `cdp build` and the
Dagster staging step call `build_graph_if_erasures_need_it`; with plain dbt, run
`dbt build --select +person_records --exclude privacy_erased_identifiers` once before the first build.
"""

from __future__ import annotations

import csv
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import duckdb

from cdp.dbt_args import dbt_command
from cdp.landing import RawFolderError, source_files
from cdp.registry import load_registry
from cdp.settings import PROJECT_DIR

GRAPH_TABLES = ("int_identifiers_observed", "person_records")
GRAPH_FIRST_SELECT = ("+person_records",)
GRAPH_FIRST_EXCLUDE = ("privacy_erased_identifiers",)
PRIVACY_SOURCE = "privacy_requests"


def requested_erasures(raw_dir: Path, project_dir: Path = PROJECT_DIR) -> int:
    """Erasure requests in the privacy_requests source, in whichever form it takes (cdp.landing): the file,
    or every delivery of its landing folder, CSV or Parquet. 0 when the source is absent or cannot be read (the
    registration then stops the build with its one-line error), and for a warehouse relation, which is not
    read here: its requests resolve through their own email or phone on a first build."""
    source = load_registry(project_dir)[PRIVACY_SOURCE]
    try:
        files = source_files(raw_dir, source).files
    except RawFolderError:
        return 0
    return sum(_erasures_in(path) for path in files)


def _erasures_in(path: Path) -> int:
    if path.suffix.lower() == ".parquet":
        with duckdb.connect() as con:
            return con.execute("select count(*) from read_parquet(?) where lower(trim(request_type)) = 'erasure'",
                               [str(path)]).fetchone()[0]
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return sum(1 for row in csv.DictReader(fh) if (row.get("request_type") or "").strip().lower() == "erasure")


def graph_exists(db_path: Path) -> bool:
    """Whether the warehouse holds the identity graph a new erasure request resolves through."""
    if not db_path.exists():
        return False
    with duckdb.connect(str(db_path), read_only=True) as con:
        found = {name for (name,) in con.execute(
            "select table_name from information_schema.tables where table_name in (?, ?)", list(GRAPH_TABLES)).fetchall()}
    return found == set(GRAPH_TABLES)


def graph_first_command(project_dir: str, target: str) -> list[str]:
    """Arguments after `dbt`: seeds, staging and identity models up to person_records, no ledger, no tests."""
    return dbt_command("build", project_dir=project_dir, target=target, select=GRAPH_FIRST_SELECT,
                       exclude=GRAPH_FIRST_EXCLUDE, extra=("--exclude-resource-type", "test", "unit_test"))


def build_graph_if_erasures_need_it(*, db_path: Path, raw_dir: Path, target: str, dbt_executable: str,
                                    project_dir: Path, env: Mapping[str, str], log: Callable[[str], None]) -> int:
    """Build the identity graph first when a new DuckDB warehouse's files ask for an erasure; the dbt return
    code (0 when nothing had to be built). Other targets cannot erase (their base tables cannot DELETE)."""
    if target != "duckdb" or graph_exists(db_path):
        return 0
    erasures = requested_erasures(raw_dir, project_dir)
    if not erasures:
        return 0
    log(f"{erasures} erasure request(s) and no identity graph yet: building the graph first, so that each "
        "request erases the person's every record")
    cmd = [dbt_executable, *graph_first_command(str(project_dir), target), "--quiet"]
    return subprocess.call(cmd, cwd=project_dir, env=dict(env))
