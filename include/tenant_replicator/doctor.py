"""`tenant-replicator doctor`: is this environment able to run a campaign, and if not, what to do.

Each check is a small function returning a `Check` (never raising): terraform, the azapi provider
(the stand-in against the simulator, the real `azure/azapi` otherwise), the graph, the Slack
connection, and Azure access (identity, token, source readable, target writable). Nothing is
written anywhere: write access is judged from ARM's permissions list
(`Microsoft.Authorization/permissions`), never by trying a write. Secrets never appear in a result.
"""

from __future__ import annotations

import fnmatch
import json
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tenant_replicator.settings import Settings

OK, MISSING, WARN, SKIPPED, UNKNOWN = "OK", "MISSING", "WARN", "SKIPPED", "UNKNOWN"
DEFAULT_SLACK_CONN_ID = "tenant_replicator_slack"
PERMISSIONS_API = "2022-04-01"
SUBSCRIPTION_API = "2022-12-01"
# What the loop does in the target: create resource groups and resources (Contributor), and copy role
# assignments (User Access Administrator; Contributor's notActions exclude Microsoft.Authorization/*/Write).
TARGET_ACTIONS = {
    "Microsoft.Resources/subscriptions/resourceGroups/write": "Contributor",
    "Microsoft.Network/virtualNetworks/write": "Contributor",
    "Microsoft.Authorization/roleAssignments/write": "User Access Administrator",
}


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""
    required: bool = True

    @property
    def failed(self) -> bool:
        return self.required and self.status == MISSING


# -- pure helpers ------------------------------------------------------------------------------


def action_allowed(action: str, permissions: Iterable[dict[str, Any]]) -> bool:
    """ARM semantics: allowed when one permission entry's `actions` match and its `notActions` do not
    (wildcards, case-insensitive); entries are the caller's role assignments at that scope."""
    action = action.lower()
    for entry in permissions:
        allowed = any(fnmatch.fnmatchcase(action, pattern.lower()) for pattern in entry.get("actions", []))
        denied = any(fnmatch.fnmatchcase(action, pattern.lower()) for pattern in entry.get("notActions", []))
        if allowed and not denied:
            return True
    return False


def missing_target_roles(permissions: list[dict[str, Any]]) -> dict[str, str]:
    """Action -> the built-in role that grants it, for each action the permissions do not allow."""
    return {action: role for action, role in TARGET_ACTIONS.items() if not action_allowed(action, permissions)}


def token_subject(token: str) -> str:
    """Who a JWT access token is for (appid/oid, tenant), for display; '' for opaque tokens."""
    import base64

    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return ""
    who = claims.get("appid") or claims.get("oid") or claims.get("upn") or "?"
    return f"{who} in tenant {claims.get('tid', '?')}"


def exit_code(checks: list[Check]) -> int:
    return 1 if any(c.failed for c in checks) else 0


def as_json(checks: list[Check]) -> dict[str, Any]:
    return {"ok": exit_code(checks) == 0, "checks": [asdict(c) | {"failed": c.failed} for c in checks]}


def table(checks: list[Check]) -> str:
    """Plain-text table: CHECK, STATUS, DETAIL, then the fix under each failing row."""
    width = max(len(c.name) for c in checks)
    lines = [f"{'CHECK'.ljust(width)}  STATUS   DETAIL"]
    for check in checks:
        optional = "(optional) " if not check.required and check.status == MISSING else ""
        lines.append(f"{check.name.ljust(width)}  {check.status.ljust(7)}  {optional}{check.detail}")
        if check.fix and check.status != OK:
            lines.append(f"{''.ljust(width)}  {'':7}  -> {check.fix}")
    verdict = "ready" if exit_code(checks) == 0 else "NOT ready: fix the MISSING rows above"
    return "\n".join(lines + ["", f"tenant-replicator doctor: {verdict}"])


# -- checks ------------------------------------------------------------------------------------


def check_terraform(binary: str = "terraform") -> tuple[Check, Any]:
    """Present and >= 1.5 (import blocks); returns the runner for the provider check."""
    from tenant_replicator.terraform.runner import MIN_VERSION, Terraform, TerraformError

    fix = "install Terraform 1.11.x (https://developer.hashicorp.com/terraform/install) or use the Docker image"
    try:
        tf = Terraform(tempfile.gettempdir(), binary=binary)
        version = tf.require_version(MIN_VERSION)
    except TerraformError as error:
        return Check("terraform", MISSING, str(error).split(";")[0], fix), None
    return Check("terraform", OK, f"Terraform {version} at {tf.binary}"), tf


def check_provider(settings: Settings, binary: str = "terraform", timeout: float = 120.0) -> Check:
    """Against the simulator: the stand-in validates an azapi_resource through real terraform.
    Against Azure: `terraform init` resolves the pinned `azure/azapi` (registry, mirror or plugin cache)."""
    from tenant_replicator.iac.generate import AZAPI_PROVIDER
    from tenant_replicator.terraform.runner import Terraform, TerraformError

    with tempfile.TemporaryDirectory(prefix="tr-doctor-") as tmp:
        work = Path(tmp) / "work"
        work.mkdir()
        config: dict[str, Any] = {"terraform": {"required_providers": {"azapi": dict(AZAPI_PROVIDER)}}}
        env: dict[str, str] = {}
        if settings.simulator_mode:
            from tenant_replicator.tfprovider.install import write_cli_config

            env["TF_CLI_CONFIG_FILE"] = str(write_cli_config(Path(tmp) / "tfprovider"))
            config["resource"] = {
                "azapi_resource": {
                    "probe": {
                        "type": "Microsoft.Resources/resourceGroups@2021-04-01",
                        "name": "doctor-probe",
                        "parent_id": "/subscriptions/00000000-0000-0000-0000-000000000000",
                        "location": "westeurope",
                    }
                }
            }
        (work / "main.tf.json").write_text(json.dumps(config))
        try:
            tf = Terraform(work, env=env, binary=binary)
            if settings.simulator_mode:
                tf.validate(timeout=timeout)
                return Check("azapi provider", OK, "stand-in azapi provider (dev_overrides) validates azapi_resource")
            tf.init(backend=False, timeout=timeout)
        except TerraformError as error:
            if settings.simulator_mode:
                fix = (
                    "reinstall the project (`make install`): the stand-in runs `python -m tenant_replicator.tfprovider`"
                )
            else:
                fix = (
                    "let terraform reach registry.terraform.io, or configure a provider mirror / plugin cache "
                    "holding azure/azapi 2.x (TF_CLI_CONFIG_FILE provider_installation, TF_PLUGIN_CACHE_DIR)"
                )
            return Check("azapi provider", MISSING, _terraform_error(error), fix)
        lock = work / ".terraform.lock.hcl"
        version = _locked_version(lock.read_text()) if lock.is_file() else "?"
        return Check("azapi provider", OK, f"azure/azapi {version} resolvable ({AZAPI_PROVIDER['version']})")


def check_graph(settings: Settings) -> Check:
    from tenant_replicator.graph.store import GraphUnavailable, open_graph, redact

    try:
        open_graph(settings.graph_uri, settings.graph_name).close()
    except GraphUnavailable as error:
        return Check(
            "graph",
            MISSING,
            _first_line(str(error)),
            "start Neo4j or FalkorDB and set TENANT_REPLICATOR_GRAPH_URI (bolt://user:password@host:7687)",
        )
    return Check("graph", OK, f"{redact(settings.graph_uri)} answers (graph {settings.graph_name!r})")


def check_home(settings: Settings) -> Check:
    """Campaign data (terraform state: resource bodies, sometimes secrets) must be writable and private."""
    import os

    home = settings.home
    existing = next((p for p in (home, *home.parents) if p.exists()), None)
    if existing is None or not os.access(existing, os.W_OK | os.X_OK):
        return Check(
            "campaign home",
            MISSING,
            f"{home} is not writable",
            "mount a writable volume there (compose: campaign-home)",
        )
    if existing != home:
        return Check("campaign home", OK, f"{home} will be created (0700)")
    mode = home.stat().st_mode & 0o777
    if mode & 0o077:
        return Check(
            "campaign home",
            WARN,
            f"{home} is mode {mode:o}: terraform state is readable by others",
            f"chmod 700 {home}",
            required=False,
        )
    return Check("campaign home", OK, f"{home} (mode {mode:o})")


def check_slack(conn_id: str = DEFAULT_SLACK_CONN_ID, lookup: Callable[[str], Any] | None = None) -> Check:
    """Optional: without it alerts go to the task log only."""
    fix = (
        f"define Airflow connection {conn_id!r}: slackwebhook (password = webhook URL) or slack "
        "(password = bot token, extra channel); e.g. AIRFLOW_CONN_TENANT_REPLICATOR_SLACK in .env"
    )
    try:
        conn = (lookup or _airflow_connection)(conn_id)
    except Exception:  # not defined, or no secrets backend/DB reachable
        return Check("slack", MISSING, f"connection {conn_id!r} not defined: alerts are logged only", fix, False)
    kind = (conn.conn_type or "").lower()
    if kind not in ("slackwebhook", "slack"):
        return Check("slack", MISSING, f"connection {conn_id!r} has type {kind!r}", fix, False)
    if not (conn.password or conn.host):
        return Check("slack", MISSING, f"{kind} connection {conn_id!r} has no webhook URL / token", fix, False)
    return Check("slack", OK, f"{kind} connection {conn_id!r}", required=False)


def check_azure(settings: Settings, source_sub: str | None, target_sub: str | None) -> list[Check]:
    """Identity -> token -> source readable -> target writable (permissions list; nothing is written)."""
    from tenant_replicator.arm import credentials as cr

    try:
        source = cr.resolve_source(settings)
    except (cr.CredentialError, ValueError) as error:
        fix = "define the Azure connection named by TENANT_REPLICATOR_AZURE_CONN_ID (type azure) or unset it"
        return [Check("azure identity", MISSING, str(error), fix)]
    described = source.describe()
    who = f"{described['kind']} from {described['origin']}"
    if described["client_id"]:
        who += f" (client {described['client_id']})"
    checks = [Check("azure identity", OK, who)]
    try:
        credential = cr.build_credential(source, settings)
        token = credential.get_token(cr.arm_scope(settings))
    except Exception as error:  # ClientAuthenticationError, CredentialUnavailableError, ...
        fix = "check the client id / secret / tenant, the federated token file, or the managed identity"
        return [*checks, Check("azure token", MISSING, _first_line(str(error)), fix)]
    subject = token_subject(token.token)
    checks.append(Check("azure token", OK, f"token for {subject}" if subject else "token obtained"))
    checks.append(_check_source(settings, source_sub))
    checks.append(_check_target(settings, target_sub, source_sub))
    return checks


def _check_source(settings: Settings, subscription: str | None) -> Check:
    if not subscription:
        return Check("source readable", SKIPPED, "pass --source SUBSCRIPTION to check", required=False)
    from azure.core.exceptions import HttpResponseError

    from tenant_replicator.arm.client import resource_client

    try:
        client = resource_client(settings, subscription, retry_total=1)
        groups = sum(1 for _ in client.resource_groups.list())
    except HttpResponseError as error:
        return Check(
            "source readable",
            MISSING,
            f"{subscription}: {_arm_error(error)}",
            "grant the identity Reader on the source subscription",
        )
    return Check("source readable", OK, f"{subscription}: {groups} resource groups listed")


def _check_target(settings: Settings, subscription: str | None, source_sub: str | None) -> Check:
    if not subscription:
        return Check("target writable", SKIPPED, "pass --target SUBSCRIPTION to check", required=False)
    if source_sub and subscription.lower() == source_sub.lower():
        return Check("target writable", MISSING, "target is the source", "choose a different target subscription")
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest

    from tenant_replicator.arm.client import resource_client

    client = resource_client(settings, subscription, retry_total=1)
    base = f"{settings.arm_endpoint}/subscriptions/{subscription}"
    try:
        sub = client.send_request(HttpRequest("GET", f"{base}?api-version={SUBSCRIPTION_API}"))
        sub.raise_for_status()
        state = sub.json().get("state", "?")
        response = client.send_request(
            HttpRequest("GET", f"{base}/providers/Microsoft.Authorization/permissions?api-version={PERMISSIONS_API}")
        )
        response.raise_for_status()
        permissions = _paged_values(client, response.json())
    except HttpResponseError as error:
        if getattr(error, "status_code", None) in (400, 404) and "permissions" in str(error).lower():
            return Check(
                "target writable",
                UNKNOWN,
                f"{subscription}: the endpoint cannot list permissions ({_arm_error(error)})",
                "verify the roles by hand: Contributor + User Access Administrator on the target",
                required=False,
            )
        return Check(
            "target writable",
            MISSING,
            f"{subscription}: {_arm_error(error)}",
            "grant Contributor + User Access Administrator on the target subscription",
        )
    if state != "Enabled":
        return Check("target writable", MISSING, f"{subscription} is {state}", "use an Enabled subscription")
    missing = missing_target_roles(permissions)
    if missing:
        roles = sorted(set(missing.values()))
        detail = f"{subscription}: not allowed: {', '.join(sorted(missing))}"
        return Check("target writable", MISSING, detail, f"grant {' + '.join(roles)} on the target subscription")
    return Check("target writable", OK, f"{subscription}: Contributor + User Access Administrator actions allowed")


def run_checks(
    settings: Settings,
    *,
    source: str | None = None,
    target: str | None = None,
    slack_conn_id: str = DEFAULT_SLACK_CONN_ID,
    azure: bool = True,
    binary: str = "terraform",
) -> list[Check]:
    terraform, runner = check_terraform(binary)
    checks = [terraform]
    if runner is None:
        checks.append(Check("azapi provider", SKIPPED, "needs terraform", "install terraform first"))
    else:
        checks.append(check_provider(settings, binary))
    checks.append(check_graph(settings))
    checks.append(check_home(settings))
    checks.append(check_slack(slack_conn_id))
    if azure:
        checks.extend(check_azure(settings, source, target))
    else:
        checks.append(Check("azure", SKIPPED, "--no-azure", required=False))
    return checks


# -- small helpers -----------------------------------------------------------------------------


def _airflow_connection(conn_id: str) -> Any:
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(conn_id)


def _paged_values(client: Any, page: dict[str, Any]) -> list[dict[str, Any]]:
    from azure.core.rest import HttpRequest

    values = list(page.get("value", []))
    while page.get("nextLink"):
        response = client.send_request(HttpRequest("GET", page["nextLink"]))
        response.raise_for_status()
        page = response.json()
        values.extend(page.get("value", []))
    return values


def _arm_error(error: Any) -> str:
    code = getattr(getattr(error, "error", None), "code", None)
    status = getattr(error, "status_code", None)
    message = _first_line(getattr(getattr(error, "error", None), "message", None) or str(error))
    return f"{status} {code}: {message}" if code else f"{status}: {message}"


def _terraform_error(error: Any) -> str:
    """The diagnostic summaries, else the first lines of terraform's stderr without its box drawing."""
    summaries = [d.get("summary", "") for d in getattr(error, "diagnostics", []) if d.get("summary")]
    if summaries:
        return "; ".join(summaries[:2])[:300]
    lines = [line.strip(" \u2502\u2577\u2575") for line in (getattr(error, "stderr", "") or "").splitlines()]
    lines = [line for line in lines if line]
    errors = [i for i, line in enumerate(lines) if line.startswith("Error:")]
    lines = lines[errors[0] :] if errors else lines  # skip warnings printed before the error
    return " ".join(lines[:3])[:300] if lines else _first_line(str(error))


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return (lines[0] if lines else text)[:300]


def _locked_version(lock_text: str) -> str:
    import re

    match = re.search(r'provider "registry\.terraform\.io/azure/azapi" \{\s*version\s*=\s*"([^"]+)"', lock_text)
    return match[1] if match else "?"
