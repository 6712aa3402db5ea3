"""ScanOperator: scan one subscription into the graph (ARM, or Resource Graph + ARM).

Thin: the scan is `tenant_replicator.scan.scan_subscription`; this adds the graph connection
(an Airflow `neo4j` connection, or the embedded FalkorDB from settings), progress in the task log,
and the report summary as XCom. An incomplete scan pushes its summary, then fails the task, so the
unreadable resources are listed and nothing downstream takes it for complete.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException

log = logging.getLogger(__name__)


def _flag(value: Any) -> bool:
    """Params render as text unless the DAG renders native objects: accept both."""
    return value if isinstance(value, bool) else str(value).strip().lower() in {"true", "1", "yes"}


class ScanOperator(BaseOperator):
    """Scan ``subscription_id``; returns the scan report summary (see `tenant_replicator.scan.summary`).

    :param subscription_id: subscription to scan (read only).
    :param graph_conn_id: Airflow connection of the graph (`neo4j` type for Neo4j); empty -> the
        settings' graph (`TENANT_REPLICATOR_GRAPH_URI`, embedded FalkorDB by default).
    :param use_resource_graph: discover through Azure Resource Graph (large subscriptions).
    :param scan_id: default ``<dag_id>__<run_id>``.
    :param fail_on_incomplete: fail the task when a resource could not be read (after pushing XCom).
    """

    template_fields: Sequence[str] = ("subscription_id", "graph_conn_id", "use_resource_graph", "scan_id")
    ui_color = "#2b7bb9"

    def __init__(self, *, subscription_id: str, graph_conn_id: str | None = None,
                 use_resource_graph: bool | str = False, scan_id: str | None = None,
                 fail_on_incomplete: bool = True, max_workers: int = 8, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(**kwargs)
        self.subscription_id, self.graph_conn_id = subscription_id, graph_conn_id
        self.use_resource_graph, self.scan_id = use_resource_graph, scan_id
        self.fail_on_incomplete, self.max_workers = fail_on_incomplete, max_workers

    def _store(self, settings: Any) -> Any:
        from tenant_replicator.graph import open_graph
        from tenant_replicator.graph.connection import open_graph_from_connection

        if self.graph_conn_id:
            return open_graph_from_connection(self.graph_conn_id, settings.graph_name)
        return open_graph(settings.graph_uri, settings.graph_name)

    def execute(self, context: Any) -> dict[str, Any]:
        from tenant_replicator.scan import scan_subscription, summary
        from tenant_replicator.settings import load_settings

        subscription = str(self.subscription_id or "").strip()
        if not subscription:
            raise AirflowException("no subscription to scan: set the `subscription` param")
        settings = load_settings()
        scan_id = self.scan_id or f"{self.dag_id}__{context['run_id']}"
        store = self._store(settings)
        try:
            report = scan_subscription(
                settings, store, subscription, scan_id, max_workers=self.max_workers,
                use_resource_graph=_flag(self.use_resource_graph), progress=self._progress,
            )  # fmt: skip
        finally:
            store.close()
        result = summary(report)
        if not report["complete"] and self.fail_on_incomplete:
            context["ti"].xcom_push(key="return_value", value=result)
            first = "; ".join(f"{e['id']}: {e['error']}" for e in report["errors"][:3])
            raise AirflowException(
                f"scan {scan_id} of {subscription} is incomplete: {len(report['errors'])} unreadable "
                f"({first}); the graph keeps the last complete scan"
            )
        return result

    def _progress(self, event: dict[str, Any]) -> None:
        self.log.info(
            "%s: %d/%d read (%.1f/s), throttled %d, %d waits (%.1f s)",
            event["phase"], event["done"], event["total"], event["rate_per_s"],
            event.get("throttled", 0), event.get("waits", 0), event.get("waited_s", 0.0),
        )  # fmt: skip
