"""The Dagster code location: it loads, its asset graph is what review expects, it runs end to end, a
failing blocking governance check stops the syncs, and a real webserver serves it over GraphQL."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from orchestration.sample_data import generate
from sync.sandbox import start_sandbox
from tests.conftest import PROJECT_DIR

BIN = Path(sys.executable).parent
SNAPSHOT = Path(__file__).with_name("snapshots") / "asset_graph.txt"


def env_for(tmp: Path, **extra) -> dict[str, str]:
    return dict(os.environ, CDP_RAW_DIR=str(tmp / "raw"), CDP_DUCKDB_PATH=str(tmp / "w.duckdb"),
                CDP_STATE_DIR=str(tmp / "state"), DAGSTER_HOME=str(tmp / "dagster"), **extra)


def graph_snapshot() -> str:
    code = ("from orchestration.definitions import defs\n"
            "g = defs.resolve_asset_graph()\n"
            "keys = sorted('asset ' + k.to_user_string() + ' [' + (g.get(k).group_name or '') + ']' "
            "for k in g.materializable_asset_keys)\n"
            "checks = sorted('check ' + c.asset_key.to_user_string() + ':' + c.name for c in g.asset_check_keys)\n"
            "print('\\n'.join(keys + checks))\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          cwd=PROJECT_DIR).stdout


def test_definitions_validate():
    proc = subprocess.run([str(BIN / "dagster"), "definitions", "validate", "-m", "orchestration.definitions"],
                          capture_output=True, text=True, cwd=PROJECT_DIR)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Validation successful" in proc.stderr + proc.stdout


def test_asset_graph_matches_snapshot():
    """Changes to the asset graph show in review: regenerate with CDP_UPDATE_SNAPSHOTS=1."""
    current = graph_snapshot()
    if os.environ.get("CDP_UPDATE_SNAPSHOTS"):
        SNAPSHOT.write_text(current)
    assert current == SNAPSHOT.read_text()
    for expected in ("asset customer_profiles [profiles]", "asset sync_hubspot_contacts [crm_syncs]",
                     "check customer_profiles:gx_profile_quality", "check int_identifiers_observed:gx_staging_quality",
                     "check person_records:gx_identity_quality"):
        assert expected in current


def run_pipeline(tmp: Path, sandbox) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "cdp"), "run"], env=env_for(tmp, **sandbox.client_env()), capture_output=True,
                          text=True, cwd=PROJECT_DIR, timeout=900)


def test_whole_graph_materialises_in_process_and_syncs(tmp_path: Path):
    generate(800, 5, tmp_path / "raw")
    sandbox = start_sandbox()
    try:
        proc = run_pipeline(tmp_path, sandbox)
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        assert "RUN_SUCCESS" in proc.stderr + proc.stdout
        for check in ("gx_staging_quality", "gx_identity_quality", "gx_profile_quality"):
            assert f"{check}" in proc.stdout
        # the summary carries churn risk and predicted CLV; the backtest asset wrote its report
        assert "mean_churn_risk" in proc.stdout and "total_predicted_clv" in proc.stdout
        assert "AUC" in (tmp_path / "state" / "backtest" / "backtest.md").read_text()
        stats = sandbox.stats()
        assert stats["hubspot_contacts"] > 300 and stats["salesforce_contacts"] > 300 and stats["webhook_contacts"] > 300
    finally:
        sandbox.stop()


def test_failing_blocking_check_stops_the_syncs(tmp_path: Path):
    """A planted bad batch: half the emails garbled. The staging GX check fails and no sync runs."""
    raw = tmp_path / "raw"
    generate(800, 6, raw)
    for name, column in (("crm_contacts", "email"), ("shop_customers", "email")):
        path = raw / f"{name}.csv"
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        for i, row in enumerate(rows):
            if i % 2 == 0:
                row[column] = row[column].replace("@", "#at#")
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    sandbox = start_sandbox()
    try:
        proc = run_pipeline(tmp_path, sandbox)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 1, out[-3000:]
        assert "gx_staging_quality   FAIL" in proc.stdout
        assert "failed steps: int_identifiers_observed_gx_staging_quality" in proc.stdout
        not_run = proc.stdout.split("syncs not run (a blocking check or an upstream step failed):")[1]
        for sync in ("sync_hubspot_contacts", "sync_salesforce_contacts", "sync_marketing_webhook"):
            assert sync in not_run.splitlines()[0]
        stats = sandbox.stats()
        assert stats["hubspot_contacts"] == stats["salesforce_contacts"] == stats["webhook_contacts"] == 0
    finally:
        sandbox.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_webserver_serves_asset_nodes_and_checks_over_graphql(tmp_path: Path):
    port = free_port()
    (tmp_path / "dagster").mkdir()
    proc = subprocess.Popen([str(BIN / "dagster-webserver"), "-m", "orchestration.definitions", "-h", "127.0.0.1",
                             "-p", str(port)], env=env_for(tmp_path), cwd=PROJECT_DIR,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "webserver did not start"
            time.sleep(0.5)
        query = """{ assetNodes { assetKey { path } groupName
                     assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }"""
        deadline = time.monotonic() + 60
        while True:
            body = requests.post(f"{url}/graphql", json={"query": query}, timeout=30).json()
            nodes = (body.get("data") or {}).get("assetNodes") or []
            if nodes or time.monotonic() > deadline:
                break
            time.sleep(1)
        by_name = {n["assetKey"]["path"][-1]: n for n in nodes}
        assert {"customer_profiles", "person_records", "identity_graph", "sync_hubspot_contacts",
                "sync_salesforce_contacts", "sync_marketing_webhook", "stg_crm__contacts"} <= set(by_name)
        assert by_name["sync_hubspot_contacts"]["groupName"] == "crm_syncs"
        checks = {c["name"]: c["blocking"] for c in by_name["customer_profiles"]["assetChecksOrError"]["checks"]}
        assert checks.get("gx_profile_quality") is True
        assert any(name.startswith("unique_customer_profiles") for name in checks), "dbt tests are asset checks"
    finally:
        proc.terminate()
        proc.wait(10)
