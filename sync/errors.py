"""Failure kinds. Transient failures are retried; terminal ones are recorded per record and retried on
the next run; a run-level failure stops the run. `retryable` tells an orchestrator (Dagster's
RetryPolicy) whether running the same step again can help."""

from __future__ import annotations


class SyncError(Exception):
    """Base class."""

    retryable = True


class TransientError(SyncError):
    """Worth retrying: 429, 5xx, timeouts, lost connections."""

    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class TerminalError(SyncError):
    """Retrying the same request will not help (4xx other than limits). `batch_wide` says the error is
    about the request as a whole (an unknown property), so splitting the batch cannot isolate a record."""

    def __init__(self, message: str, status: int | None = None, body: object = None, batch_wide: bool = False):
        super().__init__(message)
        self.status = status
        self.body = body
        self.batch_wide = batch_wide


class AuthError(TerminalError):
    """Credentials missing or rejected: the whole run stops, and retrying it will not help."""

    retryable = False


class CircuitOpenError(SyncError):
    """Many consecutive requests failed: the run stops instead of hammering a broken destination."""


class RateLimitExhausted(SyncError):
    """429s went on past the run's budget (or a daily quota was hit): the run stops, to resume later."""


class MirrorGuardError(SyncError):
    """The run would archive or clear more records than `max_clear_share` allows: a person must look."""

    retryable = False


class SyncLockedError(SyncError):
    """Another run of the same sync holds its lock."""

    retryable = False


class InputError(SyncError):
    """The sync model or its configuration cannot be used as it is (missing column, unknown model)."""

    retryable = False
