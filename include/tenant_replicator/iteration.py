"""The steps of one replication iteration as plain functions (the DAG's tasks call these).

Each step takes and returns JSON-serialisable dicts, so a step's XCom is its return value and
the whole iteration runs without Airflow too (CLI, tests).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tenant_replicator import campaign as campaigns
from tenant_replicator import locks
from tenant_replicator.campaigns import CampaignConfigError, Filters, filters_conf, parse_filters
from tenant_replicator.fidelity import compute_fidelity
from tenant_replicator.preflight import preflight
from tenant_replicator.settings import Settings


def prepare(
    settings: Settings,
    params: dict[str, Any],
    run_id: str,
    *,
    dag_id: str = "",
    run_state: locks.RunState | None = None,
    pending_runs: locks.PendingRuns | None = None,
) -> dict[str, Any]:
    """Validate the campaign, lay out its directory and take the campaign lease.

    Refuses target == source and bad Params before anything runs; raises locks.CampaignLocked when
    another chain of this campaign holds the lease (`run_state`/`pending_runs` let a dead holder's
    lease be taken over at once instead of after its TTL; see locks.py).
    """
    spec = campaigns.parse_spec(params)
    scope = _scope(params.get("filters"))
    preflight(settings)
    iteration = int(params.get("iteration") or 0) or 1
    started_at = str(params.get("started_at") or "") or datetime.now(UTC).isoformat(timespec="seconds")
    directory = campaigns.campaign_dir(settings.home, spec.campaign_id)
    lease = locks.acquire(
        directory,
        chain=started_at,
        run_id=run_id,
        iteration=iteration,
        dag_id=dag_id,
        run_state=run_state,
        pending_runs=pending_runs,
    )
    tf_dir = directory / "terraform"
    tf_dir.mkdir(exist_ok=True, mode=0o700)
    cli_config = None
    if settings.simulator_mode:
        from tenant_replicator.tfprovider.install import write_cli_config

        cli_config = str(write_cli_config(settings.home / "tfprovider"))
    return {
        "campaign_id": spec.campaign_id,
        "source_subscription": spec.source_subscription,
        "target_subscription": spec.target_subscription,
        "objective": {
            "fidelity_percent": spec.objective.fidelity_percent,
            "consecutive_successes": spec.objective.consecutive_successes,
            "max_iterations": spec.objective.max_iterations,
            "max_hours": spec.objective.max_hours,
        },
        "iteration": iteration,
        "streak_before": int(params.get("consecutive_successes") or 0) if iteration > 1 else 0,
        "started_at": started_at,
        "campaign_dir": str(directory),
        "tf_dir": str(tf_dir),
        "cli_config_file": cli_config,
        "nonce": campaigns.campaign_nonce(directory),
        "run_id": run_id,
        "lease": {"took_over": lease.get("took_over")},
        "filters": filters_conf(scope),
        "adopt_existing": bool(params.get("adopt_existing")),
    }


def _scope(value: Any) -> Filters:
    """The `filters` Param (resource groups / types the campaign replicates; empty = everything)."""
    try:
        return parse_filters(value)
    except CampaignConfigError as error:
        raise campaigns.CampaignInputError(f"Param {error}") from None


def in_scope(ctx: dict[str, Any], resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only what the campaign's filters admit: generation and fidelity see the same scope."""
    scope = parse_filters(ctx.get("filters"))
    return resources if scope.empty else [r for r in resources if scope.admits(r)]


def settle_lease(ctx: dict[str, Any], decision: dict[str, Any]) -> dict[str, Any] | None:
    """After `record`: hand the campaign lease to the chain's next iteration, or free it when the chain ends."""
    directory = Path(ctx["campaign_dir"])
    if decision.get("continue"):
        return locks.handoff(directory, ctx["run_id"])
    return locks.release(directory, ctx["run_id"])


# azure-core retries a throttled/5xx answer 3 times by default (`retry_status`): under sustained throttling
# (ARM's 429 + Retry-After on a third of the requests) a 45-resource scan then loses a resource about half the
# time and the whole iteration is spent. A day-long loop honours Retry-After and keeps retrying instead.
SCAN_RETRY_STATUS = 10


def scan(settings: Settings, subscription_id: str, scan_id: str) -> dict[str, Any]:
    from tenant_replicator.arm.client import resource_client
    from tenant_replicator.arm.pacing import Pacer, PacingPolicy
    from tenant_replicator.graph.store import open_graph
    from tenant_replicator.scan import scan_subscription

    pacer = Pacer()
    store = open_graph(settings.graph_uri, settings.graph_name)
    try:
        client = resource_client(
            settings, subscription_id, per_retry_policies=[PacingPolicy(pacer)], retry_status=SCAN_RETRY_STATUS
        )
        try:
            report = scan_subscription(settings, store, subscription_id, scan_id, client=client, pacer=pacer)
        finally:
            client.close()
    finally:
        store.close()
    report = dict(report)
    report["errors"] = list(report.get("errors", []))[:50]
    return report


def generate(settings: Settings, ctx: dict[str, Any]) -> dict[str, Any]:
    """Source graph -> main.tf.json in the campaign's one Terraform directory (state converges there)."""
    from tenant_replicator.graph.store import open_graph
    from tenant_replicator.iac.campaign import generate_for_campaign
    from tenant_replicator.scan import read_resource_groups, read_resources

    store = open_graph(settings.graph_uri, settings.graph_name)
    try:
        resources = in_scope(ctx, read_resources(store, ctx["source_subscription"]))
        groups = in_scope(ctx, read_resource_groups(store, ctx["source_subscription"]))
        # pre-existing target resources become import blocks only when the campaign may adopt them
        # (converge's ownership rule); otherwise a same-ID resource stays a visible conflict
        target = None
        if ctx.get("adopt_existing"):
            target = read_resources(store, ctx["target_subscription"]) + read_resource_groups(
                store, ctx["target_subscription"]
            )
    finally:
        store.close()
    return generate_for_campaign(
        settings, ctx, source_resources=resources, resource_groups=groups, target_resources=target
    )


def fidelity(
    settings: Settings, ctx: dict[str, Any], target_scan_id: str, apply_failures: list[dict[str, Any]] | None = None
) -> dict[str, Any] | None:
    """The fidelity report once the target scan of this iteration is in the graph, else None.

    `apply_failures` (the apply summary's `failed` list) give unmatched resources their ARM reason.
    Raises RuntimeError when that scan finished incomplete: a partial scan is never reported.
    """
    from tenant_replicator.graph.store import open_graph
    from tenant_replicator.iac.registry import canonical_type
    from tenant_replicator.scan import latest_scan, read_resources

    store = open_graph(settings.graph_uri, settings.graph_name)
    try:
        target_scan = latest_scan(store, ctx["target_subscription"])
        if not target_scan or target_scan["scan_id"] != target_scan_id:
            return None
        if not target_scan["complete"]:
            raise RuntimeError(f"target scan {target_scan_id} is incomplete: fidelity not computed")
        source_scan = latest_scan(store, ctx["source_subscription"]) or {}
        source = in_scope(ctx, read_resources(store, ctx["source_subscription"]))
        target = read_resources(store, ctx["target_subscription"])
    finally:
        store.close()
    directory = Path(ctx["campaign_dir"])
    name_map = _read_json(Path(ctx["tf_dir"]) / "name_map.json", {})
    skipped = {s["id"].lower(): s["reason"] for s in _read_json(directory / "skipped.json", [])}
    failures = failure_reasons(_read_json(directory / "labels.json", {}), apply_failures or [])
    return compute_fidelity(
        source,
        target,
        name_map,
        source_complete=bool(source_scan.get("complete")),
        target_complete=True,
        out_of_scope=skipped,
        failure_reasons=failures,
        canonical_type=canonical_type,
        writable=writable_properties,
    )


def failure_reasons(labels: dict[str, str], failed: list[dict[str, Any]]) -> dict[str, str]:
    """Source id -> "ARM code: summary" for each failed Terraform address (`azapi_resource.<label>`)."""
    reasons = {}
    for failure in failed:
        label = str(failure.get("address") or "").rsplit(".", 1)[-1]
        if label in labels:
            reasons[labels[label].lower()] = ": ".join(
                str(part) for part in (failure.get("arm_code"), failure.get("summary")) if part
            )
    return reasons


def writable_properties(resource: dict[str, Any]) -> dict[str, Any]:
    """The properties the generator would replicate (read-only ones per the type registry removed)."""
    from tenant_replicator.iac.registry import GENERIC_READ_ONLY, lookup
    from tenant_replicator.iac.rewrite import strip_paths

    body = {"properties": json.loads(json.dumps(resource.get("properties") or {}))}
    strip_paths(body, GENERIC_READ_ONLY + lookup(str(resource["type"])).read_only)
    return body.get("properties") or {}


def record(
    state: dict[str, Any] | None,
    ctx: dict[str, Any],
    apply_summary: dict[str, Any] | None,
    target_scan: dict[str, Any] | None,
    fidelity_report: dict[str, Any] | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Fold this iteration into the campaign state; return (new state, iteration decision)."""
    spec = campaigns.parse_spec(
        {
            "source_subscription": ctx["source_subscription"],
            "target_subscription": ctx["target_subscription"],
            "campaign_id": ctx["campaign_id"],
            "fidelity_target": ctx["objective"]["fidelity_percent"],
            "required_successes": ctx["objective"]["consecutive_successes"],
            "max_iterations": ctx["objective"]["max_iterations"],
            "max_hours": ctx["objective"]["max_hours"],
        }
    )
    state = campaigns.check_state(state, f"of campaign {ctx['campaign_id']}")
    if state is None or state.get("started_at") != ctx["started_at"]:
        state = campaigns.new_state(spec, ctx["started_at"])  # a new chain of this campaign
    outcome = campaigns.iteration_outcome(
        ctx["iteration"],
        ctx["run_id"],
        apply_summary=apply_summary,
        fidelity=fidelity_report,
        target_scan=target_scan,
    )
    state["objective"] = ctx["objective"]
    previous_fidelity = state.get("last_fidelity")
    state = campaigns.record_iteration(state, outcome, ctx["streak_before"])
    met = campaigns.objective_met(state, spec.objective)
    stop = None if met else campaigns.safety_stop_reason(state, spec.objective)
    state["status"] = "objective_met" if met else ("stopped" if stop else "running")
    decision = {
        "success": outcome.success,
        "reasons": outcome.reasons,
        "objective_met": met,
        "stop_reason": stop,
        "continue": not met and stop is None,
        "fidelity_changed": outcome.fidelity_percent is not None and outcome.fidelity_percent != previous_fidelity,
        "previous_fidelity": previous_fidelity,
        "next_counters": {
            "campaign_id": ctx["campaign_id"],
            "iteration": ctx["iteration"] + 1,
            "consecutive_successes": state["consecutive_successes"],
            "started_at": ctx["started_at"],
        },
    }
    return state, decision


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=1, sort_keys=True))
    tmp.replace(path)


def _read_json(path: Path, default: Any) -> Any:
    return json.loads(path.read_text()) if path.exists() else default
