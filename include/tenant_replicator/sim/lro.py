"""Long-running operations, the way ARM runs them: accepted now, finished later, polled meanwhile.

A PUT or DELETE of a long-running type is stored at once with `provisioningState: Accepted` and
answered 201/202 with `Azure-AsyncOperation` (a status document) and `Location` (202 until done)
headers. Time moves the operation on lazily: every request first `settle()`s the pending ones, so
there is no background thread and the journal sees each transition as an ordinary write:
Accepted -> Creating/Updating/Deleting (after a third of the duration) -> Succeeded/Failed.

Operations live in `state["operations"]` (journaled with the resources, so a restart resumes them).
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

from tenant_replicator.sim import model

# Types Azure provisions asynchronously (lower-case full type). Storage answers 202 + Location only.
DEFAULT_TYPES = frozenset(
    {
        "microsoft.compute/virtualmachines",
        "microsoft.compute/virtualmachinescalesets",
        "microsoft.compute/disks",
        "microsoft.storage/storageaccounts",
        "microsoft.sql/servers",
        "microsoft.sql/servers/databases",
        "microsoft.containerservice/managedclusters",
        "microsoft.documentdb/databaseaccounts",
        "microsoft.cache/redis",
        "microsoft.network/applicationgateways",
        "microsoft.network/bastionhosts",
        "microsoft.keyvault/vaults",
        "microsoft.web/sites",
    }
)
LOCATION_ONLY = frozenset({"microsoft.storage/storageaccounts"})
DEFAULT_SECONDS = 0.3
ACCEPTED_SHARE = 1 / 3
PROGRESS = {"create": "Creating", "update": "Updating", "delete": "Deleting"}
PENDING_KEY = "lroPending"  # list of op ids still InProgress (rebuilt after loading)


def is_long_running(full_type: str, types: frozenset[str] = DEFAULT_TYPES) -> bool:
    return full_type.lower() in types


def retry_after(seconds: float) -> str:
    """Whole seconds, at least 1: the SDKs parse the header as an int, and 0 means "use your default"
    to azure-core (30 s), so a sub-second operation is still polled after a second, as on Azure."""
    return str(max(1, math.ceil(seconds)))


def start(
    state: dict,
    key: str,
    resource_id: str,
    action: str,
    seconds: float,
    now: float,
    error: dict | None = None,
) -> dict:
    """Register an operation on `key`; `error` makes it end Failed (fault injection)."""
    for pending_id in state.get(PENDING_KEY, []):  # a newer operation on the resource supersedes
        pending = state["operations"].get(pending_id)
        if pending and pending["key"] == key and pending["status"] == "InProgress":
            state["operations"][pending_id] = {**pending, "status": "Canceled", "endTime": _iso(now)}
    op_id = model.stable_uuid(key, action, str(model.next_seq(state)))
    op = {
        "id": op_id,
        "key": key,
        "resourceId": resource_id,
        "action": action,
        "started": now,
        "due": now + seconds,
        "status": "InProgress",
        "outcome": "Failed" if error else "Succeeded",
        "error": error,
        "startTime": _iso(now),
    }
    state["operations"][op_id] = op
    state.setdefault(PENDING_KEY, []).append(op_id)
    return op


def rebuild_pending(state: dict) -> None:
    state[PENDING_KEY] = sorted(
        (op_id for op_id, op in state.get("operations", {}).items() if op.get("status") == "InProgress"),
        key=lambda op_id: state["operations"][op_id]["due"],
    )


def settle(state: dict, now: float) -> bool:
    """Move pending operations on to `now`; True if anything changed (the caller persists)."""
    pending = state.get(PENDING_KEY)
    if not pending:
        return False
    changed = False
    still: list[str] = []
    for op_id in pending:
        op = state["operations"].get(op_id)
        if op is None or op["status"] != "InProgress":
            continue
        if now >= op["due"]:
            _finish(state, op, now)
            changed = True
            continue
        still.append(op_id)
        elapsed = (now - op["started"]) / max(op["due"] - op["started"], 1e-9)
        if elapsed >= ACCEPTED_SHARE and _set_state(state, op["key"], PROGRESS[op["action"]]):
            changed = True
    state[PENDING_KEY] = still
    return changed


def _finish(state: dict, op: dict, now: float) -> None:
    ok = op["outcome"] == "Succeeded"
    if op["action"] == "delete" and ok:
        model.delete_tree(state, op["key"])
    else:
        _set_state(state, op["key"], "Succeeded" if ok or op["action"] == "delete" else "Failed")
    state["operations"][op["id"]] = {**op, "status": op["outcome"], "endTime": _iso(now)}


def _set_state(state: dict, key: str, provisioning_state: str) -> bool:
    """Replace (never mutate) the record, so the journal and ARG history see the change."""
    record = state["resources"].get(key)
    if record is None:
        return False
    props = record["body"].get("properties") or {}
    if props.get("provisioningState") == provisioning_state:
        return False
    body = copy.deepcopy(record["body"])
    body.setdefault("properties", {})["provisioningState"] = provisioning_state
    state["resources"][key] = {**record, "body": body}
    return True


def in_progress(state: dict, key: str) -> bool:
    props = (state["resources"].get(key) or {}).get("body", {}).get("properties") or {}
    return props.get("provisioningState") in ("Accepted", "Creating", "Updating", "Deleting")


def status_document(op: dict) -> dict[str, Any]:
    """What `GET {Azure-AsyncOperation}` returns."""
    doc: dict[str, Any] = {
        "id": op["id"],
        "name": op["id"],
        "status": op["status"],
        "startTime": op["startTime"],
    }
    if op["status"] != "InProgress":
        doc["endTime"] = op.get("endTime")
    if op["status"] == "Failed":
        doc["error"] = op.get("error") or {"code": "InternalServerError", "message": "The operation failed."}
    return doc


def remaining(op: dict, now: float) -> float:
    return max(0.0, op["due"] - now)


def operation_urls(base_url: str, subscription: str, namespace: str, location: str, op_id: str, api: str) -> dict:
    prefix = f"{base_url}/subscriptions/{subscription}/providers/{namespace}/locations/{location or 'global'}"
    return {
        "Azure-AsyncOperation": f"{prefix}/operationStatuses/{op_id}?api-version={api}",
        "Location": f"{prefix}/operationResults/{op_id}?api-version={api}",
    }


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1e6):06d}Z"
