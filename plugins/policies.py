"""Cluster policy: route each `tenant_replication` apply to the pool of its target subscription.

ARM's write budget is per subscription, so concurrent applies must be capped per *target
subscription*, across campaigns. `pool` is not a templated field, and one DAG serves every campaign,
so the pool is chosen per run: `task_instance_mutation_hook` (Airflow 3.3 passes the `dag_run`, whose
conf names the target) sets `ti.pool` when the scheduler creates the task instance.

Loaded by the scheduler through `airflow_local_settings` (a one-line shim in `$AIRFLOW_HOME/config/`,
see `LOCAL_SETTINGS_SHIM`) or a pluggy entry point (`[project.entry-points."airflow.policy"]
tenant_replicator = "tenant_replicator_airflow.policies"`). A pool that does not exist would
leave the task unscheduled, so only targets whose pool is known to exist are routed: those of the
campaigns configured in the campaigns file (their pools are created at startup from the same file:
`tenant-replicator campaigns pools --create`), or every target when
`TENANT_REPLICATOR_APPLY_POOLS=all` says the operator creates pools for all of them. The hook runs
inside the scheduler's transaction: no database access here (the Variable config is not read).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from airflow.policies import hookimpl

from tenant_replicator import campaigns

log = logging.getLogger(__name__)
LOOP_DAG_ID = "tenant_replication"
APPLY_TASK_ID = "apply"
STACK_APPLY_PREFIX = "apply_stacks_"  # stacks mode: mapped applies per wave (one TI per stack)
ROUTE_ALL_ENV = "TENANT_REPLICATOR_APPLY_POOLS"
LOCAL_SETTINGS_SHIM = (
    '"""Loads tenant-replicator\'s cluster policy."""\n'
    "from tenant_replicator_airflow.policies import task_instance_mutation_hook\n\n"
    '__all__ = ["task_instance_mutation_hook"]\n'
)
_cache: dict[str, Any] = {"key": None, "targets": frozenset()}


def configured_targets(path: Path | None = None) -> frozenset[str]:
    """Target subscriptions of the file-configured campaigns; re-read only when the file changes."""
    path = path or campaigns.default_file()
    try:
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
    except OSError:
        return frozenset()
    if _cache["key"] != key:
        try:
            targets = frozenset(
                c.target.lower() for c in campaigns.parse_document(campaigns.read_file(path), str(path))
            )
        except campaigns.CampaignConfigError as error:  # never break scheduling over a config typo
            log.warning("campaign config unreadable, applies stay in their default pool: %s", error)
            targets = frozenset()
        _cache.update(key=key, targets=targets)
    return _cache["targets"]


def route_pool(dag_id: str, task_id: str, conf: dict[str, Any] | None, routed: frozenset[str] | None) -> str | None:
    """The pool for this task instance, or None to leave it alone. `routed` None = every target."""
    if dag_id != LOOP_DAG_ID or not (task_id == APPLY_TASK_ID or task_id.startswith(STACK_APPLY_PREFIX)):
        return None
    target = str((conf or {}).get("target_subscription") or "").strip().lower()
    if not target or (routed is not None and target not in routed):
        return None
    return campaigns.pool_name(target)


@hookimpl
def task_instance_mutation_hook(task_instance: Any, dag_run: Any) -> None:
    """`dag_run` has no default on purpose: pluggy passes only the hook arguments an impl names without one."""
    if dag_run is None or task_instance.dag_id != LOOP_DAG_ID:
        return
    routed = None if os.environ.get(ROUTE_ALL_ENV, "").lower() == "all" else configured_targets()
    pool = route_pool(task_instance.dag_id, task_instance.task_id, getattr(dag_run, "conf", None), routed)
    if pool:
        task_instance.pool = pool


def write_local_settings(airflow_home: Path) -> Path:
    """Install the shim that makes Airflow load this policy (`$AIRFLOW_HOME/config/` is on its sys.path)."""
    path = Path(airflow_home) / "config" / "airflow_local_settings.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(LOCAL_SETTINGS_SHIM)
    return path
