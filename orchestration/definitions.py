"""The Dagster code location: assembly only."""

from __future__ import annotations

import dagster as dg

from orchestration.automation import alert_on_failure, daily_schedule, full_pipeline, raw_files_sensor
from orchestration.dbt_assets import cdp_dbt_assets, dbt_resource
from orchestration.governance import governance_checks
from orchestration.prediction_assets import prediction_backtest
from orchestration.report_assets import run_report
from orchestration.sync_assets import sync_assets

defs = dg.Definitions(
    assets=[cdp_dbt_assets, run_report, prediction_backtest, *sync_assets],
    asset_checks=governance_checks,
    jobs=[full_pipeline],
    schedules=[daily_schedule],
    sensors=[raw_files_sensor, alert_on_failure],
    resources={"dbt": dbt_resource},
)
