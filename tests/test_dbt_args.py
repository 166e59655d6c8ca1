import io
import json
import os
import re
import sys
from pathlib import Path

from cdp.build_progress import BuildProgress, run_with_progress
from cdp.dbt_args import dbt_command
from datagen.sample_data import generate
from orchestration.resources import manifest_is_stale
from tests.conftest import PROJECT_DIR


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


def test_cdp_build_progress_lines_come_from_a_real_dbt_run(tmp_path):
    """`cdp build` / `make build` print cdp run's kind of lines; dbt's own lines go to the log file."""
    generate(50, 2, tmp_path / "raw")
    env = dict(os.environ, CDP_RAW_DIR=str(tmp_path / "raw"), CDP_DUCKDB_PATH=str(tmp_path / "w.duckdb"),
               DBT_PROFILES_DIR=str(PROJECT_DIR), CDP_TARGET="duckdb")
    cmd = [str(Path(sys.executable).with_name("dbt")),
           *dbt_command("build", project_dir=str(PROJECT_DIR), select=["country_codes", "currency_rates"]),
           "--target-path", str(tmp_path / "target")]
    out = io.StringIO()
    rc = run_with_progress(cmd, cwd=PROJECT_DIR, env=env, log_path=tmp_path / "logs" / "build.log", out=out)
    lines = [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]
    assert rc == 0, out.getvalue()
    assert lines[0].startswith("start  dbt build (full output: ") and lines[1] == "start  staging"
    assert re.fullmatch(r"done   dbt build \(\d+\.\ds\): built staging 2; tests \d+ pass", lines[-1]), lines
    assert len(lines) == 3
    assert "Completed successfully" in (tmp_path / "logs" / "build.log").read_text()


def test_build_progress_names_a_failed_model_and_a_failing_test():
    out = io.StringIO()
    progress = BuildProgress(out)
    progress.event({"info": {"name": "LogModelResult", "level": "error", "msg": "ERROR creating model main.x\nmore"},
                    "data": {"node_info": {"node_name": "x", "node_path": "marts/profiles/x.sql",
                                           "resource_type": "model", "node_status": "error"}}})
    progress.event({"info": {"name": "LogTestResult", "level": "error", "msg": "FAIL 3 unique_x_id"},
                    "data": {"node_info": {"node_name": "unique_x_id", "node_path": "unique_x_id.sql",
                                           "resource_type": "test", "node_status": "fail"}}})
    progress.summary(1)
    lines = [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines[:2] == ["FAILED model x: ERROR creating model main.x", "check  unique_x_id FAIL"]
    assert lines[2].startswith("FAILED dbt build (") and lines[2].endswith("built nothing; tests 1 fail")
