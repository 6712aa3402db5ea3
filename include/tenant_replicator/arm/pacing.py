"""Client-side pacing under ARM's (and Resource Graph's) throttling budget.

ARM throttles reads with a token bucket per principal and subscription (250, refilled 25/s) and
tells the client what is left in `x-ms-ratelimit-remaining-subscription-reads`. Hammering into
429s wastes the budget on rejected calls and stalls every worker for Retry-After seconds, so the
client keeps its own bucket, re-synchronised from that header on every response, and waits for a
token *before* sending. A 429 still happens (other clients share the budget): its Retry-After
pauses every worker, not only the one that got it. Resource Graph has its own quota
(`x-ms-user-quota-remaining` / `x-ms-user-quota-resets-after`), handled the same way.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from azure.core.pipeline.policies import HTTPPolicy

READS_HEADER = "x-ms-ratelimit-remaining-subscription-reads"
ARG_REMAINING = "x-ms-user-quota-remaining"
ARG_RESETS = "x-ms-user-quota-resets-after"


def parse_retry_after(value: str | None, default: float = 1.0) -> float:
    """Seconds from a Retry-After header (delta seconds; an HTTP date is rare on ARM: default)."""
    try:
        return max(0.0, float(value)) if value is not None else default
    except ValueError:
        return default


def parse_resets_after(value: str | None) -> float | None:
    """Seconds from ARG's `hh:mm:ss[.fff]` reset header, None if absent or malformed."""
    if not value:
        return None
    try:
        hours, minutes, seconds = value.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except ValueError:
        return None


@dataclass
class PacerStats:
    requests: int = 0
    throttled: int = 0  # 429 responses
    waits: int = 0  # times a request waited for a token or a Retry-After pause
    waited_s: float = 0.0


@dataclass
class Pacer:
    """A token bucket (`capacity`, `rate`/s) kept in step with the server's remaining-budget header.

    `reserve` tokens are left unused so concurrent in-flight requests do not overdraw the bucket.
    Thread-safe; `clock`/`sleep` are injectable for tests.
    """

    capacity: float = 250.0
    rate: float = 25.0
    reserve: float = 4.0
    remaining_header: str = READS_HEADER
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    stats: PacerStats = field(default_factory=PacerStats)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens = self.capacity
        self._stamp = self.clock()
        self._paused_until = 0.0

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def acquire(self) -> float:
        """Block until a request may be sent; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self.clock()
                self._refill(now)
                if now >= self._paused_until and self._tokens >= 1 + self.reserve:
                    self._tokens -= 1
                    self.stats.requests += 1
                    if waited:
                        self.stats.waits += 1
                        self.stats.waited_s += waited
                    return waited
                delay = max(self._paused_until - now, (1 + self.reserve - self._tokens) / self.rate, 0.001)
            self.sleep(delay)
            waited += delay

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        """Learn from one response: the server's remaining budget, or a 429's Retry-After."""
        with self._lock:
            now = self.clock()
            self._refill(now)
            remaining = headers.get(self.remaining_header)
            if remaining is not None:
                try:
                    self._tokens = min(self._tokens, float(remaining))
                except ValueError:
                    pass
            if status == 429:
                self.stats.throttled += 1
                self._tokens = 0.0
                pause = parse_retry_after(headers.get("Retry-After") or headers.get("retry-after"))
                self._paused_until = max(self._paused_until, now + pause)


class PacingPolicy(HTTPPolicy):  # type: ignore[type-arg]
    """azure-core policy (after RetryPolicy, so every retry is paced too) that consults a Pacer."""

    def __init__(self, pacer: Pacer) -> None:
        super().__init__()
        self.pacer = pacer

    def send(self, request: Any) -> Any:
        self.pacer.acquire()
        response = self.next.send(request)
        http = response.http_response
        self.pacer.observe(http.status_code, http.headers)
        return response


@dataclass
class QuotaPacer:
    """Resource Graph's per-user quota: when `x-ms-user-quota-remaining` hits 0, wait out the reset."""

    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    stats: PacerStats = field(default_factory=PacerStats)
    _until: float = 0.0

    def acquire(self) -> float:
        delay = self._until - self.clock()
        self.stats.requests += 1
        if delay > 0:
            self.stats.waits += 1
            self.stats.waited_s += delay
            self.sleep(delay)
            return delay
        return 0.0

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        now = self.clock()
        if status == 429:
            self.stats.throttled += 1
            wait = parse_resets_after(headers.get(ARG_RESETS))
            self._until = now + (wait if wait is not None else parse_retry_after(headers.get("Retry-After")))
            return
        remaining = headers.get(ARG_REMAINING)
        resets = parse_resets_after(headers.get(ARG_RESETS))
        if remaining is not None and resets is not None and remaining.strip() in {"0", "0.0"}:
            self._until = now + resets
