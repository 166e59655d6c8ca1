"""Jobs and automation: the daily refresh (a schedule that starts RUNNING), the raw-deliveries sensor (RUNNING:
a run when files land in CDP_RAW_DIR, docs/continuous.md) and the run-failure alert (RUNNING)."""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import requests

from cdp.landing import RawFolderError
from cdp.serve import raw_entries, signature, unread_files
from orchestration.resources import WarehouseResource

full_pipeline = dg.define_asset_job("full_pipeline", selection=dg.AssetSelection.all(),
                                    description="Staging, identity, profiles, governance checks and CRM syncs.")

daily_schedule = dg.ScheduleDefinition(job=full_pipeline, cron_schedule="0 2 * * *", execution_timezone="UTC",
                                       name="daily_full_pipeline", default_status=dg.DefaultScheduleStatus.RUNNING,
                                       description="The daily refresh at 02:00 UTC; on from the start.")


def raw_signature(raw_dir: Path) -> str:
    """The state of every file a build reads (top-level files and landing-folder deliveries, CSV or Parquet:
    cdp.landing's forms): a hash of names, sizes and modification times, the same in every process."""
    return signature(raw_entries(raw_dir))


@dg.sensor(job=full_pipeline, minimum_interval_seconds=5, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Starts a run when deliveries land in CDP_RAW_DIR (or a source file changes); the run key is "
                       "the folder's signature, so the same deliveries never start two runs.")
def raw_deliveries_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    raw_dir = Path(warehouse.raw_dir)
    if not raw_dir.exists():
        return dg.SkipReason(f"{raw_dir} does not exist")
    try:
        entries = raw_entries(raw_dir)
    except RawFolderError as exc:
        return dg.SkipReason(str(exc))
    current = signature(entries)
    if current == context.cursor:
        return dg.SkipReason("no new deliveries")
    if context.cursor is None and unread_files(warehouse.path, entries) == []:
        # first look (a new daemon): the warehouse's ledger has read every file as it is now
        context.update_cursor(current)
        return dg.SkipReason("the warehouse has read every raw file already")
    context.update_cursor(current)
    return dg.RunRequest(run_key=current)


def write_alert(state_dir: Path, run_id: str, job_name: str, message: str) -> dict:
    """Alert: a log line in the state folder, and a POST to CDP_ALERT_WEBHOOK_URL when set."""
    alert = {"at": datetime.now(UTC).isoformat(), "run_id": run_id, "job": job_name, "error": message[:2000]}
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / "alerts.log").open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(alert) + "\n")
    url = os.environ.get("CDP_ALERT_WEBHOOK_URL")
    if url:
        requests.post(url, json=alert, timeout=10)
    return alert


@dg.run_failure_sensor(description="Writes an alert for every failed run.", default_status=dg.DefaultSensorStatus.RUNNING)
def alert_on_failure(context: dg.RunFailureSensorContext, warehouse: WarehouseResource):
    alert = write_alert(warehouse.state, context.dagster_run.run_id, context.dagster_run.job_name,
                        context.failure_event.message or "")
    context.log.error(f"run {alert['run_id']} of {alert['job']} failed: alert written")
