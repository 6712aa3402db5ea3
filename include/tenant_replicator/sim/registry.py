"""The simulator's resource-provider registry: which types exist, with which api-versions and where.

This plays the part of ARM's provider registrations. It is deliberately separate from the
library's own type registry (`tenant_replicator.iac.registry`): the simulator is an oracle, and two
independent tables disagreeing is how casing and api-version bugs get caught.
"""

from __future__ import annotations

from dataclasses import dataclass, field

REGIONS = (
    "West Europe",
    "North Europe",
    "East US",
    "East US 2",
    "West US 2",
    "Central US",
    "UK South",
    "France Central",
    "Germany West Central",
    "Sweden Central",
    "Switzerland North",
)
GLOBAL = ("global",)

NETWORK_VERSIONS = (
    "2024-07-01-preview",
    "2024-05-01",
    "2024-03-01",
    "2024-01-01",
    "2023-11-01",
    "2023-09-01",
    "2023-06-01",
    "2023-04-01",
    "2022-07-01",
    "2021-08-01",
)
COMPUTE_VM_VERSIONS = ("2024-11-01", "2024-07-01", "2024-03-01", "2023-09-01", "2023-07-01", "2023-03-01")
COMPUTE_DISK_VERSIONS = ("2024-03-02", "2023-10-02", "2023-04-02", "2023-01-02", "2022-07-02")
STORAGE_VERSIONS = ("2024-01-01", "2023-05-01", "2023-04-01", "2023-01-01", "2022-09-01")
WEB_VERSIONS = ("2024-04-01", "2023-12-01", "2023-01-01", "2022-09-01", "2022-03-01")
INSIGHTS_DCR_VERSIONS = ("2024-03-11", "2023-03-11", "2022-06-01", "2021-09-01-preview", "2021-04-01")


@dataclass(frozen=True)
class TypeSpec:
    """One registered resource type (child types carry their full path, e.g. `virtualNetworks/subnets`)."""

    resource_type: str
    api_versions: tuple[str, ...]
    locations: tuple[str, ...] = REGIONS
    location_required: bool = True
    # The casing ARM returns in `type`; real ARM is inconsistent for a few types (e.g. DCRs).
    returned_type: str | None = None
    # Globally unique names: (http status, ARM error code, message template with {name}).
    global_name_conflict: tuple[int, str, str] | None = None
    # Child collections ARM also returns inline in the parent's `properties`.
    inline_children: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class ProviderSpec:
    namespace: str
    types: tuple[TypeSpec, ...]


def _t(resource_type: str, versions: tuple[str, ...], **kwargs: object) -> TypeSpec:
    return TypeSpec(resource_type, versions, **kwargs)  # type: ignore[arg-type]


PROVIDERS: tuple[ProviderSpec, ...] = (
    ProviderSpec(
        "Microsoft.Resources",
        (
            _t("resourceGroups", ("2025-04-01", "2024-11-01", "2024-03-01", "2022-09-01", "2021-04-01")),
            _t(
                "subscriptions",
                ("2022-12-01", "2021-01-01", "2020-01-01"),
                locations=(),
                location_required=False,
            ),
            _t(
                "deployments",
                ("2025-04-01", "2024-03-01", "2022-09-01"),
                locations=(),
                location_required=False,
            ),
        ),
    ),
    ProviderSpec(
        "Microsoft.Network",
        (
            _t("virtualNetworks", NETWORK_VERSIONS, inline_children=("subnets",)),
            _t("virtualNetworks/subnets", NETWORK_VERSIONS, locations=(), location_required=False),
            _t(
                "virtualNetworks/virtualNetworkPeerings",
                NETWORK_VERSIONS,
                locations=(),
                location_required=False,
            ),
            _t("networkSecurityGroups", NETWORK_VERSIONS, inline_children=("securityRules",)),
            _t("networkSecurityGroups/securityRules", NETWORK_VERSIONS, locations=(), location_required=False),
            _t("publicIPAddresses", NETWORK_VERSIONS),
            _t("networkInterfaces", NETWORK_VERSIONS),
            _t("routeTables", NETWORK_VERSIONS, inline_children=("routes",)),
            _t("routeTables/routes", NETWORK_VERSIONS, locations=(), location_required=False),
            _t("loadBalancers", NETWORK_VERSIONS),
            _t("natGateways", NETWORK_VERSIONS),
            _t("privateEndpoints", NETWORK_VERSIONS),
            _t("bastionHosts", NETWORK_VERSIONS),
            _t("applicationGateways", NETWORK_VERSIONS),
            _t("privateDnsZones", ("2024-06-01", "2020-06-01", "2018-09-01"), locations=GLOBAL),
            _t(
                "privateDnsZones/virtualNetworkLinks",
                ("2024-06-01", "2020-06-01", "2018-09-01"),
                locations=GLOBAL,
            ),
            _t("dnsZones", ("2023-07-01-preview", "2018-05-01"), locations=GLOBAL),
            _t("networkWatchers", NETWORK_VERSIONS),
        ),
    ),
    ProviderSpec(
        "Microsoft.Compute",
        (
            _t("virtualMachines", COMPUTE_VM_VERSIONS),
            _t("virtualMachines/extensions", COMPUTE_VM_VERSIONS),
            _t("virtualMachineScaleSets", COMPUTE_VM_VERSIONS),
            _t("availabilitySets", COMPUTE_VM_VERSIONS),
            _t("sshPublicKeys", COMPUTE_VM_VERSIONS),
            _t("disks", COMPUTE_DISK_VERSIONS),
            _t("snapshots", COMPUTE_DISK_VERSIONS),
        ),
    ),
    ProviderSpec(
        "Microsoft.Storage",
        (
            _t(
                "storageAccounts",
                STORAGE_VERSIONS,
                global_name_conflict=(
                    409,
                    "StorageAccountAlreadyTaken",
                    "The storage account named {name} is already taken.",
                ),
            ),
            _t("storageAccounts/blobServices", STORAGE_VERSIONS, locations=(), location_required=False),
            _t(
                "storageAccounts/blobServices/containers",
                STORAGE_VERSIONS,
                locations=(),
                location_required=False,
            ),
        ),
    ),
    ProviderSpec(
        "Microsoft.KeyVault",
        (
            _t(
                "vaults",
                ("2024-11-01", "2023-07-01", "2023-02-01", "2022-07-01", "2024-04-01-preview"),
                global_name_conflict=(
                    409,
                    "VaultAlreadyExists",
                    "The vault name '{name}' is already in use. Vault names are globally unique so it is "
                    "possible that the name is already taken.",
                ),
            ),
        ),
    ),
    ProviderSpec(
        "Microsoft.OperationalInsights",
        (_t("workspaces", ("2023-09-01", "2022-10-01", "2021-06-01", "2020-08-01", "2025-02-01")),),
    ),
    ProviderSpec(
        "Microsoft.Insights",
        (
            _t(
                "dataCollectionRules",
                INSIGHTS_DCR_VERSIONS,
                returned_type="microsoft.insights/dataCollectionRules",
            ),
            _t("dataCollectionEndpoints", INSIGHTS_DCR_VERSIONS),
            _t(
                "actionGroups",
                ("2024-10-01-preview", "2023-09-01-preview", "2023-01-01", "2022-06-01", "2021-09-01"),
                locations=("global", *REGIONS),
            ),
            _t("metricAlerts", ("2024-03-01-preview", "2018-03-01"), locations=("global", *REGIONS)),
            _t("components", ("2020-02-02", "2015-05-01")),
            _t("scheduledQueryRules", ("2023-12-01", "2023-03-15-preview", "2021-08-01")),
            _t(
                "diagnosticSettings",
                ("2021-05-01-preview", "2017-05-01-preview"),
                locations=(),
                location_required=False,
            ),
        ),
    ),
    ProviderSpec(
        "Microsoft.Web",
        (
            _t("serverFarms", WEB_VERSIONS),
            _t(
                "sites",
                WEB_VERSIONS,
                global_name_conflict=(409, "Conflict", "Website with given name {name} already exists."),
            ),
            _t("sites/config", WEB_VERSIONS, locations=(), location_required=False),
            _t("sites/slots", WEB_VERSIONS),
        ),
    ),
    ProviderSpec(
        "Microsoft.ManagedIdentity",
        (_t("userAssignedIdentities", ("2024-11-30", "2023-07-31-preview", "2023-01-31", "2018-11-30")),),
    ),
    ProviderSpec(
        "Microsoft.ContainerRegistry",
        (
            _t(
                "registries",
                ("2023-11-01-preview", "2023-07-01", "2023-01-01-preview", "2022-12-01", "2019-05-01"),
                global_name_conflict=(400, "AlreadyInUse", "The registry {name} is already in use."),
            ),
        ),
    ),
    ProviderSpec(
        "Microsoft.Sql",
        (
            _t("servers", ("2023-08-01", "2023-08-01-preview", "2021-11-01")),
            _t("servers/databases", ("2023-08-01", "2023-08-01-preview", "2021-11-01")),
            _t("servers/firewallRules", ("2023-08-01", "2021-11-01"), locations=(), location_required=False),
        ),
    ),
    ProviderSpec(
        "Microsoft.DocumentDB",
        (_t("databaseAccounts", ("2024-11-15", "2024-05-15", "2023-11-15", "2021-10-15")),),
    ),
    ProviderSpec(
        "Microsoft.ServiceBus",
        (
            _t("namespaces", ("2024-01-01", "2022-10-01-preview", "2021-11-01")),
            _t(
                "namespaces/queues",
                ("2024-01-01", "2022-10-01-preview", "2021-11-01"),
                locations=(),
                location_required=False,
            ),
        ),
    ),
    ProviderSpec("Microsoft.EventHub", (_t("namespaces", ("2024-01-01", "2022-10-01-preview", "2021-11-01")),)),
    ProviderSpec(
        "Microsoft.Authorization",
        (
            _t(
                "roleAssignments",
                ("2022-04-01", "2020-10-01-preview", "2020-04-01-preview", "2018-09-01-preview", "2015-07-01"),
                locations=(),
                location_required=False,
            ),
            _t(
                "roleDefinitions",
                ("2022-04-01", "2018-01-01-preview", "2015-07-01"),
                locations=(),
                location_required=False,
            ),
            _t("locks", ("2020-05-01", "2016-09-01"), locations=(), location_required=False),
        ),
    ),
    ProviderSpec("Microsoft.Cache", (_t("redis", ("2024-11-01", "2024-03-01", "2023-08-01")),)),
    ProviderSpec("Microsoft.ContainerService", (_t("managedClusters", ("2024-09-01", "2024-05-01", "2023-10-01")),)),
    ProviderSpec("Microsoft.Automation", (_t("automationAccounts", ("2023-11-01", "2022-08-08")),)),
    ProviderSpec("Microsoft.RecoveryServices", (_t("vaults", ("2024-04-01", "2023-06-01", "2023-01-01")),)),
)

_BY_NAMESPACE: dict[str, ProviderSpec] = {p.namespace.lower(): p for p in PROVIDERS}
_BY_TYPE: dict[str, tuple[ProviderSpec, TypeSpec]] = {
    f"{p.namespace}/{t.resource_type}".lower(): (p, t) for p in PROVIDERS for t in p.types
}


# Extension resources: they live on another resource's scope (`{scope}/providers/{ns}/{type}/{name}`)
# and never appear in `GET /resources` listings.
EXTENSION_TYPES = frozenset(
    {
        "microsoft.authorization/roleassignments",
        "microsoft.authorization/roledefinitions",
        "microsoft.authorization/locks",
        "microsoft.insights/diagnosticsettings",
    }
)


def is_extension_type(full_type: str) -> bool:
    return full_type.lower() in EXTENSION_TYPES


def find_provider(namespace: str) -> ProviderSpec | None:
    return _BY_NAMESPACE.get(namespace.lower())


def find_type(full_type: str) -> tuple[ProviderSpec, TypeSpec] | None:
    """Case-insensitive lookup of `Namespace/type[/childType...]`."""
    return _BY_TYPE.get(full_type.lower())


def canonical_type_segments(provider: ProviderSpec, spec: TypeSpec) -> list[str]:
    return spec.resource_type.split("/")


def returned_type(provider: ProviderSpec, spec: TypeSpec) -> str:
    return spec.returned_type or f"{provider.namespace}/{spec.resource_type}"


def normalize_location(location: str) -> str:
    """ARM stores `West Europe` as `westeurope`."""
    return location.replace(" ", "").lower()


def location_allowed(spec: TypeSpec, location: str) -> bool:
    if not spec.locations:
        return True
    return normalize_location(location) in {normalize_location(loc) for loc in spec.locations}


def provider_document(provider: ProviderSpec, subscription_id: str) -> dict:
    """The `Provider` shape of `GET /subscriptions/{s}/providers/{ns}`."""
    return {
        "id": f"/subscriptions/{subscription_id}/providers/{provider.namespace}",
        "namespace": provider.namespace,
        "registrationState": "Registered",
        "registrationPolicy": "RegistrationRequired",
        "resourceTypes": [
            {
                "resourceType": spec.resource_type,
                "locations": list(spec.locations),
                "apiVersions": list(spec.api_versions),
                "defaultApiVersion": _default_version(spec.api_versions),
                "capabilities": "None",
            }
            for spec in provider.types
        ],
    }


def _default_version(versions: tuple[str, ...]) -> str:
    stable = sorted(v for v in versions if "preview" not in v)
    return stable[-1] if stable else sorted(versions)[-1]
