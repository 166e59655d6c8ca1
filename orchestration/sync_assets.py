"""One thin asset per declared sync (sync/syncs.yml): it calls sync/, which never imports Dagster, and
reports counts as metadata. A blocking check holds back the *direct* dependents of its asset, so each
sync lists every asset that carries a blocking GX check (GOVERNED_ASSETS) among its deps.

The asset list is read leniently (names and models as written), and the file is validated when a sync
asset runs: a malformed syncs.yml fails the sync assets with its line-precise message instead of breaking
the whole code location at import. A run whose failed share exceeds `max_failed_share` fails its step
(so the failure sensor raises the alert); auth, guard, lock and input errors fail without RetryPolicy
retries, since running the same step again cannot help."""


import dagster as dg

from cdp.settings import load_settings
from sync.config import ConfigError, declared_entries, load_syncs
from sync.destinations import make_destination
from sync.engine import RunSummary, run_sync

GOVERNED_ASSETS = [dg.AssetKey(["int_identifiers_observed"]), dg.AssetKey(["person_records"]),
                   dg.AssetKey(["customer_profiles"])]

class SyncRunConfig(dg.Config):
    """Launchpad options for one sync run."""

    dry_run: bool = False       # read and plan only: nothing sent, nothing written
    full_resync: bool = False   # send every record, changed or not
    force_clear: bool = False   # allow archives and clears past max_clear_share


SYNC_RETRY = dg.RetryPolicy(max_retries=3, delay=2, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS)


def summary_metadata(summary: RunSummary) -> dict:
    metadata = {"status": summary.status, "planned": summary.planned, "created": summary.created,
                "updated": summary.updated, "merged": summary.merged, "archived": summary.archived,
                "cleared": summary.cleared, "sent": summary.sent, "succeeded": summary.succeeded,
                "failed": summary.failed, "invalid_input": summary.invalid, "skipped_unchanged": summary.skipped,
                "excluded_opted_out": summary.excluded, "requests": summary.requests, "retries": summary.retries,
                "seconds": summary.duration_s, "run_id": summary.run_id,
                "destination": summary.destination_key or ""}
    failures = "\n".join(f"| {code} | {n} | {', '.join(summary.failure_samples.get(code, []))} |"
                         for code, n in summary.failures_by_code.most_common())
    if failures:
        metadata["failures"] = dg.MetadataValue.md("| code | records | sample keys |\n| --- | --- | --- |\n" + failures)
    return metadata


def outcome(summary: RunSummary) -> dg.MaterializeResult:
    """The step's result: a Failure (retried only when retrying can help) unless the run succeeded or
    failed for fewer records than max_failed_share."""
    metadata = summary_metadata(summary)
    if summary.status not in ("success", "partial", "dry_run"):
        raise dg.Failure(description=f"sync {summary.sync_name} {summary.status}: {summary.error or ''}".strip(),
                         metadata=metadata, allow_retries=summary.retryable)
    return dg.MaterializeResult(metadata=metadata)


def build_sync_asset(entry: dict[str, str], entries: list[dict[str, str]]) -> dg.AssetsDefinition:
    name = entry["name"]
    deps = [dg.AssetKey([entry["model"]])] if entry.get("model") else []
    if entry.get("mode") == "events":
        # an events sync writes to records the destination's record syncs keep (HubSpot: the contact of
        # the email): they run first, so an email changed in this build is on the contact before an event
        # looks it up by that email, and no second contact is made
        deps += [dg.AssetKey([f"sync_{e['name']}"]) for e in entries
                 if e.get("destination") == entry.get("destination") and e.get("mode") != "events"]

    @dg.asset(
        name=f"sync_{name}",
        deps=[*deps, *GOVERNED_ASSETS],
        group_name="crm_syncs",
        kinds={entry.get("destination") or "crm", "python"},
        owners=["team:crm-ops"],
        description=f"{entry.get('description', '')} Declared in sync/syncs.yml.".strip(),
        retry_policy=SYNC_RETRY,
        pool="duckdb_writer",
    )
    def _sync(context: dg.AssetExecutionContext, config: SyncRunConfig) -> dg.MaterializeResult:
        try:
            cfg = load_syncs()[name]
        except (ConfigError, KeyError) as exc:
            raise dg.Failure(description=f"sync/syncs.yml is invalid:\n{exc}", allow_retries=False) from None
        summary = run_sync(cfg, load_settings().duckdb_path, make_destination, dry_run=config.dry_run,
                           full_resync=config.full_resync, force_clear=config.force_clear)
        if summary.status == "partial":
            context.log.warning(f"{summary.failed} records failed ({summary.failed_share:.1%}, within "
                                f"max_failed_share={cfg.max_failed_share:.0%}); they are retried on the next run")
        return outcome(summary)

    return _sync


def build_config_error_asset() -> dg.AssetsDefinition:
    """When syncs.yml cannot even be read for names, one asset stands for the syncs and fails with why."""

    @dg.asset(name="sync_configuration", deps=GOVERNED_ASSETS, group_name="crm_syncs", kinds={"python"})
    def _broken() -> None:
        try:
            load_syncs()
        except ConfigError as exc:
            raise dg.Failure(description=f"sync/syncs.yml is invalid:\n{exc}", allow_retries=False) from None
        raise dg.Failure(description="sync/syncs.yml declares no syncs", allow_retries=False)

    return _broken


_entries = declared_entries()
sync_assets = [build_sync_asset(e, _entries) for e in _entries] or [build_config_error_asset()]
