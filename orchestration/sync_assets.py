"""One thin asset per declared sync (sync/syncs.yml): it calls sync/, which never imports Dagster, and
reports counts as metadata. A blocking check holds back the *direct* dependents of its asset, so each
sync lists every asset that carries a blocking GX check (GOVERNED_ASSETS) among its deps."""


import dagster as dg

from orchestration.dbt_assets import SETTINGS
from sync.config import SyncConfig, load_syncs
from sync.destinations import make_destination
from sync.engine import run_sync

GOVERNED_ASSETS = [dg.AssetKey(["int_identifiers_observed"]), dg.AssetKey(["person_records"]),
                   dg.AssetKey(["customer_profiles"])]

SYNC_RETRY = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def build_sync_asset(cfg: SyncConfig) -> dg.AssetsDefinition:
    @dg.asset(
        name=f"sync_{cfg.name}",
        deps=[dg.AssetKey([cfg.model]), *GOVERNED_ASSETS],
        group_name="crm_syncs",
        kinds={cfg.destination, "python"},
        owners=["team:crm-ops"],
        description=f"{cfg.description} Mode {cfg.mode}, batches of {cfg.batch_size}.",
        retry_policy=SYNC_RETRY,
        pool="duckdb_writer",
    )
    def _sync(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        summary = run_sync(cfg, SETTINGS.duckdb_path, make_destination)
        failures = "\n".join(f"| {code} | {n} | {', '.join(summary.failure_samples.get(code, []))} |"
                             for code, n in summary.failures_by_code.most_common())
        metadata = {"status": summary.status, "planned": summary.planned, "sent": summary.sent,
                    "succeeded": summary.succeeded, "failed": summary.failed, "skipped_unchanged": summary.skipped,
                    "excluded_opted_out": summary.excluded, "requests": summary.requests,
                    "retries": summary.retries, "seconds": summary.duration_s, "run_id": summary.run_id}
        if failures:
            metadata["failures"] = dg.MetadataValue.md("| code | records | sample keys |\n| --- | --- | --- |\n" + failures)
        if summary.status == "failed":
            raise dg.Failure(description=summary.error or "sync failed", metadata=metadata)
        if summary.failed:
            context.log.warning(f"{summary.failed} records failed; they are retried on the next run")
        return dg.MaterializeResult(metadata=metadata)

    return _sync


sync_assets = [build_sync_asset(cfg) for cfg in load_syncs().values()]
