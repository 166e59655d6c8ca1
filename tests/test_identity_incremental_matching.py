"""Incremental matching in the probabilistic tier: an incremental build compares only new and changed named records
with every record, using the model stored at the last full build, and gives the pairs and joined clusters that
scoring every record with that model gives; a full refresh retrains the model. Real dbt builds on DuckDB."""

from __future__ import annotations

from pathlib import Path

import pytest

from datagen.sample_data import append_day, generate
from tests.conftest import Warehouse, dbt

TIER_ON = {"identity_probabilistic_tier": True}
PAIRS = "select record_key_a, record_key_b, match_probability from int_identity_pairs_scored order by 1, 2"
CLUSTERS = "select node, component_id from int_clusters_matched order by node"
MODEL = "select trained_at, trained_on_records from int_identity_match_model where part = 'settings'"


def assert_same_pairs(left: list[tuple], right: list[tuple]) -> None:
    assert [(a, b) for a, b, _ in left] == [(a, b) for a, b, _ in right]
    assert max((abs(p - q) for (_, _, p), (_, _, q) in zip(left, right)), default=0.0) < 1e-9


@pytest.fixture(scope="module")
def day_two(tmp_path_factory) -> tuple[Warehouse, dict]:
    """1,500 persons built with the tier on, then a day of new and changed records built incrementally."""
    root: Path = tmp_path_factory.mktemp("incremental_matching")
    raw, db = root / "raw", root / "warehouse.duckdb"
    generate(1_500, 41, raw)
    dbt(raw, db, "build", vars=TIER_ON)
    wh = Warehouse(raw, db)
    first = {"model": wh.sql(MODEL), "pairs": wh.sql(PAIRS)}
    append_day(raw, 42, 0.02, start_index=1_000_000)
    dbt(raw, db, "build", vars=TIER_ON)
    return wh, first


def test_incremental_matching_equals_scoring_every_record(day_two):
    wh, first = day_two
    records = wh.scalar("select count(*) from int_identity_match_records")
    scope = dict(wh.sql("select reason, count(*) from int_identity_scope_match_records group by reason"))
    assert "model" not in scope and 0 < scope.get("changed", 0) < 0.1 * records, scope
    assert wh.sql(MODEL) == first["model"], "an incremental build keeps the stored model"
    incremental = {"pairs": wh.sql(PAIRS), "clusters": wh.sql(CLUSTERS)}
    assert incremental["pairs"] != first["pairs"], "the day's records were scored"
    # every record scored again with the same stored model: the pairs and joined clusters are the same
    dbt(wh.raw_dir, wh.db_path, "run", "--full-refresh", "--select", "int_identity_pairs_scored", vars=TIER_ON)
    dbt(wh.raw_dir, wh.db_path, "run", "--select", "int_identity_pairs_undecided int_identity_cluster_edges "
        "int_clusters_matched", vars=TIER_ON)
    assert wh.sql(MODEL) == first["model"]
    assert_same_pairs(incremental["pairs"], wh.sql(PAIRS))
    assert incremental["clusters"] == wh.sql(CLUSTERS)


def test_full_refresh_retrains_the_model(day_two):
    wh, first = day_two
    dbt(wh.raw_dir, wh.db_path, "run", "--full-refresh", "--select", "int_identity_match_model "
        "int_identity_scope_match_records int_identity_pairs_scored int_identity_match_fingerprints", vars=TIER_ON)
    (trained_at, trained_on), = wh.sql(MODEL)
    assert trained_at > first["model"][0][0]
    assert trained_on == wh.scalar("select count(*) from int_identity_match_records") > first["model"][0][1]
    # the next incremental build finds nothing new to score with the retrained model
    dbt(wh.raw_dir, wh.db_path, "run", "--select", "int_identity_scope_match_records int_identity_pairs_scored "
        "int_identity_match_fingerprints", vars=TIER_ON)
    assert wh.scalar("select count(*) from int_identity_scope_match_records") == 0
