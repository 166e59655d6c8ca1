"""What the probabilistic identity tier's assets report after a build: the match-weight histogram of the scored
record pairs and how many pairs each decision band holds (auto-merge, review, below review, decided by a
reviewer). An operator sees there whether the thresholds sit in the valley between the two humps of the
histogram, and how much work the review queue holds, without opening the warehouse. Read from DuckDB after dbt
released its write lock; pairs inside one deterministic cluster are left out (they change nothing)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb

from cdp.report import markdown_table

PAIRS_TABLE = "int_identity_pairs_scored"
CLUSTERS_TABLE = "int_clusters_matched"
NEEDED = {PAIRS_TABLE, "int_identity_match_records", "int_identity_decisions"}
BANDS = ("auto-merge", "review", "below review", "decided by reviewer")
BAR_WIDTH = 40

CROSS_CLUSTER_PAIRS_SQL = f"""
    select pairs.record_key_a, pairs.record_key_b, pairs.match_probability, pairs.match_weight
    from main.{PAIRS_TABLE} as pairs
    inner join main.int_identity_match_records as records_a on records_a.record_key = pairs.record_key_a
    inner join main.int_identity_match_records as records_b on records_b.record_key = pairs.record_key_b
    where records_a.cluster_id <> records_b.cluster_id
"""


@dataclass(frozen=True)
class Thresholds:
    auto_merge: float
    review: float


def thresholds_from_manifest(manifest_path: Path) -> Thresholds | None:
    """The thresholds the build used, as dbt rendered them into the pairs model's config (vars
    auto_merge_threshold and review_threshold); None when the manifest has no such model."""
    manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    for node in manifest.get("nodes", {}).values():
        config = node.get("config", {})
        if node.get("name") == PAIRS_TABLE and "auto_merge_threshold" in config and "review_threshold" in config:
            return Thresholds(float(config["auto_merge_threshold"]), float(config["review_threshold"]))
    return None


def band_counts(con: duckdb.DuckDBPyConnection, thresholds: Thresholds) -> dict[str, int]:
    """Pairs per decision band. A pair a reviewer decided counts once, under decided by reviewer (the decision
    replaces its score), as does a decision on a pair the tier did not score."""
    rows = con.execute(f"""
        with pairs as ({CROSS_CLUSTER_PAIRS_SQL}),
        decided as (select record_key_a, record_key_b from main.int_identity_decisions where is_applied)
        select
            case
                when pairs.match_probability >= ? then 'auto-merge'
                when pairs.match_probability >= ? then 'review'
                else 'below review'
            end as band,
            count(*) as pairs
        from pairs
        left join decided
            on decided.record_key_a = pairs.record_key_a and decided.record_key_b = pairs.record_key_b
        where decided.record_key_a is null
        group by band
        union all
        select 'decided by reviewer', count(*) from decided""", [thresholds.auto_merge, thresholds.review]).fetchall()
    counts = dict.fromkeys(BANDS, 0)
    counts.update({band: int(n) for band, n in rows})
    return counts


def weight_histogram(con: duckdb.DuckDBPyConnection) -> list[tuple[int, int]]:
    """(lower edge, pairs) per one-bit bin of match weight, lowest bin first."""
    return [(int(edge), int(n)) for edge, n in con.execute(f"""
        select floor(match_weight) as edge, count(*) from ({CROSS_CLUSTER_PAIRS_SQL}) as pairs
        where match_weight is not null group by edge order by edge""").fetchall()]


def histogram_markdown(bins: list[tuple[int, int]]) -> str:
    most = max((n for _, n in bins), default=0)
    rows = [(f"[{edge}, {edge + 1})", n, "█" * max(1, round(BAR_WIDTH * n / most)) if n else "")
            for edge, n in bins]
    return markdown_table(["match weight (bits)", "pairs", ""], rows)


def identity_match_facts(db_path: Path, tables: list[str], thresholds: Thresholds | None) -> dict[str, dict[str, Any]]:
    """Metadata for the pairs and matched-clusters assets built in this step: the histogram as Markdown, the
    band counts as a Markdown table and one integer entry per band (so the UI plots them across runs)."""
    wanted = {PAIRS_TABLE, CLUSTERS_TABLE} & set(tables)
    if not wanted or thresholds is None or not db_path.exists():
        return {}
    with duckdb.connect(str(db_path), read_only=True) as con:
        built = {name for (name,) in con.execute("select table_name from information_schema.tables "
                                                 "where table_schema = 'main'").fetchall()}
        if not NEEDED <= built:
            return {}
        bands = band_counts(con, thresholds)
        bins = weight_histogram(con)
    facts: dict[str, Any] = {
        "match_weight_histogram": dg.MetadataValue.md(histogram_markdown(bins)),
        "decision_bands": dg.MetadataValue.md(markdown_table(
            ["band", "pairs"], [(band, bands[band]) for band in BANDS])),
        "auto_merge_threshold": thresholds.auto_merge,
        "review_threshold": thresholds.review,
        **{f"pairs_{band.replace(' ', '_').replace('-', '_')}": bands[band] for band in BANDS},
    }
    return {table: dict(facts) for table in wanted}
