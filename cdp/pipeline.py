"""The main job, end to end: raw data, dbt build (with its tests), governance checks, then every declared
sync, run in-process on the project's Dagster instance (so `make ui` shows the run). Without real CRM
credentials in the environment the syncs go to the local CRM sandbox, started on a free loopback port and
left running so its page can be opened; `cdp sandbox stop` ends it."""

from __future__ import annotations

import contextlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from cdp.crm_sandbox import use_crm_sandbox_if_no_credentials
from cdp.erasure_rewrite import rewrite_after_erasure
from cdp.privacy_enforcement import enforce_privacy
from cdp.progress import DBT_STEPS
from cdp.raw_data import ensure_raw_data
from cdp.report import (format_table, identity_summary, journey_summary, load_summary, prediction_summary, query,
                        table_exists)
from cdp.segment_rules import refuse_bad_segments
from cdp.settings import Settings
from sync.config import ConfigError, load_syncs

if TYPE_CHECKING:
    import dagster as dg


def run_pipeline(settings: Settings, verbose: bool = False) -> int:
    """Runs the Dagster asset graph in-process: the same definitions the UI shows. Prints a line per
    stage, warnings and errors, then the summary; `verbose` adds Dagster's own event log."""
    from cdp.instance import project_instance
    from cdp.progress import progress_logger

    if refuse_bad_segments(settings.project_dir):
        return 2
    ensure_raw_data(settings)
    try:
        load_syncs()
        sandbox = use_crm_sandbox_if_no_credentials(settings)
    except ConfigError as exc:  # the sync assets fail with the whole message; the build and checks still run
        sandbox = None
        print(f"error: {str(exc).strip().splitlines()[0]} (the syncs will not run; no CRM sandbox started)",
              flush=True)
    if sandbox:
        print(f"no CRM credentials set: syncing to the local CRM sandbox at {sandbox.url}/", flush=True)

    import dagster as dg

    from orchestration.dbt_assets import build_dbt_assets
    from orchestration.definitions import defs

    definitions = defs()
    groups = {key.path[-1]: step.group_names_by_key[key] for step in build_dbt_assets() for key in step.keys}
    loggers: dict[str, dg.LoggerDefinition] = {"progress": progress_logger(groups, sys.stdout)}  # the terminal
    run_config: dict = {"loggers": {"progress": {}}}
    if verbose:
        loggers["console"] = dg.default_loggers()["console"]
        run_config["loggers"]["console"] = {"config": {"log_level": "DEBUG"}}
    job = definitions.resolve_job_def("full_pipeline").with_logger_defs(loggers)
    instance = project_instance(settings)
    log_dir = settings.state_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"run-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.log"
    print(f"Dagster run recorded in {settings.dagster_home} (make ui shows it); full output: {log_path}", flush=True)
    with contextlib.ExitStack() as quiet:
        if not verbose:
            # dbt's own lines and library chatter go to the log file; progress lines go to the terminal
            log = quiet.enter_context(log_path.open("w", encoding="utf-8"))
            quiet.enter_context(contextlib.redirect_stdout(log))
            quiet.enter_context(contextlib.redirect_stderr(log))
        result = job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False)

    db = settings.duckdb_path
    materialized = {e.asset_key.path[-1] for e in result.get_asset_materialization_events()}
    from orchestration.sync_assets import sync_assets

    sync_keys = sorted(key.path[-1] for a in sync_assets for key in a.keys)
    not_run = [name for name in sync_keys if name not in materialized]
    if not result.success or not_run:  # whatever failed, privacy requests still reach every destination
        print("\nthe run did not complete: applying privacy requests on their own", flush=True)
        enforce_privacy(db, settings.project_dir, settings.target, settings.dbt_env,
                        str(Path(sys.executable).with_name("dbt")), print)
    if settings.target == "duckdb" and (rewritten := rewrite_after_erasure(db)):
        print(rewritten)
    try:
        print_summary(db, result, settings)
    except duckdb.IOException:  # another process (cdp serve, a build) holds the warehouse's write lock
        print(f"\nno summary: another process holds the warehouse {db}; `cdp sync status` and the run log show "
              "this run's outcome once it is free")
    failed_steps = [e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    if failed_steps:
        print(f"\nfailed steps: {', '.join(failed_steps)}")
    if not_run:
        print(f"syncs not run (a blocking check or an upstream step failed): {', '.join(not_run)}")
    print(f"\nrun {result.run_id} {'succeeded' if result.success else 'FAILED'}; warehouse: {db}")
    if sandbox:
        print(f"CRM sandbox page (contacts with enriched fields): {sandbox.url}/ (keeps running; "
              "stop it with .venv/bin/cdp sandbox stop)")
    return 0 if result.success and not not_run else 1


def print_summary(db: Path, result: dg.ExecuteInProcessResult, settings: Settings) -> None:
    """Rows per source, identity, predictions, journeys, governance checks and syncs, read from the warehouse."""
    built = {e.step_key for e in result.all_events if e.event_type_value == "STEP_SUCCESS"} >= set(DBT_STEPS)
    if not built:
        print("\nthe dbt build did not complete: no summary (where it stopped, the warehouse's tables are the "
              "previous build's)")
    elif table_exists(db, "source_row_counts"):
        print("\nRows per source (loaded = staged + superseded + duplicates + quarantined + after_as_of):")
        print(load_summary(db))
        print("\nIdentity:")
        print(identity_summary(db))
        print("\nPredictions (churn risk = no order within the horizon; predicted CLV in the reporting currency):")
        print(prediction_summary(db))
        print("\nJourneys:")
        print(journey_summary(db))
    checks = [(e.asset_check_evaluation_data.asset_key.path[-1], e.asset_check_evaluation_data.check_name,
               "pass" if e.asset_check_evaluation_data.passed else "FAIL",
               (e.asset_check_evaluation_data.description or "").partition(": ")[2])
              for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
              and e.asset_check_evaluation_data.check_name.startswith("gx_")]
    if checks:
        failed_checks = [c for c in checks if c[2] == "FAIL"]
        print(f"\nGovernance checks (Great Expectations): {len(checks) - len(failed_checks)} passed, "
              f"{len(failed_checks)} failed; Data Docs: `cdp docs --gx` (or `cdp ui`) serves {settings.gx_docs_dir}")
        if failed_checks:
            print(format_table(["asset", "check", "result", "observed vs threshold"], failed_checks))
    if table_exists(db, "sync_runs", schema="cdp_sync"):
        cols, rows = query(db, """
            select sync_name, status, planned, sent, succeeded, failed, skipped, retries, duration_s
            from cdp_sync.sync_runs where run_id in (
                select arg_max(run_id, started_at) from cdp_sync.sync_runs group by sync_name)
            order by sync_name""")
        if rows:
            print("\nSyncs (latest run of each):")
            print(format_table(cols, rows))
