"""Request-path parsing for the simulator's ARM routes.

ARM paths are case-insensitive in their fixed words (`resourceGroups`, `providers`) and in names;
the simulator keeps its own parser (not the library's) so that the two can disagree visibly.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote


@dataclass(frozen=True)
class ResourceRef:
    """A resource (or a collection, when `names` is one shorter than `types`) under a resource group."""

    subscription: str
    resource_group: str
    namespace: str
    types: tuple[str, ...]
    names: tuple[str, ...]

    @property
    def full_type(self) -> str:
        return "/".join((self.namespace, *self.types))

    @property
    def is_collection(self) -> bool:
        return len(self.names) < len(self.types)

    @property
    def parent(self) -> ResourceRef | None:
        if len(self.names) < 2:
            return None
        return ResourceRef(self.subscription, self.resource_group, self.namespace, self.types[:-1], self.names[:-1])

    @property
    def path(self) -> str:
        pairs = "/".join(f"{t}/{n}" for t, n in zip(self.types, self.names, strict=False))
        return (
            f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/"
            f"{self.namespace}/{pairs}"
        )

    @property
    def key(self) -> str:
        return resource_key(self.subscription, self.resource_group, self.namespace, self.types, self.names)


@dataclass(frozen=True)
class Route:
    """What a request path addresses; `kind` picks the handler."""

    kind: str
    subscription: str | None = None
    resource_group: str | None = None
    namespace: str | None = None
    resource: ResourceRef | None = None
    rest: tuple[str, ...] = ()


def split_path(path: str) -> list[str]:
    """Segments of a URL path, decoded; empty segments (`//subscriptions`) are dropped."""
    return [unquote(seg) for seg in path.split("?", 1)[0].split("/") if seg]


def rg_key(subscription: str, resource_group: str) -> str:
    return f"/subscriptions/{subscription}/resourcegroups/{resource_group}".lower()


def resource_key(
    subscription: str, resource_group: str, namespace: str, types: tuple[str, ...], names: tuple[str, ...]
) -> str:
    pairs = "/".join(f"{t}/{n}" for t, n in zip(types, names, strict=False))
    return f"{rg_key(subscription, resource_group)}/providers/{namespace}/{pairs}".lower()


def parse_route(path: str) -> Route:
    """Classify an ARM path; unknown shapes come back as kind `unknown`."""
    seg = split_path(path)
    low = [s.lower() for s in seg]
    if not seg:
        return Route("unknown")
    if low[0] == "_sim":
        return Route("sim", rest=tuple(seg[1:]))
    if low == ["tenants"]:
        return Route("tenants")
    if low == ["providers", "microsoft.resourcegraph", "resources"]:
        return Route("resource_graph")
    if low[:3] == ["providers", "microsoft.authorization", "roledefinitions"]:
        return Route("role_definition", namespace=seg[1], rest=tuple(seg[3:4]))
    if low[0] != "subscriptions":
        return Route("unknown")
    if len(seg) == 1:
        return Route("subscriptions")
    sub = seg[1]
    tail, tail_low = seg[2:], low[2:]
    if not tail:
        return Route("subscription", subscription=sub)
    if tail_low == ["resources"]:
        return Route("resources", subscription=sub)
    if tail_low == ["resourcegroups"]:
        return Route("resource_groups", subscription=sub)
    if tail_low[0] == "providers":
        return _provider_route(sub, tail)
    if tail_low[0] == "resourcegroups" and len(tail) >= 2:
        return _resource_group_route(sub, tail[1], tail[2:])
    return Route("unknown", subscription=sub)


def _provider_route(sub: str, tail: list[str]) -> Route:
    if len(tail) == 1:
        return Route("providers", subscription=sub)
    if len(tail) == 2:
        return Route("provider", subscription=sub, namespace=tail[1])
    low = [t.lower() for t in tail]
    if len(tail) == 6 and low[2] == "locations" and low[4] in ("operationstatuses", "operationresults"):
        return Route("operation", subscription=sub, namespace=tail[1], rest=(low[4], tail[5]))
    if len(tail) >= 3 and low[1] == "microsoft.keyvault" and "deletedvaults" in low[2:5]:
        # .../deletedVaults | .../locations/{l}/deletedVaults/{name}[/purge]
        name = tail[5] if len(tail) >= 6 else ""
        return Route("deleted_vaults", subscription=sub, namespace=tail[1], rest=(name, *low[6:7]))
    if len(tail) in (3, 4) and f"{low[1]}/{low[2]}" in EXTENSIONS:
        return _extension(sub, None, f"/subscriptions/{sub}", tail[1:])
    # /subscriptions/{s}/providers/{ns}/{type}: every resource of a type in the subscription.
    if len(tail) == 3:
        return Route("subscription_type_list", subscription=sub, namespace=tail[1], rest=(tail[2],))
    return Route("unsupported_scope", subscription=sub, namespace=tail[1], rest=tuple(tail[2:]))


def _resource_group_route(sub: str, rg: str, tail: list[str]) -> Route:
    low = [s.lower() for s in tail]
    if not tail:
        return Route("resource_group", subscription=sub, resource_group=rg)
    if low == ["resources"]:
        return Route("resource_group_resources", subscription=sub, resource_group=rg)
    if low[0] != "providers" or len(tail) < 3:
        return Route("unknown", subscription=sub, resource_group=rg)
    namespace, rest = tail[1], tail[2:]
    scope = f"/subscriptions/{sub}/resourceGroups/{rg}"
    if any(s == "providers" for s in low[2:]):
        # An extension resource on a resource: {resource}/providers/{ns}/{type}[/{name}].
        cut = len(low) - 1 - low[::-1].index("providers")
        ext = tail[cut + 1 :]
        if len(ext) in (2, 3) and f"{ext[0]}/{ext[1]}".lower() in EXTENSIONS:
            return _extension(sub, rg, scope + "/" + "/".join(tail[:cut]), ext)
        return Route("unsupported_scope", subscription=sub, resource_group=rg, namespace=namespace, rest=tuple(rest))
    if len(rest) in (1, 2) and f"{namespace}/{rest[0]}".lower() in EXTENSIONS:
        return _extension(sub, rg, scope, tail[1:])
    types = tuple(rest[0::2])
    names = tuple(rest[1::2])
    ref = ResourceRef(sub, rg, namespace, types, names)
    return Route("resource", subscription=sub, resource_group=rg, namespace=namespace, resource=ref)


EXTENSIONS = frozenset(
    {
        "microsoft.authorization/roleassignments",
        "microsoft.authorization/roledefinitions",
        "microsoft.authorization/locks",
        "microsoft.insights/diagnosticsettings",
    }
)


def _extension(sub: str, rg: str | None, scope: str, ext: list[str]) -> Route:
    """`rest` = (scope path, namespace, type, name or "" for the collection)."""
    name = ext[2] if len(ext) > 2 else ""
    return Route("extension", subscription=sub, resource_group=rg, namespace=ext[0], rest=(scope, ext[0], ext[1], name))
