"""One converge step of a campaign's Terraform working directory: check -> plan -> guard -> backup -> apply.

Why: the working directory and its state live for the whole campaign; every iteration regenerates
``main.tf.json`` and calls this. Terraform's plan is the difference between the config and what
state + ARM hold, so resources that were applied are left alone and only what failed, was never
started or drifted is written again. Around that: the checks that make it safe to do unattended
(terraform version, private files, state not corrupted, stale lock released, no deletes unless
allowed, a state backup before every apply), adoption of resources a killed run created but never
recorded (``imports.py``), and the ARM write count of the iteration from the plan.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenant_replicator.terraform import backend, imports, safety
from tenant_replicator.terraform.events import PASSIVE_ACTIONS
from tenant_replicator.terraform.runner import (
    ApplyResult,
    PlanResult,
    Terraform,
    apply_summary,
)

log = logging.getLogger(__name__)

# Diagnostics terraform prints when a provider plugin died under it.
_CRASH_MARKERS = (
    "Plugin did not respond",
    "plugin exited",
    "unexpected EOF",
    "connection is shut down",
    "The plugin encountered an error",
    # the same death seen from the gRPC side, which terraform reports instead under load
    "error reading from server",
    "transport is closing",
    "code = Unavailable",
)


@dataclass
class ConvergeOptions:
    """What one converge step may do; every field is JSON-friendly (it travels to detached jobs)."""

    timeout: float | None = None  # apply; then SIGINT, grace, SIGKILL of the group
    plan_timeout: float | None = None  # default: ``timeout``
    parallelism: int | None = None
    allow_destroy: bool = False
    run_init: bool = False
    backup_keep: int = safety.BACKUP_KEEP
    max_listed: int = 20
    adopt_passes: int = 3  # extra plan+apply passes right after "already exists" failures
    adopt_existing: bool = False  # also import target resources this campaign did not create


def templated_options(
    timeout: Any = None, parallelism: Any = None, allow_destroy: Any = False, **fields: Any
) -> ConvergeOptions:
    """Options from Airflow-templated values: "600", "None", "" and "true" arrive as strings."""
    return ConvergeOptions(
        timeout=_number(timeout, float),
        parallelism=_number(parallelism, int),
        allow_destroy=flag(allow_destroy),
        **fields,
    )


def flag(value: Any) -> bool:
    """Templated booleans: True, "True", "true", "1", "yes", "on"."""
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


def _number(value: Any, kind: type) -> Any:
    if value is None or (isinstance(value, str) and value.strip() in ("", "None", "none", "null")):
        return None
    return kind(float(value)) if kind is int else kind(value)


def arm_writes(actions: dict[str, str], importing: dict[str, str], addresses: set[str] | None = None) -> dict:
    """ARM writes a plan means: create/update/delete 1, replace 2 (delete + create), import 1.

    ``addresses`` limits the count (to what terraform started, or to what was applied). Imports are
    reads in ARM; they are counted anyway so "writes per converged resource" never flatters adoption.
    """
    counts = {"create": 0, "update": 0, "delete": 0, "replace": 0, "import": 0}
    for address, action in actions.items():
        if addresses is not None and address not in addresses:
            continue
        if action in ("create", "update", "delete"):
            counts[action] += 1
        elif action in ("replace", "create-then-delete", "delete-then-create"):
            counts["replace"] += 1
        if address in importing:
            counts["import"] += 1
    total = counts["create"] + counts["update"] + counts["delete"] + 2 * counts["replace"] + counts["import"]
    return {**counts, "total": total}


def prepare(tf: Terraform) -> dict[str, Any]:
    """Checks before anything runs; raises ``TerraformTooOld`` / ``StateCorrupted`` with a clear message."""
    version = tf.require_version()
    safety.secure_workdir(tf.workdir)
    remote = backend.is_remote(tf.workdir)
    state = None if remote else safety.check_local_state(tf.workdir)
    released = False if remote else tf.force_unlock_if_stale()
    managed = set(tf.state_addresses()) if remote else safety.managed_addresses(state)
    pending = imports.refresh_imports(tf.workdir, managed)
    return {
        "terraform_version": version,
        "state_resources": len(managed),
        "stale_lock_released": released,
        "imports_pending": len(pending),
        "backend": "azurerm" if remote else "local",
    }


def backup(tf: Terraform, keep: int) -> str | None:
    """Back up the state (local file, or ``state pull`` for a remote backend); checked for corruption."""
    if backend.is_remote(tf.workdir):
        text = tf.state_pull()
        safety.check_state_text(text, "remote state (terraform state pull)")
        path = safety.backup_state(tf.workdir, text=text, keep=keep) if text.strip() else None
    else:
        path = safety.backup_state(tf.workdir, keep=keep)
    return path.name if path else None


def converge(
    tf: Terraform, options: ConvergeOptions | None = None, on_phase: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """prepare -> [init] -> validate -> (plan -> destroy guard -> backup -> apply -> adopt)+; the summary.

    A pass whose only failures were "already exists" (resources a killed run created but never
    recorded) is followed at once by another pass that imports them, up to ``adopt_passes`` more.
    Raises ``TerraformError`` subclasses for failures before the apply (nothing applied); resource
    failures, timeouts and refused destroys come back in the summary with ``ok`` false.
    """
    options = options or ConvergeOptions()
    phase = on_phase or (lambda name: None)
    timings: dict[str, float] = {}
    started = time.monotonic()

    def timed(name: str, step: Callable[[], Any]) -> Any:
        phase(name)
        begin = time.monotonic()
        try:
            return step()
        finally:
            timings[f"{name}_s"] = round(timings.get(f"{name}_s", 0.0) + time.monotonic() - begin, 3)

    checks = timed("prepare", lambda: prepare(tf))
    if options.run_init:
        timed("init", tf.init)
    timed("validate", tf.validate)
    passes: list[dict[str, Any]] = []
    run_id = uuid.uuid4().hex
    while True:
        summary = _one_pass(tf, options, timed, checks["backend"], run_id)
        passes.append(summary)
        retry = summary.pop("_adopted_from_failures")
        if not retry or summary["timed_out"] or summary["stopped"] or len(passes) > options.adopt_passes:
            break
    summary = _merge_passes(passes)
    summary.update(checks=checks, timings=timings, duration_s=round(time.monotonic() - started, 3))
    return summary


def _one_pass(
    tf: Terraform,
    options: ConvergeOptions,
    timed: Callable[[str, Callable[[], Any]], Any],
    backend_kind: str,
    run_id: str,
) -> dict[str, Any]:
    plan_timeout = options.plan_timeout if options.plan_timeout is not None else options.timeout
    plan: PlanResult = timed("plan", lambda: tf.plan(timeout=plan_timeout, parallelism=options.parallelism))
    refused = [] if options.allow_destroy else safety.destructive_changes(plan.actions, plan.reasons)
    result: ApplyResult | None = None
    backup_name = None
    if plan.changes and not refused:
        backup_name = timed("backup", lambda: backup(tf, options.backup_keep))
        result = timed("apply", lambda: _apply_recording_creates(tf, plan, options, run_id))
    safety.secure_workdir(tf.workdir)
    summary = apply_summary(plan, result, options.max_listed)
    summary.update(outcome_fields(plan, result, refused, options.max_listed))
    from_failures: dict[str, str] = {}
    summary.update(existing_not_adopted=[], existing_not_adopted_count=0)
    if result is not None:
        managed = _managed_after(tf, backend_kind)
        existing = imports.adoptable(result.failed)
        owned = imports.owned_creates(tf.workdir, current_run=run_id)
        from_failures = {a: i for a, i in existing.items() if options.adopt_existing or a in owned}
        adopt = {**imports.orphans(result.applied_ids, managed), **from_failures}
        summary["existing_not_adopted"] = sorted(set(existing) - set(from_failures))[: options.max_listed]
        summary["existing_not_adopted_count"] = len(set(existing) - set(from_failures))
        pending = imports.refresh_imports(tf.workdir, managed, adopt)
    else:
        pending = imports.read_imports(tf.workdir)
    summary["imports"] = {
        "planned": len(plan.importing),
        "adopt_next": sorted(pending)[: options.max_listed],
        "adopt_next_count": len(pending),
    }
    summary["state_backup"] = backup_name
    # Retry at once only when every failure is adoptable: anything else is for the next iteration.
    summary["_adopted_from_failures"] = bool(from_failures) and len(from_failures) == summary["failed_count"]
    return summary


def _apply_recording_creates(tf: Terraform, plan: PlanResult, options: ConvergeOptions, run_id: str) -> ApplyResult:
    """``apply``, with every create terraform starts written to the ownership ledger as it happens."""
    ledger = imports.CreateLedger(tf.workdir, run_id)
    outer = tf.on_line

    def on_line(line: str) -> None:
        ledger.observe(line)
        if outer is not None:
            outer(line)

    tf.on_line = on_line
    try:
        return tf.apply(plan.plan_file, timeout=options.timeout, parallelism=options.parallelism)
    finally:
        tf.on_line = outer


def _merge_passes(passes: list[dict[str, Any]]) -> dict[str, Any]:
    """One iteration's summary: the first plan, the last outcome, applied and writes summed."""
    if len(passes) == 1:
        return {**passes[0], "passes": 1}
    first, last = passes[0], passes[-1]
    merged = {**last, "plan": first["plan"], "changes": first["changes"], "passes": len(passes)}
    merged["applied"] = sum(p["applied"] for p in passes)
    merged["writes_planned"] = first["writes_planned"]
    for key in ("writes", "writes_applied"):
        merged[key] = {k: sum(p[key][k] for p in passes) for k in first[key]}
    merged["imports"] = {**last["imports"], "planned": sum(p["imports"]["planned"] for p in passes)}
    merged["state_backup"] = next((p["state_backup"] for p in passes if p["state_backup"]), None)
    merged["duration_s"] = round(sum(p["duration_s"] for p in passes), 3)
    return merged


def outcome_fields(
    plan: PlanResult, result: ApplyResult | None, refused: list[dict[str, str]], max_listed: int
) -> dict[str, Any]:
    """Pure: the converge-specific summary keys (writes, destroy guard, provider crash)."""
    applied = set(result.applied) if result else set()
    attempted = applied | {f["address"] for f in result.failed} | set(result.in_progress) if result else set()
    changed = {a for a, act in plan.actions.items() if act not in PASSIVE_ACTIONS} | set(plan.importing)
    fields: dict[str, Any] = {
        # what the plan means / what terraform started (never-started changes are not writes) / what stuck
        "writes_planned": arm_writes(plan.actions, plan.importing) if result else arm_writes({}, {}),
        "writes": arm_writes(plan.actions, plan.importing, attempted | set(plan.importing) if result else set()),
        "writes_applied": arm_writes(plan.actions, plan.importing, applied),
        "to_change": len(changed),
        "plan_actions": {a: plan.actions.get(a, "import") for a in sorted(changed)[:max_listed]},
        "destroy_refused": refused[:max_listed],
        "destroy_refused_count": len(refused),
        "provider_crashed": bool(result and _provider_crashed(result)),
        "provider_crash": (result.provider_crash if result else [])[:5],
    }
    if refused:
        fields["ok"] = False
    return fields


def _provider_crashed(result: ApplyResult) -> bool:
    """The provider's death on stderr (TF_LOG=ERROR: plugin exit, panic, gRPC), or in the -json stream."""
    if result.provider_crash:
        return True
    texts = [f"{d.get('summary', '')} {d.get('detail', '')}" for d in result.diagnostics]
    texts += [str(f.get("summary", "")) + " " + str(f.get("detail", "")) for f in result.failed]
    return any(marker in text for text in texts for marker in _CRASH_MARKERS)


def _managed_after(tf: Terraform, backend_kind: str) -> set[str]:
    if backend_kind != "local":
        return set(tf.state_addresses())
    try:
        return safety.managed_addresses(safety.check_local_state(tf.workdir))
    except safety.StateCorrupted:
        log.error("state unreadable after apply; import blocks not updated")
        return set()
