"""`cdp identity explain PERSON_ID`: how each record of a person joined it. The person's records are grouped by
deterministic cluster (records that share identifiers; the identifier types shared are named, not their values),
and the clusters are chained by the pairs that joined them: a probabilistic match with its probability, or a
reviewer's merge with who decided and when. Read from the warehouse in read-only mode; prints no email, phone or
name, only source record ids."""

from __future__ import annotations

import argparse
from collections import defaultdict
from pathlib import Path

from cdp.report import query, table_exists
from cdp.settings import load_settings

RECORDS_SQL = """
    select records.record_key, records.source_name, records.source_record_id, records.joined_by,
        records.join_probability, records.joined_record_key_a, records.joined_record_key_b,
        resolved.deterministic_cluster_id
    from person_records as records
    inner join int_records_resolved as resolved on resolved.record_key = records.record_key
    where records.person_id = ?
    order by resolved.deterministic_cluster_id, records.source_name, records.source_record_id
"""
SHARED_SQL = """
    select resolved.deterministic_cluster_id, observed.identifier_type, count(distinct observed.identifier_num)
    from int_identifiers_observed as observed
    inner join int_records_resolved as resolved on resolved.record_key = observed.record_key
    inner join person_records as records on records.record_key = observed.record_key
    where records.person_id = ?
    group by resolved.deterministic_cluster_id, observed.identifier_type, observed.identifier_num
    having count(distinct observed.record_key) > 1
"""
DECISION_SQL = """
    select decided_by, cast(decided_at as varchar) from int_identity_decisions
    where is_applied and record_key_a = ? and record_key_b = ?
"""


def _label(record_key: str) -> str:
    _, source, record_id = record_key.split("|", 2)
    return f"{source}/{record_id}"


def explain(db_path: Path, person_id: str) -> list[str]:
    """The chain as lines of text; a clear message when the person or the identity tables are missing."""
    if not table_exists(db_path, "person_records"):
        return [f"no person_records table in {db_path}: build the warehouse first (cdp build)"]
    _, records = query(db_path, RECORDS_SQL, [person_id])
    if not records:
        return [f"no person {person_id!r} in person_records"]
    clusters: dict[int, list[tuple]] = defaultdict(list)
    for row in records:
        clusters[row[7]].append(row)
    _, shared = query(db_path, SHARED_SQL, [person_id])
    shared_types: dict[int, set[str]] = defaultdict(set)
    for cluster, identifier_type, _count in shared:
        shared_types[cluster].add(identifier_type)
    lines = [f"person {person_id}: {len(records)} records in {len(clusters)} deterministic cluster(s)"]
    for n, (cluster, rows) in enumerate(clusters.items(), start=1):
        how = ", ".join(sorted(shared_types[cluster])) or "a single record"
        lines.append(f"  cluster {n} (joined by shared {how}):" if len(rows) > 1 else f"  cluster {n}:")
        lines += [f"    {source}/{record_id}" for _, source, record_id, *_ in rows]
        joined_by, probability, key_a, key_b = rows[0][3:7]
        if joined_by == "probabilistic_match":
            lines.append(f"    joined the person by a probabilistic match, probability {probability:.4f}: "
                         f"{_label(key_a)} ~ {_label(key_b)}")
        elif joined_by == "reviewer_merge":
            _, decided = query(db_path, DECISION_SQL, [key_a, key_b])
            who = f" by {decided[0][0]} at {decided[0][1]}" if decided else ""
            lines.append(f"    joined the person by a reviewer's merge{who}: {_label(key_a)} = {_label(key_b)}")
    return lines


def cmd_explain(args: argparse.Namespace) -> int:
    lines = explain(load_settings().duckdb_path, args.person_id)
    print("\n".join(lines))
    return 0 if len(lines) > 1 else 1


def add_identity_parser(sub) -> None:
    p = sub.add_parser("identity", help="identity resolution: explain how a person's records were joined")
    isub = p.add_subparsers(dest="identity_command", required=True)
    e = isub.add_parser("explain", help="the chain of identifiers, matches and decisions behind one person")
    e.add_argument("person_id", help="a person_id of customer_profiles or person_records")
    e.set_defaults(func=cmd_explain)
