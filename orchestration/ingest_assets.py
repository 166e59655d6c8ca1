"""Loaders that bring a source system's changes into the landing folders: HubSpot contacts through dlt
(cdp/ingest_hubspot.py). Thin: the asset calls cdp/, reports what arrived, and fails with the loader's
one-line reason. The deliveries it writes are picked up like any other (raw_files_sensor, `cdp serve`).

The asset loads only when CDP_INGEST_HUBSPOT is true: HubSpot credentials alone are there for the syncs, and
a CRM the syncs write to is not read as a source unless the operator says so (else contacts the syncs created
would come back as records). A raw folder that holds crm_contacts.csv (the generated sample) is not set up
for the ingest, which writes a landing folder: the asset says so and loads nothing, so the full pipeline over
a sample folder does not fail on a source it does not use. Without that file the first run makes the folder
crm_contacts/."""

import os

import dagster as dg

from cdp.ingest_hubspot import SEARCH_SETTLE_S, SOURCE_NAME, IngestError, ingest_hubspot_contacts
from cdp.settings import load_settings

INGEST_RETRY = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL)


class IngestRunConfig(dg.Config):
    """Launchpad options for one ingest run."""

    settle_seconds: float = SEARCH_SETTLE_S  # contacts modified this recently wait for the next run


@dg.asset(
    name="hubspot_contacts_ingest",
    group_name="ingest",
    kinds={"hubspot", "dlt"},
    owners=["team:data-ops"],
    description="HubSpot contacts changed since the last cursor, loaded by dlt into a new delivery of the "
                "crm_contacts landing folder (cdp ingest hubspot).",
    retry_policy=INGEST_RETRY,
)
def hubspot_contacts_ingest(context: dg.AssetExecutionContext, config: IngestRunConfig) -> dg.MaterializeResult:
    settings = load_settings()
    if os.environ.get("CDP_INGEST_HUBSPOT", "").strip().lower() not in ("1", "true", "yes"):
        reason = "CDP_INGEST_HUBSPOT is not true: HubSpot is not read as a source (docs/raw_sources.md)"
        context.log.info(reason)
        return dg.MaterializeResult(metadata={"skipped": reason, "contacts": 0})
    if (settings.raw_dir / f"{SOURCE_NAME}.csv").is_file():
        reason = (f"CDP_RAW_DIR holds {SOURCE_NAME}.csv: the ingest writes deliveries to the landing folder "
                  f"{SOURCE_NAME}/ only, and a source is one or the other (docs/raw_sources.md)")
        context.log.warning(reason)
        return dg.MaterializeResult(metadata={"skipped": reason, "contacts": 0})
    try:
        result = ingest_hubspot_contacts(settings, settle_s=config.settle_seconds, log=context.log.info)
    except IngestError as exc:
        raise dg.Failure(description=str(exc)) from None
    return dg.MaterializeResult(metadata={
        "contacts": result.contacts, "runs": result.runs, "cursor": result.cursor or "",
        "deliveries": dg.MetadataValue.json([p.name for p in result.deliveries])})
