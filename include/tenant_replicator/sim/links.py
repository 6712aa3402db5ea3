"""Linked-ID validation: every ARM resource ID a PUT body points at must exist, as ARM checks.

Replication trips over exactly this: a subnet ID left pointing into the source subscription, a
reference to an NSG that was deleted, a role definition that does not exist. Read-only back-
references (an NSG's `subnets`, a subnet's `ipConfigurations`) are ignored, as ARM ignores them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tenant_replicator.sim import authz, registry
from tenant_replicator.sim.wire import ArmError

_RG_ID = re.compile(r"^/subscriptions/[^/]+/resourcegroups/[^/]+(/.*)?$", re.IGNORECASE)
_ROLE_DEF = re.compile(
    r"^(/subscriptions/[^/]+)?/providers/microsoft\.authorization/roledefinitions/([^/]+)$", re.IGNORECASE
)
# Back-references the resource provider fills in; clients may echo them, ARM ignores them.
_IGNORED_KEYS = frozenset(
    {
        "privateendpoints",
        "ipconfigurationprofiles",
        "serviceassociationlinks",
        "resourcenavigationlinks",
        "virtualmachine",
        "privateendpoint",
        "privateendpointconnections",
        "flowlogs",
        "ipconfiguration",
        "applicationgatewayipconfigurations",
        "managedby",
        "managedbyextended",
    }
)
_IGNORED_BY_TYPE = {
    "microsoft.network/networksecuritygroups": frozenset({"subnets", "networkinterfaces"}),
    "microsoft.network/routetables": frozenset({"subnets"}),
    "microsoft.network/natgateways": frozenset({"subnets"}),
    "microsoft.network/privateendpoints": frozenset({"networkinterfaces"}),
    "microsoft.network/virtualnetworks/subnets": frozenset({"ipconfigurations"}),
    "microsoft.network/virtualnetworks": frozenset({"ipconfigurations"}),
    "microsoft.network/loadbalancers": frozenset({"backendipconfigurations", "loadbalancerbackendaddresses"}),
}


def find_ids(value: Any, ignored: frozenset[str], path: str = "") -> Iterator[tuple[str, str]]:
    """(json path, ID) for every string value or dict key that looks like an ARM ID."""
    if isinstance(value, dict):
        for key, item in value.items():
            lowered = str(key).lower()
            if lowered in _IGNORED_KEYS or lowered in ignored:
                continue
            if _looks_like_id(str(key)):
                yield f"{path}['{key}']", str(key)
            yield from find_ids(item, ignored, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from find_ids(item, ignored, f"{path}[{index}]")
    elif isinstance(value, str) and _looks_like_id(value):
        yield path, value


def _looks_like_id(text: str) -> bool:
    return text.startswith(("/subscriptions/", "/Subscriptions/", "/providers/")) and (
        bool(_RG_ID.match(text)) or bool(_ROLE_DEF.match(text.rstrip("/")))
    )


def check_links(state: dict, full_type: str, body: dict, own_key: str) -> None:
    """400 `LinkedInvalidPropertyId` for the first ID in `properties`/`identity` that does not resolve."""
    ignored = _IGNORED_BY_TYPE.get(full_type.lower(), frozenset())
    scanned = {"properties": body.get("properties"), "identity": body.get("identity")}
    for path, resource_id in find_ids(scanned, ignored):
        key = resource_id.lower().rstrip("/")
        if key == own_key or key.startswith(own_key + "/"):
            continue  # the resource itself and its own children (inline subnets, ipConfigurations)
        if not resolves(state, key):
            raise ArmError(
                400,
                "LinkedInvalidPropertyId",
                f"Property id '{resource_id}' at path '{path}' is invalid: the resource it refers to "
                "does not exist. Expect fully qualified resource Id that start with "
                "'/subscriptions/{subscriptionId}' or '/providers/{resourceProviderNamespace}/'.",
            )


def resolves(state: dict, key: str) -> bool:
    """Does the lower-cased ID name something that exists (resource, group, built-in role)?"""
    role = _ROLE_DEF.match(key)
    if role:
        return role.group(2) in authz.BUILTIN_ROLES
    while True:
        if key in state["resources"] or key in state["resourceGroups"]:
            return True
        head, sep, tail = key.rpartition("/providers/")
        if not sep:
            return False
        parts = tail.split("/")
        if len(parts) < 3:
            return False
        namespace, types = parts[0], parts[1::2]
        if len(parts) % 2 == 0:  # a collection, not a resource
            return False
        if registry.find_type("/".join([namespace, *types])) or registry.is_extension_type(f"{namespace}/{types[0]}"):
            return False  # a registered type that is not stored: it does not exist
        # An unregistered sub-resource (a NIC's ipConfiguration, a load balancer's pool): its parent.
        key = key.rsplit("/", 2)[0]
        if key.endswith(f"/providers/{namespace}"):
            key = head
