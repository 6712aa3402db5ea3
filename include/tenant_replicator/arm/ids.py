"""Pure helpers for ARM resource IDs: parse, recognise, find inside any JSON, walk to the parent.

ARM IDs are case-insensitive; these helpers keep the caller's casing in what they return and
compare lower-case. They never touch the network, so the scanner and the IaC emitter share them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
# A segment stops at characters that cannot be part of an ID inside free text (URLs, messages).
_SEGMENT = r"[^/\s\"'?#,;<>()\[\]{}]+"
_ID_RE = re.compile(rf"/subscriptions/{_GUID}(?:/{_SEGMENT})*", re.IGNORECASE)
_FULL_ID_RE = re.compile(rf"^/subscriptions/{_GUID}(?:/{_SEGMENT})*/?$", re.IGNORECASE)


def is_arm_id(value: Any) -> bool:
    """True when `value` is exactly an ARM ID (subscription, resource group or resource), any case."""
    return isinstance(value, str) and bool(_FULL_ID_RE.match(value))


def _segments(resource_id: str) -> list[str]:
    return [s for s in resource_id.strip().strip("/").split("/") if s]


def parse_resource_id(resource_id: str) -> dict[str, Any]:
    """Split an ID into subscription, resource_group, namespace, types, names.

    `types`/`names` are the type/name chain after the *last* `providers/<namespace>` (so an
    extension resource such as a role assignment on a VNet parses as the role assignment);
    `type` is the full ARM type (`Microsoft.Network/virtualNetworks/subnets`) and `scope` the ID
    it hangs under for extension resources (else None). Raises ValueError on non-ARM input.
    """
    if not is_arm_id(resource_id):
        raise ValueError(f"not an ARM resource ID: {resource_id!r}")
    segs = _segments(resource_id)
    result: dict[str, Any] = {
        "subscription": segs[1],
        "resource_group": None,
        "namespace": None,
        "types": [],
        "names": [],
        "type": None,
        "scope": None,
    }
    if len(segs) >= 4 and segs[2].lower() == "resourcegroups":
        result["resource_group"] = segs[3]
    provider_positions = [i for i, s in enumerate(segs) if s.lower() == "providers" and i + 1 < len(segs)]
    if not provider_positions:
        return result
    last = provider_positions[-1]
    if len(provider_positions) > 1:
        result["scope"] = "/" + "/".join(segs[:last])
    result["namespace"] = segs[last + 1]
    rest = segs[last + 2 :]
    result["types"] = rest[0::2]
    result["names"] = rest[1::2]
    if result["types"]:
        result["type"] = "/".join([result["namespace"], *result["types"]])
    return result


def resource_type_of(resource_id: str) -> str | None:
    """The full ARM type of an ID (`Microsoft.Network/virtualNetworks/subnets`), None for RG/sub IDs."""
    return parse_resource_id(resource_id)["type"]


def parent_id(resource_id: str) -> str | None:
    """The ID one level up: child -> parent resource -> resource group -> subscription -> None.

    An extension resource's parent is the scope it is attached to.
    """
    segs = _segments(resource_id)
    if not is_arm_id(resource_id) or len(segs) <= 2:
        return None
    providers = [i for i, s in enumerate(segs) if s.lower() == "providers"]
    if providers and providers[-1] + 2 < len(segs):
        last = providers[-1]
        if len(segs) - (last + 2) > 2:  # child resource: drop one type/name pair
            return "/" + "/".join(segs[:-2])
        return "/" + "/".join(segs[:last])  # top-level: the scope (RG, subscription or parent resource)
    if len(segs) >= 4 and segs[2].lower() == "resourcegroups":
        return "/" + "/".join(segs[:2])
    return "/" + "/".join(segs[:2])


def ancestors(resource_id: str) -> Iterator[str]:
    """The ID itself, then each parent up to (excluding) the resource group: the candidates a
    reference may resolve to when only a parent exists as a node (subnet -> VNet)."""
    current: str | None = resource_id.rstrip("/")
    while current and resource_type_of(current):
        yield current
        current = parent_id(current)


def find_arm_ids(obj: Any) -> set[str]:
    """Every ARM ID found in the strings of any JSON value (keys ignored), trailing slash trimmed.

    Matches inside longer text too (`https://.../subscriptions/<guid>/...`), case-insensitively;
    the returned IDs keep their original casing.
    """
    found: set[str] = set()
    stack = [obj]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if "/subscriptions/" in value.lower():
                found.update(m.group(0).rstrip("/") for m in _ID_RE.finditer(value))
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
    return found


def same_id(a: str, b: str) -> bool:
    """ARM IDs compare case-insensitively and ignore a trailing slash."""
    return a.rstrip("/").lower() == b.rstrip("/").lower()
