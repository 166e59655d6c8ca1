"""`cdp ingest SOURCE`: load a source system's changes into its landing folder (docs/raw_sources.md). The
loader (dlt) is imported when the command runs, so the other `cdp` commands start fast. Without real CRM
credentials it reads the local CRM sandbox an earlier `make run` left running (it never starts one: an empty
CRM has nothing to ingest)."""

from __future__ import annotations

import argparse
import sys

from cdp.crm_sandbox import use_crm_sandbox_if_no_credentials
from cdp.settings import load_settings


def cmd_ingest(ns: argparse.Namespace) -> int:
    from cdp.ingest_hubspot import IngestError, ingest_hubspot_contacts

    settings = load_settings()
    in_use = use_crm_sandbox_if_no_credentials(settings, start=False)
    if in_use:  # no real CRM credentials: read the sandbox `make run` left running, as `cdp sync` does
        print(f"reading the local CRM sandbox at {in_use.url}/", file=sys.stderr)
    try:
        result = ingest_hubspot_contacts(settings, settle_s=ns.settle_seconds)
    except IngestError as error:
        print(f"cdp ingest {ns.source}: {error}", file=sys.stderr)
        return 1
    where = settings.raw_dir / "crm_contacts"
    print(f"{result.contacts} contacts delivered to {where} in {len(result.deliveries)} file(s); "
          f"cursor {result.cursor or 'not set'}")
    return 0


def add_ingest_parser(sub) -> None:
    i = sub.add_parser("ingest", help="load a source system's changes since the last run into its landing folder")
    i.add_argument("source", choices=["hubspot"],
                   help="hubspot: contacts changed since the cursor (HUBSPOT_BASE_URL, HUBSPOT_ACCESS_TOKEN)")
    i.add_argument("--settle-seconds", type=float, default=5.0,
                   help="contacts modified this recently wait for the next run: HubSpot's search index shows a "
                        "write after a few seconds (default %(default)s)")
    i.set_defaults(func=cmd_ingest)
