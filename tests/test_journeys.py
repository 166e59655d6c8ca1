"""Journey stages and next best actions (vars journey_stages, next_best_actions; docs/profiles-segments-journeys.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
import yaml

from conftest import PROJECT_DIR, Warehouse, build_warehouse, dbt
from datagen.sample_data import generate

VARS = yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]


@pytest.fixture(scope="module")
def journey_warehouse(tmp_path_factory) -> Warehouse:
    root = tmp_path_factory.mktemp("journeys")
    generate(1_500, 21, root / "raw")
    return build_warehouse(root / "raw", root / "warehouse.duckdb")


def first_match_sql(rules: list[dict], field: str, default: str) -> str:
    whens = " ".join(f"when ({r['condition']}) then '{r[field]}'" for r in rules)
    return f"case {whens} else '{default}' end"


def test_every_person_gets_the_first_matching_stage_and_action(journey_warehouse: Warehouse):
    stages, actions = VARS["journey_stages"], VARS["next_best_actions"]
    # the rules evaluated independently, one at a time in order, over the built profile's own columns
    mismatched = journey_warehouse.scalar(
        f"select count(*) from customer_profiles where journey_stage is distinct from "
        f"({first_match_sql(stages, 'name', 'unclassified')}) "
        f"or next_best_action is distinct from ({first_match_sql(actions, 'name', 'none')}) "
        f"or next_best_action_reason is distinct from ({first_match_sql(actions, 'reason', 'No action rule matched.')})")
    assert mismatched == 0
    counts = dict(journey_warehouse.sql("select journey_stage, count(*) from customer_profiles group by 1"))
    # the sample data has every stage: the rules are not vacuous
    assert set(counts) == {r["name"] for r in stages}, counts
    for rule in stages:  # first match wins: a person in a stage matches no earlier rule
        earlier = [r["condition"] for r in stages[:stages.index(rule)]]
        if earlier:
            assert journey_warehouse.scalar(
                f"select count(*) from customer_profiles where journey_stage = '{rule['name']}' "
                f"and ({' or '.join(f'coalesce({c}, false)' for c in earlier)})") == 0
    # a repeat buyer silent for over twice their usual gap, not lapsed, not won back, is at risk
    assert journey_warehouse.scalar(
        "select count(*) from customer_profiles where order_count >= 2 and days_since_first_order > 30 "
        "and days_since_last_order <= 365 and days_since_last_order > 2 * avg_order_gap_days "
        "and coalesce(previous_order_gap_days, 0) <= 365 and journey_stage <> 'at_risk'") == 0


def test_stage_and_action_reach_the_crm_sync_models(journey_warehouse: Warehouse):
    for model in ("sync_hubspot__contacts", "sync_salesforce__contacts"):
        assert journey_warehouse.scalar(
            f"select count(*) from {model} s join customer_profiles p using (person_id) "
            "where s.journey_stage is distinct from p.journey_stage "
            "or s.next_best_action is distinct from p.next_best_action") == 0
        assert journey_warehouse.scalar(f"select count(distinct journey_stage) from {model}") > 3
    syncs = {s["name"]: s for s in yaml.safe_load((PROJECT_DIR / "sync" / "syncs.yml").read_text())["syncs"]}
    assert syncs["hubspot_contacts"]["fields"]["cdp_journey_stage"] == "journey_stage"
    assert syncs["hubspot_contacts"]["fields"]["cdp_next_best_action"] == "next_best_action"
    assert syncs["salesforce_contacts"]["fields"]["CDP_Journey_Stage__c"] == "journey_stage"
    assert syncs["salesforce_contacts"]["fields"]["CDP_Next_Best_Action__c"] == "next_best_action"


def rebuild_profiles(wh: Warehouse, tmp_path: Path, **overrides) -> tuple[int, str]:
    db = tmp_path / "copy.duckdb"
    db.write_bytes(wh.db_path.read_bytes())
    proc = dbt(wh.raw_dir, db, "run", "--select", "customer_profiles", "--vars", json.dumps(overrides), check=False)
    return proc.returncode, proc.stdout


def test_a_condition_that_does_not_compile_fails_the_build_with_the_rule_name(journey_warehouse, tmp_path):
    stages = VARS["journey_stages"] + []
    stages[2] = {**stages[2], "condition": "days_since_last_order <= 90 and previous_gap > 365"}
    code, log = rebuild_profiles(journey_warehouse, tmp_path, journey_stages=stages)
    assert code != 0
    assert "journey_stages rule 'won_back': its condition does not compile, unknown column(s) previous_gap" in log
    actions = [{"name": "call_them", "reason": "x", "condition": "journey_stage = 'lapsed' and phone_number is not null"}]
    code, log = rebuild_profiles(journey_warehouse, tmp_path, next_best_actions=actions)
    assert code != 0 and "next_best_actions rule 'call_them'" in log and "phone_number" in log


def test_a_condition_with_a_syntax_error_fails_the_build_with_the_rule_name(journey_warehouse, tmp_path):
    """Not only unknown columns: a condition that does not parse names its rule (the parser's own message
    after it), before any model SQL runs (macros/engine/sql_syntax.sql)."""
    for broken, message in (("order_count >= 2 and and days_since_last_order <= 90", 'syntax error at or near "and"'),
                            ("order_count in (1, 2", "syntax error at end of input"),
                            ("lifecycle_stage = 'lead", "unterminated quoted string")):
        stages = VARS["journey_stages"] + []
        stages[3] = {**stages[3], "condition": broken}
        code, log = rebuild_profiles(journey_warehouse, tmp_path, journey_stages=stages)
        assert code != 0
        assert f"journey_stages rule '{stages[3]['name']}': its condition does not compile, {message}" in log, log[-2000:]
    actions = [{"name": "call_them", "reason": "x", "condition": "journey_stage = 'lapsed' or"}]
    code, log = rebuild_profiles(journey_warehouse, tmp_path, next_best_actions=actions)
    assert code != 0 and "next_best_actions rule 'call_them': its condition does not compile, syntax error" in log


def test_the_portable_syntax_check_catches_common_slips_and_passes_every_configured_condition(
        journey_warehouse, tmp_path):
    """The check engines without a parse-only call (Spark) use, rendered by dbt itself (`dbt show --inline`)."""
    broken = {"order_count >= 2 and": "syntax error at the start or end of the condition",
              "or order_count = 0": "syntax error at the start or end of the condition",
              "lifecycle_stage = 'lead": "unterminated quoted string",
              "order_count in (1, 2": "unbalanced parentheses",
              "(order_count = 1))": "unbalanced parentheses"}
    configured = [r["condition"] for name in ("journey_stages", "next_best_actions", "segments") for r in VARS[name]]
    conditions = list(broken) + configured + ["lifecycle_stage = 'it''s' and order_count >= -1"]
    db = tmp_path / "copy.duckdb"
    db.write_bytes(journey_warehouse.db_path.read_bytes())
    probe = " union all ".join(
        f"select {i} as n, '{{{{ default__cdp_condition_syntax_error({json.dumps(c)}) }}}}' as message"
        for i, c in enumerate(conditions))
    proc = dbt(journey_warehouse.raw_dir, db, "show", "--quiet", "--output", "json", "--limit", "1000", "--inline", probe)
    messages = {row["n"]: row["message"] for row in json.loads(proc.stdout)["show"]}
    expected = list(broken.values()) + ["None"] * (len(conditions) - len(broken))
    assert [messages[i] for i in range(len(conditions))] == expected


def test_a_rule_matching_nobody_and_unclassified_persons_are_warnings_with_names_and_counts(journey_warehouse, tmp_path):
    stages = [{"name": "big_spender", "description": "d", "condition": "lifetime_value > 1e12"},
              {"name": "buyer", "description": "d", "condition": "order_count > 0"}]
    code, log = rebuild_profiles(journey_warehouse, tmp_path, journey_stages=stages)
    assert code == 0, log[-3000:]
    prospects = journey_warehouse.scalar("select count(*) from customer_profiles where order_count = 0")
    assert prospects > 0
    assert "journey stage rule(s) matched nobody: big_spender" in log
    assert f"{prospects} person(s) matched no journey stage rule: unclassified" in log
    with duckdb.connect(str(tmp_path / "copy.duckdb"), read_only=True) as db:
        assert db.execute("select count(*) from customer_profiles where journey_stage = 'unclassified'"
                          ).fetchone()[0] == prospects


def snapshot(db: Path) -> tuple[dict[str, str], dict[str, str], set[tuple[str, str]]]:
    with duckdb.connect(str(db), read_only=True) as con:
        stages = dict(con.execute("select person_id, journey_stage from customer_profiles").fetchall())
        merges = dict(con.execute("select from_person_id, to_person_id from person_id_history "
                                  "where change_type = 'merge' order by changed_at").fetchall())
        members = set(con.execute("select person_id, segment_name from segment_memberships").fetchall())
    return stages, merges, members


def test_two_builds_at_two_as_of_instants_record_exactly_the_changes_and_a_rebuild_adds_nothing(tmp_path, monkeypatch):
    generate(1_500, 21, tmp_path / "raw")
    db = tmp_path / "w.duckdb"
    monkeypatch.setenv("CDP_AS_OF", "2025-06-30")
    dbt(tmp_path / "raw", db, "build")
    first, _, first_members = snapshot(db)
    monkeypatch.setenv("CDP_AS_OF", "2026-03-31")
    dbt(tmp_path / "raw", db, "build")
    second, merges, second_members = snapshot(db)

    def current(pid: str) -> str:
        while pid in merges and pid not in second:
            pid = merges[pid]
        return pid

    # the stage each current person had at the first instant: its own, else that of the ids merged into it
    before: dict[str, str] = {}
    for pid, stage in first.items():
        if pid in second:
            before[pid] = stage
    for pid, stage in first.items():
        before.setdefault(current(pid), stage)
    expected = {(pid, before.get(pid), stage) for pid, stage in second.items() if before.get(pid) != stage}
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("select person_id, from_stage, to_stage, transitioned_at from journey_transitions").fetchall()
        events = con.execute("select count(*) from segment_membership_events").fetchone()[0]
        open_stages = dict(con.execute("select person_id, journey_stage from journey_stage_history "
                                       "where exited_at is null").fetchall())
        open_stays = con.execute("select count(*) from journey_stage_history where exited_at is null").fetchone()[0]
        open_members = set(con.execute("select person_id, segment_name from segment_membership_history "
                                       "where exited_at is null").fetchall())
    instants = sorted({r[3] for r in rows})
    assert len(instants) == 2
    assert {(r[0], r[1], r[2]) for r in rows if r[3] == instants[0]} == {(p, None, s) for p, s in first.items()}
    later = [(r[0], r[1], r[2]) for r in rows if r[3] == instants[1]]
    assert len(later) == len(set(later)) == len({r[0] for r in later})  # one row per changed person
    assert set(later) == expected
    assert 0 < len([r for r in later if r[1] is not None]) < len(second)  # real changes, not everyone
    assert len(merges) == 0 or all(r[0] in second for r in later)  # no row for a merged-away id
    # history ends in today's stage and today's memberships
    assert open_stages == second and open_stays == len(second)
    assert open_members == second_members and first_members != second_members

    dbt(tmp_path / "raw", db, "build")  # a third build at the second instant adds nothing
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select count(*) from journey_transitions").fetchone()[0] == len(rows)
        assert con.execute("select count(*) from segment_membership_events").fetchone()[0] == events


def test_run_summary_shows_the_stage_distribution_and_the_latest_transitions(journey_warehouse: Warehouse):
    from cdp.report import journey_summary

    text = journey_summary(journey_warehouse.db_path)
    persons = journey_warehouse.scalar("select count(*) from customer_profiles")
    active = journey_warehouse.scalar("select count(*) from customer_profiles where journey_stage = 'active'")
    flat = " ".join(line.strip() for line in text.splitlines())  # the summary wraps long lines
    assert flat.startswith("stages (persons/with an action): ") and f" active {active}/" in flat
    # a single build: everyone first seen, one transition per person in total
    first_seen = flat.split("(first seen) -> ")[1].split(";")[0]
    assert f"active {active}" in first_seen
    assert sum(int(n) for n in re.findall(r"\w+ (\d+)", first_seen)) == persons
