"""What the generator needs from an ARM ID beyond ``tenant_replicator.arm.ids``.

``arm.ids`` reads IDs *found in text* (GUID subscriptions, segments that stop at brackets and
spaces) and returns loose dicts; it is what the generator uses to recognise and find IDs
(``is_arm_id``, ``find_arm_ids``). A resource the generator is about to *write* needs more: every
type/name pair complete, a name, its azapi ``parent_id``, and names that ``arm.ids`` does not
accept in free text (resource groups may contain parentheses and spaces). That strict parse, and the
two text helpers for rewriting IDs inside bodies, are what stays here.
Only the shape of an ID is interpreted here: type casing belongs to the registry.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# One path segment of an ARM ID as it may appear inside free text: stops at separators that
# never occur in resource names (whitespace, quotes, query/fragment, list separators, brackets).
# Parentheses stay in: resource-group names may contain them.
_SEGMENT = r"[^/\s\"'<>?#&,;|\\\[\]{}]+"


class ParsedId(NamedTuple):
    """The parts of a resource ID that the generator needs (a named tuple: made 100k times a run)."""

    subscription: str
    resource_group: str | None
    resource_type: str | None  # "Ns/type[/child...]" of the innermost provider section, as written
    name: str | None
    parent: str | None  # the ARM parent (azapi parent_id): RG, parent resource, scope or subscription


def _segments(resource_id: str) -> list[str]:
    if not isinstance(resource_id, str) or not resource_id.startswith("/"):
        raise ValueError(f"malformed ARM id (must start with '/subscriptions/'): {resource_id!r}")
    parts = resource_id.strip("/").split("/")
    if "" in parts:
        raise ValueError(f"malformed ARM id (empty segment): {resource_id!r}")
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        raise ValueError(f"malformed ARM id (must start with '/subscriptions/'): {resource_id!r}")
    return parts


def parse_resource_id(resource_id: str) -> ParsedId:
    """Parse a subscription, resource-group or (child / extension) resource ID; ValueError if malformed."""
    parts = _segments(resource_id)
    sub = parts[1]
    rest = parts[2:]
    rg: str | None = None
    if rest and rest[0].lower() == "resourcegroups":
        if len(rest) < 2:
            raise ValueError(f"malformed ARM id (resourceGroups without a name): {resource_id!r}")
        rg = rest[1]
        rest = rest[2:]
    if not rest:
        if rg is None:
            return ParsedId(sub, None, None, None, None)
        return ParsedId(sub, rg, "Microsoft.Resources/resourceGroups", rg, f"/subscriptions/{sub}")
    # Find the innermost "providers/<ns>" section: extension resources nest one below another.
    lowered = [p.lower() for p in rest]
    last_providers = len(lowered) - 1 - lowered[::-1].index("providers") if "providers" in lowered else -1
    if last_providers < 0 or last_providers + 1 >= len(rest):
        raise ValueError(f"malformed ARM id (no providers/<namespace>): {resource_id!r}")
    namespace = rest[last_providers + 1]
    tail = rest[last_providers + 2 :]
    if not tail or len(tail) % 2:
        raise ValueError(f"malformed ARM id (type/name segments do not pair up): {resource_id!r}")
    rtype = "/".join([namespace] + tail[0::2])
    name = tail[-1]
    all_parts = ["subscriptions", sub] + (["resourceGroups", rg] if rg is not None else []) + rest
    parent_parts = all_parts[:-2]
    if len(tail) == 2:  # top-level below its scope: drop "providers/<ns>" too
        parent_parts = parent_parts[:-2]
    parent = "/" + "/".join(parent_parts)
    return ParsedId(sub, rg, rtype, name, parent)


def source_id_pattern(subscription: str) -> re.Pattern[str]:
    """Regex finding ARM IDs (maximal runs of segments) inside text that point into ``subscription``."""
    return re.compile(
        r"/subscriptions/" + re.escape(subscription) + r"(?=$|[/\s\"'?#&,;|\\\]\[{}()<>])(?:/" + _SEGMENT + ")*",
        re.IGNORECASE,
    )


def prefixes_longest_first(resource_id: str) -> list[str]:
    """Every segment-boundary prefix of an ID from the whole ID down to ``/subscriptions/<s>``."""
    parts = resource_id.strip("/").split("/")
    return ["/" + "/".join(parts[:n]) for n in range(len(parts), 1, -1)]
