"""The probabilistic identity tier: accuracy on FEBRL3/FEBRL4 at the default threshold, constrained joining of
clusters, and reviewers' decisions round-tripping through the raw file and real dbt builds."""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cdp.identity_clusters import Edge, join_clusters
from cdp.identity_explain import explain
from datagen import febrl
from cdp.identity_accuracy import score_splink_direct
from datagen.evaluation import f1, score_named_records
from datagen.sample_data import generate
from orchestration.identity_facts import Thresholds, identity_match_facts, thresholds_from_manifest
from tests.conftest import PROJECT_DIR, Warehouse, dbt

TIER_ON = {"identity_probabilistic_tier": True}
DECISION_COLUMNS = ["source_name_a", "source_record_id_a", "source_name_b", "source_record_id_b", "decision",
                    "decided_by", "decided_at"]


def default_threshold() -> float:
    return float(yaml.safe_load((PROJECT_DIR / "dbt_project.yml").read_text())["vars"]["auto_merge_threshold"])


@pytest.mark.parametrize(("which", "target"), [("febrl4", 0.995), ("febrl3", 0.99)])
def test_febrl_pair_f1_at_the_default_threshold(which: str, target: float, monkeypatch):
    # Splink logs each EM iteration; quiet only here (a global logging.disable would outlive the test)
    monkeypatch.setattr(logging.getLogger("splink"), "level", logging.ERROR)
    records = pd.concat(febrl.dataset(which).values(), ignore_index=True)
    score = score_splink_direct(records, default_threshold())
    print(f"\n{which}: precision {score.precision:.4f}, recall {score.recall:.4f}, F1 {f1(score):.4f}")
    assert f1(score) >= target


def test_keep_apart_refuses_an_edge_that_would_join_its_clusters():
    edges = [Edge(1, 2, "probabilistic_match", 0.999, "a", "b"), Edge(2, 3, "probabilistic_match", 0.995, "b", "c"),
             Edge(4, 5, "reviewer_merge", None, "d", "e")]
    joined = join_clusters(edges, [(1, 3)])
    component = dict(zip(joined["node"], joined["component_id"]))
    assert component[1] == component[2] == 1  # the stronger edge wins
    assert 3 not in component  # 2-3 would put 1 and 3 together
    assert component[4] == component[5] == 4
    chain = joined.set_index("node")
    assert chain.loc[2, "join_kind"] == "probabilistic_match" and chain.loc[5, "join_kind"] == "reviewer_merge"


def write_decisions(raw: Path, rows: list[list[str]]) -> None:
    with (raw / "identity_decisions.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(DECISION_COLUMNS)
        writer.writerows(rows)


def _person(wh: Warehouse, source: str, record_id: str) -> str:
    return wh.scalar(f"select person_id from person_records where source_name = '{source}' "
                     f"and source_record_id = '{record_id}'")


@pytest.fixture(scope="module")
def tier_warehouse(tmp_path_factory) -> Warehouse:
    root = tmp_path_factory.mktemp("tier")
    generate(1_500, 23, root / "raw")
    dbt(root / "raw", root / "warehouse.duckdb", "build", vars=TIER_ON)
    return Warehouse(root / "raw", root / "warehouse.duckdb")


def test_tier_raises_recall_among_named_records(tier_warehouse: Warehouse):
    scores = score_named_records(tier_warehouse.db_path, tier_warehouse.raw_dir)
    det, final = scores.deterministic, scores.final
    print(f"\nnamed records: deterministic P {det.precision:.4f} R {det.recall:.4f}; "
          f"with the tier P {final.precision:.4f} R {final.recall:.4f}")
    assert final.recall >= det.recall + 0.05
    assert final.precision >= det.precision - 0.002
    joined = dict(tier_warehouse.sql("select joined_by, count(*) from person_records group by joined_by"))
    assert joined.get("probabilistic_match", 0) > 0
    queue = tier_warehouse.scalar("select count(*) from identity_review_queue where reason = 'uncertain_match'")
    assert queue > 0


def test_asset_metadata_shows_the_weight_histogram_and_decision_bands(tier_warehouse: Warehouse):
    wh = tier_warehouse
    thresholds = thresholds_from_manifest(PROJECT_DIR / "target" / "manifest.json")
    assert thresholds == Thresholds(default_threshold(), 0.5)
    facts = identity_match_facts(wh.db_path, ["int_identity_pairs_scored", "int_clusters_matched", "other"],
                                 thresholds)
    assert set(facts) == {"int_identity_pairs_scored", "int_clusters_matched"}
    meta = facts["int_clusters_matched"]
    # the auto-merge band is what the clusters were joined through; the review band what waits in the queue
    edges = wh.scalar("select count(*) from int_identity_cluster_edges where edge_kind = 'probabilistic_match'")
    assert meta["pairs_auto_merge"] == edges > 0
    uncertain = wh.scalar("""
        select count(*) from int_identity_pairs_scored as p
        inner join int_identity_match_records as a on a.record_key = p.record_key_a
        inner join int_identity_match_records as b on b.record_key = p.record_key_b
        where a.cluster_id <> b.cluster_id and p.match_probability >= 0.5 and p.match_probability < 0.99""")
    assert meta["pairs_review"] == uncertain > 0
    assert meta["pairs_review"] >= wh.scalar("select count(*) from identity_review_queue where reason = 'uncertain_match'")
    assert meta["pairs_below_review"] > 0 and meta["pairs_decided_by_reviewer"] == 0
    histogram = meta["match_weight_histogram"].value
    counts = [int(line.split("|")[2]) for line in histogram.splitlines()[2:]]
    assert sum(counts) == meta["pairs_auto_merge"] + meta["pairs_review"] + meta["pairs_below_review"]
    assert "| auto-merge | " in meta["decision_bands"].value
    assert identity_match_facts(wh.db_path, ["customer_profiles"], thresholds) == {}


def test_decisions_merge_and_keep_apart_survive_rebuilds(tier_warehouse: Warehouse):
    wh = tier_warehouse
    # two CRM contacts of different persons, and a CRM contact without a phone sharing its email with a shop
    # account (one person, joined by that email alone)
    a, b = [r[0] for r in wh.sql(
        "select min(source_record_id) from person_records where source_name = 'crm_contacts' group by person_id "
        "order by 1 limit 2")]
    shop, contact = wh.sql("""
        select customers.shop_customer_id, contacts.crm_contact_id
        from stg_shop__customers as customers
        inner join stg_crm__contacts as contacts on contacts.email = customers.email
        where contacts.phone is null and contacts.crm_contact_id not in (?, ?)
        order by 1, 2 limit 1""", [a, b])[0]
    assert _person(wh, "crm_contacts", a) != _person(wh, "crm_contacts", b)
    assert _person(wh, "shop_customers", shop) == _person(wh, "crm_contacts", contact)
    write_decisions(wh.raw_dir, [
        ["crm_contacts", a, "crm_contacts", b, "merge", "reviewer@example.org", "2026-01-02T10:00:00Z"],
        ["crm_contacts", contact, "shop_customers", shop, "keep_apart", "reviewer@example.org", "2026-01-02T10:05:00Z"],
        ["crm_contacts", a, "nowhere", "x", "merge", "reviewer@example.org", "2026-01-02T10:06:00Z"],
    ])
    for _ in range(2):  # the decisions hold on the next build and on the one after it
        dbt(wh.raw_dir, wh.db_path, "run", vars=TIER_ON)
        merged = _person(wh, "crm_contacts", a)
        assert merged == _person(wh, "crm_contacts", b)
        assert _person(wh, "shop_customers", shop) != _person(wh, "crm_contacts", contact)
        assert wh.scalar("select count(*) from int_identity_decisions where invalid_reason = 'unknown_source'") == 1
    assert wh.scalar("select count(*) from person_id_history where change_type = 'merge'") >= 1
    joined_by = wh.scalar(f"select joined_by from person_records where person_id = '{merged}' "
                          "and joined_by <> 'identifier' limit 1")
    assert joined_by == "reviewer_merge"
    lines = explain(wh.db_path, merged)
    assert any("reviewer's merge by reviewer@example.org" in line for line in lines), lines
