"""Where things live: the one settings module every entry point reads (`cdp`, the Dagster code location,
tests). Every path can be overridden by an environment variable; defaults stay inside the project, in
git-ignored folders, so a fresh checkout runs with no server and no set-up. Reading the environment is
cached and changes nothing in it."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(os.environ.get("CDP_PROJECT_DIR", Path(__file__).resolve().parents[1]))
SAMPLE_PERSONS = 5_000
SAMPLE_SEED = 42


@dataclass(frozen=True)
class Settings:
    project_dir: Path
    state_dir: Path
    duckdb_path: Path
    raw_dir: Path
    raw_dir_is_default: bool
    target: str
    spark_dir: Path

    @property
    def dagster_home(self) -> Path:
        """The project's Dagster instance: `cdp run` records its runs here and `cdp ui` shows them."""
        return self.state_dir / "dagster"

    @property
    def gx_docs_dir(self) -> Path:
        """Great Expectations Data Docs (HTML), one page per suite, linked from each governance check."""
        return self.state_dir / "gx_docs"

    @property
    def dbt_env(self) -> dict[str, str]:
        """Environment for a dbt process: absolute paths, so dbt's working directory does not matter."""
        env = dict(os.environ)
        env.update(self.dbt_variables)
        return env

    @property
    def dbt_variables(self) -> dict[str, str]:
        """The variables profiles.yml and the project read, with this configuration's absolute paths."""
        return {
            "DBT_PROFILES_DIR": str(self.project_dir),
            "CDP_DUCKDB_PATH": str(self.duckdb_path),
            "CDP_RAW_DIR": str(self.raw_dir),
            "CDP_STATE_DIR": str(self.state_dir),
            "CDP_TARGET": self.target,
            "CDP_SPARK_DIR": str(self.spark_dir),
            "SPARK_LOCAL_IP": "127.0.0.1",  # Spark's driver binds to loopback only
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        }


@functools.cache
def load_settings(target: str | None = None) -> Settings:
    """Read once per process (and per explicit target); `load_settings.cache_clear()` re-reads."""
    state_dir = Path(os.environ.get("CDP_STATE_DIR", PROJECT_DIR / ".cdp")).resolve()
    raw_env = os.environ.get("CDP_RAW_DIR")
    raw_dir = Path(raw_env).resolve() if raw_env else PROJECT_DIR / "sample_data"
    duckdb_path = Path(os.environ.get("CDP_DUCKDB_PATH", state_dir / "warehouse.duckdb")).resolve()
    return Settings(
        project_dir=PROJECT_DIR,
        state_dir=state_dir,
        duckdb_path=duckdb_path,
        raw_dir=raw_dir,
        raw_dir_is_default=raw_env is None,
        target=target or os.environ.get("CDP_TARGET", "duckdb"),
        spark_dir=Path(os.environ.get("CDP_SPARK_DIR", state_dir / "spark")).resolve(),
    )
