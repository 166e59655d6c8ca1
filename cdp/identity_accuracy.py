"""The probabilistic tier's matcher scored on its own against known true persons (FEBRL), outside dbt: what it
can reach when it is given every column the data set has, beside what the raw contract's columns allow."""

from __future__ import annotations

import pandas as pd

from cdp.identity_clusters import Edge, join_clusters
from cdp.identity_model import score_pairs
from datagen.evaluation import PairwiseScore, pairwise_score


def score_splink_direct(records: pd.DataFrame, auto_merge_threshold: float) -> PairwiseScore:
    """The tier's matcher on a frame with every column it can compare (FEBRL's date of birth, postcode, address
    and national id included), each record its own cluster, clusters joined at auto_merge_threshold."""
    frame = records.drop(columns=["person"]).assign(cluster_id=range(len(records)))
    pairs = score_pairs(frame, min_probability=auto_merge_threshold)
    ids = dict(zip(frame["unique_id"], frame["cluster_id"]))
    joined = join_clusters([Edge(ids[a], ids[b], "probabilistic_match", p, a, b) for a, b, p in
                            zip(pairs["unique_id_l"], pairs["unique_id_r"], pairs["match_probability"])], [])
    component = dict(zip(joined["node"], joined["component_id"]))
    predicted = {("febrl", u): str(component.get(c, c)) for u, c in ids.items()}
    return pairwise_score(predicted, {("febrl", u): p for u, p in zip(records["unique_id"], records["person"])})
