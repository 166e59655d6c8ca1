"""`cdp sync list`, `cdp sync run NAME [--dry-run] [--full-resync]`, `cdp sync status` (last run of each
sync, open failures by code) and `cdp sync failures NAME [--json]` (the failing records)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import duckdb

from sync.config import ConfigError, SyncConfig, load_syncs
from sync.destinations import make_destination
from sync.engine import RunSummary, run_sync
from sync.redact import redact
from sync.state import StateStore


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


def _named(name: str) -> SyncConfig | None:
    """The declared sync `name`, or None after saying why (invalid syncs.yml, or no such sync)."""
    syncs = _load()
    if syncs is None:
        return None
    if name not in syncs:
        print(f"unknown sync {name!r}; known: {', '.join(syncs)}", file=sys.stderr)
        return None
    return syncs[name]


def cmd_list(ns: argparse.Namespace) -> int:
    syncs = _load()
    if syncs is None:
        return 2
    rows = [(cfg.name, cfg.destination, cfg.mode, cfg.model, cfg.description) for cfg in syncs.values()]
    print_table(("sync", "destination", "mode", "model", "description"), rows)
    return 0


def print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Columns as wide as their longest value (the last one is left free), with a header line."""
    widths = [max(len(str(v)) for v in col) for col in zip(header, *rows)]
    for row in (header, *rows):
        cells = [str(v).ljust(w) for v, w in zip(row[:-1], widths)] + [str(row[-1])]
        print("  ".join(cells).rstrip())


def cmd_run(ns: argparse.Namespace) -> int:
    cfg = _named(ns.name)
    if cfg is None:
        return 2
    db = warehouse_path()
    summary = run_sync(cfg, db, make_destination, dry_run=ns.dry_run, full_resync=ns.full_resync,
                       force_clear=ns.force_clear, progress=None if ns.quiet else progress_bar)
    if ns.dry_run and cfg.mode == "events":
        samples = summary.plan_samples.get("create", [])
        print(f"would deliver {summary.created} events" + (f", e.g. {', '.join(samples)}" if samples else ""))
        print(f"would skip {summary.excluded} (consent), already decided or not routed {summary.skipped}, "
              f"invalid {summary.invalid}")
    elif ns.dry_run:
        for action, n in (("create", summary.created), ("update", summary.updated), ("merge", summary.merged),
                          ("archive", summary.archived), ("clear", summary.cleared)):
            samples = summary.plan_samples.get(action, [])
            print(f"would {action} {n} records" + (f", e.g. {', '.join(samples)}" if samples else ""))
        print(f"unchanged {summary.skipped}, excluded {summary.excluded}, invalid {summary.invalid}")
    print(format_summary(summary))
    return 0 if summary.status in ("success", "dry_run") else 1


def _read(sql: str, params: list | None = None) -> list[tuple] | None:
    """Read the sync tables without creating anything; None when no sync has run in this warehouse."""
    db = warehouse_path()
    if not db.exists():
        return None
    with StateStore(db).connect(read_only=True) as con:
        have = con.execute("select count(*) from information_schema.tables where table_schema = 'cdp_sync' "
                           "and table_name in ('sync_runs', 'sync_failures')").fetchone()[0]
        if have < 2:
            return None
        try:
            return con.execute(sql, params or []).fetchall()
        except duckdb.Error as exc:  # a warehouse from an older release
            print(f"cannot read the sync tables: {exc}", file=sys.stderr)
            return None


def cmd_status(ns: argparse.Namespace) -> int:
    syncs = _load()
    if syncs is None:
        return 2
    runs = _read("""select sync_name, status, started_at, finished_at, destination_key, succeeded, failed, error
                    from cdp_sync.sync_runs where not dry_run
                    qualify row_number() over (partition by sync_name order by started_at desc) = 1""") or []
    failures = _read("""select sync_name, error_code, count(*) from cdp_sync.sync_failures
                        group by all order by sync_name, 3 desc""") or []
    last = {r[0]: r for r in runs}
    open_by_sync: dict[str, list[str]] = {}
    for name, code, n in failures:
        open_by_sync.setdefault(name, []).append(f"{code} {n}")
    rows, errors = [], {}
    for name in syncs:
        r = last.get(name)
        when = r[2].strftime("%Y-%m-%d %H:%M:%S") if r else "never"
        ok, bad = (r[5] or 0, r[6] or 0) if r else (0, 0)
        rows.append((name, when, r[1] if r else "-", str(ok), str(bad), ", ".join(open_by_sync.get(name, [])) or "-"))
        if r and r[7]:
            errors[name] = redact(r[7])
    print_table(("sync", "last run", "status", "ok", "failed", "open failures by code"), rows)
    for name, error in errors.items():
        print(f"{name}: error: {error}")
    return 0


def cmd_failures(ns: argparse.Namespace) -> int:
    if _named(ns.name) is None:
        return 2
    cols = ["record_key", "action", "error_code", "error_message", "attempts", "first_failed_at", "last_failed_at",
            "destination_key"]
    rows = _read(f"select {', '.join(cols)} from cdp_sync.sync_failures where sync_name = ? "
                 f"order by error_code, record_key", [ns.name]) or []
    # rows written by an older release may hold a full URL: shown without query or credentials
    records = [{**dict(zip(cols, r)), "error_message": redact(r[3])} for r in rows]
    if ns.json:
        print(json.dumps(records, default=str, indent=2))
        return 0
    if not records:
        print(f"sync {ns.name}: no open failures")
        return 0
    print(f"sync {ns.name}: {len(records)} open failures")
    for r in records:
        print(f"  {r['record_key']:28s} {r['action'] or '':7s} {r['error_code']:24s} attempts {r['attempts']:<3d} "
              f"{(r['error_message'] or '')[:80]}")
    return 0


def add_sync_parser(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("sync", help="reverse-ETL syncs to CRMs (sync/syncs.yml; docs/sync-reference.md)",
                       description="Syncs declared in sync/syncs.yml (CDP_SYNCS_FILE), against the warehouse "
                                   "CDP_DUCKDB_PATH names.")
    ssub = s.add_subparsers(dest="sync_command", required=True, metavar="COMMAND")
    ls = ssub.add_parser("list", help="list the declared syncs", description="The declared syncs, one a line.")
    ls.set_defaults(func=cmd_list)
    run = ssub.add_parser("run", help="run one sync", description="Run one sync: plan, send what changed, "
                          "print a summary; exits non-zero unless the run succeeded.")
    run.add_argument("name", help="the sync's name in syncs.yml (see `cdp sync list`)")
    run.add_argument("--dry-run", action="store_true",
                     help="plan only: show what would be created, updated, merged, archived and cleared; "
                          "nothing is sent or written")
    run.add_argument("--full-resync", action="store_true", help="send every record, changed or not")
    run.add_argument("--force-clear", action="store_true",
                     help="allow archives and clears past the sync's max_clear_share")
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    run.set_defaults(func=cmd_run)
    st = ssub.add_parser("status", help="last run of each sync and its open failures by code",
                         description="The last run of each sync and its open failures by code.")
    st.set_defaults(func=cmd_status)
    fl = ssub.add_parser("failures", help="the records of one sync that are failing",
                         description="The failing records of one sync: key, action, code, message, attempts.")
    fl.add_argument("name", help="the sync's name in syncs.yml (see `cdp sync list`)")
    fl.add_argument("--json", action="store_true", help="print the rows as JSON")
    fl.set_defaults(func=cmd_failures)
