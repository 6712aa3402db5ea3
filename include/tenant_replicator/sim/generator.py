"""Generated tenants: deterministic by seed, with the relations real estates have.

Workloads are built from "stacks" (a network, a VM, storage behind a private endpoint, a vault with
access policies and diagnostics, a web app with its identity, SQL, AKS with its platform-managed
`MC_*` group, monitoring) placed into resource groups, so every reference points at something that
exists and was written before it. Presets:

- `seed-410`: 410 top-level source resources in ~38 types, 158 pre-existing target resources.
- `enterprise-4466`: 4,466 source resources in 247 resource groups.
- `size(N)`: N source resources, for benchmarks (100k builds in seconds).

Counts are of top-level resources (what `GET /subscriptions/{s}/resources` lists); child resources
(subnets, databases, containers) and extension resources (role assignments, diagnostic settings)
come on top, as in Azure.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tenant_replicator.sim import arm, authz, model
from tenant_replicator.sim.seed import (
    NET,
    OTHER_TENANT_ID,
    SEED_TIME,
    SOURCE_SUBSCRIPTION_ID,
    STORAGE,
    TARGET_SUBSCRIPTION_ID,
    TENANT_ID,
    _rule,
    _storage_account,
    rg_id,
    rid,
)

COMPUTE, DISK, WEB, RA = "2024-07-01", "2024-03-02", "2023-12-01", "2022-04-01"
ROLE_READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
ROLE_KV_SECRETS = "4633458b-17de-408a-b874-0445c86b69e6"
ROLE_BLOB = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
REGIONS = ("westeurope", "westeurope", "westeurope", "northeurope", "swedencentral")
WORKLOADS = ("pay", "crm", "hr", "web", "data", "iot", "ml", "erp", "portal", "api", "ops", "bi")
ENVS = ("prod", "test", "dev")


@dataclass(frozen=True)
class Preset:
    name: str
    source: int
    target: int
    groups: int


PRESETS = {
    "seed-410": Preset("seed-410", 410, 158, 24),
    "enterprise-4466": Preset("enterprise-4466", 4466, 300, 247),
}


@dataclass
class Put:
    path: str
    api_version: str
    body: dict
    kind: str  # "rg" | "top" | "child" | "ext"


@dataclass
class Builder:
    """Accumulates PUTs for one subscription; `top` counts top-level resources."""

    sub: str
    rng: random.Random
    principals: list[str]
    tag: str
    puts: list[Put] = field(default_factory=list)
    top: int = 0
    workspace: str | None = None
    action_group: str | None = None
    subnets: dict[str, list[str]] = field(default_factory=dict)  # rg -> subnet ids
    counter: int = 0
    seen: set[str] = field(default_factory=set)

    def add(self, path: str, version: str, body: dict, kind: str = "top") -> str:
        if path.lower() in self.seen:
            return path  # a stack asked for something its group already has (one workspace per group)
        self.seen.add(path.lower())
        self.puts.append(Put(path, version, body, kind))
        if kind == "top":
            self.top += 1
        return path

    def unique(self, prefix: str) -> str:
        """Globally unique names (storage, vaults, sites...) across subscriptions: seeded token + counter."""
        self.counter += 1
        return f"{prefix}{self.tag}{self.counter:05d}"

    def tags(self, workload: str, env: str) -> dict:
        return {"environment": env, "workload": workload, "costCenter": f"CC-{1000 + hash(workload) % 9000}"}


# --- stacks ---------------------------------------------------------------------------------------


def _network(b: Builder, rg: str, loc: str, index: int) -> None:
    net = "Microsoft.Network"
    nsg = b.add(
        rid(b.sub, rg, f"{net}/networkSecurityGroups", f"nsg-{rg}-{index}"),
        NET,
        {
            "location": loc,
            "properties": {
                "securityRules": [
                    _rule("allow-https", 100, "443", "VirtualNetwork"),
                    _rule("allow-lb", 110, "*", "AzureLoadBalancer"),
                    _rule("deny-all", 4096, "*", "*", access="Deny"),
                ]
            },
        },
    )
    rt = b.add(
        rid(b.sub, rg, f"{net}/routeTables", f"rt-{rg}-{index}"),
        NET,
        {
            "location": loc,
            "properties": {
                "disableBgpRoutePropagation": True,
                "routes": [
                    {
                        "name": "to-firewall",
                        "properties": {
                            "addressPrefix": "0.0.0.0/0",
                            "nextHopType": "VirtualAppliance",
                            "nextHopIpAddress": "10.0.0.4",
                        },
                    }
                ],
            },
        },
    )
    octet = (index * 7 + len(rg)) % 250
    vnet_name = f"vnet-{rg}-{index}"
    subnets: list[dict[str, Any]] = [
        {
            "name": "snet-app",
            "properties": {
                "addressPrefix": f"10.{octet}.1.0/24",
                "networkSecurityGroup": {"id": nsg},
                "routeTable": {"id": rt},
            },
        },
        {
            "name": "snet-data",
            "properties": {"addressPrefix": f"10.{octet}.2.0/24", "networkSecurityGroup": {"id": nsg}},
        },
        {
            "name": "snet-pe",
            "properties": {"addressPrefix": f"10.{octet}.3.0/24", "privateEndpointNetworkPolicies": "Disabled"},
        },
    ]
    if b.rng.random() < 0.3:
        pip = b.add(
            rid(b.sub, rg, f"{net}/publicIPAddresses", f"pip-ng-{rg}-{index}"),
            NET,
            {"location": loc, "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}},
        )
        nat = b.add(
            rid(b.sub, rg, f"{net}/natGateways", f"ng-{rg}-{index}"),
            NET,
            {"location": loc, "sku": {"name": "Standard"}, "properties": {"publicIpAddresses": [{"id": pip}]}},
        )
        subnets[1]["properties"]["natGateway"] = {"id": nat}
    vnet = b.add(
        rid(b.sub, rg, f"{net}/virtualNetworks", vnet_name),
        NET,
        {
            "location": loc,
            "properties": {"addressSpace": {"addressPrefixes": [f"10.{octet}.0.0/16"]}, "subnets": subnets},
        },
    )
    b.subnets.setdefault(rg, []).extend(f"{vnet}/subnets/{s['name']}" for s in subnets)


def _subnet(b: Builder, rg: str, loc: str, name: str) -> str:
    if rg not in b.subnets:
        _network(b, rg, loc, len(b.subnets))
    return next(s for s in b.subnets[rg] if s.endswith("/" + name))


def _vm(b: Builder, rg: str, loc: str, index: int, env: str) -> None:
    name = f"vm-{rg.removeprefix('rg-')}-{index:02d}"[:60]
    subnet = _subnet(b, rg, loc, "snet-app")
    vm = rid(b.sub, rg, "Microsoft.Compute/virtualMachines", name)
    ip_config: dict[str, Any] = {"privateIPAllocationMethod": "Dynamic", "subnet": {"id": subnet}, "primary": True}
    if b.rng.random() < 0.2:
        ip_config["publicIPAddress"] = {
            "id": b.add(
                rid(b.sub, rg, "Microsoft.Network/publicIPAddresses", f"pip-{name}"),
                NET,
                {"location": loc, "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}},
            )
        }
    nic = b.add(
        rid(b.sub, rg, "Microsoft.Network/networkInterfaces", f"nic-{name}"),
        NET,
        {"location": loc, "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": ip_config}]}},
    )
    disk_base = {"location": loc, "managedBy": vm, "sku": {"name": "Premium_LRS"}}
    os_disk = b.add(
        rid(b.sub, rg, "Microsoft.Compute/disks", f"osdisk-{name}"),
        DISK,
        {
            **disk_base,
            "properties": {"osType": "Linux", "diskSizeGB": 30, "creationData": {"createOption": "FromImage"}},
        },
    )
    data_disks = []
    if b.rng.random() < 0.5:
        data = b.add(
            rid(b.sub, rg, "Microsoft.Compute/disks", f"disk-data-{name}"),
            DISK,
            {**disk_base, "properties": {"diskSizeGB": 128, "creationData": {"createOption": "Empty"}}},
        )
        data_disks.append({"lun": 0, "createOption": "Attach", "managedDisk": {"id": data}})
    b.add(
        vm,
        COMPUTE,
        {
            "location": loc,
            "tags": b.tags(rg, env),
            "properties": {
                "hardwareProfile": {"vmSize": b.rng.choice(("Standard_D2s_v5", "Standard_B2ms", "Standard_E4s_v5"))},
                "storageProfile": {
                    "imageReference": {"publisher": "canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
                    "osDisk": {"createOption": "FromImage", "managedDisk": {"id": os_disk}},
                    "dataDisks": data_disks,
                },
                "osProfile": {"computerName": name[:15], "adminUsername": "azureadmin"},
                "networkProfile": {"networkInterfaces": [{"id": nic}]},
            },
        },
    )
    b.add(
        f"{vm}/extensions/AzureMonitorLinuxAgent",
        COMPUTE,
        {
            "location": loc,
            "properties": {
                "publisher": "Microsoft.Azure.Monitor",
                "type": "AzureMonitorLinuxAgent",
                "typeHandlerVersion": "1.33",
                "autoUpgradeMinorVersion": True,
            },
        },
        "child",
    )
    if b.action_group and b.rng.random() < 0.4:
        b.add(
            rid(b.sub, rg, "Microsoft.Insights/metricAlerts", f"alert-{name}-cpu"),
            "2018-03-01",
            {
                "location": "global",
                "properties": {
                    "severity": 2,
                    "enabled": True,
                    "scopes": [vm],
                    "evaluationFrequency": "PT5M",
                    "windowSize": "PT15M",
                    "criteria": {"odata.type": "Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria"},
                    "actions": [{"actionGroupId": b.action_group}],
                },
            },
        )


def _diagnostics(b: Builder, resource_id: str) -> None:
    if b.workspace:
        b.add(
            f"{resource_id}/providers/Microsoft.Insights/diagnosticSettings/diag-to-law",
            "2021-05-01-preview",
            {"properties": {"workspaceId": b.workspace, "logs": [{"categoryGroup": "allLogs", "enabled": True}]}},
            "ext",
        )


def _role(b: Builder, scope: str, role: str, principal: str) -> None:
    name = model.stable_uuid(scope, role, principal)
    b.add(
        f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
        RA,
        {
            "properties": {
                "roleDefinitionId": f"/subscriptions/{b.sub}/providers/Microsoft.Authorization/roleDefinitions/{role}",
                "principalId": principal,
            }
        },
        "ext",
    )


def _storage(b: Builder, rg: str, loc: str, env: str) -> None:
    name = b.unique("st")
    account = b.add(
        rid(b.sub, rg, "Microsoft.Storage/storageAccounts", name),
        STORAGE,
        _storage_account(name, loc, tags=b.tags(rg, env)),
    )
    b.add(
        f"{account}/blobServices/default",
        STORAGE,
        {"properties": {"deleteRetentionPolicy": {"enabled": True, "days": 7}}},
        "child",
    )
    b.add(f"{account}/blobServices/default/containers/data", STORAGE, {"properties": {"publicAccess": "None"}}, "child")
    if b.rng.random() < 0.6:
        b.add(
            rid(b.sub, rg, "Microsoft.Network/privateEndpoints", f"pe-{name}-blob"),
            NET,
            {
                "location": loc,
                "properties": {
                    "subnet": {"id": _subnet(b, rg, loc, "snet-pe")},
                    "privateLinkServiceConnections": [
                        {
                            "name": f"pe-{name}-blob",
                            "properties": {"privateLinkServiceId": account, "groupIds": ["blob"]},
                        }
                    ],
                },
            },
        )
    _diagnostics(b, account)
    _role(b, account, ROLE_BLOB, b.rng.choice(b.principals))


def _vault(b: Builder, rg: str, loc: str, env: str, tenant: str) -> None:
    name = b.unique("kv-")
    vault = b.add(
        rid(b.sub, rg, "Microsoft.KeyVault/vaults", name),
        "2023-07-01",
        {
            "location": loc,
            "tags": b.tags(rg, env),
            "properties": {
                "tenantId": tenant,
                "sku": {"family": "A", "name": "standard"},
                "enableSoftDelete": True,
                "softDeleteRetentionInDays": 90,
                "enableRbacAuthorization": False,
                "accessPolicies": [
                    {"tenantId": tenant, "objectId": principal, "permissions": {"secrets": ["get", "list"]}}
                    for principal in b.rng.sample(b.principals, 2)
                ],
            },
        },
    )
    _diagnostics(b, vault)
    _role(b, vault, ROLE_KV_SECRETS, b.rng.choice(b.principals))


def _web(b: Builder, rg: str, loc: str, env: str) -> None:
    site_name = b.unique("app-")
    identity = b.add(
        rid(b.sub, rg, "Microsoft.ManagedIdentity/userAssignedIdentities", f"id-{site_name}"),
        "2023-01-31",
        {"location": loc},
    )
    plan = b.add(
        rid(b.sub, rg, "Microsoft.Web/serverFarms", f"asp-{site_name}"),
        WEB,
        {
            "location": loc,
            "kind": "linux",
            "sku": {"name": "P1v3", "tier": "PremiumV3"},
            "properties": {"reserved": True},
        },
    )
    site = b.add(
        rid(b.sub, rg, "Microsoft.Web/sites", site_name),
        WEB,
        {
            "location": loc,
            "kind": "app,linux",
            "tags": b.tags(rg, env),
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity: {}}},
            "properties": {
                "serverFarmId": plan,
                "httpsOnly": True,
                "keyVaultReferenceIdentity": identity,
                "siteConfig": {"linuxFxVersion": "DOTNETCORE|8.0", "minTlsVersion": "1.2"},
            },
        },
    )
    _diagnostics(b, site)
    _role(b, site, ROLE_READER, model.stable_uuid(identity.lower(), "principalId"))


def _sql(b: Builder, rg: str, loc: str, env: str) -> None:
    server = b.add(
        rid(b.sub, rg, "Microsoft.Sql/servers", b.unique("sql-")),
        "2023-08-01",
        {"location": loc, "tags": b.tags(rg, env), "properties": {"administratorLogin": "sqladmin", "version": "12.0"}},
    )
    for db in ("appdb", "auditdb")[: 1 + b.rng.randrange(2)]:
        b.add(
            f"{server}/databases/{db}",
            "2023-08-01",
            {"location": loc, "sku": {"name": "S1"}, "properties": {}},
            "child",
        )
    b.add(
        f"{server}/firewallRules/AllowAzure",
        "2023-08-01",
        {"properties": {"startIpAddress": "0.0.0.0", "endIpAddress": "0.0.0.0"}},
        "child",
    )


def _aks(b: Builder, rg: str, loc: str, env: str) -> None:
    name = f"aks-{rg.removeprefix('rg-')}"[:40]
    identity = b.add(
        rid(b.sub, rg, "Microsoft.ManagedIdentity/userAssignedIdentities", f"id-{name}"),
        "2023-01-31",
        {"location": loc},
    )
    node_rg = f"MC_{rg}_{name}_{loc}"
    aks = rid(b.sub, rg, "Microsoft.ContainerService/managedClusters", name)
    b.add(
        aks,
        "2024-09-01",
        {
            "location": loc,
            "tags": b.tags(rg, env),
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {identity: {}}},
            "properties": {
                "kubernetesVersion": "1.30.6",
                "dnsPrefix": name,
                "nodeResourceGroup": node_rg,
                "agentPoolProfiles": [
                    {
                        "name": "system",
                        "count": 3,
                        "vmSize": "Standard_D4s_v5",
                        "mode": "System",
                        "vnetSubnetID": _subnet(b, rg, loc, "snet-app"),
                    }
                ],
                "networkProfile": {"networkPlugin": "azure", "loadBalancerSku": "standard"},
            },
        },
    )
    b.add(
        rg_id(b.sub, node_rg),
        "2024-03-01",
        {"location": loc, "managedBy": aks, "tags": {"aks-managed-cluster-name": name}},
        "rg",
    )
    managed = {"location": loc, "managedBy": aks}
    pip = b.add(
        rid(b.sub, node_rg, "Microsoft.Network/publicIPAddresses", "kubernetes-outbound"),
        NET,
        {**managed, "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}},
    )
    b.add(
        rid(b.sub, node_rg, "Microsoft.Network/loadBalancers", "kubernetes"),
        NET,
        {
            **managed,
            "sku": {"name": "Standard"},
            "properties": {
                "frontendIPConfigurations": [{"name": "outbound", "properties": {"publicIPAddress": {"id": pip}}}]
            },
        },
    )
    b.add(
        rid(b.sub, node_rg, "Microsoft.Network/networkSecurityGroups", f"aks-agentpool-{b.tag}-nsg"),
        NET,
        {**managed, "properties": {}},
    )
    b.add(
        rid(b.sub, node_rg, "Microsoft.ManagedIdentity/userAssignedIdentities", f"{name}-agentpool"),
        "2023-01-31",
        dict(managed),
    )
    b.add(
        rid(b.sub, node_rg, "Microsoft.Compute/virtualMachineScaleSets", f"aks-system-{b.tag}-vmss"),
        COMPUTE,
        {**managed, "sku": {"name": "Standard_D4s_v5", "capacity": 3}, "properties": {"orchestrationMode": "Uniform"}},
    )


def _monitoring(b: Builder, rg: str, loc: str) -> None:
    workspace = b.add(
        rid(b.sub, rg, "Microsoft.OperationalInsights/workspaces", f"log-{rg}"),
        "2022-10-01",
        {"location": loc, "properties": {"sku": {"name": "PerGB2018"}, "retentionInDays": 30}},
    )
    b.workspace = b.workspace or workspace
    dce = b.add(
        rid(b.sub, rg, "Microsoft.Insights/dataCollectionEndpoints", f"dce-{rg}"),
        "2022-06-01",
        {"location": loc, "properties": {"networkAcls": {"publicNetworkAccess": "Enabled"}}},
    )
    b.add(
        rid(b.sub, rg, "Microsoft.Insights/dataCollectionRules", f"dcr-{rg}"),
        "2022-06-01",
        {
            "location": loc,
            "kind": "Linux",
            "properties": {
                "dataCollectionEndpointId": dce,
                "destinations": {"logAnalytics": [{"name": "law", "workspaceResourceId": workspace}]},
                "dataFlows": [{"streams": ["Microsoft-InsightsMetrics"], "destinations": ["law"]}],
            },
        },
    )
    group = b.add(
        rid(b.sub, rg, "Microsoft.Insights/actionGroups", f"ag-{rg}"),
        "2023-01-01",
        {"location": "global", "properties": {"groupShortName": "ops", "enabled": True, "emailReceivers": []}},
    )
    b.action_group = b.action_group or group
    b.add(
        rid(b.sub, rg, "Microsoft.Insights/components", f"appi-{rg}"),
        "2020-02-02",
        {"location": loc, "kind": "web", "properties": {"Application_Type": "web", "WorkspaceResourceId": workspace}},
    )
    b.add(
        rid(b.sub, rg, "Microsoft.Insights/scheduledQueryRules", f"sqr-{rg}"),
        "2023-12-01",
        {
            "location": loc,
            "properties": {
                "scopes": [workspace],
                "severity": 3,
                "enabled": True,
                "evaluationFrequency": "PT5M",
                "windowSize": "PT5M",
            },
        },
    )


def _misc(b: Builder, rg: str, loc: str, env: str, which: int) -> None:
    """One of the less common types, in turn."""
    kind = which % 12
    if kind == 0:
        b.add(
            rid(b.sub, rg, "Microsoft.ContainerRegistry/registries", b.unique("cr")),
            "2023-07-01",
            {"location": loc, "sku": {"name": "Premium"}, "properties": {"adminUserEnabled": False}},
        )
    elif kind == 1:
        ns = b.add(
            rid(b.sub, rg, "Microsoft.ServiceBus/namespaces", b.unique("sb-")),
            "2024-01-01",
            {"location": loc, "sku": {"name": "Standard"}, "properties": {}},
        )
        b.add(f"{ns}/queues/orders", "2024-01-01", {"properties": {"maxDeliveryCount": 10}}, "child")
    elif kind == 2:
        b.add(
            rid(b.sub, rg, "Microsoft.EventHub/namespaces", b.unique("evh-")),
            "2024-01-01",
            {"location": loc, "sku": {"name": "Standard"}, "properties": {}},
        )
    elif kind == 3:
        b.add(
            rid(b.sub, rg, "Microsoft.Cache/redis", b.unique("redis-")),
            "2024-03-01",
            {"location": loc, "properties": {"sku": {"name": "Standard", "family": "C", "capacity": 1}}},
        )
    elif kind == 4:
        b.add(
            rid(b.sub, rg, "Microsoft.DocumentDB/databaseAccounts", b.unique("cosmos-")),
            "2024-05-15",
            {
                "location": loc,
                "kind": "GlobalDocumentDB",
                "properties": {
                    "databaseAccountOfferType": "Standard",
                    "locations": [{"locationName": loc, "failoverPriority": 0}],
                },
            },
        )
    elif kind == 5:
        b.add(
            rid(b.sub, rg, "Microsoft.Automation/automationAccounts", f"aa-{rg}-{which}"),
            "2023-11-01",
            {"location": loc, "properties": {"sku": {"name": "Basic"}}},
        )
    elif kind == 6:
        b.add(
            rid(b.sub, rg, "Microsoft.RecoveryServices/vaults", f"rsv-{rg}-{which}"),
            "2023-06-01",
            {"location": loc, "sku": {"name": "RS0", "tier": "Standard"}, "properties": {}},
        )
    elif kind == 7:
        b.add(
            rid(b.sub, rg, "Microsoft.Compute/availabilitySets", f"avail-{rg}-{which}"),
            COMPUTE,
            {"location": loc, "sku": {"name": "Aligned"}, "properties": {"platformFaultDomainCount": 2}},
        )
    elif kind == 8:
        b.add(
            rid(b.sub, rg, "Microsoft.Compute/sshPublicKeys", f"ssh-{rg}-{which}"),
            COMPUTE,
            {"location": loc, "properties": {"publicKey": f"ssh-ed25519 AAAAC3Nza{b.tag}{which} ops"}},
        )
    elif kind == 9:
        b.add(
            rid(b.sub, rg, "Microsoft.Network/dnsZones", f"{rg}-{which}.contoso.example"),
            "2018-05-01",
            {"location": "global", "properties": {}},
        )
    elif kind == 10:
        b.add(
            rid(b.sub, rg, "Microsoft.Network/bastionHosts", f"bas-{rg}-{which}"),
            NET,
            {"location": loc, "sku": {"name": "Basic"}, "properties": {"ipConfigurations": []}},
        )
    else:
        disk = b.add(
            rid(b.sub, rg, "Microsoft.Compute/disks", f"disk-src-{rg}-{which}"),
            DISK,
            {
                "location": loc,
                "sku": {"name": "Standard_LRS"},
                "properties": {"diskSizeGB": 64, "creationData": {"createOption": "Empty"}},
            },
        )
        b.add(
            rid(b.sub, rg, "Microsoft.Compute/snapshots", f"snap-{rg}-{which}"),
            DISK,
            {"location": loc, "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": disk}}},
        )


# --- subscriptions --------------------------------------------------------------------------------


def _group_plan(rng: random.Random, groups: int) -> list[tuple[str, str, str]]:
    """(resource group, location, environment) for the workload groups, deterministic."""
    out = []
    for index in range(groups):
        workload, env = WORKLOADS[index % len(WORKLOADS)], ENVS[(index // len(WORKLOADS)) % len(ENVS)]
        out.append((f"rg-{workload}-{env}-{index:03d}", rng.choice(REGIONS), env))
    return out


def build_subscription(
    sub: str, count: int, groups: int, seed: int, principals: list[str], tenant: str, tag: str
) -> Builder:
    """PUTs for about `count` top-level resources in `groups` workload groups (trimmed to exact later)."""
    rng = random.Random(seed)
    b = Builder(sub, rng, principals, tag)
    b.add(rg_id(sub, "NetworkWatcherRG"), "2024-03-01", {"location": "westeurope"}, "rg")
    for region in sorted(set(REGIONS)):
        b.add(
            rid(sub, "NetworkWatcherRG", "Microsoft.Network/networkWatchers", f"NetworkWatcher_{region}"),
            NET,
            {"location": region, "properties": {}},
        )
    plan = _group_plan(rng, max(1, groups))
    monitor_rg = plan[0][0]
    per_group = max(3, count // max(1, groups))
    which = 0
    for index, (rg, loc, env) in enumerate(plan):
        b.add(rg_id(sub, rg), "2024-03-01", {"location": loc, "tags": b.tags(rg, env)}, "rg")
        if rg == monitor_rg:
            _monitoring(b, rg, loc)
        _role(b, rg_id(sub, rg), ROLE_READER, principals[index % len(principals)])
        goal = b.top + per_group
        while b.top < goal:
            roll = rng.random()
            if roll < 0.22:
                _vm(b, rg, loc, which, env)
            elif roll < 0.36:
                _storage(b, rg, loc, env)
            elif roll < 0.44:
                _vault(b, rg, loc, env, tenant)
            elif roll < 0.54:
                _web(b, rg, loc, env)
            elif roll < 0.60:
                _sql(b, rg, loc, env)
            elif roll < 0.63 and count >= 200:
                _aks(b, rg, loc, env)
            elif roll < 0.70:
                _network(b, rg, loc, which)
            elif roll < 0.73:
                _monitoring(b, rg, loc)
            else:
                _misc(b, rg, loc, env, which)
            which += 1
    while b.top < count:  # group plan exhausted before the count: keep filling the last group
        _misc(b, plan[-1][0], plan[-1][1], plan[-1][2], which)
        which += 1
    return b


def trim(puts: list[Put], count: int) -> list[Put]:
    """Keep PUTs up to and including the `count`-th top-level resource (and the children/extensions
    that follow it, when they belong to kept resources). Dependencies always precede dependents."""
    kept: list[Put] = []
    seen = 0
    kept_ids: set[str] = set()
    for put in puts:
        if put.kind == "top":
            if seen == count:
                continue
            seen += 1
            kept_ids.add(put.path.lower())
            kept.append(put)
        elif put.kind == "rg":
            kept.append(put)
        elif any(put.path.lower().startswith(k + "/") for k in _ancestors(put.path, kept_ids)):
            kept.append(put)
        elif (
            put.kind == "ext"
            and "/providers/"
            not in put.path.lower().split("/resourcegroups/", 1)[-1].split("/providers/microsoft.authorization/", 1)[0]
        ):
            kept.append(put)  # an extension on a resource group or subscription scope
    return kept


def _ancestors(path: str, kept: set[str]) -> list[str]:
    low = path.lower()
    parts = low.split("/")
    return [p for p in ("/".join(parts[:i]) for i in range(9, len(parts), 2)) if p in kept]


def _fit_groups(
    sub: str, count: int, groups: int, seed: int, principals: list[str], tag: str, exact: bool = False
) -> list[Put]:
    """Trimmed PUTs for `count` resources; with `exact`, in exactly `groups` resource groups in all
    (AKS node groups and NetworkWatcherRG included), found by adjusting the workload-group count."""
    wanted, puts = groups, []
    for _ in range(25):
        puts = trim(build_subscription(sub, count, wanted, seed, principals, TENANT_ID, tag).puts, count)
        have = sum(1 for p in puts if p.kind == "rg")
        if not exact or have == groups:
            return puts
        wanted = max(1, wanted + groups - have)
    raise RuntimeError(f"could not place {count} resources in exactly {groups} resource groups")


def generate(preset: str | None = None, size: int = 0, seed: int = 410) -> dict:
    """A generated tenant: `preset` (seed-410, enterprise-4466) or `size` source resources."""
    if preset:
        spec = PRESETS[preset]
        count, target_count, groups = spec.source, spec.target, spec.groups
    else:
        count, target_count, groups = size, max(1, size // 20), max(1, size // 18)
    state = model.new_state()
    model.add_subscription(state, SOURCE_SUBSCRIPTION_ID, "Contoso Prod", TENANT_ID)
    model.add_subscription(state, TARGET_SUBSCRIPTION_ID, "Contoso DR", TENANT_ID)
    principals = authz.seed_directory(state, TENANT_ID, "Contoso", users=12, groups=6, apps=6)
    authz.seed_directory(state, OTHER_TENANT_ID, "Fabrikam")
    source = _fit_groups(SOURCE_SUBSCRIPTION_ID, count, groups, seed, principals, "s", exact=bool(preset))
    target = _fit_groups(TARGET_SUBSCRIPTION_ID, target_count, max(1, groups // 6), seed + 1, principals, "t")
    for put in [*source, *target]:
        arm.seed_put(state, put.path, put.api_version, put.body, SEED_TIME)
    state["counters"] = {"reads": {}, "writes": {}}
    return state


PRESET_NAMES = ("contoso", *PRESETS)


def seed_function(preset: str = "contoso", size: int = 0, scale: int = 0, seed: int = 410) -> Callable[[], dict]:
    """The seeding callable for the server: `size` wins, else the preset (`contoso` keeps `scale`)."""
    from tenant_replicator.sim.seed import seed_state

    if size:
        return functools.partial(generate, None, size, seed)
    if preset == "contoso":
        return functools.partial(seed_state, scale)
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESET_NAMES)}")
    return functools.partial(generate, preset, 0, seed)
