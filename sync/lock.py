"""One run per sync at a time, across processes (the CLI, Dagster, a second terminal): an exclusive
`flock` on a small file beside the warehouse. The kernel drops the lock when the process ends, even when
it is killed, so a crashed run never blocks the next one. The file names the run holding it, for the
message the second run prints."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from sync.errors import SyncLockedError


def lock_path(db_path: Path, sync_name: str) -> Path:
    db_path = Path(db_path)
    return db_path.with_name(f"{db_path.name}.sync-{sync_name}.lock")


class SyncLock:
    def __init__(self, path: Path, fd: int):
        self.path, self.fd = path, fd

    @classmethod
    def acquire(cls, db_path: Path, sync_name: str, run_id: str) -> SyncLock:
        path = lock_path(db_path, sync_name)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 300, 0).decode(errors="replace").strip() or "unknown run"
            os.close(fd)
            raise SyncLockedError(f"sync {sync_name} is already running ({holder}); wait for that run to end "
                                  f"or stop it, then try again") from None
        lock = cls(path, fd)
        lock.record(run_id)
        return lock

    def record(self, run_id: str) -> None:
        text = f"run {run_id[:8]}, pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}"
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, text.encode(), 0)

    def release(self) -> None:
        try:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)
