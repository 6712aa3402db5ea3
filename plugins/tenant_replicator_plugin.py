"""Airflow plugin: the campaign page, mounted by the api-server and linked from the UI.

Loaded by every Airflow process that reads the plugins folder, so it stays cheap: the FastAPI
app is built on its first request (`LazyApp`), never at import.

- nav entry "Campaigns": the campaign list inside the UI (iframe under /plugin/...);
- a "Campaign" tab on each DAG run: the page of the campaign that run belongs to.
Hrefs are relative so they resolve against the UI's <base href> (works under a base_url sub-path).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from tenant_replicator_airflow.ui import URL_PREFIX, LazyApp

campaign_app = LazyApp("tenant_replicator_airflow.ui.app:create_airflow_app")
_PATH = URL_PREFIX.lstrip("/")


class TenantReplicatorPlugin(AirflowPlugin):
    name = "tenant_replicator"
    fastapi_apps = [{"app": campaign_app, "url_prefix": URL_PREFIX, "name": "Tenant Replicator"}]
    external_views = [
        {
            "name": "Campaigns",
            "href": f"{_PATH}/",
            "destination": "nav",
            "url_route": "tenant-replicator",
        },
        {
            "name": "Campaign",
            "href": f"{_PATH}/runs/{{DAG_ID}}/{{RUN_ID}}",
            "destination": "dag_run",
            "url_route": "tenant-replicator-campaign",
        },
    ]
