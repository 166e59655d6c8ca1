"""`cdp privacy`: file a data-subject request (in CDP_RAW_DIR's privacy_requests source, the optional raw source
of docs/raw_sources.md: appended to its file, or a new delivery in its landing folder; the next build honours
it) and read the audit log."""

from __future__ import annotations

import argparse
import csv
import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from cdp.landing import landing_folder
from cdp.registry import load_registry
from cdp.settings import load_settings

COLUMNS = ["request_id", "request_type", "email", "phone", "received_at"]
PRIVACY_SOURCE = "privacy_requests"


def append_request(raw_dir: Path, request_type: str, email: str | None, phone: str | None,
                   request_id: str | None = None, received_at: datetime | None = None) -> str:
    """File one request where the privacy_requests source is: appended to privacy_requests.csv (the header
    first when the file is new), or, when the source is a landing folder, a new delivery in it (a whole file,
    renamed into place, since landing folders are append-only). Returns the request id."""
    if request_type not in ("erasure", "suppression"):
        raise ValueError("request_type must be erasure or suppression")
    if not (email or "").strip() and not (phone or "").strip():
        raise ValueError("a request needs --email or --phone")
    when = (received_at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    request_id = request_id or f"req-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    row = [request_id, request_type, (email or "").strip(), (phone or "").strip(), when]
    source = load_registry()[PRIVACY_SOURCE]
    if source.relation:
        raise ValueError(f"{PRIVACY_SOURCE} is the warehouse relation {source.relation}: file the request with "
                         "the loader that keeps it")
    raw_dir.mkdir(parents=True, exist_ok=True)
    folder = landing_folder(raw_dir, source)
    if folder.is_dir() and not (raw_dir / source.file_name).exists():
        _deliver(folder, row)
    else:
        _append(raw_dir / source.file_name, row)
    return request_id


def _deliver(folder: Path, row: list[str]) -> Path:
    """A one-request delivery, written under a name the registration does not read, then renamed."""
    name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}Z-request-{secrets.token_hex(3)}.csv"
    partial = folder / f"{name}.partial"
    with partial.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerow(row)
    os.replace(partial, folder / name)
    return folder / name


def _append(path: Path, row: list[str]) -> None:
    new = not path.exists() or path.stat().st_size == 0
    if not new:  # a file that does not end in a newline would glue our row to its last one
        with path.open("rb") as fh:
            fh.seek(-1, 2)
            needs_newline = fh.read(1) not in (b"\n", b"\r")
    with path.open("a", newline="", encoding="utf-8") as fh:
        if not new and needs_newline:
            fh.write("\n")
        writer = csv.writer(fh, lineterminator="\n")
        if new:
            writer.writerow(COLUMNS)
        writer.writerow(row)


def cmd_request(ns: argparse.Namespace) -> int:
    settings = load_settings()
    try:
        rid = append_request(settings.raw_dir, "erasure" if ns.erase else "suppression", ns.email, ns.phone, ns.id)
    except ValueError as exc:
        print(f"error: {exc}")
        return 2
    print(f"request {rid} ({'erasure' if ns.erase else 'suppression'}) filed in {settings.raw_dir} "
          f"({PRIVACY_SOURCE}); the next build applies it, the next sync runs propagate it")
    return 0


def cmd_log(ns: argparse.Namespace) -> int:
    from sync.privacy import destination_log

    rows = destination_log(load_settings().duckdb_path)
    if not rows:
        print("no privacy requests in the warehouse (build first)")
        return 0
    print("request_id | type | received_at | status | persons | records | sync | destination | confirmed_at")
    for row in rows:
        print(" | ".join("" if v is None else str(v) for v in row))
    return 0


def add_privacy_parser(sub) -> None:
    p = sub.add_parser("privacy", help="privacy requests: file an erasure or suppression, read the audit log")
    psub = p.add_subparsers(dest="privacy_command", required=True)
    r = psub.add_parser("request", help="file a request in CDP_RAW_DIR (privacy_requests.csv or its landing folder)")
    kind = r.add_mutually_exclusive_group(required=True)
    kind.add_argument("--erase", action="store_true", help="erasure: delete everywhere, keep out for good")
    kind.add_argument("--suppress", action="store_true", help="suppression: keep, but send to no destination")
    r.add_argument("--email", help="any email of the person")
    r.add_argument("--phone", help="any phone of the person, international form (+44 20 7946 0958)")
    r.add_argument("--id", help="request id (default: generated)")
    r.set_defaults(func=cmd_request)
    lg = psub.add_parser("log", help="the audit log: requests, status and per-destination confirmations (no PII)")
    lg.set_defaults(func=cmd_log)
