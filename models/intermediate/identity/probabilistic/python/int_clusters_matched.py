"""Deterministic clusters joined by the probabilistic tier and by reviewers (cdp.identity_clusters): confident
pairs (match probability >= var auto_merge_threshold) and reviewer merges join clusters unless a reviewer's
keep_apart separates them. node: a deterministic cluster (pass 2 of the graph), component_id: the joined cluster
the person-id ledger sees. A dbt Python model, enabled with int_identity_pairs_scored (../fallback/ otherwise)."""

from cdp.identity_clusters import edges_from_frame, join_clusters


def model(dbt, session):
    dbt.config(materialized="table")
    edges = dbt.ref("int_identity_cluster_edges").df()
    joins = edges[edges["edge_kind"] != "keep_apart"]
    apart = edges[edges["edge_kind"] == "keep_apart"]
    return join_clusters(edges_from_frame(joins), zip(apart["cluster_a"].astype("int64"),
                                                      apart["cluster_b"].astype("int64")))
