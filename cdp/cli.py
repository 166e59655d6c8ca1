"""`cdp`: the project's command line. Heavy imports (Dagster, dbt) happen inside the commands that need
them, so `cdp sync ...` and `cdp generate-data` start fast."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from cdp.build_progress import run_with_progress
from cdp.dbt_args import dbt_command
from cdp.erasure_rewrite import rewrite_after_erasure
from cdp.first_erasure import build_graph_if_erasures_need_it
from cdp.identity_explain import add_identity_parser
from cdp.ingest_cli import add_ingest_parser
from cdp.privacy_enforcement import enforce_privacy
from cdp.raw_data import ensure_raw_data
from cdp.scaffold import ScaffoldError, SourceSpec, scaffold_source
from cdp.segment_rules import refuse_bad_segments
from cdp.serve import add_serve_parser
from cdp.warehouse_lock import wait_for_warehouse
from cdp.settings import SAMPLE_PERSONS, SAMPLE_SEED, Settings, load_settings
from predict import spark_build


def _dbt_executable() -> str:
    return str(Path(sys.executable).with_name("dbt"))


def run_dbt(settings: Settings, verb: str, *args: str, progress: bool = False, **kwargs) -> int:
    """dbt's own output, or with `progress` the compact lines of cdp.build_progress (dbt's to a log file)."""
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    settings.duckdb_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [_dbt_executable(), *dbt_command(verb, project_dir=str(settings.project_dir),
                                           target=settings.target, **kwargs), *args]
    if progress:
        log_path = settings.state_dir / "logs" / f"{verb}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.log"
        return run_with_progress(cmd, cwd=settings.project_dir, env=settings.dbt_env, log_path=log_path)
    return subprocess.call(cmd, cwd=settings.project_dir, env=settings.dbt_env)


def cmd_generate(ns: argparse.Namespace) -> int:
    from datagen.sample_data import generate

    started = time.perf_counter()
    counts = generate(ns.persons, ns.seed, Path(ns.out), start_index=ns.start_index)
    for name, n in counts.items():
        print(f"{name:16s} {n:>10,d} rows")
    print(f"wrote {ns.out} in {time.perf_counter() - started:.1f}s")
    return 0


def cmd_build(ns: argparse.Namespace) -> int:
    settings = load_settings(ns.target)
    if refuse_bad_segments(settings.project_dir):
        return 2
    if settings.target == "duckdb" and (busy := wait_for_warehouse(settings.duckdb_path, print)):
        print(busy, file=sys.stderr)
        return 1
    ensure_raw_data(settings)
    rc = build_graph_if_erasures_need_it(db_path=settings.duckdb_path, raw_dir=settings.raw_dir,
                                         target=settings.target, dbt_executable=_dbt_executable(),
                                         project_dir=settings.project_dir, env=settings.dbt_env, log=print)
    if rc != 0:
        return rc
    # a production build: dbt's unit tests check the SQL's logic on fixtures and run in `make test` (CI)
    def dbt_build(**selection) -> int:
        return run_dbt(settings, "build", "--exclude-resource-type", "unit_test", full_refresh=ns.full_refresh,
                       progress=not ns.verbose, **selection)

    if settings.target == "spark" and not ns.select:  # the fit and scoring run between two dbt runs
        rc = spark_build.build(dbt_build, lambda: spark_build.run_prediction_step(
            settings.project_dir, settings.dbt_env))
    else:
        rc = dbt_build(select=ns.select or ())
    if rc != 0:  # whatever failed, privacy requests still reach the warehouse's tables
        enforce_privacy(settings.duckdb_path, settings.project_dir, settings.target, settings.dbt_env,
                        _dbt_executable(), print, destinations=False)
    if settings.target == "duckdb" and (rewritten := rewrite_after_erasure(settings.duckdb_path)):
        print(rewritten)
    if rc != 0:  # the tables hold what the last good build left, not this build's result
        print(f"\ndbt build failed (exit code {rc}): no summary (the warehouse's tables are the previous "
              "build's where this one stopped)")
    elif settings.target == "duckdb" and settings.duckdb_path.exists():
        from cdp.report import identity_summary, journey_summary, load_summary, prediction_summary, table_exists

        if table_exists(settings.duckdb_path, "source_row_counts"):
            print("\nRows per source (loaded = staged + superseded + duplicates + quarantined + after_as_of):")
            print(load_summary(settings.duckdb_path))
            print("\nIdentity:")
            print(identity_summary(settings.duckdb_path))
            print("\nPredictions:")
            print(prediction_summary(settings.duckdb_path))
            print("\nJourneys:")
            print(journey_summary(settings.duckdb_path))
        print(f"\nwarehouse: {settings.duckdb_path}")
    return rc


def cmd_run(ns: argparse.Namespace) -> int:
    from cdp.pipeline import run_pipeline

    return run_pipeline(load_settings(), verbose=ns.verbose)


def cmd_docs(ns: argparse.Namespace) -> int:
    settings = load_settings()
    if ns.gx:  # the GX Data Docs pages the governance checks link, over http until Ctrl-C
        from cdp.docs_server import serve_gx_docs

        server = serve_gx_docs(settings.gx_docs_dir, background=False)
        print(f"GX Data Docs: http://127.0.0.1:{server.server_address[1]}/ (folder {settings.gx_docs_dir})", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            server.server_close()
        return 0
    ensure_raw_data(settings)
    rc = run_dbt(settings, "docs", "generate")
    print(f"dbt docs site: {settings.project_dir / 'target' / 'index.html'}")
    return rc


def cmd_sandbox(ns: argparse.Namespace) -> int:
    from cdp.crm_sandbox import stop_sandbox

    if ns.action == "stop":
        print("sandbox stopped" if stop_sandbox(load_settings()) else "no sandbox was running")
        return 0
    from sync.sandbox.server import serve

    server = serve(ns.port)
    print(f"CRM sandbox listening on http://127.0.0.1:{server.server_address[1]}/", flush=True)
    server.serve_forever()
    return 0


def cmd_ui(ns: argparse.Namespace) -> int:
    """The Dagster UI (webserver and daemon for schedules and sensors) on loopback only. It has no
    authentication: keep it on 127.0.0.1; --read-only gives viewers a UI that cannot launch runs."""
    from cdp.docs_server import serve_gx_docs
    from cdp.ui import serve_ui

    settings = load_settings()
    try:  # the Data Docs pages the governance checks link in the UI
        docs = serve_gx_docs(settings.gx_docs_dir)
        print(f"GX Data Docs: http://127.0.0.1:{docs.server_address[1]}/", flush=True)
    except OSError as exc:
        print(f"GX Data Docs not served ({exc.strerror}); "
              "set CDP_GX_DOCS_PORT to a free port", file=sys.stderr)
    return serve_ui(settings, port=ns.port, read_only=ns.read_only)


def cmd_predict_backtest(ns: argparse.Namespace) -> int:
    """Fit on orders up to --calibration-end, compare with what the warehouse holds after it."""
    from datetime import date

    from predict.backtest import default_window, read_order_days, run_backtest

    settings = load_settings()
    order_days = read_order_days(settings.duckdb_path)
    calibration_end, holdout_end = default_window(order_days)
    if ns.calibration_end:
        calibration_end = date.fromisoformat(ns.calibration_end)
    if ns.holdout_end:
        holdout_end = date.fromisoformat(ns.holdout_end)
    result = run_backtest(order_days, calibration_end, holdout_end, settings.state_dir / "backtest")
    print(result.markdown)
    print(f"report: {result.report_path}\ncharts: {', '.join(str(c) for c in result.charts)}")
    return 0


def cmd_new_source(ns: argparse.Namespace) -> int:
    """Scaffold a raw source: its registry entry, sources YAML and base_/stg_ models (docs/extending.md)."""
    try:
        spec = SourceSpec(name=ns.name, columns=[c.strip() for c in ns.columns.split(",") if c.strip()],
                          timestamp=ns.timestamp, key=ns.key, email=ns.email, phone=ns.phone,
                          order_amount=ns.order_amount, source=ns.source or "", entity=ns.entity or "")
        written = scaffold_source(Path(ns.project_dir) if ns.project_dir else load_settings().project_dir, spec)
    except ScaffoldError as error:
        print(f"cdp new-source: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(f"next: put {ns.name}.csv in the raw folder, edit the generated SQL and descriptions, then `cdp build`")
    return 0


def add_new_source_parser(sub) -> None:
    n = sub.add_parser("new-source", help="scaffold a raw source: registry entry, sources YAML, base_/stg_ models")
    n.add_argument("name", help="source name: the raw file <name>.csv, e.g. pos_sales")
    n.add_argument("--columns", required=True, help="the file's header, comma separated")
    n.add_argument("--timestamp", required=True, help="column saying when a row happened (latest version wins)")
    n.add_argument("--key", help="column holding the record key (default: rows are keyed by their hash)")
    n.add_argument("--email", help="column holding an email: an identifier of the person")
    n.add_argument("--phone", help="column holding a phone number: an identifier of the person")
    n.add_argument("--order-amount", help="each row is a paid order of this amount (reporting currency)")
    n.add_argument("--source", help="dbt source name (default: NAME up to the first underscore)")
    n.add_argument("--entity", help="model entity (default: NAME after the first underscore)")
    n.add_argument("--project-dir", help="the dbt project to add it to (default: this project)")
    n.set_defaults(func=cmd_new_source)


def add_predict_parser(sub) -> None:
    p = sub.add_parser("predict", help="prediction models: backtest")
    psub = p.add_subparsers(dest="predict_command", required=True)
    bt = psub.add_parser("backtest", help="fit up to a calibration end and compare with the holdout that follows")
    bt.add_argument("--calibration-end", help="ISO date (default: 26 weeks before the last order day)")
    bt.add_argument("--holdout-end", help="ISO date (default: the last order day in the warehouse)")
    bt.set_defaults(func=cmd_predict_backtest)


def build_parser() -> argparse.ArgumentParser:
    """Every command and option of `cdp`, each with its help text."""
    parser = argparse.ArgumentParser(prog="cdp", description="Warehouse-native customer data platform")
    sub = parser.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate-data", help="write messy sample raw data following the raw contract")
    g.add_argument("--persons", type=int, default=SAMPLE_PERSONS, help="how many people to generate (default %(default)s)")
    g.add_argument("--seed", type=int, default=SAMPLE_SEED, help="random seed: the same seed writes the same files")
    g.add_argument("--out", default="sample_data", help="folder to write the raw files into (default %(default)s)")
    g.add_argument("--start-index", type=int, default=0, help="number new persons from here (a later batch)")
    g.set_defaults(func=cmd_generate)

    b = sub.add_parser("build", help="dbt build (seeds, models, data tests) and print the load summary")
    b.add_argument("--target", default=None, help="dbt target of profiles.yml (default: CDP_TARGET, else duckdb)")
    b.add_argument("--full-refresh", action="store_true",
                   help="rebuild incremental models from scratch (the privacy ledgers are kept)")
    b.add_argument("--select", nargs="*", help="dbt selectors: build only these models and their tests")
    b.add_argument("-v", "--verbose", action="store_true", help="print dbt's own output instead of progress lines")
    b.set_defaults(func=cmd_build)

    r = sub.add_parser("run", help="the whole pipeline: data, build, governance checks, syncs")
    r.add_argument("-v", "--verbose", action="store_true", help="also print Dagster's event log")
    r.set_defaults(func=cmd_run)
    add_serve_parser(sub)

    d = sub.add_parser("docs", help="generate the dbt docs site (or, with --gx, serve the GX Data Docs)")
    d.add_argument("--gx", action="store_true",
                   help="serve the GX Data Docs pages on http://127.0.0.1:$CDP_GX_DOCS_PORT (default 3001)")
    d.set_defaults(func=cmd_docs)

    u = sub.add_parser("ui", help="the Dagster UI on 127.0.0.1")
    u.add_argument("--port", type=int, default=3000, help="loopback port of the webserver (default %(default)s)")
    u.add_argument("--read-only", action="store_true", help="viewers: no launching runs")
    u.set_defaults(func=cmd_ui)

    sb = sub.add_parser("sandbox", help="the local CRM sandbox: serve (foreground) or stop (the one make run left)")
    sb.add_argument("action", choices=["serve", "stop"], help="serve: start the sandbox; stop: end the one running")
    sb.add_argument("--port", type=int, default=0, help="loopback port (default: a free one)")
    sb.set_defaults(func=cmd_sandbox)

    from sync.cli import add_sync_parser

    add_sync_parser(sub)
    add_predict_parser(sub)
    add_new_source_parser(sub)
    from cdp.privacy_cli import add_privacy_parser

    add_privacy_parser(sub)
    add_identity_parser(sub)
    add_ingest_parser(sub)

    return parser


def main(argv: list[str] | None = None) -> int:
    ns = build_parser().parse_args(argv)
    if ns.command == "sync":
        prepare_sync_command(ns)
    return ns.func(ns)


def prepare_sync_command(ns: argparse.Namespace) -> None:
    """`cdp sync ...` reads the warehouse `cdp run` writes (CDP_STATE_DIR and CDP_DUCKDB_PATH, as every entry
    point reads them) and, without real CRM credentials, syncs to the sandbox `make run` left running; a
    real run starts one when none answers, a dry run never does."""
    import os

    from cdp.crm_sandbox import use_crm_sandbox_if_no_credentials

    settings = load_settings()
    os.environ["CDP_DUCKDB_PATH"] = str(settings.duckdb_path)
    if getattr(ns, "sync_command", None) == "run":
        in_use = use_crm_sandbox_if_no_credentials(settings, start=not ns.dry_run)
        if in_use:
            how = "started; `cdp sandbox stop` ends it" if in_use.started_now else "left running by an earlier run"
            print(f"syncing to the local CRM sandbox at {in_use.url}/ ({how})", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
