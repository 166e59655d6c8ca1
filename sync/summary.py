"""What a run did, counted as it goes: the summary the CLI prints, Dagster reports and `sync_runs` keeps."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sync.config import SyncConfig


@dataclass
class RunSummary:
    sync_name: str
    run_id: str
    status: str = "running"
    dry_run: bool = False
    destination_key: str | None = None
    planned: int = 0
    created: int = 0
    updated: int = 0
    cleared: int = 0
    archived: int = 0
    merged: int = 0
    deleted: int = 0
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    invalid: int = 0
    skipped: int = 0
    excluded: int = 0
    in_scope: int = 0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    journaled: int = 0  # outcomes the destination confirmed that wait in the local journal (warehouse locked)
    duration_s: float = 0.0
    error: str | None = None
    retryable: bool = True
    failures_by_code: Counter = field(default_factory=Counter)
    failure_samples: dict[str, list[str]] = field(default_factory=dict)
    plan_samples: dict[str, list[str]] = field(default_factory=dict)  # a few keys per planned action

    @property
    def failed_share(self) -> float:
        return self.failed / max(1, self.in_scope)

    def as_counts(self) -> dict[str, object]:
        return {k: getattr(self, k) for k in (
            "planned", "created", "updated", "cleared", "archived", "merged", "deleted", "sent", "succeeded", "failed",
            "invalid", "skipped", "excluded", "requests", "retries", "rate_limited", "duration_s", "error")}


def count_failures(summary: RunSummary, failures: list[tuple[str, str]]) -> None:
    summary.failed += len(failures)
    for key, code in failures:
        summary.failures_by_code[code] += 1
        samples = summary.failure_samples.setdefault(code, [])
        if len(samples) < 3:
            samples.append(key)


def finish_status(cfg: SyncConfig, summary: RunSummary) -> None:
    if summary.failed == 0:
        summary.status = "success"
    elif summary.failed_share <= cfg.max_failed_share:
        summary.status = "partial"
    else:
        summary.status = "failed"
        summary.error = (f"{summary.failed} of {summary.in_scope} records failed ({summary.failed_share:.1%}), "
                         f"more than max_failed_share={cfg.max_failed_share:.0%}")
        summary.retryable = any(c.startswith("TRANSIENT") for c in summary.failures_by_code)
