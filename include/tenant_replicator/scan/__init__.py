"""Scan one subscription into the graph: get (ARM / Resource Graph) -> transform (pure) -> load (batched Cypher).

Modules: `arm_get` (listings, GETs, api-versions), `resource_graph` (ARG discovery), `transform`
(pure rows/edges), `load` (diffing batched writes), `read` (readers), `core` (`scan_subscription`).
"""

from tenant_replicator.scan.arm_get import (
    DEFAULT_WORKERS,
    ApiVersions,
    ArmCallError,
    error_text,
    fetch_resource,
    fetch_resources,
    list_inventory,
    newest_api_version,
)
from tenant_replicator.scan.core import log_progress, scan_subscription, summary
from tenant_replicator.scan.load import existing_ids, finish, load, remove_stale
from tenant_replicator.scan.read import latest_scan, read_resource_groups, read_resources
from tenant_replicator.scan.transform import (
    ancestors,
    dedupe,
    group_id,
    group_row,
    references,
    resolve_edges,
    resource_row,
    transform,
)

__all__ = [
    "DEFAULT_WORKERS", "ApiVersions", "ArmCallError", "ancestors", "dedupe", "error_text", "existing_ids",
    "fetch_resource", "fetch_resources", "finish", "group_id", "group_row", "latest_scan", "list_inventory",
    "load", "log_progress", "newest_api_version", "read_resource_groups", "read_resources", "references",
    "remove_stale", "resolve_edges", "resource_row", "scan_subscription", "summary", "transform",
]  # fmt: skip
