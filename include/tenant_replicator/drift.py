"""Drift since a campaign's last converged state: what changed in the source, what was edited by hand in the target.

A replica drifts two ways: the source moves on (resources added, removed, changed), and people edit
or delete replicated resources in the target. Both are measured against a *converged snapshot*:
one fingerprint per in-scope source resource and per target resource the campaign's name map says
it became, taken when the objective held. Fingerprints cover what we replicate (type, location,
tags, sku, kind and the writable properties: read-only ones per the type registry never count), so
server-set values do not raise false alarms.

The top half is pure functions over plain dicts (testable without a graph, ARM or Airflow); the
`check` / `converged_snapshot` / `forget` steps below them do the I/O for the drift-watch DAG.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

Resource = Mapping[str, Any]
Writable = Callable[[Resource], Mapping[str, Any]]
Admit = Callable[[Resource], bool]
SNAPSHOT_FILE = "converged.json"
HISTORY_LIMIT = 50
LISTED = 20
DRIFT_VARIABLE_PREFIX = "tenant_replicator_drift__"
KINDS = ("source_added", "source_removed", "source_changed", "target_changed", "target_deleted")


# --- pure: fingerprints, snapshot, drift ----------------------------------------------------------


def fingerprint(resource: Resource, writable: Writable | None = None) -> str:
    """Hash of what a replica must reproduce; identical resources hash identically whatever their key order."""
    properties = writable(resource) if writable else (resource.get("properties") or {})
    body = {
        "type": str(resource.get("type") or "").lower(),
        "location": str(resource.get("location") or "").lower().replace(" ", ""),
        "tags": resource.get("tags") or {},
        "sku": resource.get("sku"),
        "kind": resource.get("kind"),
        "properties": properties,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()[:24]


def take_snapshot(
    source: Iterable[Resource],
    target: Iterable[Resource],
    name_map: Mapping[str, str],
    *,
    admit: Admit | None = None,
    writable: Writable | None = None,
    taken_at: str | None = None,
    reason: str = "",
) -> dict[str, Any]:
    """`{"source": {source_id: {hash, type, name}}, "target": {target_id: {hash, source_id, type, name}}}`.

    Only in-scope source resources (`admit`), and only target resources the name map says this
    campaign made: what is outside the campaign's own replica is never its drift.
    """
    targets = {str(t["id"]).lower(): t for t in target}
    snap_source: dict[str, dict[str, Any]] = {}
    snap_target: dict[str, dict[str, Any]] = {}
    for resource in source:
        if admit is not None and not admit(resource):
            continue
        source_id = str(resource["id"]).lower()
        snap_source[source_id] = _entry(resource, writable)
        target_id = (name_map.get(source_id) or "").lower()
        if target_id and target_id in targets:
            snap_target[target_id] = _entry(targets[target_id], writable) | {"source_id": source_id}
    return {
        "taken_at": taken_at or _now(),
        "reason": reason,
        "source": dict(sorted(snap_source.items())),
        "target": dict(sorted(snap_target.items())),
    }


def compute_drift(
    snapshot: Mapping[str, Any],
    source: Iterable[Resource],
    target: Iterable[Resource],
    *,
    admit: Admit | None = None,
    writable: Writable | None = None,
) -> dict[str, Any]:
    """What changed since `snapshot`: source added/removed/changed, target changed/deleted by hand."""
    current_source = {str(r["id"]).lower(): _entry(r, writable) for r in source if admit is None or admit(r)}
    current_target = {str(t["id"]).lower(): t for t in target}
    before_source: Mapping[str, Any] = snapshot.get("source") or {}
    before_target: Mapping[str, Any] = snapshot.get("target") or {}
    found: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for source_id, entry in current_source.items():
        if source_id not in before_source:
            found["source_added"].append(_item(source_id, entry))
        elif before_source[source_id]["hash"] != entry["hash"]:
            found["source_changed"].append(_item(source_id, entry))
    for source_id, entry in before_source.items():
        if source_id not in current_source:
            found["source_removed"].append(_item(source_id, entry))
    for target_id, entry in before_target.items():
        resource = current_target.get(target_id)
        if resource is None:
            found["target_deleted"].append(_item(target_id, entry, source_id=entry.get("source_id")))
        elif fingerprint(resource, writable) != entry["hash"]:
            found["target_changed"].append(_item(target_id, entry, source_id=entry.get("source_id")))
    for items in found.values():
        items.sort(key=lambda item: item["id"])
    counts = {kind: len(items) for kind, items in found.items()}
    return {
        "since": snapshot.get("taken_at"),
        "drifted": any(counts.values()),
        "source_changed": bool(counts["source_added"] or counts["source_removed"] or counts["source_changed"]),
        "target_drifted": bool(counts["target_changed"] or counts["target_deleted"]),
        "counts": counts,
        **found,
    }


def decide(drift: Mapping[str, Any] | None, fidelity_percent: float | None, objective_percent: float) -> dict[str, Any]:
    """Re-trigger the loop when fidelity fell below the objective, the source changed, or the target drifted.

    A hand edit that keeps a resource present leaves the count-based fidelity at 100 % but still
    breaks the replica, so target drift re-converges too (terraform plans the edit back).
    """
    reasons = []
    if fidelity_percent is None or fidelity_percent < objective_percent:
        shown = "n/a" if fidelity_percent is None else f"{fidelity_percent:.1f} %"
        reasons.append(f"fidelity {shown} below the objective {objective_percent:g} %")
    if drift and drift["source_changed"]:
        reasons.append("the source changed")
    if drift and drift["target_drifted"]:
        reasons.append("the target was changed by hand")
    return {"retrigger": bool(reasons), "reasons": reasons}


def state_addresses(tfstate: Mapping[str, Any]) -> dict[str, str]:
    """Target id (lower-case) -> Terraform address, for the resources in the campaign's own state."""
    found = {}
    for resource in tfstate.get("resources") or []:
        if resource.get("mode") != "managed":
            continue
        address = f"{resource['type']}.{resource['name']}"
        for instance in resource.get("instances") or []:
            resource_id = str((instance.get("attributes") or {}).get("id") or "")
            if resource_id:
                found[resource_id.lower()] = address
    return found


def plan_removals(
    drift: Mapping[str, Any], snapshot: Mapping[str, Any], in_state: Mapping[str, str], allow_deletes: bool
) -> dict[str, list[dict[str, str]]]:
    """What to do in the target for each source resource that disappeared.

    Only targets in the campaign's own Terraform state are ever touched (anything else was never
    ours): with `allow_deletes` terraform deletes them (the loop runs with allow_destroy); without it
    they are released from the state (`forget`), so the target keeps them and the loop still converges.
    """
    by_source = {entry.get("source_id"): target_id for target_id, entry in (snapshot.get("target") or {}).items()}
    delete: list[dict[str, str]] = []
    forget: list[dict[str, str]] = []
    untouched: list[dict[str, str]] = []
    for item in drift.get("source_removed") or []:
        target_id = by_source.get(item["id"])
        address = in_state.get(target_id or "")
        row = {"source_id": item["id"], "target_id": target_id or "", "address": address or ""}
        if not address:
            untouched.append(row)
        elif allow_deletes:
            delete.append(row)
        else:
            forget.append(row)
    return {"delete": delete, "forget": forget, "untouched": untouched}


def history_entry(
    run_id: str,
    drift: Mapping[str, Any] | None,
    fidelity: Mapping[str, Any] | None,
    decision: Mapping[str, Any],
    *,
    baseline: bool,
    checked_at: str | None = None,
) -> dict[str, Any]:
    """One bounded line of the campaign's drift history (campaign page, `campaigns show`)."""
    listed = []
    for kind in KINDS:
        for item in (drift or {}).get(kind, [])[:LISTED]:
            listed.append({"kind": kind, "id": item["id"], "type": item.get("type", "")})
    return {
        "checked_at": checked_at or _now(),
        "run_id": run_id,
        "baseline": baseline,
        "drifted": bool(drift and drift["drifted"]),
        "counts": dict((drift or {}).get("counts") or dict.fromkeys(KINDS, 0)),
        "items": listed[:LISTED],
        "fidelity_percent": None if fidelity is None else fidelity.get("overall_percent"),
        "property_score_percent": None if fidelity is None else fidelity.get("property_score_percent"),
        "retriggered": bool(decision.get("retrigger")),
        "reasons": list(decision.get("reasons") or []),
    }


def append_history(record: Mapping[str, Any] | None, campaign_id: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    """The drift Variable's value with `entry` added (idempotent per run id; newest last, bounded)."""
    history = [h for h in (record or {}).get("history", []) if h.get("run_id") != entry["run_id"]]
    return {"campaign_id": campaign_id, "history": [*history, dict(entry)][-HISTORY_LIMIT:]}


def drift_message(
    campaign_id: str,
    drift: Mapping[str, Any],
    fidelity: Mapping[str, Any] | None,
    decision: Mapping[str, Any],
    run_url: str | None,
    removals: Mapping[str, list[dict[str, str]]] | None = None,
) -> dict[str, Any]:
    """One Slack summary (Block Kit) of a drift check; everything passes `notify.redact`."""
    from tenant_replicator.notify import redact

    counts = drift["counts"]
    labels = {
        "source_added": "added in source",
        "source_removed": "removed from source",
        "source_changed": "changed in source",
        "target_changed": "changed by hand in target",
        "target_deleted": "deleted by hand in target",
    }
    summary = ", ".join(f"{counts[k]} {labels[k]}" for k in KINDS if counts[k])
    fidelity_text = "n/a" if fidelity is None else f"{fidelity['overall_percent']:.1f} %"
    headline = f":warning: `{campaign_id}` drifted since {drift.get('since') or 'the last converged state'}: {summary}"
    lines = []
    for kind in KINDS:
        for item in drift[kind][:8]:
            lines.append(f"{labels[kind]}: {_short(item['id'])} ({item.get('type', '')})")
    action = (
        "re-converging: `tenant_replication` re-triggered (" + "; ".join(decision["reasons"]) + ")"
        if decision.get("retrigger")
        else "no re-convergence needed"
    )
    for row in (removals or {}).get("forget", []):
        lines.append(f"kept in target (deletes not allowed), released from state: {_short(row['target_id'])}")
    for row in (removals or {}).get("delete", []):
        lines.append(f"will be deleted from target (allow_deletes): {_short(row['target_id'])}")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": redact(headline)}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": redact(f"*Fidelity*\n{fidelity_text}")},
                {"type": "mrkdwn", "text": redact(f"*Action*\n{action}")},
            ],
        },
    ]
    if lines:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": redact("\n".join(lines))[:2900]}})
    if run_url:
        blocks.append(
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open run"}, "url": run_url}],
            }
        )
    return {"text": redact(headline), "blocks": blocks}


def variable_key(campaign_id: str) -> str:
    return f"{DRIFT_VARIABLE_PREFIX}{campaign_id}"


def _entry(resource: Resource, writable: Writable | None) -> dict[str, Any]:
    return {
        "hash": fingerprint(resource, writable),
        "type": str(resource.get("type") or ""),
        "name": str(resource.get("name") or ""),
    }


def _item(resource_id: str, entry: Mapping[str, Any], source_id: str | None = None) -> dict[str, Any]:
    item = {"id": resource_id, "type": entry.get("type", ""), "name": entry.get("name", "")}
    if source_id:
        item["source_id"] = source_id
    return item


def _short(resource_id: str) -> str:
    parts = resource_id.split("/")
    lowered = [p.lower() for p in parts]
    if "resourcegroups" in lowered:
        index = lowered.index("resourcegroups")
        return "/".join([parts[index + 1], *parts[index + 2 :][-2:]]) if len(parts) > index + 1 else resource_id
    return resource_id


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- I/O steps for the drift watch ----------------------------------------------------------------


def snapshot_path(campaign_dir: Path) -> Path:
    return Path(campaign_dir) / SNAPSHOT_FILE


def read_snapshot(campaign_dir: Path) -> dict[str, Any] | None:
    path = snapshot_path(campaign_dir)
    return json.loads(path.read_text()) if path.is_file() else None


def write_snapshot(campaign_dir: Path, snapshot: Mapping[str, Any]) -> Path:
    """Atomic (temp + rename) in the campaign's own directory: no two campaigns share a file."""
    path = snapshot_path(campaign_dir)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(snapshot, indent=1, sort_keys=True))
    tmp.chmod(0o600)
    tmp.replace(path)
    return path


def _graph_view(settings: Any, config: Any) -> tuple[list[dict], list[dict], dict[str, Any], dict[str, Any]]:
    """(source, target, source scan, target scan) as the graph holds them now."""
    from tenant_replicator.graph.store import open_graph
    from tenant_replicator.scan import latest_scan, read_resources

    store = open_graph(settings.graph_uri, settings.graph_name)
    try:
        return (
            read_resources(store, config.source),
            read_resources(store, config.target),
            latest_scan(store, config.source) or {},
            latest_scan(store, config.target) or {},
        )
    finally:
        store.close()


def _campaign_files(settings: Any, campaign_id: str) -> tuple[Path, dict[str, str], dict[str, str]]:
    from tenant_replicator.campaign import campaign_dir

    directory = campaign_dir(settings.home, campaign_id)
    name_map = _read_json(directory / "terraform" / "name_map.json", {})
    skipped = {s["id"].lower(): s["reason"] for s in _read_json(directory / "skipped.json", [])}
    return directory, name_map, skipped


def check(settings: Any, config: Any, run_id: str) -> dict[str, Any]:
    """Rescan source and target, compute fidelity and drift; write the baseline when there is none yet.

    Raises when a scan is incomplete: a partial scan would report deletions that did not happen.
    """
    from tenant_replicator.fidelity import compute_fidelity
    from tenant_replicator.iac.registry import canonical_type
    from tenant_replicator.iteration import scan, writable_properties

    started = time.monotonic()
    scans = {}
    for role, subscription in (("source", config.source), ("target", config.target)):
        report = scan(settings, subscription, f"{run_id}:drift:{role}")
        if not report["complete"]:
            raise RuntimeError(f"{role} scan of {subscription} incomplete: {report['errors'][:5]}")
        scans[role] = {k: report.get(k) for k in ("scan_id", "resources", "duration_s")}
    source, target, _, _ = _graph_view(settings, config)
    directory, name_map, skipped = _campaign_files(settings, config.campaign_id)
    admit = config.filters.admits
    fidelity = compute_fidelity(
        [r for r in source if admit(r)],
        target,
        name_map,
        source_complete=True,
        target_complete=True,
        out_of_scope=skipped,
        canonical_type=canonical_type,
        writable=writable_properties,
    )
    snapshot = read_snapshot(directory)
    drift = None
    if snapshot is not None:
        drift = compute_drift(snapshot, source, target, admit=admit, writable=writable_properties)
    decision = decide(drift, fidelity["overall_percent"], config.fidelity_percent)
    workdirs = campaign_states(directory)
    in_state = {target_id: address for target_id, (address, _) in workdirs.items()}
    removals = plan_removals(drift or {}, snapshot or {}, in_state, config.allow_deletes)
    for rows in removals.values():
        for row in rows:
            row["workdir"] = workdirs.get(row["target_id"], ("", ""))[1]
    baseline_written = False
    if not decision["retrigger"]:
        # converged and unchanged (or a first look at a converged campaign): this is the new baseline
        write_snapshot(
            directory,
            take_snapshot(
                source,
                target,
                name_map,
                admit=admit,
                writable=writable_properties,
                reason="drift check: converged",
            ),
        )
        baseline_written = snapshot is None
    return {
        "campaign_id": config.campaign_id,
        "baseline": snapshot is None,
        "baseline_written": baseline_written,
        "drift": drift,
        "fidelity": {
            k: fidelity[k]
            for k in ("overall_percent", "property_score_percent", "matched", "source_total", "preexisting_target")
        },
        "decision": decision,
        "removals": removals,
        "scans": scans,
        "duration_s": round(time.monotonic() - started, 3),
    }


def converged_snapshot(settings: Any, config: Any, reason: str = "objective met") -> dict[str, Any]:
    """Snapshot from the graph as the loop's last iteration left it (its own source scan and target rescan)."""
    from tenant_replicator.iteration import writable_properties

    source, target, _, target_scan = _graph_view(settings, config)
    directory, name_map, _ = _campaign_files(settings, config.campaign_id)
    if not target_scan.get("complete", True):
        raise RuntimeError(f"the last target scan of {config.target} is incomplete: no snapshot taken")
    snapshot = take_snapshot(
        source, target, name_map, admit=config.filters.admits, writable=writable_properties, reason=reason
    )
    write_snapshot(directory, snapshot)
    return {"source": len(snapshot["source"]), "target": len(snapshot["target"]), "taken_at": snapshot["taken_at"]}


def campaign_states(directory: Path) -> dict[str, tuple[str, str]]:
    """Target id -> (Terraform address, working dir relative to the campaign dir) over the campaign's own
    states: the single `terraform/` state and, in stacks mode, each `stacks/<name>/` state."""
    found: dict[str, tuple[str, str]] = {}
    directory = Path(directory)
    for state_file in [
        directory / "terraform" / "terraform.tfstate",
        *sorted(directory.glob("stacks/*/terraform.tfstate")),
    ]:
        workdir = str(state_file.parent.relative_to(directory))
        for target_id, address in state_addresses(_read_json(state_file, {})).items():
            found[target_id] = (address, workdir)
    return found


def forget(settings: Any, campaign_id: str, rows: list[dict[str, str]], timeout: float = 300) -> list[str]:
    """`terraform state rm` in the campaign's own working dir(s): the target keeps these resources, unmanaged.

    Used when the source deleted a resource and the campaign does not allow deletes; without it the
    loop would plan a destroy, refuse it, and never converge again. `rows` are `plan_removals` rows
    (`address`, `workdir` relative to the campaign dir); a workdir outside the campaign dir is refused.
    """
    from tenant_replicator.campaign import campaign_dir
    from tenant_replicator.terraform.process import ManagedProcess
    from tenant_replicator.terraform.runner import find_binary, terraform_env

    if not rows:
        return []
    root = campaign_dir(settings.home, campaign_id).resolve()
    env: dict[str, str] = {}
    if settings.simulator_mode:
        from tenant_replicator.tfprovider.install import write_cli_config

        env["TF_CLI_CONFIG_FILE"] = str(write_cli_config(settings.home / "tfprovider"))
    env = terraform_env(env)
    binary = find_binary("terraform", env.get("PATH"))
    by_dir: dict[Path, set[str]] = {}
    for row in rows:
        workdir = (root / (row.get("workdir") or "terraform")).resolve()
        if root not in workdir.parents:
            raise RuntimeError(f"refusing to touch {workdir}: not inside campaign {campaign_id}'s directory")
        by_dir.setdefault(workdir, set()).add(row["address"])
    removed = []
    for workdir, addresses in sorted(by_dir.items()):
        command = [binary, "state", "rm", "-lock-timeout=60s", *sorted(addresses)]
        result = ManagedProcess(command, cwd=workdir, env=env, umask=0o077).run(timeout)
        if result.returncode != 0:
            raise RuntimeError(f"terraform state rm in {workdir} failed ({result.returncode}): {result.stderr[-1000:]}")
        removed += [f"{workdir.relative_to(root)}:{a}" for a in sorted(addresses)]
    return removed


def _read_json(path: Path, default: Any) -> Any:
    return json.loads(path.read_text()) if path.is_file() else default
