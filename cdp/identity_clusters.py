"""Joins deterministic clusters through the probabilistic tier's confident pairs and reviewers' merge decisions,
never through a reviewer's keep_apart: edges are taken one by one (reviewer merges first, then pairs by falling
match probability) and an edge is refused when it would put two clusters a keep_apart separates into one person.
Plain union-find with cannot-link sets: the glue between Splink's scores and the person-id ledger."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

MERGED_COLUMNS = ["node", "component_id", "join_kind", "join_probability", "join_record_key_a", "join_record_key_b"]


@dataclass(frozen=True)
class Edge:
    cluster_a: int
    cluster_b: int
    kind: str  # probabilistic_match or reviewer_merge
    probability: float | None
    record_key_a: str
    record_key_b: str


def _order(edges: Iterable[Edge]) -> list[Edge]:
    return sorted(edges, key=lambda e: (e.kind != "reviewer_merge", -(e.probability or 0.0), e.record_key_a,
                                        e.record_key_b))


def join_clusters(edges: Iterable[Edge], keep_apart: Iterable[tuple[int, int]]) -> pd.DataFrame:
    """One row per deterministic cluster that joined others: node, component_id (the smallest cluster id of its
    set), and for every node but that one the edge through which it is reached from it (a spanning tree of the
    accepted edges, so `cdp identity explain` prints a chain)."""
    members: dict[int, set[int]] = {}
    root: dict[int, int] = {}
    apart: dict[int, set[int]] = {}
    for a, b in keep_apart:
        apart.setdefault(a, set()).add(b)
        apart.setdefault(b, set()).add(a)

    def find(x: int) -> int:
        members.setdefault(x, {x})
        return root.setdefault(x, x)

    accepted: list[Edge] = []
    for edge in _order(edges):
        ra, rb = find(edge.cluster_a), find(edge.cluster_b)
        if ra == rb:
            continue
        small, large = sorted((members[ra], members[rb]), key=len)
        if any(partner in large for node in small for partner in apart.get(node, ())):
            continue
        keep, gone = (ra, rb) if len(members[ra]) >= len(members[rb]) else (rb, ra)
        members[keep] |= members.pop(gone)
        for node in members[keep]:
            root[node] = keep
        accepted.append(edge)
    return _spanning_rows(members, accepted)


def _spanning_rows(members: dict[int, set[int]], accepted: list[Edge]) -> pd.DataFrame:
    adjacent: dict[int, list[Edge]] = {}
    for edge in accepted:
        adjacent.setdefault(edge.cluster_a, []).append(edge)
        adjacent.setdefault(edge.cluster_b, []).append(edge)
    rows = []
    for nodes in members.values():
        if len(nodes) < 2:
            continue
        component = min(nodes)
        rows.append((component, component, None, None, None, None))
        seen, queue = {component}, deque([component])
        while queue:
            here = queue.popleft()
            for edge in adjacent.get(here, ()):
                there = edge.cluster_b if edge.cluster_a == here else edge.cluster_a
                if there in seen:
                    continue
                seen.add(there)
                queue.append(there)
                rows.append((there, component, edge.kind, edge.probability, edge.record_key_a, edge.record_key_b))
    frame = pd.DataFrame(rows, columns=MERGED_COLUMNS)
    return frame.astype({"node": "int64", "component_id": "int64", "join_probability": "float64"}).sort_values(
        "node").reset_index(drop=True)


def edges_from_frame(frame: pd.DataFrame) -> list[Edge]:
    return [Edge(int(r.cluster_a), int(r.cluster_b), str(r.edge_kind),
                 None if pd.isna(r.match_probability) else float(r.match_probability), str(r.record_key_a),
                 str(r.record_key_b)) for r in frame.itertuples(index=False)]
