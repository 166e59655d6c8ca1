"""dbt conventions a dbt user expects, read from the parsed project: an exposure per sync (checked against
sync/syncs.yml), groups with owners, private intermediates and public marts, an enforced contract on
customer_profiles, every column described (shared descriptions as doc blocks), PII tagged, selectors,
and source freshness from the raw files' modification time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cdp.dbt_args import dbt_command
from cdp.registry import load_registry
from datagen.sample_data import generate
from sync.config import load_syncs
from tests.conftest import PROJECT_DIR

PII_COLUMNS = {"email", "phone", "first_name", "last_name", "requester_email", "requester_phone", "requester_name",
               "_raw_row", "raw_row", "identifier_value", "anonymous_id"}


def run_dbt(tmp: Path, verb: str, *extra: str, raw_dir: Path | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, CDP_RAW_DIR=str(raw_dir or tmp / "raw"), CDP_DUCKDB_PATH=str(tmp / "w.duckdb"),
               DBT_PROFILES_DIR=str(PROJECT_DIR), CDP_TARGET="duckdb")
    *words, last = verb.split()  # "source freshness": the options follow the subcommand
    cmd = [str(Path(sys.executable).with_name("dbt")), *words, *dbt_command(last, project_dir=str(PROJECT_DIR)),
           "--target-path", str(tmp / "target"), *extra]
    return subprocess.run(cmd, cwd=PROJECT_DIR, env=env, capture_output=True, text=True)


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("parse")
    proc = run_dbt(tmp, "parse")
    assert proc.returncode == 0, proc.stdout[-3000:]
    return json.loads((tmp / "target" / "manifest.json").read_text())


def project_models(manifest: dict) -> dict[str, dict]:
    return {n["name"]: n for n in manifest["nodes"].values()
            if n["resource_type"] == "model" and n["package_name"] == "cdp" and n["fqn"][1] != "bench"}


def test_every_sync_has_an_exposure_on_its_model(tmp_path: Path, manifest: dict):
    syncs = load_syncs()
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert set(exposures) == set(syncs)
    for name, cfg in syncs.items():
        assert exposures[name]["depends_on"]["nodes"] == [f"model.cdp.{cfg.model}"], name
        assert exposures[name]["owner"]["email"] and exposures[name]["meta"]["destination"] == cfg.destination
    listed = run_dbt(tmp_path, "ls", "--resource-type", "exposure", "--output", "name", "--quiet")
    assert set(listed.stdout.split()) == set(syncs), listed.stdout


def test_groups_owners_and_access(manifest: dict):
    groups = {g["name"]: g for g in manifest["groups"].values()}
    assert set(groups) == {"staging", "identity", "profiles", "crm", "quality", "privacy"}
    assert all(g["owner"].get("email") and g["owner"].get("name") for g in groups.values())
    for name, node in project_models(manifest).items():
        layer = node["fqn"][1]
        assert node["group"] in groups, name
        expected = {"intermediate": "private", "marts": "public", "staging": "protected"}[layer]
        if layer == "intermediate" and node["access"] == "protected":
            # an intermediate is opened to the project only for a model of another group that reads it
            readers = [n for n in project_models(manifest).values() if node["unique_id"] in n["depends_on"]["nodes"]]
            assert any(r["group"] != node["group"] for r in readers), f"{name} is protected but no other group reads it"
            continue
        assert node["access"] == expected, name


def test_customer_profiles_has_an_enforced_contract_with_every_column_typed(manifest: dict):
    node = project_models(manifest)["customer_profiles"]
    assert node["config"]["contract"]["enforced"] is True
    assert node["columns"] and all(c.get("data_type") for c in node["columns"].values())


def test_every_model_column_is_described_and_shared_descriptions_are_doc_blocks(manifest: dict):
    models = project_models(manifest)
    undocumented = [f"{m}.{c}" for m, n in models.items() for c, col in n["columns"].items()
                    if not col.get("description", "").strip()]
    assert undocumented == []
    for name in models:
        if name.startswith("base_"):
            assert len(models[name]["columns"]) > 5, f"{name} documents its columns"
    # no description text is pasted twice in the YAML: repeated meanings live in one doc block
    import glob

    import yaml

    seen: dict[str, str] = {}
    for path in glob.glob(str(PROJECT_DIR / "models" / "**" / "_*.yml"), recursive=True):
        for model in (yaml.safe_load(Path(path).read_text()) or {}).get("models", []) or []:
            for col in model.get("columns", []) or []:
                text = (col.get("description") or "").strip()
                if text and "doc(" not in text and not text.startswith("The raw `"):
                    assert text not in seen, f"{model['name']}.{col['name']} repeats {seen.get(text)}: use a doc block"
                    seen[text] = f"{model['name']}.{col['name']}"


def test_pii_columns_are_tagged(manifest: dict):
    missing = [f"{m}.{c}" for m, n in project_models(manifest).items() for c, col in n["columns"].items()
               if c in PII_COLUMNS and not col.get("meta", {}).get("pii")]
    assert missing == []
    for source in manifest["sources"].values():
        for c, col in source["columns"].items():
            if c in PII_COLUMNS:
                assert col.get("meta", {}).get("pii") is True, f"{source['name']}.{c}"


def test_selectors_select_what_they_say(tmp_path: Path):
    def selected(selector: str) -> set[str]:
        proc = run_dbt(tmp_path, "ls", "--selector", selector, "--resource-type", "model", "--output", "name", "--quiet")
        assert proc.returncode == 0, proc.stdout[-2000:]
        return set(proc.stdout.split())

    crm = selected("crm_syncs")
    assert {cfg.model for cfg in load_syncs().values()} | {"customer_profiles", "stg_crm__contacts"} <= crm
    assert "quarantine" not in crm
    assert selected("identity") >= {"int_identifiers_observed", "person_records", "identity_graph"}
    # the erasure ledger sits in staging: the staging step builds it before the base_ models it filters
    assert all(m.startswith(("base_", "stg_")) for m in selected("staging") - {"privacy_erased_identifiers"})


def test_source_freshness_reads_the_raw_files_modification_time(tmp_path: Path):
    raw = tmp_path / "raw"
    generate(100, 4, raw)
    fresh = run_dbt(tmp_path, "source freshness")
    assert fresh.returncode == 0, fresh.stdout[-3000:]
    ten_days_ago = time.time() - 10 * 86400
    os.utime(raw / "web_events.csv", (ten_days_ago, ten_days_ago))
    stale = run_dbt(tmp_path, "source freshness")
    assert stale.returncode != 0
    results = {r["unique_id"].split(".")[-1]: r["status"]
               for r in json.loads((tmp_path / "target" / "sources.json").read_text())["results"]}
    assert results["web_events"] == "error" and results["crm_contacts"] == "pass", results


def test_raw_sources_are_an_asset_group_upstream_of_their_base_models_in_dagster():
    """The lineage view starts at the raw sources: each registry source is an external asset in group
    raw_sources, and its base_ model reads it."""
    code = ("from orchestration.definitions import defs\n"
            "g = defs().resolve_asset_graph()\n"
            "for k in sorted(g.get_all_asset_keys(), key=lambda k: k.to_user_string()):\n"
            "    n = g.get(k)\n"
            "    if n.group_name == 'raw_sources' or k.path[-1].startswith('base_'):\n"
            "        print(k.to_user_string(), n.group_name, n.is_materializable,"
            " ','.join(sorted(p.to_user_string() for p in n.parent_keys)))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines()}
    for name, source in load_registry().items():
        assert rows[f"{source.source}/{name}"][:2] == ["raw_sources", "False"], name
        assert f"{source.source}/{name}" in rows[source.base][2].split(","), source.base
    # besides the registry's sources: reviewers' identity decisions, and what registration recorded of the raw
    # files (rejected lines, deliveries read), which quarantine and source_row_counts read
    others = ["identity/identity_decisions", "raw_files/raw_deliveries", "raw_files/raw_rejects"]
    assert sorted(k for k, v in rows.items() if v[0] == "raw_sources") == sorted(
        [f"{s.source}/{name}" for name, s in load_registry().items()] + others)
