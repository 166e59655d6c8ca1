"""The main job, end to end: raw data, dbt build (with its tests), then every declared sync. Without real
CRM credentials in the environment the syncs go to the local CRM sandbox, started on a free loopback
port and left running so its page can be opened; `cdp sandbox stop` ends it."""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

from orchestration.settings import Settings

REAL_CRM_VARIABLES = ("HUBSPOT_ACCESS_TOKEN", "SALESFORCE_CLIENT_ID", "CDP_WEBHOOK_URL")


def sandbox_pid_file(settings: Settings) -> Path:
    return settings.state_dir / "sandbox.pid"


def stop_sandbox(settings: Settings) -> bool:
    pid_file = sandbox_pid_file(settings)
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    pid_file.unlink()
    return True


def running_sandbox(settings: Settings):
    """The sandbox a previous `make run` left running, if it still answers."""
    import requests

    from sync.sandbox import Sandbox

    pid_file = sandbox_pid_file(settings)
    if not pid_file.exists():
        return None
    pid, port = (int(x) for x in pid_file.read_text().split())
    try:
        requests.get(f"http://127.0.0.1:{port}/_sandbox/stats", timeout=2).raise_for_status()
    except requests.RequestException:
        pid_file.unlink()
        return None
    return Sandbox(process=None, port=port)  # type: ignore[arg-type]


def run_pipeline(settings: Settings) -> int:
    from orchestration.cli import cmd_build
    from sync.cli import format_summary
    from sync.config import load_syncs
    from sync.destinations import make_destination
    from sync.engine import run_sync

    rc = cmd_build(argparse.Namespace(target=settings.target, full_refresh=False, select=None))
    if rc != 0:
        print("dbt build failed: syncs are not run (nothing leaves the warehouse after a failed check)")
        return rc
    sandbox_url = None
    if not any(os.environ.get(v) for v in REAL_CRM_VARIABLES):
        sb = running_sandbox(settings)
        if sb is None:
            from sync.sandbox import start_sandbox
            from sync.state import StateStore

            sb = start_sandbox(detach=True, log_path=settings.state_dir / "sandbox.log")
            sandbox_pid_file(settings).write_text(f"{sb.process.pid} {sb.port}\n")
            # a new sandbox is an empty CRM: what the warehouse remembers sending no longer holds
            store = StateStore(settings.duckdb_path)
            for name in load_syncs():
                store.reset(name)
            store.close()
        os.environ.update(sb.client_env())
        sandbox_url = sb.url
        print(f"\nno CRM credentials set: syncing to the local CRM sandbox at {sb.url}/")
    worst = 0
    for cfg in load_syncs().values():
        summary = run_sync(cfg, settings.duckdb_path, make_destination)
        print(format_summary(summary))
        worst = max(worst, 0 if summary.status == "success" else 1)
    if sandbox_url:
        print(f"\nCRM sandbox page (contacts with enriched fields): {sandbox_url}/")
        print("it keeps running in the background; stop it with: .venv/bin/cdp sandbox stop")
    return worst
