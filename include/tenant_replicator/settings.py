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
# ARM hosts of the Azure clouds: never the simulator
AZURE_HOST_SUFFIXES = (".azure.com", ".usgovcloudapi.net", ".chinacloudapi.cn", ".azure.us", ".azure.cn")


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
    simulator: bool = False

    @property
    def simulator_mode(self) -> bool:
        """Loopback ARM endpoints are our simulator: they take a fixed token, never real credentials.

        `TENANT_REPLICATOR_SIMULATOR=true` says so for a named host too (the compose file's `simulator`
        service); it is refused for Azure's own endpoints, so it can never send the fixed token there.
        """
        host = urlparse(self.arm_endpoint).hostname or ""
        return self.simulator or host in {"127.0.0.1", "localhost", "::1"}


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
    simulator = _flag(env.get("TENANT_REPLICATOR_SIMULATOR"), "TENANT_REPLICATOR_SIMULATOR")
    if simulator and (parsed.hostname or "").endswith(AZURE_HOST_SUFFIXES):
        raise ConfigurationError(
            f"TENANT_REPLICATOR_SIMULATOR=true with TENANT_REPLICATOR_ARM_ENDPOINT={endpoint!r}: that is Azure, "
            "not the simulator"
        )
    return Settings(
        arm_endpoint=endpoint,
        arm_ca_file=ca_file,
        graph_uri=env.get("TENANT_REPLICATOR_GRAPH_URI", "falkordb://127.0.0.1:6379"),
        graph_name=env.get("TENANT_REPLICATOR_GRAPH_NAME", "tenant_replicator"),
        home=home,
        azure_conn_id=(env.get("TENANT_REPLICATOR_AZURE_CONN_ID") or "").strip() or None,
        azure_authority_host=authority,
        simulator=simulator,
    )


def _flag(value: str | None, name: str) -> bool:
    text = (value or "").strip().lower()
    if text in {"", "0", "false", "no", "off"}:
        return False
    if text in {"1", "true", "yes", "on"}:
        return True
    raise ConfigurationError(f"{name}={value!r} is not a boolean (true/false)")
