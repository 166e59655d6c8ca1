"""Failure kinds. Transient failures are retried; terminal ones are recorded per record and retried on
the next run; a run-level failure stops the run."""

from __future__ import annotations


class SyncError(Exception):
    """Base class."""


class TransientError(SyncError):
    """Worth retrying: 429, 5xx, timeouts, lost connections."""

    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class TerminalError(SyncError):
    """Retrying the same request will not help (4xx other than limits)."""

    def __init__(self, message: str, status: int | None = None, body: object = None):
        super().__init__(message)
        self.status = status
        self.body = body


class AuthError(TerminalError):
    """Credentials missing or rejected: the whole run stops."""


class CircuitOpenError(SyncError):
    """Most recent requests failed: the run stops instead of hammering a broken destination."""


class MirrorGuardError(SyncError):
    """Mirror mode would clear more records than the configured share allows."""
