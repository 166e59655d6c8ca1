"""HubSpot contacts as the CRM source: `cdp ingest hubspot` loads the contacts changed since its last cursor
with dlt's REST API source into a new delivery of the `crm_contacts` landing folder (docs/raw_sources.md).

dlt does the loading: the CRM search endpoint (POST /crm/v3/objects/contacts/search, a GTE filter on
`lastmodifieddate`, sorted ascending, `after` paging), its incremental cursor (pipeline state under
`<CDP_STATE_DIR>/dlt/`, one pipeline per HubSpot portal), retries of 429 and 5xx, and a pending load
resumed by the next run. This module writes the glue: which properties map to which contract column, and a
dlt destination that writes each load as one CSV delivery (written aside and renamed into the folder, so a
watcher never reads half a file). The properties the platform writes to the CRM (`cdp_*`) are never
requested and are dropped if they come back, so a sync cannot feed the next build.

HubSpot's search returns at most 10,000 results per query: one dlt run reads at most that many, and the
ingest runs again from the advanced cursor while a run filled its page budget."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import dlt
import requests
from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.common.runtime.anon_tracker import disable_anon_tracker
from dlt.common.runtime.run_context import active as active_run_context
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client.paginators import JSONResponseCursorPaginator
from dlt.sources.rest_api import rest_api_source

from cdp.landing import deliveries, landing_folder
from cdp.registry import RawSource, load_registry
from cdp.settings import Settings

SOURCE_NAME = "crm_contacts"
RESOURCE = "hubspot_contacts"
DEFAULT_BASE_URL = "https://api.hubapi.com"
SEARCH_PATH = "crm/v3/objects/contacts/search"
CURSOR_PROPERTY = "lastmodifieddate"
PAGE_SIZE = 200                    # the search endpoint's largest page
SEARCH_MAX_RESULTS = 10_000        # HubSpot answers 400 to a page past this many results of one query
PAGES_PER_RUN = SEARCH_MAX_RESULTS // PAGE_SIZE
INITIAL_CURSOR = "1970-01-01T00:00:00.000Z"
SEARCH_SETTLE_S = 5.0              # writes newer than this wait for the next run (search index delay)
PLATFORM_PREFIX = "cdp_"           # properties the platform's syncs write (sync/syncs.yml)
# contract column of crm_contacts -> HubSpot contact property (contact_id is the object id)
PROPERTY_OF_COLUMN = {"email": "email", "phone": "phone", "first_name": "firstname", "last_name": "lastname",
                      "company": "company", "job_title": "jobtitle", "city": "city", "country": "country",
                      "lifecycle_stage": "lifecyclestage", "created_at": "createdate",
                      "updated_at": CURSOR_PROPERTY}
DELIVERY_PREFIX = "hubspot-"


class IngestError(Exception):
    """The ingest cannot run or did not finish; one line, never a token, a full URL or a contact's value."""


@dataclass
class IngestResult:
    contacts: int = 0
    deliveries: list[Path] = field(default_factory=list)
    runs: int = 0
    cursor: str | None = None
    pipeline_name: str = ""


def requested_properties() -> list[str]:
    """The HubSpot properties the search asks for: those the contract's columns map from, never the
    platform's own."""
    return sorted(p for p in set(PROPERTY_OF_COLUMN.values()) if not p.startswith(PLATFORM_PREFIX))


def contract_row(item: dict, columns: list[str]) -> dict[str, str | None]:
    """One search result as a row of the contract's columns (strings); `cdp_*` properties are dropped
    before anything reads the properties."""
    props = {k: v for k, v in (item.get("properties") or {}).items() if not k.startswith(PLATFORM_PREFIX)}
    row = {c: props.get(PROPERTY_OF_COLUMN[c]) for c in columns if c in PROPERTY_OF_COLUMN}
    row["contact_id"] = str(item.get("id") or props.get("hs_object_id") or "") or None
    return {c: (None if row.get(c) is None else str(row[c])) for c in columns}


def to_millis(value) -> str:
    """The cursor as the filter value HubSpot takes for a datetime property: Unix milliseconds."""
    text = str(value)
    if text.isdigit():
        return text
    return str(int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000))


def search_body(before_ms: int) -> dict:
    """Contacts modified from the cursor on and before `before_ms`: HubSpot's search index takes a few seconds
    to show a write, so the newest seconds are left to the next run rather than risk the cursor passing a
    contact the index did not show yet."""
    return {"filterGroups": [{"filters": [
                {"propertyName": CURSOR_PROPERTY, "operator": "GTE", "value": "{incremental.start_value}"},
                {"propertyName": CURSOR_PROPERTY, "operator": "LT", "value": str(before_ms)}]}],
            "sorts": [{"propertyName": CURSOR_PROPERTY, "direction": "ASCENDING"}],
            "properties": requested_properties(), "limit": PAGE_SIZE}


def contract_columns(source: RawSource) -> list[str]:
    columns = list(source.raw_columns)
    if set(columns) != {"contact_id", *PROPERTY_OF_COLUMN}:
        raise IngestError(f"{source.source_name}: the registry's columns differ from the HubSpot mapping in "
                          "cdp/ingest_hubspot.py (PROPERTY_OF_COLUMN); map every column once")
    return columns


def delivery_csv(rows: list[dict], columns: list[str]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows({c: ("" if r.get(c) is None else r[c]) for c in columns} for r in rows)
    return out.getvalue().encode("utf-8")


def write_delivery(folder: Path, load_id: str, rows: list[dict], columns: list[str]) -> Path | None:
    """One delivery file for a batch of a load, named by the load and its content: a batch written again
    after a crash finds its file and leaves it as it is (a landing folder is append-only)."""
    if not rows:
        return None
    data = delivery_csv(rows, columns)
    path = folder / f"{DELIVERY_PREFIX}{load_id}-{hashlib.sha256(data).hexdigest()[:12]}.csv"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")  # not a delivery suffix: never read half written
    with open(partial, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, path)
    return path


def landing_destination(folder: Path, columns: list[str], written: list[Path], counted: list[int]):
    """A dlt destination that writes each batch of the contacts table as a CSV delivery in `folder`."""

    @dlt.destination(batch_size=SEARCH_MAX_RESULTS, loader_file_format="typed-jsonl", name="landing_folder",
                     naming_convention="direct", skip_dlt_columns_and_tables=True, max_table_nesting=0,
                     max_parallel_load_jobs=1)
    def landing_folder_delivery(items, table) -> None:
        if table["name"] != RESOURCE:
            return
        path = write_delivery(folder, dlt.current.load_package_state()["load_id"], list(items), columns)
        if path is not None:
            written.append(path)
            counted.append(len(items))

    return landing_folder_delivery()


class CountingCursorPaginator(JSONResponseCursorPaginator):
    """HubSpot's `paging.next.after`, sent back in the request body as `after`; counts the pages read, so the
    ingest knows whether a run stopped at the search's result cap."""

    def __init__(self) -> None:
        super().__init__(cursor_path="paging.next.after", cursor_body_path="after")
        self.pages = 0

    def update_state(self, response, data=None) -> None:
        self.pages += 1
        super().update_state(response, data)


def http_session(max_attempts: int, backoff_s: float) -> requests.Session:
    """dlt's retrying session (429 and 5xx, Retry-After honoured); redirects are refused, since a redirect
    would carry the token elsewhere."""
    session = Client(request_timeout=(5.0, 60.0), request_max_attempts=max_attempts,
                     request_backoff_factor=backoff_s, request_max_retry_delay=30.0,
                     raise_for_status=False).session
    session.max_redirects = 0
    return session


def contacts_source(base_url: str, token: str, session: requests.Session, columns: list[str],
                    paginator: CountingCursorPaginator, pages_per_run: int = PAGES_PER_RUN,
                    settle_s: float = SEARCH_SETTLE_S):
    source = rest_api_source({
        "client": {"base_url": base_url.rstrip("/") + "/", "auth": {"type": "bearer", "token": token},
                   "session": session},
        "resources": [{
            "name": RESOURCE, "primary_key": "contact_id", "write_disposition": "append", "max_table_nesting": 0,
            "endpoint": {
                "path": SEARCH_PATH, "method": "POST", "json": search_body(int((time.time() - settle_s) * 1000)),
                "data_selector": "results",
                "paginator": paginator,
                "incremental": {"cursor_path": "updated_at", "initial_value": INITIAL_CURSOR,
                                "convert": to_millis},
            },
        }],
    })
    resource = source.resources[RESOURCE]
    resource.add_map(lambda item: contract_row(item, columns))
    # every column is text, as the contract says: no type inference on timestamps or ids
    resource.apply_hints(columns={c: {"name": c, "data_type": "text", "nullable": True} for c in columns})
    resource.add_limit(pages_per_run)
    return source


def portal_of(session: requests.Session, base_url: str, token: str) -> str:
    """The portal the token belongs to: the cursor is kept per portal, so pointing the ingest at another
    portal (or a new sandbox) starts from the beginning instead of skipping its contacts."""
    try:
        resp = session.get(base_url.rstrip("/") + "/account-info/v3/details",
                           headers={"Authorization": f"Bearer {token}"}, timeout=(5.0, 30.0))
    except requests.RequestException as exc:
        raise IngestError(f"HubSpot did not answer the account details request ({type(exc).__name__})") from None
    if resp.status_code in (401, 403):
        raise IngestError(f"HubSpot refused the token ({resp.status_code})")
    try:
        portal = resp.json().get("portalId") if resp.status_code == 200 else None
    except ValueError:
        portal = None
    if not portal:
        raise IngestError(f"HubSpot's account details answered {resp.status_code} without a portal id")
    return str(portal)


def quiet_dlt() -> None:
    """No dlt telemetry leaves the machine, and dlt logs nothing below warnings (its debug lines would carry
    request headers, the token among them). dlt reads its runtime settings once per process: they are set
    here, before the first pipeline, and a tracker something else started is stopped."""
    config = resolve_configuration(RuntimeConfiguration())
    config.dlthub_telemetry = False
    config.log_level = "WARNING"
    active_run_context().initialize_runtime(config)
    disable_anon_tracker()
    logging.getLogger("dlt").setLevel(logging.WARNING)


def _resume(exc: Exception) -> str:
    """What the next run does: read again from the unchanged cursor when reading failed; deliver the contacts
    already read (dlt's pending load package, with the advanced cursor) when writing them failed."""
    if getattr(exc, "step", "extract") == "extract":
        return "the cursor is unchanged: the next run reads the same changes again"
    return "the contacts read wait in dlt's pending load package: the next run delivers them first"


def _failure(exc: Exception) -> str:
    """What failed, without the URL or the response body: the HTTP status and path, or the error's kind."""
    seen = exc
    while seen is not None:
        if isinstance(seen, requests.HTTPError) and seen.response is not None:
            path = requests.utils.urlparse(seen.response.url).path
            return f"HTTP {seen.response.status_code} from {path}"
        if isinstance(seen, requests.TooManyRedirects):
            return "HubSpot answered with a redirect, which is not followed"
        if isinstance(seen, requests.RequestException):
            return f"{type(seen).__name__} talking to HubSpot"
        seen = getattr(seen, "exception", None) or seen.__cause__ or seen.__context__
    return type(exc).__name__


def ingest_hubspot_contacts(settings: Settings, *, max_attempts: int = 5, backoff_s: float = 1.0,
                            pages_per_run: int = PAGES_PER_RUN, settle_s: float = SEARCH_SETTLE_S,
                            log: Callable[[str], None] = print) -> IngestResult:
    """Load the contacts changed since the cursor into new deliveries of CDP_RAW_DIR/crm_contacts/."""
    token = os.environ.get("HUBSPOT_ACCESS_TOKEN")
    if not token:
        raise IngestError("HUBSPOT_ACCESS_TOKEN is not set")
    base_url = os.environ.get("HUBSPOT_BASE_URL", DEFAULT_BASE_URL)
    source = load_registry(settings.project_dir)[SOURCE_NAME]
    if source.relation:
        raise IngestError(f"{SOURCE_NAME} is a warehouse relation in the registry; the ingest writes deliveries "
                          "to its landing folder")
    if (settings.raw_dir / source.file_name).is_file():
        raise IngestError(f"{source.file_name} is in CDP_RAW_DIR: a source is one file or one landing folder; move "
                          f"it into {SOURCE_NAME}/ as its first delivery (e.g. {SOURCE_NAME}/0000-initial.csv)")
    columns = contract_columns(source)
    folder = landing_folder(settings.raw_dir, source)
    result = IngestResult()
    quiet_dlt()
    session = http_session(max_attempts, backoff_s)
    result.pipeline_name = f"hubspot_contacts_portal_{portal_of(session, base_url, token)}"
    while True:
        written, counted, paginator = [], [], CountingCursorPaginator()
        pipeline = dlt.pipeline(pipeline_name=result.pipeline_name, pipelines_dir=str(settings.state_dir / "dlt"),
                                destination=landing_destination(folder, columns, written, counted),
                                dataset_name="hubspot")
        try:
            pipeline.run(contacts_source(base_url, token, session, columns, paginator, pages_per_run, settle_s))
        except Exception as exc:  # dlt wraps every step's failure; say which, never with the URL
            raise IngestError(f"HubSpot ingest stopped ({_failure(exc)}); {_resume(exc)}") from None
        forget_loaded_packages(pipeline)
        result.runs += 1
        result.contacts += sum(counted)
        result.deliveries += written
        result.cursor = cursor_of(pipeline)
        log(f"hubspot: {sum(counted)} contacts changed since the cursor, {paginator.pages} search pages"
            + (f", delivered {', '.join(p.name for p in written)}" if written else ""))
        if paginator.pages < pages_per_run or not paginator.has_next_page:
            return result
        if not counted:
            raise IngestError(f"more than a run's {paginator.pages} search pages of contacts share one "
                              f"{CURSOR_PROPERTY}; the search cannot page past them")


def forget_loaded_packages(pipeline) -> None:
    """dlt keeps each loaded package, contacts and all, in its working folder; once delivered they live in the
    landing folder only, so nothing outside it (and the erasure that rewrites it) keeps a person's data."""
    shutil.rmtree(Path(pipeline.working_dir) / "load" / "loaded", ignore_errors=True)


def cursor_of(pipeline) -> str | None:
    """The incremental cursor dlt keeps for the contacts resource (its last lastmodifieddate)."""
    state = pipeline.state.get("sources", {})
    for src in state.values():
        inc = src.get("resources", {}).get(RESOURCE, {}).get("incremental", {})
        for cursor in inc.values():
            return cursor.get("last_value")
    return None


def delivered(settings: Settings) -> list[Path]:
    """The deliveries the ingest wrote so far (for a status line or a test)."""
    source = load_registry(settings.project_dir)[SOURCE_NAME]
    return [p for p in deliveries(landing_folder(settings.raw_dir, source)) if p.name.startswith(DELIVERY_PREFIX)]
