"""The local CRM sandbox as a background process for `cdp run` and `cdp ui`: started on a free loopback
port when no real CRM credentials are set, remembered in the state folder (pid and port) so a later run
reuses it, and stopped by `cdp sandbox stop` (or by `cdp ui` when it started it)."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

from cdp.settings import Settings

REAL_CRM_VARIABLES = ("HUBSPOT_ACCESS_TOKEN", "SALESFORCE_CLIENT_ID", "CDP_WEBHOOK_URL")


@dataclass(frozen=True)
class SandboxInUse:
    url: str
    pid: int | None
    started_now: bool  # False when a sandbox an earlier run left was reused


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
    _pid, port = (int(x) for x in pid_file.read_text().split())
    try:
        requests.get(f"http://127.0.0.1:{port}/_sandbox/stats", timeout=2).raise_for_status()
    except requests.RequestException:
        pid_file.unlink()
        return None
    return Sandbox(process=None, port=port)  # type: ignore[arg-type]


def use_crm_sandbox_if_no_credentials(settings: Settings, start: bool = True) -> SandboxInUse | None:
    """Point the syncs at the local CRM sandbox unless real CRM credentials are set: the destinations read
    their URLs and credentials from this process's environment, which is why it is updated here (at
    run time, never at import). `start=False` only reuses a sandbox that answers (a dry run starts nothing)."""
    if any(os.environ.get(v) for v in REAL_CRM_VARIABLES):
        return None
    from sync.config import declared_entries

    settings.state_dir.mkdir(parents=True, exist_ok=True)
    sb = running_sandbox(settings)
    if sb is None and not start:
        return None
    started = sb is None
    if sb is None:
        from sync.sandbox import start_sandbox
        from sync.state import StateStore

        sb = start_sandbox(detach=True, log_path=settings.state_dir / "sandbox.log")
        sandbox_pid_file(settings).write_text(f"{sb.process.pid} {sb.port}\n")
        if settings.duckdb_path.exists():
            # a new sandbox is an empty CRM: what the warehouse remembers sending no longer holds
            store = StateStore(settings.duckdb_path)
            for entry in declared_entries():  # the names as written, even in a file that is otherwise wrong
                store.reset(entry["name"])
            store.close()
    os.environ.update(sb.client_env())
    return SandboxInUse(url=sb.url, pid=sb.process.pid if started else None, started_now=started)
