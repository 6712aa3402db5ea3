"""The campaign lease: one chain of iterations per campaign at a time.

`max_active_runs=1` keeps two runs of one DAG from running together, but not two *chains*: a second
trigger of the same campaign waits in the queue and, once the first run hands over, would start a
chain of its own that resets the first one's counters and applies to the same Terraform state.
The lease, a small JSON file in the campaign directory, names the chain (its `started_at`) and the
run that holds it. `prepare` takes it, `record` hands it to the chain's next iteration (or releases
it when the chain ends). A run of another chain is refused with a message naming the holder.

A lease is stale (taken over, with a log line) when its holder can no longer release it:
- phase `running`: the holder run is finished (`run_state` says so), or, without run state, it is
  older than `running_ttl_s`;
- phase `handoff`: no other run that could be the successor is queued or running (`pending_runs`),
  or, without that information, the hand-off is older than `handoff_ttl_s`.
Read-modify-write is serialised with `fcntl.flock` on a sibling file, so two processes racing to
take the lease see one winner.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

LEASE_FILE = "lease.json"
MUTEX_FILE = ".lease.lock"
ACTIVE_RUN_STATES = frozenset({"queued", "running"})
RUNNING_TTL_S = 6 * 3600.0
HANDOFF_TTL_S = 3600.0

RunState = Callable[[str, str], "str | None"]  # (dag_id, run_id) -> Airflow run state, None if unknown
PendingRuns = Callable[[], "int | None"]  # queued/running runs that could be the successor, None if unknown


class CampaignLocked(RuntimeError):
    """Another chain of this campaign holds the lease; the message names it."""


def _now() -> datetime:
    return datetime.now(UTC)


@contextmanager
def _mutex(directory: Path) -> Iterator[None]:
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / MUTEX_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def read_lease(directory: Path) -> dict[str, Any] | None:
    """The current lease, or None; an unreadable lease file counts as none (it is rewritten)."""
    try:
        lease = json.loads((directory / LEASE_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        log.warning("campaign lease %s unreadable: treated as free", directory / LEASE_FILE)
        return None
    return lease if isinstance(lease, dict) else None


def _write(directory: Path, lease: dict[str, Any]) -> None:
    tmp = directory / f"{LEASE_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(lease, indent=1, sort_keys=True))
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(directory / LEASE_FILE)


def _age_s(lease: dict[str, Any], now: datetime) -> float:
    try:
        return (now - datetime.fromisoformat(str(lease.get("updated_at")))).total_seconds()
    except ValueError:
        return float("inf")


def stale_reason(
    lease: dict[str, Any],
    *,
    now: datetime,
    run_state: RunState | None = None,
    pending_runs: PendingRuns | None = None,
    running_ttl_s: float = RUNNING_TTL_S,
    handoff_ttl_s: float = HANDOFF_TTL_S,
) -> str | None:
    """Why the holder can no longer release `lease` (then it may be taken over), or None if it still holds."""
    phase = lease.get("phase")
    age = _age_s(lease, now)
    if phase == "released":
        return "released"
    if phase == "handoff":
        pending = pending_runs() if pending_runs else None
        if pending == 0:
            return "handed off but no successor run is queued or running"
        if pending is None and age > handoff_ttl_s:
            return f"handed off {age:.0f} s ago and no successor took it"
        return None
    state = run_state(str(lease.get("dag_id")), str(lease.get("run_id"))) if run_state else None
    if state is not None:  # an enum's str() ("DagRunState.RUNNING") would read as a finished run
        state = str(state).rsplit(".", 1)[-1].lower()
    if state is not None and state not in ACTIVE_RUN_STATES:
        return f"holder run {lease.get('run_id')} is {state}"
    if state is None and age > running_ttl_s:
        return f"holder run {lease.get('run_id')} held it {age:.0f} s without releasing"
    return None


def acquire(
    directory: Path,
    *,
    chain: str,
    run_id: str,
    iteration: int,
    dag_id: str = "",
    run_state: RunState | None = None,
    pending_runs: PendingRuns | None = None,
    running_ttl_s: float = RUNNING_TTL_S,
    handoff_ttl_s: float = HANDOFF_TTL_S,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Take the campaign lease for this run, or raise CampaignLocked naming the holder.

    Free, released, the same run again (a retried `prepare`), the next iteration of the holder's chain
    after a hand-off, or a stale lease: taken. Anything else belongs to a live run or chain: refused.
    """
    now = now or _now()
    with _mutex(directory):
        current = read_lease(directory)
        takeover = None
        if current and current.get("phase") != "released" and current.get("run_id") != run_id:
            successor = (
                current.get("chain") == chain
                and current.get("phase") == "handoff"
                and iteration == int(current.get("iteration") or 0) + 1
            )
            if not successor:
                takeover = stale_reason(
                    current,
                    now=now,
                    run_state=run_state,
                    pending_runs=pending_runs,
                    running_ttl_s=running_ttl_s,
                    handoff_ttl_s=handoff_ttl_s,
                )
                if takeover is None:
                    raise CampaignLocked(_locked_message(directory.name, current))
                log.warning("campaign %s: stale lease taken over (%s)", directory.name, takeover)
        lease = {
            "campaign_id": directory.name,
            "chain": chain,
            "run_id": run_id,
            "dag_id": dag_id,
            "iteration": iteration,
            "phase": "running",
            "taken_at": now.isoformat(timespec="seconds"),
            "updated_at": now.isoformat(timespec="seconds"),
            "took_over": takeover,
        }
        _write(directory, lease)
        return lease


def _locked_message(campaign_id: str, lease: dict[str, Any]) -> str:
    what = (
        f"iteration {lease.get('iteration')} handed over to the chain's next run"
        if lease.get("phase") == "handoff"
        else f"iteration {lease.get('iteration')} in run {lease.get('run_id')}"
    )
    return (
        f"campaign {campaign_id} is locked by the chain started at {lease.get('chain')} ({what}, since "
        f"{lease.get('updated_at')}): this run does nothing. Wait for that chain to end, or stop it "
        f"(its runs failed/finished free the lease)."
    )


def _update(directory: Path, run_id: str, phase: str, now: datetime | None) -> dict[str, Any] | None:
    with _mutex(directory):
        current = read_lease(directory)
        if not current or current.get("run_id") != run_id:
            log.warning("campaign %s: lease not held by %s (holder: %s)", directory.name, run_id, current)
            return None
        current |= {"phase": phase, "updated_at": (now or _now()).isoformat(timespec="seconds")}
        _write(directory, current)
        return current


def handoff(directory: Path, run_id: str, now: datetime | None = None) -> dict[str, Any] | None:
    """The chain goes on: keep the lease for its next iteration (None if this run does not hold it)."""
    return _update(directory, run_id, "handoff", now)


def release(directory: Path, run_id: str, now: datetime | None = None) -> dict[str, Any] | None:
    """The chain ended: free the lease (None if this run does not hold it)."""
    return _update(directory, run_id, "released", now)
