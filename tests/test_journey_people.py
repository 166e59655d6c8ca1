"""Journeys for people in Dagster and the CRM: two `cdp run`s of the same raw files at two CDP_AS_OF
instants, syncing to one CRM sandbox. The Dagster assets carry the stage distribution, this run's transitions
by from/to and the segment-size change since the previous build instant as Markdown metadata (read back from
the project's Dagster instance and compared with SQL counts), `cdp run` prints them, and the sandbox keeps
each contact's property history (HubSpot's `propertiesWithHistory`) and shows its journey stage history in
Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import requests

from datagen.sample_data import generate
from sync.sandbox import Sandbox, start_sandbox
from tests.conftest import PROJECT_DIR

BIN = Path(sys.executable).parent
FIRST, SECOND = "2025-06-30", "2026-03-31"


def env_for(tmp: Path, **extra) -> dict[str, str]:
    return dict(os.environ, CDP_RAW_DIR=str(tmp / "raw"), CDP_DUCKDB_PATH=str(tmp / "w.duckdb"),
                CDP_STATE_DIR=str(tmp / "state"), DAGSTER_HOME=str(tmp / "dagster"), **extra)


@dataclass
class TwoRuns:
    root: Path
    outputs: list[str]
    first_db: Path  # the warehouse as the first run left it
    db: Path
    sandbox: Sandbox


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("people")
    generate(1_000, 21, root / "raw")
    sandbox = start_sandbox()
    outputs = []
    try:
        for as_of in (FIRST, SECOND):
            proc = subprocess.run([str(BIN / "cdp"), "run"], env=env_for(root, CDP_AS_OF=as_of, **sandbox.client_env()),
                                  capture_output=True, text=True, cwd=PROJECT_DIR, timeout=900)
            assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
            outputs.append(proc.stdout + proc.stderr)
            if as_of == FIRST:
                shutil.copy(root / "w.duckdb", root / "first.duckdb")
        yield TwoRuns(root, outputs, root / "first.duckdb", root / "w.duckdb", sandbox)
    finally:
        sandbox.stop()


def rows(db: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def latest_metadata(state: Path, asset: str) -> dict[str, object]:
    import dagster as dg

    instance = dg.DagsterInstance.from_config(str(state / "dagster"))
    try:
        event = instance.get_latest_materialization_event(dg.AssetKey([asset]))
        return {k: getattr(v, "value", v) for k, v in event.asset_materialization.metadata.items()}
    finally:
        instance.dispose()


def md_rows(text: str) -> list[list[str]]:
    """The body rows of a Markdown table."""
    lines = [line for line in text.splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def current_id(merges: dict[str, str], now: set[str], pid: str) -> str:
    seen = set()
    while pid in merges and pid not in now and pid not in seen:
        seen.add(pid)
        pid = merges[pid]
    return pid


def test_dagster_metadata_hold_stages_transitions_and_segment_size_change(two_runs: TwoRuns):
    state = two_runs.root / "state"
    now = dict(rows(two_runs.db, "select person_id, journey_stage from customer_profiles"))
    before = dict(rows(two_runs.first_db, "select person_id, journey_stage from customer_profiles"))
    merges = dict(rows(two_runs.db, "select from_person_id, to_person_id from person_id_history "
                                    "where change_type = 'merge' order by changed_at"))

    # stage distribution: persons and persons with an action, per stage
    stages = latest_metadata(state, "customer_profiles")["journey_stages"]
    expected = rows(two_runs.db, "select journey_stage, count(*), count(*) filter (where next_best_action <> 'none') "
                                 "from customer_profiles group by 1")
    assert sorted(md_rows(stages)) == sorted([s, str(n), str(a)] for s, n, a in expected)
    assert len(expected) >= 4

    # this run's transitions by from/to: the persons whose stage differs from the one they had at the
    # first instant (their own, else that of an id merged into them), and the persons first seen
    held: dict[str, str] = {pid: stage for pid, stage in before.items() if pid in now}
    for pid, stage in before.items():
        held.setdefault(current_id(merges, set(now), pid), stage)
    moves = Counter((held.get(pid, "(first seen)"), stage) for pid, stage in now.items() if held.get(pid) != stage)
    transitions = latest_metadata(state, "journey_transitions")
    assert {(f, t): int(n) for f, t, n in md_rows(transitions["transitions_this_run"])} == dict(moves)
    assert transitions["transitions_this_run_total"] == sum(moves.values())
    assert 0 < sum(n for (f, _t), n in moves.items() if f != "(first seen)") < len(now)

    # segment sizes: now, at the first instant (persons counted by their current id), and the change
    sizes = latest_metadata(state, "segment_memberships")
    assert sizes["segment_sizes_previous_as_of"].startswith(FIRST)
    first_members: dict[str, set[str]] = {}
    for pid, segment in rows(two_runs.first_db, "select person_id, segment_name from segment_memberships"):
        first_members.setdefault(segment, set()).add(current_id(merges, set(now), pid))
    now_sizes = dict(rows(two_runs.db, "select segment_name, count(*) from segment_memberships group by 1"))
    table = {name: (int(previous), int(size), change) for name, previous, size, change in
             md_rows(sizes["segment_size_change"])}
    assert set(table) == set(now_sizes) | set(first_members)
    for name, (previous, size, change) in table.items():
        assert previous == len(first_members.get(name, ())), name
        assert size == now_sizes.get(name, 0), name
        assert change == f"{size - previous:+d}", name
    assert any(size != previous for previous, size, _ in table.values())


def test_cdp_run_prints_the_segment_size_change_within_60_lines(two_runs: TwoRuns):
    first, second = two_runs.outputs
    assert "segment sizes (first build): " in first
    sizes = dict(rows(two_runs.db, "select segment_name, count(*) from segment_memberships group by 1"))
    flat = " ".join(line.strip() for line in second.split("\nJourneys:\n")[1].split("\n\n")[0].splitlines())
    assert f"segment sizes (change since {FIRST}" in flat
    for name, size in sizes.items():
        assert f" {name} {size} " in flat + " "
    for out in (first, second):
        assert len(out.splitlines()) < 60, out


def hubspot_get(sb: Sandbox, path: str, **params) -> dict:
    headers = {"Authorization": f"Bearer {sb.client_env()['HUBSPOT_ACCESS_TOKEN']}"}
    response = requests.get(f"{sb.url}{path}", params=params, headers=headers, timeout=10)
    response.raise_for_status()
    return response.json()


def contact_ids(sb: Sandbox) -> list[str]:
    ids, after = [], 0
    while True:
        body = hubspot_get(sb, "/crm/v3/objects/contacts", limit=100, after=after)
        ids += [item["id"] for item in body["results"]]
        if "paging" not in body:
            return ids
        after = int(body["paging"]["next"]["after"])


def test_sandbox_keeps_property_history_and_its_page_shows_the_stage_history(two_runs: TwoRuns, tmp_path: Path):
    sb = two_runs.sandbox
    first = dict(rows(two_runs.first_db, "select person_id, journey_stage from sync_hubspot__contacts"))
    now = dict(rows(two_runs.db, "select person_id, journey_stage from sync_hubspot__contacts"))
    histories: dict[str, tuple[str, list[dict]]] = {}
    for hs_id in contact_ids(sb):
        body = hubspot_get(sb, f"/crm/v3/objects/contacts/{hs_id}", propertiesWithHistory="cdp_journey_stage,cdp_person_id")
        assert set(body["propertiesWithHistory"]) == {"cdp_journey_stage", "cdp_person_id"}
        if len(body["propertiesWithHistory"]["cdp_person_id"]) == 1:  # not taken over by another person
            histories[hs_id] = (body["properties"]["cdp_person_id"], body["propertiesWithHistory"]["cdp_journey_stage"])
    checked = changed = 0
    for hs_id, (pid, versions) in histories.items():
        if pid not in now or pid not in first:
            continue
        values = [v["value"] for v in reversed(versions)]  # HubSpot lists versions newest first
        assert values == ([first[pid], now[pid]] if first[pid] != now[pid] else [now[pid]]), (hs_id, pid, values)
        assert [v["timestamp"] for v in versions] == sorted((v["timestamp"] for v in versions), reverse=True)
        assert all(v["sourceType"] == "INTEGRATION" for v in versions)
        checked += 1
        changed += len(values) == 2
    assert checked > 300 and changed > 50, (checked, changed)

    # the page: the contacts list links to each contact, whose page shows its stage history, oldest first
    hs_id, (pid, versions) = next((k, v) for k, v in histories.items() if len(v[1]) == 2)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is installed by `make test` (Debian package chromium)"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]

    def dom(path: str) -> str:
        return subprocess.run([chromium, *flags, "--dump-dom", f"{sb.url}{path}"], capture_output=True, text=True,
                              timeout=120).stdout

    assert f'href="/contacts/{hs_id}"' in dom("/")
    page = dom(f"/contacts/{hs_id}")
    assert pid in page and "Journey stage history" in page
    stage_table = page.split('id="stage-history"')[1].split("</table>")[0]
    cells = [(v["value"], v["timestamp"]) for v in reversed(versions)]
    positions = [stage_table.index(f"<td>{value}</td><td>{at}</td>") for value, at in cells]
    assert positions == sorted(positions)
    assert stage_table.count("<tr>") == 3  # header and two versions
