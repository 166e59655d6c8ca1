"""Incremental runs: a day of new data on top of an existing warehouse gives the same tables as a full
rebuild of the same raw files, re-stages only the keys that changed, and keeps person ids stable."""

from __future__ import annotations

import csv
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from cdp.first_erasure import build_graph_if_erasures_need_it
from cdp.privacy_cli import append_request
from datagen.sample_data import EPOCH, SPAN_DAYS, append_day, generate
from tests.compare import clusters, columns, comparable, differences, person_keys_view
from tests.conftest import PROJECT_DIR, dbt, shop_customer_with_web_events

# marts that hold rows only when the probabilistic identity tier is on (var identity_probabilistic_tier)
EMPTY_WITHOUT_PROBABILISTIC_TIER = {"identity_review_queue"}
BASE_MODELS = ["base_crm__contacts", "base_shop__customers", "base_shop__orders", "base_web__events",
               "base_support__tickets", "base_email__consents"]
# Every mart is compared with a full rebuild, except the logs of what each run saw: a full build of the same
# files has had one run, the incremental warehouse two. Their incremental-equals-full check is
# tests/test_journey_history.py (the same as-of instants built both ways).
RUN_LOGS = {"person_id_history", "journey_transitions", "segment_membership_events", "journey_stage_history",
            "segment_membership_history", "sync_webhook__journey_events"}
# Columns that name people (compared through the person key), and columns that differ between any two builds
# by construction: the staging run's time, the prediction fit's, the erasure's, hashes of a person id, the
# profile scope's watermark (the run that wrote a profile row).
PERSON_COLUMNS = ("person_id",)
BUILD_COLUMNS = ("_staged_at", "model_fitted_at", "erased_at", "segment_membership_id", "staged_through")
# The profile models that are incremental by person (scope int_profile_scope_persons): compared with a full
# build too, since a stale stored row need not reach a mart (an event older than the 30-day window).
PROFILE_INCREMENTAL = ["int_profile_attributes_observed", "int_profile_attributes_survived", "int_web_events_sessionised",
                       "int_profile_orders", "int_profile_traits_summarised", "int_person_order_days",
                       "int_person_order_gaps", "int_profile_scope_state"]
# The identity layer's incremental intermediates (docs/incremental.md), compared like the marts;
# _staged_through is the watermark of the run that built the row.
IDENTITY_TABLES = ["int_identifiers_observed", "int_records_named", "int_identifiers_screened",
                   "int_identifiers_decided", "int_records_resolved"]
IDENTITY_BUILD_COLUMNS = ("_staged_through",)


def _marts() -> list[str]:
    """Every mart model that the DuckDB target builds (the Python predictions, not their Spark nodes)."""
    root = Path(__file__).resolve().parent.parent / "models" / "marts"
    return sorted({path.stem for path in [*root.rglob("*.sql"), *root.rglob("*.py")] if "spark" not in path.parts})


def _staged_by_run(db: Path) -> dict[str, dict[str, int]]:
    """Rows per base model and the run that staged them (_staged_at, ranked oldest first)."""
    with duckdb.connect(str(db), read_only=True) as con:
        return {model: dict(con.execute(
            f"select cast(dense_rank() over (order by _staged_at) as varchar), count(*) from {model} group by _staged_at"
        ).fetchall()) for model in BASE_MODELS}


def _drop_row(path: Path, key: str) -> None:
    """A source export that no longer carries a row (deleted upstream): the row whose first field is `key`."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    kept = [row for row in rows if row[0] != key]
    assert len(kept) == len(rows) - 1, key
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(kept)


def _append_merging_order(raw: Path, con: duckdb.DuckDBPyConnection) -> tuple[str, str]:
    """Append an order that joins two persons: a copy of one shop customer's order carrying the email of a
    CRM-only person (both strong identifiers). Returns the two persons' ids."""
    buyer, order_id, contact = con.execute("""
        with kinds as (
            select person_id, bool_or(source_name = 'crm_contacts') as has_crm,
                bool_or(source_name in ('shop_customers', 'shop_orders')) as has_shop
            from person_records group by person_id
        )
        select
            (select records.person_id from person_records as records inner join kinds using (person_id)
             where records.source_name = 'shop_orders' and not kinds.has_crm order by records.source_record_id limit 1),
            (select records.source_record_id from person_records as records inner join kinds using (person_id)
             where records.source_name = 'shop_orders' and not kinds.has_crm order by records.source_record_id limit 1),
            (select records.person_id from person_records as records inner join kinds using (person_id)
             inner join stg_crm__contacts as contacts on contacts.crm_contact_id = records.source_record_id
             where records.source_name = 'crm_contacts' and not kinds.has_shop and contacts.email is not null
             order by records.source_record_id limit 1)""").fetchone()
    email = con.execute("select min(contacts.email) from stg_crm__contacts as contacts inner join person_records "
                        "on person_records.source_record_id = contacts.crm_contact_id and "
                        "person_records.source_name = 'crm_contacts' where person_records.person_id = ?",
                        [contact]).fetchone()[0]
    path = raw / "shop_orders.csv"
    with path.open(newline="", encoding="utf-8") as fh:
        row = next(row for row in csv.DictReader(fh) if row["order_id"] == order_id)
    with path.open("a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row), lineterminator="\n")
        writer.writerow({**row, "order_id": "O-merging-1", "email": email})
    return buyer, contact


def _build(raw: Path, db: Path):
    """As `cdp build` and the Dagster staging step do: a new warehouse whose files ask for an erasure gets its
    identity graph first."""
    env = dict(os.environ, CDP_RAW_DIR=str(raw), CDP_DUCKDB_PATH=str(db), CDP_TARGET="duckdb")
    assert build_graph_if_erasures_need_it(db_path=db, raw_dir=raw, target="duckdb", env=env, log=print,
                                           dbt_executable=str(Path(sys.executable).with_name("dbt")),
                                           project_dir=PROJECT_DIR) == 0
    return dbt(raw, db, "build")


def _merge_two_persons(db: Path, web_events: Path) -> tuple[str, str]:
    """A web event that joins two persons of the first build: it carries one person's shop customer id and the
    CRM email of another, who has no shop account. The younger person's unchanged records take the older id,
    so the incremental identity marts must follow records whose person moved, not only changed records."""
    with duckdb.connect(str(db), read_only=True) as con:
        customer, email = con.execute("""
            with shop as (
                select identifier_value, person_id from identity_graph
                where identifier_type = 'shop_customer_id' and merge_decision = 'used'),
            crm_only as (
                select identifier_value, person_id from identity_graph
                where identifier_type = 'email' and merge_decision = 'used' and sources = 'crm_contacts'
                    and person_id not in (select person_id from shop))
            select shop.identifier_value, crm_only.identifier_value
            from shop join crm_only on crm_only.person_id <> shop.person_id
            order by 1, 2 limit 1""").fetchone()
    with web_events.open("a", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerow(
            ["E-merge-1", "", customer, email, "track", "Signed In", "https://shop.example.org/login",
             "2025-08-01T10:00:00Z"])
    return customer, email


def _split_one_person(db: Path, crm_contacts: Path) -> str:
    """A new version of a CRM contact whose person has other records, with a new email and no phone: only its
    email joined it to them, so the person splits. The part that keeps its cluster id has unchanged records
    only, so the id ledger must read the clusters of every record holding the split person's id."""
    with duckdb.connect(str(db), read_only=True) as con:
        contact = con.execute("""
            select source_record_id from person_records
            where source_name = 'crm_contacts' and person_id in (
                select person_id from person_records group by person_id
                having count(*) >= 3 and count(*) filter (where source_name = 'crm_contacts') = 1)
            order by source_record_id limit 1""").fetchone()[0]
    with crm_contacts.open(newline="", encoding="utf-8") as fh:
        row = next(r for r in csv.DictReader(fh) if r["contact_id"].strip().lower() == contact.lower())
    row.update(email=f"split.{contact.lower()}@splitmail.org", phone="",
               updated_at=(EPOCH + timedelta(days=SPAN_DAYS + 1)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    with crm_contacts.open("a", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerow(list(row.values()))
    return contact


def test_a_day_of_new_data_builds_incrementally_to_the_full_result(tmp_path: Path):
    raw = tmp_path / "raw"
    generate(2_000, 21, raw)
    erased_customer, erased_email = shop_customer_with_web_events(raw)
    append_request(raw, "erasure", erased_email, None, "first-erasure", datetime(2025, 6, 1, tzinfo=UTC))
    inc_db = tmp_path / "incremental.duckdb"
    _build(raw, inc_db)
    with duckdb.connect(str(inc_db), read_only=True) as con:
        # the first build's erasure went through the graph: the customer's web events (id only) are gone too
        assert con.execute("select status, persons_matched from privacy_request_log "
                           "where request_id = 'first-erasure'").fetchall() == [("erased", 1)]
        assert con.execute("select count(*) from base_web__events where user_id = ?", [erased_customer]).fetchone() \
            == (0,)
    with duckdb.connect(str(inc_db), read_only=True) as con:
        before = dict(((s, r), p) for s, r, p in con.execute(
            "select source_name, source_record_id, person_id from person_records").fetchall())
        # a web event of a person with several records, none of which the day changes: only the count and
        # fingerprint of the person's records tell the profile scope that this person changed
        dropped_event, dropped_person = con.execute("""
            select records.source_record_id, records.person_id
            from person_records as records
            inner join (select person_id from person_records group by person_id having count(*) >= 3) as persons
                on persons.person_id = records.person_id
            where records.source_name = 'web_events'
                and records.person_id not in (select person_id from person_records where source_name <> 'web_events')
            order by records.source_record_id limit 1""").fetchone()

    appended = append_day(raw, 22, 0.01, start_index=1_000_000)
    assert sum(appended.values()) > 50
    _drop_row(raw / "web_events.csv", dropped_event)
    with duckdb.connect(str(inc_db), read_only=True) as con:
        merged = _append_merging_order(raw, con)
    joined = _merge_two_persons(inc_db, raw / "web_events.csv")
    split = _split_one_person(inc_db, raw / "crm_contacts.csv")
    # the day's privacy request: a suppression. (An erasure is in the first build's files: a fresh warehouse
    # has no earlier graph to resolve a new erasure through, so a new erasure is erased differently there.)
    with duckdb.connect(str(inc_db), read_only=True) as con:
        email = con.execute("select email from stg_crm__contacts where email is not null order by crm_contact_id "
                            "limit 1").fetchone()[0]
    append_request(raw, "suppression", email, None, "day-suppression", datetime(2025, 6, 1, tzinfo=UTC))
    log = dbt(raw, inc_db, "build").stdout
    for model in ("int_records_clustered_strong", "int_records_clustered"):
        assert f"connected_components: {model} relabelled the changed components" in log
    full_db = tmp_path / "full.duckdb"
    _build(raw, full_db)

    # incremental: the day's run re-staged only the changed keys' rows, a small part of each table
    staged = _staged_by_run(inc_db)
    for model, by_run in staged.items():
        assert by_run.get("1", 0) > 0.8 * sum(by_run.values()), (model, by_run)
    assert sum(by_run.get("2", 0) for by_run in staged.values()) > 50

    con = duckdb.connect()
    con.execute(f"attach '{inc_db}' as inc (read_only)")
    con.execute(f"attach '{full_db}' as full_build (read_only)")
    # incremental identity: only the day's records (re-staged or vanished) were read again, a small part
    with duckdb.connect(str(inc_db), read_only=True) as inc_con:
        scoped = dict(inc_con.execute("select reason, count(*) from int_identity_scope_records group by reason")
                      .fetchall())
        observed_records = inc_con.execute("select count(distinct record_num) from int_identifiers_observed").fetchone()[0]
        scoped_values, values = inc_con.execute("select (select count(*) from int_identity_scope_values), "
                                                "(select count(*) from int_identifiers_screened)").fetchone()
        scoped_graph = inc_con.execute("select count(*) from int_identity_scope_graph").fetchone()[0]
        scoped_persons = inc_con.execute("select count(*) from int_identity_scope_person_records").fetchone()[0]
        moved = dict(inc_con.execute("select reason, count(*) from int_identity_scope_resolved group by reason")
                     .fetchall())
    assert scoped.get("vanished", 0) >= 1, scoped  # the deleted web event, the suppressed person's rows stay
    assert 50 < sum(scoped.values()) < 0.1 * observed_records, (scoped, observed_records)
    assert 50 < scoped_values <= scoped_graph < 0.2 * values, (scoped_values, scoped_graph, values)
    assert sum(scoped.values()) <= scoped_persons < 0.1 * observed_records, (scoped, scoped_persons)
    assert moved.get("cluster", 0) >= 1 and sum(moved.values()) < 0.1 * observed_records, moved  # the merge

    compared = [table for table in [*BASE_MODELS, *_marts(), *PROFILE_INCREMENTAL, *IDENTITY_TABLES]
                if table not in RUN_LOGS]
    assert {"customer_profiles", "customer_predictions", "sync_hubspot__contacts", "identity_graph"} <= set(compared)
    for prefix, db in (("inc", "inc"), ("full", "full_build")):
        for table in compared:
            con.execute(f"create view {prefix}_{table} as select * from {db}.main.{table}")
        person_keys_view(con, prefix)

    assert differences(con, clusters("inc"), clusters("full")) == []
    for table in compared:
        person_column = next((c for c in PERSON_COLUMNS if c in columns(con, f"inc_{table}")), None)
        inc, full = (comparable(con, f"{p}_{table}", person_column=person_column, prefix=p,
                                exclude=BUILD_COLUMNS + IDENTITY_BUILD_COLUMNS) for p in ("inc", "full"))
        if table not in EMPTY_WITHOUT_PROBABILISTIC_TIER:
            assert con.execute(f"select count(*) from ({full})").fetchone()[0] > 0, table
        diff = differences(con, inc, full)
        assert diff == [], (table, diff)

    # the profile models recomputed the persons in their scope only: a small part, which holds every person
    # whose records changed (the dropped event's person, the persons of the day's merges and splits)
    scope = {row[0] for row in con.execute("select person_id from inc.main.int_profile_scope_persons").fetchall()}
    persons = con.execute("select count(distinct person_id) from inc_person_records").fetchone()[0]
    assert 0 < len(scope) < 0.2 * persons, (len(scope), persons)
    assert dropped_person in scope
    # the day's run started at the latest staging time (its rows' _staged_at), before it assigned ids
    day_changes = con.execute("""select from_person_id, to_person_id, change_type from inc.main.person_id_history
        where changed_at >= (select max(_staged_at) from inc_base_shop__orders)""").fetchall()
    assert set(merged) in [{frm, to} for frm, to, _ in day_changes], (merged, day_changes)
    # the surviving person of a merge and both parts of a split were recomputed; the merged-away one has no
    # stored profile rows (the equality above), and the scope forgets vanished persons once the scoped models
    # deleted their rows (an erased id must go)
    current = {row[0] for row in con.execute("select distinct person_id from inc_person_records").fetchall()}
    assert {to for _, to, _ in day_changes} | {frm for frm, _, kind in day_changes if kind == "split"} <= scope
    assert scope <= current, day_changes
    assert {frm for frm, _, kind in day_changes if kind == "merge"}.isdisjoint(current), day_changes
    rewritten = con.execute("""select count(*) from inc.main.int_profile_scope_state
        where staged_through = (select max(staged_through) from inc.main.int_profile_scope_state)""").fetchone()[0]
    assert 0 < rewritten <= len(scope), (rewritten, len(scope))
    print(f"profile scope: {len(scope)} of {persons} persons, {len(day_changes)} id changes on the day")

    # the day's merge happened: the shop customer id and the CRM email now belong to one person
    assert con.execute("select count(distinct person_id) from inc_identity_graph where identifier_value in (?, ?)",
                       list(joined)).fetchone()[0] == 1

    # the day's split happened: the CRM contact has a person of its own
    assert con.execute("select count(*) from inc_person_records where person_id = (select person_id from "
                       "inc_person_records where source_name = 'crm_contacts' and source_record_id = ?)",
                       [split]).fetchone()[0] == 1

    # stable ids: a record keeps its person id unless its person merged with another or split
    after = dict(((s, r), p) for s, r, p in con.execute(
        "select source_name, source_record_id, person_id from inc_person_records").fetchall())
    kept = sum(1 for k, p in before.items() if after.get(k) == p)
    assert kept >= 0.97 * len(before), (kept, len(before))
    old_ids = set(before.values())
    history = {(f, t) for f, t in con.execute("select from_person_id, to_person_id from inc.main.person_id_history")
               .fetchall()}
    for key, old in before.items():
        new = after.get(key)
        if new is not None and new != old:
            assert (old, new) in history, (key, old, new)
            assert new in old_ids or any(f == old for f, _ in history)


def _components(db: Path) -> set[frozenset[str]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("select node, component_id from bench_chain_components").fetchall()
    by_label: dict[str, set[str]] = {}
    for node, label in rows:
        by_label.setdefault(label, set()).add(node)
    assert all(label == min(nodes) for label, nodes in by_label.items()), "a component is named by its smallest node"
    return {frozenset(nodes) for nodes in by_label.values()}


def test_connected_components_relabel_splits_and_merges_like_a_full_build(tmp_path: Path):
    generate(10, 1, tmp_path / "raw")  # on-run-start registers raw files, so a folder must exist
    db = tmp_path / "cc.duckdb"
    first = [("a", "b"), ("b", "c"), ("c", "d"), ("e", "f"), ("p", "q"), ("x", "y"), ("y", "z")]
    # the day: b-c removed (split), d-e added (merge), g-h new, p-q gone, x-y-z untouched
    day = [("a", "b"), ("c", "d"), ("d", "e"), ("e", "f"), ("g", "h"), ("x", "y"), ("y", "z")]
    # its own target path: a manifest with the harness enabled must not become the project's manifest
    run = ("run", "--select", "bench_chain_components", "--vars",
           '{"bench_chain": true, "bench_chain_incremental": true}', "--target-path", str(tmp_path / "target"))

    def write_edges(edges):
        with duckdb.connect(str(db)) as con:
            con.execute("create or replace table bench_chain_edges (node_a varchar, node_b varchar)")
            con.executemany("insert into bench_chain_edges values (?, ?)", edges)

    write_edges(first)
    dbt(tmp_path / "raw", db, *run)
    assert _components(db) == {frozenset("abcd"), frozenset("ef"), frozenset("pq"), frozenset("xyz")}
    write_edges(day)
    log = dbt(tmp_path / "raw", db, *run).stdout
    assert "bench_chain_components relabelled the changed components" in log
    expected = {frozenset("ab"), frozenset("cdef"), frozenset("gh"), frozenset("xyz")}
    assert _components(db) == expected
    log = dbt(tmp_path / "raw", db, *run, "--full-refresh").stdout
    assert "bench_chain_components labelled every node" in log
    assert _components(db) == expected


def test_a_base_table_from_an_older_version_is_restaged_in_full(tmp_path: Path):
    raw = tmp_path / "raw"
    generate(300, 5, raw)
    db = tmp_path / "w.duckdb"
    dbt(raw, db, "build", "--select", "+base_crm__contacts")
    with duckdb.connect(str(db)) as con:
        built = con.execute("select * exclude (_staged_at) from base_crm__contacts order by all").fetchall()
        con.execute("alter table base_crm__contacts drop column _staged_at")  # as a release without it left it
    log = dbt(raw, db, "build", "--select", "+base_crm__contacts").stdout
    assert "base_crm__contacts: stored columns differ from the model's (an upgrade); re-staging every row" in log
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("select * exclude (_staged_at) from base_crm__contacts order by all").fetchall() == built
        assert con.execute("select count(distinct _staged_at) from base_crm__contacts").fetchone()[0] == 1


def test_integer_node_components_converge_and_the_round_guard_fails_loudly(tmp_path: Path):
    """The identity passes' mode (integer node ids, rounds that write only their changes): a 500-node chain
    numbered out of order is one component named by its smallest node; with too few rounds allowed the
    materialization fails with a message instead of returning half-labelled components."""
    generate(10, 1, tmp_path / "raw")  # on-run-start registers raw files, so a folder must exist
    db = tmp_path / "cc.duckdb"
    order = [(i * 7919) % 500 for i in range(500)]  # a permutation of 0..499: labels must travel both ways
    edges = [(order[i], order[i + 1]) for i in range(499)] + [(1000, 1001), (1002, 1002)]
    with duckdb.connect(str(db)) as con:
        con.execute("create table bench_chain_edges (node_a bigint, node_b bigint)")
        con.executemany("insert into bench_chain_edges values (?, ?)", edges)
    run = ("run", "--select", "bench_chain_components", "--target-path", str(tmp_path / "target"), "--vars")
    log = dbt(tmp_path / "raw", db, *run, '{"bench_chain": true, "bench_chain_integer": true}').stdout
    assert "bench_chain_components labelled every node" in log
    with duckdb.connect(str(db), read_only=True) as con:
        rows = dict(con.execute("select node, component_id from bench_chain_components").fetchall())
        rounds = con.execute("select max(converged_in_rounds) from bench_chain_components").fetchone()[0]
    assert {node: rows[node] for node in range(500)} == dict.fromkeys(range(500), 0)
    assert (rows[1000], rows[1001], rows[1002]) == (1000, 1000, 1002)
    assert len(rows) == 503 and rounds <= 30
    failed = dbt(tmp_path / "raw", db, *run, '{"bench_chain": true, "bench_chain_integer": true, '
                 '"connected_components_max_rounds": 2}', check=False)
    assert failed.returncode != 0
    assert "did not converge within max_rounds=2" in failed.stdout
