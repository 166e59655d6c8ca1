"""Identity-resolution quality against the generator's ground truth: pairwise precision and recall of
records-to-persons, compared with the ideal deterministic clusters (records of one person joined through
real, non-placeholder identifiers; see datagen.sample_data.ideal_clusters)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb

from datagen.sample_data import ideal_clusters, read_ground_truth


@dataclass(frozen=True)
class PairwiseScore:
    records: int
    precision: float
    recall: float
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def pairwise_score(predicted: dict[tuple[str, str], str], ideal: dict[tuple[str, str], str]) -> PairwiseScore:
    """Pairs of records put together, counted through cluster sizes (no quadratic enumeration)."""
    keys = [k for k in predicted if k in ideal]
    pred_sizes = Counter(predicted[k] for k in keys)
    ideal_sizes = Counter(ideal[k] for k in keys)
    joint = Counter((predicted[k], ideal[k]) for k in keys)
    predicted_pairs = sum(_pairs(n) for n in pred_sizes.values())
    true_pairs = sum(_pairs(n) for n in ideal_sizes.values())
    correct = sum(_pairs(n) for n in joint.values())
    return PairwiseScore(
        records=len(keys),
        precision=correct / predicted_pairs if predicted_pairs else 1.0,
        recall=correct / true_pairs if true_pairs else 1.0,
        true_pairs=true_pairs,
        predicted_pairs=predicted_pairs,
        correct_pairs=correct,
    )


def score_warehouse(duckdb_path: Path, raw_dir: Path) -> PairwiseScore:
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        rows = con.execute("select source_name, source_record_id, person_id from person_records").fetchall()
    predicted = {(s, r): p for s, r, p in rows}
    return pairwise_score(predicted, ideal_clusters(read_ground_truth(raw_dir)))
