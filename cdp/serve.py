"""`cdp serve`: the pipeline as a service. It polls CDP_RAW_DIR (every 2 s by default, at most 5 s) and, when
the files a build reads change (a new delivery in a landing folder, a changed top-level source file), runs the
pipeline as `cdp run` does (the dbt build, the governance checks, the syncs), one run at a time.

Nothing is lost and nothing is applied twice:
- the state of the folder (each file's name, size and modification time) is taken before a run starts and,
  once the run succeeded, saved in the state folder (`serve_state.json`); a delivery that lands during a run
  makes the folder differ from that state, so the next run takes it, and a service restarted after a stop or
  a crash runs again from the last state a run completed for;
- the dbt registration's ledger `raw.raw_deliveries` reads each delivery once (a repeat under another name,
  or the same file delivered again, adds nothing), so running again is always safe.

SIGTERM and SIGINT stop the service after the run in progress: no new run starts, the run's dbt build and
syncs are waited for, then the service exits 0. A dbt build is never killed half-way: each model is its own
transaction but a build is not, and a build cut between the identity models leaves scope state that needs a
full refresh (docs/incremental.md). The run is a child process in its own session, so a terminal's Ctrl-C
reaches the service only."""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from cdp.landing import RawFolderError, source_files
from cdp.registry import RawSource, load_registry
from cdp.settings import Settings, load_settings
from cdp.warehouse_lock import holder

IDENTITY_DECISIONS = "identity_decisions.csv"  # read by the registration too, beside the registry's sources
MAX_POLL_S = 5.0
RUN_RESULT = re.compile(r"^run (\S+) (succeeded|FAILED)", re.MULTILINE)

Entries = dict[str, tuple[int, int]]


def raw_entries(raw_dir: Path, registry: Mapping[str, RawSource] | None = None) -> Entries:
    """Every file a build reads from raw_dir (cdp.landing's forms: a file, or a landing folder's deliveries),
    by name relative to raw_dir: (size, modification time in ns). RawFolderError when a source has no form
    or two."""
    paths: list[Path] = []
    for source in (registry or load_registry()).values():
        paths.extend(source_files(raw_dir, source).files)
    if (raw_dir / IDENTITY_DECISIONS).is_file():
        paths.append(raw_dir / IDENTITY_DECISIONS)
    entries: Entries = {}
    for path in paths:
        try:
            stat = path.stat()
        except FileNotFoundError:  # gone between listing and reading: the next poll sees the folder as it is
            continue
        entries[path.relative_to(raw_dir).as_posix()] = (stat.st_size, stat.st_mtime_ns)
    return entries


def signature(entries: Entries) -> str:
    """One value for the folder's state, the same in every process (a run key, a sensor cursor)."""
    return hashlib.sha256(json.dumps(sorted(entries.items())).encode()).hexdigest()


def arrived(before: Entries | None, now: Entries) -> list[str]:
    """Files that are new or changed since `before` (every file when there is no earlier state)."""
    return sorted(name for name, stat in now.items() if before is None or before.get(name) != stat)


def describe(names: list[str], shown: int = 3) -> str:
    if not names:
        return "no new files (a file was removed or the last run failed)"
    more = f", +{len(names) - shown} more" if len(names) > shown else ""
    return f"{len(names)} file(s) arrived ({', '.join(names[:shown])}{more})"


def unread_files(db_path: Path, entries: Entries) -> list[str] | None:
    """Files the warehouse's ledger has not read as they are now (name, size, modification second); None when
    the ledger cannot be read (no warehouse yet, or a build holds it)."""
    try:
        with duckdb.connect(str(db_path), read_only=True) as con:
            ledger = {(name, size, int(at.replace(tzinfo=UTC).timestamp())) for name, size, at in con.execute(
                "select file_name, file_size, modified_at from raw.raw_deliveries").fetchall()}
    except duckdb.Error:
        return None
    return sorted(name for name, (size, mtime_ns) in entries.items()
                  if (name, size, mtime_ns // 1_000_000_000) not in ledger)


def warehouse_in_use(db_path: Path) -> str | None:
    """Who holds the DuckDB file (one writer at a time), or None when a run can open it."""
    if not db_path.exists():
        return None
    try:
        duckdb.connect(str(db_path)).close()
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            return f"the warehouse cannot be opened: {str(exc).splitlines()[0]}"
        return f"the warehouse is in use by {holder(exc)}"
    return None


class ServeState:
    """The folder's state the last successful run started from, kept across restarts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: Entries | None = None
        if path.exists():
            saved = json.loads(path.read_text(encoding="utf-8"))
            self.entries = {name: (size, mtime) for name, (size, mtime) in saved["entries"].items()}

    @property
    def signature(self) -> str | None:
        return None if self.entries is None else signature(self.entries)

    def save(self, entries: Entries) -> None:
        """Written whole or not at all (a new file renamed over the old one)."""
        partial = self.path.with_suffix(".partial")
        partial.write_text(json.dumps({"saved_at": datetime.now(UTC).isoformat(), "entries": entries}), encoding="utf-8")
        os.replace(partial, self.path)
        self.entries = dict(entries)


class Service:
    def __init__(self, settings: Settings, poll_s: float = 2.0, retry_s: float = 60.0,
                 log: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self.poll_s = poll_s
        self.retry_s = retry_s
        self.log = log or (lambda line: print(f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ} {line}", flush=True))
        self.registry = load_registry(settings.project_dir)
        self.state = ServeState(settings.state_dir / "serve_state.json")
        self.child_pid_file = settings.state_dir / "serve_run.pid"
        self.stop = threading.Event()
        self.runs = 0

    def request_stop(self, signum: int, _frame) -> None:
        """Signal handler: only a flag (the main loop says what happens; printing here could re-enter)."""
        self.stop.set()

    def run_forever(self) -> int:
        self.log(f"serving {self.settings.raw_dir}: polling every {self.poll_s:g} s; warehouse "
                 f"{self.settings.duckdb_path}; SIGTERM or Ctrl-C stops after the run in progress")
        failed: tuple[str, float] | None = None  # the signature of a failed run, and when it ended
        said = waited = ""  # what the service last said it waits for, said once
        while not self.stop.is_set():
            try:
                entries = raw_entries(self.settings.raw_dir, self.registry)
            except RawFolderError as exc:
                if str(exc) != said:
                    said = str(exc)
                    self.log(f"waiting: {said}")
                self.stop.wait(self.poll_s)
                continue
            said = ""
            current = signature(entries)
            retry_later = failed and failed[0] == current and time.monotonic() - failed[1] < self.retry_s
            if current == self.state.signature or retry_later:
                self.stop.wait(self.poll_s)
                continue
            busy = self.left_running() or warehouse_in_use(self.settings.duckdb_path)
            if busy:  # looked at again each poll, so that a stop is never held up by the wait
                if busy != waited:
                    waited = busy
                    self.log(f"waiting: {busy}")
                self.stop.wait(self.poll_s)
                continue
            waited = ""
            rc = self.run(entries)
            if rc == 0:
                self.state.save(entries)
                failed = None
            else:
                failed = (current, time.monotonic())
        self.log(f"stopped after {self.runs} run(s)")
        return 0

    def left_running(self) -> str | None:
        """The run a killed service left going on its own (its pid file names it while it lives)."""
        if not self.child_pid_file.exists():
            return None
        pid = int(self.child_pid_file.read_text().split()[0])
        try:
            alive = "cdp.cli" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            alive = False
        if not alive:
            self.child_pid_file.unlink(missing_ok=True)
            return None
        return f"the run (PID {pid}) a stopped service left going has not ended"

    def run(self, entries: Entries) -> int:
        """One pipeline run (`cdp run` in a child process) and its one log line."""
        self.runs += 1
        what = describe(arrived(self.state.entries, entries))
        log_dir = self.settings.state_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"serve-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-run{self.runs}.log"
        started = time.monotonic()
        with log_path.open("w", encoding="utf-8") as out:
            child = subprocess.Popen([sys.executable, "-m", "cdp.cli", "run"], cwd=self.settings.project_dir,
                                     stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})
            self.child_pid_file.write_text(f"{child.pid}\n")
            rc = self._wait(child)
            self.child_pid_file.unlink(missing_ok=True)
        outcome = RUN_RESULT.findall(log_path.read_text(encoding="utf-8", errors="replace"))
        dagster = f" (Dagster run {outcome[-1][0]})" if outcome else ""
        result = "succeeded" if rc == 0 else f"FAILED (exit {rc}; retried when files change or in {self.retry_s:g} s)"
        self.log(f"run {self.runs}: {what}; {time.monotonic() - started:.1f} s; {result}{dagster}; output {log_path}")
        return rc

    def _wait(self, child: subprocess.Popen) -> int:
        said = False
        while True:
            try:
                return child.wait(timeout=0.5)
            except subprocess.TimeoutExpired:
                if self.stop.is_set() and not said:
                    said = True
                    self.log(f"stop requested: run {self.runs} finishes first (a dbt build is never cut half-way), "
                             "then the service exits")


def hold_serve_lock(state_dir: Path):
    """One service per state folder: the lock is the kernel's, released when the process ends however it ends."""
    state_dir.mkdir(parents=True, exist_ok=True)
    handle = (state_dir / "serve.lock").open("w")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def cmd_serve(ns: argparse.Namespace) -> int:
    settings = load_settings()
    lock = hold_serve_lock(settings.state_dir)
    if lock is None:
        print(f"error: another cdp serve is running on {settings.state_dir}", file=sys.stderr)
        return 1
    service = Service(settings, poll_s=ns.poll, retry_s=ns.retry_after)
    signal.signal(signal.SIGTERM, service.request_stop)
    signal.signal(signal.SIGINT, service.request_stop)
    with lock:
        return service.run_forever()


def poll_seconds(text: str) -> float:
    value = float(text)
    if not 0 < value <= MAX_POLL_S:
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_POLL_S:g} seconds")
    return value


def add_serve_parser(sub) -> None:
    s = sub.add_parser("serve", help="run the pipeline whenever deliveries land in CDP_RAW_DIR, one run at a time")
    s.add_argument("--poll", type=poll_seconds, default=2.0,
                   help="seconds between looks at the raw folder (default %(default)s, at most 5)")
    s.add_argument("--retry-after", type=float, default=60.0,
                   help="seconds before a failed run is retried when no new file arrived (default %(default)s)")
    s.set_defaults(func=cmd_serve)
