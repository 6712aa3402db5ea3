"""The type registry folds case everywhere and never returns 'unknown' for an ARM type."""

from __future__ import annotations

import pytest

from tenant_replicator.iac import registry
from tenant_replicator.iac.naming import fits_rule, global_name, label_for, nonce_token


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("microsoft.insights/dataCollectionRules", "Microsoft.Insights/dataCollectionRules"),
        ("MICROSOFT.NETWORK/VIRTUALNETWORKS", "Microsoft.Network/virtualNetworks"),
        ("Microsoft.Network/virtualNetworks/SUBNETS", "Microsoft.Network/virtualNetworks/subnets"),
        ("microsoft.keyvault/vaults", "Microsoft.KeyVault/vaults"),
        ("microsoft.web/serverFarms", "Microsoft.Web/serverfarms"),
        ("microsoft.resources/resourcegroups", "Microsoft.Resources/resourceGroups"),
        (" /Microsoft.Storage/storageaccounts/ ", "Microsoft.Storage/storageAccounts"),
    ],
)
def test_lookup_is_case_insensitive(given: str, canonical: str) -> None:
    info = registry.lookup(given)
    assert info.canonical == canonical
    assert info.known
    assert registry.canonical_type(given) == canonical


def test_unknown_type_gets_conservative_default_with_namespace_casing_fixed() -> None:
    info = registry.lookup("microsoft.network/someFutureThings")
    assert info.canonical == "Microsoft.Network/someFutureThings"
    assert not info.known
    assert info.skip_reason is None and not info.globally_unique and info.read_only == ()
    # a namespace the registry has never heard of is kept as written
    assert registry.canonical_type("contoso.widgets/gadgets") == "contoso.widgets/gadgets"


def test_required_coverage() -> None:
    required = [
        "Microsoft.Resources/resourceGroups",
        "Microsoft.Network/virtualNetworks",
        "Microsoft.Network/virtualNetworks/subnets",
        "Microsoft.Network/networkSecurityGroups",
        "Microsoft.Network/publicIPAddresses",
        "Microsoft.Network/networkInterfaces",
        "Microsoft.Network/routeTables",
        "Microsoft.Network/privateDnsZones",
        "Microsoft.Compute/disks",
        "Microsoft.Compute/virtualMachines",
        "Microsoft.Storage/storageAccounts",
        "Microsoft.KeyVault/vaults",
        "Microsoft.OperationalInsights/workspaces",
        "Microsoft.Insights/dataCollectionRules",
        "Microsoft.Insights/actionGroups",
        "Microsoft.Web/serverfarms",
        "Microsoft.Web/sites",
        "Microsoft.ManagedIdentity/userAssignedIdentities",
        "Microsoft.ContainerRegistry/registries",
        "Microsoft.DocumentDB/databaseAccounts",
        "Microsoft.Sql/servers",
    ]
    known = set(registry.known_types())
    assert set(required) <= known
    for arm_type in required:
        assert registry.lookup(arm_type).default_api_version


def test_global_uniqueness_and_skips_are_registry_facts() -> None:
    for arm_type in (
        "Microsoft.Storage/storageAccounts",
        "microsoft.keyvault/VAULTS",
        "Microsoft.ContainerRegistry/registries",
        "Microsoft.Web/sites",
        "Microsoft.DocumentDB/databaseAccounts",
        "Microsoft.Sql/servers",
    ):
        info = registry.lookup(arm_type)
        assert info.globally_unique and info.name_rule is not None, arm_type
    assert not registry.lookup("Microsoft.Network/virtualNetworks").globally_unique
    assert registry.lookup("microsoft.network/networkwatchers").skip_reason
    assert registry.lookup("Microsoft.Network/virtualNetworks").inline_children == (
        "subnets",
        "virtualNetworkPeerings",
    )


@pytest.mark.parametrize(
    ("source_name", "rule"),
    [
        ("stcontosoprod001", registry.STORAGE_NAME),
        ("st_Contoso-Prod.Logs.Archive.0001", registry.STORAGE_NAME),
        ("kv-contoso-prod", registry.KEY_VAULT_NAME),
        ("1-kv--weird_name-", registry.KEY_VAULT_NAME),
        ("acr", registry.REGISTRY_NAME),
        ("ContosoRegistryWithAVeryLongNameThatKeepsGoingAndGoing", registry.REGISTRY_NAME),
        ("app-contoso-web", registry.SITE_NAME),
        ("cosmos-contoso", registry.COSMOS_NAME),
        ("SQL_Contoso", registry.SQL_SERVER_NAME),
        ("x", registry.STORAGE_NAME),
    ],
)
def test_global_names_fit_rules_are_deterministic_and_depend_on_nonce(source_name: str, rule) -> None:
    first = global_name(source_name, "a1b2c3", rule)
    assert fits_rule(first, rule), first
    assert global_name(source_name, "a1b2c3", rule) == first
    other = global_name(source_name, "d4e5f6", rule)
    assert fits_rule(other, rule) and other != first


def test_storage_example_from_the_brief() -> None:
    name = global_name("stcontosoprod001", "a1b2c3", registry.STORAGE_NAME)
    assert name.startswith("stcontosoprod001") and name.endswith("a1b2c3") and len(name) <= 24


def test_long_names_sharing_a_prefix_stay_distinct() -> None:
    a = global_name("stcontosoproductionlogs0001", "a1b2c3", registry.STORAGE_NAME)
    b = global_name("stcontosoproductionlogs0002", "a1b2c3", registry.STORAGE_NAME)
    assert a != b and len(a) == len(b) == 24


def test_nonce_token_hashes_unusable_nonces() -> None:
    assert nonce_token("A1B2C3") == "a1b2c3"
    token = nonce_token("campaign 2026-11 / contoso!")
    assert token.isalnum() and len(token) == 6


def test_labels_are_valid_and_stable() -> None:
    label = label_for("Microsoft.Network/virtualNetworks", "vnet-hub.01", "/subscriptions/x/resourcegroups/r/v")
    assert label == label_for("Microsoft.Network/virtualNetworks", "vnet-hub.01", "/subscriptions/x/resourcegroups/r/v")
    assert label.startswith("virtualnetworks_vnet_hub_01_")
    assert label.replace("_", "").isalnum() and label[0].isalpha()
    assert label_for("Microsoft.Resources/resourceGroups", "9rg", "/s").startswith("rg_9rg_")
