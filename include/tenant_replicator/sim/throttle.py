"""ARM's request throttling, as token buckets per principal and subscription (Microsoft Learn, 2024 model).

Reads: bucket 250, refilled 25/s; writes and deletes: bucket 200, refilled 10/s. Every response to a
subscription-scoped request carries `x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}`;
when enforcement is on, an empty bucket answers 429 with `Retry-After`, so clients' back-off logic
is exercised against the real protocol. Off by default: the headers are informative only.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_LIMITS: dict[str, tuple[float, float]] = {
    "reads": (250, 25.0),
    "writes": (200, 10.0),
    "deletes": (200, 10.0),
}


def bucket_kind(method: str) -> str:
    if method in ("GET", "HEAD"):
        return "reads"
    return "deletes" if method == "DELETE" else "writes"


@dataclass
class _Bucket:
    tokens: float
    stamp: float


@dataclass(frozen=True)
class Decision:
    allowed: bool
    headers: dict[str, str]
    retry_after_s: int = 0


class Throttle:
    def __init__(
        self,
        enforce: bool = False,
        limits: dict[str, tuple[float, float]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.enforce = enforce
        self.limits = dict(limits or DEFAULT_LIMITS)
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def configure(self, enforce: bool, limits: dict[str, tuple[float, float]] | None = None) -> None:
        with self._lock:
            self.enforce = enforce
            self.limits = {**DEFAULT_LIMITS, **(limits or {})}
            self._buckets.clear()

    def take(self, subscription: str, method: str) -> Decision:
        kind = bucket_kind(method)
        capacity, rate = self.limits[kind]
        now = self._clock()
        with self._lock:
            bucket = self._buckets.setdefault((subscription.lower(), kind), _Bucket(capacity, now))
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now
            header = {f"x-ms-ratelimit-remaining-subscription-{kind}": str(max(0, int(bucket.tokens) - 1))}
            if bucket.tokens >= 1 or not self.enforce:
                bucket.tokens = max(0.0, bucket.tokens - 1)
                return Decision(True, header)
            wait = max(1, math.ceil((1 - bucket.tokens) / rate))
            return Decision(False, {**header, "Retry-After": str(wait)}, wait)
