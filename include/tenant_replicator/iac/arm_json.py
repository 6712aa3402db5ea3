"""Read a directory of ARM GET payloads (a user's export, or the test corpus) for the generator.

get (files) -> transform (validate each payload, derive what ARM leaves implicit) -> the
``resources`` / ``resource_groups`` inputs of ``generate``. Every payload that cannot be used is
returned in ``problems`` with the file and the reason: an export is never silently made smaller.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenant_replicator.arm.ids import is_arm_id
from tenant_replicator.iac.ids import parse_resource_id
from tenant_replicator.iac.registry import RG_CANONICAL

# ARM api-versions: a date, optionally with a stage suffix (2024-05-01, 2023-10-01-preview).
API_VERSION = re.compile(r"^\d{4}-\d{2}-\d{2}(-(preview|beta|alpha|privatepreview))?$", re.IGNORECASE)
GLOBAL_LOCATIONS = frozenset({"global", ""})


@dataclass
class LoadedExport:
    """Payloads ready for ``generate`` and everything that was left out, with why."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    resource_groups: list[dict[str, Any]] = field(default_factory=list)
    problems: list[dict[str, str]] = field(default_factory=list)  # {file, id, reason}
    notes: list[dict[str, str]] = field(default_factory=list)  # {file, id, note}: used, but say how
    files: int = 0

    @property
    def subscriptions(self) -> list[str]:
        """Subscriptions of the loaded resources, most common first."""
        counts = Counter(parse_resource_id(r["id"]).subscription.lower() for r in self.resources)
        return [sub for sub, _ in counts.most_common()]


def _bodies(document: Any) -> Iterator[Any]:
    """One payload, a list of payloads, or an ARM list page (``{"value": [...]}``)."""
    if isinstance(document, list):
        yield from document
    elif isinstance(document, dict) and "id" not in document and isinstance(document.get("value"), list):
        yield from document["value"]
    else:
        yield document


def _clean(body: dict[str, Any]) -> dict[str, Any]:
    """Drop annotation keys (``_source``...): they are not part of the ARM payload."""
    return {k: v for k, v in body.items() if not str(k).startswith("_")}


def check_payload(body: Any) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """(payload with ``type`` filled in, problem, note) for one body; problem set means unusable."""
    if not isinstance(body, dict):
        return None, f"not a JSON object ({type(body).__name__})", None
    body = _clean(body)
    rid = body.get("id")
    if not isinstance(rid, str) or not rid.strip():
        return None, "payload without id", None
    if not is_arm_id(rid.strip()):
        return None, f"not an ARM resource id: {rid!r}", None
    try:
        parsed = parse_resource_id("/" + rid.strip().strip("/"))
    except ValueError as error:
        return None, str(error), None
    if parsed.resource_type is None:
        return None, "a subscription id, not a resource", None
    note = None
    declared = body.get("type")
    if declared is None or declared == "":
        body["type"] = parsed.resource_type
        note = f"payload without type: {parsed.resource_type} taken from its id"
    elif not isinstance(declared, str):
        return None, f"type is not a string: {declared!r}", None
    elif declared.strip("/").lower() != parsed.resource_type.lower():
        return None, f"type {declared!r} disagrees with the type in its id ({parsed.resource_type})", None
    api = body.get("apiVersion")
    if api is not None and (not isinstance(api, str) or not API_VERSION.match(api)):
        return None, f"unknown api-version {api!r} (expected YYYY-MM-DD[-preview])", None
    if api is None:
        note = "; ".join(filter(None, [note, "no apiVersion: the registry's default is used"]))
    return body, None, note


def _location(resources: Iterable[dict[str, Any]]) -> str | None:
    regional = Counter(
        str(r["location"]) for r in resources if str(r.get("location") or "").lower() not in GLOBAL_LOCATIONS
    )
    return regional.most_common(1)[0][0] if regional else None


def derive_resource_groups(resources: list[dict[str, Any]], listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Listed resource groups plus one for every group only named in a resource id.

    A derived group takes the most common regional location of its resources (an export of
    resources alone says nothing else about the group).
    """
    groups = {rg["id"].lower(): rg for rg in listed}
    members: dict[str, list[dict[str, Any]]] = {}
    for resource in resources:
        parsed = parse_resource_id(resource["id"])
        if parsed.resource_group:
            rg_id = f"/subscriptions/{parsed.subscription}/resourceGroups/{parsed.resource_group}"
            members.setdefault(rg_id.lower(), []).append(resource)
            if rg_id.lower() not in groups:
                groups[rg_id.lower()] = {"id": rg_id, "name": parsed.resource_group}
    derived = []
    for key, group in sorted(groups.items()):
        if "location" not in group:
            group = {**group, "location": _location(members.get(key, []))}
        derived.append(group)
    return derived


def load_arm_dir(directory: Path) -> LoadedExport:
    """Every ``*.json`` under ``directory`` (sorted, recursive) as generator input."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a directory of ARM GET payloads")
    out = LoadedExport()
    seen: dict[str, str] = {}
    listed_groups: list[dict[str, Any]] = []
    for path in sorted(directory.rglob("*.json")):
        out.files += 1
        name = str(path.relative_to(directory))
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            out.problems.append({"file": name, "id": "", "reason": f"unreadable JSON: {error}"})
            continue
        for body in _bodies(document):
            payload, problem, note = check_payload(body)
            rid = str(body.get("id", "")) if isinstance(body, dict) else ""
            if problem or payload is None:
                out.problems.append({"file": name, "id": rid, "reason": problem or "unusable"})
                continue
            payload["id"] = "/" + payload["id"].strip().strip("/")
            key = payload["id"].lower()
            if key in seen:
                out.problems.append({"file": name, "id": rid, "reason": f"duplicate of the payload in {seen[key]}"})
                continue
            seen[key] = name
            if note:
                out.notes.append({"file": name, "id": payload["id"], "note": note})
            if payload["type"].lower() == RG_CANONICAL.lower():
                listed_groups.append(payload)
            else:
                out.resources.append(payload)
    out.resource_groups = derive_resource_groups(out.resources, listed_groups)
    return out


def swap_subscription(value: Any, old: str, new: str) -> Any:
    """``value`` with every ``/subscriptions/<old>`` (any case) pointing at ``new`` instead.

    Used to rehearse an export from another subscription inside the simulator's source.
    """
    pattern = re.compile(r"(/subscriptions/)" + re.escape(old) + r"(?=$|[/\"'\s?#])", re.IGNORECASE)

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {walk(k): walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        if isinstance(node, str) and "/subscriptions/" in node.lower():
            return pattern.sub(lambda m: m.group(1) + new, node)
        return node

    return walk(value)


__all__ = ["LoadedExport", "load_arm_dir", "check_payload", "derive_resource_groups", "swap_subscription"]
