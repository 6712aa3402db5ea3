"""Discovery through Azure Resource Graph: 1,000 resources a query instead of ARM's paged listing.

Rule (DESIGN.md: ARG lags ARM, scrubs some fields, never returns secrets): ARG rows are taken as
the resource body only when they carry `properties` and their type is not in `ARM_BODY_TYPES`
(types whose ARG row is known to lack what ARM GET returns); everything else is fetched through ARM
GET. ARG's lower-case `type` is restored to ARM's casing from the providers API. Resource groups
come from `ResourceContainers`. Queries are paced by the user quota headers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from tenant_replicator.arm.pacing import QuotaPacer
from tenant_replicator.scan.arm_get import ArmCallError, _arm_error

ARG_PATH = "/providers/Microsoft.ResourceGraph/resources?api-version=2022-10-01"
PAGE_SIZE = 1000
# ARG rows of these types omit or scrub fields the ARM GET body has (site config, VM instance data,
# secrets-bearing settings): GET them through ARM.
ARM_BODY_TYPES = frozenset(
    {
        "microsoft.web/sites",
        "microsoft.web/sites/slots",
        "microsoft.compute/virtualmachines",
        "microsoft.keyvault/vaults",
        "microsoft.logic/workflows",
    }
)
ARM_SHAPE = ("id", "name", "type", "location", "kind", "sku", "tags", "identity", "properties", "managedBy",
             "zones", "plan", "extendedLocation")  # fmt: skip


def resources_query(subscription_id: str) -> str:
    return f"Resources | where subscriptionId in~ ('{subscription_id}') | order by id asc"


def groups_query(subscription_id: str) -> str:
    return (
        "ResourceContainers | where type =~ 'microsoft.resources/subscriptions/resourcegroups'"
        f" | where subscriptionId in~ ('{subscription_id}')"
    )


def query_pages(
    client: Any, subscription_id: str, query: str, pacer: QuotaPacer | None = None, page_size: int = PAGE_SIZE
) -> Iterator[list[dict[str, Any]]]:
    """Every page of an ARG query (`$skipToken` paging), paced by the user quota."""
    from azure.core.rest import HttpRequest

    skip_token: str | None = None
    while True:
        options: dict[str, Any] = {"$top": page_size, "resultFormat": "objectArray"}
        if skip_token:
            options["$skipToken"] = skip_token
        body = {"subscriptions": [subscription_id], "query": query, "options": options}
        if pacer:
            pacer.acquire()
        response = client.send_request(HttpRequest("POST", ARG_PATH, json=body))
        if pacer:
            pacer.observe(response.status_code, response.headers)
        if response.status_code != 200:
            raise _arm_error(response, "resource graph query")
        try:
            page = response.json()
        except ValueError as exc:
            raise ArmCallError(200, "MalformedJson", str(exc), "resource graph query") from exc
        data = page.get("data") or []
        if not isinstance(data, list):
            raise ArmCallError(200, "UnexpectedResultFormat", "data is not an object array", "resource graph query")
        yield [row for row in data if isinstance(row, dict)]
        skip_token = page.get("$skipToken") or page.get("skipToken")
        if not skip_token or not data:
            return


def as_arm_body(row: dict[str, Any], canonical_type: Callable[[str], str]) -> dict[str, Any]:
    """An ARG row in ARM GET shape: only ARM's top-level fields, ARM's type casing, no empty extras."""
    body = {k: row[k] for k in ARM_SHAPE if row.get(k) not in (None, "", [], {}) or k in ("tags", "properties")}
    body["type"] = canonical_type(str(row.get("type") or ""))
    if body.get("tags") is None:
        body.pop("tags", None)
    return body


def needs_arm_get(row: dict[str, Any]) -> bool:
    """True when ARG's row cannot stand for the ARM body (see the module rule)."""
    return str(row.get("type") or "").lower() in ARM_BODY_TYPES or not isinstance(row.get("properties"), dict)


def resource_graph_client(settings: Any) -> Any:
    """A ResourceGraphClient (used as an authenticated pipeline) for `settings`' endpoint."""
    from azure.mgmt.resourcegraph import ResourceGraphClient

    from tenant_replicator.arm.client import client_kwargs, credential_for

    return ResourceGraphClient(credential_for(settings), **client_kwargs(settings))
