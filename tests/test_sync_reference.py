"""The sync command line and reference as a new user meets them: every option explained, tables with
headers that stay aligned with long names, and a syncs.yml reference generated from the JSON Schema."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import yaml

from sync.cli import add_sync_parser
from sync.config import DEFAULT_CONFIG
from sync.config_schema import SCHEMA
from sync.reference import render
from tests.conftest import PROJECT_DIR

CDP = str(Path(sys.executable).with_name("cdp"))


def _properties(schema: dict, where: str = "syncs.yml"):
    for name, spec in schema.get("properties", {}).items():
        yield f"{where}.{name}", spec
        for nested in (spec, spec.get("items") or {}):
            if isinstance(nested, dict) and "properties" in nested:
                yield from _properties(nested, f"{where}.{name}")


def test_every_property_of_the_schema_is_described():
    missing = [path for path, spec in _properties(SCHEMA) if not str(spec.get("description", "")).strip()]
    assert not missing, missing
    assert len(list(_properties(SCHEMA))) > 30


def test_the_committed_reference_is_generated_from_the_schema():
    committed = (PROJECT_DIR / "docs" / "sync-reference.md").read_text(encoding="utf-8")
    assert committed == render(), "run: python -m sync.reference > docs/sync-reference.md"
    for path, _ in _properties(SCHEMA):
        assert f"`{path.rsplit('.', 1)[1]}`" in committed, path


def test_every_sync_option_has_help():
    parser = argparse.ArgumentParser(prog="cdp")
    add_sync_parser(parser.add_subparsers())
    unexplained = []
    commands = [a for a in parser._subparsers._group_actions[0].choices["sync"]._actions
                if isinstance(a, argparse._SubParsersAction)][0].choices
    for name, command in commands.items():
        assert command.description, name
        for action in command._actions:
            if not isinstance(action, argparse._HelpAction) and not (action.help or "").strip():
                unexplained.append(f"{name} {action.dest}")
    assert not unexplained, unexplained


def test_list_and_status_have_headers_and_align_long_names(tmp_path: Path):
    config = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    long_name = "hubspot_contacts_for_the_northern_european_sales_team"
    config["syncs"].append({**next(s for s in config["syncs"] if s["name"] == "hubspot_contacts"), "name": long_name})
    syncs = tmp_path / "syncs.yml"
    syncs.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    env = dict(os.environ, CDP_SYNCS_FILE=str(syncs), CDP_DUCKDB_PATH=str(tmp_path / "none.duckdb"))
    for command, second in ((["list"], "destination"), (["status"], "last run")):
        out = subprocess.run([CDP, "sync", *command], env=env, cwd=PROJECT_DIR, capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0].startswith("sync ") and second in lines[0], lines[0]
        column = lines[0].index(second)
        rows = [ln for ln in lines[1:] if ln.strip()]
        assert any(ln.startswith(long_name) for ln in rows)
        assert all(ln[column - 2:column] == "  " and ln[column] != " " for ln in rows), out.stdout
