"""Honest fidelity: source resources matched 1:1 in the target, never a ratio of counts.

The original divided target count by source count and reported 135 %. Here every source
resource is matched to at most one target resource through the campaign's name map (what the
generator said it would become) and the type; pre-existing target resources are reported apart.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Resource = Mapping[str, Any]
# Fields ARM fills in or changes on its own; they say nothing about what we replicated.
_SERVER_SET_KEYS = frozenset({"etag", "provisioningstate", "resourceguid", "systemdata", "uniqueid"})


def compute_fidelity(
    source_resources: Iterable[Resource],
    target_resources: Iterable[Resource],
    name_map: Mapping[str, str],
    *,
    source_complete: bool,
    target_complete: bool,
    out_of_scope: Mapping[str, str] | None = None,
    failure_reasons: Mapping[str, str] | None = None,
    canonical_type: Callable[[str], str] = str,
    writable: Callable[[Resource], Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Build the fidelity report (DESIGN.md contract) for one source/target pair.

    `name_map` maps lower-case source IDs to the target IDs they were generated as;
    `out_of_scope` maps lower-case source IDs the generator deliberately skipped to why;
    `failure_reasons` maps lower-case source IDs to the last apply error for them;
    `writable(resource)` returns the properties we replicate (the type registry knows which are
    read-only), so server-set values never count against the property score.
    """
    out_of_scope = {k.lower(): v for k, v in (out_of_scope or {}).items()}
    failure_reasons = {k.lower(): v for k, v in (failure_reasons or {}).items()}
    targets = {str(t["id"]).lower(): t for t in target_resources}
    canonical_type = functools.lru_cache(maxsize=4096)(canonical_type)
    map_id = functools.lru_cache(maxsize=1 << 18)(lambda text: map_source_id(text, name_map))
    claimed: set[str] = set()
    per_type: dict[str, dict[str, Any]] = {}
    unmatched: list[dict[str, str]] = []
    excluded: list[dict[str, str]] = []
    property_scores: list[float] = []

    for source in source_resources:
        source_id = str(source["id"]).lower()
        type_name = canonical_type(str(source["type"]))
        if source_id in out_of_scope:
            excluded.append({"id": source["id"], "type": type_name, "reason": out_of_scope[source_id]})
            continue
        row = per_type.setdefault(type_name, {"source": 0, "matched": 0})
        row["source"] += 1
        target = _match(source, name_map, targets, claimed)
        if target is None:
            reason = _why_unmatched(source_id, name_map, failure_reasons)
            unmatched.append({"id": source["id"], "type": type_name, "reason": reason})
            continue
        claimed.add(str(target["id"]).lower())
        row["matched"] += 1
        if writable is not None:
            source, target = {"properties": writable(source)}, {"properties": writable(target)}
        property_scores.append(property_score(source, target, name_map, map_id))

    for row in per_type.values():
        row["percent"] = _percent(row["matched"], row["source"])
    source_total = sum(row["source"] for row in per_type.values())
    matched = sum(row["matched"] for row in per_type.values())
    return {
        "overall_percent": _percent(matched, source_total),
        "source_total": source_total,
        "matched": matched,
        "property_score_percent": round(100.0 * sum(property_scores) / len(property_scores), 1)
        if property_scores
        else 0.0,
        "per_type": dict(sorted(per_type.items())),
        "unmatched": unmatched,
        "out_of_scope": excluded,
        "preexisting_target": len(targets) - len(claimed),
        "scan": {"source_complete": source_complete, "target_complete": target_complete},
    }


def _match(
    source: Resource, name_map: Mapping[str, str], targets: Mapping[str, Resource], claimed: set[str]
) -> Resource | None:
    expected = name_map.get(str(source["id"]).lower())
    if not expected:
        return None
    target = targets.get(expected.lower())
    if target is None or expected.lower() in claimed:
        return None
    if str(target["type"]).lower() != str(source["type"]).lower():
        return None
    return target


def _why_unmatched(source_id: str, name_map: Mapping[str, str], failures: Mapping[str, str]) -> str:
    if source_id in failures:
        return f"apply failed: {failures[source_id]}"
    if source_id not in name_map:
        return "not generated"
    return "missing in target after apply"


def _percent(part: int, whole: int) -> float:
    if whole == 0:
        return 0.0
    return round(min(100.0, 100.0 * part / whole), 1)


def property_score(
    source: Resource,
    target: Resource,
    name_map: Mapping[str, str],
    map_id: Callable[[str], str] | None = None,
) -> float:
    """Share of the source's configured leaf values found equal in the target.

    ARM IDs are compared case-insensitively after mapping source IDs through the name map, so a
    reference to a renamed storage account still counts as equal.
    """
    wanted = _leaves(source.get("properties") or {}, map_id or (lambda text: map_source_id(text, name_map)))
    if not wanted:
        return 1.0
    have = _leaves(target.get("properties") or {}, str.lower)
    equal = sum(1 for path, value in wanted.items() if have.get(path) == value)
    return equal / len(wanted)


def map_source_id(text: str, name_map: Mapping[str, str]) -> str:
    """The target form of an ARM ID (lower-case), via the longest mapped prefix; other text unchanged."""
    lowered = text.lower()
    if not lowered.startswith("/subscriptions/"):
        return text
    prefix = lowered
    while prefix:
        if prefix in name_map:
            return (name_map[prefix] + lowered[len(prefix) :]).lower()
        cut = prefix.rfind("/")
        prefix = prefix[:cut] if cut > 0 else ""
    return lowered


def _leaves(value: Any, normalise_id: Callable[[str], str]) -> dict[str, Any]:
    """Flatten to {path: leaf}; iterative, since this runs once per matched pair (100k+ per report)."""
    leaves: dict[str, Any] = {}
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        kind = type(item)
        if kind is dict:
            stack.extend((f"{path}.{key}", child) for key, child in item.items() if key.lower() not in _SERVER_SET_KEYS)
        elif kind is list:
            stack.extend((f"{path}[{index}]", child) for index, child in enumerate(item))
        elif kind is str and item[:15].lower() == "/subscriptions/":
            leaves[path] = normalise_id(item)
        else:
            leaves[path] = item
    return leaves
