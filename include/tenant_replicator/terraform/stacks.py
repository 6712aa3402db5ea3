"""Split one generated config into per-resource-group stacks (scale path; see docs/STACKS.md).

Why: one state of 10k+ resources makes every plan refresh everything, and one apply is one
process. Per-resource-group stacks have their own state each, so Airflow can apply them in
parallel (dynamic task mapping, one converge per stack) and a failure stays in its group.
A reference from one stack into another (``${azapi_resource.X.id}``) becomes a data lookup
(``${data.azapi_resource.X.id}``, ``data "azapi_resource" "X" {type, name, parent_id}``) with a
literal parent ID, and the stacks form levels: a stack is applied after the stacks it looks up.

Pure: config in, configs + order out. The stand-in provider has no ``azapi_resource`` data source,
so stacks with cross-stack lookups run against real azapi only.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any

RESOURCE = "azapi_resource"
SUBSCRIPTION_STACK = "subscription"
_REF_RE = re.compile(r"\$\{azapi_resource\.(?P<label>[A-Za-z0-9_-]+)\.(?P<attr>[A-Za-z0-9_.\[\]\"-]+)\}")
_RG_TYPE = "microsoft.resources/resourcegroups"


@dataclass
class StackSplit:
    """Stacks by name, what each looks up in others, and the order to apply them in."""

    stacks: dict[str, dict[str, Any]]
    depends_on: dict[str, list[str]] = field(default_factory=dict)
    levels: list[list[str]] = field(default_factory=list)
    lookups: dict[str, list[str]] = field(default_factory=dict)  # stack -> labels read through data


def _refs(value: Any) -> set[str]:
    return {m["label"] for m in _REF_RE.finditer(json.dumps(value))}


def _stack_of(label: str, blocks: dict[str, dict[str, Any]], memo: dict[str, str]) -> str:
    """The resource group label a block lives in (following parent_id references), or the subscription."""
    if label in memo:
        return memo[label]
    block = blocks[label]
    memo[label] = SUBSCRIPTION_STACK  # cycle guard
    if str(block.get("type", "")).split("@")[0].lower() == _RG_TYPE:
        memo[label] = label
        return label
    parent = str(block.get("parent_id", ""))
    match = _REF_RE.fullmatch(parent)
    if match and match["label"] in blocks:
        memo[label] = _stack_of(match["label"], blocks, memo)
    else:
        rg = re.search(r"/resourceGroups/([^/]+)", parent, re.IGNORECASE)
        owner = next(
            (
                lbl
                for lbl, b in blocks.items()
                if rg
                and b.get("name", "").lower() == rg[1].lower()
                and str(b.get("type", "")).split("@")[0].lower() == _RG_TYPE
            ),
            None,
        )
        memo[label] = owner or (f"rg:{rg[1].lower()}" if rg else SUBSCRIPTION_STACK)
    return memo[label]


def resource_id(label: str, blocks: dict[str, dict[str, Any]]) -> str:
    """The ARM ID azapi gives a block: parent ID + type segment(s) + name (parents resolved)."""
    block = blocks[label]
    parent = str(block.get("parent_id", ""))
    match = _REF_RE.fullmatch(parent)
    if match and match["label"] in blocks:
        parent = resource_id(match["label"], blocks)
    full_type = str(block["type"]).split("@")[0]
    if full_type.lower() == _RG_TYPE:
        return f"{parent}/resourceGroups/{block['name']}"
    namespace, *types = full_type.split("/")
    if "/providers/" in parent.lower() and len(types) > 1:  # a child of a provider resource
        return f"{parent}/{types[-1]}/{block['name']}"
    return f"{parent}/providers/{namespace}/{'/'.join(types)}/{block['name']}"


def _parent_of(rid: str) -> str:
    """Parent scope of an ARM ID, the way azapi takes it in ``parent_id``."""
    parts = rid.strip("/").split("/")
    if len(parts) >= 2 and "providers" in [p.lower() for p in parts]:
        idx = max(i for i, p in enumerate(parts) if p.lower() == "providers")
        if len(parts) - idx == 4:  # .../providers/NS/type/name: parent is the scope before /providers
            return "/" + "/".join(parts[:idx])
    return "/" + "/".join(parts[:-2])


def _rewrite(value: Any, local: set[str]) -> Any:
    """References to labels outside ``local`` point at the data lookup instead."""
    text = json.dumps(value)
    text = _REF_RE.sub(
        lambda m: m[0] if m["label"] in local else "${data.azapi_resource." + m["label"] + "." + m["attr"] + "}", text
    )
    return json.loads(text)


def split_stacks(config: dict[str, Any]) -> StackSplit:
    """One config -> one config per resource group (plus ``subscription`` for subscription-scope resources)."""
    blocks: dict[str, dict[str, Any]] = config.get("resource", {}).get(RESOURCE, {})
    memo: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    for label in sorted(blocks):
        members.setdefault(_stack_of(label, blocks, memo), []).append(label)
    split = StackSplit(stacks={})
    for stack, labels in sorted(members.items()):
        local = set(labels)
        resources = {}
        foreign: set[str] = set()
        for label in labels:
            block = copy.deepcopy(blocks[label])
            if "depends_on" in block:
                block["depends_on"] = [d for d in block["depends_on"] if d.split(".")[-1] in local]
            foreign |= {r for r in _refs(block) if r in blocks and r not in local}
            resources[label] = _rewrite(block, local)
        stack_config = {k: copy.deepcopy(v) for k, v in config.items() if k not in ("resource", "data")}
        stack_config["resource"] = {RESOURCE: resources}
        if foreign:
            stack_config["data"] = {RESOURCE: {f: _lookup(f, blocks) for f in sorted(foreign)}}
        split.stacks[_name(stack, blocks)] = stack_config
        split.lookups[_name(stack, blocks)] = sorted(foreign)
        split.depends_on[_name(stack, blocks)] = sorted({_name(memo[f], blocks) for f in foreign})
    split.levels = _levels(split.depends_on)
    return split


def _lookup(label: str, blocks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    rid = resource_id(label, blocks)
    return {"type": blocks[label]["type"], "name": blocks[label]["name"], "parent_id": _parent_of(rid)}


def _name(stack: str, blocks: dict[str, dict[str, Any]]) -> str:
    """Stack names read like the resource group (``rg-network-prod``), safe as directory names."""
    if stack in blocks:
        return re.sub(r"[^A-Za-z0-9_.-]", "_", str(blocks[stack]["name"]).lower())
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stack.removeprefix("rg:"))


def _levels(depends_on: dict[str, list[str]]) -> list[list[str]]:
    """Topological levels; a cycle between stacks puts its members together in the last level."""
    left = {s: set(d) - {s} for s, d in depends_on.items()}
    levels: list[list[str]] = []
    while left:
        ready = sorted(s for s, d in left.items() if not d & set(left))
        if not ready:  # cycle: lookups of a not-yet-applied stack fail until a later iteration
            levels.append(sorted(left))
            break
        levels.append(ready)
        for s in ready:
            left.pop(s)
    return levels
