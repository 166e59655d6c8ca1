"""Merges: a person id retired by a merge (person_id_history) has its object folded into the survivor's
(HubSpot's merge; where a destination cannot merge, the retired object is removed)."""

from __future__ import annotations

from sync.config import SyncConfig
from sync.destinations.base import Destination, OutRecord, RecordResult
from sync.settlement import Executor
from sync.state import Settlement, StateRow, StateStore
from sync.summary import RunSummary, count_failures
from sync.values import delivery_id


def merge(cfg: SyncConfig, store: StateStore, destination: Destination, dest_key: str, summary: RunSummary,
           ex: Executor, state: dict[str, StateRow], merges: list[tuple[str, str]], final: bool) -> None:
    """Fold each retired person's object into its survivor's; one whose survivor has no object yet waits
    (a failure row, retried next run)."""
    pairs: list[tuple[OutRecord, OutRecord]] = []
    waiting: list[tuple[str, str, str]] = []
    same: list[OutRecord] = []
    for retired, survivor in merges:
        old, target = state.get(retired), state.get(survivor)
        rec = OutRecord(retired, (old.payload.get(cfg.match_key) if old else None) or retired, {},
                        old.destination_id if old else None,
                        delivery_id(cfg.name, retired, "merge", survivor,
                                    (old.delivery_id or old.payload_hash) if old else None))
        if target is None or not target.destination_id:
            waiting.append((retired, "SURVIVOR_NOT_SYNCED", f"waits for {survivor} to reach the destination"))
        elif rec.destination_id == target.destination_id:
            same.append(rec)  # the survivor took over the same object (matched by email): nothing to merge
        else:
            pairs.append((rec, OutRecord(survivor, target.payload.get(cfg.match_key) or survivor, {},
                                         target.destination_id)))
    if waiting and final:
        store.settle(cfg.name, dest_key, summary.run_id, Settlement(
            failures=[(k, "merge", c, m, None) for k, c, m in waiting],
            log=[(k, "merge", False, None, c) for k, c, _ in waiting]))
        count_failures(summary, [(k, c) for k, c, _ in waiting])
    if same:
        ex.settle("merge", same, [RecordResult(r.key, True, r.destination_id) for r in same], {})
    merged_ids: dict[str, str] = {}  # a destination may give the merged object a new id: the survivor follows
    for start in range(0, len(pairs), cfg.batch_size):
        chunk = pairs[start:start + cfg.batch_size]
        survivors = {a.key: b for a, b in chunk}

        def send_merge(batch: list[OutRecord], _s: dict[str, OutRecord] = survivors) -> list[RecordResult]:
            results = destination.merge([(r, _s[r.key]) for r in batch])
            for res in results:
                if res.ok and res.destination_id and res.destination_id != _s[res.key].destination_id:
                    merged_ids[_s[res.key].key] = res.destination_id
            return results

        ex.run("merge", send_merge, [a for a, _ in chunk])
    if merged_ids:
        ex.flush()  # the survivors' pending confirmations first, then their new ids
    for survivor, new_id in merged_ids.items():
        row = state[survivor]
        state[survivor] = StateRow(row.payload_hash, new_id, row.payload, row.delivery_id)
        store.set_destination_id(cfg.name, dest_key, survivor, new_id)
