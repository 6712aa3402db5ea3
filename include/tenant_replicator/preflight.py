"""Checks that run before an iteration touches anything: each failure names what is missing.

Terraform, the graph and ARM are checked up front so that a bad environment fails the first
task with one clear message instead of a half-done iteration.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request

from tenant_replicator.settings import Settings


class PreflightError(RuntimeError):
    """The environment cannot run an iteration; the message says what to fix."""


def check_terraform(binary: str = "terraform") -> str:
    from tenant_replicator.terraform.runner import TerraformError, find_binary

    try:
        return find_binary(binary)
    except TerraformError as error:
        raise PreflightError(str(error)) from error


def check_graph(settings: Settings) -> None:
    from tenant_replicator.graph.store import GraphUnavailable, open_graph

    try:
        open_graph(settings.graph_uri, settings.graph_name).close()
    except GraphUnavailable as error:
        raise PreflightError(f"graph not reachable (TENANT_REPLICATOR_GRAPH_URI): {error}") from error


def check_arm(settings: Settings, timeout: float = 10.0) -> None:
    """ARM answers TLS at the endpoint (any HTTP status is an answer; no credentials are sent)."""
    context = ssl.create_default_context(cafile=settings.arm_ca_file) if settings.arm_ca_file else None
    try:
        urllib.request.urlopen(
            f"{settings.arm_endpoint}/subscriptions?api-version=2022-12-01", timeout=timeout, context=context
        )
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise PreflightError(
            f"ARM endpoint {settings.arm_endpoint} not reachable (TENANT_REPLICATOR_ARM_ENDPOINT): {reason}"
        ) from error


def check_credentials(settings: Settings) -> None:
    """The configured credential source resolves (a named Airflow connection exists and is readable).

    Nothing is sent anywhere; the error names the connection setting, never a secret.
    """
    from tenant_replicator.arm.credentials import CredentialError, resolve_source

    try:
        resolve_source(settings)
    except CredentialError as error:
        raise PreflightError(str(error)) from error


def preflight(settings: Settings) -> None:
    check_terraform()
    check_credentials(settings)
    check_graph(settings)
    check_arm(settings)
