"""Readers of the scanned graph: what generate and fidelity consume."""

from __future__ import annotations

import json
from typing import Any

from tenant_replicator.graph.store import GraphStore


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
    """The last scan `{scan_id, complete, at, resource_count, errors}` plus the last *complete* one
    (`last_complete_scan_id`, `last_complete_at`): the graph holds that scan's data when the latest
    is incomplete. None if never scanned."""
    rows = store.query(
        "MATCH (s:Subscription {id: $sub}) "
        "RETURN s.last_scan_id AS scan_id, s.last_scan_complete AS complete, s.last_scan_at AS at, "
        "s.resource_count AS resource_count, s.last_scan_errors AS errors, "
        "s.last_complete_scan_id AS last_complete_scan_id, s.last_complete_scan_at AS last_complete_at",
        {"sub": subscription_id.lower()},
    )
    if not rows or rows[0]["scan_id"] is None:
        return None
    row = rows[0]
    return {**row, "complete": bool(row["complete"])}
