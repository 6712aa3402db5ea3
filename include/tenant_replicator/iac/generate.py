"""Generate azapi Terraform JSON from scanned ARM payloads: every type emitted, every skip reported.

get (payloads) -> transform (plan names/labels, strip read-only, rewrite IDs, break cycles) -> load
(``write_config``). Pure: no ARM, graph or Terraform access here.
"""

from __future__ import annotations

import fnmatch
import functools
import gc
import json
import operator
import os
import pickle
import re
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenant_replicator.iac.ids import ParsedId, parse_resource_id, prefixes_longest_first
from tenant_replicator.iac.naming import fits_rule, global_name, label_for, short_hash
from tenant_replicator.iac.overrides import Overrides, deep_merge
from tenant_replicator.iac.registry import (
    BODY_KEYS,
    DNS_LABEL,
    FALLBACK_API_VERSION,
    GENERIC_READ_ONLY,
    SecretSpec,
    TypeInfo,
    lookup,
)
from tenant_replicator.iac.rewrite import (
    Pending,
    Ref,
    Rewriter,
    Slot,
    Stripper,
    Tpl,
    copy_json,
    escape,
    get_path,
    patch_slots,
    set_path,
)

RG_TYPE = "Microsoft.Resources/resourceGroups"
# Characters no ARM resource name may contain (Microsoft Learn, resource name rules: < > % & \\ ? /),
# plus ':' and '#', which cannot travel in the resource's URL path.
ARM_NAME_FORBIDDEN = frozenset("<>%&\\?/:#")
_NAME_BAD = re.compile("[" + re.escape("".join(sorted(ARM_NAME_FORBIDDEN))) + "\x00-\x1f]")
API_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(-(preview|privatepreview|alpha|beta))?")
AZAPI_PROVIDER = {"source": "azure/azapi", "version": "~> 2.0"}
# Resource groups created and owned by the platform, never replicated (with everything inside).
PLATFORM_RG_PATTERNS: tuple[tuple[str, str], ...] = (
    ("networkwatcherrg", "created by the platform for Network Watcher"),
    ("mc_*", "AKS node resource group, owned by its cluster"),
    ("defaultresourcegroup-*", "created by the platform for monitoring defaults"),
    ("azurebackuprg_*", "created by Azure Backup"),
)


@dataclass
class GenerateResult:
    """The generated config plus everything a report needs about what was and was not emitted.

    ``config`` is the Terraform JSON document. A large generation renders resource blocks in worker
    processes straight to JSON text (``rendered``: label -> text); ``config`` then decodes them on
    first use, and ``write_config`` writes the text as it is (same bytes as dumping the dicts).
    """

    base_config: dict[str, Any]
    name_map: dict[str, str]  # source id lower -> target id
    skipped: list[dict[str, str]] = field(default_factory=list)  # {id, type, reason}
    unmapped_references: list[dict[str, str]] = field(default_factory=list)  # {id, reference, rewritten}
    resource_count: int = 0
    # Children replicated through their parent's body (in name_map, not emitted): {id, type, parent}.
    inline: list[dict[str, str]] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)  # Terraform label -> source id
    # Sensitive variables for write-only properties: {name, kind, id, path} (names only, never values).
    variables: list[dict[str, str]] = field(default_factory=list)
    # Adoption of pre-existing target resources: {"azapi_resource.<label>": "<target id>?api-version=..."};
    # None when the target's resources were not given (then imports.tf.json is left alone).
    imports: dict[str, str] | None = None
    notes: list[str] = field(default_factory=list)  # e.g. name_map overrides naming no input resource
    rendered: dict[str, str] | None = None  # label -> its main.tf.json line (parallel generation)
    name_map_text: str | None = None  # name_map.json's text, made by the worker (parallel generation)

    @property
    def config(self) -> dict[str, Any]:
        if self.rendered is not None:
            decode = _decoder()
            blocks = {k: decode(line[len(_quote_label(k)) + 1 :]) for k, line in self.rendered.items()}
            if blocks:
                self.base_config["resource"] = {"azapi_resource": blocks}
            self.rendered = None  # from now on the dicts are the truth (a caller may change them)
        return self.base_config


@dataclass(slots=True)
class _Item:
    source_id: str
    payload: dict[str, Any]
    type: str
    info: TypeInfo
    parsed: ParsedId
    is_rg: bool = False
    label: str = ""
    target_name: str = ""
    target_id: str = ""
    key: str = ""  # source id lower-cased: the identity of a resource everywhere in generation

    def __post_init__(self) -> None:
        self.key = self.source_id.lower()


# ---------------------------------------------------------------- helpers


def _normalise_id(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"resource without an id: {raw!r}")
    return "/" + raw.strip().strip("/")


def _swap_guid(text: str, source: str, target: str) -> str:
    if source not in text and source.lower() not in text.lower():  # the common case: nothing to swap
        return text
    return re.sub(re.escape(source), target, text, flags=re.IGNORECASE)


def _rg_skip_reason(rg: dict[str, Any]) -> str | None:
    name = str(rg.get("name", "")).lower()
    for pattern, reason in PLATFORM_RG_PATTERNS:
        if fnmatch.fnmatchcase(name, pattern):
            return reason
    if rg.get("managedBy"):
        return f"managed by {rg['managedBy']}"
    return None


def _attachment_create_option(manager: dict[str, Any], disk_id: str) -> str | None:
    """createOption of the entry in ``manager`` that attaches ``disk_id`` (e.g. a VM's osDisk), if any."""
    target = disk_id.lower()
    stack: list[Any] = [manager.get("properties")]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            md = node.get("managedDisk")
            if isinstance(md, dict) and str(md.get("id", "")).lower() == target:
                return str(node.get("createOption", "")).lower() or None
            stack.extend(node.values())
    return None


@functools.lru_cache(maxsize=256)
def _lowered(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(n.lower() for n in names)


def _inline_in(parent: _Item, child: _Item) -> bool:
    """True when ``parent``'s body lists ``child`` inline (then the parent's PUT is the child's truth)."""
    if not parent.info.inline_children:
        return False
    segment = child.type.rsplit("/", 1)[-1].lower()
    if segment not in _lowered(parent.info.inline_children):
        return False
    listed = get_path(parent.payload, f"properties.{segment}")
    name = (child.parsed.name or "").lower()
    return isinstance(listed, list) and any(
        isinstance(entry, dict) and str(entry.get("name", "")).lower() == name for entry in listed
    )


def _reaches(adjacency: dict[str, set[str]], start: str, goal: str) -> bool:
    seen = {start}
    stack = [start]
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for nxt in adjacency.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def break_cycles(
    parent_edges: Iterable[tuple[str, str]], body_edges: Iterable[tuple[str, str]]
) -> set[tuple[str, str]]:
    """Body references that would close a dependency cycle; they are rendered as literal target IDs.

    Parent edges go in first (they form a forest), so a cycle is always broken on a body reference.
    """
    adjacency: dict[str, set[str]] = {}
    for src, dst in parent_edges:
        adjacency.setdefault(src, set()).add(dst)
    literal: set[tuple[str, str]] = set()
    for src, dst in sorted(body_edges):
        if dst in adjacency.get(src, ()):
            continue
        if _reaches(adjacency, dst, src):
            literal.add((src, dst))
        else:
            adjacency.setdefault(src, set()).add(dst)
    return literal


# ---------------------------------------------------------------- planning


def _parse_payload(payload: dict[str, Any], source: str) -> tuple[str, ParsedId]:
    rid = _normalise_id(payload.get("id"))
    parsed = parse_resource_id(rid)
    if parsed.resource_type is None or parsed.parent is None:
        raise ValueError(f"malformed ARM resource id (no type/name): {rid!r}")
    if parsed.subscription.lower() != source.lower():
        raise ValueError(f"resource {rid!r} is not in the source subscription {source}")
    return rid, parsed


def _collect(
    resources: Iterable[dict[str, Any]], resource_groups: Iterable[dict[str, Any]], source: str
) -> tuple[list[_Item], list[_Item]]:
    """Parse and de-duplicate inputs; every ID must be well formed and in the source subscription.

    One process: parsing in a forked child paid nothing at 100k (sending 50k parsed IDs back cost as
    much as parsing them, bench_generate)."""
    rgs: dict[str, _Item] = {}
    for rg in resource_groups:
        rid = _normalise_id(rg.get("id") or f"/subscriptions/{source}/resourceGroups/{rg.get('name', '')}")
        parsed = parse_resource_id(rid)
        if parsed.resource_type != RG_TYPE or parsed.parent is None:
            raise ValueError(f"not a resource group id: {rid!r}")
        if parsed.subscription.lower() != source.lower():
            raise ValueError(f"resource group {rid!r} is not in the source subscription {source}")
        rgs.setdefault(rid.lower(), _Item(rid, rg, RG_TYPE, lookup(RG_TYPE), parsed, is_rg=True))
    items: dict[str, _Item] = {}
    payloads = resources if isinstance(resources, list) else list(resources)
    rg_type = RG_TYPE.lower()
    infos: dict[str, TypeInfo] = {}  # the registry per type string as written (100k lookups, ~60 types)
    for payload in payloads:
        rid, parsed = _parse_payload(payload, source)
        written = str(payload.get("type") or parsed.resource_type)
        info = infos.get(written)
        if info is None:
            info = infos[written] = lookup(written)
        key = rid.lower()
        if key in items or key in rgs:
            continue  # a duplicate ID (in any casing): the first one wins
        if parsed.resource_type.lower() == rg_type:
            rgs[key] = _Item(rid, payload, RG_TYPE, info, parsed, is_rg=True)
        else:
            items[key] = _Item(rid, payload, info.canonical, info, parsed)
    by_key = operator.attrgetter("key")
    return sorted(rgs.values(), key=by_key), sorted(items.values(), key=by_key)


def _principal_reason(item: _Item, principal_map: Mapping[str, str] | None) -> str | None:
    """Why a resource naming principals cannot be replicated as is (None when every one is mapped)."""
    for path in item.info.principal_paths:
        principal = get_path(item.payload, path)
        if not isinstance(principal, str) or not principal:
            continue
        if principal_map is None:
            return (
                f"names principal {principal}: principals differ between tenants; give a principal map to replicate it"
            )
        if principal.lower() not in principal_map:
            return f"principal {principal} is not in the principal map"
    return None


def _name_reason(item: _Item) -> str | None:
    """Why the name can never be valid in Azure (ARM-wide rules; global names are derived instead)."""
    name = item.parsed.name or ""
    if item.info.globally_unique and item.info.name_rule is not None:
        return None  # a new name is derived within the type's rules
    if not _NAME_BAD.search(name) and not name.endswith((".", " ")):
        return None  # the usual case, found by one C-level scan
    bad = sorted(set(name) & ARM_NAME_FORBIDDEN) or [c for c in name if ord(c) < 32]
    if bad:
        return f"name {name!r} contains {''.join(bad)!r}, which no Azure resource name may contain"
    if name.endswith((".", " ")):
        return f"name {name!r} ends with {name[-1]!r}, which Azure does not allow"
    return None


def _own_reason(item: _Item, principal_map: Mapping[str, str] | None) -> str | None:
    """Skip reason that depends on the resource alone (type, payload, name), or None."""
    name_reason = _name_reason(item)
    if name_reason:
        return name_reason
    api = item.payload.get("apiVersion")
    if api is not None and not (isinstance(api, str) and API_VERSION.fullmatch(api)):
        return f"unknown api-version {api!r} (expected YYYY-MM-DD[-preview]): no PUT can be written for it"
    declared = str(item.payload.get("type") or "").strip("/")
    if declared and item.parsed.resource_type and declared.lower() != item.parsed.resource_type.lower():
        return f"payload type {declared} disagrees with the type in its id ({item.parsed.resource_type})"
    if item.info.skip_reason:
        return item.info.skip_reason
    for path, why in item.info.skip_when:
        if get_path(item.payload, path):
            return why
    if item.payload.get("managedBy") and not item.info.attachable:
        return f"managed by {item.payload['managedBy']}"
    return _principal_reason(item, principal_map)


def _skip_reasons(
    rgs: list[_Item],
    items: list[_Item],
    principal_map: Mapping[str, str] | None = None,
    overrides: Overrides | None = None,
    own: Mapping[str, str | None] | None = None,
) -> tuple[dict[str, str], dict[str, _Item]]:
    """(source id lower -> reason for everything never replicated, child key -> parent carrying it inline).

    ``own``: ``_own_reason`` of every item, when already computed (by two processes)."""
    reasons: dict[str, str] = {}
    skipped_groups: dict[str, str] = {}  # group name lower -> reason (every ID is in the one source subscription)
    for rg in rgs:
        reason = overrides.rg_skip_reason(rg.parsed.name or "") if overrides else None
        reason = reason or _rg_skip_reason(rg.payload)
        if reason:
            reasons[rg.key] = skipped_groups[(rg.parsed.name or "").lower()] = reason
    for item in items:
        p = item.parsed
        reason = overrides.skip_reason(item.type, p.resource_group) if overrides else None
        if reason:
            pass
        elif skipped_groups and p.resource_group and p.resource_group.lower() in skipped_groups:
            why = skipped_groups[p.resource_group.lower()]
            reason = f"in platform-managed resource group {p.resource_group} ({why})"
        else:
            reason = own[item.key] if own is not None else _own_reason(item, principal_map)
        if reason:
            reasons[item.key] = reason
    by_key = {i.key: i for i in items}
    inline: dict[str, _Item] = {}
    for item in items:  # second stage: decisions that depend on whether another resource is emitted
        if item.key in reasons:
            continue
        parent = by_key.get((item.parsed.parent or "").lower())
        if parent is not None and parent.key not in reasons and _inline_in(parent, item):
            inline[item.key] = parent
            continue
        manager_id = item.payload.get("managedBy")
        if manager_id and item.info.attachable:
            manager = by_key.get(str(manager_id).lower())
            if manager is None or manager.key in reasons:
                reasons[item.key] = f"managed by {manager_id} (which is not replicated)"
                continue
            option = _attachment_create_option(manager.payload, item.source_id)
            if option not in (None, "attach"):
                reasons[item.key] = f"created by {manager_id} itself (createOption {option})"
    return reasons, inline


def _override_name(item: _Item, name: str) -> str:
    """A user's target name for ``item``, checked against the rules the generator itself keeps."""
    rule = item.info.name_rule
    where = f"overrides name_map[{item.source_id!r}] = {name!r}"
    if item.info.globally_unique and rule is not None and not fits_rule(name, rule):
        raise ValueError(
            f"{where}: breaks the naming rule of {item.type} ({rule.min_len}-{rule.max_len} characters, "
            f"{'lower-case ' if rule.lowercase else ''}letters and digits{', hyphens' if rule.hyphens else ''})"
        )
    bad = sorted(set(name) & ARM_NAME_FORBIDDEN) or [c for c in name if ord(c) < 32]
    if not name or bad or name.endswith((".", " ")):
        raise ValueError(f"{where}: not a valid Azure resource name")
    return name


def _assign_names(
    rgs: list[_Item], items: list[_Item], source: str, target: str, nonce: str, chosen: Mapping[str, str] | None = None
) -> None:
    used: set[tuple[str, str]] = set()
    for item in rgs + items:
        name = item.parsed.name or ""
        rule = item.info.name_rule
        if chosen and item.key in chosen:
            name = _override_name(item, chosen[item.key])
        elif item.info.globally_unique and rule is not None:
            candidate = global_name(name, nonce, rule)
            n = 0
            while (item.type.lower(), candidate.lower()) in used:  # two long names cut to the same stem
                candidate = global_name(f"{name}{short_hash(f'{item.key}{n}', 4)}", nonce, rule)
                n += 1
            name = candidate
        else:
            name = _swap_guid(name, source, target)
        used.add((item.type.lower(), name.lower()))
        item.target_name = name


def _assign_labels(items: list[_Item], candidates: Mapping[str, str] | None = None) -> None:
    """Stable labels; ``candidates`` (key -> first-choice label) when computed by two processes."""
    taken: set[str] = set()
    for item in items:
        hash_len = 6
        label = candidates.get(item.key) if candidates else None
        if label is None:
            label = label_for(item.type, item.parsed.name or "", item.key, hash_len)
        while label in taken:
            hash_len += 2
            label = label_for(item.type, item.parsed.name or "", item.key, hash_len)
        taken.add(label)
        item.label = label


def _literal_target(source_id: str, target_by_id: dict[str, str], source: str, target: str) -> str:
    """Target ID of any source ID: the longest already-mapped prefix, else just the subscription swapped."""
    hit = target_by_id.get(source_id.lower())
    if hit is not None and not source_id.endswith("/"):  # the usual case: the ID itself is mapped
        return hit
    for prefix in prefixes_longest_first(source_id):
        hit = target_by_id.get(prefix.lower())
        if hit is not None:
            return hit + _swap_guid(source_id[len(prefix) :], source, target)
    return _swap_guid(source_id, source, target)


def _assign_target_ids(rgs: list[_Item], items: list[_Item], source: str, target: str) -> dict[str, str]:
    target_by_id: dict[str, str] = {}
    for rg in rgs:
        rg.target_id = f"/subscriptions/{target}/resourceGroups/{rg.target_name}"
        target_by_id[rg.key] = rg.target_id
    for item in sorted(items, key=lambda i: len(i.source_id)):  # parents before children
        parent = item.parsed.parent or ""
        parent_target = target_by_id.get(parent.lower())  # the usual case: the parent is emitted
        if parent_target is None:
            parent_target = _literal_target(parent, target_by_id, source, target)
        middle = item.source_id[len(parent) : len(item.source_id) - len(item.parsed.name or "")]
        item.target_id = parent_target + _swap_guid(middle, source, target) + item.target_name
        target_by_id[item.key] = item.target_id
    return target_by_id


# ---------------------------------------------------------------- emission


def _secret_needed(payload: dict[str, Any], spec: SecretSpec) -> bool:
    if spec.when is not None and not get_path(payload, spec.when):
        return False
    return not (spec.unless is not None and get_path(payload, spec.unless) is True)


def secret_variable_name(label: str, path: str) -> str:
    """``secret_<label>_<leaf>``: a valid Terraform variable (and TF_VAR_ suffix), stable per resource."""
    leaf = re.sub(r"[^a-z0-9_]+", "_", path.rsplit(".", 1)[-1].lower()).strip("_") or "value"
    return f"secret_{label}_{leaf}"


def _set_secret(body: dict[str, Any], path: str, reference: str) -> bool:
    """Put ``reference`` at ``path`` (leaf created; the parent must exist); False when it does not."""
    *parents, leaf = path.split(".")
    node: Any = body
    for seg in parents:
        if not isinstance(node, dict):
            return False
        node = next((node[k] for k in node if k.lower() == seg.lower()), None)
    if not isinstance(node, dict):
        return False
    for key in [k for k in node if k.lower() == leaf.lower()]:  # a value in the payload is never written out
        del node[key]
    node[leaf] = reference
    return True


def _stripped_body(item: _Item, stripper: Stripper) -> tuple[Any, list[Pending]]:
    """Phase 1 of the writable body (no plan needed): read-only paths stripped, literal text escaped."""
    raw = {k: item.payload[k] for k in BODY_KEYS if item.payload.get(k) is not None}
    if item.info.body_transform is not None:  # before rewriting: what it drops is neither sent nor reported
        raw = copy_json(raw)
        item.info.body_transform(raw)
    pendings: list[Pending] = []
    return stripper.copy(raw, GENERIC_READ_ONLY + item.info.read_only, pendings), pendings


def _body(
    item: _Item,
    rw: Rewriter,
    slots: list[Slot],
    nonce: str,
    principal_map: Mapping[str, str] | None,
    stripped: tuple[Any, list[Pending]],
) -> dict[str, Any]:
    """The writable body: the stripped one (``_stripped_body``) with its IDs rewritten."""
    body = rw.resolve(stripped[0], stripped[1], item.source_id, item.label, slots)
    for path in item.info.principal_paths:  # _skip_reasons let through only mapped principals
        principal = get_path(body, path)
        if isinstance(principal, str) and principal_map and principal.lower() in principal_map:
            set_path(body, path, principal_map[principal.lower()])
    for path in item.info.unique_properties:
        value = get_path(body, path)
        if isinstance(value, str) and value:
            set_path(body, path, global_name(value, nonce, DNS_LABEL))
    identity = body.get("identity")
    if isinstance(identity, dict) and isinstance(identity.get("userAssignedIdentities"), dict):
        users = identity["userAssignedIdentities"]
        for key in users:  # in place: the keys may be templates waiting in ``slots``
            users[key] = {}
    return body


def _text(value: str) -> str:
    return escape(value) if "{" in value else value


def _collector_paused(func: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``func`` with the cyclic garbage collector paused (restored afterwards, also on error).

    Generation allocates millions of small containers and creates no reference cycles; at 100k
    resources the collector's repeated full scans of everything alive were ~40 % of the run.
    """

    @functools.wraps(func)
    def paused(*args: Any, **kwargs: Any) -> Any:
        collecting = gc.isenabled()
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            if collecting:
                gc.enable()

    return paused


@_collector_paused
def generate(
    resources: Iterable[dict[str, Any]],
    resource_groups: Iterable[dict[str, Any]],
    source_subscription: str,
    target_subscription: str,
    nonce: str,
    *,
    principal_map: Mapping[str, str] | None = None,
    overrides: Overrides | None = None,
    target_resources: Iterable[dict[str, Any]] | None = None,
    emit_secrets: bool = False,
    workers: int | None = None,
) -> GenerateResult:
    """Terraform JSON (azapi) replicating ``resources`` into the target subscription.

    ``principal_map`` (source object id -> target object id, see ``iac.principals``) lets role
    assignments through; without it they are skipped with the reason. ``overrides`` (``iac.overrides``)
    exclude/include, patch bodies, remap locations and names. ``target_resources`` (the target's
    current ARM payloads) turns every emitted resource whose target ID already exists into an
    import (``result.imports``). ``emit_secrets`` writes write-only properties (registry
    ``secret_paths``) as sensitive variables (``result.variables``; values: ``iac.secrets``); off by
    default because the caller must then feed ``TF_VAR_*`` to terraform. ``workers``: processes that
    emit resource blocks (None: 2 when there are at least ``PARALLEL_MIN`` resources, 2 CPUs and one
    of them idle; the output is byte-identical either way). Raises ValueError when
    source and target are the same subscription (we never write into the source), when an input ID
    is malformed / outside the source subscription, or when an override is impossible.
    """
    if overrides is not None and overrides.principals:
        principal_map = {**overrides.principals, **(principal_map or {})}
    principals = {k.lower(): v for k, v in principal_map.items()} if principal_map is not None else None
    source, target = source_subscription.strip(), target_subscription.strip()
    if not source or not target:
        raise ValueError("source and target subscription ids are required")
    if source.lower() == target.lower():
        raise ValueError(f"source and target subscription are the same ({source}): refusing to generate")
    if not nonce:
        raise ValueError("a non-empty campaign nonce is required for globally unique names")

    resources = resources if isinstance(resources, list) else list(resources)
    parallel = _use_workers(workers, len(resources))
    rgs, items = _collect(resources, resource_groups, source)
    own = candidates = None
    emission = _Emission(source, target, nonce, principals, overrides, emit_secrets)
    worker = _Worker(emission, rgs, items, items[int(len(items) * (1 - WORKER_SHARE)) :]) if parallel else None
    try:
        if worker is not None:  # the per-resource part of skipping and labelling, half of it in the worker
            firsts = [_own_and_label(i, principals) for i in items[: worker.half]] + worker.firsts()
            own = {i.key: reason for i, (reason, _) in zip(items, firsts, strict=True)}
            candidates = {i.key: label for i, (_, label) in zip(items, firsts, strict=True)}
        return _plan_and_emit(
            rgs, items, emission, worker, own, candidates, source, target, nonce, principals, overrides,
            target_resources,
        )  # fmt: skip
    finally:
        if worker is not None:
            worker.close()


def _rewriter(source: str, target: str, rgs: list[_Item], items: list[_Item], target_by_id: dict[str, str]) -> Rewriter:
    """The rewriter of a plan: emitted groups and resources by label and target ID, renamed hosts."""
    renamed = {
        i.parsed.name.lower(): i.target_name
        for i in items
        if i.info.globally_unique and i.parsed.name and i.parsed.name != i.target_name
    }
    return Rewriter(source, target, {i.key: i.label for i in rgs + items}, target_by_id, {i.key for i in rgs}, renamed)


def _plan_and_emit(
    rgs: list[_Item],
    items: list[_Item],
    emission: _Emission,
    worker: _Worker | None,
    own: Mapping[str, str | None] | None,
    candidates: Mapping[str, str] | None,
    source: str,
    target: str,
    nonce: str,
    principals: Mapping[str, str] | None,
    overrides: Overrides | None,
    target_resources: Iterable[dict[str, Any]] | None,
) -> GenerateResult:
    """Skips, names, labels and target IDs (the plan), then the blocks: here, or shared with ``worker``."""
    reasons, inline = _skip_reasons(rgs, items, principals, overrides, own)
    skipped = [{"id": i.source_id, "type": i.type, "reason": reasons[i.key]} for i in rgs + items if i.key in reasons]
    inline_items = [i for i in items if i.key in inline]
    rgs = [i for i in rgs if i.key not in reasons]
    items = [i for i in items if i.key not in reasons and i.key not in inline]

    chosen_names = overrides.name_map if overrides else None
    _assign_names(rgs, items, source, target, nonce, chosen_names)
    _assign_labels(rgs + items, candidates)
    target_by_id = _assign_target_ids(rgs, items, source, target)
    for child in inline_items:  # addressed below the parent's new id; the parent's PUT creates it
        child.target_id = _literal_target(child.source_id, target_by_id, source, target)
    if worker is not None:  # first thing: the worker waits for it
        theirs = [i for i in items if i.key in worker.share_keys]
        worker.send_plan(set(reasons) | set(inline), rgs + items, theirs, inline_items)
    rw = emission.rw = _rewriter(source, target, rgs, items, target_by_id)

    blocks, slots, parent_edges = emission.blocks, emission.slots, emission.parent_edges
    variables: list[dict[str, str]] = []
    rendered: dict[str, str] | None = None
    name_map_text = None
    if worker is not None:
        emission.emit(rgs + [i for i in items if i.key not in worker.share_keys])
        rendered, child_variables, name_map_text = worker.finish(emission)
        variables.extend(emission.variables + child_variables)
    else:
        emission.emit(rgs + items)
        patch_slots(slots, break_cycles(parent_edges, rw.edges - parent_edges))
        variables.extend(emission.variables)
    name_map = {i.key: i.target_id for i in rgs + items + inline_items}
    config: dict[str, Any] = {
        "terraform": {"required_providers": {"azapi": dict(AZAPI_PROVIDER)}},
        "provider": {"azapi": {}},
    }
    if variables:
        config["variable"] = {v["name"]: {"type": "string", "sensitive": True} for v in variables}
    if blocks and rendered is None:
        config["resource"] = {"azapi_resource": blocks}
    seen: set[tuple[str, str]] = set()
    unmapped = []
    for ref in rw.unmapped:
        key = (ref["id"].lower(), ref["reference"].lower())
        if key not in seen:
            seen.add(key)
            unmapped.append(ref)
    return GenerateResult(
        base_config=config,
        name_map=name_map,
        skipped=skipped,
        inline=[{"id": i.source_id, "type": i.type, "parent": inline[i.key].source_id} for i in inline_items],
        unmapped_references=sorted(unmapped, key=lambda r: (r["id"].lower(), r["reference"].lower())),
        resource_count=len(blocks) if rendered is None else len(rendered),
        labels={i.label: i.source_id for i in rgs + items},
        variables=variables,
        imports=None if target_resources is None else _imports(rgs + items, target_resources),
        notes=_unused_name_overrides(chosen_names, rgs + items + inline_items),
        rendered=rendered,
        name_map_text=name_map_text,
    )


def _api(item: _Item) -> str:
    return item.payload.get("apiVersion") or item.info.default_api_version or FALLBACK_API_VERSION


PARALLEL_MIN = 20_000  # below this, forking costs more than it saves


class _Emission:
    """Resource blocks of a list of planned items, with the templates and edges still to resolve."""

    def __init__(
        self,
        source: str,
        target: str,
        nonce: str,
        principals: Mapping[str, str] | None,
        overrides: Overrides | None,
        emit_secrets: bool,
    ) -> None:
        self.source, self.target, self.nonce, self.principals = source, target, nonce, principals
        self.overrides, self.emit_secrets = overrides, emit_secrets
        self.rw: Rewriter  # set once the plan is made
        self.stripper = Stripper(source)
        self.blocks: dict[str, dict[str, Any]] = {}
        self.slots: list[Slot] = []
        self.parent_edges: set[tuple[str, str]] = set()
        self.variables: list[dict[str, str]] = []

    def group(self, rg: _Item) -> None:
        block: dict[str, Any] = {
            "type": f"{RG_TYPE}@{rg.info.default_api_version}",
            "name": _text(rg.target_name),
            "parent_id": f"/subscriptions/{self.target}",
        }
        if rg.payload.get("location"):
            block["location"] = _text(_location(str(rg.payload["location"]), self.overrides))
        if rg.payload.get("tags"):
            block["tags"] = self.rw.convert(rg.payload["tags"], rg.source_id, rg.label, (), self.slots)
        self.blocks[rg.label] = block

    def prepare(self, item: _Item) -> tuple[tuple[Any, list[Pending]], tuple[Any, list[Pending]] | None]:
        """Phase 1 of a resource's block (body and tags stripped and escaped): needs no plan."""
        tags = item.payload.get("tags")
        stripped_tags = None
        if tags:
            pendings: list[Pending] = []
            stripped_tags = (self.stripper.copy(tags, (), pendings), pendings)
        return _stripped_body(item, self.stripper), stripped_tags

    def emit(self, items: list[_Item], prepared: dict[str, Any] | None = None) -> None:
        """Blocks of resource groups and resources (templates wait in ``slots``); ``prepared``: the
        items' ``prepare`` results when a worker made them before the plan (taken out as used)."""
        for item in items:
            if item.is_rg:
                self.group(item)
                continue
            stripped = prepared.pop(item.key, None) if prepared else None
            stripped_body, stripped_tags = stripped or self.prepare(item)
            block = {"type": _text(f"{item.type}@{_api(item)}"), "name": _text(item.target_name)}
            parent = self.rw.leaf(item.parsed.parent or f"/subscriptions/{self.source}", item.source_id, item.label)
            block["parent_id"] = parent
            if isinstance(parent, Tpl):
                self.parent_edges.update((item.label, p.label) for p in parent.parts if isinstance(p, Ref))
                self.slots.append((block, "parent_id", item.label, False))
            if item.payload.get("location"):
                block["location"] = _text(_location(str(item.payload["location"]), self.overrides))
            if stripped_tags is not None:
                block["tags"] = self.rw.resolve(*stripped_tags, item.source_id, item.label, self.slots)
            body = _body(item, self.rw, self.slots, self.nonce, self.principals, stripped_body)
            patch = self.overrides.patch_for(item.type) if self.overrides else None
            if patch:
                deep_merge(body, patch)  # strings are templates as written in HCL
            if self.emit_secrets:
                for spec in item.info.secret_paths:
                    if _secret_needed(item.payload, spec):
                        name = secret_variable_name(item.label, spec.path)
                        if _set_secret(body, spec.path, "${var." + name + "}"):
                            self.variables.append(
                                {"name": name, "kind": spec.kind, "id": item.source_id, "path": spec.path}
                            )
            if body:
                block["body"] = body
            self.blocks[item.label] = block

    def render(self, literal_edges: set[tuple[str, str]]) -> dict[str, str]:
        """Resolve templates and encode every block: label -> its main.tf.json line (without comma)."""
        patch_slots(self.slots, literal_edges)
        dumps = _encoder()
        return {label: f"{_quote_label(label)}:{dumps(block)}" for label, block in self.blocks.items()}


def _own_and_label(item: _Item, principals: Mapping[str, str] | None) -> tuple[str | None, str]:
    return _own_reason(item, principals), label_for(item.type, item.parsed.name or "", item.key)


def _use_workers(workers: int | None, count: int) -> bool:
    if workers is not None:
        return workers > 1
    # Forking a process that runs other threads can copy a lock held by one of them: auto mode only
    # forks a single-threaded process (workers=2 asks for it explicitly).
    # A worker only pays when a core is free: on a busy machine it adds its copy-on-write and pickling
    # cost (~20 % more CPU) and no speed (measured: bench_generate).
    alone = threading.active_count() == 1
    cores = os.cpu_count() or 1
    idle_core = hasattr(os, "getloadavg") and os.getloadavg()[0] <= cores - 1
    return count >= PARALLEL_MIN and cores >= 2 and hasattr(os, "fork") and alone and idle_core


def _send(fd: int, value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    with os.fdopen(os.dup(fd), "wb") as out:
        out.write(len(data).to_bytes(8, "big"))
        out.write(data)


def _read_exact(fd: int, size: int) -> memoryview:
    """Exactly ``size`` bytes (fewer only at end of file), read without a buffer: a buffered reader
    would also swallow the start of the next message when two arrive back to back."""
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        count = os.readv(fd, [view[got:]])
        if count == 0:
            break
        got += count
    return view[:got]


def _recv(fd: int) -> Any:
    head = _read_exact(fd, 8)
    size = int.from_bytes(head, "big") if len(head) == 8 else -1
    data = _read_exact(fd, size) if size >= 0 else memoryview(b"")
    if size < 0 or len(data) != size:
        raise RuntimeError("the generation worker ended early (killed or out of memory)")
    return pickle.loads(data)  # noqa: S301 - our own forked child, over a private pipe


# The worker's share of the resources (by count, before skips): it strips their bodies while this
# process plans, so it can take more than half; this process also emits every resource group,
# breaks the cycles and merges (bench_generate: 0.6-0.7 balances the two on 2 cores).
WORKER_SHARE = 0.65
_SEP = "\0"  # separates the plan's joined fields (no ARM name holds a NUL)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:  # already reaped (e.g. by a caller's own waitpid(-1))
        pass


class _Worker:
    """A forked child emitting the blocks of ``share`` (resources, in input order).

    It forks before the plan and strips its share's bodies (``_Emission.prepare``, most of a body's
    cost) while this process makes the plan; it then receives the plan, rewrites and sends back its
    edges; this process breaks cycles over all edges and sends the literal ones; both render. The
    output is byte-identical to emitting everything in one process (tests/iac/test_parallel.py).
    """

    def __init__(self, emission: _Emission, rgs: list[_Item], items: list[_Item], share: list[_Item]) -> None:
        self.share = share
        self.share_keys = {item.key for item in share}
        self.half = len(items) // 2  # the worker pre-passes items[half:] (``firsts``), this process the rest
        self._second_half = items[self.half :]
        self._everything = rgs + items  # every collected group and resource, as both processes hold them
        self._labels: list[str] = []
        self._from_child, to_parent = os.pipe()
        from_parent, self._to_child = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the child: never returns
            code = 0
            try:
                os.close(self._from_child)
                os.close(self._to_child)
                self._run(emission, from_parent, to_parent)
            except BaseException as error:  # report, then leave without running the parent's cleanup
                code = 1
                try:
                    _send(to_parent, ("error", f"{type(error).__name__}: {error}"))
                except BaseException:
                    pass
            finally:
                os._exit(code)
        os.close(to_parent)
        os.close(from_parent)

    def _run(self, emission: _Emission, inbox: int, outbox: int) -> None:
        _send(outbox, ("ok", [_own_and_label(item, emission.principals) for item in self._second_half]))
        prepared = {item.key: emission.prepare(item) for item in self.share}
        emitted, rgs, items, inline_targets = self._apply_plan(_recv(inbox))
        target_by_id = {i.key: i.target_id for i in emitted}
        emission.rw = rw = _rewriter(emission.source, emission.target, rgs, items, target_by_id)
        emission.emit([i for i in items if i.key in self.share_keys], prepared)
        _send(outbox, ("ok", emission.parent_edges, rw.edges, rw.unmapped, emission.variables))
        names = name_map_json({**target_by_id, **inline_targets})  # while this process breaks the cycles
        literal = _recv(inbox)
        # one string, not a dict of 70k lines: pickling it is a copy (lines hold no raw newline)
        _send(outbox, ("ok", "\n".join(emission.render(literal).values()), names))

    def _apply_plan(self, plan: tuple[Any, ...]) -> tuple[list[_Item], list[_Item], list[_Item], dict[str, str]]:
        """Set the planned label, name and target ID on every emitted item (this process inherited
        the items at the fork; the plan names the dropped ones): -> (emitted, their groups, the rest,
        target IDs of the children carried inline)."""
        dropped, labels, names, targets, inline_targets = plan
        emitted = [item for item in self._everything if item.key not in dropped]
        for item, label, name, target_id in zip(
            emitted, labels.split(_SEP), names.split(_SEP), targets.split(_SEP), strict=True
        ):
            item.label, item.target_name, item.target_id = label, name, target_id
        return emitted, [i for i in emitted if i.is_rg], [i for i in emitted if not i.is_rg], inline_targets

    def _hear(self) -> tuple[Any, ...]:
        """The worker's next message without its "ok"; a failure it reported is raised here."""
        said = _recv(self._from_child)
        if said[0] != "ok":
            raise RuntimeError(f"generation worker failed: {said[1]}")
        return said[1:]

    def firsts(self) -> list[tuple[str | None, str]]:
        """``_own_and_label`` of the second half of the resources, which the worker does first."""
        return self._hear()[0]

    def send_plan(self, dropped: set[str], emitted: list[_Item], theirs: list[_Item], inline: list[_Item]) -> None:
        """The plan, compactly: the keys of the skipped and inline items, then the labels, names and
        target IDs of the rest as three joined strings (pickling dicts of 120k IDs cost 0.4 s)."""
        self._labels = [item.label for item in theirs]  # the order the child renders them in
        fields = [_SEP.join(values) for values in (
            [i.label for i in emitted], [i.target_name for i in emitted], [i.target_id for i in emitted]
        )]  # fmt: skip
        if emitted and any(field.count(_SEP) != len(emitted) - 1 for field in fields):  # pragma: no cover
            raise ValueError("a target name or ID holds a NUL character")  # ARM refuses such names
        self._tell((dropped, *fields, {i.key: i.target_id for i in inline}))

    def _tell(self, message: Any) -> None:
        """Send to the child; a child that already failed (pipe closed) is reported with its own error."""
        try:
            _send(self._to_child, message)
        except BrokenPipeError:
            self._hear()  # the worker failed first: raises its own error (or that it ended without one)
            raise RuntimeError("generation worker failed: it stopped reading its input") from None

    def finish(self, emission: _Emission) -> tuple[dict[str, str], list[dict[str, str]], str]:
        """After this process emitted its part: merge edges, break cycles, render both parts.
        Returns (label -> main.tf.json line, the child's variables, name_map.json text)."""
        child_parent_edges, child_edges, child_unmapped, child_variables = self._hear()
        parent_edges = emission.parent_edges | child_parent_edges
        emission.rw.edges |= child_edges
        emission.rw.unmapped.extend(child_unmapped)
        literal = break_cycles(parent_edges, emission.rw.edges - parent_edges)
        self._tell(literal)
        rendered = emission.render(literal)
        emission.blocks.clear()  # rendered: freeing them now overlaps the wait for the worker's part
        emission.slots.clear()
        child_text, names = self._hear()
        if self._labels:
            rendered.update(zip(self._labels, child_text.split("\n"), strict=True))
        return rendered, child_variables, names

    def close(self) -> None:
        """Close the pipes (a child still waiting for the plan then ends) and reap the child in the
        background: tearing down its copy of a 100k-resource heap takes ~0.2 s nobody needs to wait for."""
        for fd in (self._from_child, self._to_child):
            try:
                os.close(fd)
            except OSError:
                pass
        threading.Thread(target=_reap, args=(self.pid,), name="generate-reaper", daemon=True).start()


def _location(location: str, overrides: Overrides | None) -> str:
    return overrides.location(location) if overrides else location


def _unused_name_overrides(chosen: Mapping[str, str] | None, emitted: list[_Item]) -> list[str]:
    if not chosen:
        return []
    keys = {i.key for i in emitted}
    return [f"name_map override for {k} matches no emitted resource" for k in sorted(chosen or {}) if k not in keys]


def _imports(emitted: list[_Item], target_resources: Iterable[dict[str, Any]]) -> dict[str, str]:
    """{address: import id} of emitted resources whose target ID already exists in the target."""
    from tenant_replicator.terraform.imports import import_id

    existing: dict[str, str] = {}
    for payload in target_resources:
        rid = _normalise_id(payload.get("id") if isinstance(payload, dict) else None)
        existing[rid.lower()] = rid
    found: dict[str, str] = {}
    for item in emitted:
        hit = existing.get(item.target_id.lower())
        if hit is not None:
            found[f"azapi_resource.{item.label}"] = import_id(hit, {"type": f"{item.type}@{_api(item)}"})
    return dict(sorted(found.items()))


def _encoder() -> Callable[[Any], str]:
    """Compact, key-sorted JSON of one value: msgspec's C encoder (5-10x json's), json as fallback.

    msgspec (already installed with Airflow) writes the same text as ``json.dumps(sort_keys=True,
    separators=(",", ":"), ensure_ascii=False)`` except for float spelling; integers beyond 64 bits,
    which it refuses, fall back to json.
    """
    compact = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False}
    try:
        import msgspec
    except ImportError:  # pragma: no cover - msgspec ships with Airflow
        return lambda value: json.dumps(value, **compact)
    encode = msgspec.json.encode

    def dumps(value: Any) -> str:
        try:
            return encode(value, order="sorted").decode("utf-8")
        except (OverflowError, TypeError, msgspec.EncodeError):
            return json.dumps(value, **compact)

    return dumps


def _decoder() -> Callable[[str], Any]:
    try:
        import msgspec
    except ImportError:  # pragma: no cover - msgspec ships with Airflow
        return json.loads
    decode = msgspec.json.decode

    def loads(text: str) -> Any:
        try:
            return decode(text)
        except (msgspec.DecodeError, OverflowError, ValueError):
            return json.loads(text)

    return loads


_PLAIN_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def _quote_label(label: str) -> str:
    """JSON string of a label; generated labels need no escaping, so no encoder call per line."""
    return f'"{label}"' if _PLAIN_LABEL.fullmatch(label) else json.dumps(label)


def dump_config(config: dict[str, Any], rendered: Mapping[str, str] | None = None) -> str:
    """``main.tf.json`` text: sorted, one resource block a line (diff-friendly, and a C encoder does
    the work: pretty-printing with ``indent`` would fall back to Python's and take 5x longer).
    ``rendered``: label -> the block's finished line (``Emission.render``, parallel generation)."""
    dumps = _encoder()
    if rendered:
        config = {**config, "resource": {"azapi_resource": rendered}}
    lines = ["{"]
    keys = sorted(config)
    for n, key in enumerate(keys):
        comma = "," if n < len(keys) - 1 else ""
        value = config[key]
        if key != "resource" or not isinstance(value, dict):
            lines.append(f"{json.dumps(key)}:{dumps(value)}{comma}")
            continue
        lines.append(f"{json.dumps(key)}:{{")
        kinds = sorted(value)
        for k, kind in enumerate(kinds):
            lines.append(f"{json.dumps(kind)}:{{")
            labels = sorted(value[kind])
            last = len(labels) - 1
            if rendered is not None and kind == "azapi_resource":
                lines.append(",\n".join([rendered[label] for label in labels]))
            else:
                lines.extend(
                    f"{_quote_label(label)}:{dumps(value[kind][label])}{',' if i < last else ''}"
                    for i, label in enumerate(labels)
                )
            lines.append("}" + ("," if k < len(kinds) - 1 else ""))
        lines.append("}" + comma)
    lines.append("}")
    return "\n".join(lines) + "\n"


def name_map_json(name_map: Mapping[str, str]) -> str:
    """name_map.json: keys sorted, one entry a line (one C-encoder call, then a line break before
    every key: each key is an ID and starts with "/subscriptions/")."""
    text = _encoder()(dict(name_map))
    return text.replace('","/subscriptions/', '",\n"/subscriptions/') + "\n"


FORMATS = {"json": "main.tf.json", "hcl": "main.tf"}
GENERATED_IMPORTS = "generated_imports.json"  # addresses this generator put into imports.tf.json


def write_imports(workdir: Path, imports: dict[str, str]) -> dict[str, str]:
    """Merge adoption imports into ``imports.tf.json`` (``terraform.imports``' file), one block per address.

    Rule when both want the same address: the entry already in ``imports.tf.json`` wins (it was put
    there by crash adoption, or by us earlier; both name the same target ID), so no address ever
    gets two ``import`` blocks. Our own earlier entries that no longer apply are removed; the
    addresses we contributed are remembered in ``generated_imports.json``. Returns the file's entries.
    """
    from tenant_replicator.terraform import imports as tf_imports

    workdir = Path(workdir)
    own_file = workdir / GENERATED_IMPORTS
    previous = set(json.loads(own_file.read_text(encoding="utf-8"))) if own_file.is_file() else set()
    current = tf_imports.read_imports(workdir)
    merged = {a: i for a, i in current.items() if a not in previous or a in imports}
    ours = {a for a in imports if a not in merged or a in previous}  # an entry someone else wrote stays theirs
    for address, import_id in imports.items():
        merged.setdefault(address, import_id)
    tf_imports.write_imports(workdir, merged)
    if ours:
        own_file.write_text(json.dumps(sorted(ours), indent=0) + "\n", encoding="utf-8")
    else:
        own_file.unlink(missing_ok=True)
    return merged


def write_config(result: GenerateResult, workdir: Path, fmt: str = "json") -> Path:
    """Write ``main.tf.json`` (``dump_config``) or ``main.tf`` (``--format hcl``), ``name_map.json``
    (sorted, stable) and, when the target was given, the adoption imports; returns the config path.
    The other format's file is removed: Terraform would read both and see every resource twice."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown output format {fmt!r} (expected one of {', '.join(FORMATS)})")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    main = workdir / FORMATS[fmt]
    for other in FORMATS.values():
        if other != main.name:
            (workdir / other).unlink(missing_ok=True)
    if fmt == "hcl":
        from tenant_replicator.iac.hcl import dump_hcl

        main.write_text(dump_hcl(result.config), encoding="utf-8")
    elif result.rendered is not None:
        main.write_text(dump_config(result.base_config, result.rendered), encoding="utf-8")
    else:
        main.write_text(dump_config(result.config), encoding="utf-8")
    text = result.name_map_text if result.name_map_text is not None else name_map_json(result.name_map)
    (workdir / "name_map.json").write_text(text, encoding="utf-8")
    if result.imports is not None:
        write_imports(workdir, result.imports)
    return main


__all__ = [
    "GenerateResult",
    "generate",
    "write_config",
    "write_imports",
    "dump_config",
    "break_cycles",
    "escape",
    "secret_variable_name",
]
