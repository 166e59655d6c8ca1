"""Great Expectations governance suites as Dagster asset checks. Blocking ones sit on assets upstream of
every CRM sync: when one fails, the syncs of that run do not execute."""


import json

import dagster as dg

from cdp.governance_suites import SuiteOutcome, identity_suite, profiles_suite, staging_suite
from orchestration.resources import WarehouseResource


def _result(outcome: SuiteOutcome) -> dg.AssetCheckResult:
    failed = [o for o in outcome.outcomes if not o.success]
    return dg.AssetCheckResult(
        passed=outcome.success,
        severity=dg.AssetCheckSeverity.ERROR,
        description=("all expectations met" if outcome.success else
                     f"{len(failed)} expectation(s) failed: " + ", ".join(f"{o.expectation}({o.column})" for o in failed)),
        metadata={"gx_results": dg.MetadataValue.md(outcome.markdown()),
                  "expectations": len(outcome.outcomes), "failed": len(failed)},
    )


@dg.asset_check(asset=dg.AssetKey(["int_identifiers_observed"]), name="gx_staging_quality", blocking=True,
                description="Email validity and phone E.164 rates, quarantine share, row counts against the "
                            "previous run (GX on the base_ staging models).")
def gx_staging_quality(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    previous_rows = warehouse.state / "gx_previous_row_counts.json"
    previous = json.loads(previous_rows.read_text()) if previous_rows.exists() else None
    outcome = staging_suite(warehouse.path, previous)
    if outcome.success:
        previous_rows.parent.mkdir(parents=True, exist_ok=True)
        previous_rows.write_text(json.dumps(outcome.row_counts))
    return _result(outcome)


@dg.asset_check(asset=dg.AssetKey(["person_records"]), name="gx_identity_quality", blocking=True,
                description="No person over the size cap; every record mapped exactly once; every person has records.")
def gx_identity_quality(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(identity_suite(warehouse.path))


@dg.asset_check(asset=dg.AssetKey(["customer_profiles"]), name="gx_profile_quality", blocking=True,
                description="Unique person_id, lifetime_value >= 0, consent values allowed, no opted-out person "
                            "in the marketing sync's input.")
def gx_profile_quality(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    return _result(profiles_suite(warehouse.path))


governance_checks = [gx_staging_quality, gx_identity_quality, gx_profile_quality]
