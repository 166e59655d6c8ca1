"""Real dbt runs for the tests, on the DuckDB or the Spark target."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from cdp.dbt_args import dbt_command

PROJECT_DIR = Path(__file__).resolve().parents[1]


def dbt(raw_dir: Path, db_path: Path, verb: str = "build", *extra: str, check: bool = True, target: str = "duckdb",
        spark_dir: Path | None = None, **kwargs):
    """Run dbt on the duckdb target (the file db_path) or the spark target (warehouse under spark_dir).

    dbt parses the project again from scratch whenever the profile differs from the last parse's, and the
    DuckDB file's path is part of the profile: every test's new warehouse would cost a full parse. So dbt runs
    in the warehouse's folder and is given the file by name: warehouses of the same name share one profile, and
    dbt parses only what changed (its target/ and logs/ stay in the project folder)."""
    env = dict(os.environ)
    env.update(CDP_RAW_DIR=str(raw_dir), CDP_DUCKDB_PATH=db_path.name, DBT_PROFILES_DIR=str(PROJECT_DIR),
               CDP_TARGET=target, CDP_SPARK_DIR=str(spark_dir or db_path.parent / "spark"),
               SPARK_LOCAL_IP="127.0.0.1")
    cmd = [str(Path(sys.executable).with_name("dbt")),
           *dbt_command(verb, project_dir=str(PROJECT_DIR), target=target, **kwargs),
           *extra]
    db_path.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(cmd, cwd=db_path.parent, env=env, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"dbt {verb} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}")
    return proc
