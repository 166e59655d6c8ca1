"""Sending one batch: a batch the destination rejects as a whole is split in halves to isolate the bad
records, at most log2(batch) levels deep, and not at all when the error is about the request. Every
result lands in `out` as soon as it is known, so a later exception never loses a confirmed half."""

from __future__ import annotations

import math
from collections.abc import Callable

from sync.destinations.base import OutRecord, RecordResult
from sync.errors import AuthError, TerminalError, TransientError

Send = Callable[[list[OutRecord]], list[RecordResult]]


def failed(batch: list[OutRecord], code: str, message: str) -> list[RecordResult]:
    return [RecordResult(r.key, False, None, code, message) for r in batch]


def _attempt(send: Send, batch: list[OutRecord], out: list[RecordResult]) -> TerminalError | None:
    """One request: results go to `out`; a whole-batch rejection is returned for the caller to split."""
    try:
        out.extend(send(batch))
    except AuthError:
        raise
    except TransientError as exc:  # retries ran out: the outcome is unknown, the records are tried next run
        out.extend(failed(batch, f"TRANSIENT_{exc.status or 'NETWORK'}", str(exc)))
    except TerminalError as exc:
        return exc
    return None


def send_whole(send: Send, batch: list[OutRecord], out: list[RecordResult]) -> None:
    """Send a batch that cannot be split (a bulk job): a rejection fails every record in it."""
    try:
        out.extend(send(batch))
    except AuthError:
        raise
    except TransientError as exc:
        out.extend(failed(batch, f"TRANSIENT_{exc.status or 'NETWORK'}", str(exc)))
    except TerminalError as exc:
        out.extend(failed(batch, f"HTTP_{exc.status or 'ERROR'}", str(exc)))


def send_with_split(send: Send, batch: list[OutRecord], out: list[RecordResult]) -> None:
    """Send a batch; one the destination rejects as a whole is split in halves, at most log2(len(batch))
    levels deep, and not at all when the error is about the request (batch_wide) or when both halves are
    rejected with the parent's very error."""
    err = _attempt(send, batch, out)
    if err is not None:
        _split(send, batch, err, out, 0, math.ceil(math.log2(len(batch))) if len(batch) > 1 else 0)


def _split(send: Send, batch: list[OutRecord], err: TerminalError, out: list[RecordResult], depth: int,
           max_depth: int) -> None:
    code = f"HTTP_{err.status or 'ERROR'}"
    if len(batch) == 1 or err.batch_wide or depth >= max_depth:
        out.extend(failed(batch, code, str(err)))
        return
    mid = len(batch) // 2
    halves = [batch[:mid], batch[mid:]]
    errors = [_attempt(send, half, out) for half in halves]
    if all(e is not None and str(e) == str(err) for e in errors) and len(batch) > 2:
        out.extend(failed(batch, code, str(err)))  # the same rejection either way: not about one record
        return
    for half, e in zip(halves, errors):
        if e is not None:
            _split(send, half, e, out, depth + 1, max_depth)
