"""tenant_scan: scan any subscription into the graph, on demand (manual trigger).

Params: `subscription` (ID), `graph_conn_id` (Airflow connection of the graph; empty -> the
configured embedded FalkorDB), `use_resource_graph` (discover via Azure Resource Graph). The task's
XCom is the scan report summary; an incomplete scan fails the task after pushing it.
"""

from __future__ import annotations

from airflow.sdk import DAG, Param

from tenant_replicator_airflow.operators.scan import ScanOperator

DAG_ID = "tenant_scan"

with DAG(
    dag_id=DAG_ID,
    description="Scan one Azure subscription into the graph (read only)",
    schedule=None,
    catchup=False,
    render_template_as_native_obj=True,
    tags=["tenant-replicator"],
    default_args={"retries": 0},
    params={
        "subscription": Param("", type="string", description="Subscription ID to scan (read only)"),
        "graph_conn_id": Param("", type="string", description="Graph connection (neo4j type); empty: embedded"),
        "use_resource_graph": Param(False, type="boolean", description="Discover via Azure Resource Graph"),
    },
) as dag:
    ScanOperator(
        task_id="scan",
        subscription_id="{{ params.subscription }}",
        graph_conn_id="{{ params.graph_conn_id }}",
        use_resource_graph="{{ params.use_resource_graph }}",
    )
