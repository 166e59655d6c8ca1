"""Shared by the Spark tests (a pytest plugin, tests/conftest.py): `cdp build --target spark` in a folder of its
own, and the session fixture `spark_engines`: one DuckDB and one Spark build of the same files, each synced to its own
CRM sandbox, which tests/test_spark.py compares mart by mart and tests/test_spark_predictions.py figure by figure."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest
import requests

from datagen.sample_data import generate
from sync.config import load_syncs
from sync.destinations import make_destination
from sync.engine import run_sync
from sync.sandbox import start_sandbox
from sync.spark_reader import SparkWarehouse
from tests.compare import person_keys_view
from tests.dbt_support import dbt
from tests.sync_support import hubspot_live


def cdp_build_spark(raw_dir: Path, root: Path, **env: str) -> str:
    """`cdp build --target spark` with its warehouse, metastore and state under `root`; its output."""
    environment = {**os.environ, "CDP_RAW_DIR": str(raw_dir), "CDP_STATE_DIR": str(root / "state"),
                   "CDP_SPARK_DIR": str(root / "spark"), "CDP_DUCKDB_PATH": str(root / "state" / "unused.duckdb"),
                   "SPARK_LOCAL_IP": "127.0.0.1", **env}
    proc = subprocess.run([str(Path(sys.executable).with_name("cdp")), "build", "--target", "spark"],
                          env=environment, capture_output=True, text=True)
    logs = "".join(p.read_text(encoding="utf-8") for p in sorted((root / "state" / "logs").glob("*.log")))
    output = proc.stdout + proc.stderr + logs
    assert proc.returncode == 0, f"cdp build --target spark failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    return output


# mart -> the column naming a person (None: no person); ids hashed from a person id differ between builds
# (new person ids are salted with the build time), so they are left out and the person key stands for them
MARTS = {
    "person_records": "person_id", "identity_graph": "person_id", "identity_merge_rule_drops": None,
    "identity_review_queue": None, "customer_profiles": "person_id", "segments": None,
    "segment_memberships": "person_id", "segment_membership_events": "person_id",
    "segment_membership_history": "person_id", "journey_transitions": "person_id",
    "journey_stage_history": "person_id", "sync_hubspot__contacts": "person_id",
    "sync_salesforce__contacts": "person_id", "sync_webhook__marketing_contacts": "person_id",
    "sync_webhook__journey_events": "person_id", "quarantine": None, "source_row_counts": None,
    "privacy_request_log": None, "person_id_history": None,
}
HISTORY_LOGS = ("journey_transitions", "segment_membership_events", "journey_stage_history",
                "segment_membership_history", "sync_webhook__journey_events")
SYNCS = ("hubspot_contacts", "salesforce_contacts", "journey_events_webhook")



def _sync_all(env: dict[str, str], state_db, sandbox) -> dict[str, object]:
    """Run the syncs against `sandbox` with `env` (target and warehouse); the journey events sync backfills,
    so its first run delivers the events the build holds."""
    summaries = {}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in {**env, **sandbox.client_env()}.items():
            mp.setenv(key, value)
        for name in SYNCS:
            cfg = load_syncs()[name]
            summaries[name] = run_sync(replace(cfg, backfill=True) if cfg.mode == "events" else cfg, state_db,
                                       make_destination)
        if env["CDP_TARGET"] == "spark":  # a second run sends nothing: state held across the Spark reads
            summaries["again"] = run_sync(load_syncs()["hubspot_contacts"], state_db, make_destination)
    return summaries


@pytest.fixture(scope="session")
def spark_engines(tmp_path_factory):
    """One DuckDB build and one `cdp build --target spark` of the same files, synced each to its own sandbox;
    one Spark build for the mart, CRM and prediction comparisons."""
    root = tmp_path_factory.mktemp("spark")
    generate(400, 7, root / "raw")
    dbt(root / "raw", root / "duck.duckdb", "build")
    spark_dir = root / "spark"
    output = cdp_build_spark(root / "raw", root)  # predictions are fitted between two dbt runs
    # a second run of the identity passes and the append-only logs takes their incremental paths (nothing
    # changed: every component row copied, no log row appended twice)
    log = dbt(root / "raw", root / "unused.duckdb", "run", "--select", "int_records_clustered_strong",
              "int_records_clustered", *HISTORY_LOGS, target="spark", spark_dir=spark_dir).stdout
    assert "int_records_clustered relabelled the changed components" in log

    sandboxes = {"duck": start_sandbox(), "spark": start_sandbox()}
    try:
        base = {"CDP_SPARK_DIR": str(spark_dir), "SPARK_LOCAL_IP": "127.0.0.1"}
        runs = {"duck": _sync_all({**base, "CDP_TARGET": "duckdb"}, root / "duck.duckdb", sandboxes["duck"]),
                "spark": _sync_all({**base, "CDP_TARGET": "spark"}, root / "sync-state.duckdb", sandboxes["spark"])}
        crm = {e: _crm_state(sb) for e, sb in sandboxes.items()}
        stats = {e: sb.stats() for e, sb in sandboxes.items()}
    finally:
        for sb in sandboxes.values():
            sb.stop()
    con = duckdb.connect()
    con.execute(f"attach '{root / 'duck.duckdb'}' as duck (read_only)")
    warehouse = spark_dir / "warehouse" / "cdp.db"
    for table in [*MARTS, "int_records_clustered", "customer_predictions", "predictive_model_parameters"]:
        assert sorted((warehouse / table).glob("*.parquet")), f"Spark wrote no parquet for {table} in {warehouse}"
        con.execute(f"create view spark_{table} as select * from read_parquet('{warehouse / table}/*.parquet')")
        con.execute(f"create view duck_{table} as select * from duck.main.{table}")
    for engine in ("duck", "spark"):
        person_keys_view(con, engine)

    gx = {"duck": root / "duck.duckdb", "spark": SparkWarehouse(spark_dir)}
    return {"con": con, "runs": runs, "crm": crm, "stats": stats, "gx": gx, "root": root, "output": output}


def _crm_state(sb) -> dict[str, object]:
    hubspot = [c["properties"] for c in hubspot_live(sb.url).values()]
    salesforce = list(requests.get(f"{sb.url}/_sandbox/salesforce", timeout=10).json()["records"].values())
    events = list(requests.get(f"{sb.url}/_sandbox/webhook/events", timeout=10).json()["events"].values())
    return {"hubspot": hubspot, "salesforce": salesforce, "events": events}
