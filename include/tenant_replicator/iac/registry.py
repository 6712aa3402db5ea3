"""The one case-insensitive ARM type registry: every type-specific rule of the generator lives here.

Why one place: the original emitter compared type strings case-sensitively in many spots and dropped
``microsoft.insights/dataCollectionRules`` as "unknown". Here every lookup folds case, and an unknown
type still gets a conservative ``TypeInfo`` so it is generated rather than dropped.

Source of truth for read-only fields: a curated table (below), written from the ``readOnly`` flags of
the Azure REST API specs (the same flags the azure-mgmt SDK models carry as ``_validation
{"readonly": True}`` and azapi's generated Bicep types carry as ReadOnly), checked against the
published GET examples of ``tests/data/arm_corpus``. A table rather than the SDKs at run time: the
SDKs are one package per service (hundreds of MB together) and lag new api-versions. Unknown types
get ``GENERIC_READ_ONLY`` only: fields that are read-only wherever ARM uses the name, so nothing
writable is ever dropped; a read-only field that slips through is sent and, at worst, ignored or
refused by ARM with a message naming it (never silently lost).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

FALLBACK_API_VERSION = "2021-04-01"


@dataclass(frozen=True)
class NameRule:
    """Azure naming constraints of a globally unique resource name (DNS-visible)."""

    min_len: int
    max_len: int
    lowercase: bool = True
    hyphens: bool = False  # '-' allowed (as separator, never first/last)
    start_letter: bool = False
    no_double_hyphen: bool = True


@dataclass(frozen=True)
class SecretSpec:
    """A property ARM requires on PUT but never returns on GET (a password, a secret value).

    Written as a sensitive Terraform variable when the payload has ``when`` (truthy) and not
    ``unless`` (truthy); ``kind`` picks how the campaign generates the value (``iac.secrets``).
    """

    path: str  # dotted path in the body; its parent object must exist (created only at the leaf)
    kind: str = "password"  # "password" (Azure complexity rules) or "key" (opaque random value)
    when: str | None = None  # dotted path that must be truthy in the payload
    unless: str | None = None  # dotted path that, when truthy, means no secret is needed


@dataclass(frozen=True)
class TypeInfo:
    """What the generator needs to know about one ARM resource type."""

    canonical: str
    default_api_version: str | None = None
    read_only: tuple[str, ...] = ()  # dotted paths; lists traversed implicitly, '*' any key, '**' any depth
    globally_unique: bool = False
    name_rule: NameRule | None = None
    skip_reason: str | None = None
    inline_children: tuple[str, ...] = ()  # child type segments kept inline in the parent's body
    unique_properties: tuple[str, ...] = ()  # dotted paths of DNS-visible values made unique by the nonce
    skip_when: tuple[tuple[str, str], ...] = ()  # (dotted path present -> skip reason)
    attachable: bool = False  # managedBy means "attached to" (disks), not "owned by the platform"
    body_transform: Callable[[dict[str, Any]], None] | None = field(default=None, compare=False)
    principal_paths: tuple[str, ...] = ()  # dotted paths of Entra object ids (need the principal map)
    secret_paths: tuple[SecretSpec, ...] = ()  # write-only properties: sensitive variables (iac.secrets)
    known: bool = False


# Read-only everywhere (conservative: safe for types we know nothing about).
GENERIC_READ_ONLY: tuple[str, ...] = (
    "properties.provisioningState",
    "properties.resourceGuid",
    "properties.uniqueId",
    "properties.creationTime",
    "properties.createdTime",
    "properties.timeCreated",
    "properties.creationDate",
    "properties.createdDate",
    "properties.lastModified*",
    "properties.createdAt",
    "properties.updatedAt",
    "properties.accessedAt",
    "properties.privateEndpointConnections",
    "properties.**.provisioningState",
    "properties.**.etag",
    "identity.principalId",
    "identity.tenantId",
    "identity.userAssignedIdentities.*.principalId",
    "identity.userAssignedIdentities.*.clientId",
)

# Top-level payload keys that make up an azapi body (location and tags are separate attributes).
BODY_KEYS: tuple[str, ...] = ("properties", "sku", "kind", "identity", "zones", "plan", "extendedLocation")

_NAMESPACES = (
    "Microsoft.AlertsManagement",
    "Microsoft.ApiManagement",
    "Microsoft.App",
    "Microsoft.AppConfiguration",
    "Microsoft.Authorization",
    "Microsoft.Automation",
    "Microsoft.Batch",
    "Microsoft.Cache",
    "Microsoft.Cdn",
    "Microsoft.CognitiveServices",
    "Microsoft.Compute",
    "Microsoft.ContainerInstance",
    "Microsoft.ContainerRegistry",
    "Microsoft.ContainerService",
    "Microsoft.Dashboard",
    "Microsoft.Databricks",
    "Microsoft.DataFactory",
    "Microsoft.DataProtection",
    "Microsoft.DBforMySQL",
    "Microsoft.DBforPostgreSQL",
    "Microsoft.Devices",
    "Microsoft.DocumentDB",
    "Microsoft.EventGrid",
    "Microsoft.EventHub",
    "Microsoft.GuestConfiguration",
    "Microsoft.HybridCompute",
    "Microsoft.Insights",
    "Microsoft.KeyVault",
    "Microsoft.Kusto",
    "Microsoft.Logic",
    "Microsoft.MachineLearningServices",
    "Microsoft.Maintenance",
    "Microsoft.ManagedIdentity",
    "Microsoft.Monitor",
    "Microsoft.Network",
    "Microsoft.NotificationHubs",
    "Microsoft.OperationalInsights",
    "Microsoft.OperationsManagement",
    "Microsoft.PolicyInsights",
    "Microsoft.Portal",
    "Microsoft.RecoveryServices",
    "Microsoft.Relay",
    "Microsoft.Resources",
    "Microsoft.Search",
    "Microsoft.Security",
    "Microsoft.ServiceBus",
    "Microsoft.SignalRService",
    "Microsoft.Sql",
    "Microsoft.Storage",
    "Microsoft.StreamAnalytics",
    "Microsoft.Synapse",
    "Microsoft.Web",
)
_NAMESPACE_BY_LOWER = {ns.lower(): ns for ns in _NAMESPACES}

_NET = "2023-09-01"
RG_CANONICAL = "Microsoft.Resources/resourceGroups"

# Naming rules (Microsoft Learn "naming rules and restrictions for Azure resources").
STORAGE_NAME = NameRule(3, 24)
KEY_VAULT_NAME = NameRule(3, 24, hyphens=True, start_letter=True)
REGISTRY_NAME = NameRule(5, 50)
SITE_NAME = NameRule(2, 60, hyphens=True)
COSMOS_NAME = NameRule(3, 44, hyphens=True)
SQL_SERVER_NAME = NameRule(1, 63, hyphens=True)
DNS_LABEL = NameRule(3, 63, hyphens=True, start_letter=True)


def _vm_drop_implicit_disk_ids(body: dict[str, Any]) -> None:
    """A VM re-creates disks it made itself (FromImage/Empty): the source disk ID must not be sent."""
    profile = (body.get("properties") or {}).get("storageProfile") or {}
    disks = [profile.get("osDisk")] + list(profile.get("dataDisks") or [])
    for disk in disks:
        if not isinstance(disk, dict):
            continue
        if str(disk.get("createOption", "")).lower() in ("fromimage", "empty") and isinstance(
            disk.get("managedDisk"), dict
        ):
            disk["managedDisk"].pop("id", None)


def _admin_password(os_profile: str) -> SecretSpec:
    """VM admin password: needed unless the Linux profile disables password authentication."""
    return SecretSpec(
        f"{os_profile}.adminPassword",
        when=f"{os_profile}.adminUsername",
        unless=f"{os_profile}.linuxConfiguration.disablePasswordAuthentication",
    )


_LOGIN_PASSWORD = SecretSpec("properties.administratorLoginPassword", when="properties.administratorLogin")


def _props(names: str, prefix: str = "properties") -> tuple[str, ...]:
    """``_props("a b.c")`` -> ("properties.a", "properties.b.c"): keeps the table below readable."""
    return tuple(f"{prefix}.{n}" for n in names.split())


def _entries() -> list[TypeInfo]:
    sub = "id type etag"  # read-only members of every inline network sub-resource
    subnet_ro = (
        "ipConfigurations ipConfigurationProfiles privateEndpoints resourceNavigationLinks "
        "serviceAssociationLinks purpose delegations.id delegations.type delegations.properties.actions"
    )
    vnet_ro = (
        _props(sub, "properties.subnets")
        + _props(subnet_ro, "properties.subnets.properties")
        + _props(sub, "properties.virtualNetworkPeerings")
        + _props("peeringState peeringSyncLevel", "properties.virtualNetworkPeerings.properties")
    )
    dns_zone_ro = (
        "maxNumberOfRecordSets numberOfRecordSets maxNumberOfVirtualNetworkLinks "
        "numberOfVirtualNetworkLinks maxNumberOfVirtualNetworkLinksWithRegistration "
        "numberOfVirtualNetworkLinksWithRegistration internalId"
    )
    site_ro = (
        "state hostNames enabledHostNames defaultHostName usageState availabilityState lastModifiedTimeUtc "
        "outboundIpAddresses possibleOutboundIpAddresses inboundIpAddress repositorySiteName resourceGroup "
        "trafficManagerHostNames isDefaultContainer sku siteDisabledReason customDomainVerificationId "
        "hostNameSslStates"
    )
    namespace_ro = "serviceBusEndpoint metricId status createdAt updatedAt"
    sb_entity_ro = "sizeInBytes subscriptionCount countDetails messageCount"
    automation_ro = "creationTime lastModifiedTime lastModifiedBy state"
    return [
        TypeInfo(RG_CANONICAL, "2021-04-01"),
        TypeInfo(
            "Microsoft.Resources/deployments",
            "2021-04-01",
            skip_reason="deployment history record, not infrastructure",
        ),
        # --- network
        TypeInfo(
            "Microsoft.Network/virtualNetworks",
            _NET,
            read_only=vnet_ro,
            inline_children=("subnets", "virtualNetworkPeerings"),
        ),
        TypeInfo("Microsoft.Network/virtualNetworks/subnets", _NET, read_only=_props(subnet_ro)),
        TypeInfo(
            "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
            _NET,
            read_only=_props("peeringState peeringSyncLevel"),
        ),
        TypeInfo(
            "Microsoft.Network/networkSecurityGroups",
            _NET,
            read_only=_props(sub, "properties.securityRules")
            + _props("defaultSecurityRules networkInterfaces subnets flowLogs"),
            inline_children=("securityRules",),
        ),
        TypeInfo("Microsoft.Network/networkSecurityGroups/securityRules", _NET),
        TypeInfo(
            "Microsoft.Network/publicIPAddresses",
            _NET,
            read_only=_props("ipAddress ipConfiguration dnsSettings.fqdn natGateway"),
            unique_properties=("properties.dnsSettings.domainNameLabel",),
        ),
        TypeInfo(
            "Microsoft.Network/networkInterfaces",
            _NET,
            read_only=_props(
                "macAddress virtualMachine primary hostedWorkloads tapConfigurations "
                "vnetEncryptionSupported privateEndpoint dscpConfiguration "
                "dnsSettings.appliedDnsServers dnsSettings.internalDomainNameSuffix "
                "dnsSettings.internalFqdn"
            )
            + _props(sub, "properties.ipConfigurations"),
            skip_when=(
                ("properties.privateEndpoint", "created by its private endpoint"),
                ("properties.privateLinkService", "created by its private link service"),
            ),
        ),
        TypeInfo(
            "Microsoft.Network/routeTables",
            _NET,
            read_only=_props(sub, "properties.routes") + _props("subnets"),
            inline_children=("routes",),
        ),
        TypeInfo("Microsoft.Network/routeTables/routes", _NET),
        TypeInfo("Microsoft.Network/natGateways", _NET, read_only=_props("subnets")),
        TypeInfo("Microsoft.Network/privateEndpoints", _NET, read_only=_props("networkInterfaces customDnsConfigs")),
        TypeInfo(
            "Microsoft.Network/loadBalancers",
            _NET,
            read_only=_props(
                "inboundNatRules loadBalancingRules outboundRules",
                "properties.frontendIPConfigurations.properties",
            )
            + _props("backendIPConfigurations loadBalancingRules", "properties.backendAddressPools.properties")
            + _props("backendIPConfiguration", "properties.inboundNatRules.properties"),
        ),
        TypeInfo("Microsoft.Network/applicationGateways", _NET, read_only=_props("operationalState")),
        TypeInfo("Microsoft.Network/bastionHosts", _NET, read_only=_props("dnsName")),
        TypeInfo("Microsoft.Network/ddosProtectionPlans", _NET, read_only=_props("publicIPAddresses virtualNetworks")),
        TypeInfo(
            "Microsoft.Network/customIpPrefixes",
            _NET,
            read_only=_props("publicIpPrefixes childCustomIpPrefixes failedReason"),
        ),
        TypeInfo(
            "Microsoft.Network/dscpConfiguration",
            _NET,
            read_only=_props("associatedNetworkInterfaces qosCollectionId"),
        ),
        TypeInfo(
            "Microsoft.Network/expressRouteCircuits/authorizations",
            _NET,
            read_only=_props("authorizationUseStatus"),
        ),
        TypeInfo("Microsoft.Network/privateDnsZones", "2020-06-01", read_only=_props(dns_zone_ro)),
        TypeInfo(
            "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
            "2020-06-01",
            read_only=_props("virtualNetworkLinkState"),
        ),
        TypeInfo(
            "Microsoft.Network/dnsZones",
            "2018-05-01",
            read_only=_props("maxNumberOfRecordSets numberOfRecordSets nameServers"),
        ),
        TypeInfo(
            "Microsoft.Network/networkWatchers",
            _NET,
            skip_reason="created by the platform per region (NetworkWatcherRG)",
        ),
        # --- compute
        TypeInfo(
            "Microsoft.Compute/disks",
            "2023-04-02",
            read_only=_props(
                "diskState diskSizeBytes shareInfo propertyUpdatesInProgress "
                "lastOwnershipUpdateTime burstingEnabledTime"
            ),
            attachable=True,
        ),
        TypeInfo(
            "Microsoft.Compute/virtualMachines",
            "2024-03-01",
            read_only=_props("vmId instanceView osProfile.requireGuestProvisionSignal") + ("resources",),
            body_transform=_vm_drop_implicit_disk_ids,
            secret_paths=(_admin_password("properties.osProfile"),),
        ),
        TypeInfo(
            "Microsoft.Compute/virtualMachineScaleSets",
            "2024-03-01",
            read_only=_props("uniqueId timeCreated virtualMachineProfile.timeCreated"),
            secret_paths=(_admin_password("properties.virtualMachineProfile.osProfile"),),
        ),
        TypeInfo("Microsoft.Compute/virtualMachines/extensions", "2024-03-01", read_only=_props("instanceView")),
        TypeInfo("Microsoft.Compute/availabilitySets", "2024-03-01", read_only=_props("virtualMachines statuses")),
        TypeInfo("Microsoft.Compute/sshPublicKeys", "2024-03-01"),
        TypeInfo(
            "Microsoft.Compute/proximityPlacementGroups",
            "2024-03-01",
            read_only=_props("virtualMachines virtualMachineScaleSets availabilitySets colocationStatus"),
        ),
        TypeInfo("Microsoft.Compute/snapshots", "2023-04-02", read_only=_props("diskSizeBytes")),
        TypeInfo(
            "Microsoft.Compute/virtualMachineScaleSets/virtualMachines",
            "2024-03-01",
            skip_reason="scale-set instances are created by their scale set",
        ),
        # --- storage, secrets, identity
        TypeInfo(
            "Microsoft.Storage/storageAccounts",
            "2023-05-01",
            read_only=_props(
                "primaryEndpoints secondaryEndpoints primaryLocation secondaryLocation "
                "statusOfPrimary statusOfSecondary keyCreationTime geoReplicationStats "
                "privateEndpointConnections"
            ),
            globally_unique=True,
            name_rule=STORAGE_NAME,
        ),
        TypeInfo(
            "Microsoft.KeyVault/vaults",
            "2023-07-01",
            read_only=_props("vaultUri hsmPoolResourceId privateEndpointConnections"),
            globally_unique=True,
            name_rule=KEY_VAULT_NAME,
        ),
        TypeInfo(
            "Microsoft.ManagedIdentity/userAssignedIdentities",
            "2023-01-31",
            read_only=_props("principalId clientId tenantId"),
        ),
        TypeInfo(
            "Microsoft.Authorization/roleAssignments",
            "2022-04-01",
            read_only=_props("scope createdOn updatedOn createdBy updatedBy"),
            principal_paths=("properties.principalId",),
        ),
        TypeInfo("Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials", "2023-01-31"),
        TypeInfo(
            "Microsoft.KeyVault/vaults/secrets",
            "2023-07-01",
            read_only=_props("secretUri secretUriWithVersion attributes.created attributes.updated"),
            # the value is never returned: the target gets a new random one (replace it in the store)
            secret_paths=(SecretSpec("properties.value", kind="key", when="properties"),),
        ),
        TypeInfo(
            "Microsoft.KeyVault/vaults/keys",
            "2023-07-01",
            read_only=_props("keyUri keyUriWithVersion attributes.created attributes.updated attributes.recoveryLevel"),
        ),
        # --- monitoring
        TypeInfo(
            "Microsoft.OperationalInsights/workspaces",
            "2022-10-01",
            read_only=_props("customerId createdDate modifiedDate privateLinkScopedResources"),
        ),
        TypeInfo(
            "Microsoft.Insights/dataCollectionRules",
            "2022-06-01",
            read_only=_props("immutableId metadata endpoints"),
        ),
        TypeInfo(
            "Microsoft.Insights/dataCollectionEndpoints",
            "2022-06-01",
            read_only=_props(
                "immutableId configurationAccess.endpoint logsIngestion.endpoint metricsIngestion.endpoint metadata"
            ),
        ),
        TypeInfo("Microsoft.Insights/actionGroups", "2023-01-01"),
        TypeInfo(
            "Microsoft.Insights/components",
            "2020-02-02",
            read_only=_props(
                "AppId ApplicationId InstrumentationKey ConnectionString CreationDate TenantId Name LaMigrationDate"
            ),
        ),
        TypeInfo("Microsoft.Insights/metricAlerts", "2018-03-01", read_only=_props("lastUpdatedTime isMigrated")),
        TypeInfo("Microsoft.Insights/activityLogAlerts", "2020-10-01"),
        TypeInfo(
            "Microsoft.Insights/scheduledQueryRules",
            "2023-03-15-preview",
            read_only=_props("isLegacyLogAnalyticsRule isWorkspaceAlertsStorageConfigured createdWithApiVersion"),
        ),
        TypeInfo("Microsoft.Insights/diagnosticSettings", "2021-05-01-preview"),
        # --- web, containers, data
        TypeInfo(
            "Microsoft.Web/serverfarms",
            "2023-12-01",
            read_only=_props(
                "status numberOfSites geoRegion resourceGroup subscription maximumNumberOfWorkers numberOfWorkers"
            ),
        ),
        TypeInfo(
            "Microsoft.Web/sites",
            "2023-12-01",
            read_only=_props(site_ro),
            globally_unique=True,
            name_rule=SITE_NAME,
        ),
        TypeInfo(
            "Microsoft.ContainerRegistry/registries",
            "2023-07-01",
            read_only=_props("loginServer status dataEndpointHostNames privateEndpointConnections"),
            globally_unique=True,
            name_rule=REGISTRY_NAME,
        ),
        TypeInfo(
            "Microsoft.ContainerService/managedClusters",
            "2024-02-01",
            read_only=_props(
                "fqdn azurePortalFQDN privateFQDN powerState currentKubernetesVersion "
                "identityProfile maxAgentPools oidcIssuerProfile.issuerURL"
            )
            + _props("powerState currentOrchestratorVersion nodeImageVersion", "properties.agentPoolProfiles"),
            secret_paths=(
                SecretSpec("properties.windowsProfile.adminPassword", when="properties.windowsProfile.adminUsername"),
            ),
        ),
        TypeInfo(
            "Microsoft.DocumentDB/databaseAccounts",
            "2024-05-15",
            read_only=_props(
                "documentEndpoint writeLocations readLocations failoverPolicies instanceId "
                "privateEndpointConnections keysMetadata"
            )
            + _props("documentEndpoint id provisioningState", "properties.locations"),
            globally_unique=True,
            name_rule=COSMOS_NAME,
        ),
        TypeInfo(
            "Microsoft.Sql/servers",
            "2021-11-01",
            read_only=_props("fullyQualifiedDomainName state privateEndpointConnections workspaceFeature"),
            globally_unique=True,
            name_rule=SQL_SERVER_NAME,
            secret_paths=(_LOGIN_PASSWORD,),
        ),
        TypeInfo(
            "Microsoft.Sql/servers/databases",
            "2021-11-01",
            read_only=_props(
                "databaseId status currentServiceObjectiveName currentSku "
                "defaultSecondaryLocation earliestRestoreDate maxLogSizeBytes "
                "currentBackupStorageRedundancy pausedDate resumedDate failoverGroupId"
            ),
        ),
        TypeInfo(
            "Microsoft.Cache/redis",
            "2023-08-01",
            read_only=_props("hostName port sslPort accessKeys linkedServers instances privateEndpointConnections"),
            globally_unique=True,
            name_rule=NameRule(1, 63, hyphens=True),
        ),
        TypeInfo(
            "Microsoft.Search/searchServices",
            "2023-11-01",
            read_only=_props("status statusDetails privateEndpointConnections sharedPrivateLinkResources"),
            globally_unique=True,
            name_rule=NameRule(2, 60, hyphens=True),
        ),
        TypeInfo(
            "Microsoft.ServiceBus/namespaces",
            "2022-10-01-preview",
            read_only=_props(namespace_ro),
            globally_unique=True,
            name_rule=NameRule(6, 50, hyphens=True, start_letter=True),
        ),
        TypeInfo("Microsoft.ServiceBus/namespaces/queues", "2022-10-01-preview", read_only=_props(sb_entity_ro)),
        TypeInfo("Microsoft.ServiceBus/namespaces/topics", "2022-10-01-preview", read_only=_props(sb_entity_ro)),
        TypeInfo(
            "Microsoft.ServiceBus/namespaces/topics/subscriptions",
            "2022-10-01-preview",
            read_only=_props(sb_entity_ro),
        ),
        TypeInfo("Microsoft.ServiceBus/namespaces/topics/subscriptions/rules", "2022-10-01-preview"),
        TypeInfo("Microsoft.Cache/redis/firewallRules", "2023-08-01"),
        TypeInfo(
            "Microsoft.Automation/automationAccounts",
            "2023-11-01",
            read_only=_props(automation_ro),
        ),
        TypeInfo(
            "Microsoft.Automation/automationAccounts/credentials",
            "2023-11-01",
            read_only=_props(automation_ro),
            skip_reason="the credential's password is never returned by ARM: recreate it with its secret",
        ),
        TypeInfo("Microsoft.Automation/automationAccounts/connections", "2023-11-01", read_only=_props(automation_ro)),
        TypeInfo("Microsoft.Automation/automationAccounts/hybridRunbookWorkerGroups", "2023-11-01"),
        TypeInfo(
            "Microsoft.Automation/automationAccounts/sourceControls", "2023-11-01", read_only=_props(automation_ro)
        ),
        TypeInfo("Microsoft.Automation/automationAccounts/jobSchedules", "2023-11-01"),
        TypeInfo(
            "Microsoft.Automation/automationAccounts/python2Packages",
            "2023-11-01",
            read_only=_props(automation_ro + " sizeInBytes activityCount isGlobal error version"),
        ),
        TypeInfo(
            "Microsoft.RecoveryServices/vaults",
            "2024-04-01",
            read_only=_props(
                "secureScore bcdrSecurityLevel privateEndpointStateForBackup privateEndpointStateForSiteRecovery"
            ),
        ),
        TypeInfo("Microsoft.AppConfiguration/configurationStores/replicas", "2023-03-01", read_only=_props("endpoint")),
        TypeInfo(
            "Microsoft.EventHub/namespaces",
            "2024-01-01",
            read_only=_props(namespace_ro),
            globally_unique=True,
            name_rule=NameRule(6, 50, hyphens=True, start_letter=True),
        ),
        TypeInfo(
            "Microsoft.AppConfiguration/configurationStores",
            "2023-03-01",
            read_only=_props("endpoint creationDate privateEndpointConnections"),
            globally_unique=True,
            name_rule=NameRule(5, 50, hyphens=True),
        ),
        TypeInfo(
            "Microsoft.DBforPostgreSQL/flexibleServers",
            "2022-12-01",
            read_only=_props("fullyQualifiedDomainName state minorVersion"),
            globally_unique=True,
            name_rule=NameRule(3, 63, hyphens=True),
            secret_paths=(_LOGIN_PASSWORD,),
        ),
        TypeInfo(
            "Microsoft.DBforMySQL/flexibleServers",
            "2023-06-30",
            read_only=_props("fullyQualifiedDomainName state"),
            globally_unique=True,
            name_rule=NameRule(3, 63, hyphens=True),
            secret_paths=(_LOGIN_PASSWORD,),
        ),
        TypeInfo(
            "Microsoft.ApiManagement/service",
            "2022-08-01",
            read_only=_props(
                "gatewayUrl portalUrl managementApiUrl scmUrl developerPortalUrl "
                "publicIPAddresses privateIPAddresses createdAtUtc targetProvisioningState"
            ),
            globally_unique=True,
            name_rule=NameRule(1, 50, hyphens=True, start_letter=True),
        ),
        TypeInfo(
            "Microsoft.CognitiveServices/accounts",
            "2023-05-01",
            read_only=_props(
                "endpoint endpoints internalId dateCreated capabilities callRateLimit "
                "quotaLimit abusePenalty skuChangeInfo"
            ),
            unique_properties=("properties.customSubDomainName",),
        ),
    ]


_BY_LOWER: dict[str, TypeInfo] = {}
for _info in _entries():
    _BY_LOWER[_info.canonical.lower()] = TypeInfo(**{**_info.__dict__, "known": True})


def _fold_namespace(arm_type: str) -> str:
    namespace, sep, rest = arm_type.strip().strip("/").partition("/")
    return _NAMESPACE_BY_LOWER.get(namespace.lower(), namespace) + sep + rest


def lookup(arm_type: str) -> TypeInfo:
    """TypeInfo for any ARM type in any casing; unknown types get a conservative default (never None)."""
    key = arm_type.strip().strip("/").lower()
    info = _BY_LOWER.get(key)
    if info is not None:
        return info
    return TypeInfo(canonical=_fold_namespace(arm_type))


def canonical_type(arm_type: str) -> str:
    """The canonical casing of an ARM type (namespace casing fixed when the type itself is unknown)."""
    return lookup(arm_type).canonical


def known_types() -> list[str]:
    """Every type the registry has explicit rules for (canonical casing)."""
    return sorted(info.canonical for info in _BY_LOWER.values())
