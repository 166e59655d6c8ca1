"""Identity-resolution quality against the generator's ground truth: pairwise precision and recall of
records-to-persons, compared with the ideal deterministic clusters (records of one person joined through
real, non-placeholder identifiers; see ideal_clusters below)."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import duckdb


def read_ground_truth(folder: Path) -> list[dict[str, str]]:
    with (folder / "ground_truth.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def ideal_clusters(truth: list[dict[str, str]]) -> dict[tuple[str, str], str]:
    """Records of one person joined through the identifiers they carry (union-find within a person)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for row in truth:
        node = f"r|{row['source_name']}|{row['source_record_id']}"
        find(node)
        for k in filter(None, row["link_keys"].split("|")):
            union(node, f"k|{row['person_key']}|{k}")
    return {(r["source_name"], r["source_record_id"]): find(f"r|{r['source_name']}|{r['source_record_id']}")
            for r in truth}


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


def _rows(duckdb_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(duckdb_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def score_warehouse(duckdb_path: Path, raw_dir: Path) -> PairwiseScore:
    predicted = {(s, r): p for s, r, p in _rows(duckdb_path, "select source_name, source_record_id, person_id "
                                                               "from person_records")}
    return pairwise_score(predicted, ideal_clusters(read_ground_truth(raw_dir)))


NAMED_SOURCES = ("crm_contacts", "shop_customers", "support_tickets")


@dataclass(frozen=True)
class NamedRecordScores:
    """Pair scores among named records (CRM contacts, shop accounts, tickets) against the true persons: the
    deterministic graph alone (deterministic_cluster_id) and with the probabilistic tier and decisions."""

    deterministic: PairwiseScore
    final: PairwiseScore


def f1(score: PairwiseScore) -> float:
    total = score.precision + score.recall
    return 2 * score.precision * score.recall / total if total else 0.0


def score_named_records(duckdb_path: Path, raw_dir: Path) -> NamedRecordScores:
    names = ", ".join(f"'{s}'" for s in NAMED_SOURCES)
    rows = _rows(duckdb_path, f"""
        select resolved.source_name, resolved.source_record_id, resolved.deterministic_cluster_id, records.person_id
        from int_records_resolved as resolved
        inner join person_records as records on records.record_key = resolved.record_key
        where resolved.source_name in ({names})""")
    truth = {(r["source_name"], r["source_record_id"]): r["person_key"] for r in read_ground_truth(raw_dir)
             if r["source_name"] in NAMED_SOURCES}
    deterministic = {(s, r): str(c) for s, r, c, _ in rows}
    final = {(s, r): p for s, r, _, p in rows}
    return NamedRecordScores(pairwise_score(deterministic, truth), pairwise_score(final, truth))


def score_person_records(duckdb_path: Path, truth: dict[tuple[str, str], str]) -> PairwiseScore:
    """person_records of a warehouse against known true persons (FEBRL's)."""
    rows = _rows(duckdb_path, "select source_name, source_record_id, person_id from person_records")
    return pairwise_score({(s, r): p for s, r, p in rows}, truth)
