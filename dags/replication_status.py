"""replication_status: every 10 minutes, one Slack message about the running campaigns.

Silent when nothing changed since the last message (iteration, fidelity, streak, last error),
unless the `heartbeat` Param asks for a message every time.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import DAG, Param, task

from tenant_replicator_airflow.notifiers.slack import DEFAULT_SLACK_CONN_ID

DIGESTS_KEY = "replication_status__digests"

with DAG(
    dag_id="replication_status",
    description="Status of running tenant-replicator campaigns to Slack every 10 minutes",
    schedule="*/10 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["tenant-replicator"],
    params={
        "heartbeat": Param(False, type="boolean", description="send even when nothing changed"),
        "slack_conn_id": Param(DEFAULT_SLACK_CONN_ID, type="string"),
    },
) as dag:

    @task(multiple_outputs=False)
    def report_status(**context: Any) -> dict[str, Any]:
        from airflow.sdk import Variable

        from tenant_replicator import notify, status
        from tenant_replicator_airflow.loop import CAMPAIGN_INDEX_KEY, variable_key
        from tenant_replicator_airflow.notifiers.slack import run_url, send_slack

        campaigns = Variable.get(CAMPAIGN_INDEX_KEY, default=[], deserialize_json=True)
        states = [Variable.get(variable_key(c), default=None, deserialize_json=True) for c in campaigns]
        previous = Variable.get(DIGESTS_KEY, default={}, deserialize_json=True)
        changed, digests = status.to_report([s for s in states if s], previous, bool(context["params"]["heartbeat"]))
        if changed:
            send_slack(context["params"]["slack_conn_id"], notify.status_message(changed, run_url(context)))
        Variable.set(DIGESTS_KEY, digests, serialize_json=True)
        return {"campaigns": len(campaigns), "sent": [s["campaign_id"] for s in changed]}

    report_status()
