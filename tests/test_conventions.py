"""Project conventions that a clone depends on: the raw-file contract lives in the repository, the sources
YAML documents every column of it, and nothing points outside the project."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
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
    """dbt source table name -> its documented columns, from every models/**/_*__sources.yml; the raw files'
    registration bookkeeping (source `raw_files`: rejected lines, deliveries read) is not a contract file."""
    tables = {}
    for path in sorted((PROJECT_DIR / "models").rglob("_*__sources.yml")):
        for source in yaml.safe_load(path.read_text(encoding="utf-8"))["sources"]:
            if source["name"] == "raw_files":
                continue
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


def test_the_contract_copy_lists_every_generated_file_and_the_optional_files():
    contract = contract_columns()
    optional = {"privacy_requests", "identity_decisions"}
    assert {k: v for k, v in contract.items() if k not in optional} == RAW_FILES
    assert contract["privacy_requests"] == ["request_id", "request_type", "email", "phone", "received_at"]
    assert contract["identity_decisions"] == ["source_name_a", "source_record_id_a", "source_name_b",
                                              "source_record_id_b", "decision", "decided_by", "decided_at"]


def test_sources_yaml_documents_every_contract_column():
    contract = contract_columns()
    tables = source_tables()
    assert set(tables) == set(RAW_FILES) | {"privacy_requests", "identity_decisions"}  # optional files: not generated
    for name, columns in tables.items():
        assert [c["name"] for c in columns] == contract[name], name
        assert all(c.get("description", "").strip() for c in columns), name


PACKAGES = ["cdp", "orchestration", "sync", "datagen", "predict", "scripts", "bench"]
# The command line's entry points (`cdp`, `cdp run`, `cdp ui`) sit on top of every package: they may import
# any of them, and nothing but another entry point imports them.
ENTRY_POINTS = {"cdp.cli", "cdp.pipeline", "cdp.ui"}


def project_imports(packages: list[str] = PACKAGES) -> dict[str, set[str]]:
    """module -> the project modules it imports, wherever the import statement is: at the top, inside a
    function or under a condition (an import moved into a function still ties the two modules)."""
    paths = {}
    for folder in packages:
        for path in (PROJECT_DIR / folder).rglob("*.py"):
            parts = path.relative_to(PROJECT_DIR).with_suffix("").parts
            paths[".".join(parts).removesuffix(".__init__")] = path
    graph = {}
    for name, path in paths.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from the module's own package
                    package = name.split(".")[: -node.level + (path.stem == "__init__")]
                    base = ".".join([*package, *([base] if base else [])])
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = {m for m in found if m in paths and m != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every group of nodes that reach each other (strongly connected components of two or more nodes, or a
    node importing itself), each sorted; Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while not group or group[-1] != node:
                group.append(stack.pop())
            if len(group) > 1 or node in graph.get(node, ()):
                found.append(sorted(group))

    for start in sorted(graph):
        if start not in index:
            visit(start)
    return sorted(found)


def test_cycles_finds_every_cycle_through_any_number_of_modules():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": {"f"}, "g": {"a"}}
    assert cycles(graph) == [["a", "b", "c"], ["d", "e"], ["f"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"a", "c"}}) == []


def test_no_import_cycle_between_modules_through_any_import():
    found = cycles(project_imports())
    assert found == [], "modules that import each other: " + "; ".join(" <-> ".join(c) for c in found)


def test_packages_import_one_way():
    """Above the module level, packages form layers too: no package reaches back into one that imports it
    (cdp's library <-> orchestration, cdp <-> datagen). The entry points are their own top layer."""
    graph = project_imports()
    importers = sorted(m for m, found in graph.items() if found & ENTRY_POINTS and m not in ENTRY_POINTS)
    assert importers == [], f"{importers} import a command-line entry point"
    packages: dict[str, set[str]] = {}
    for module, found in graph.items():
        source = "entry points" if module in ENTRY_POINTS else module.split(".")[0]
        packages.setdefault(source, set()).update(
            m.split(".")[0] for m in found if m not in ENTRY_POINTS and m.split(".")[0] != source)
    found = cycles(packages)
    assert found == [], "packages that import each other: " + "; ".join(" <-> ".join(c) for c in found)


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
        # privacy requests take their fate without the as-of cut (a request applies from the moment it is filed)
        fate = "privacy_request_fate()" if name == "privacy_requests" else f"row_fate_for('{name}')"
        assert f"incremental_staging_config('{name}')" in base_sql and fate in base_sql
