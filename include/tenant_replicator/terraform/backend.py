"""The azurerm state backend, configured from an Airflow connection; secrets only in the environment.

Why: on more than one worker (or with stacks applied in parallel) a campaign's state must live in
Azure Storage with blob-lease locking, not on one machine's disk. ``backend.tf.json`` carries only
where the state is (account, container, key, ...); credentials (client secret, access key, SAS,
OIDC token) travel as ``ARM_*`` environment variables to terraform and are never written to files
or logged. Pure functions over plain values: the operator reads the connection, this builds.

Connection (any conn_type; ``azure`` fits): ``login`` = client ID, ``password`` = client secret,
extras ``storage_account_name``, ``container_name``, ``key`` (default given by the caller),
``resource_group_name``, ``subscription_id``, ``tenant_id``, ``access_key``, ``sas_token``,
``use_azuread_auth`` (default true), ``use_msi``, ``use_oidc``, ``environment``, ``snapshot``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

BACKEND_FILE = "backend.tf.json"
_LOCATION_KEYS = (
    "storage_account_name",
    "container_name",
    "key",
    "resource_group_name",
    "subscription_id",
    "tenant_id",
    "environment",
)
_FLAG_KEYS = ("use_azuread_auth", "use_msi", "use_oidc", "snapshot")
# extra key -> environment variable read by the azurerm backend (secrets: env only)
_SECRET_ENV = {"access_key": "ARM_ACCESS_KEY", "sas_token": "ARM_SAS_TOKEN", "oidc_token": "ARM_OIDC_TOKEN"}


class BackendConfigError(ValueError):
    """The backend connection lacks what the azurerm backend needs."""


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("1", "true", "yes", "on")


def azurerm_backend(extra: dict[str, Any], default_key: str) -> dict[str, Any]:
    """``backend.tf.json`` content: location and auth mode only, never a credential."""
    settings: dict[str, Any] = {"key": default_key}
    settings.update({k: str(extra[k]) for k in _LOCATION_KEYS if extra.get(k) not in (None, "")})
    missing = [k for k in ("storage_account_name", "container_name", "key") if not settings.get(k)]
    if missing:
        raise BackendConfigError(f"azurerm backend connection lacks {', '.join(missing)}")
    uses_key = bool(extra.get("access_key") or extra.get("sas_token"))
    flags = {"use_azuread_auth": not uses_key} | {k: _flag(extra[k]) for k in _FLAG_KEYS if k in extra}
    settings.update({k: v for k, v in flags.items() if v})
    return {"terraform": {"backend": {"azurerm": settings}}}


def azurerm_env(login: str | None, password: str | None, extra: dict[str, Any]) -> dict[str, str]:
    """``ARM_*`` variables for terraform's azurerm backend (and azapi): the credentials go here."""
    env = {}
    if login:
        env["ARM_CLIENT_ID"] = str(login)
    if password:
        env["ARM_CLIENT_SECRET"] = str(password)
    if extra.get("tenant_id"):
        env["ARM_TENANT_ID"] = str(extra["tenant_id"])
    if extra.get("subscription_id"):
        env["ARM_SUBSCRIPTION_ID"] = str(extra["subscription_id"])
    for key, var in _SECRET_ENV.items():
        if extra.get(key):
            env[var] = str(extra[key])
    for key, var in (("use_msi", "ARM_USE_MSI"), ("use_oidc", "ARM_USE_OIDC")):
        if key in extra and _flag(extra[key]):
            env[var] = "true"
    return env


def write_backend(workdir: Path, config: dict[str, Any]) -> Path:
    """Write ``backend.tf.json`` (0600) next to the generated config; returns its path."""
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    for secret in _SECRET_ENV:  # belt and braces: the builder never puts one in
        if secret in config.get("terraform", {}).get("backend", {}).get("azurerm", {}):
            raise BackendConfigError(f"refusing to write {secret} into {BACKEND_FILE}")
    path = Path(workdir) / BACKEND_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    return path


def is_remote(workdir: Path) -> bool:
    """True when the working directory declares a backend of ours (state not in a local file)."""
    return (Path(workdir) / BACKEND_FILE).exists()


def configure_azurerm(
    workdir: Path, login: str | None, password: str | None, extra: dict[str, Any], default_key: str
) -> dict[str, str]:
    """Write ``backend.tf.json`` from a connection's fields; returns the env carrying its credentials."""
    write_backend(workdir, azurerm_backend(extra, default_key))
    return azurerm_env(login, password, extra)
