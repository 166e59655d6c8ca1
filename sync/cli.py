"""`cdp sync list` and `cdp sync run NAME [--dry-run] [--full-resync]`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sync.config import ConfigError, SyncConfig, load_syncs
from sync.destinations import make_destination
from sync.engine import RunSummary, run_sync


def warehouse_path() -> Path:
    default = Path(__file__).resolve().parents[1] / ".cdp" / "warehouse.duckdb"
    return Path(os.environ.get("CDP_DUCKDB_PATH", default))


def progress_bar(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    sys.stderr.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {done}/{total} records")
    if done >= total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def format_summary(s: RunSummary) -> str:
    rows = [("status", s.status), ("planned", s.planned), ("  to create", s.created), ("  to update", s.updated),
            ("  to merge", s.merged), ("  to archive", s.archived), ("  to clear", s.cleared),
            ("unchanged (skipped)", s.skipped), ("excluded (opted out)", s.excluded), ("invalid input", s.invalid),
            ("sent", s.sent), ("succeeded", s.succeeded), ("failed", s.failed), ("requests", s.requests),
            ("retries", s.retries), ("rate limited", s.rate_limited), ("seconds", s.duration_s)]
    lines = [f"sync {s.sync_name} (run {s.run_id[:8]}{', dry run' if s.dry_run else ''}"
             f"{', destination ' + s.destination_key if s.destination_key else ''})"]
    lines += [f"  {k:<22}{v:>10}" for k, v in rows]
    for code, n in s.failures_by_code.most_common():
        lines.append(f"  failure {code}: {n} (e.g. {', '.join(s.failure_samples.get(code, []))})")
    if s.error:
        lines.append(f"  error: {s.error}")
    return "\n".join(lines)


def _load() -> dict[str, SyncConfig] | None:
    try:
        return load_syncs()
    except ConfigError as exc:
        print(f"sync configuration is invalid:\n{exc}", file=sys.stderr)
        return None


def cmd_list(ns: argparse.Namespace) -> int:
    syncs = _load()
    if syncs is None:
        return 2
    for cfg in syncs.values():
        print(f"{cfg.name:20s} {cfg.destination:11s} {cfg.mode:11s} {cfg.model:36s} {cfg.description}")
    return 0


def cmd_run(ns: argparse.Namespace) -> int:
    syncs = _load()
    if syncs is None:
        return 2
    if ns.name not in syncs:
        print(f"unknown sync {ns.name!r}; known: {', '.join(syncs)}", file=sys.stderr)
        return 2
    cfg = syncs[ns.name]
    db = warehouse_path()
    summary = run_sync(cfg, db, make_destination, dry_run=ns.dry_run, full_resync=ns.full_resync,
                       force_clear=ns.force_clear, progress=None if ns.quiet else progress_bar)
    if ns.dry_run:
        for action, n in (("create", summary.created), ("update", summary.updated), ("merge", summary.merged),
                          ("archive", summary.archived), ("clear", summary.cleared)):
            samples = summary.plan_samples.get(action, [])
            print(f"would {action} {n} records" + (f", e.g. {', '.join(samples)}" if samples else ""))
        print(f"unchanged {summary.skipped}, excluded {summary.excluded}, invalid {summary.invalid}")
    print(format_summary(summary))
    return 0 if summary.status in ("success", "dry_run") else 1


def add_sync_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("sync", help="reverse-ETL syncs to CRMs (sync/syncs.yml)")
    ssub = s.add_subparsers(dest="sync_command", required=True)
    ls = ssub.add_parser("list", help="list the declared syncs")
    ls.set_defaults(func=cmd_list)
    run = ssub.add_parser("run", help="run one sync")
    run.add_argument("name")
    run.add_argument("--dry-run", action="store_true", help="show what would be created, updated, cleared")
    run.add_argument("--full-resync", action="store_true", help="send every record, changed or not")
    run.add_argument("--force-clear", action="store_true", help="allow mirror mode past max_clear_share")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_run)
