"""Settings: defaults, the Azure identity settings added for real-Azure mode, refusals naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from tenant_replicator.settings import ConfigurationError, Settings, load_settings


def test_defaults_point_at_azure_and_the_embedded_graph(tmp_path: Path) -> None:
    settings = load_settings({"TENANT_REPLICATOR_HOME": str(tmp_path)})
    assert settings.arm_endpoint == "https://management.azure.com" and not settings.simulator_mode
    assert settings.graph_uri == "falkordb://127.0.0.1:6379" and settings.graph_name == "tenant_replicator"
    assert settings.home == tmp_path and settings.arm_ca_file is None
    assert settings.azure_conn_id is None and settings.azure_authority_host is None


def test_azure_identity_settings(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "TENANT_REPLICATOR_HOME": str(tmp_path),
            "TENANT_REPLICATOR_AZURE_CONN_ID": " azure_default ",
            "TENANT_REPLICATOR_AZURE_AUTHORITY_HOST": "https://login.microsoftonline.us/",
        }
    )
    assert settings.azure_conn_id == "azure_default"
    assert settings.azure_authority_host == "https://login.microsoftonline.us"
    assert load_settings({"TENANT_REPLICATOR_AZURE_CONN_ID": ""}).azure_conn_id is None


def test_positional_construction_still_works(tmp_path: Path) -> None:
    """Fields were added with defaults only: older callers building Settings positionally keep working."""
    settings = Settings("https://127.0.0.1:1", None, "falkordb://127.0.0.1:1", "g", tmp_path)
    assert settings.simulator_mode and settings.azure_conn_id is None


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"TENANT_REPLICATOR_ARM_ENDPOINT": "http://management.azure.com"}, "TENANT_REPLICATOR_ARM_ENDPOINT"),
        ({"TENANT_REPLICATOR_ARM_CA_FILE": "/nonexistent/ca.pem"}, "TENANT_REPLICATOR_ARM_CA_FILE"),
        ({"TENANT_REPLICATOR_AZURE_AUTHORITY_HOST": "http://login.example"}, "TENANT_REPLICATOR_AZURE_AUTHORITY_HOST"),
    ],
)
def test_bad_values_are_refused_by_name(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        load_settings(env)


def test_simulator_flag_for_a_named_host(tmp_path: Path) -> None:
    """The compose file's simulator is `https://simulator:8443`: not loopback, so it is said explicitly."""
    named = {"TENANT_REPLICATOR_ARM_ENDPOINT": "https://simulator:8443", "TENANT_REPLICATOR_HOME": str(tmp_path)}
    assert not load_settings(named).simulator_mode
    assert load_settings({**named, "TENANT_REPLICATOR_SIMULATOR": "true"}).simulator_mode
    assert load_settings({"TENANT_REPLICATOR_ARM_ENDPOINT": "https://127.0.0.1:9"}).simulator_mode
    with pytest.raises(ConfigurationError, match="TENANT_REPLICATOR_SIMULATOR"):
        load_settings({**named, "TENANT_REPLICATOR_SIMULATOR": "maybe"})
    # never for Azure's own endpoint: the fixed token must not go there
    with pytest.raises(ConfigurationError, match="that is Azure"):
        load_settings({"TENANT_REPLICATOR_SIMULATOR": "1"})
