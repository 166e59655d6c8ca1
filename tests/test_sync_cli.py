"""`cdp sync run` and `cdp sync status` as a person types them after `make run`: they read the warehouse of
CDP_STATE_DIR (the one `cdp run` writes) and reuse the CRM sandbox that run left running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sync.sandbox import start_sandbox
from tests.sync_support import TinyWarehouse, person


def cdp(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cdp.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_sync_run_reuses_the_sandbox_make_run_left_and_status_reads_the_same_warehouse(tmp_path: Path):
    state = tmp_path / "state"
    state.mkdir()
    TinyWarehouse(state / "warehouse.duckdb").write([person(i) for i in range(1, 6)])
    sandbox = start_sandbox(detach=True)
    # what `cdp run` leaves behind: the sandbox's pid and port in the state folder
    (state / "sandbox.pid").write_text(f"{sandbox.process.pid} {sandbox.port}\n")
    env = {k: v for k, v in os.environ.items()
           if k not in ("CDP_DUCKDB_PATH", "HUBSPOT_ACCESS_TOKEN", "SALESFORCE_CLIENT_ID", "CDP_WEBHOOK_URL")}
    env["CDP_STATE_DIR"] = str(state)
    try:
        dry = cdp(["sync", "run", "hubspot_contacts", "--dry-run", "--quiet"], env)
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert "would create 5 records" in dry.stdout and sandbox.stats()["hubspot_contacts"] == 0
        run = cdp(["sync", "run", "hubspot_contacts", "--quiet"], env)
        assert run.returncode == 0, run.stdout + run.stderr
        assert f"sandbox at {sandbox.url}/ (left running by an earlier run)" in run.stderr
        assert sandbox.stats()["hubspot_contacts"] == 5
        status = cdp(["sync", "status"], env)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "hubspot_contacts" in status.stdout and "success" in status.stdout
        # no second sandbox was started: the pid file still names the one from "make run"
        assert (state / "sandbox.pid").read_text().split()[1] == str(sandbox.port)
    finally:
        sandbox.stop()  # SIGTERM, then SIGKILL if it has not exited within 5 s
        sandbox.process.wait(timeout=60)
