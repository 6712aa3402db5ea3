"""Random fault injection, per run and deterministic by seed.

Configured by a JSON file named in `TENANT_REPLICATOR_SIM_FAULTS` (or `--faults`), or at run time
with `POST /_sim/faults {"random": {...}}`:

    {"seed": 7,
     "rates": {"429": 0.02, "500": 0.01, "503": 0.01, "drop": 0.005, "async_failed": 0.1},
     "retry_after": 1,             # seconds, on injected 429/503
     "latency_ms": [5, 40],        # added to every ARM request: fixed number or [min, max]
     "list_delay_s": 2.0,          # eventual consistency: a new resource is listed only after this
     "methods": ["GET", "PUT"],    # optional: only these methods get status/drop faults
     "path_contains": "/subscriptions/...",  # optional: only matching paths
     "faults": [ {one-shot rules, as POST /_sim/faults} ]}

Determinism: each draw hashes (seed, method, path, n) where n counts earlier requests with the same
method and path, so the same client behaviour meets the same faults whatever the thread interleaving.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATUS_KINDS = ("429", "500", "503", "drop")
ENV_VAR = "TENANT_REPLICATOR_SIM_FAULTS"
ASYNC_ERROR = {
    "code": "InternalOperationError",
    "message": "An internal execution error occurred. Please retry later. (injected)",
}


@dataclass(frozen=True)
class Decision:
    """What to do to one request: `kind` is None, 429/500/503 or drop; plus latency and async failure."""

    kind: str | None = None
    latency_s: float = 0.0
    async_failed: bool = False
    retry_after: int = 1


@dataclass
class FaultConfig:
    seed: int = 0
    rates: dict[str, float] = field(default_factory=dict)
    retry_after: int = 1
    latency_ms: tuple[float, float] = (0.0, 0.0)
    list_delay_s: float = 0.0
    methods: frozenset[str] = frozenset()
    path_contains: str = ""

    @property
    def active(self) -> bool:
        return any(self.rates.values()) or self.latency_ms[1] > 0


def parse_config(data: dict[str, Any]) -> FaultConfig:
    """Validate a config document; raises ValueError with a readable message."""
    if not isinstance(data, dict):
        raise ValueError("fault config must be a JSON object")
    rates = {str(k): float(v) for k, v in (data.get("rates") or {}).items()}
    unknown = set(rates) - {*STATUS_KINDS, "async_failed"}
    if unknown:
        raise ValueError(f"unknown fault rates {sorted(unknown)}; expected {[*STATUS_KINDS, 'async_failed']}")
    if any(not 0 <= r <= 1 for r in rates.values()) or sum(rates.get(k, 0) for k in STATUS_KINDS) > 1:
        raise ValueError("rates must be in [0, 1] and the status/drop rates must sum to at most 1")
    latency = data.get("latency_ms", 0)
    low, high = (float(latency), float(latency)) if isinstance(latency, int | float) else map(float, latency)
    if low < 0 or high < low:
        raise ValueError("latency_ms must be a non-negative number or [min, max]")
    return FaultConfig(
        seed=int(data.get("seed", 0)),
        rates=rates,
        retry_after=max(1, int(data.get("retry_after", 1))),
        latency_ms=(low, high),
        list_delay_s=max(0.0, float(data.get("list_delay_s", 0))),
        methods=frozenset(m.upper() for m in data.get("methods") or ()),
        path_contains=str(data.get("path_contains") or "").lower(),
    )


def load_file(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _unit(*parts: object) -> float:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class Chaos:
    """The run's random faults; thread-safe occurrence counters make draws order-independent."""

    def __init__(self, config: FaultConfig | None = None):
        self.config = config or FaultConfig()
        self._seen: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._seen.clear()

    def decide(self, method: str, path: str) -> Decision:
        config = self.config
        if not config.active:
            return Decision()
        key = (method, path.lower())
        with self._lock:
            n = self._seen.get(key, 0)
            self._seen[key] = n + 1
        low, high = config.latency_ms
        latency = (low + (high - low) * _unit(config.seed, "latency", *key, n)) / 1000
        eligible = (not config.methods or method in config.methods) and config.path_contains in key[1]
        kind = None
        if eligible:
            draw, edge = _unit(config.seed, "status", *key, n), 0.0
            for candidate in STATUS_KINDS:
                edge += config.rates.get(candidate, 0.0)
                if draw < edge:
                    kind = candidate
                    break
        async_failed = eligible and _unit(config.seed, "async", *key, n) < config.rates.get("async_failed", 0.0)
        return Decision(kind, latency, async_failed, config.retry_after)

    def describe(self) -> dict[str, Any]:
        c = self.config
        return {
            "seed": c.seed,
            "rates": c.rates,
            "retry_after": c.retry_after,
            "latency_ms": list(c.latency_ms),
            "list_delay_s": c.list_delay_s,
            "methods": sorted(c.methods),
            "path_contains": c.path_contains,
        }
