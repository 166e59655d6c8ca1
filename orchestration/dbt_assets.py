"""dbt models as Dagster assets (dagster-dbt's Python API), dbt tests as asset checks. Nothing happens at
import: the dbt project is prepared (parsed when stale) the first time the definitions are built."""

import functools
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from cdp.settings import load_settings
from orchestration.resources import WarehouseResource, dbt_executable


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


LAYER_GROUPS = {"staging": "staging", "identity": "identity", "profiles": "profiles", "quality": "quality",
                "predictions": "predictions", "crm": "crm_models"}


def group_for(fqn: list[str]) -> str:
    """cdp/<layer>/<domain>/model -> the asset group operators see in the UI. The first match wins, so
    models/staging/crm/... is staging and models/marts/crm/... is crm_models."""
    for part in fqn[1:-1]:
        if part in LAYER_GROUPS:
            return LAYER_GROUPS[part]
    return "other"


class CdpTranslator(DagsterDbtTranslator):
    """One place for keys, groups and owners of dbt assets."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "staging"  # reference data the staging layer joins
        if dbt_resource_props["resource_type"] in ("model", "snapshot"):
            return group_for(dbt_resource_props["fqn"])
        return "raw_sources"

    def get_owners(self, dbt_resource_props: Mapping[str, Any]):
        return ["team:analytics-engineering"]


@functools.cache
def build_dbt_assets() -> dg.AssetsDefinition:
    @dbt_assets(manifest=dbt_project().manifest_path, dagster_dbt_translator=CdpTranslator(), pool="duckdb_writer")
    def cdp_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
        """Seeds, staging, identity, profiles and CRM models; dbt tests run as asset checks."""
        with warehouse.dbt_environment():
            invocation = dbt.cli(["build"], context=context)
        yield from invocation.stream()

    return cdp_dbt_assets


def __getattr__(name: str):
    """`SETTINGS` for modules written before the settings moved to cdp.settings (read lazily, cached)."""
    if name == "SETTINGS":
        return load_settings()
    raise AttributeError(name)
