"""The Dagster code location: assembly only, and lazy. `dagster dev -m orchestration.definitions` (and
`cdp run`) call `defs()` when they load the location; importing this module, or any module it imports,
does no work (the dbt project is parsed when `defs()` first builds the dbt assets)."""

from __future__ import annotations

import dagster as dg

from orchestration.automation import alert_on_failure, daily_schedule, full_pipeline, raw_deliveries_sensor
from orchestration.dbt_assets import build_dbt_assets, raw_source_assets
from orchestration.governance import build_governance_checks, privacy_after_failed_run, privacy_requests_job
from orchestration.ingest_assets import hubspot_contacts_ingest
from orchestration.prediction_assets import prediction_backtest
from orchestration.report_assets import run_report
from orchestration.resources import build_resources
from orchestration.sync_assets import sync_assets


@dg.definitions
def defs() -> dg.Definitions:
    return dg.Definitions(
        assets=[*raw_source_assets(), *build_dbt_assets(), run_report, prediction_backtest, *sync_assets,
                hubspot_contacts_ingest],
        asset_checks=build_governance_checks(),
        jobs=[full_pipeline, privacy_requests_job],
        schedules=[daily_schedule],
        sensors=[raw_deliveries_sensor, alert_on_failure, privacy_after_failed_run],
        resources=build_resources(),
    )
