"""ARM clients built from Settings: the configured Azure identity, or a fixed token for the loopback simulator.

Which identity is `arm/credentials.py`'s job (Airflow `azure` connection, environment, managed or
workload identity, simulator). The simulator accepts any bearer token but azure-core refuses tokens
over plain HTTP, so the simulator serves TLS with a project CA that we pass as `connection_verify`.
"""

from __future__ import annotations

from typing import Any

from azure.mgmt.resource.resources import ResourceManagementClient

from tenant_replicator.arm.credentials import SimulatorCredential, build_credential, resolve_source
from tenant_replicator.settings import Settings

__all__ = ["SimulatorCredential", "client_kwargs", "credential_for", "resource_client"]


def credential_for(settings: Settings) -> Any:
    """The credential for `settings` (see `credentials.resolve_source` for the order)."""
    return build_credential(resolve_source(settings), settings)


def client_kwargs(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """Pipeline options shared by every ARM client (TLS trust for the simulator, retry tuning)."""
    kwargs: dict[str, Any] = {"base_url": settings.arm_endpoint}
    if settings.arm_ca_file:
        kwargs["connection_verify"] = settings.arm_ca_file
    if not settings.simulator_mode and settings.arm_endpoint != "https://management.azure.com":
        # sovereign clouds / Azure Stack: the token audience is the endpoint itself
        kwargs["credential_scopes"] = [f"{settings.arm_endpoint}/.default"]
    kwargs.update(overrides)
    return kwargs


def resource_client(settings: Settings, subscription_id: str, **overrides: Any) -> ResourceManagementClient:
    """A ResourceManagementClient for one subscription.

    `overrides` go to azure-core (e.g. `retry_total=2, retry_backoff_factor=0.1` in tests). Its
    default RetryPolicy already retries 408/429/5xx and connection errors, honouring Retry-After.
    """
    return ResourceManagementClient(credential_for(settings), subscription_id, **client_kwargs(settings, **overrides))
