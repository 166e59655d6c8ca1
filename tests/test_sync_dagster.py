"""Dagster sync assets: a malformed syncs.yml fails only the sync assets (the code location still loads),
too many failed records fail the step, and errors that a retry cannot fix are not retried."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from orchestration.sync_assets import outcome
from sync.engine import RunSummary
from tests.conftest import PROJECT_DIR

BROKEN = """syncs:
  - name: hubspot_contacts
    model: sync_hubspot__contacts
    destination: hubspot
    object: contacts
    key: person_id
    match_key: email
    colour: red
    fields: {email: email}
"""

PROBE = """
import dagster as dg
from orchestration.definitions import defs
from orchestration.sync_assets import sync_assets
print("assets:", sorted(a.key.to_user_string() for a in sync_assets))
result = dg.materialize(sync_assets, raise_on_error=False)
failure = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"][0]
print("failure:", failure.step_failure_data.user_failure_data.description)
print("attempts:", len([e for e in result.all_events if e.event_type_value == "STEP_START"]))
"""


def test_malformed_syncs_yml_fails_only_the_sync_assets(tmp_path: Path):
    bad = tmp_path / "syncs.yml"
    bad.write_text(BROKEN)
    env = dict(os.environ, CDP_SYNCS_FILE=str(bad), CDP_DUCKDB_PATH=str(tmp_path / "w.duckdb"),
               CDP_STATE_DIR=str(tmp_path / "state"), DAGSTER_HOME=str(tmp_path / "dagster"))
    (tmp_path / "dagster").mkdir()
    proc = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, cwd=PROJECT_DIR,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "assets: ['sync_hubspot_contacts']" in proc.stdout, "the code location loaded, with the declared sync"
    assert f"{bad}:8:5: unknown key 'colour'" in proc.stdout
    assert "attempts: 1" in proc.stdout, "a configuration error is not retried"


def summary(status: str, **kw) -> RunSummary:
    s = RunSummary("hubspot_contacts", "r1", status=status)
    for k, v in kw.items():
        setattr(s, k, v)
    return s


def test_failed_share_and_non_retryable_errors_fail_the_step():
    assert isinstance(outcome(summary("success")), dg.MaterializeResult)
    assert isinstance(outcome(summary("dry_run")), dg.MaterializeResult)
    assert isinstance(outcome(summary("partial", failed=2, in_scope=1000)), dg.MaterializeResult)
    with pytest.raises(dg.Failure) as err:
        outcome(summary("failed", failed=900, in_scope=1000, error="900 of 1000 records failed", retryable=True))
    assert err.value.allow_retries is True and "900 of 1000" in err.value.description
    for status, error in (("failed", "AuthError: HUBSPOT_ACCESS_TOKEN is not set"),
                          ("failed", "MirrorGuardError: the run would archive 90 of 100"),
                          ("locked", "sync hubspot_contacts is already running")):
        with pytest.raises(dg.Failure) as err:
            outcome(summary(status, error=error, retryable=False))
        assert err.value.allow_retries is False
    with pytest.raises(dg.Failure, match="rate_limit_exhausted"):
        outcome(summary("rate_limit_exhausted", error="rate limit exhausted: waited 300 s"))


DRY_PROBE = """
import dagster as dg
from orchestration.sync_assets import sync_assets
asset = [a for a in sync_assets if a.key.to_user_string() == "sync_hubspot_contacts"]
result = dg.materialize(asset, run_config={"ops": {"sync_hubspot_contacts": {"config": {"dry_run": True}}}})
mat = result.asset_materializations_for_node("sync_hubspot_contacts")[0]
print("status:", mat.metadata["status"].value, "planned:", mat.metadata["planned"].value)
"""


def test_launchpad_dry_run_plans_and_writes_nothing(tmp_path: Path):
    from sync.sandbox import start_sandbox
    from tests.sync_support import TinyWarehouse, person

    tw = TinyWarehouse(tmp_path / "w.duckdb")
    tw.write([person(i) for i in range(1, 4)])
    sb = start_sandbox()
    try:
        env = dict(os.environ, **sb.client_env(), CDP_DUCKDB_PATH=str(tw.db_path), CDP_STATE_DIR=str(tmp_path / "s"))
        proc = subprocess.run([sys.executable, "-c", DRY_PROBE], env=env, capture_output=True, text=True,
                              cwd=PROJECT_DIR, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "status: dry_run planned: 3" in proc.stdout
        assert sb.stats()["hubspot_upsert_calls"] == 0
    finally:
        sb.stop()
    assert tw.sql("select count(*) from information_schema.schemata where schema_name = 'cdp_sync'") == [(0,)]


def test_an_events_sync_runs_after_the_record_syncs_of_its_destination():
    # HubSpot events are written to the contact of the email: the contacts sync puts a changed email on the
    # contact first, so the events sync never upserts a second contact for it
    from orchestration.sync_assets import build_sync_asset

    entries = [{"name": "hubspot_contacts", "model": "m1", "destination": "hubspot", "mode": "upsert"},
               {"name": "salesforce_contacts", "model": "m2", "destination": "salesforce", "mode": "upsert"},
               {"name": "hubspot_journey_events", "model": "m3", "destination": "hubspot", "mode": "events"}]
    deps = {key.to_user_string() for key in build_sync_asset(entries[2], entries).dependency_keys}
    assert {"m3", "sync_hubspot_contacts"} <= deps and "sync_salesforce_contacts" not in deps
    assert "sync_hubspot_journey_events" not in {
        key.to_user_string() for key in build_sync_asset(entries[0], entries).dependency_keys}
