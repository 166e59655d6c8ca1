"""dbt models as Dagster assets (dagster-dbt's Python API), dbt tests as asset checks, and the raw sources
as external assets of their own group, where the lineage view starts. Nothing happens at import: the dbt
project (orchestration.resources) is prepared, parsed when stale, the first time the definitions are built."""

import functools
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from cdp.first_erasure import build_graph_if_erasures_need_it
from cdp.settings import load_settings
from orchestration.dbt_facts import journey_facts, table_facts
from orchestration.identity_facts import identity_match_facts, thresholds_from_manifest
from orchestration.resources import WarehouseResource, dbt_executable, dbt_project

RAW_SOURCES_GROUP = "raw_sources"

LAYER_GROUPS = {"staging": "staging", "identity": "identity", "profiles": "profiles", "quality": "quality",
                "predictions": "predictions", "crm": "crm_models", "privacy": "privacy"}


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
        return RAW_SOURCES_GROUP

    def get_owners(self, dbt_resource_props: Mapping[str, Any]):
        return ["team:analytics-engineering"]

    def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None) -> dg.AssetSpec:
        """dagster-dbt's spec plus a link to the node's page in the dbt docs site (`make docs`)."""
        spec = super().get_asset_spec(manifest, unique_id, project)
        kind = unique_id.split(".")[0]
        if kind not in ("model", "seed", "snapshot", "source"):
            return spec
        docs = load_settings().project_dir / "target" / "index.html"
        return spec.merge_attributes(metadata={"dbt_docs": dg.MetadataValue.url(f"{docs.as_uri()}#!/{kind}/{unique_id}")})


# Staging runs as its own step so that the GX staging checks on the base_ models (blocking) gate everything
# downstream: identity, profiles, CRM models and syncs do not run on a bad batch.
STAGING_SELECT = "path:models/staging resource_type:seed"
STAGING_STEP = "cdp_dbt_staging"


def _dbt_step(name: str, select: str, exclude: str | None, description: str) -> dg.AssetsDefinition:
    @dbt_assets(manifest=dbt_project().manifest_path, dagster_dbt_translator=CdpTranslator(), pool="duckdb_writer",
                name=name, select=select, exclude=exclude)
    def _assets(context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource):
        # DuckDB has one writer, and dbt holds the file while it builds: the events are kept until dbt ends,
        # then each model's output gets its row count and column schema, read from the file.
        if name == STAGING_STEP:
            rc = build_graph_if_erasures_need_it(
                db_path=warehouse.path, raw_dir=Path(warehouse.raw_dir), target=warehouse.target,
                dbt_executable=dbt_executable(), project_dir=dbt_project().project_dir,
                env={**os.environ, **warehouse.dbt_variables()},
                log=context.log.info)
            if rc != 0:
                raise dg.Failure(f"building the identity graph before the first erasure failed (dbt exit code {rc})")
        with warehouse.dbt_environment():
            invocation = dbt.cli(["build"], context=context)
        if warehouse.target != "duckdb":
            yield from invocation.stream()
            return
        events = list(invocation.stream())
        outputs = [e for e in events if isinstance(e, dg.Output)]
        names = {e.output_name: context.asset_key_for_output(e.output_name).path[-1] for e in outputs}
        facts = table_facts(warehouse.path, sorted(set(names.values())))
        for table, extra in journey_facts(warehouse.path, sorted(set(names.values()))).items():
            facts.setdefault(table, {}).update(extra)
        thresholds = thresholds_from_manifest(dbt_project().manifest_path)
        for table, extra in identity_match_facts(warehouse.path, sorted(set(names.values())), thresholds).items():
            facts.setdefault(table, {}).update(extra)
        for event in events:
            if isinstance(event, dg.Output) and names.get(event.output_name) in facts:
                event = event.with_metadata({**event.metadata, **facts[names[event.output_name]]})
            yield event

    _assets.__doc__ = description
    return _assets


@functools.cache
def build_dbt_assets() -> list[dg.AssetsDefinition]:
    """Two dbt steps: staging (seeds, base_ and stg_ models and their tests), then everything else."""
    return [
        _dbt_step(STAGING_STEP, STAGING_SELECT, None, "Seeds and staging models; their dbt tests as checks."),
        _dbt_step("cdp_dbt_assets", "fqn:*", STAGING_SELECT,
                  "Identity, profiles, quality and CRM models; dbt tests run as asset checks."),
    ]


@functools.cache
def raw_source_assets() -> list[dg.AssetSpec]:
    """Every dbt source (a raw file, landing folder or warehouse relation of the source registry) as an
    external asset in group raw_sources, so the lineage view shows where the staging models read from.
    Dagster does not materialise them: the dbt build registers them (register_raw_sources)."""
    manifest = json.loads(Path(dbt_project().manifest_path).read_text(encoding="utf-8"))
    translator = CdpTranslator()
    return [translator.get_asset_spec(manifest, unique_id, dbt_project())
            for unique_id in sorted(manifest["sources"])]
