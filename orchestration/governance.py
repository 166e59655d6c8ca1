"""Great Expectations governance suites as Dagster asset checks, each on the asset it checks: the staging
suite on every source's base_ model (from the source registry), the identity suite on person_records, the
profile suite on customer_profiles. All are blocking: a failing staging check holds back the second dbt
step (identity, profiles, CRM models: staging is its own step) and so every sync; the identity and profile
checks hold back the syncs, which depend on their assets. Each result links its GX Data Docs page (HTML,
written under the state folder, served over http on loopback by `cdp ui` and `cdp docs --gx`). On the Spark
target the suites read the Spark warehouse through a Spark session (`SparkWarehouse`)."""

import json
import os

import dagster as dg

from cdp.docs_server import gx_docs_url
from cdp.governance_suites import Source, SuiteOutcome, identity_suite, profiles_suite, staging_suites
from cdp.privacy_enforcement import enforce_privacy
from cdp.registry import load_registry
from cdp.settings import load_settings
from orchestration.automation import full_pipeline
from orchestration.resources import WarehouseResource, dbt_executable
from sync.spark_reader import SparkWarehouse

STAGING_DESCRIPTION = ("Email validity and phone E.164 rates, quarantine share, rows against the previous run "
                       "(Great Expectations on this source's base_ model).")


def suite_source(warehouse: WarehouseResource) -> Source:
    """Where the suites read: the Spark warehouse on the spark target, else the DuckDB file."""
    if warehouse.target == "spark":
        return SparkWarehouse(env={**os.environ, **warehouse.dbt_variables()})
    return warehouse.path


def _metadata(outcome: SuiteOutcome) -> dict:
    failed = [o for o in outcome.outcomes if not o.success]
    metadata: dict = {"gx_results": dg.MetadataValue.md(outcome.markdown()),
                      "expectations": len(outcome.outcomes), "failed": len(failed)}
    for o in outcome.outcomes:  # each measured value against its threshold, e.g. email_valid_rate: 0.898 < 0.90
        if o.comparison:
            metadata[f"observed_{o.column}"] = o.comparison
    for page in outcome.docs:
        metadata[f"gx_data_docs_{page.stem}"] = dg.MetadataValue.url(gx_docs_url(page))
    return metadata


def _description(outcome: SuiteOutcome) -> str:
    """What failed, each measured value against its threshold: `1 expectation(s) failed: email_valid_rate
    0.898 < 0.90`."""
    failed = [o for o in outcome.outcomes if not o.success]
    if outcome.success:
        return "all expectations met"
    return f"{len(failed)} expectation(s) failed: {outcome.failures()}"


def _result(outcome: SuiteOutcome, asset_key: dg.AssetKey | None = None, check_name: str | None = None):
    return dg.AssetCheckResult(passed=outcome.success, severity=dg.AssetCheckSeverity.ERROR,
                               description=_description(outcome), metadata=_metadata(outcome),
                               asset_key=asset_key, check_name=check_name)


def build_staging_check() -> dg.AssetChecksDefinition:
    registry = load_registry()
    specs = [dg.AssetCheckSpec("gx_staging_quality", asset=dg.AssetKey([s.base]), blocking=True,
                               description=STAGING_DESCRIPTION) for s in registry.values()]

    @dg.multi_asset_check(specs=specs, name="gx_staging_quality")
    def gx_staging_quality(warehouse: WarehouseResource):
        previous_rows = warehouse.state / "gx_previous_row_counts.json"
        previous = json.loads(previous_rows.read_text()) if previous_rows.exists() else None
        outcomes = staging_suites(suite_source(warehouse), previous, docs_dir=warehouse.gx_docs_dir)
        if all(o.success for o in outcomes.values()):
            previous_rows.parent.mkdir(parents=True, exist_ok=True)
            previous_rows.write_text(json.dumps({k: v for o in outcomes.values() for k, v in o.row_counts.items()}))
        for name, outcome in outcomes.items():
            yield _result(outcome, dg.AssetKey([registry[name].base]), "gx_staging_quality")

    return gx_staging_quality


@dg.asset_check(asset=dg.AssetKey(["person_records"]), name="gx_identity_quality", blocking=True,
                description="No person over the size cap; every record mapped exactly once; every person has records.")
def gx_identity_quality(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(identity_suite(suite_source(warehouse), warehouse.gx_docs_dir))


@dg.asset_check(asset=dg.AssetKey(["customer_profiles"]), name="gx_profile_quality", blocking=True,
                description="Unique person_id, lifetime_value >= 0, consent values allowed, no opted-out person "
                            "in the marketing sync's input.")
def gx_profile_quality(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(profiles_suite(suite_source(warehouse), warehouse.gx_docs_dir))


PRIVACY_SPECS = [dg.AssetCheckSpec("gx_privacy", asset=dg.AssetKey([m]), blocking=True,
                                   description="No erased or suppressed person, and in the marketing sync no address "
                                               "without its own subscribed consent (cdp/privacy_suite.py).")
                 for m in ("sync_hubspot__contacts", "sync_salesforce__contacts", "sync_webhook__marketing_contacts",
                           "sync_webhook__journey_events")]


@dg.multi_asset_check(specs=PRIVACY_SPECS, name="gx_privacy")
def gx_privacy(warehouse: WarehouseResource):
    from cdp.privacy_suite import privacy_suite

    outcome = privacy_suite(warehouse.path, warehouse.gx_docs_dir)
    for spec in PRIVACY_SPECS:
        yield _result(outcome, spec.asset_key, "gx_privacy")


def build_governance_checks() -> list[dg.AssetChecksDefinition]:
    return [build_staging_check(), gx_identity_quality, gx_profile_quality, gx_privacy]


@dg.op(description="Apply privacy requests on their own (cdp/privacy_enforcement.py): the privacy models, the "
                   "warehouse purge and privacy-only syncs that send deletes and archives and nothing else.")
def apply_privacy_requests(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> None:
    settings = load_settings()
    done = enforce_privacy(warehouse.path, settings.project_dir, warehouse.target,
                           {**os.environ, **settings.dbt_variables, **warehouse.dbt_variables()}, dbt_executable(),
                           context.log.info)
    if not done:
        raise dg.Failure("privacy requests were not all applied: see the log; the next run retries")


@dg.job(name="privacy_requests", description="Erasure and suppression on their own, after a run that failed.")
def privacy_requests_job() -> None:
    apply_privacy_requests()


@dg.run_failure_sensor(monitored_jobs=[full_pipeline], request_job=privacy_requests_job,
                       default_status=dg.DefaultSensorStatus.RUNNING,
                       description="After a failed full_pipeline run, privacy requests still reach the warehouse "
                                   "and every destination.")
def privacy_after_failed_run(context: dg.RunFailureSensorContext):
    return dg.RunRequest(run_key=f"privacy-after-{context.dagster_run.run_id}")
