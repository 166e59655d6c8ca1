"""Resources: the warehouse (paths a run reads and writes) and the dbt CLI, both built from the one
settings module when the definitions load, never at import."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource

from cdp.settings import Settings, load_settings


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file, the raw folder it is built from and the state folder beside it."""

    duckdb_path: str
    raw_dir: str
    state_dir: str
    target: str = "duckdb"
    spark_dir: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> WarehouseResource:
        return cls(duckdb_path=str(settings.duckdb_path), raw_dir=str(settings.raw_dir),
                   state_dir=str(settings.state_dir), target=settings.target, spark_dir=str(settings.spark_dir))

    @property
    def path(self) -> Path:
        return Path(self.duckdb_path)

    @property
    def state(self) -> Path:
        return Path(self.state_dir)

    @property
    def gx_docs_dir(self) -> Path:
        return self.state / "gx_docs"

    def dbt_variables(self) -> dict[str, str]:
        return {"CDP_DUCKDB_PATH": self.duckdb_path, "CDP_RAW_DIR": self.raw_dir, "CDP_STATE_DIR": self.state_dir,
                "CDP_TARGET": self.target, "CDP_SPARK_DIR": self.spark_dir or str(self.state / "spark"),
                "SPARK_LOCAL_IP": "127.0.0.1"}

    @contextlib.contextmanager
    def dbt_environment(self) -> Iterator[None]:
        """dagster-dbt starts dbt with this process's environment: the warehouse's variables are set only
        while the dbt process is started (the child keeps its copy), then the environment is restored."""
        saved = {k: os.environ.get(k) for k in self.dbt_variables()}
        os.environ.update(self.dbt_variables())
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def dbt_executable() -> str:
    return str(Path(sys.executable).with_name("dbt"))


def build_resources(settings: Settings | None = None) -> dict[str, dg.ConfigurableResource]:
    from orchestration.dbt_assets import dbt_project

    settings = settings or load_settings()
    return {
        "dbt": DbtCliResource(project_dir=dbt_project(), profiles_dir=str(settings.project_dir),
                              target=settings.target, dbt_executable=dbt_executable()),
        "warehouse": WarehouseResource.from_settings(settings),
    }
