import json
import os

from cdp.dbt_args import dbt_command
from orchestration.resources import manifest_is_stale


def test_minimal_command_names_project_profiles_and_target():
    assert dbt_command("build", project_dir="/p") == [
        "build", "--project-dir", "/p", "--profiles-dir", "/p", "--target", "duckdb"]


def test_select_exclude_vars_and_full_refresh():
    args = dbt_command("run", project_dir=".", target="spark", select=["a", "b+"], exclude=["c"],
                       vars={"as_of": "2026-01-01"}, full_refresh=True)
    assert args[args.index("--select") + 1: args.index("--exclude")] == ["a", "b+"]
    assert args[args.index("--exclude") + 1] == "c"
    assert json.loads(args[args.index("--vars") + 1]) == {"as_of": "2026-01-01"}
    assert args[-1] == "--full-refresh"
    assert args[args.index("--target") + 1] == "spark"


def test_manifest_is_stale_when_a_model_changed(tmp_path):
    (tmp_path / "models").mkdir()
    model = tmp_path / "models" / "m.sql"
    model.write_text("select 1")
    manifest = tmp_path / "target" / "manifest.json"
    assert manifest_is_stale(manifest, tmp_path), "missing manifest"
    manifest.parent.mkdir()
    manifest.write_text("{}")
    os.utime(model, (1, 1))
    assert not manifest_is_stale(manifest, tmp_path)
    os.utime(model, None)
    os.utime(manifest, (2, 2))
    assert manifest_is_stale(manifest, tmp_path)
