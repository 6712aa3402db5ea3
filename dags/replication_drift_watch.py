"""replication_drift_watch__<campaign_id>: one scheduled drift watch per configured campaign.

Why a DAG per campaign (a factory) rather than one DAG with a timetable: each campaign has its own
cron, and a DAG is Airflow's unit of schedule, pause, history and max_active_runs. A failing or
paused campaign then never delays another's watch, and the UI shows each campaign's watch history
apart. Campaigns come from `tenant_replicator.campaigns` (file + Variable); a malformed config is an
import error naming the file/Variable and key.

check (rescan both sides, fidelity + drift, history, one Slack summary when drifted) ->
should_reconverge? -> release_removed (deletes not allowed: out of state, kept in target) ->
trigger tenant_replication (conf from the campaign config) -> wait for that chain -> snapshot.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, task

from tenant_replicator import campaigns
from tenant_replicator_airflow import drift as glue

DAG_PREFIX = "replication_drift_watch__"
# Reschedule-mode poke interval. Short intervals race the scheduler's executor-event handling (a poke
# re-queued before the previous poke's "success" event is processed is failed as "changed externally").
POKE_S = int(os.environ.get("TENANT_REPLICATOR_DRIFT_POKE_S", "60"))


def build(config: campaigns.CampaignConfig) -> DAG:
    campaign_id = config.campaign_id
    with DAG(
        dag_id=f"{DAG_PREFIX}{campaign_id}",
        description=f"Drift watch of campaign {campaign_id}: {config.source} -> {config.target}",
        schedule=None if config.schedule == "none" else config.schedule,
        start_date=datetime(2026, 1, 1),
        catchup=False,
        max_active_runs=1,
        render_template_as_native_obj=True,
        tags=["tenant-replicator", "drift-watch", f"campaign:{campaign_id}"],
        default_args={"retries": 0},
        is_paused_upon_creation=not config.enabled,
    ) as dag:

        @task(multiple_outputs=False)
        def check(**context: Any) -> dict[str, Any]:
            return glue.check(context, campaign_id)

        @task.short_circuit
        def should_reconverge(result: dict[str, Any]) -> bool:
            return bool(result["decision"]["retrigger"])

        @task(multiple_outputs=False)
        def release_removed(result: dict[str, Any]) -> list[str]:
            return glue.release_removed(result)

        trigger = TriggerDagRunOperator(
            task_id="trigger_replication",
            trigger_dag_id=glue.LOOP_DAG_ID,
            trigger_run_id=f"drift__{campaign_id}__{{{{ run_id | replace(':', '_') | replace('+', '_') }}}}",
            conf="{{ ti.xcom_pull(task_ids='check')['loop_conf'] }}",
            wait_for_completion=False,
        )

        @task.sensor(poke_interval=POKE_S, timeout=int(config.max_hours * 3600) + 600, mode="reschedule")
        def wait_converged(result: dict[str, Any]) -> Any:
            from airflow.sdk import PokeReturnValue

            status = glue.converged(campaign_id, result["loop_conf"]["started_at"])
            return PokeReturnValue(is_done=status is not None, xcom_value=status)

        @task(multiple_outputs=False)
        def snapshot() -> dict[str, Any]:
            return glue.snapshot(campaign_id)

        result = check()
        released = release_removed(result)
        should_reconverge(result) >> released >> trigger >> wait_converged(result) >> snapshot()
    dag.dagrun_timeout = timedelta(hours=config.max_hours + 1)
    return dag


for _config in campaigns.load_campaigns(variable_json=glue.config_variable()):
    globals()[f"{DAG_PREFIX}{_config.campaign_id}"] = build(_config)
