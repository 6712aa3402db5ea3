"""What `replication_status` says every 10 minutes: one line per active campaign, silent when unchanged.

Pure functions over the campaign states (the loop's Variables), so the rules are testable without Airflow.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

TREND_WINDOW = 5


def eta(state: dict[str, Any], fidelity_target: float, required: int, now: datetime) -> datetime | None:
    """When the objective should hold if the recent trend goes on; None when it does not converge."""
    history = [h for h in state.get("history", []) if h.get("finished_at")][-TREND_WINDOW:]
    if len(history) < 2:
        return None
    times = [datetime.fromisoformat(h["finished_at"]) for h in history]
    per_iteration = (times[-1] - times[0]).total_seconds() / (len(times) - 1)
    fidelities = [h["fidelity_percent"] or 0.0 for h in history]
    last = fidelities[-1]
    remaining = 0.0
    if last < fidelity_target:
        slope = (fidelities[-1] - fidelities[0]) / (len(fidelities) - 1)
        if slope <= 0:
            return None
        remaining = (fidelity_target - last) / slope
    remaining += max(0, required - int(state.get("consecutive_successes", 0)))
    return max(now, times[-1] + timedelta(seconds=per_iteration * remaining))


def last_error(state: dict[str, Any]) -> str | None:
    for entry in reversed(state.get("history", [])):
        if entry.get("reasons"):
            return "; ".join(entry["reasons"])[:300]
    return None


def campaign_status(state: dict[str, Any], now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    objective = state.get("objective") or {}
    when = eta(state, objective.get("fidelity_percent", 95.0), objective.get("consecutive_successes", 3), now)
    return {
        "campaign_id": state["campaign_id"],
        "status": state.get("status"),
        "iteration": state.get("iteration"),
        "fidelity": state.get("last_fidelity"),
        "consecutive_successes": state.get("consecutive_successes"),
        "eta": when.isoformat(timespec="minutes") if when else None,
        "last_error": last_error(state),
    }


def digest(status: dict[str, Any]) -> str:
    """What must change for the status to be worth a message (the ETA alone is not)."""
    keep = {k: v for k, v in status.items() if k != "eta"}
    return hashlib.sha1(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16]


def to_report(
    states: list[dict[str, Any]], previous: dict[str, str], heartbeat: bool, now: datetime | None = None
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """(statuses worth sending now, digests to remember) for the running campaigns."""
    statuses = [campaign_status(s, now) for s in states if s.get("status") == "running"]
    digests = {s["campaign_id"]: digest(s) for s in statuses}
    changed = [s for s in statuses if heartbeat or previous.get(s["campaign_id"]) != digests[s["campaign_id"]]]
    return changed, digests
