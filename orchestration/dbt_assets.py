"""dbt models as Dagster assets (dagster-dbt's Python API), dbt tests as asset checks. Nothing happens at
import: the dbt project is prepared (parsed when stale) the first time the definitions are built."""

import functools
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from cdp.first_erasure import build_graph_if_erasures_need_it
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
        return "raw_sources"

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


def table_facts(db_path: Path, tables: list[str]) -> dict[str, dict[str, Any]]:
    """Row count and column schema of each table, read from DuckDB after dbt released its write lock."""
    facts: dict[str, dict[str, Any]] = {}
    if not tables or not db_path.exists():
        return facts
    with duckdb.connect(str(db_path), read_only=True) as con:
        columns: dict[str, list[dg.TableColumn]] = {}
        for table, column, data_type in con.execute(
                "select table_name, column_name, data_type from information_schema.columns "
                "where table_schema = 'main' order by table_name, ordinal_position").fetchall():
            columns.setdefault(table, []).append(dg.TableColumn(name=column, type=data_type))
        for table in tables:
            if table not in columns:
                continue
            (rows,) = con.execute(f'select count(*) from main."{table}"').fetchone()
            facts[table] = {"dagster/row_count": int(rows),
                            "dagster/column_schema": dg.TableSchema(columns=columns[table])}
    return facts


def journey_facts(db_path: Path, tables: list[str]) -> dict[str, dict[str, Any]]:
    """Markdown tables on the journey assets, read after the build, one query per table: the stage
    distribution on customer_profiles, this build's transitions by from/to on journey_transitions, and the
    segment sizes against the previous build instant the history logs recorded on segment_memberships
    (README "Journeys"). The same queries `make run` prints through cdp.report.journey_summary."""
    from cdp.report import JOURNEY_STAGES_SQL, LATEST_TRANSITIONS_SQL, SEGMENT_CHANGE_SQL, markdown_table, signed

    wanted = {"customer_profiles", "journey_transitions", "segment_memberships"} & set(tables)
    facts: dict[str, dict[str, Any]] = {}
    if not wanted or not db_path.exists():
        return facts
    with duckdb.connect(str(db_path), read_only=True) as con:
        built = {name for (name,) in con.execute("select table_name from information_schema.tables "
                                                 "where table_schema = 'main'").fetchall()}
        if "customer_profiles" in wanted:
            stages = con.execute(JOURNEY_STAGES_SQL).fetchall()
            facts["customer_profiles"] = {"journey_stages": dg.MetadataValue.md(
                markdown_table(["journey_stage", "persons", "with_action"], stages))}
        if "journey_transitions" in wanted:
            moves = con.execute(LATEST_TRANSITIONS_SQL).fetchall()
            facts["journey_transitions"] = {
                "transitions_this_run": dg.MetadataValue.md(markdown_table(["from_stage", "to_stage", "persons"], moves)),
                "transitions_this_run_total": sum(int(n) for *_, n in moves)}
        # the size change reads the history logs downstream of segment_memberships: only once they exist
        history = {"customer_profiles", "journey_transitions", "segment_membership_events", "segment_membership_history"}
        if "segment_memberships" in wanted and history <= built:
            rows = con.execute(SEGMENT_CHANGE_SQL).fetchall()
            previous_as_of = rows[0][4] if rows else None
            facts["segment_memberships"] = {
                "segment_size_change": dg.MetadataValue.md(markdown_table(
                    ["segment_name", "previous", "now", "change"],
                    [(name, previous, now, signed(change)) for name, previous, now, change, _at in rows])),
                "segment_sizes_previous_as_of": str(previous_as_of) if previous_as_of is not None else "first build"}
    return facts


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


def __getattr__(name: str):
    """`SETTINGS` for modules written before the settings moved to cdp.settings (read lazily, cached)."""
    if name == "SETTINGS":
        return load_settings()
    raise AttributeError(name)
