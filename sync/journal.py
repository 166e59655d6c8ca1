"""A sync's local write-ahead journal: what was about to be sent, and what the destination answered, kept in
a small JSON-lines file until the warehouse has it.

The warehouse is written about once a second, and may be locked by another process (dbt) for minutes, so
two things would otherwise be lost when a run is killed or the warehouse stays locked:
- an **intent** (written before each request) says which records a request is about to change, with the
  delivery id, the payload hash and the destination id (or, for a record the destination has no id for
  yet, its match value, so the next run can find the object a lost create made);
- an **outcome** (written as soon as the destination answered) is the settlement the next flush writes.
After a flush the file is rewritten with only the intents still waiting for an answer (usually none).
The next run replays the file before it plans: outcomes are written to the warehouse, and an intent with
no outcome is a write **in doubt**: it becomes an open failure (IN_DOUBT) carrying its attempt, so the
record is sent again whatever the model now says (read back first where the destination can).

The file lives under the state directory (`CDP_STATE_DIR`, else the warehouse's folder), one per sync and
warehouse. It holds payloads (personal data) only between a confirmation and the next flush; appends are
flushed to the operating system at once, which a killed process cannot lose."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from sync.state import Attempt, Settlement

IN_DOUBT = "IN_DOUBT"


@dataclass(frozen=True)
class Intent:
    run_id: str
    destination_key: str
    action: str
    key: str
    sent_hash: str
    delivery_id: str | None
    destination_id: str | None
    match_value: str | None  # only for a record without a destination id (what a lost create matched on)


@dataclass
class Replay:
    outcomes: list[tuple[str, str, Settlement]] = field(default_factory=list)  # destination key, run id, settlement
    in_doubt: list[Intent] = field(default_factory=list)
    finished: list[tuple[str, str, dict]] = field(default_factory=list)  # run id, status, counts

    @property
    def empty(self) -> bool:
        return not (self.outcomes or self.in_doubt or self.finished)


def journal_path(db_path: Path, sync_name: str) -> Path:
    """<state dir>/sync-journal/<sync>-<warehouse hash>.jsonl: one file per sync and warehouse."""
    db_path = Path(db_path).resolve()
    state_dir = Path(os.environ.get("CDP_STATE_DIR") or db_path.parent)
    tag = hashlib.sha256(str(db_path).encode()).hexdigest()[:10]
    return state_dir / "sync-journal" / f"{sync_name}-{tag}.jsonl"


def _settlement_json(s: Settlement) -> dict:
    return {"confirmed": [list(c) for c in s.confirmed], "forgotten": list(s.forgotten),
            "failures": [[k, a, c, m, [t.payload_hash, t.delivery_id, t.destination_id] if t else None]
                         for k, a, c, m, t in s.failures],
            "log": [list(entry) for entry in s.log], "erased": dict(s.erased)}


def _settlement(d: dict) -> Settlement:
    return Settlement(confirmed=[tuple(c) for c in d.get("confirmed", [])], forgotten=list(d.get("forgotten", [])),
                      failures=[(k, a, c, m, Attempt(*t) if t else None) for k, a, c, m, t in d.get("failures", [])],
                      log=[tuple(entry) for entry in d.get("log", [])], erased=dict(d.get("erased", {})))


class Journal:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._fh = None
        self._token, self._count = uuid.uuid4().hex[:12], 0  # names each outcome line, unique across runs

    @classmethod
    def for_sync(cls, db_path: Path, sync_name: str) -> Journal:
        return cls(journal_path(db_path, sync_name))

    def _append(self, entry: dict) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (kept open for the run)
        self._fh.write(json.dumps(entry, separators=(",", ":"), default=str) + "\n")
        self._fh.flush()

    def intend(self, intents: list[Intent]) -> None:
        if intents:
            self._append({"t": "intent", "items": [[i.run_id, i.destination_key, i.action, i.key, i.sent_hash,
                                                    i.delivery_id, i.destination_id, i.match_value]
                                                   for i in intents]})

    def settled(self, destination_key: str, run_id: str, s: Settlement) -> None:
        """Journal an outcome under a new line id, which `s.entries` carries to the warehouse write."""
        if s.confirmed or s.forgotten or s.failures or s.log:
            self._count += 1
            entry_id = f"{self._token}-{self._count}"
            self._append({"t": "settle", "id": entry_id, "dest": destination_key, "run": run_id,
                          **_settlement_json(s)})
            s.entries = [entry_id]

    def finish(self, run_id: str, status: str, counts: dict) -> None:
        self._append({"t": "finish", "run": run_id, "status": status, "counts": counts})

    def compact(self, waiting: list[Intent]) -> None:
        """After a flush: keep only the intents still waiting for an answer (atomic rewrite)."""
        self.close()
        if not waiting:
            self.path.unlink(missing_ok=True)
            return
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"t": "intent", "items": [
            [i.run_id, i.destination_key, i.action, i.key, i.sent_hash, i.delivery_id, i.destination_id,
             i.match_value] for i in waiting]}, separators=(",", ":")) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def read(self) -> Replay:
        """Outcomes in order, the intents no outcome answered (in doubt), and runs that finished unrecorded. A
        torn last line (the process was killed while writing it) is ignored: its request was not sent."""
        replay = Replay()
        if not self.path.exists():
            return replay
        waiting: dict[tuple[str, str], Intent] = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("t") == "intent":
                for item in entry["items"]:
                    intent = Intent(*item)
                    waiting[(intent.destination_key, intent.key)] = intent
            elif entry.get("t") == "settle":
                s = _settlement(entry)
                s.entries = [entry["id"]] if entry.get("id") else []
                replay.outcomes.append((entry["dest"], entry["run"], s))
                answered = ([c[0] for c in s.confirmed] + list(s.forgotten) + [f[0] for f in s.failures]
                            + [entry[0] for entry in s.log])
                for key in answered:
                    waiting.pop((entry["dest"], key), None)
            elif entry.get("t") == "finish":
                replay.finished.append((entry["run"], entry["status"], entry["counts"]))
        replay.in_doubt = list(waiting.values())
        return replay
