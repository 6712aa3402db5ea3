"""The `record` step of tenant_replication: XCom in, campaign Variable + Slack + iteration report out."""

from __future__ import annotations

import logging
from typing import Any

from tenant_replicator import iteration, notify
from tenant_replicator.campaign import CampaignStateError, check_state
from tenant_replicator_airflow.notifiers.slack import run_url, send_slack

log = logging.getLogger(__name__)
# Params the next iteration inherits unchanged (the counters are added by the loop itself).
INHERITED_PARAMS = (
    "source_subscription",
    "target_subscription",
    "campaign_id",
    "fidelity_target",
    "required_successes",
    "max_iterations",
    "max_hours",
    "apply_timeout_s",
    "slack_conn_id",
    "fidelity_deferrable",
    "apply_deferrable",
    "allow_destroy",
    "adopt_existing",
    "backend_conn_id",
    "stacks",
    "filters",
)


CAMPAIGN_INDEX_KEY = "tenant_replicator_campaigns"


def variable_key(campaign_id: str) -> str:
    return f"tenant_replication__{campaign_id}"


def register_campaign(campaign_id: str) -> None:
    """Keep the list of campaigns the status DAG and the campaign page walk."""
    from airflow.sdk import Variable

    known = Variable.get(CAMPAIGN_INDEX_KEY, default=[], deserialize_json=True)
    if campaign_id not in known:
        Variable.set(CAMPAIGN_INDEX_KEY, sorted([*known, campaign_id]), serialize_json=True)


def prepare_iteration(context: dict[str, Any]) -> dict[str, Any]:
    """`prepare` with the campaign lease's stale checks wired to this Airflow's run states.

    A lease held by a run that is no longer queued/running, or handed off while no other run of the DAG
    is queued/running (the successor never came), is taken over at once instead of after its TTL.
    """
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    from tenant_replicator.settings import load_settings

    dag_id = context["dag_run"].dag_id

    def run_state(holder_dag_id: str, run_id: str) -> str | None:
        try:
            state = RuntimeTaskInstance.get_dagrun_state(holder_dag_id or dag_id, run_id)
            return str(getattr(state, "value", state))  # "running", not "DagRunState.RUNNING"
        except Exception:  # unknown run (deleted, other DAG): let the TTL decide
            return None

    def pending_runs() -> int | None:
        try:  # this run is one of the running ones
            return max(0, RuntimeTaskInstance.get_dr_count(dag_id, states=["queued", "running"]) - 1)
        except Exception:
            return None

    return iteration.prepare(
        load_settings(),
        dict(context["params"]),
        context["run_id"],
        dag_id=dag_id,
        run_state=run_state,
        pending_runs=pending_runs,
    )


def record_iteration(context: dict[str, Any]) -> dict[str, Any]:
    from airflow.sdk import Variable
    from airflow.sdk.exceptions import AirflowSkipException

    ti = context["ti"]
    params = context["params"]
    ctx = ti.xcom_pull(task_ids="prepare")
    if not ctx:
        raise AirflowSkipException("prepare failed (bad input?): nothing to record, the chain stops here")
    apply_summary = ti.xcom_pull(task_ids="apply", key="apply_summary")
    target_scan = ti.xcom_pull(task_ids="scan_target")
    fidelity = ti.xcom_pull(task_ids="fidelity")
    key = variable_key(ctx["campaign_id"])
    try:
        state = Variable.get(key, default=None, deserialize_json=True)
    except ValueError as error:  # not JSON
        raise CampaignStateError(f"Variable {key} is not valid JSON ({error}): nothing recorded") from None
    state = check_state(state, f"in Variable {key}")
    previous_per_type = ((state or {}).get("last_report") or {}).get("per_type", {})
    state, decision = iteration.record(state, ctx, apply_summary, target_scan, fidelity)
    # what the campaign page and the status DAG show, bounded so the Variable stays small
    state["dag_id"] = context["dag_run"].dag_id
    if fidelity is not None:
        state["last_report"] = _trim(fidelity)
    state["last_apply"] = _trim_apply(apply_summary, ti.xcom_pull(task_ids="apply", key="apply_error"))
    url = run_url(context)
    conn_id = params.get("slack_conn_id")
    if decision["fidelity_changed"] and fidelity is not None:
        send_slack(
            conn_id,
            notify.fidelity_change_message(
                ctx["campaign_id"],
                ctx["iteration"],
                decision["previous_fidelity"],
                fidelity["overall_percent"],
                fidelity,
                url,
                previous_per_type=previous_per_type,
            ),
        )
    if not decision["continue"] and state.get("end_alerted_run") != ctx["run_id"]:
        reason = "objective met" if decision["objective_met"] else decision["stop_reason"]
        send_slack(conn_id, notify.chain_end_message(ctx["campaign_id"], state, reason, decision["objective_met"], url))
        state["end_alerted_run"] = ctx["run_id"]
    Variable.set(key, state, serialize_json=True)
    register_campaign(ctx["campaign_id"])
    iteration.settle_lease(ctx, decision)  # after the Variable: the next iteration reads a recorded state
    log.info(
        "iteration %s: success=%s fidelity=%s consecutive=%s -> %s",
        ctx["iteration"],
        decision["success"],
        state["last_fidelity"],
        state["consecutive_successes"],
        "continue" if decision["continue"] else (decision["stop_reason"] or "objective met"),
    )
    next_conf = {name: params.get(name) for name in INHERITED_PARAMS} | decision.pop("next_counters")
    return {
        "campaign_id": ctx["campaign_id"],
        "iteration": ctx["iteration"],
        "success": decision["success"],
        "decision": decision,
        "counters": {
            "consecutive_successes": state["consecutive_successes"],
            "best_fidelity": state["best_fidelity"],
            "last_fidelity": state["last_fidelity"],
        },
        "generate": ti.xcom_pull(task_ids="generate"),
        "apply": apply_summary,
        "target_scan": _scan_summary(target_scan),
        "fidelity": _trim(fidelity),
        "next_conf": next_conf,
    }


def _scan_summary(scan: dict[str, Any] | None) -> dict[str, Any] | None:
    if scan is None:
        return None
    return {k: scan.get(k) for k in ("scan_id", "resources", "resource_groups", "complete", "duration_s")} | {
        "error_count": len(scan.get("errors", []))
    }


def _trim_apply(summary: dict[str, Any] | None, error: dict[str, Any] | None) -> dict[str, Any] | None:
    if summary is None:
        return {"ok": False, "error": (error or {}).get("error", "apply did not run")[:1000]}
    keep = ("plan", "applied", "failed", "failed_count", "arm_error_codes", "timed_out", "ok", "duration_s")
    return {k: summary.get(k) for k in keep} | {"failed": (summary.get("failed") or [])[:20]}


def _trim(report: dict[str, Any] | None, limit: int = 50) -> dict[str, Any] | None:
    if report is None:
        return None
    return report | {"unmatched": report["unmatched"][:limit], "out_of_scope": report["out_of_scope"][:limit]}
