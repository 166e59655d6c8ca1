"""Jobs and automation: the daily refresh (a schedule that starts RUNNING), the new-raw-files sensor (off
until an operator turns it on: it would start a run as soon as the daemon first sees the folder) and the
run-failure alert (RUNNING)."""

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import requests

from orchestration.resources import WarehouseResource

full_pipeline = dg.define_asset_job("full_pipeline", selection=dg.AssetSelection.all(),
                                    description="Staging, identity, profiles, governance checks and CRM syncs.")

daily_schedule = dg.ScheduleDefinition(job=full_pipeline, cron_schedule="0 2 * * *", execution_timezone="UTC",
                                       name="daily_full_pipeline", default_status=dg.DefaultScheduleStatus.RUNNING,
                                       description="The daily refresh at 02:00 UTC; on from the start.")


def raw_signature(raw_dir: Path) -> str:
    """Names, sizes and modification times of the raw CSVs: changes when new files land."""
    entries = sorted((p.name, p.stat().st_size, int(p.stat().st_mtime)) for p in raw_dir.glob("*.csv"))
    return json.dumps(entries)


@dg.sensor(job=full_pipeline, minimum_interval_seconds=60, description="Starts a run when raw files change in CDP_RAW_DIR.")
def raw_files_sensor(context: dg.SensorEvaluationContext, warehouse: WarehouseResource):
    raw_dir = Path(warehouse.raw_dir)
    if not raw_dir.exists():
        return dg.SkipReason(f"{raw_dir} does not exist")
    signature = raw_signature(raw_dir)
    if signature == context.cursor:
        return dg.SkipReason("no new raw files")
    context.update_cursor(signature)
    return dg.RunRequest(run_key=str(abs(hash(signature))))


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
