"""Airflow provider entry point: lets Airflow list our operators, sensor, notifier and connection type."""

from __future__ import annotations


def get_provider_info() -> dict:
    return {
        "package-name": "tenant-replicator",
        "name": "Tenant Replicator",
        "description": "Replicates an Azure subscription into another until the copy is faithful.",
        "versions": ["0.1.0"],
        "integrations": [
            {
                "integration-name": "Tenant Replicator",
                "external-doc-url": "https://learn.microsoft.com/azure/azure-resource-manager/",
                "tags": ["azure"],
            }
        ],
        "operators": [
            {
                "integration-name": "Tenant Replicator",
                "python-modules": ["tenant_replicator_airflow.operators.terraform_apply"],
            }
        ],
        "sensors": [
            {
                "integration-name": "Tenant Replicator",
                "python-modules": ["tenant_replicator_airflow.sensors.fidelity"],
            }
        ],
        "notifications": ["tenant_replicator_airflow.notifiers.slack.TaskFailureSlackNotifier"],
        "connection-types": [],
    }
