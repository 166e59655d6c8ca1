"""Project conventions that a clone depends on: the raw-file contract lives in the repository, the sources
YAML documents every column of it, and nothing points outside the project."""

from __future__ import annotations

import re
import sys
import subprocess
from pathlib import Path

import yaml

from datagen.sample_data import RAW_FILES

PROJECT_DIR = Path(__file__).resolve().parents[1]


def project_files() -> list[Path]:
    """Tracked and new (not ignored) files: what a clone of this branch would hold."""
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=PROJECT_DIR,
                         capture_output=True, text=True, check=True).stdout
    return [PROJECT_DIR / line for line in out.splitlines() if (PROJECT_DIR / line).is_file()]


def contract_columns() -> dict[str, list[str]]:
    """file stem -> columns, read from the contract table in docs/raw_sources.md."""
    text = (PROJECT_DIR / "docs" / "raw_sources.md").read_text(encoding="utf-8")
    files = {}
    for m in re.finditer(r"^\| `(\w+)\.csv`(?: \(optional\))? \| ([^|]+) \|", text, flags=re.M):
        files[m.group(1)] = [c.strip() for c in m.group(2).split(",")]
    return files


def source_tables() -> dict[str, list[dict]]:
    """dbt source table name -> its documented columns, from every models/**/_*__sources.yml."""
    tables = {}
    for path in sorted((PROJECT_DIR / "models").rglob("_*__sources.yml")):
        for source in yaml.safe_load(path.read_text(encoding="utf-8"))["sources"]:
            for table in source["tables"]:
                tables[table["name"]] = table.get("columns", [])
    return tables


def test_nothing_in_the_repository_refers_to_a_path_outside_it():
    outside = "shared" + "/"  # spelled in two parts so that this file does not match itself
    offenders = []
    for path in project_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        offenders += [f"{path.relative_to(PROJECT_DIR)}:{n}" for n, line in enumerate(text.splitlines(), 1)
                      if outside in line]
    assert offenders == []


def test_the_contract_copy_lists_every_generated_file_and_the_optional_privacy_requests():
    contract = contract_columns()
    assert {k: v for k, v in contract.items() if k != "privacy_requests"} == RAW_FILES
    assert contract["privacy_requests"] == ["request_id", "request_type", "email", "phone", "received_at"]


def test_sources_yaml_documents_every_contract_column():
    contract = contract_columns()
    tables = source_tables()
    assert set(tables) == set(RAW_FILES) | {"privacy_requests", "identity_decisions"}  # optional files: not generated
    for name, columns in tables.items():
        assert [c["name"] for c in columns] == contract[name], name
        assert all(c.get("description", "").strip() for c in columns), name


def module_level_imports(package_dirs: list[str]) -> dict[str, set[str]]:
    """module -> project modules it imports at module level (imports inside functions are lazy)."""
    import ast

    modules = {}
    for folder in package_dirs:
        for path in (PROJECT_DIR / folder).glob("*.py"):
            name = f"{folder}.{path.stem}".removesuffix(".__init__")
            tree = ast.parse(path.read_text(encoding="utf-8"))
            found = set()
            for node in tree.body:
                if isinstance(node, ast.ImportFrom) and node.module:
                    found.add(node.module)
                elif isinstance(node, ast.Import):
                    found.update(alias.name for alias in node.names)
            modules[name] = found
    return {name: {m for m in found if m in modules} for name, found in modules.items()}


def test_no_import_cycle_between_the_cli_the_runner_and_the_definitions():
    graph = module_level_imports(["cdp", "orchestration"])
    assert "cdp.pipeline" not in graph["cdp.cli"]  # the CLI imports the runner inside the command
    visiting, done = set(), set()

    def visit(node: str, path: list[str]) -> None:
        assert node not in visiting, f"import cycle: {' -> '.join([*path, node])}"
        if node in done:
            return
        visiting.add(node)
        for nxt in graph[node]:
            visit(nxt, [*path, node])
        visiting.discard(node)
        done.add(node)

    for module in graph:
        visit(module, [])


def test_importing_the_code_location_and_the_cli_does_no_work():
    """No subprocess (dbt parse), no environment change, no settings read at import."""
    code = """
import os, subprocess
before = dict(os.environ)
started = []
original = subprocess.Popen.__init__
def record(self, args, *a, **k):
    started.append(args)
    return original(self, args, *a, **k)
subprocess.Popen.__init__ = record
import orchestration.definitions, orchestration.dbt_assets, orchestration.governance, orchestration.automation
import orchestration.report_assets, orchestration.resources, cdp.cli, cdp.pipeline, cdp.ui
import cdp.settings
assert cdp.settings.load_settings.cache_info().currsize == 0, "settings were read at import"
assert dict(os.environ) == before, sorted(set(os.environ.items()) ^ set(before.items()))
# libraries may probe the platform (`file -b python`); the project starts nothing: no dbt parse, no server
assert not [c for c in started if any(w in str(c) for w in ("dbt", "dagster", "sandbox", "cdp"))], started
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr[-3000:]


def test_the_source_registry_matches_the_generator_the_sources_yaml_and_the_models():
    """One declaration per raw source (vars.raw_sources): the sample data, the documented source columns and
    the staging models all agree with it."""
    from cdp.registry import load_registry

    registry = load_registry()
    assert {name: s.raw_columns for name, s in registry.items() if not s.optional} == RAW_FILES
    contract = contract_columns()
    assert all(s.raw_columns == contract[name] for name, s in registry.items() if s.optional)
    tables = source_tables()
    models = {p.stem for p in (PROJECT_DIR / "models").rglob("*.sql")}
    for name, s in registry.items():
        assert [c["name"] for c in tables[name]] == s.raw_columns, name
        assert {s.base, s.model} <= models, name
        assert s.raw_key is None or s.raw_key in s.raw_columns, name
        base_sql = next((PROJECT_DIR / "models").rglob(f"{s.base}.sql")).read_text(encoding="utf-8")
        assert f"incremental_staging_config('{name}')" in base_sql and f"row_fate_for('{name}')" in base_sql
