"""Identity resolution measured against the generator's ground truth, and person-id stability."""

from __future__ import annotations

import shutil
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

from datagen.evaluation import pairwise_score, score_warehouse
from datagen.evaluation import ideal_clusters, read_ground_truth
from datagen.sample_data import generate
from tests.conftest import Warehouse, build_warehouse, dbt, read_csv_rows


def test_pairwise_score_counts_pairs():
    ideal = {("s", "1"): "a", ("s", "2"): "a", ("s", "3"): "a", ("s", "4"): "b"}
    perfect = pairwise_score(dict(ideal), ideal)
    assert (perfect.precision, perfect.recall) == (1.0, 1.0)
    split = pairwise_score({("s", "1"): "x", ("s", "2"): "x", ("s", "3"): "y", ("s", "4"): "z"}, ideal)
    assert (split.precision, round(split.recall, 3)) == (1.0, 0.333)
    merged = pairwise_score({k: "x" for k in ideal}, ideal)
    assert (merged.precision, merged.recall) == (0.5, 1.0)


def test_precision_and_recall_against_ground_truth(identity_warehouse: Warehouse):
    score = score_warehouse(identity_warehouse.db_path, identity_warehouse.raw_dir)
    print(f"\nidentity resolution on 20,000 generated persons: {score.records} records, "
          f"pairwise precision {score.precision:.4f}, recall {score.recall:.4f} "
          f"({score.correct_pairs}/{score.predicted_pairs} predicted pairs correct, "
          f"{score.correct_pairs}/{score.true_pairs} true pairs found)")
    assert score.records > 90_000
    assert score.precision >= 0.99
    assert score.recall >= 0.99


def test_households_and_shared_mailboxes_do_not_merge(identity_warehouse: Warehouse):
    drops = dict(identity_warehouse.sql(
        "select merge_rule, count(*) from identity_merge_rule_drops group by merge_rule"))
    assert drops.get("bridges_clusters", 0) > 0, "household landlines are caught"
    assert drops.get("shared", 0) > 0, "the agency mailbox on many shop accounts is caught"
    assert identity_warehouse.scalar(
        "select max(shop_customer_id_count) from customer_profiles") == 1


def test_order_count_and_lifetime_value_exact_for_resolved_persons(identity_warehouse: Warehouse):
    wh = identity_warehouse
    truth = read_ground_truth(wh.raw_dir)
    ideal = ideal_clusters(truth)
    predicted = {(s, r): p for s, r, p in wh.sql("select source_name, source_record_id, person_id from person_records")}
    # a person is correctly resolved when their predicted cluster holds exactly their ideal cluster
    members: dict[str, set] = defaultdict(set)
    for key, person in predicted.items():
        members[person].add(key)
    ideal_members: dict[str, set] = defaultdict(set)
    for key, cluster in ideal.items():
        if key in predicted:
            ideal_members[cluster].add(key)
    resolved = {p for p, keys in members.items()
                if len({ideal.get(k) for k in keys}) == 1 and ideal_members[ideal[next(iter(keys))]] == keys}
    orders = {r[0]: (r[1], r[2]) for r in wh.sql(
        "select shop_order_id, is_revenue, total_amount_reporting from stg_shop__orders")}
    expected: dict[str, list] = defaultdict(lambda: [0, Decimal(0)])
    for (source, record_id), person in predicted.items():
        if source == "shop_orders" and person in resolved:
            is_revenue, amount = orders[record_id]
            if is_revenue:
                expected[person][0] += 1
                expected[person][1] += amount
    profiles = {p: (c, v) for p, c, v in wh.sql("select person_id, order_count, lifetime_value from customer_profiles")}
    wrong = [(p, profiles[p], tuple(expected[p])) for p in resolved
             if (profiles[p][0], profiles[p][1]) != (expected[p][0], expected[p][1])]
    assert len(resolved) > 0.95 * len(members)
    assert not wrong, wrong[:5]
    # and the revenue statuses are the only ones counted
    raw_statuses = {r["order_id"]: r["status"] for r in read_csv_rows(wh.raw_dir / "shop_orders.csv")}
    assert all(raw_statuses[o].strip().lower() in ("paid", "shipped") for o, (rev, _) in orders.items() if rev)


def _append_raw(dst: Path, src: Path) -> None:
    for f in src.glob("*.csv"):
        if f.name == "ground_truth.csv":
            continue
        lines = f.read_text(encoding="utf-8").splitlines(keepends=True)[1:]
        with (dst / f.name).open("a", encoding="utf-8") as fh:
            fh.writelines(lines)


def test_person_ids_are_stable_and_merges_are_recorded(tmp_path: Path):
    raw = tmp_path / "raw"
    generate(2_000, 3, raw)
    db = tmp_path / "w.duckdb"
    wh = build_warehouse(raw, db)
    before = {(s, r): p for s, r, p in wh.sql("select source_name, source_record_id, person_id from person_records")}

    # a shop customer and a person known only by email: a new order by the customer, paid with the
    # other person's email address, ties them together through strong identifiers
    customer_person, customer_id = wh.sql("""
        select g.person_id, g.identifier_value from identity_graph g
        join customer_profiles p on p.person_id = g.person_id
        where g.identifier_type = 'shop_customer_id' and p.shop_customer_id_count = 1
        order by g.identifier_value limit 1
    """)[0]
    email_person, email = wh.sql("""
        select person_id, email from customer_profiles
        where shop_customer_id_count = 0 and email_count = 1 and email is not null
        order by email limit 1
    """)[0]
    people_before = {customer_person, email_person}

    # a day of new data: new persons, plus the bridging order
    generate(40, 4, tmp_path / "day2", start_index=10_000)
    _append_raw(raw, tmp_path / "day2")
    with (raw / "shop_orders.csv").open("a", encoding="utf-8") as fh:
        fh.write(f"OX1,{customer_id},{email},paid,USD,10.00,2026-10-01T10:00:00Z\n")
    dbt(raw, db, "build")
    after = {(s, r): p for s, r, p in wh.sql("select source_name, source_record_id, person_id from person_records")}
    history = {(f, t, c) for f, t, c in wh.sql("select from_person_id, to_person_id, change_type from person_id_history")}

    changed = {(before[k], after[k]) for k in before if k in after and before[k] != after[k]}
    assert changed, "the bridge merged two people"
    for old, new in changed:
        assert (old, new, "merge") in history or (old, new, "split") in history, (old, new)
    merged = {after[k] for k in before if before[k] in people_before}
    assert len(merged) == 1 and merged <= people_before, "one of the two existing ids survives"
    assert after[("shop_orders", "OX1")] in merged
    assert len(after) > len(before), "new records were added"
    # ids of everyone else did not move; new persons got ids never used before
    assert len(changed) == 1
    assert not ({after[k] for k in after if k not in before} & ({f for f, _, _ in history}))

    # a rebuild with no new data changes nothing
    dbt(raw, db, "build")
    again = {(s, r): p for s, r, p in wh.sql("select source_name, source_record_id, person_id from person_records")}
    assert again == after
    shutil.rmtree(tmp_path / "day2")
