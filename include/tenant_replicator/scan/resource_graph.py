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

from azure.core.pipeline.policies import HTTPPolicy

from tenant_replicator.arm.pacing import QuotaPacer
from tenant_replicator.scan.arm_get import ArmCallError

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
    client: Any, subscription_id: str, query: str, page_size: int = PAGE_SIZE
) -> Iterator[list[dict[str, Any]]]:
    """Every page of an ARG query (`$skipToken` paging) through the SDK's `resources` operation;
    the client's QuotaPolicy paces it by the user quota headers."""
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.resourcegraph.models import QueryRequest, QueryRequestOptions

    skip_token: str | None = None
    while True:
        options = QueryRequestOptions(top=page_size, skip_token=skip_token, result_format="objectArray")
        request = QueryRequest(subscriptions=[subscription_id], query=query, options=options)
        try:
            response = client.resources(request)
        except HttpResponseError as exc:
            error = getattr(exc, "error", None)
            code = str(getattr(error, "code", "") or exc.reason or "Error")
            message = str(getattr(error, "message", "") or exc.message)
            raise ArmCallError(exc.status_code or 0, code, message, "resource graph query") from exc
        data = response.data or []
        if not isinstance(data, list):
            raise ArmCallError(200, "UnexpectedResultFormat", "data is not an object array", "resource graph query")
        yield [row for row in data if isinstance(row, dict)]
        skip_token = response.skip_token
        if not skip_token or not data:
            return


class QuotaPolicy(HTTPPolicy):  # type: ignore[type-arg]
    """Paces Resource Graph queries by `x-ms-user-quota-remaining` / `-resets-after` (after RetryPolicy)."""

    def __init__(self, pacer: QuotaPacer) -> None:
        super().__init__()
        self.pacer = pacer

    def send(self, request: Any) -> Any:
        self.pacer.acquire()
        response = self.next.send(request)
        self.pacer.observe(response.http_response.status_code, response.http_response.headers)
        return response


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


def resource_graph_client(settings: Any, pacer: QuotaPacer | None = None) -> Any:
    """A ResourceGraphClient for `settings`' endpoint, paced by `pacer`."""
    from azure.mgmt.resourcegraph import ResourceGraphClient

    from tenant_replicator.arm.client import client_kwargs, credential_for

    policies = [QuotaPolicy(pacer)] if pacer else []
    return ResourceGraphClient(credential_for(settings), **client_kwargs(settings, per_retry_policies=policies))
