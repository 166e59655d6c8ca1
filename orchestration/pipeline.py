"""The main job, end to end: raw data, dbt build (with its tests), then every declared sync. Without real
CRM credentials in the environment the syncs go to the local CRM sandbox, started on a free loopback
port and left running so its page can be opened; `cdp sandbox stop` ends it."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from orchestration.settings import Settings

REAL_CRM_VARIABLES = ("HUBSPOT_ACCESS_TOKEN", "SALESFORCE_CLIENT_ID", "CDP_WEBHOOK_URL")


def sandbox_pid_file(settings: Settings) -> Path:
    return settings.state_dir / "sandbox.pid"


def stop_sandbox(settings: Settings) -> bool:
    pid_file = sandbox_pid_file(settings)
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    pid_file.unlink()
    return True


def running_sandbox(settings: Settings):
    """The sandbox a previous `make run` left running, if it still answers."""
    import requests

    from sync.sandbox import Sandbox

    pid_file = sandbox_pid_file(settings)
    if not pid_file.exists():
        return None
    _pid, port = (int(x) for x in pid_file.read_text().split())
    try:
        requests.get(f"http://127.0.0.1:{port}/_sandbox/stats", timeout=2).raise_for_status()
    except requests.RequestException:
        pid_file.unlink()
        return None
    return Sandbox(process=None, port=port)  # type: ignore[arg-type]


def use_crm_sandbox_if_no_credentials(settings: Settings) -> str | None:
    """Point the syncs at the local CRM sandbox unless real CRM credentials are set. Returns its URL."""
    if any(os.environ.get(v) for v in REAL_CRM_VARIABLES):
        return None
    from sync.config import load_syncs

    settings.state_dir.mkdir(parents=True, exist_ok=True)
    sb = running_sandbox(settings)
    if sb is None:
        from sync.sandbox import start_sandbox
        from sync.state import StateStore

        sb = start_sandbox(detach=True, log_path=settings.state_dir / "sandbox.log")
        sandbox_pid_file(settings).write_text(f"{sb.process.pid} {sb.port}\n")
        if settings.duckdb_path.exists():
            # a new sandbox is an empty CRM: what the warehouse remembers sending no longer holds
            store = StateStore(settings.duckdb_path)
            for name in load_syncs():
                store.reset(name)
            store.close()
    os.environ.update(sb.client_env())
    return sb.url


def run_pipeline(settings: Settings) -> int:
    """Runs the Dagster asset graph in-process: the same definitions the UI shows."""
    from orchestration.cli import ensure_raw_data
    from orchestration.report import format_table, identity_summary, load_summary, prediction_summary, query, table_exists

    ensure_raw_data(settings)
    sandbox_url = use_crm_sandbox_if_no_credentials(settings)
    if sandbox_url:
        print(f"no CRM credentials set: syncing to the local CRM sandbox at {sandbox_url}/", flush=True)

    import dagster as dg

    from orchestration.definitions import defs

    result = defs.get_job_def("full_pipeline").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)

    db = settings.duckdb_path
    if table_exists(db, "source_row_counts"):
        print("\nRows per source (loaded = staged + superseded + duplicates + quarantined + after_as_of):")
        print(load_summary(db))
        print("\nIdentity:")
        print(identity_summary(db))
        print("\nPredictions (churn risk = no order within the horizon; predicted CLV in the reporting currency):")
        print(prediction_summary(db))
    checks = [(e.asset_check_evaluation_data.check_name,
               "pass" if e.asset_check_evaluation_data.passed else "FAIL")
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
              and e.asset_check_evaluation_data.check_name.startswith("gx_")]
    if checks:
        print("\nGovernance checks (Great Expectations):")
        print(format_table(["check", "result"], checks))
    synced = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()
              if e.asset_key.path[-1].startswith("sync_")}
    if table_exists(db, "sync_runs", schema="cdp_sync"):
        cols, rows = query(db, """
            select sync_name, status, planned, sent, succeeded, failed, skipped, retries, duration_s
            from cdp_sync.sync_runs where run_id in (
                select arg_max(run_id, started_at) from cdp_sync.sync_runs group by sync_name)
            order by sync_name""")
        if rows:
            print("\nSyncs (latest run of each):")
            print(format_table(cols, rows))
    failed_steps = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    from sync.config import load_syncs

    not_run = sorted(f"sync_{name}" for name in load_syncs() if f"sync_{name}" not in synced)
    if failed_steps:
        print(f"\nfailed steps: {', '.join(failed_steps)}")
    if not_run:
        print(f"syncs not run (a blocking check or an upstream step failed): {', '.join(not_run)}")
    print(f"\nwarehouse: {db}")
    if sandbox_url:
        print(f"CRM sandbox page (contacts with enriched fields): {sandbox_url}/")
        print("it keeps running in the background; stop it with: .venv/bin/cdp sandbox stop")
    return 0 if result.success and not not_run else 1

