"""Thread-safe, file-backed holder of the simulator state.

The whole state is one JSON document rewritten atomically (tmp file + os.replace) after every
write, so a killed simulator restarts with exactly what clients were told had succeeded.
Read counters are flushed with the next write or at shutdown.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tenant_replicator.sim import model

log = logging.getLogger(__name__)


class Store:
    def __init__(self, state_file: Path, seed: Callable[[], dict], reset: bool = False):
        self.state_file = Path(state_file).resolve()
        self._seed = seed
        self.lock = threading.RLock()
        self.faults: list[dict[str, Any]] = []
        if reset or not self.state_file.is_file():
            self.state = seed()
            self.save()
        else:
            self.state = self._load()

    def _load(self) -> dict:
        state = json.loads(self.state_file.read_text(encoding="utf-8"))
        if state.get("schema") != model.SCHEMA:
            raise ValueError(f"{self.state_file}: unsupported simulator state schema {state.get('schema')!r}")
        state.setdefault("counters", {"reads": {}, "writes": {}})
        return state

    def save(self) -> None:
        """Atomic rewrite: readers of the file never see half a state."""
        with self.lock:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state_file.with_name(
                f".{self.state_file.name}.{os.getpid()}.{threading.get_ident()}.tmp"
            )
            tmp.write_text(json.dumps(self.state, separators=(",", ":")), encoding="utf-8")
            os.replace(tmp, self.state_file)

    def reset(self) -> None:
        with self.lock:
            self.state = self._seed()
            self.faults.clear()
            self.save()

    def count(self, kind: str, subscription: str) -> None:
        with self.lock:
            bucket = self.state["counters"].setdefault(kind, {})
            sub = subscription.lower()
            bucket[sub] = bucket.get(sub, 0) + 1

    def stats(self) -> dict:
        with self.lock:
            counters = self.state["counters"]
            return {
                "writes": dict(counters.get("writes", {})),
                "reads": dict(counters.get("reads", {})),
                "resources": len(self.state["resources"]),
                "resource_groups": len(self.state["resourceGroups"]),
            }

    def reset_counters(self) -> None:
        with self.lock:
            self.state["counters"] = {"reads": {}, "writes": {}}
            self.save()

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
