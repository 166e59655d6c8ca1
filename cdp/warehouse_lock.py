"""DuckDB lets one process write a file: a `cdp build` started while another process (a running build, the
UI's sync, a notebook) holds the warehouse would end in dbt's IOException traceback. So the command waits
for the file, saying so once, for at most CDP_WAREHOUSE_WAIT_S seconds (default 300: a large build's
length), and otherwise stops with one line naming the process that holds it."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

HOLDER = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")


def holder(exc: Exception) -> str:
    """`program (PID n)` from DuckDB's lock error, or a plain phrase."""
    match = HOLDER.search(str(exc))
    return f"{Path(match.group(1)).name} (PID {match.group(2)})" if match else "another process"


def wait_for_warehouse(db_path: Path, log: Callable[[str], None], wait_s: float | None = None) -> str | None:
    """None once the file can be opened for writing (or does not exist yet); else the one-line error."""
    if not db_path.exists():
        return None
    wait_s = float(os.environ.get("CDP_WAREHOUSE_WAIT_S", 300)) if wait_s is None else wait_s
    deadline = time.monotonic() + wait_s
    said = False
    while True:
        try:
            duckdb.connect(str(db_path)).close()
            return None
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                return f"error: cannot open the warehouse {db_path}: {str(exc).splitlines()[0]}"
            if time.monotonic() >= deadline:
                return (f"error: the warehouse {db_path} is in use by {holder(exc)}; waited {wait_s:.0f} s "
                        "(CDP_WAREHOUSE_WAIT_S); try again when it has finished")
            if not said:
                log(f"waiting for the warehouse {db_path}: in use by {holder(exc)} "
                    f"(at most {wait_s:.0f} s, CDP_WAREHOUSE_WAIT_S)")
                said = True
            time.sleep(1.0)
