"""Resource ID building the way azapi does it: from ``type``, ``name`` and ``parent_id``.

ARM is case-insensitive, so every comparison here is on lower-cased text, while the ID we build
keeps the caller's casing (the parent ID as given, the type segment as written in ``type``).
"""

from __future__ import annotations

import re

RESOURCE_GROUPS = "microsoft.resources/resourcegroups"
SUBSCRIPTIONS = "microsoft.resources/subscriptions"
TENANTS = "microsoft.resources/tenants"
_TYPE_RE = re.compile(r"^(?P<type>[A-Za-z0-9.]+(?:/[A-Za-z0-9_.-]+)+)@(?P<version>[A-Za-z0-9._-]+)$")


class InvalidResourceAddress(ValueError):
    """``type``/``name``/``parent_id`` do not describe an ARM resource; the message says why."""


def parse_type(type_with_version: str) -> tuple[str, str]:
    """``"Microsoft.Network/virtualNetworks@2023-09-01"`` -> (type, api-version)."""
    match = _TYPE_RE.match(type_with_version.strip())
    if not match:
        raise InvalidResourceAddress(
            f"`type` {type_with_version!r} is invalid: expected <Namespace>/<type>@<api-version>, "
            "e.g. Microsoft.Network/virtualNetworks@2023-09-01"
        )
    return match["type"], match["version"]


def _segments(resource_id: str) -> list[str]:
    return [s for s in resource_id.strip().split("/") if s]


def id_type(resource_id: str) -> str:
    """The ARM type an ID names, e.g. ``Microsoft.Network/virtualNetworks/subnets``.

    Scopes: ``/`` is the tenant, ``/subscriptions/{s}`` a subscription, ``.../resourceGroups/{g}``
    a resource group; after the last ``providers`` come the namespace and type/name pairs.
    """
    segs = _segments(resource_id)
    if not segs:
        return "Microsoft.Resources/tenants"
    namespace: str | None = None
    types: list[str] = []
    scope = ""
    i = 0
    while i < len(segs):
        key = segs[i]
        if key.lower() == "providers" and i + 1 < len(segs):
            namespace, types = segs[i + 1], []
            i += 2
            continue
        if i + 1 >= len(segs):
            raise InvalidResourceAddress(f"parent_id {resource_id!r} is not an ARM ID (odd segment count)")
        if namespace is None:
            scope = key
        else:
            types.append(key)
        i += 2
    if namespace is not None and types:
        return f"{namespace}/{'/'.join(types)}"
    if namespace is not None:
        raise InvalidResourceAddress(f"parent_id {resource_id!r} ends in a namespace, not a resource")
    if scope.lower() == "resourcegroups":
        return "Microsoft.Resources/resourceGroups"
    if scope.lower() == "subscriptions":
        return "Microsoft.Resources/subscriptions"
    raise InvalidResourceAddress(f"parent_id {resource_id!r} is not a valid ARM ID")


def build_resource_id(resource_type: str, name: str, parent_id: str) -> str:
    """The ARM ID azapi would PUT for this ``type``/``name`` under ``parent_id``."""
    if not name or "/" in name:
        raise InvalidResourceAddress(f"`name` {name!r} must be a single non-empty ID segment")
    parent = "/" + "/".join(_segments(parent_id))
    parent_type = id_type(parent_id).lower()
    rtype = resource_type.lower()
    if rtype == RESOURCE_GROUPS:
        if parent_type != SUBSCRIPTIONS:
            raise InvalidResourceAddress(
                f"`parent_id` {parent_id!r} is invalid for a resource group: expected /subscriptions/<id>"
            )
        return f"{parent}/resourceGroups/{name}"
    type_parts = resource_type.split("/")
    if rtype.startswith(parent_type + "/") and parent_type not in (SUBSCRIPTIONS, RESOURCE_GROUPS, TENANTS):
        rest = type_parts[len(parent_type.split("/")) :]
        if len(rest) != 1:
            raise InvalidResourceAddress(
                f"`parent_id` {parent_id!r} ({id_type(parent_id)}) is not the parent of {resource_type}"
            )
        return f"{parent}/{rest[0]}/{name}"
    if len(type_parts) > 2:
        expected = "/".join(type_parts[:-1])
        raise InvalidResourceAddress(
            f"`parent_id` {parent_id!r} is invalid for {resource_type}: expected the ID of a {expected}"
        )
    prefix = "" if parent == "/" else parent
    return f"{prefix}/providers/{type_parts[0]}/{type_parts[1]}/{name}"


def parent_of(resource_id: str) -> str:
    """The parent scope azapi would put in ``parent_id`` for an existing resource ID."""
    segs = _segments(resource_id)
    if len(segs) < 2:
        raise InvalidResourceAddress(f"{resource_id!r} is not a resource ID")
    rest = segs[:-2]
    if len(rest) >= 2 and rest[-2].lower() == "providers":
        rest = rest[:-2]  # top-level type: drop "providers/<Namespace>"
    return "/" + "/".join(rest)


def same_resource_type(type_a: str, type_b: str) -> bool:
    """Whether two ``type@api-version`` strings name the same ARM type (an api-version change is not)."""
    return type_a.split("@", 1)[0].lower() == type_b.split("@", 1)[0].lower()
