"""Reading the warehouse's tables when the warehouse is Spark (CDP_TARGET=spark): the syncs read their models
and the governance suites their frames through a Spark session on the same metastore and warehouse that dbt
builds, configured from the same `profiles.yml` output (its `server_side_parameters`), so a cluster profile
(`spark.master`, `hive.metastore.uris`) is read the same way as local mode.

The session runs in a child process (`python -m sync.spark_child`) that ends with the read: an embedded
Derby metastore admits one JVM at a time, and a session kept open here would lock dbt's next build out. The
child collects each query's rows on the driver (`toLocalIterator`, in chunks) and writes them, typed from
Spark's schema, into a small DuckDB file; nothing is written through the executors, so no shared folder is
needed between driver and cluster.

For the syncs, `mirror_tables` copies the model and the few relations a sync consults (merges, consent,
privacy ledger) into the sync's local DuckDB file (CDP_DUCKDB_PATH, which holds its state and run log)
in one transaction before planning: the engine then plans from that copy exactly as on DuckDB, and its
state, journal and lock keep their exactly-once guarantees unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import duckdb
import jinja2
import pandas as pd
import yaml

PROJECT_DIR = Path(__file__).resolve().parents[1]
SCHEMA = "cdp"  # the schema of the spark outputs in profiles.yml
CHUNK_ROWS = 50_000
# the tables of `main` the mirror made (and may replace), in the sync's own schema
MIRROR_LEDGER = "cdp_sync.spark_mirror"
# relations besides the sync's model that the sync engine reads (sync/state.py, sync/privacy_ledger.py)
SYNC_RELATIONS = {
    "person_id_history": "select from_person_id, to_person_id, change_type, changed_at from person_id_history",
    "customer_profiles": "select person_id, email_consent from customer_profiles",
    "privacy_erased_identifiers": "select * from privacy_erased_identifiers",
    "privacy_suppressed_persons": "select * from privacy_suppressed_persons",
    "privacy_request_log": "select * from privacy_request_log",
}
# Spark type names (simpleString) to DuckDB's; anything else travels as text
TYPES = {"string": "varchar", "bigint": "bigint", "int": "integer", "smallint": "smallint", "tinyint": "tinyint",
         "double": "double", "float": "float", "boolean": "boolean", "timestamp": "timestamp",
         "timestamp_ntz": "timestamp", "date": "date"}


class SparkReadError(RuntimeError):
    """The Spark read failed (the message carries the child's last lines, which hold no row values)."""


def _outputs(env: Mapping[str, str], project_dir: Path = PROJECT_DIR) -> dict[str, dict]:
    """profiles.yml's outputs, rendered with `env` the way dbt renders env_var()."""
    def env_var(name: str, default: str | None = None) -> str:
        if name in env:
            return env[name]
        if default is None:
            raise SparkReadError(f"profiles.yml needs the environment variable {name}")
        return default

    text = (project_dir / "profiles.yml").read_text(encoding="utf-8")
    return yaml.safe_load(jinja2.Template(text).render(env_var=env_var))["cdp"]["outputs"]


def spark_target(env: Mapping[str, str] | None = None) -> bool:
    """Is the target (CDP_TARGET) a Spark warehouse (a profiles.yml output of type spark or databricks)?"""
    env = os.environ if env is None else env
    target = env.get("CDP_TARGET", "duckdb")
    return target != "duckdb" and (_outputs(env).get(target) or {}).get("type") in ("spark", "databricks")


def session_config(env: Mapping[str, str], output: str = "spark") -> dict[str, str]:
    """The Spark session's settings: the `server_side_parameters` of profiles.yml's output `output`."""
    spec = _outputs(env).get(output) or {}
    if spec.get("type") != "spark" or spec.get("method") != "session":
        raise SparkReadError(f"the Spark reader needs a profiles.yml output {output} of type spark, method: session")
    return {str(k): str(v) for k, v in (spec.get("server_side_parameters") or {}).items()}


class SparkWarehouse:
    """The Spark warehouse dbt builds, read through a short-lived Spark session in a child process."""

    def __init__(self, spark_dir: Path | str | None = None, env: Mapping[str, str] | None = None,
                 output: str | None = None, timeout_s: float = 1800):
        self.env = dict(os.environ if env is None else env)
        if spark_dir is not None:
            self.env["CDP_SPARK_DIR"] = str(spark_dir)
        self.env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        self.env["TZ"] = "UTC"  # pyspark hands timestamps to Python in the process's zone: keep them UTC
        # the profiles.yml output whose session settings the reader uses (CDP_SPARK_READER_OUTPUT, default spark)
        self.output = output or self.env.get("CDP_SPARK_READER_OUTPUT", "spark")
        self.timeout_s = timeout_s

    @contextmanager
    def read(self, queries: Mapping[str, str], optional: bool = False) -> Iterator[Path]:
        """The queries' results as tables (named as the queries) of a temporary DuckDB file, removed on exit.
        With `optional`, a query named after a table Spark does not have yields no table instead of an error."""
        with tempfile.TemporaryDirectory(prefix="cdp-spark-read-") as tmp:
            out = Path(tmp) / "read.duckdb"
            spec = {"queries": dict(queries), "optional": optional, "out": str(out), "schema": SCHEMA,
                    "config": session_config(self.env, self.output)}
            proc = subprocess.run([sys.executable, "-m", "sync.spark_child"], input=json.dumps(spec), text=True,
                                  capture_output=True, env=self.env, cwd=PROJECT_DIR, timeout=self.timeout_s)
            if proc.returncode != 0:
                tail = [line for line in proc.stderr.splitlines() if "Error" in line or "Exception" in line][-5:]
                raise SparkReadError("reading from Spark failed: " + (" | ".join(tail) or f"exit {proc.returncode}"))
            yield out

    def frames(self, queries: Mapping[str, str]) -> dict[str, pd.DataFrame]:
        """Each query's result as a pandas DataFrame, in one Spark session."""
        with self.read(queries) as path, duckdb.connect(str(path), read_only=True) as con:
            return {name: con.execute(f'select * from "{name}"').df() for name in queries}


def mirror_tables(queries: Mapping[str, str], connect) -> list[str]:
    """Copy the results of `queries` (those whose tables exist on Spark) into `main` of the sync's DuckDB file,
    in one transaction; a relation Spark no longer has is dropped from the copy. `connect` opens the file for
    writing (StateStore.connect, which waits while another process holds it). A table of that name the
    mirror did not make (a DuckDB warehouse in the same file) is never replaced: that is an error. Returns
    the tables copied."""
    with connect() as con:  # checked before Spark starts, and again where the copy is written
        _refuse_foreign(con, queries)
    with SparkWarehouse().read(queries, optional=True) as path, connect() as con:
        _refuse_foreign(con, queries)
        con.execute(f"attach '{path}' as spark_read (read_only)")
        try:
            found = [t for (t,) in con.execute("select table_name from information_schema.tables "
                                               "where table_catalog = 'spark_read'").fetchall()]
            con.execute("begin")
            for name in queries:
                con.execute(f'drop table if exists main."{name}"')
                if name in found:
                    con.execute(f'create table main."{name}" as select * from spark_read."{name}"')
                    con.execute(f"insert or replace into {MIRROR_LEDGER} values (?, current_timestamp)", [name])
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        finally:
            con.execute("detach spark_read")
    return found


def _refuse_foreign(con: duckdb.DuckDBPyConnection, queries: Mapping[str, str]) -> None:
    con.execute(f"create table if not exists {MIRROR_LEDGER} (table_name varchar primary key, copied_at timestamp)")
    ours = {t for (t,) in con.execute(f"select table_name from {MIRROR_LEDGER}").fetchall()}
    theirs = [t for (t,) in con.execute("select table_name from information_schema.tables where table_schema = "
                                        "'main' and table_catalog = current_database()").fetchall()
              if t in queries and t not in ours]
    if theirs:
        raise SparkReadError(f"{', '.join(sorted(theirs))} in the sync's DuckDB file were not copied from Spark "
                             f"(a DuckDB warehouse?): point CDP_DUCKDB_PATH at a file of its own for the Spark target")


def sync_queries(model: str) -> dict[str, str]:
    """What a sync of `model` reads: the whole model (the engine checks its columns) and SYNC_RELATIONS."""
    return {model: f"select * from `{model}`", **{k: v for k, v in SYNC_RELATIONS.items() if k != model}}
