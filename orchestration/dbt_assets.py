"""dbt models as Dagster assets (dagster-dbt's Python API), dbt tests as asset checks."""


import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from orchestration.settings import load_settings

SETTINGS = load_settings()
# dbt runs inside this process's environment: absolute paths for the warehouse and the raw folder
os.environ.update({k: v for k, v in SETTINGS.dbt_env.items() if k.startswith(("CDP_", "DBT_"))})

DBT_PROJECT = DbtProject(project_dir=SETTINGS.project_dir, profiles_dir=SETTINGS.project_dir,
                         target=SETTINGS.target)


def manifest_is_stale(manifest: Path, project_dir: Path) -> bool:
    """True when the manifest is missing or older than any file dbt parses."""
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [project_dir / "dbt_project.yml", project_dir / "profiles.yml"]
    for folder in ("models", "macros", "seeds", "data-tests"):
        sources += [p for p in (project_dir / folder).rglob("*") if p.is_file()]
    return any(p.stat().st_mtime > built for p in sources if p.exists())


def ensure_manifest(project: DbtProject) -> Path:
    """dbt parse writes target/manifest.json; the asset graph is read from it, so it is re-parsed
    whenever a model, macro, seed or the project file changed since."""
    if manifest_is_stale(project.manifest_path, Path(project.project_dir)):
        dbt = str(Path(sys.executable).with_name("dbt"))
        subprocess.run([dbt, "parse", "--project-dir", str(project.project_dir), "--profiles-dir",
                        str(project.project_dir), "--target", SETTINGS.target, "--quiet"],
                       check=True, env=SETTINGS.dbt_env, cwd=project.project_dir)
    return project.manifest_path


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


@dbt_assets(manifest=ensure_manifest(DBT_PROJECT), dagster_dbt_translator=CdpTranslator(), pool="duckdb_writer")
def cdp_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """Seeds, staging, identity, profiles and CRM models; dbt tests run as asset checks."""
    yield from dbt.cli(["build"], context=context).stream()


dbt_resource = DbtCliResource(project_dir=DBT_PROJECT, profiles_dir=str(SETTINGS.project_dir),
                              target=SETTINGS.target, dbt_executable=str(Path(sys.executable).with_name("dbt")))
