"""Split one generated config into per-resource-group stacks (scale path; see docs/STACKS.md).

Why: one state of 10k+ resources makes every plan refresh everything, and one apply is one
process. Per-resource-group stacks have their own state each, so Airflow can apply them in
parallel (dynamic task mapping, one converge per stack) and a failure stays in its group.
A reference from one stack into another (``${azapi_resource.X.id}``) becomes a data lookup
(``${data.azapi_resource.X.id}``, ``data "azapi_resource" "X" {type, name, parent_id}``) with a
literal parent ID, and the stacks form levels: a stack is applied after the stacks it looks up.

``split_stacks``/``waves``/``merge_summaries`` are pure; ``write_stacks`` puts one directory per stack
on disk. The stand-in provider has the same ``data "azapi_resource"`` as azapi v2, so stacks run
offline too (``tests/e2e/test_stacks_e2e.py``).
"""

from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESOURCE = "azapi_resource"
SUBSCRIPTION_STACK = "subscription"
_REF_RE = re.compile(r"\$\{azapi_resource\.(?P<label>[A-Za-z0-9_-]+)\.(?P<attr>[A-Za-z0-9_.\[\]\"-]+)\}")
_RG_TYPE = "microsoft.resources/resourcegroups"
_VAR_RE = re.compile(r"\$\{[^}]*?\bvar\.(?P<name>[A-Za-z0-9_-]+)")
CONFIG_FILE = "main.tf.json"


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
        stack_config = {
            k: copy.deepcopy(v) for k, v in config.items() if k not in ("resource", "data", "variable", "import")
        }
        own_imports = [i for i in config.get("import") or [] if str(i.get("to", "")).split(".")[-1] in local]
        if own_imports:
            stack_config["import"] = copy.deepcopy(own_imports)
        stack_config["resource"] = {RESOURCE: resources}
        variables = _used_variables(config.get("variable") or {}, resources)
        if variables:  # only what the stack uses: an unset declared variable fails every plan
            stack_config["variable"] = variables
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


def _used_variables(declared: dict[str, Any], resources: dict[str, Any]) -> dict[str, Any]:
    used = {m["name"] for m in _VAR_RE.finditer(json.dumps(resources))}
    return {name: copy.deepcopy(block) for name, block in declared.items() if name in used}


def waves(split: StackSplit, max_waves: int) -> list[list[str]]:
    """``split.levels`` in at most ``max_waves`` waves (a DAG has a fixed number of wave tasks).

    Levels past the last wave are folded into it: a stack there may look up one applied in the same
    wave, so its plan can fail this iteration ("Resource not found") and succeed on the next.
    """
    levels = [list(level) for level in split.levels]
    if len(levels) <= max_waves:
        return levels + [[] for _ in range(max_waves - len(levels))]
    return levels[: max_waves - 1] + [sorted(s for level in levels[max_waves - 1 :] for s in level)]


def write_stacks(split: StackSplit, root: Path) -> dict[str, str]:
    """One private directory per stack under ``root`` with its ``main.tf.json``; ``{stack: directory}``.

    Directories of stacks that disappeared are left alone: their state is the only record of what
    they created (and deleting it would orphan those resources).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    written = {}
    for name, stack_config in split.stacks.items():
        directory = root / name
        directory.mkdir(exist_ok=True, mode=0o700)
        tmp = directory / f".{CONFIG_FILE}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(stack_config, indent=2, sort_keys=True))
        tmp.replace(directory / CONFIG_FILE)
        written[name] = str(directory)
    return written


_SUMMED = ("applied", "failed_count", "not_started_count", "destroy_refused_count", "existing_not_adopted_count")
_LISTED = ("failed", "not_started", "in_progress", "destroy_refused", "existing_not_adopted")
_FLAGS_ANY = ("changes", "timed_out", "stopped", "provider_crashed")


def merge_summaries(
    summaries: dict[str, dict[str, Any] | None], errors: dict[str, str] | None = None, max_listed: int = 20
) -> dict[str, Any]:
    """One apply summary (the single-state shape ``record`` reads) from the per-stack summaries.

    Counts, writes and ARM codes are summed; lists are concatenated (first ``max_listed``), each
    failure tagged with its stack; ``ok`` only when every stack reported ok. A stack without a
    summary (failed before apply, e.g. a lookup that found nothing, or never ran) is one failure
    entry without address carrying its error, so ``failed_count`` never hides it.
    """
    errors = errors or {}
    merged: dict[str, Any] = {key: 0 for key in _SUMMED}
    merged.update({key: [] for key in _LISTED})
    merged.update({key: False for key in _FLAGS_ANY})
    merged.update(
        plan={"add": 0, "change": 0, "destroy": 0, "import": 0},
        arm_error_codes={},
        writes={},
        writes_planned={},
        writes_applied={},
        to_change=0,
        exit_code=0,
        duration_s=0.0,
        stacks={},
    )
    for name in sorted(set(summaries) | set(errors)):
        summary = summaries.get(name)
        if summary is None:
            error = errors.get(name) or "the stack's apply did not report (failed before terraform, or never ran)"
            merged["failed"].append(
                {"address": None, "stack": name, "summary": error[:500], "detail": "", "arm_code": None}
            )
            merged["failed_count"] += 1
            merged["exit_code"] = merged["exit_code"] or 1
            merged["stacks"][name] = {"ok": False, "error": error[:500]}
            continue
        for key in _SUMMED:
            merged[key] += int(summary.get(key) or 0)
        for key in _LISTED:
            merged[key] += [{**e, "stack": name} if isinstance(e, dict) else e for e in summary.get(key) or []]
        for key in _FLAGS_ANY:
            merged[key] = merged[key] or bool(summary.get(key))
        for key in ("plan", "arm_error_codes", "writes", "writes_planned", "writes_applied"):
            for k, v in (summary.get(key) or {}).items():
                merged[key][k] = merged[key].get(k, 0) + int(v or 0)
        merged["to_change"] += int(summary.get("to_change") or 0)
        merged["exit_code"] = merged["exit_code"] or int(summary.get("exit_code") or 0)
        merged["duration_s"] = max(merged["duration_s"], float(summary.get("duration_s") or 0.0))  # parallel
        merged["stacks"][name] = {
            k: summary.get(k) for k in ("ok", "applied", "failed_count", "arm_error_codes", "duration_s")
        } | {"writes": (summary.get("writes") or {}).get("total", 0)}
    for key in _LISTED:
        merged[key] = merged[key][:max_listed]
    merged["ok"] = bool(merged["stacks"]) and all(s.get("ok") for s in merged["stacks"].values())
    return merged


def prepare_stacks(tf_dir: Path, stacks_root: Path, campaign_id: str, max_waves: int) -> dict[str, Any]:
    """The campaign's generated config -> stack directories + what the DAG's wave tasks expand over.

    ``wave_<i>``: ``[{working_dir, backend_key}]`` for ``TerraformApplyOperator.partial(...).expand_kwargs``;
    ``names``: the stack names in the same positions (map index i of wave w is ``names[w][i]``).
    """
    config = json.loads((Path(tf_dir) / CONFIG_FILE).read_text())
    split = split_stacks(config)
    directories = write_stacks(split, stacks_root)
    planned = waves(split, max_waves)
    plan: dict[str, Any] = {"names": planned, "depends_on": split.depends_on, "levels": split.levels}
    for index, wave in enumerate(planned):
        plan[f"wave_{index}"] = [
            {"working_dir": directories[name], "backend_key": f"{campaign_id}/{name}.tfstate"} for name in wave
        ]
    return plan


def collect(
    names: list[list[str]], pull: Any, task_prefix: str = "apply_stacks_"
) -> tuple[dict[str, dict[str, Any] | None], dict[str, str]]:
    """Per-stack summaries and errors of the wave tasks (``names[w][i]`` is map index i of wave w);
    ``pull(task_id, key, map_index)`` reads one XCom."""
    summaries: dict[str, dict[str, Any] | None] = {}
    errors: dict[str, str] = {}
    for wave, wave_names in enumerate(names):
        for index, name in enumerate(wave_names):
            summaries[name] = pull(f"{task_prefix}{wave}", "apply_summary", index)
            error = pull(f"{task_prefix}{wave}", "apply_error", index)
            if summaries[name] is None and error:
                errors[name] = str(error.get("error", error))
    return summaries, errors


def effective_mode(requested: bool, tf_dir: Path, stacks_root: Path) -> tuple[bool, str | None]:
    """(use stacks?, warning): a campaign keeps the layout its state is in, whatever this run asks.

    Why: switching layouts mid-campaign would plan every resource as new in the other layout's empty
    states, and each create would meet "already exists" (resources of this campaign, unknown there).
    Established = a stack directory holds a state, or the single state manages resources.
    """
    from tenant_replicator.terraform import safety

    has_stacks = any(Path(stacks_root).glob("*/terraform.tfstate"))
    try:
        single = bool(safety.managed_addresses(safety.check_local_state(Path(tf_dir))))
    except safety.StateCorrupted:
        single = True  # unreadable: the single-state apply reports it; never switch away silently
    if has_stacks and not requested:
        return True, f"campaign state is in stacks under {stacks_root}: staying in stacks mode (stacks=false ignored)"
    if single and not has_stacks and requested:
        return False, f"campaign state is the single state in {tf_dir}: staying in single-state mode (stacks ignored)"
    return requested, None


class StacksNotPlanned(RuntimeError):
    """Stacks mode, but no wave listed a stack: never fall back to applying the single state."""


def stacks_summary(
    ctx: dict[str, Any] | None, requested: bool, wave_lists: list[list[dict[str, str]] | None], pull: Any
) -> dict[str, Any] | None:
    """The merge step of the DAG: the merged summary in stacks mode, None in single-state mode.

    ``wave_lists``: what each wave's planning task returned (None when it did not run);
    ``pull(task_id, key, map_index)`` reads one XCom of a wave's mapped apply.
    """
    if not ctx:
        return None  # prepare failed: `apply` is upstream_failed anyway
    lists = [wave or [] for wave in wave_lists]
    if not any(lists):
        use, _ = effective_mode(requested, Path(ctx["tf_dir"]), Path(ctx["campaign_dir"]) / "stacks")
        if use:
            raise StacksNotPlanned(
                "stacks mode but no stack was planned (see the stacks_wave_* task logs); "
                "the single state is not applied instead"
            )
        return None
    names = [[Path(stack["working_dir"]).name for stack in wave] for wave in lists]
    summaries, errors = collect(names, pull)
    return merge_summaries(summaries, errors)
