"""Where the library finds its endpoints: environment first, so tasks, CLI and tests agree.

Secrets never live here: credentials come from an Airflow `azure` connection named by
`TENANT_REPLICATOR_AZURE_CONN_ID` (service principal, workload or managed identity), else from
azure-identity's DefaultAzureCredential, or, in simulator mode, a fixed loopback token
(`arm/credentials.py`). Every variable is listed in `.env.example` and docs/DEPLOYMENT.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

PUBLIC_ARM_ENDPOINT = "https://management.azure.com"


class ConfigurationError(ValueError):
    """A setting is missing or malformed; the message names the setting."""


@dataclass(frozen=True)
class Settings:
    arm_endpoint: str
    arm_ca_file: str | None
    graph_uri: str
    graph_name: str
    home: Path
    # Fields below were added later: defaults keep positional construction working.
    azure_conn_id: str | None = None
    azure_authority_host: str | None = None

    @property
    def simulator_mode(self) -> bool:
        """Loopback ARM endpoints are our simulator: they take a fixed token, never real credentials."""
        host = urlparse(self.arm_endpoint).hostname or ""
        return host in {"127.0.0.1", "localhost", "::1"}


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    endpoint = env.get("TENANT_REPLICATOR_ARM_ENDPOINT", PUBLIC_ARM_ENDPOINT).rstrip("/")
    parsed = urlparse(endpoint)
    if parsed.scheme != "https" or not parsed.hostname:
        raise ConfigurationError(f"TENANT_REPLICATOR_ARM_ENDPOINT={endpoint!r} is not an https URL (ARM needs TLS)")
    ca_file = env.get("TENANT_REPLICATOR_ARM_CA_FILE") or None
    if ca_file and not Path(ca_file).is_file():
        raise ConfigurationError(f"TENANT_REPLICATOR_ARM_CA_FILE={ca_file!r} does not exist")
    home = Path(env.get("TENANT_REPLICATOR_HOME", Path.home() / ".tenant-replicator"))
    authority = (env.get("TENANT_REPLICATOR_AZURE_AUTHORITY_HOST") or "").strip().rstrip("/") or None
    if authority and urlparse(authority if "://" in authority else f"https://{authority}").scheme != "https":
        raise ConfigurationError(f"TENANT_REPLICATOR_AZURE_AUTHORITY_HOST={authority!r} must be an https host")
    return Settings(
        arm_endpoint=endpoint,
        arm_ca_file=ca_file,
        graph_uri=env.get("TENANT_REPLICATOR_GRAPH_URI", "falkordb://127.0.0.1:6379"),
        graph_name=env.get("TENANT_REPLICATOR_GRAPH_NAME", "tenant_replicator"),
        home=home,
        azure_conn_id=(env.get("TENANT_REPLICATOR_AZURE_CONN_ID") or "").strip() or None,
        azure_authority_host=authority,
    )
