"""ARM clients built from Settings: real Azure credentials, or a fixed token for the loopback simulator.

The simulator accepts any bearer token but azure-core refuses tokens over plain HTTP, so the
simulator serves TLS with a project CA that we pass as `connection_verify`.
"""

from __future__ import annotations

import time
from typing import Any

from azure.core.credentials import AccessToken, AccessTokenInfo
from azure.mgmt.resource.resources import ResourceManagementClient

from tenant_replicator.settings import Settings

_FAR_FUTURE_S = 10 * 365 * 24 * 3600


class SimulatorCredential:
    """A TokenCredential with a constant token: only ever sent to a loopback simulator."""

    token = "simulator"  # noqa: S105 - not a secret; the simulator accepts any bearer token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + _FAR_FUTURE_S)

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        return AccessTokenInfo(self.token, int(time.time()) + _FAR_FUTURE_S)

    def close(self) -> None:
        """Nothing to release; present so the client can close its credential."""

    def __enter__(self) -> SimulatorCredential:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def credential_for(settings: Settings) -> Any:
    """The credential for `settings`: the simulator's fixed token on loopback, else azure-identity."""
    if settings.simulator_mode:
        return SimulatorCredential()
    from azure.identity import DefaultAzureCredential  # imported lazily: heavy, and unused offline

    return DefaultAzureCredential()


def client_kwargs(settings: Settings, **overrides: Any) -> dict[str, Any]:
    """Pipeline options shared by every ARM client (TLS trust for the simulator, retry tuning)."""
    kwargs: dict[str, Any] = {"base_url": settings.arm_endpoint}
    if settings.arm_ca_file:
        kwargs["connection_verify"] = settings.arm_ca_file
    kwargs.update(overrides)
    return kwargs


def resource_client(settings: Settings, subscription_id: str, **overrides: Any) -> ResourceManagementClient:
    """A ResourceManagementClient for one subscription.

    `overrides` go to azure-core (e.g. `retry_total=2, retry_backoff_factor=0.1` in tests). Its
    default RetryPolicy already retries 408/429/5xx and connection errors, honouring Retry-After.
    """
    return ResourceManagementClient(credential_for(settings), subscription_id, **client_kwargs(settings, **overrides))
