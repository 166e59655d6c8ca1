"""One pooled HTTP session per destination, with timeouts on every call, retries with exponential
backoff and jitter on 429, 5xx and connection errors (honouring Retry-After and HubSpot's
X-HubSpot-RateLimit-Interval-Milliseconds), a client-side token bucket kept below the destination's
limit, and a circuit breaker. Secrets are passed in headers only and never logged."""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import requests
from requests.adapters import HTTPAdapter

from sync.errors import CircuitOpenError, TransientError


class TokenBucket:
    """Allows `rate` requests per second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float | None = None, clock=time.monotonic, sleep=time.sleep):
        self.rate = rate
        self.capacity = burst if burst is not None else max(1.0, rate)
        self.tokens = self.capacity
        self.clock, self.sleep = clock, sleep
        self.updated = clock()
        self.lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until one is available. Returns the time waited."""
        if self.rate <= 0:
            return 0.0
        with self.lock:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            wait = 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate
            self.tokens -= 1
        if wait > 0:
            self.sleep(wait)
        return wait


@dataclass
class HttpStats:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    failures: deque = field(default_factory=lambda: deque(maxlen=20))


@dataclass
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.2
    max_delay: float = 20.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(self.max_delay, retry_after) + random.uniform(0, 0.1)
        exp = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return random.uniform(exp / 2, exp)  # jitter


class HttpClient:
    def __init__(self, base_url: str, headers: dict[str, str] | None = None, rate: float = 10.0,
                 timeout: tuple[float, float] = (5.0, 30.0), retry: RetryPolicy | None = None,
                 breaker_threshold: float = 0.8, sleep=time.sleep):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=8, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(headers or {})
        # burst 1: requests are paced evenly, so no rolling window of the destination ever sees a spike
        self.bucket = TokenBucket(rate, burst=1.0)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.breaker_threshold = breaker_threshold
        self.stats = HttpStats()
        self.sleep = sleep

    def close(self) -> None:
        self.session.close()

    def _record(self, ok: bool) -> None:
        self.stats.failures.append(0 if ok else 1)
        window = self.stats.failures
        if len(window) >= 10 and sum(window) / len(window) >= self.breaker_threshold:
            raise CircuitOpenError(f"{sum(window)} of the last {len(window)} requests failed; stopping the run")

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """Send with retries. Returns the final response for non-retryable statuses; raises
        TransientError when retries are exhausted."""
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        last: Exception | None = None
        for attempt in range(1, self.retry.max_attempts + 1):
            self.bucket.acquire()
            self.stats.requests += 1
            try:
                resp = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = TransientError(f"{type(exc).__name__} on {method} {path}")
                self._record(False)
            else:
                if resp.status_code == 429 or resp.status_code >= 500 or _is_sf_limit(resp):
                    retry_after = _retry_after(resp)
                    if resp.status_code == 429 or _is_sf_limit(resp):
                        self.stats.rate_limited += 1
                    last = TransientError(f"HTTP {resp.status_code} on {method} {path}", retry_after,
                                          resp.status_code)
                    self._record(resp.status_code == 429)  # a limit is not a broken destination
                else:
                    self._record(True)
                    return resp
            if attempt < self.retry.max_attempts:
                self.stats.retries += 1
                self.sleep(self.retry.delay(attempt, getattr(last, "retry_after", None)))
        assert last is not None
        raise last


def _is_sf_limit(resp: requests.Response) -> bool:
    """Salesforce says 403 REQUEST_LIMIT_EXCEEDED for an API limit: a limit, not an auth failure."""
    if resp.status_code != 403:
        return False
    try:
        body = resp.json()
    except ValueError:
        return False
    items = body if isinstance(body, list) else [body]
    return any(isinstance(i, dict) and i.get("errorCode") == "REQUEST_LIMIT_EXCEEDED" for i in items)


def _retry_after(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if value:
        try:
            return float(value)
        except ValueError:
            return None
    if resp.headers.get("X-HubSpot-RateLimit-Remaining") == "0":
        interval = resp.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        if interval and interval.isdigit():
            return int(interval) / 1000
    return None
