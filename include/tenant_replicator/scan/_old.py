"""Scan one subscription into the graph: get (ARM) -> transform (pure) -> load (batched Cypher).

A scan is *complete* only when every listed resource was fetched; only a complete scan removes
the subscription's nodes that it did not see (Cartography-style `scan_id` cleanup), so a flaky
network never deletes a resource from the graph.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from tenant_replicator.arm import ids
from tenant_replicator.graph.store import GraphStore, ensure_indexes
from tenant_replicator.settings import Settings

log = logging.getLogger(__name__)

DEFAULT_WORKERS = 8
LOOKUP_BATCH = 500


# ---------------------------------------------------------------- get


def newest_api_version(versions: Iterable[str]) -> str | None:
    """Newest stable version (`2024-05-01`), else newest preview; ARM versions sort as text by date."""
    versions = [v for v in versions if v]
    stable = sorted((v for v in versions if len(v) == 10), reverse=True)
    if stable:
        return stable[0]
    return max(versions, default=None)


def error_text(exc: BaseException) -> str:
    """A short, secret-free description of a failed call (ARM error code + message when present)."""
    status = getattr(exc, "status_code", None)
    error = getattr(exc, "error", None)
    code = getattr(error, "code", None)
    lines = str(exc).strip().splitlines()
    message = getattr(error, "message", None) or (lines[0] if lines else type(exc).__name__)
    parts = [str(p) for p in (status, code) if p]
    return f"{' '.join(parts)}: {message}" if parts else f"{type(exc).__name__}: {message}"


class ApiVersions:
    """Resolves the api-version per resource type from `providers.get(namespace)`, cached per scan.

    Thread-safe: workers share one instance; a namespace is fetched once.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._by_namespace: dict[str, dict[str, list[str]] | Exception] = {}

    def _types(self, namespace: str) -> dict[str, list[str]]:
        key = namespace.lower()
        with self._lock:
            if key not in self._by_namespace:
                try:
                    provider = self._client.providers.get(namespace)
                    self._by_namespace[key] = {
                        (rt.resource_type or "").lower(): list(rt.api_versions or [])
                        for rt in provider.resource_types or []
                    }
                except Exception as exc:  # remembered: every resource of the namespace reports it
                    self._by_namespace[key] = exc
            cached = self._by_namespace[key]
        if isinstance(cached, Exception):
            raise cached
        return cached

    def for_type(self, arm_type: str) -> str:
        namespace, _, rest = arm_type.partition("/")
        version = newest_api_version(self._types(namespace).get(rest.lower(), []))
        if not version:
            raise LookupError(f"provider {namespace} lists no api-version for {arm_type}")
        return version


def list_inventory(
    client: Any, page_size: int | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Resource groups and top-level resources of the client's subscription.

    The SDK follows `nextLink`; `page_size` (`$top`) only changes how many round trips that takes.
    """
    groups = [rg.as_dict() for rg in client.resource_groups.list(top=page_size)]
    resources = [r.as_dict() for r in client.resources.list(top=page_size)]
    return groups, resources


def fetch_resource(client: Any, versions: ApiVersions, summary: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """Full GET body of one resource with the newest api-version of its type."""
    api_version = versions.for_type(summary["type"])
    body = client.resources.get_by_id(summary["id"], api_version=api_version).as_dict()
    return body, api_version


def fetch_resources(
    client: Any, summaries: Sequence[dict[str, Any]], max_workers: int = DEFAULT_WORKERS
) -> tuple[list[tuple[dict[str, Any], str]], list[dict[str, str]], list[str]]:
    """GET every resource with bounded concurrency -> (fetched, errors, vanished); never raises.

    Transient failures (429 with Retry-After, 5xx, connection errors) are retried by azure-core's
    RetryPolicy inside the client before they land in `errors` as `{id, error}`. A 404
    ResourceNotFound means the resource was deleted between list and GET: it is `vanished`, not an
    error, so the scan stays complete and the cleanup removes its node.
    """
    from azure.core.exceptions import ResourceNotFoundError

    versions = ApiVersions(client)

    def one(summary: dict[str, Any]) -> tuple[dict[str, Any], str] | dict[str, str]:
        try:
            return fetch_resource(client, versions, summary)
        except ResourceNotFoundError as exc:
            if getattr(getattr(exc, "error", None), "code", None) in {"ResourceNotFound", "NotFound", None}:
                return {"id": summary.get("id", "?"), "vanished": "yes"}
            return {"id": summary.get("id", "?"), "error": error_text(exc)}
        except Exception as exc:
            return {"id": summary.get("id", "?"), "error": error_text(exc)}

    fetched: list[tuple[dict[str, Any], str]] = []
    errors: list[dict[str, str]] = []
    vanished: list[str] = []
    with ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="arm-get") as pool:
        for outcome in pool.map(one, summaries):
            if isinstance(outcome, tuple):
                fetched.append(outcome)
            elif "vanished" in outcome:
                vanished.append(outcome["id"])
            else:
                errors.append(outcome)
    return fetched, errors, vanished


# ---------------------------------------------------------------- transform


def group_id(subscription_id: str, name: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{name}"


def references(payload: dict[str, Any]) -> list[str]:
    """Lower-cased ARM IDs the payload points to, minus itself and its own children (not dependencies)."""
    own = str(payload.get("id", "")).rstrip("/").lower()
    found = {i.lower() for i in ids.find_arm_ids(payload)}
    return sorted(i for i in found if i != own and not i.startswith(own + "/"))


def resource_row(
    payload: dict[str, Any], api_version: str, subscription_id: str, scan_id: str, scanned_at: str
) -> dict[str, Any]:
    """One graph row from one ARM GET body; `properties` keeps the WHOLE body as JSON text."""
    resource_id = str(payload["id"]).rstrip("/")
    parsed = ids.parse_resource_id(resource_id)
    arm_type = str(payload.get("type") or parsed["type"] or "")
    rg = parsed["resource_group"]
    return {
        "id": resource_id,
        "id_lower": resource_id.lower(),
        "type": arm_type,
        "type_lower": arm_type.lower(),
        "name": payload.get("name") or (parsed["names"][-1] if parsed["names"] else None),
        "location": payload.get("location"),
        "subscription_id": subscription_id.lower(),
        "resource_group": rg,
        "rg_id_lower": group_id(subscription_id, rg).lower() if rg else None,
        "api_version": api_version,
        "properties": json.dumps(payload, sort_keys=True, separators=(",", ":")),
        "tags": json.dumps(payload.get("tags") or {}, sort_keys=True),
        "depends_on": references(payload),
        "scan_id": scan_id,
        "scanned_at": scanned_at,
    }


def group_row(group: dict[str, Any], subscription_id: str, scan_id: str, scanned_at: str) -> dict[str, Any]:
    """One ResourceGroup row; the ID is rebuilt when the listing omits it."""
    gid = str(group.get("id") or group_id(subscription_id, group["name"])).rstrip("/")
    return {
        "id": gid,
        "id_lower": gid.lower(),
        "name": group.get("name") or gid.rsplit("/", 1)[-1],
        "location": group.get("location"),
        "tags": json.dumps(group.get("tags") or {}, sort_keys=True),
        "managed_by": group.get("managedBy"),
        "subscription_id": subscription_id.lower(),
        "scan_id": scan_id,
        "scanned_at": scanned_at,
    }


def transform(
    groups: Sequence[dict[str, Any]],
    fetched: Sequence[tuple[dict[str, Any], str]],
    subscription_id: str,
    scan_id: str,
    scanned_at: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """ARM payloads -> (group rows, resource rows). Pure: no I/O."""
    group_rows = [group_row(g, subscription_id, scan_id, scanned_at) for g in groups]
    resource_rows = [resource_row(p, v, subscription_id, scan_id, scanned_at) for p, v in fetched]
    return group_rows, resource_rows


def resolve_edges(rows: Sequence[dict[str, Any]], exists: Callable[[str], bool]) -> list[dict[str, str]]:
    """DEPENDS_ON edges: each reference links to its longest existing prefix (a subnet ID -> its VNet).

    References that resolve to the resource itself (its own children) or to nothing are dropped.
    """
    edges: set[tuple[str, str]] = set()
    for row in rows:
        for ref in row["depends_on"]:
            target = next((c for c in ids.ancestors(ref) if exists(c)), None)
            if target and target != row["id_lower"]:
                edges.add((row["id_lower"], target))
    return [{"src": s, "dst": d} for s, d in sorted(edges)]


# ---------------------------------------------------------------- load

UPSERT_SUBSCRIPTION = "MERGE (s:Subscription {id: $sub}) RETURN s.id AS id"

UPSERT_GROUPS = """UNWIND $rows AS row
MERGE (g:ResourceGroup {id_lower: row.id_lower})
SET g.id = row.id, g.name = row.name, g.location = row.location, g.tags = row.tags,
    g.managed_by = row.managed_by, g.subscription_id = row.subscription_id,
    g.scan_id = row.scan_id, g.scanned_at = row.scanned_at
WITH g, row
MATCH (s:Subscription {id: row.subscription_id})
MERGE (g)-[:IN]->(s)"""

UPSERT_RESOURCES = """UNWIND $rows AS row
MERGE (r:Resource {id_lower: row.id_lower})
SET r.id = row.id, r.type = row.type, r.type_lower = row.type_lower, r.name = row.name,
    r.location = row.location, r.subscription_id = row.subscription_id,
    r.resource_group = row.resource_group, r.api_version = row.api_version,
    r.properties = row.properties, r.tags = row.tags, r.scan_id = row.scan_id,
    r.scanned_at = row.scanned_at
WITH r, row
MATCH (g:ResourceGroup {id_lower: row.rg_id_lower})
MERGE (r)-[:IN]->(g)"""

DROP_OLD_EDGES = """UNWIND $rows AS row
MATCH (r:Resource {id_lower: row.id_lower})-[e:DEPENDS_ON]->()
DELETE e"""

UPSERT_EDGES = """UNWIND $rows AS row
MATCH (r:Resource {id_lower: row.src})
MATCH (d:Resource {id_lower: row.dst})
MERGE (r)-[:DEPENDS_ON]->(d)"""

EXISTING_RESOURCES = """UNWIND $ids AS i
MATCH (d:Resource {id_lower: i})
RETURN d.id_lower AS id"""

COUNT_STALE = """MATCH (n:{label} {{subscription_id: $sub}})
WHERE n.scan_id <> $scan_id
RETURN count(n) AS n"""

DELETE_STALE = """MATCH (n:{label} {{subscription_id: $sub}})
WHERE n.scan_id <> $scan_id
DETACH DELETE n"""

FINISH_SUBSCRIPTION = """MERGE (s:Subscription {id: $sub})
SET s.last_scan_id = $scan_id, s.last_scan_complete = $complete, s.last_scan_at = $at,
    s.resource_count = $count, s.last_scan_errors = $errors"""


def existing_ids(store: GraphStore, candidates: Iterable[str]) -> set[str]:
    """Which of `candidates` are Resource nodes already in the graph (batched lookups)."""
    todo = sorted(set(candidates))
    found: set[str] = set()
    for start in range(0, len(todo), LOOKUP_BATCH):
        chunk = todo[start : start + LOOKUP_BATCH]
        found.update(row["id"] for row in store.query(EXISTING_RESOURCES, {"ids": chunk}))
    return found


def remove_stale(store: GraphStore, subscription_id: str, scan_id: str) -> dict[str, int]:
    """Delete this subscription's Resource/ResourceGroup nodes not seen by `scan_id`."""
    params = {"sub": subscription_id.lower(), "scan_id": scan_id}
    removed = {}
    for label in ("Resource", "ResourceGroup"):
        rows = store.query(COUNT_STALE.format(label=label), params)
        removed[label] = int(rows[0]["n"]) if rows else 0
        if removed[label]:
            store.query(DELETE_STALE.format(label=label), params)
    return removed


def load(
    store: GraphStore,
    subscription_id: str,
    group_rows: Sequence[dict[str, Any]],
    resource_rows: Sequence[dict[str, Any]],
) -> dict[str, int]:
    """Upsert groups, resources, IN and DEPENDS_ON edges; returns counts written."""
    sub = subscription_id.lower()
    store.query(UPSERT_SUBSCRIPTION, {"sub": sub})
    store.write(UPSERT_GROUPS, list(group_rows))
    store.write(UPSERT_RESOURCES, list(resource_rows))
    store.write(DROP_OLD_EDGES, [{"id_lower": r["id_lower"]} for r in resource_rows])
    scanned = {r["id_lower"] for r in resource_rows}
    candidates = {c for r in resource_rows for ref in r["depends_on"] for c in ids.ancestors(ref)}
    known = scanned | existing_ids(store, candidates - scanned)
    edges = resolve_edges(resource_rows, known.__contains__)
    store.write(UPSERT_EDGES, edges)
    return {"resource_groups": len(group_rows), "resources": len(resource_rows), "depends_on": len(edges)}


def finish(
    store: GraphStore, subscription_id: str, scan_id: str, complete: bool, count: int, errors: int
) -> str:
    at = datetime.now(UTC).isoformat(timespec="seconds")
    store.query(
        FINISH_SUBSCRIPTION,
        {"sub": subscription_id.lower(), "scan_id": scan_id, "complete": complete, "at": at,
         "count": count, "errors": errors},
    )  # fmt: skip
    return at


# ---------------------------------------------------------------- the scan and its readers


def scan_subscription(
    settings: Settings,
    store: GraphStore,
    subscription_id: str,
    scan_id: str,
    *,
    client: Any = None,
    max_workers: int = DEFAULT_WORKERS,
    page_size: int | None = None,
) -> dict[str, Any]:
    """Scan one subscription into `store`; returns the scan report (see docs/ARCHITECTURE.md).

    `client` replaces the ResourceManagementClient built from `settings` (tests tune retries);
    `max_workers` bounds concurrent GETs; `page_size` sets `$top` on the listings.
    """
    started = time.monotonic()
    scanned_at = datetime.now(UTC).isoformat(timespec="seconds")
    own_client = client is None
    if own_client:
        from tenant_replicator.arm.client import resource_client

        client = resource_client(settings, subscription_id)
    errors: list[dict[str, str]] = []
    groups: list[dict[str, Any]] = []
    fetched: list[tuple[dict[str, Any], str]] = []
    listed: int | None = None
    vanished: list[str] = []
    try:
        try:
            groups, summaries = list_inventory(client, page_size)
            listed = len(summaries)
        except Exception as exc:  # nothing trustworthy to load: record why and leave the graph as it was
            errors.append({"id": f"/subscriptions/{subscription_id}", "error": f"list: {error_text(exc)}"})
        else:
            fetched, errors, vanished = fetch_resources(client, summaries, max_workers)
    finally:
        if own_client:
            client.close()
    ensure_indexes(store)
    group_rows, resource_rows = transform(groups, fetched, subscription_id, scan_id, scanned_at)
    counts = load(store, subscription_id, group_rows, resource_rows) if listed is not None else {}
    complete = not errors
    removed = remove_stale(store, subscription_id, scan_id) if complete else {}
    finish(store, subscription_id, scan_id, complete, len(resource_rows), len(errors))
    report = {
        "subscription_id": subscription_id,
        "scan_id": scan_id,
        "resource_groups": len(group_rows),
        "resources": len(resource_rows),
        "listed": listed or 0,
        "depends_on": counts.get("depends_on", 0),
        "errors": errors,
        "vanished": vanished,
        "complete": complete,
        "removed": removed,
        "duration_s": round(time.monotonic() - started, 3),
    }
    log.info(
        "scan %s of %s: %d resources, %d errors, complete=%s in %.1fs",
        scan_id, subscription_id, len(resource_rows), len(errors), complete, report["duration_s"],
    )  # fmt: skip
    return report


def read_resources(store: GraphStore, subscription_id: str) -> list[dict[str, Any]]:
    """ARM-GET-shaped dicts of the subscription's resources, plus `apiVersion` and `resourceGroup`."""
    rows = store.query(
        "MATCH (r:Resource {subscription_id: $sub}) "
        "RETURN r.properties AS body, r.api_version AS api_version, r.resource_group AS rg "
        "ORDER BY r.id_lower",
        {"sub": subscription_id.lower()},
    )
    resources = []
    for row in rows:
        body = json.loads(row["body"])
        body["apiVersion"] = row["api_version"]
        body["resourceGroup"] = row["rg"]
        resources.append(body)
    return resources


def read_resource_groups(store: GraphStore, subscription_id: str) -> list[dict[str, Any]]:
    """`{id, name, location, tags}` of the subscription's resource groups."""
    rows = store.query(
        "MATCH (g:ResourceGroup {subscription_id: $sub}) "
        "RETURN g.id AS id, g.name AS name, g.location AS location, g.tags AS tags ORDER BY g.id_lower",
        {"sub": subscription_id.lower()},
    )
    return [{**row, "tags": json.loads(row["tags"] or "{}")} for row in rows]


def latest_scan(store: GraphStore, subscription_id: str) -> dict[str, Any] | None:
    """`{scan_id, complete, at, resource_count, errors}` of the last scan, or None if never scanned."""
    rows = store.query(
        "MATCH (s:Subscription {id: $sub}) "
        "RETURN s.last_scan_id AS scan_id, s.last_scan_complete AS complete, s.last_scan_at AS at, "
        "s.resource_count AS resource_count, s.last_scan_errors AS errors",
        {"sub": subscription_id.lower()},
    )
    if not rows or rows[0]["scan_id"] is None:
        return None
    row = rows[0]
    return {**row, "complete": bool(row["complete"])}
