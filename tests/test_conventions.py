"""Project conventions that a clone depends on: the raw-file contract lives in the repository, the sources
YAML documents every column of it, and nothing points outside the project."""

from __future__ import annotations

import re
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
    assert set(tables) == set(RAW_FILES)
    for name, columns in tables.items():
        assert [c["name"] for c in columns] == contract[name], name
        assert all(c.get("description", "").strip() for c in columns), name
