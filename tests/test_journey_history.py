"""History: incremental and full builds give the same history. Two builds of the same raw files at
two CDP_AS_OF instants with incremental staging record the same journey_transitions,
segment_membership_events, journey_stage_history and segment_membership_history rows as the same two builds
each run with `--full-refresh` (staging rebuilt from scratch; the history logs and the person-id ledger are
`full_refresh=false` by design, so they carry on in both)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from datagen.sample_data import generate
from tests.conftest import dbt

FIRST, SECOND = "2025-06-30", "2026-03-31"

# the columns compared besides the person (ids derived from the person id, such as transition_id, follow it)
HISTORY = {"journey_transitions": "from_stage, to_stage, transitioned_at",
           "segment_membership_events": "segment_name, event_type, changed_at",
           "journey_stage_history": "journey_stage, entered_at, exited_at",
           "segment_membership_history": "segment_name, entered_at, exited_at"}


def history(db: Path) -> dict[str, list[tuple]]:
    """Each history table's rows with the person named by the first record key its id was issued for: new
    ids of a later build are salted with that build's start time (int_person_ids_assigned), so the same
    person has another id in another sequence of builds, but the same records."""
    with duckdb.connect(str(db), read_only=True) as con:
        con.execute("create temp table person_label as select person_id, min(record_key) as label "
                    "from int_person_ids_assigned group by person_id")
        out = {}
        for table, columns in HISTORY.items():
            out[table] = sorted(con.execute(
                f"select person_label.label, {columns} from {table} "
                f"left join person_label using (person_id)").fetchall(), key=repr)
    return out


def test_incremental_and_full_refresh_builds_record_the_same_history(tmp_path: Path, monkeypatch):
    generate(1_000, 33, tmp_path / "raw")
    incremental, full = tmp_path / "incremental.duckdb", tmp_path / "full.duckdb"
    for as_of in (FIRST, SECOND):
        monkeypatch.setenv("CDP_AS_OF", as_of)
        dbt(tmp_path / "raw", incremental, "build")
        dbt(tmp_path / "raw", full, "build", "--full-refresh")
    got, expected = history(incremental), history(full)
    for table in HISTORY:
        assert all(row[0] is not None for row in got[table]), f"{table}: a person id missing from the ledger"
        assert got[table] == expected[table], table
    instants = {row[3] for row in got["journey_transitions"]}
    assert len(instants) == 2  # both builds recorded something
    second = [row for row in got["journey_transitions"] if row[3] == max(instants)]
    assert any(row[1] is not None for row in second) and got["segment_membership_events"]
