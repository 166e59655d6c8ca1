"""Resources: the warehouse (paths a run reads and writes), the dbt project and the dbt CLI, all built from
the one settings module when the definitions load, never at import. The dbt project lives here, beside the
CLI resource that runs it, so the asset modules import it from one place and nothing imports them back."""

from __future__ import annotations

import contextlib
import functools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject

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


def manifest_is_stale(manifest: Path, project_dir: Path) -> bool:
    """True when the manifest is missing or older than any file dbt parses."""
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [project_dir / "dbt_project.yml", project_dir / "profiles.yml", project_dir / "selectors.yml"]
    for folder in ("models", "macros", "seeds", "data-tests"):
        sources += [p for p in (project_dir / folder).rglob("*") if p.is_file()]
    return any(p.stat().st_mtime > built for p in sources if p.exists())


@functools.cache
def dbt_project() -> DbtProject:
    """The dbt project with a current manifest: `dbt parse` runs when a model, macro, seed or the project
    file changed since the last parse (the asset graph is read from target/manifest.json)."""
    settings = load_settings()
    project = DbtProject(project_dir=settings.project_dir, profiles_dir=settings.project_dir, target=settings.target)
    if manifest_is_stale(project.manifest_path, Path(project.project_dir)):
        subprocess.run([dbt_executable(), "parse", "--project-dir", str(project.project_dir), "--profiles-dir",
                        str(project.project_dir), "--target", settings.target, "--quiet"],
                       check=True, env=settings.dbt_env, cwd=project.project_dir)
    return project


def build_resources(settings: Settings | None = None) -> dict[str, dg.ConfigurableResource]:
    settings = settings or load_settings()
    return {
        "dbt": DbtCliResource(project_dir=dbt_project(), profiles_dir=str(settings.project_dir),
                              target=settings.target, dbt_executable=dbt_executable()),
        "warehouse": WarehouseResource.from_settings(settings),
    }
