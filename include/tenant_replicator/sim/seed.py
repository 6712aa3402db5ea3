"""The seeded tenant: a realistic source subscription and a target with resources of its own.

Resources are created through the simulator's own PUT handlers (with a fixed clock), so the seed
has exactly the shape a client would later read back: ids, types, read-only fields and etags come
from the same code as for any replicated resource. Deterministic: same input, same state.
"""

from __future__ import annotations

import json
from typing import Any

from tenant_replicator.sim import arm, authz, model
from tenant_replicator.sim.paths import parse_route

SOURCE_SUBSCRIPTION_ID = "3f2b8c1e-5d4a-4e7b-9c21-6a8f0d2e4b17"
TARGET_SUBSCRIPTION_ID = "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"
TENANT_ID = "0d5c3a71-8e2f-4b6a-9d14-7f3e2c1b5a90"
# A second tenant whose principals Contoso's subscriptions do not know (cross-tenant cases).
OTHER_TENANT_ID = "5a1e9b27-3c4d-4f80-b6a2-e8d0c9f71b35"

SEED_TIME = "2025-03-14T09:26:53.5897932Z"
SOURCE_LOCATION = "westeurope"
TARGET_LOCATION = "northeurope"

NET = "2024-05-01"
COMPUTE = "2024-07-01"
DISK = "2024-03-02"
STORAGE = "2023-05-01"
WEB = "2023-12-01"

PROD_TAGS = {"environment": "prod", "owner": "platform-team", "costCenter": "CC-1042"}

# Canary secrets: write-only values the source tenant holds as Azure would (ARM accepts them on PUT and
# never returns them). The security tests search every artefact of a campaign for them: none may appear
# outside the campaign's secret store and Terraform state. Unique strings, so a hit is never a coincidence.
CANARY_SECRETS = {
    "vm_admin_password": "Cnry-VmPw-7d41c9e2b8!",
    "sql_admin_password": "Cnry-SqlPw-a5f0e37c1d!",
    "db_password": "Cnry-ConnPw-3b9e8f20a6",
    "storage_account_key": "Q2FuYXJ5U3RvcmFnZUtleS05ZjJlNmQ0YjFhN2MzZTVmMA==",
    "sas_signature": "Cnry%2BSas%2F4e8a1c7f9b2d",
}
Put = tuple[str, str, dict[str, Any]]  # (ARM path, api-version, body)


def rg_id(sub: str, rg: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


def rid(sub: str, rg: str, full_type: str, *names: str) -> str:
    """`rid(s, rg, "Microsoft.Network/virtualNetworks/subnets", "vnet", "snet")`."""
    namespace, *types = full_type.split("/")
    pairs = "/".join(f"{t}/{n}" for t, n in zip(types, names, strict=True))
    return f"{rg_id(sub, rg)}/providers/{namespace}/{pairs}"


def seed_state(scale: int = 0) -> dict:
    """The seeded tenant; `scale` adds that many synthetic source resources (benchmarks)."""
    state = model.new_state()
    model.add_subscription(state, SOURCE_SUBSCRIPTION_ID, "Contoso Prod", TENANT_ID)
    model.add_subscription(state, TARGET_SUBSCRIPTION_ID, "Contoso DR", TENANT_ID)
    authz.seed_directory(state, TENANT_ID, "Contoso")
    authz.seed_directory(state, OTHER_TENANT_ID, "Fabrikam")
    for path, version, body in [
        *_source_puts(),
        *_scale_puts(SOURCE_SUBSCRIPTION_ID, scale),
        *_target_puts(),
    ]:
        _apply(state, path, version, body)
    state["counters"] = {"reads": {}, "writes": {}}
    return state


def _apply(state: dict, path: str, api_version: str, body: dict) -> None:
    req = arm.Request("PUT", path, {"api-version": api_version}, json.dumps(body).encode(), "", now=SEED_TIME)
    response = arm.handle(state, parse_route(path), req)
    if response.status not in (200, 201):  # pragma: no cover - a broken seed is a programming error
        raise RuntimeError(f"seed PUT {path} -> {response.status} {response.body}")


# --- source: Contoso Prod ------------------------------------------------------------------------


def _source_puts() -> list[Put]:
    s = SOURCE_SUBSCRIPTION_ID
    groups = {
        "rg-network-prod": {"environment": "prod", "owner": "network-team"},
        "rg-app-prod": PROD_TAGS,
        "rg-data-prod": PROD_TAGS,
        "rg-monitor-prod": {"environment": "prod", "owner": "sre"},
    }
    puts: list[Put] = [
        (rg_id(s, rg), "2024-03-01", {"location": SOURCE_LOCATION, "tags": tags}) for rg, tags in groups.items()
    ]
    return puts + _network(s) + _compute(s) + _app(s) + _data(s) + _monitor(s)


def _rule(name: str, priority: int, port: str, source: str, access: str = "Allow") -> dict:
    return {
        "name": name,
        "properties": {
            "protocol": "Tcp",
            "sourcePortRange": "*",
            "destinationPortRange": port,
            "sourceAddressPrefix": source,
            "destinationAddressPrefix": "*",
            "access": access,
            "priority": priority,
            "direction": "Inbound",
            "sourcePortRanges": [],
            "destinationPortRanges": [],
            "sourceAddressPrefixes": [],
            "destinationAddressPrefixes": [],
        },
    }


def _network(s: str) -> list[Put]:
    rg = "rg-network-prod"
    net = "Microsoft.Network"
    nsg_app = rid(s, rg, f"{net}/networkSecurityGroups", "nsg-app-prod")
    nsg_data = rid(s, rg, f"{net}/networkSecurityGroups", "nsg-data-prod")
    route_table = rid(s, rg, f"{net}/routeTables", "rt-app-prod")
    nat = rid(s, rg, f"{net}/natGateways", "ng-prod")
    pip_nat = rid(s, rg, f"{net}/publicIPAddresses", "pip-ng-prod")
    pip_std = {"sku": {"name": "Standard", "tier": "Regional"}, "zones": ["1", "2", "3"]}
    return [
        (
            nsg_app,
            NET,
            {
                "location": SOURCE_LOCATION,
                "tags": {"environment": "prod"},
                "properties": {
                    "securityRules": [
                        _rule("allow-https-inbound", 100, "443", "Internet"),
                        _rule("allow-ssh-from-hub", 110, "22", "10.0.3.0/24"),
                        _rule("deny-all-inbound", 4096, "*", "*", access="Deny"),
                    ]
                },
            },
        ),
        (
            nsg_data,
            NET,
            {
                "location": SOURCE_LOCATION,
                "properties": {"securityRules": [_rule("allow-sql-from-app", 100, "1433", "10.0.1.0/24")]},
            },
        ),
        (
            route_table,
            NET,
            {
                "location": SOURCE_LOCATION,
                "properties": {
                    "disableBgpRoutePropagation": False,
                    "routes": [
                        {
                            "name": "default-to-firewall",
                            "properties": {
                                "addressPrefix": "0.0.0.0/0",
                                "nextHopType": "VirtualAppliance",
                                "nextHopIpAddress": "10.0.0.4",
                            },
                        }
                    ],
                },
            },
        ),
        (
            pip_nat,
            NET,
            {
                "location": SOURCE_LOCATION,
                **pip_std,
                "properties": {
                    "publicIPAllocationMethod": "Static",
                    "publicIPAddressVersion": "IPv4",
                    "idleTimeoutInMinutes": 4,
                },
            },
        ),
        (
            rid(s, rg, f"{net}/publicIPAddresses", "pip-vm-app-01"),
            NET,
            {
                "location": SOURCE_LOCATION,
                **pip_std,
                "properties": {
                    "publicIPAllocationMethod": "Static",
                    "publicIPAddressVersion": "IPv4",
                    "dnsSettings": {
                        "domainNameLabel": "contoso-app-01",
                        "fqdn": "contoso-app-01.westeurope.cloudapp.azure.com",
                    },
                },
            },
        ),
        (
            nat,
            NET,
            {
                "location": SOURCE_LOCATION,
                "sku": {"name": "Standard"},
                "zones": ["1"],
                "properties": {"idleTimeoutInMinutes": 4, "publicIpAddresses": [{"id": pip_nat}]},
            },
        ),
        (
            rid(s, rg, f"{net}/virtualNetworks", "vnet-hub-prod"),
            NET,
            {
                "location": SOURCE_LOCATION,
                "tags": {"environment": "prod", "owner": "network-team"},
                "properties": {
                    "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                    "dhcpOptions": {"dnsServers": []},
                    "subnets": [
                        {
                            "name": "snet-app",
                            "properties": {
                                "addressPrefix": "10.0.1.0/24",
                                "networkSecurityGroup": {"id": nsg_app},
                                "routeTable": {"id": route_table},
                                "privateEndpointNetworkPolicies": "Disabled",
                                "privateLinkServiceNetworkPolicies": "Enabled",
                            },
                        },
                        {
                            "name": "snet-data",
                            "properties": {
                                "addressPrefix": "10.0.2.0/24",
                                "networkSecurityGroup": {"id": nsg_data},
                                "serviceEndpoints": [
                                    {
                                        "service": "Microsoft.Storage",
                                        "locations": ["westeurope", "northeurope"],
                                    }
                                ],
                                "privateEndpointNetworkPolicies": "Disabled",
                                "privateLinkServiceNetworkPolicies": "Enabled",
                            },
                        },
                        {
                            "name": "snet-mgmt",
                            "properties": {
                                "addressPrefix": "10.0.3.0/24",
                                "natGateway": {"id": nat},
                                "privateEndpointNetworkPolicies": "Disabled",
                                "privateLinkServiceNetworkPolicies": "Enabled",
                            },
                        },
                    ],
                    "virtualNetworkPeerings": [],
                    "enableDdosProtection": False,
                },
            },
        ),
        (
            rid(s, rg, f"{net}/virtualNetworks", "vnet-spoke-prod"),
            NET,
            {
                "location": SOURCE_LOCATION,
                "properties": {
                    "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
                    "subnets": [
                        {
                            "name": "snet-workload",
                            "properties": {
                                "addressPrefix": "10.1.1.0/24",
                                "networkSecurityGroup": {"id": nsg_app},
                            },
                        }
                    ],
                    "enableDdosProtection": False,
                },
            },
        ),
        (
            rid(s, rg, f"{net}/privateDnsZones", "privatelink.blob.core.windows.net"),
            "2020-06-01",
            {"location": "global", "properties": {}},
        ),
        (
            rid(s, rg, f"{net}/privateDnsZones", "contoso.internal"),
            "2020-06-01",
            {"location": "global", "tags": {"environment": "prod"}, "properties": {}},
        ),
    ]


def _subnet(s: str, vnet: str, subnet: str) -> str:
    return rid(s, "rg-network-prod", "Microsoft.Network/virtualNetworks/subnets", vnet, subnet)


def _vm_pair(s: str, index: int, public_ip: str | None) -> list[Put]:
    """NIC, OS disk and VM as a real GET shows them after `az vm create` (plus one data disk on vm 1)."""
    rg = "rg-app-prod"
    vm_name = f"vm-app-{index:02d}"
    vm = rid(s, rg, "Microsoft.Compute/virtualMachines", vm_name)
    nic = rid(s, rg, "Microsoft.Network/networkInterfaces", f"nic-{vm_name}")
    os_disk_name = f"osdisk-{vm_name}"
    os_disk = rid(s, rg, "Microsoft.Compute/disks", os_disk_name)
    ip_config: dict[str, Any] = {
        "privateIPAllocationMethod": "Dynamic",
        "subnet": {"id": _subnet(s, "vnet-hub-prod", "snet-app")},
        "primary": True,
    }
    if public_ip:
        ip_config["publicIPAddress"] = {"id": public_ip}
    disk_common = {
        "location": SOURCE_LOCATION,
        "managedBy": vm,
        "sku": {"name": "Premium_LRS", "tier": "Premium"},
        "zones": ["1"],
    }
    data_disks: list[dict] = []
    puts: list[Put] = [
        (
            nic,
            NET,
            {
                "location": SOURCE_LOCATION,
                "tags": PROD_TAGS,
                "properties": {
                    "ipConfigurations": [{"name": "ipconfig1", "properties": ip_config}],
                    "enableAcceleratedNetworking": True,
                    "enableIPForwarding": False,
                    "dnsSettings": {"dnsServers": []},
                    "nicType": "Standard",
                },
            },
        ),
        (
            os_disk,
            DISK,
            {
                **disk_common,
                "properties": {
                    "osType": "Linux",
                    "hyperVGeneration": "V2",
                    "diskSizeGB": 30,
                    "diskState": "Attached",
                    "creationData": {
                        "createOption": "FromImage",
                        "imageReference": {
                            "id": (
                                f"/Subscriptions/{s}/Providers/Microsoft.Compute/Locations/westeurope/Publishers/canonical/"
                                "ArtifactTypes/VMImage/Offers/ubuntu-24_04-lts/Skus/server/Versions/24.04.202502210"
                            )
                        },
                    },
                    "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
                    "networkAccessPolicy": "AllowAll",
                    "publicNetworkAccess": "Enabled",
                    "tier": "P4",
                },
            },
        ),
    ]
    if index == 1:
        data_disk = rid(s, rg, "Microsoft.Compute/disks", f"disk-data-{vm_name}")
        puts.append(
            (
                data_disk,
                DISK,
                {
                    **disk_common,
                    "properties": {
                        "diskSizeGB": 256,
                        "diskState": "Attached",
                        "creationData": {"createOption": "Empty"},
                        "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
                        "tier": "P15",
                    },
                },
            )
        )
        data_disks = [
            {
                "lun": 0,
                "name": f"disk-data-{vm_name}",
                "createOption": "Attach",
                "caching": "ReadOnly",
                "managedDisk": {"id": data_disk, "storageAccountType": "Premium_LRS"},
                "diskSizeGB": 256,
            }
        ]
    puts.append(
        (
            vm,
            COMPUTE,
            {
                "location": SOURCE_LOCATION,
                "tags": PROD_TAGS,
                "zones": ["1"],
                "properties": {
                    "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
                    "storageProfile": {
                        "imageReference": {
                            "publisher": "canonical",
                            "offer": "ubuntu-24_04-lts",
                            "sku": "server",
                            "version": "latest",
                            "exactVersion": "24.04.202502210",
                        },
                        "osDisk": {
                            "osType": "Linux",
                            "name": os_disk_name,
                            "createOption": "FromImage",
                            "caching": "ReadWrite",
                            "managedDisk": {"id": os_disk, "storageAccountType": "Premium_LRS"},
                            "deleteOption": "Delete",
                            "diskSizeGB": 30,
                        },
                        "dataDisks": data_disks,
                        "diskControllerType": "SCSI",
                    },
                    "osProfile": {
                        "computerName": vm_name,
                        "adminUsername": "azureadmin",
                        **({"adminPassword": CANARY_SECRETS["vm_admin_password"]} if index == 1 else {}),
                        "linuxConfiguration": {
                            "disablePasswordAuthentication": True,
                            "provisionVMAgent": True,
                            "patchSettings": {"patchMode": "ImageDefault", "assessmentMode": "ImageDefault"},
                        },
                        "secrets": [],
                        "allowExtensionOperations": True,
                        "requireGuestProvisionSignal": True,
                    },
                    "networkProfile": {"networkInterfaces": [{"id": nic, "properties": {"deleteOption": "Detach"}}]},
                    "diagnosticsProfile": {"bootDiagnostics": {"enabled": True}},
                    "securityProfile": {
                        "uefiSettings": {"secureBootEnabled": True, "vTpmEnabled": True},
                        "securityType": "TrustedLaunch",
                    },
                },
            },
        )
    )
    return puts


def _compute(s: str) -> list[Put]:
    pip = rid(s, "rg-network-prod", "Microsoft.Network/publicIPAddresses", "pip-vm-app-01")
    return _vm_pair(s, 1, pip) + _vm_pair(s, 2, None)


def _app(s: str) -> list[Put]:
    rg = "rg-app-prod"
    identity = rid(s, rg, "Microsoft.ManagedIdentity/userAssignedIdentities", "id-app-prod")
    plan = rid(s, rg, "Microsoft.Web/serverFarms", "asp-contoso-prod")
    return [
        (identity, "2023-01-31", {"location": SOURCE_LOCATION, "tags": PROD_TAGS}),
        (
            plan,
            WEB,
            {
                "location": SOURCE_LOCATION,
                "kind": "linux",
                "sku": {"name": "P1v3", "tier": "PremiumV3", "size": "P1v3", "family": "Pv3", "capacity": 2},
                "properties": {
                    "reserved": True,
                    "perSiteScaling": False,
                    "zoneRedundant": False,
                    "maximumElasticWorkerCount": 1,
                },
            },
        ),
        (
            rid(s, rg, "Microsoft.Web/sites", "app-contoso-api-prod"),
            WEB,
            {
                "location": SOURCE_LOCATION,
                "kind": "app,linux",
                "tags": PROD_TAGS,
                "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity: {}}},
                "properties": {
                    "serverFarmId": plan,
                    "httpsOnly": True,
                    "clientAffinityEnabled": False,
                    "keyVaultReferenceIdentity": identity,
                    "siteConfig": {
                        "linuxFxVersion": "DOTNETCORE|8.0",
                        "alwaysOn": True,
                        "ftpsState": "Disabled",
                        "minTlsVersion": "1.2",
                        "http20Enabled": True,
                        "connectionStrings": _canary_connection_strings(),
                    },
                },
            },
        ),
        (
            rid(s, rg, "Microsoft.ContainerRegistry/registries", "crcontosoprod01"),
            "2023-07-01",
            {
                "location": SOURCE_LOCATION,
                "sku": {"name": "Premium", "tier": "Premium"},
                "properties": {
                    "adminUserEnabled": False,
                    "publicNetworkAccess": "Enabled",
                    "zoneRedundancy": "Disabled",
                    "policies": {"retentionPolicy": {"days": 7, "status": "disabled"}},
                },
            },
        ),
        (
            rid(s, rg, "Microsoft.KeyVault/vaults", "kv-contoso-prod-01"),
            "2023-07-01",
            {
                "location": SOURCE_LOCATION,
                "tags": PROD_TAGS,
                "properties": {
                    "tenantId": TENANT_ID,
                    "sku": {"family": "A", "name": "standard"},
                    "accessPolicies": [],
                    "enabledForDeployment": False,
                    "enabledForDiskEncryption": False,
                    "enabledForTemplateDeployment": False,
                    "enableSoftDelete": True,
                    "softDeleteRetentionInDays": 90,
                    "enableRbacAuthorization": True,
                    "publicNetworkAccess": "Enabled",
                },
            },
        ),
        (
            rid(s, rg, "Microsoft.ServiceBus/namespaces", "sb-contoso-prod"),
            "2024-01-01",
            {
                "location": SOURCE_LOCATION,
                "sku": {"name": "Standard", "tier": "Standard"},
                "properties": {
                    "minimumTlsVersion": "1.2",
                    "publicNetworkAccess": "Enabled",
                    "disableLocalAuth": True,
                    "zoneRedundant": False,
                },
            },
        ),
    ]


def _canary_connection_strings() -> list[dict[str, str]]:
    """A database password, a storage account key and a SAS token, the way app settings carry them."""
    secrets = CANARY_SECRETS
    return [
        {
            "name": "AppDb",
            "type": "SQLAzure",
            "connectionString": (
                "Server=tcp:sql-contoso-prod.database.windows.net,1433;Database=app;User ID=sqladminuser;"
                f"Password={secrets['db_password']};Encrypt=True;"
            ),
        },
        {
            "name": "Storage",
            "type": "Custom",
            "connectionString": (
                "DefaultEndpointsProtocol=https;AccountName=stcontosoprod001;"
                f"AccountKey={secrets['storage_account_key']};EndpointSuffix=core.windows.net"
            ),
        },
        {
            "name": "ExportSas",
            "type": "Custom",
            "connectionString": (
                "BlobEndpoint=https://stcontosoarchive001.blob.core.windows.net/;SharedAccessSignature="
                f"sv=2022-11-02&ss=b&srt=co&sp=rl&se=2027-01-01T00:00:00Z&sig={secrets['sas_signature']}"
            ),
        },
    ]


def _storage_account(
    name: str, location: str, network_rules: list[dict] | None = None, tags: dict | None = None
) -> dict:
    body: dict[str, Any] = {
        "location": location,
        "kind": "StorageV2",
        "sku": {"name": "Standard_LRS", "tier": "Standard"},
        "properties": {
            "accessTier": "Hot",
            "minimumTlsVersion": "TLS1_2",
            "supportsHttpsTrafficOnly": True,
            "allowBlobPublicAccess": False,
            "allowSharedKeyAccess": False,
            "encryption": {
                "keySource": "Microsoft.Storage",
                "services": {
                    "blob": {"enabled": True, "keyType": "Account"},
                    "file": {"enabled": True, "keyType": "Account"},
                },
            },
            "networkAcls": {
                "bypass": "AzureServices",
                "defaultAction": "Deny" if network_rules else "Allow",
                "virtualNetworkRules": network_rules or [],
                "ipRules": [],
            },
        },
    }
    if tags:
        body["tags"] = tags
    return body


def _data(s: str) -> list[Put]:
    rg = "rg-data-prod"
    storage = rid(s, rg, "Microsoft.Storage/storageAccounts", "stcontosoprod001")
    data_subnet = _subnet(s, "vnet-hub-prod", "snet-data")
    return [
        (
            storage,
            STORAGE,
            _storage_account(
                "stcontosoprod001",
                SOURCE_LOCATION,
                [{"id": data_subnet, "action": "Allow", "state": "Succeeded"}],
                tags=PROD_TAGS,
            ),
        ),
        (
            rid(s, rg, "Microsoft.Storage/storageAccounts", "stcontosoarchive001"),
            STORAGE,
            _storage_account("stcontosoarchive001", SOURCE_LOCATION),
        ),
        (
            rid(s, rg, "Microsoft.Sql/servers", "sql-contoso-prod"),
            "2023-08-01",
            {
                "location": SOURCE_LOCATION,
                "tags": PROD_TAGS,
                "properties": {
                    "administratorLogin": "sqladminuser",
                    "administratorLoginPassword": CANARY_SECRETS["sql_admin_password"],
                    "version": "12.0",
                    "minimalTlsVersion": "1.2",
                    "publicNetworkAccess": "Disabled",
                    "restrictOutboundNetworkAccess": "Disabled",
                    "fullyQualifiedDomainName": "sql-contoso-prod.database.windows.net",
                    "state": "Ready",
                },
            },
        ),
        (
            rid(s, rg, "Microsoft.Network/privateEndpoints", "pe-stcontosoprod001-blob"),
            NET,
            {
                "location": SOURCE_LOCATION,
                "properties": {
                    "subnet": {"id": data_subnet},
                    "privateLinkServiceConnections": [
                        {
                            "name": "pe-stcontosoprod001-blob",
                            "properties": {
                                "privateLinkServiceId": storage,
                                "groupIds": ["blob"],
                                "privateLinkServiceConnectionState": {
                                    "status": "Approved",
                                    "description": "Auto-Approved",
                                    "actionsRequired": "None",
                                },
                            },
                        }
                    ],
                    "manualPrivateLinkServiceConnections": [],
                    "customNetworkInterfaceName": "",
                },
            },
        ),
    ]


def _monitor(s: str) -> list[Put]:
    rg = "rg-monitor-prod"
    workspace = rid(s, rg, "Microsoft.OperationalInsights/workspaces", "log-contoso-prod")
    action_group = rid(s, rg, "Microsoft.Insights/actionGroups", "ag-ops-prod")
    vm = rid(s, "rg-app-prod", "Microsoft.Compute/virtualMachines", "vm-app-01")
    return [
        (
            workspace,
            "2022-10-01",
            {
                "location": SOURCE_LOCATION,
                "tags": {"environment": "prod", "owner": "sre"},
                "properties": {
                    "sku": {"name": "PerGB2018"},
                    "retentionInDays": 30,
                    "features": {"enableLogAccessUsingOnlyResourcePermissions": True},
                    "workspaceCapping": {"dailyQuotaGb": -1},
                    "publicNetworkAccessForIngestion": "Enabled",
                    "publicNetworkAccessForQuery": "Enabled",
                },
            },
        ),
        (
            rid(s, rg, "Microsoft.Insights/dataCollectionRules", "dcr-vm-insights-prod"),
            "2022-06-01",
            {
                "location": SOURCE_LOCATION,
                "kind": "Linux",
                "properties": {
                    "description": "VM insights performance counters for prod Linux VMs",
                    "dataSources": {
                        "performanceCounters": [
                            {
                                "name": "perfCounterDataSource60",
                                "streams": ["Microsoft-InsightsMetrics"],
                                "samplingFrequencyInSeconds": 60,
                                "counterSpecifiers": ["\\VmInsights\\DetailedMetrics"],
                            }
                        ]
                    },
                    "destinations": {"logAnalytics": [{"name": "la-contoso-prod", "workspaceResourceId": workspace}]},
                    "dataFlows": [{"streams": ["Microsoft-InsightsMetrics"], "destinations": ["la-contoso-prod"]}],
                },
            },
        ),
        (
            action_group,
            "2023-01-01",
            {
                "location": "global",
                "properties": {
                    "groupShortName": "opsprod",
                    "enabled": True,
                    "emailReceivers": [
                        {
                            "name": "ops-email",
                            "emailAddress": "ops@contoso.example",
                            "useCommonAlertSchema": True,
                        }
                    ],
                    "smsReceivers": [],
                    "webhookReceivers": [],
                    "armRoleReceivers": [],
                },
            },
        ),
        (
            rid(s, rg, "Microsoft.Insights/components", "appi-contoso-prod"),
            "2020-02-02",
            {
                "location": SOURCE_LOCATION,
                "kind": "web",
                "properties": {
                    "Application_Type": "web",
                    "WorkspaceResourceId": workspace,
                    "IngestionMode": "LogAnalytics",
                    "publicNetworkAccessForIngestion": "Enabled",
                    "publicNetworkAccessForQuery": "Enabled",
                    "RetentionInDays": 90,
                },
            },
        ),
        (
            rid(s, rg, "Microsoft.Insights/metricAlerts", "alert-vm-app-01-cpu"),
            "2018-03-01",
            {
                "location": "global",
                "properties": {
                    "description": "CPU above 85 % for 15 minutes",
                    "severity": 2,
                    "enabled": True,
                    "scopes": [vm],
                    "evaluationFrequency": "PT5M",
                    "windowSize": "PT15M",
                    "autoMitigate": True,
                    "targetResourceType": "Microsoft.Compute/virtualMachines",
                    "targetResourceRegion": SOURCE_LOCATION,
                    "criteria": {
                        "odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria",
                        "allOf": [
                            {
                                "name": "cpu",
                                "metricName": "Percentage CPU",
                                "metricNamespace": "Microsoft.Compute/virtualMachines",
                                "operator": "GreaterThan",
                                "threshold": 85,
                                "timeAggregation": "Average",
                                "criterionType": "StaticThresholdCriterion",
                            }
                        ],
                    },
                    "actions": [{"actionGroupId": action_group, "webHookProperties": {}}],
                },
            },
        ),
        (
            rid(s, rg, "Microsoft.Storage/storageAccounts", "stcontosodiag001"),
            STORAGE,
            _storage_account("stcontosodiag001", SOURCE_LOCATION, tags={"environment": "prod", "owner": "sre"}),
        ),
    ]


# --- target: Contoso DR --------------------------------------------------------------------------


def _target_puts() -> list[Put]:
    t = TARGET_SUBSCRIPTION_ID
    rg = "rg-legacy"
    nsg = rid(t, rg, "Microsoft.Network/networkSecurityGroups", "nsg-legacy-dr")
    return [
        (rg_id(t, rg), "2024-03-01", {"location": TARGET_LOCATION, "tags": {"owner": "legacy-ops"}}),
        (
            nsg,
            NET,
            {
                "location": TARGET_LOCATION,
                "properties": {"securityRules": [_rule("allow-rdp-legacy", 100, "3389", "192.168.10.0/24")]},
            },
        ),
        (
            rid(t, rg, "Microsoft.Network/virtualNetworks", "vnet-legacy-dr"),
            NET,
            {
                "location": TARGET_LOCATION,
                "properties": {
                    "addressSpace": {"addressPrefixes": ["10.50.0.0/16"]},
                    "subnets": [
                        {
                            "name": "snet-legacy",
                            "properties": {
                                "addressPrefix": "10.50.1.0/24",
                                "networkSecurityGroup": {"id": nsg},
                            },
                        }
                    ],
                },
            },
        ),
        (
            rid(t, rg, "Microsoft.Storage/storageAccounts", "stcontosodrlegacy01"),
            STORAGE,
            _storage_account("stcontosodrlegacy01", TARGET_LOCATION, tags={"owner": "legacy-ops"}),
        ),
    ]


# --- synthetic scale-out (benchmarks) ------------------------------------------------------------

SCALE_GROUP_SIZE = 100


def _scale_puts(s: str, count: int) -> list[Put]:
    """`count` extra top-level resources in groups of 100, an NSG first, then five common types in turn.

    Each group holds an NSG that its VNets' subnets reference, so references and dependency
    ordering scale with the resource count, as in a real estate.
    """
    puts: list[Put] = []
    for index in range(count):
        group = f"rg-scale-{index // SCALE_GROUP_SIZE:03d}"
        slot = index % SCALE_GROUP_SIZE
        if slot == 0:
            puts.append((rg_id(s, group), "2024-03-01", {"location": SOURCE_LOCATION, "tags": {"scale": "true"}}))
        puts.append(_scale_resource(s, group, index, slot))
    return puts


def _scale_resource(s: str, group: str, index: int, slot: int) -> Put:
    nsg = rid(s, group, "Microsoft.Network/networkSecurityGroups", f"nsg-{group}")
    kind = 0 if slot == 0 else 1 + (slot - 1) % 5
    name = f"{index:06d}"
    if kind == 0:
        return (
            nsg,
            NET,
            {
                "location": SOURCE_LOCATION,
                "properties": {"securityRules": [_rule("allow-https", 100, "443", "VirtualNetwork")]},
            },
        )
    if kind == 1:
        octet = slot % 250
        return (
            rid(s, group, "Microsoft.Network/virtualNetworks", f"vnet-{name}"),
            NET,
            {
                "location": SOURCE_LOCATION,
                "properties": {
                    "addressSpace": {"addressPrefixes": [f"10.{octet}.0.0/16"]},
                    "subnets": [
                        {
                            "name": "snet-a",
                            "properties": {
                                "addressPrefix": f"10.{octet}.1.0/24",
                                "networkSecurityGroup": {"id": nsg},
                            },
                        },
                        {"name": "snet-b", "properties": {"addressPrefix": f"10.{octet}.2.0/24"}},
                    ],
                },
            },
        )
    if kind == 2:
        return (
            rid(s, group, "Microsoft.Network/publicIPAddresses", f"pip-{name}"),
            NET,
            {
                "location": SOURCE_LOCATION,
                "sku": {"name": "Standard"},
                "properties": {"publicIPAllocationMethod": "Static"},
            },
        )
    if kind == 3:
        return (
            rid(s, group, "Microsoft.ManagedIdentity/userAssignedIdentities", f"id-{name}"),
            "2023-01-31",
            {"location": SOURCE_LOCATION, "tags": {"scale": "true"}},
        )
    if kind == 4:
        return (
            rid(s, group, "Microsoft.Network/routeTables", f"rt-{name}"),
            NET,
            {
                "location": SOURCE_LOCATION,
                "properties": {
                    "routes": [
                        {
                            "name": "default",
                            "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "Internet"},
                        }
                    ]
                },
            },
        )
    return (
        rid(s, group, "Microsoft.Storage/storageAccounts", f"stscale{name}"),
        STORAGE,
        _storage_account(f"stscale{name}", SOURCE_LOCATION),
    )
