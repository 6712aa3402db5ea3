"""Thread-safe, file-backed holder of the simulator state.

Durability without rewriting the world on every PUT: the state file is a JSON snapshot (rewritten
atomically: tmp file + os.replace), and every successful write request appends one line to a
journal next to it (`<state_file>.journal`) with the records it touched. Loading replays the
journal over the snapshot, so a killed simulator (even SIGKILL) restarts with exactly what
clients were told had succeeded. The journal is folded into the snapshot every
`COMPACT_EVERY` writes, on reset and at shutdown. Replay is idempotent (absolute values only).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tenant_replicator.sim import faults, lro, model, resourcegraph

log = logging.getLogger(__name__)

COMPACT_EVERY = 500
GRAPH_SECTIONS = ("resources", "resourceGroups", "subscriptions")
TRACKED = ("resources", "resourceGroups", "subscriptions", "operations", "principals", "deletedVaults")


class TrackingDict(model.KeyedDict):
    """A dict that remembers which keys were set or removed since the last `drain()`."""

    def __init__(self, *args: Any, **kwargs: Any):
        self.touched: set[str] = set()
        super().__init__(*args, **kwargs)

    def __setitem__(self, key: str, value: Any) -> None:
        self.touched.add(key)
        super().__setitem__(key, value)

    def __delitem__(self, key: str) -> None:
        self.touched.add(key)
        super().__delitem__(key)

    def pop(self, key: str, *default: Any) -> Any:
        self.touched.add(key)
        return super().pop(key, *default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def clear(self) -> None:
        self.touched.update(self.keys())
        super().clear()

    def popitem(self) -> tuple[str, Any]:
        key, value = super().popitem()
        self.touched.add(key)
        return key, value

    def drain(self) -> list[tuple[str, Any]]:
        """(key, current value or None if removed) for each touched key; resets the tracking."""
        changes = [(k, self.get(k)) for k in sorted(self.touched)]
        self.touched.clear()
        return changes


def _track(state: dict) -> dict:
    for section in TRACKED:
        state[section] = TrackingDict(state.get(section, {}))
    state.setdefault("counters", {"reads": {}, "writes": {}})
    lro.rebuild_pending(state)
    return state


class Store:
    def __init__(self, state_file: Path, seed: Callable[[], dict], reset: bool = False):
        self.state_file = Path(state_file).resolve()
        self.journal_file = self.state_file.with_name(self.state_file.name + ".journal")
        self._seed = seed
        self.lock = threading.RLock()
        self._count_lock = threading.Lock()
        self.faults: list[dict[str, Any]] = []
        # Per-run behaviour (not persisted): how long long-running operations take.
        self.lro_seconds: float = lro.DEFAULT_SECONDS
        self.chaos = faults.Chaos()
        # (method, subscription, type, status) -> count, in memory: per run, like the faults.
        self.requests: Counter[tuple[str, str, str, int]] = Counter()
        # Resource Graph lags ARM by `graph_lag_s`: a base view plus the committed changes not yet due.
        self.graph_lag_s = 0.0
        self.graph_quota = resourcegraph.GraphQuota()
        self.graph_defaults: tuple[float, int, float] = (0.0, 15, 5.0)  # restored by reset()
        self._graph_base: dict[str, dict] | None = None
        self._graph_log: deque[tuple[float, str, str, Any]] = deque()
        self._journal_entries = 0
        if reset or not self.state_file.is_file():
            self.state = _track(seed())
            self.compact()
        else:
            self.state = _track(self._load())
            self._drain_all()
            if self._journal_entries:
                self.compact()

    # --- loading ---------------------------------------------------------------------------------

    def _load(self) -> dict:
        state = json.loads(self.state_file.read_text(encoding="utf-8"))
        if state.get("schema") != model.SCHEMA:
            raise ValueError(f"{self.state_file}: unsupported simulator state schema {state.get('schema')!r}")
        for entry in self._journal_lines():
            _apply_entry(state, entry)
            self._journal_entries += 1
        return state

    def _journal_lines(self) -> list[dict]:
        if not self.journal_file.is_file():
            return []
        entries = []
        for number, line in enumerate(self.journal_file.read_text(encoding="utf-8").splitlines(), 1):
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                # Only the last line can be torn (killed mid-append); nothing after it was acknowledged.
                log.warning("%s:%d: ignoring a torn journal line", self.journal_file, number)
                break
        return entries

    # --- writing ---------------------------------------------------------------------------------

    def commit(self) -> None:
        """Persist what the last write request changed (call with the lock held, before answering)."""
        with self.lock:
            changes = {section: self.state[section].drain() for section in TRACKED}
            if self._graph_base is not None:
                stamp = time.time()
                for section in GRAPH_SECTIONS:
                    self._graph_log.extend((stamp, section, k, v) for k, v in changes[section])
            entry = {
                "changes": changes,
                "sequence": self.state.get("sequence", 0),
                "counters": self.state["counters"],
            }
            with open(self.journal_file, "a", encoding="utf-8") as journal:
                journal.write(json.dumps(entry, separators=(",", ":")) + "\n")
            self._journal_entries += 1
            if self._journal_entries >= COMPACT_EVERY:
                self.compact()

    def compact(self) -> None:
        """Rewrite the snapshot atomically, then drop the journal it now contains."""
        with self.lock:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_file.with_name(f".{self.state_file.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.state, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, self.state_file)
            self.journal_file.unlink(missing_ok=True)
            self._journal_entries = 0
            self._drain_all()

    save = compact

    def _drain_all(self) -> None:
        for section in TRACKED:
            self.state[section].drain()

    def reset(self) -> None:
        with self.lock:
            self.state = _track(self._seed())
            self.faults.clear()
            self.set_graph_lag(self.graph_defaults[0])
            self.graph_quota.configure(*self.graph_defaults[1:])
            self.chaos.configure(faults.FaultConfig())
            with self._count_lock:
                self.requests.clear()
            self.compact()

    # --- counters and hooks ----------------------------------------------------------------------

    def count(self, kind: str, subscription: str) -> None:
        with self.lock:
            bucket = self.state["counters"].setdefault(kind, {})
            sub = subscription.lower()
            bucket[sub] = bucket.get(sub, 0) + 1

    def set_graph_lag(self, seconds: float) -> None:
        """From now on Resource Graph answers from the state as it was `seconds` ago."""
        with self.lock:
            self.graph_lag_s = max(0.0, seconds)
            self._graph_log.clear()
            self._graph_base = (
                {section: dict(self.state[section]) for section in GRAPH_SECTIONS} if self.graph_lag_s else None
            )

    def graph_view(self, now: float) -> dict:
        """What Resource Graph sees at `now` (call with the lock held). Records are replaced, never
        mutated, on write, so a shallow copy of each section is a faithful old snapshot."""
        if self._graph_base is None:
            return self.state
        cutoff = now - self.graph_lag_s
        while self._graph_log and self._graph_log[0][0] <= cutoff:
            _, section, key, value = self._graph_log.popleft()
            if value is None:
                self._graph_base[section].pop(key, None)
            else:
                self._graph_base[section][key] = value
        return self._graph_base

    def count_request(self, method: str, subscription: str | None, type_label: str, status: int) -> None:
        with self._count_lock:
            self.requests[(method, (subscription or "").lower(), type_label, status)] += 1

    def request_stats(self) -> dict:
        """Every ARM request by method, subscription, type and status (and the full breakdown)."""
        with self._count_lock:
            items = list(self.requests.items())
        views: dict[str, Counter] = {n: Counter() for n in ("method", "subscription", "type", "status")}
        for (method, sub, type_label, status), n in items:
            views["method"][method] += n
            views["subscription"][sub or "-"] += n
            views["type"][type_label] += n
            views["status"][str(status)] += n
        return {
            "total": sum(n for _, n in items),
            **{f"by_{name}": dict(sorted(view.items())) for name, view in views.items()},
            "detail": [
                {"method": m, "subscription": s, "type": t, "status": st, "count": n}
                for (m, s, t, st), n in sorted(items)
            ],
        }

    def stats(self) -> dict:
        with self.lock:
            counters = self.state["counters"]
            return {
                "writes": dict(counters.get("writes", {})),
                "reads": dict(counters.get("reads", {})),
                "resources": len(self.state["resources"]),
                "resource_groups": len(self.state["resourceGroups"]),
                "requests": self.request_stats(),
            }

    def reset_counters(self) -> None:
        with self.lock:
            self.state["counters"] = {"reads": {}, "writes": {}}
            with self._count_lock:
                self.requests.clear()
            self.commit()

    def take_fault(self, method: str, path: str) -> dict | None:
        """The first armed fault rule matching this request, consumed once (test hook)."""
        with self.lock:
            for rule in self.faults:
                if rule.get("method") and rule["method"].upper() != method:
                    continue
                if rule.get("path_contains") and rule["path_contains"].lower() not in path.lower():
                    continue
                rule["times"] = int(rule.get("times", 1)) - 1
                if rule["times"] <= 0:
                    self.faults.remove(rule)
                return rule
        return None


def _apply_entry(state: dict, entry: dict) -> None:
    for section, changes in entry.get("changes", {}).items():
        target = state.setdefault(section, {})
        for key, value in changes:
            if value is None:
                target.pop(key, None)
            else:
                target[key] = value
    state["sequence"] = entry.get("sequence", state.get("sequence", 0))
    state["counters"] = entry.get("counters", state.get("counters"))
