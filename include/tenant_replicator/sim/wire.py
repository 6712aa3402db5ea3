"""The simulator's request/response values and ARM's error envelope (no logic, no I/O)."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from typing import Any

from tenant_replicator.sim import lro


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}

    def response(self) -> Response:
        return Response(self.status, {"error": {"code": self.code, "message": self.message}}, dict(self.headers))


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]  # keys lower-cased, first value only
    body: bytes
    base_url: str
    # Fixed clock for deterministic seeding; None means "now".
    now: str | None = None
    # Long-running operations: 0 seconds (the seed) completes every write synchronously.
    lro_seconds: float = 0.0
    lro_types: frozenset[str] = lro.DEFAULT_TYPES
    # Injected fault: the long-running operation this request starts ends Failed with this error.
    async_error: dict | None = None
    epoch: float | None = None
    # Eventual consistency: resources created by this request are listed only this much later.
    list_delay_s: float = 0.0

    def timestamp(self) -> str:
        return self.now or now_iso()

    def clock(self) -> float:
        return self.epoch if self.epoch is not None else time.time()


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
