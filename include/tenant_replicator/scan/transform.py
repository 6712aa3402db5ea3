"""Transform: ARM payloads -> graph rows and DEPENDS_ON edges. Pure functions, no I/O.

Hot path of a 100k-resource load, so references are found with one regex pass over the JSON text
we store anyway (instead of walking the payload), and ancestors are plain string slicing.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tenant_replicator.arm import ids

# An ARM ID inside JSON text: a segment also stops at a backslash (a JSON escape is never part of an ID).
_TEXT_ID_RE = re.compile(
    r"/subscriptions/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"(?:/[^/\s\"'?#,;<>()\[\]{}\\]+)*",
    re.IGNORECASE,
)


def group_id(subscription_id: str, name: str) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{name}"


def body_text(payload: dict[str, Any]) -> str:
    """The stored form of a body: compact, key-sorted JSON (stable, so unchanged bodies hash equal)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def references_in_text(text: str, own_id: str) -> list[str]:
    """Lower-cased ARM IDs in a body's JSON text, minus the resource itself and its own children.

    Keys count too: `identity.userAssignedIdentities` is keyed by the identities it depends on.
    """
    own = own_id.rstrip("/").lower()
    child = own + "/"
    found = {m.group(0).rstrip("/").lower() for m in _TEXT_ID_RE.finditer(text)}
    return sorted(i for i in found if i != own and not i.startswith(child))


def references(payload: dict[str, Any]) -> list[str]:
    """Lower-cased ARM IDs the payload points to, minus itself and its own children (not dependencies)."""
    return references_in_text(body_text(payload), str(payload.get("id", "")))


def _split_id(resource_id: str) -> tuple[str | None, str | None]:
    """(resource group, last name) of an ID by string slicing; (None, None) if it has no group."""
    segs = resource_id.strip("/").split("/")
    rg = segs[3] if len(segs) > 3 and segs[2].lower() == "resourcegroups" else None
    return rg, (segs[-1] if len(segs) > 4 else None)


def _type_of(resource_id: str) -> str:
    return ids.parse_resource_id(resource_id)["type"] or ""


def resource_row(
    payload: dict[str, Any], api_version: str, subscription_id: str, scan_id: str, scanned_at: str
) -> dict[str, Any]:
    """One graph row from one ARM GET body; `properties` keeps the WHOLE body as JSON text.

    `body_hash` (of body + api-version) lets a rescan skip rewriting unchanged resources.
    """
    resource_id = str(payload["id"]).rstrip("/")
    if not ids.is_arm_id(resource_id):
        raise ValueError(f"not an ARM resource ID: {resource_id!r}")
    rg, last_name = _split_id(resource_id)
    arm_type = str(payload.get("type") or _type_of(resource_id))
    text = body_text(payload)
    digest = hashlib.blake2b(text.encode(), digest_size=12)
    digest.update(api_version.encode())
    return {
        "id": resource_id,
        "id_lower": resource_id.lower(),
        "type": arm_type,
        "type_lower": arm_type.lower(),
        "name": payload.get("name") or last_name,
        "location": payload.get("location"),
        "subscription_id": subscription_id.lower(),
        "resource_group": rg,
        "rg_id_lower": group_id(subscription_id, rg).lower() if rg else None,
        "api_version": api_version,
        "properties": text,
        "body_hash": digest.hexdigest(),
        "tags": json.dumps(payload.get("tags") or {}, sort_keys=True),
        "depends_on": references_in_text(text, resource_id),
        "scan_id": scan_id,
        "scanned_at": scanned_at,
    }


def group_row(group: dict[str, Any], subscription_id: str, scan_id: str, scanned_at: str) -> dict[str, Any]:
    """One ResourceGroup row; the ID is rebuilt when the listing omits it."""
    gid = str(group.get("id") or group_id(subscription_id, group["name"])).rstrip("/")
    return {
        "id": gid,
        "id_lower": gid.lower(),
        "name": group.get("name") or gid.rsplit("/", 1)[-1],
        "location": group.get("location"),
        "tags": json.dumps(group.get("tags") or {}, sort_keys=True),
        "managed_by": group.get("managedBy"),
        "subscription_id": subscription_id.lower(),
        "scan_id": scan_id,
        "scanned_at": scanned_at,
    }


def dedupe(rows: Iterable[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows unique by `id_lower` (ARM IDs are case-insensitive): first wins; the others' IDs returned."""
    seen: set[str] = set()
    unique, duplicates = [], []
    for row in rows:
        if row["id_lower"] in seen:
            duplicates.append(row["id"])
        else:
            seen.add(row["id_lower"])
            unique.append(row)
    return unique, duplicates


def transform(
    groups: Sequence[dict[str, Any]],
    fetched: Sequence[tuple[dict[str, Any], str]],
    subscription_id: str,
    scan_id: str,
    scanned_at: str,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """ARM payloads -> (group rows, resource rows), unique by case-insensitive ID. Pure: no I/O."""
    group_rows, _ = dedupe(group_row(g, subscription_id, scan_id, scanned_at) for g in groups)
    resource_rows, _ = dedupe(resource_row(p, v, subscription_id, scan_id, scanned_at) for p, v in fetched)
    return group_rows, resource_rows


def _next_in_chain(ref: str) -> str | None:
    """None when `ref` is not a resource (no `/providers/<namespace>/<type>` after the scope), else
    the ID its ancestor chain continues with. By string search: `ref` has one leading slash and no
    empty segment."""
    pos = ref.lower().rfind("/providers/")
    if pos < 0 or ref.count("/", 0, pos) < 2:  # "providers" must follow /subscriptions/<id> at least
        return None
    after = ref.count("/", pos + 11) + 1  # segments after "providers": namespace, type, name, ...
    if after < 2:
        return None
    if after > 3:  # child resource: drop one type/name pair
        return ref[: ref.rfind("/", 0, ref.rfind("/"))]
    return ref[:pos]  # top-level: the scope (RG, subscription or the resource an extension is on)


def ancestors(ref: str, memo: dict[str, list[str]] | None = None) -> list[str]:
    """`ids.ancestors` by string search (same result, much faster): the ID, then each parent
    resource up to (excluding) the resource group or subscription; extension resources continue
    into the resource they are attached to. `memo` shares chains between references (siblings
    have one parent chain)."""
    if "//" in ref or not ref.startswith("/") or ref.endswith("/"):
        ref = "/" + "/".join(s for s in ref.split("/") if s)
    if memo is not None and ref in memo:
        return memo[ref]
    following = _next_in_chain(ref)
    chain = [] if following is None else [ref, *ancestors(following, memo)]
    if memo is not None:
        memo[ref] = chain
    return chain


def ancestor_chains(rows: Sequence[dict[str, Any]]) -> dict[str, list[str]]:
    """`{reference: ancestors(reference)}` for every reference of `rows`, computed once per load."""
    memo: dict[str, list[str]] = {}
    return {ref: ancestors(ref, memo) for row in rows for ref in row["depends_on"]}


def resolve_edges(
    rows: Sequence[dict[str, Any]],
    exists: Callable[[str], bool],
    chains: Mapping[str, Sequence[str]] | None = None,
) -> list[dict[str, str]]:
    """DEPENDS_ON edges: each reference links to its longest existing prefix (a subnet ID -> its VNet).

    References that resolve to the resource itself (its own children) or to nothing are dropped.
    `chains` (from `ancestor_chains`) saves recomputing each reference's ancestors.
    """
    edges: set[tuple[str, str]] = set()
    for row in rows:
        for ref in row["depends_on"]:
            chain = chains[ref] if chains is not None else ancestors(ref)
            target = next((c for c in chain if exists(c)), None)
            if target and target != row["id_lower"]:
                edges.add((row["id_lower"], target))
    return [{"src": s, "dst": d} for s, d in sorted(edges)]


def edge_candidates(rows: Sequence[dict[str, Any]], chains: Mapping[str, Sequence[str]] | None = None) -> set[str]:
    """Every ID a reference of `rows` could resolve to."""
    if chains is not None:
        return {c for chain in chains.values() for c in chain}
    return {c for r in rows for ref in r["depends_on"] for c in ancestors(ref)}
