"""`cdp ui`: the Dagster UI (`dagster dev`: webserver, daemon, code server) on loopback, on the project's
Dagster instance, and a supervisor that ends every process it started when it is told to stop.

`dagster dev` does not reliably stop its children on SIGTERM, and children it starts in their own
sessions escape a process-group kill. So `cdp ui` makes itself a child subreaper (Linux): whatever it
started, however deep, stays its descendant even when a parent dies first. On SIGTERM, SIGINT (Ctrl-C) or
when `dagster dev` exits, it sends SIGTERM to every descendant, waits, then SIGKILLs what is left,
including the CRM sandbox it started (a sandbox an earlier `make run` left is not its own and keeps
running)."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from cdp.crm_sandbox import sandbox_pid_file, use_crm_sandbox_if_no_credentials
from cdp.instance import prepare_dagster_home
from cdp.raw_data import ensure_raw_data
from cdp.settings import Settings

PR_SET_CHILD_SUBREAPER = 36


class StopRequested(Exception):
    """Raised by the signal handler so the wait loop unwinds into the clean-up."""


def become_subreaper() -> bool:
    """Orphaned descendants are re-parented to this process instead of init (Linux only)."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0


def descendants(root: int) -> list[int]:
    """Every process below `root`, from one `ps` snapshot (parents before children)."""
    ps = subprocess.Popen(["ps", "-eo", "pid=,ppid="], stdout=subprocess.PIPE, text=True)
    out, _ = ps.communicate()
    children: dict[int, list[int]] = defaultdict(list)
    for line in out.split("\n"):
        parts = line.split()
        if len(parts) == 2 and int(parts[0]) != ps.pid:
            children[int(parts[1])].append(int(parts[0]))
    found: list[int] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.append(child)
                stack.append(child)
    return found


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def end_descendants(grace_s: float = 15.0) -> list[int]:
    """SIGTERM every descendant, wait up to grace_s, SIGKILL the rest. Returns the pids that needed SIGKILL."""
    me = os.getpid()
    _signal_all(descendants(me), signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        _reap()
        alive = [p for p in descendants(me) if not _is_zombie(p)]
        if not alive:
            return []
        _signal_all(alive, signal.SIGTERM)  # children started after the first round
        time.sleep(0.2)
    left = descendants(me)
    _signal_all(left, signal.SIGKILL)
    time.sleep(0.2)
    _reap()
    return left


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].startswith("Z")
    except (OSError, IndexError):
        return False


def serve_ui(settings: Settings, port: int, read_only: bool = False) -> int:
    ensure_raw_data(settings)
    home = prepare_dagster_home(settings)
    become_subreaper()

    def stop(signum, _frame):
        raise StopRequested(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    sandbox = None
    rc = 0
    try:
        sandbox = use_crm_sandbox_if_no_credentials(settings)
        if sandbox:
            print(f"syncs in the UI go to the local CRM sandbox at {sandbox.url}/", flush=True)
        env = dict(os.environ, DAGSTER_HOME=str(home))
        bin_dir = Path(sys.executable).parent
        if read_only:
            cmd = [str(bin_dir / "dagster-webserver"), "-m", "orchestration.definitions", "-h", "127.0.0.1",
                   "-p", str(port), "--read-only"]
        else:
            cmd = [str(bin_dir / "dagster"), "dev", "-m", "orchestration.definitions", "-h", "127.0.0.1",
                   "-p", str(port)]
        print(f"Dagster UI: http://127.0.0.1:{port}/ (no authentication; bound to loopback; instance {home})",
              flush=True)
        # its own session: Ctrl-C reaches this supervisor only, which then ends everything in order
        proc = subprocess.Popen(cmd, cwd=settings.project_dir, env=env, start_new_session=True)
        rc = proc.wait()
    except StopRequested as why:
        print(f"\n{why}: stopping the Dagster UI and every process it started", flush=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        killed = end_descendants()
        if killed:
            print(f"{len(killed)} process(es) did not stop on SIGTERM and were killed", flush=True)
        if sandbox is not None and sandbox.started_now:
            sandbox_pid_file(settings).unlink(missing_ok=True)
    return rc
