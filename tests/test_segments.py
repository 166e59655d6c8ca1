"""Segment names and conditions are data pasted into SQL: they are checked before dbt runs anything
(`cdp build`, with file:line:col) and again inside dbt (plain `dbt build`), so a condition that tries to end
the query and drop a table is refused and the table is still there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cdp.segment_rules import check_segments, condition_problems, known_columns
from datagen.sample_data import generate
from tests.conftest import PROJECT_DIR, Warehouse, build_warehouse, dbt

CDP = str(Path(sys.executable).with_name("cdp"))
# ends the memberships CTE and the statement dbt wraps the model in, drops a table, then opens a statement
# that the rest of the model's SQL completes
ESCAPE = ("false) select person_id, 'x' as segment_name, 'y' as segment_membership_id from profiles); "
          "drop table customer_profiles; create table dropped_it as (with memberships as ("
          "select 1 as person_id, 'x' as segment_name where true")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Warehouse:
    root = tmp_path_factory.mktemp("segments")
    generate(120, 5, root / "raw")
    return build_warehouse(root / "raw", root / "warehouse.duckdb")


def project_copy(tmp: Path, segment_yaml: str) -> Path:
    """The project's files the segment check reads, with one more segment appended to vars.segments."""
    project = tmp / "project"
    (project / "models/marts/profiles").mkdir(parents=True)
    shutil.copy(PROJECT_DIR / "models/marts/profiles/_profiles__models.yml", project / "models/marts/profiles")
    text = (PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8")
    anchor = "  marketing_segments_require_consent:"
    assert anchor in text
    (project / "dbt_project.yml").write_text(text.replace(anchor, segment_yaml + anchor), encoding="utf-8")
    return project


def test_conditions_are_one_expression_over_known_columns():
    columns = known_columns(PROJECT_DIR)
    good = ["lifetime_value >= 500", "city = 'a;b--c'' (d'", "coalesce(churn_risk, 0) > 0.5 and (order_count > 1)",
            "case when order_count > 2 then true else false end"]
    for condition in good:
        assert list(condition_problems(condition, columns)) == [], condition
    bad = {ESCAPE: "';'", "lifetime_value > 1) or (true": "closes a parenthesis",
           "lifetime_value > (select 1)": "'select'", "order_count > 1 -- rest": "comment",
           "journey_stage = 'active'": "unknown column 'journey_stage'", "\"order_count\" > 1": "quoted identifiers",
           "length(getenv('HOME')) > 0": "getenv()", "order_count >": "does not parse", "city = 'x": "unterminated"}
    for condition, expected in bad.items():
        found = [why for _offset, why in condition_problems(condition, columns)]
        assert found and expected in found[0], (condition, found)


def test_cdp_build_refuses_a_segment_that_ends_the_query_before_dbt_runs(tmp_path, tiny):
    project = project_copy(tmp_path, "    - name: sneaky\n"
                                     "      description: tries to drop a table\n"
                                     f"      condition: \"{ESCAPE}\"\n"
                                     "    - name: Bad-Name\n"
                                     "      condition: \"order_count > 1\"\n")
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(tiny.db_path, db)
    before = db.stat().st_mtime_ns
    env = dict(os.environ, CDP_PROJECT_DIR=str(project), CDP_DUCKDB_PATH=str(db), CDP_RAW_DIR=str(tiny.raw_dir),
               CDP_STATE_DIR=str(tmp_path / "state"))
    proc = subprocess.run([CDP, "build"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = (project / "dbt_project.yml").read_text(encoding="utf-8").splitlines()
    line = next(i for i, text in enumerate(lines, 1) if "tries to drop" in text) + 1
    column = lines[line - 1].index(";") + 1
    assert f"error: dbt_project.yml:{line}:{column}: segment 'sneaky': condition: a ';' would end the statement" \
        in proc.stderr, proc.stderr
    assert f"dbt_project.yml:{line + 1}:13: segment #8: the name must be an identifier" in proc.stderr
    assert [str(p) for p in check_segments(project)] == [ln.removeprefix("error: ") for ln in proc.stderr.splitlines()]
    assert db.stat().st_mtime_ns == before
    assert Warehouse(tiny.raw_dir, db).scalar("select count(*) from customer_profiles") > 0


def test_plain_dbt_refuses_it_too_and_the_table_stays(tmp_path, tiny):
    db = tmp_path / "warehouse.duckdb"
    shutil.copy(tiny.db_path, db)
    wh = Warehouse(tiny.raw_dir, db)
    persons = wh.scalar("select count(*) from customer_profiles")
    segments = json.dumps({"segments": [{"name": "sneaky", "description": "x", "condition": ESCAPE}]})
    proc = dbt(tiny.raw_dir, db, "run", "--vars", segments, check=False, select=("segment_memberships", "segments"))
    assert wh.scalar("select count(*) from information_schema.tables where table_name = 'customer_profiles'") == 1
    assert proc.returncode != 0
    assert "vars.segments 'sneaky': condition refused: ';' is not allowed" in proc.stdout, proc.stdout[-3000:]
    assert wh.scalar("select count(*) from customer_profiles") == persons
    assert wh.scalar("select count(*) from information_schema.tables where table_name = 'dropped_it'") == 0
