"""Get full bodies through ARM *collections* instead of one GET per resource.

A Resource Graph scan still needs ARM bodies for the types ARG scrubs (VMs, sites, vaults...).
One GET each costs one read of ARM's throttling budget (25/s sustained): 20k VMs are 800 s. A
collection page carries up to 1,000 full bodies for one read, like real ARM:

- a top-level type through its subscription collection
  `GET /subscriptions/{s}/providers/{ns}/{type}?api-version=...&$top=1000`;
- a child type through its parent's collection (`.../virtualNetworks/{v}/subnets`).

Only what a collection cannot give is fetched one by one: a collection that fails (a type that
cannot be listed at that scope, a transient error that outlived the retries), a group too small
to be worth a listing, or a wanted resource the collection did not contain (created after the
listing, or deleted: the single GET then tells `vanished` from an error).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

from tenant_replicator.scan.arm_get import ApiVersions, ProgressMeter, get_json

COLLECTION_PAGE = 1000
# a listing pays off from this many wanted resources of one top-level type (it reads every
# resource of the type in the subscription, wanted or not)
MIN_TOP_LEVEL_GROUP = 3
# under one parent a listing returns only that parent's children: worth it from two
MIN_CHILD_GROUP = 2


def iter_pages(client: Any, url: str, what: str) -> Iterator[list[dict[str, Any]]]:
    """Each page's items of an ARM collection, following `nextLink` (bounded memory: one page)."""
    next_url: str | None = url
    while next_url:
        page = get_json(client, next_url, what)
        yield [v for v in page.get("value") or [] if isinstance(v, dict)]
        next_url = page.get("nextLink")


def collection_scope(resource_id: str, arm_type: str, subscription_id: str) -> tuple[str, bool] | None:
    """(collection path without query, is_child) for one resource, or None when its ID has no
    listable collection (extension resources, malformed IDs). Pure."""
    namespace, _, rest = arm_type.partition("/")
    if not namespace or not rest:
        return None
    segs = resource_id.rstrip("/").split("/")
    lowered = [s.lower() for s in segs]
    if lowered.count("providers") != 1 or len(segs) < 9:
        return None  # extension resource (.../providers/.../providers/...) or not under a group
    if "/" not in rest:
        return f"/subscriptions/{quote(subscription_id)}/providers/{quote(namespace)}/{quote(rest)}", False
    return quote("/".join(segs[:-1]), safe="/"), True  # the parent's ID + the child type's segment


def plan_collections(
    wanted: Sequence[dict[str, Any]], subscription_id: str
) -> tuple[dict[tuple[str, str], list[dict[str, Any]]], list[dict[str, Any]]]:
    """Group wanted `{id, type}` items by collection -> ({(path, type): items}, singles). Pure.

    Groups below the size a listing pays off at go to `singles` (one GET each).
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    child: dict[tuple[str, str], bool] = {}
    singles: list[dict[str, Any]] = []
    for item in wanted:
        arm_type = str(item.get("type") or "")
        scope = collection_scope(str(item.get("id") or ""), arm_type, subscription_id)
        if scope is None:
            singles.append(item)
            continue
        key = (scope[0], arm_type)
        groups.setdefault(key, []).append(item)
        child[key] = scope[1]
    out = {}
    for key, items in groups.items():
        if len(items) >= (MIN_CHILD_GROUP if child[key] else MIN_TOP_LEVEL_GROUP):
            out[key] = items
        else:
            singles.extend(items)
    return out, singles


def _list_group(
    client: Any, versions: ApiVersions, path: str, arm_type: str, items: list[dict[str, Any]],
    meter: ProgressMeter | None,
) -> tuple[list[tuple[dict[str, Any], str]], list[dict[str, Any]], int]:  # fmt: skip
    """Bodies of `items` from one collection -> (fetched, not found there, pages read)."""
    api_version = versions.for_type(arm_type)
    wanted = {str(i["id"]).rstrip("/").lower(): i for i in items}
    fetched: list[tuple[dict[str, Any], str]] = []
    pages = 0
    url = f"{path}?api-version={api_version}&$top={COLLECTION_PAGE}"
    for page in iter_pages(client, url, f"list {arm_type}"):
        pages += 1
        for body in page:
            key = str(body.get("id") or "").rstrip("/").lower()
            if key in wanted:
                del wanted[key]
                fetched.append((body, api_version))
                if meter is not None:
                    meter.step()
    return fetched, list(wanted.values()), pages


def fetch_by_collections(
    client: Any,
    versions: ApiVersions,
    wanted: Sequence[dict[str, Any]],
    subscription_id: str,
    max_workers: int = 4,
    meter: ProgressMeter | None = None,
) -> tuple[list[tuple[dict[str, Any], str]], list[dict[str, Any]], dict[str, int]]:
    """Bodies of `wanted` `{id, type}` items from their collections, never raises.

    Returns (fetched `(body, api_version)`, leftovers to GET one by one, stats
    `{collections, pages, failed_collections}`). A failed collection's items are all leftovers.
    """
    groups, leftovers = plan_collections(wanted, subscription_id)
    stats = {"collections": len(groups), "pages": 0, "failed_collections": 0}
    fetched: list[tuple[dict[str, Any], str]] = []

    def one(key: tuple[str, str]) -> tuple[list[tuple[dict[str, Any], str]], list[dict[str, Any]], int] | None:
        try:
            return _list_group(client, versions, key[0], key[1], groups[key], meter)
        except Exception:  # noqa: BLE001 - ARM errors, transport errors: the single GETs report them
            return None

    with ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="arm-list") as pool:
        for key, outcome in zip(groups, pool.map(one, groups), strict=True):
            if outcome is None:
                stats["failed_collections"] += 1
                leftovers.extend(groups[key])
                continue
            got, missing, pages = outcome
            fetched.extend(got)
            leftovers.extend(missing)
            stats["pages"] += pages
    return fetched, leftovers, stats
