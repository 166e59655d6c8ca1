"""One pooled HTTP session per destination, with timeouts on every call, retries with exponential
backoff and jitter on 429, 5xx and connection errors (honouring Retry-After as seconds or as an HTTP date,
and whatever wait the destination's own hook reads from its headers), a client-side token bucket kept
below the destination's limit, and a circuit breaker. Secrets are passed in headers only and never logged.

Two separate fault budgets:
- the breaker counts failures only (5xx, timeouts, lost connections): it opens after `breaker_threshold`
  consecutive failures, and any answered request closes it again;
- rate limits (429, or what the destination's `is_rate_limit` hook says) are not failures, but a run that
  keeps hitting them past `rate_limit_budget_s` seconds of waiting (or a limit the destination calls
  final, such as a daily quota) stops with RateLimitExhausted instead of waiting through every batch."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import requests
from requests.adapters import HTTPAdapter

from sync.redact import redact
from sync.errors import CircuitOpenError, RateLimitExhausted, TerminalError, TransientError

# hooks a destination may pass: is this response a rate limit? how long does it say to wait? is the limit
# final for this run (a daily quota)?
RateLimitHook = Callable[[requests.Response], bool]
RetryAfterHook = Callable[[requests.Response], float | None]


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
    rate_limit_wait_s: float = 0.0
    consecutive_failures: int = 0


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


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; a success closes it (resets the count)."""

    def __init__(self, threshold: int, stats: HttpStats):
        self.threshold = threshold
        self.stats = stats

    def success(self) -> None:
        self.stats.consecutive_failures = 0

    def failure(self) -> None:
        self.stats.consecutive_failures += 1
        if self.stats.consecutive_failures >= self.threshold:
            raise CircuitOpenError(f"the last {self.stats.consecutive_failures} requests failed; stopping the run")


class HttpClient:
    def __init__(self, base_url: str, headers: dict[str, str] | None = None, rate: float = 10.0,
                 timeout: tuple[float, float] = (5.0, 30.0), retry: RetryPolicy | None = None,
                 breaker_threshold: int = 12, rate_limit_budget_s: float = 300.0,
                 is_rate_limit: RateLimitHook | None = None, retry_after: RetryAfterHook | None = None,
                 is_final_limit: RateLimitHook | None = None, sleep=time.sleep):
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
        self.stats = HttpStats()
        self.breaker = CircuitBreaker(breaker_threshold, self.stats)
        self.rate_limit_budget_s = rate_limit_budget_s
        self.is_rate_limit = is_rate_limit or (lambda resp: resp.status_code == 429)
        self.retry_after_hook = retry_after
        self.is_final_limit = is_final_limit or (lambda resp: False)
        self.sleep = sleep

    def close(self) -> None:
        self.session.close()

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """Send with retries. Returns the final response for non-retryable statuses; raises
        TransientError when retries are exhausted, CircuitOpenError or RateLimitExhausted to stop the run, and
        TerminalError (status = the redirect's code) for a redirect, which is never followed."""
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        path = redact(path)  # messages name the request without its query or credentials
        last: TransientError | None = None
        for attempt in range(1, self.retry.max_attempts + 1):
            self.bucket.acquire()
            self.stats.requests += 1
            limited = False
            try:
                # never follow a redirect: a POST would become a bodiless GET that looks delivered, or (307/308)
                # its body, personal data and signature included, would go to whatever host the answer names
                resp = self.session.request(method, url, timeout=self.timeout, allow_redirects=False, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                last = TransientError(f"{type(exc).__name__} on {method} {path}")
                self.breaker.failure()
            else:
                if self.is_rate_limit(resp):
                    limited = True
                    self.stats.rate_limited += 1
                    self.breaker.success()  # the destination answered: a limit is not a broken destination
                    if self.is_final_limit(resp):
                        raise RateLimitExhausted(f"rate limit exhausted: the destination's quota for this period "
                                                 f"is used up (HTTP {resp.status_code} on {method} {path})")
                    last = TransientError(f"HTTP {resp.status_code} (rate limited) on {method} {path}",
                                          self._retry_after(resp), resp.status_code)
                elif resp.status_code >= 500:
                    last = TransientError(f"HTTP {resp.status_code} on {method} {path}", self._retry_after(resp),
                                          resp.status_code)
                    self.breaker.failure()
                else:
                    self.breaker.success()
                    if resp.is_redirect or 300 <= resp.status_code < 400:
                        resp.close()
                        raise TerminalError(f"HTTP {resp.status_code}: the destination answered with a redirect, "
                                            f"which is never followed (check the configured URL)", resp.status_code,
                                            batch_wide=True)
                    return resp
            if attempt < self.retry.max_attempts:
                self.stats.retries += 1
                wait = self.retry.delay(attempt, last.retry_after)
                if limited:
                    if self.stats.rate_limit_wait_s + wait > self.rate_limit_budget_s:
                        raise RateLimitExhausted(
                            f"rate limit exhausted: waited {self.stats.rate_limit_wait_s:.0f} s on "
                            f"{self.stats.rate_limited} rate-limited responses, budget {self.rate_limit_budget_s:.0f} s")
                    self.stats.rate_limit_wait_s += wait
                self.sleep(wait)
        assert last is not None
        raise last

    def _retry_after(self, resp: requests.Response) -> float | None:
        value = parse_retry_after(resp.headers.get("Retry-After"))
        if value is None and self.retry_after_hook is not None:
            value = self.retry_after_hook(resp)
        return value


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Retry-After is either delay-seconds or an HTTP date (RFC 9110 10.2.3); a date in the past means 0."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
