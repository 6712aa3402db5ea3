"""tenant_replication: one run = one iteration; the run re-triggers itself until the objective holds.

scan source -> generate azapi Terraform -> plan/apply (one converging state per campaign) ->
rescan target -> fidelity -> record -> continue? -> trigger the next iteration.
With the ``stacks`` param the generated config is split per resource group and applied by mapped
tasks in dependency waves (docs/STACKS.md); ``apply`` then publishes their merged summary, so
every later step reads one ``apply_summary`` either way. Off, the wave tasks are skipped.
The counters travel in the next run's conf (replayable from the UI); the campaign Variable
`tenant_replication__<campaign_id>` is the durable record with the bounded history.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from airflow.providers.standard.operators.python import ShortCircuitOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import DAG, Param, task

from tenant_replicator_airflow.notifiers.slack import DEFAULT_SLACK_CONN_ID, TaskFailureSlackNotifier
from tenant_replicator_airflow.operators.terraform_apply import TerraformApplyOperator
from tenant_replicator_airflow.sensors.fidelity import FidelitySensor

log = logging.getLogger(__name__)
DAG_ID = "tenant_replication"
PREPARE = "{{ ti.xcom_pull(task_ids='prepare') }}"
TF_DIR = "{{ ti.xcom_pull(task_ids='prepare')['tf_dir'] }}"
CLI_CONFIG = "{{ ti.xcom_pull(task_ids='prepare')['cli_config_file'] }}"
STACK_WAVES = 3  # wave tasks in the graph; deeper stack levels fold into the last wave

with DAG(
    dag_id=DAG_ID,
    description="Replicate an Azure subscription into another until fidelity and stability objectives hold",
    schedule=None,
    # one chain per campaign is the campaign lease's job (prepare takes it); several campaigns run side by side
    max_active_runs=int(os.environ.get("TENANT_REPLICATOR_MAX_ACTIVE_CHAINS", "8")),
    catchup=False,
    render_template_as_native_obj=True,
    tags=["tenant-replicator"],
    default_args={
        "retries": 0,
        "on_failure_callback": TaskFailureSlackNotifier(slack_conn_id="{{ params.slack_conn_id }}"),
    },
    params={
        "source_subscription": Param("", type="string", description="Subscription ID to copy (read only)"),
        "target_subscription": Param("", type="string", description="Subscription ID to write into"),
        "campaign_id": Param("", type="string", description="Optional; default derived from the pair"),
        "fidelity_target": Param(95.0, type="number", minimum=0, maximum=100),
        "required_successes": Param(3, type="integer", minimum=1),
        "max_iterations": Param(20, type="integer", minimum=1),
        "max_hours": Param(24.0, type="number", exclusiveMinimum=0),
        "apply_timeout_s": Param(3600, type="integer", minimum=10),
        "slack_conn_id": Param(DEFAULT_SLACK_CONN_ID, type="string"),
        "fidelity_deferrable": Param(False, type="boolean", description="wait for the rescan in the triggerer"),
        "apply_deferrable": Param(False, type="boolean", description="run terraform detached; wait in the triggerer"),
        "allow_destroy": Param(False, type="boolean", description="apply plans that delete/replace target resources"),
        "adopt_existing": Param(
            False, type="boolean", description="import same-ID target resources this campaign did not create"
        ),
        "backend_conn_id": Param("", type="string", description="azurerm state backend connection; empty = local"),
        "stacks": Param(False, type="boolean", description="one state per resource group, applied in parallel"),
        "filters": Param(
            {},
            type="object",
            description='Scope: {"resource_groups": [...], "resource_types": [...]}; empty = the whole subscription',
        ),
        "iteration": Param(0, type="integer", minimum=0, description="Set by the chain; 0 starts a new chain"),
        "consecutive_successes": Param(0, type="integer", minimum=0, description="Set by the chain"),
        "started_at": Param("", type="string", description="Set by the chain (ISO time the chain began)"),
    },
) as dag:

    @task(multiple_outputs=False)
    def prepare(**context: Any) -> dict[str, Any]:
        from tenant_replicator_airflow.loop import prepare_iteration

        return prepare_iteration(context)

    @task(multiple_outputs=False)
    def scan_source(ctx: dict[str, Any], **context: Any) -> dict[str, Any]:
        from tenant_replicator import iteration
        from tenant_replicator.settings import load_settings

        report = iteration.scan(load_settings(), ctx["source_subscription"], f"{context['run_id']}:source")
        if not report["complete"]:
            # Generating from a partial source would plan to destroy what the scan missed.
            raise RuntimeError(f"source scan incomplete ({len(report['errors'])} unreadable): {report['errors'][:5]}")
        return report

    @task(multiple_outputs=False)
    def generate(ctx: dict[str, Any], source_scan: dict[str, Any]) -> dict[str, Any]:
        from tenant_replicator import iteration
        from tenant_replicator.settings import load_settings

        return iteration.generate(load_settings(), ctx)

    @task(multiple_outputs=False)
    def stack_wave(ctx: dict[str, Any], generated: dict[str, Any], wave: int, **context: Any) -> list[dict[str, str]]:
        """Stacks mode: (re)write the per-resource-group directories; this wave's stacks to map over."""
        from pathlib import Path

        from tenant_replicator.terraform.stacks import effective_mode, prepare_stacks

        root = Path(ctx["campaign_dir"]) / "stacks"
        use_stacks, warning = effective_mode(bool(context["params"]["stacks"]), Path(ctx["tf_dir"]), root)
        if warning:
            log.warning(warning)
        if not use_stacks:
            return []  # the mapped apply of this wave expands to nothing: skipped
        plan = prepare_stacks(Path(ctx["tf_dir"]), root, ctx["campaign_id"], STACK_WAVES)
        return plan[f"wave_{wave}"]

    # terraform settings shared by the single-state apply and every stack
    apply_settings: dict[str, Any] = {
        "cli_config_file": CLI_CONFIG,
        "timeout": "{{ params.apply_timeout_s }}",
        "allow_destroy": "{{ params.allow_destroy }}",
        "adopt_existing": "{{ params.adopt_existing }}",
        "deferrable": "{{ params.apply_deferrable }}",
        "backend_conn_id": "{{ params.backend_conn_id }}",
        "campaign_tf_dir": TF_DIR,
    }

    @task(trigger_rule="all_done", multiple_outputs=False)
    def merge_stacks(**context: Any) -> dict[str, Any] | None:
        """The wave tasks' summaries as one; None in single-state mode."""
        from tenant_replicator.terraform.stacks import stacks_summary

        ti = context["ti"]
        return stacks_summary(
            ti.xcom_pull(task_ids="prepare"),
            bool(context["params"]["stacks"]),
            [ti.xcom_pull(task_ids=f"stacks_wave_{i}") for i in range(STACK_WAVES)],
            lambda task_id, key, index: ti.xcom_pull(task_ids=task_id, key=key, map_indexes=index),
        )

    apply = TerraformApplyOperator(
        task_id="apply",
        working_dir=TF_DIR,
        backend_key="{{ ti.xcom_pull(task_ids='prepare')['campaign_id'] }}.tfstate",
        stack_summary="{{ ti.xcom_pull(task_ids='merge_stacks') }}",
        **apply_settings,
    )

    @task(trigger_rule="all_done", multiple_outputs=False)
    def scan_target(**context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowSkipException

        from tenant_replicator import iteration
        from tenant_replicator.settings import load_settings

        ctx = context["ti"].xcom_pull(task_ids="prepare")
        if not ctx:
            raise AirflowSkipException("prepare failed: nothing to rescan")
        return iteration.scan(load_settings(), ctx["target_subscription"], f"{context['run_id']}:target")

    fidelity = FidelitySensor(
        task_id="fidelity",
        campaign=PREPARE,
        target_scan_id="{{ ti.xcom_pull(task_ids='scan_target')['scan_id'] }}",
        fidelity_target="{{ params.fidelity_target }}",
        deferrable="{{ params.fidelity_deferrable }}",
        poke_interval=2,
        timeout=600,
    )

    @task(trigger_rule="all_done", multiple_outputs=False)
    def record(**context: Any) -> dict[str, Any]:
        from tenant_replicator_airflow.loop import record_iteration

        return record_iteration(context)

    should_continue = ShortCircuitOperator(
        task_id="should_continue",
        python_callable=lambda ti: bool(ti.xcom_pull(task_ids="record")["decision"]["continue"]),
    )

    trigger_next = TriggerDagRunOperator(
        task_id="trigger_next_iteration",
        trigger_dag_id=DAG_ID,
        conf="{{ ti.xcom_pull(task_ids='record')['next_conf'] }}",
        wait_for_completion=False,
    )

    @task(trigger_rule="one_failed", on_failure_callback=None)
    def iteration_failed(**context: Any) -> None:
        """Marks the run failed when any step failed (the chain itself may still go on)."""
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException("a step of this iteration failed; see the failed task's log")

    ctx = prepare()
    source_scan = scan_source(ctx)
    generated = generate(ctx, source_scan)
    stack_lists = [stack_wave.override(task_id=f"stacks_wave_{i}")(ctx, generated, i) for i in range(STACK_WAVES)]
    waves = [
        TerraformApplyOperator.partial(
            task_id=f"apply_stacks_{i}", trigger_rule="all_done_min_one_success", **apply_settings
        ).expand_kwargs(stack_lists[i])
        for i in range(STACK_WAVES)
    ]
    merged = merge_stacks()
    target_scan = scan_target()
    recorded = record()
    steps = [ctx, source_scan, generated, *stack_lists, *waves, merged, apply, target_scan, fidelity, recorded]
    steps += [should_continue, trigger_next]
    for earlier, later in zip(waves, waves[1:], strict=False):
        earlier >> later
    waves[-1] >> merged >> apply
    generated >> apply >> target_scan >> fidelity >> recorded >> should_continue >> trigger_next
    steps >> iteration_failed()
