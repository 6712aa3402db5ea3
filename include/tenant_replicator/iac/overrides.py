"""User overrides of the generator, written in HCL (parsed with python-hcl2).

Why HCL: the people who tune a replication write Terraform; the file reads like it::

    exclude { types = ["Microsoft.Insights/*"]  resource_groups = ["rg-legacy-*"] }
    include { resource_groups = ["rg-app-*"] }          # when given, only what matches is replicated
    patch "Microsoft.Storage/storageAccounts" {           # deep-merged into every body of that type
      body = { properties = { minimumTlsVersion = "TLS1_2" } }
    }
    location_map = { westeurope = "northeurope" }         # source location -> target location
    name_map = { "/subscriptions/.../storageAccounts/logs" = "logsprod01" }  # source id -> target name
    principals = { "<source object id>" = "<target object id>" }

Patterns are shell globs, case-insensitive. Patch strings are Terraform templates exactly as
written in HCL (``${var.x}`` interpolates, ``$${`` is a literal ``${``). Every mistake raises
``OverridesError`` naming the file, the line and the key.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenant_replicator.iac.principals import normalise_principal_map

RG_TYPE = "Microsoft.Resources/resourceGroups"
TOP_KEYS = ("exclude", "include", "patch", "location_map", "name_map", "principals")
FILTER_KEYS = ("types", "resource_groups")


class OverridesError(ValueError):
    """An invalid overrides file; the message names file, line and key."""


def location_key(location: str) -> str:
    """ARM folds location names: 'West Europe' == 'westeurope'."""
    return re.sub(r"\s+", "", location).lower()


@dataclass(frozen=True)
class Overrides:
    """Parsed overrides; empty means 'change nothing'."""

    exclude_types: tuple[str, ...] = ()
    exclude_resource_groups: tuple[str, ...] = ()
    include_types: tuple[str, ...] = ()
    include_resource_groups: tuple[str, ...] = ()
    patches: dict[str, dict[str, Any]] = field(default_factory=dict)  # type lower -> body patch
    location_map: dict[str, str] = field(default_factory=dict)  # location_key -> target location
    name_map: dict[str, str] = field(default_factory=dict)  # source id lower -> target name
    principals: dict[str, str] = field(default_factory=dict)
    source: str = ""  # the file, for messages

    def skip_reason(self, arm_type: str, resource_group: str | None) -> str | None:
        """Why the overrides leave this resource out, or None."""
        low_type, low_rg = arm_type.lower(), (resource_group or "").lower()
        for pattern in self.exclude_types:
            if fnmatch.fnmatchcase(low_type, pattern.lower()):
                return f"excluded by overrides ({self.source}): type matches {pattern!r}"
        for pattern in self.exclude_resource_groups:
            if resource_group and fnmatch.fnmatchcase(low_rg, pattern.lower()):
                return f"excluded by overrides ({self.source}): resource group matches {pattern!r}"
        if not (self.include_types or self.include_resource_groups):
            return None
        by_type = any(fnmatch.fnmatchcase(low_type, p.lower()) for p in self.include_types)
        groups = self.include_resource_groups
        by_rg = bool(resource_group) and any(fnmatch.fnmatchcase(low_rg, p.lower()) for p in groups)
        if by_type or by_rg:
            return None
        return f"not included by overrides ({self.source}): neither its type nor its resource group is listed"

    def rg_skip_reason(self, name: str) -> str | None:
        """Resource groups follow the resource-group patterns only (an include by type keeps them)."""
        low = name.lower()
        for pattern in self.exclude_types:
            if fnmatch.fnmatchcase(RG_TYPE.lower(), pattern.lower()):
                return f"excluded by overrides ({self.source}): type matches {pattern!r}"
        for pattern in self.exclude_resource_groups:
            if fnmatch.fnmatchcase(low, pattern.lower()):
                return f"excluded by overrides ({self.source}): resource group matches {pattern!r}"
        if self.include_resource_groups and not any(
            fnmatch.fnmatchcase(low, p.lower()) for p in self.include_resource_groups
        ):
            return f"not included by overrides ({self.source}): resource group not listed"
        return None

    def patch_for(self, arm_type: str) -> dict[str, Any] | None:
        return self.patches.get(arm_type.lower())

    def location(self, location: str) -> str:
        return self.location_map.get(location_key(location), location)


def deep_merge(base: dict[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``patch`` merged into ``base`` in place: objects merge key by key, anything else replaces
    (lists too: a patch states the whole list). A ``null`` in the patch removes the key."""
    for key, value in patch.items():
        if value is None:
            base.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(base.get(key), dict):
            deep_merge(base[key], value)
        else:
            base[key] = _plain(value)
    return base


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# ---------------------------------------------------------------- parsing


def _line_of(text: str, *needles: str) -> int:
    """1-based line of the first needle found in order (a good pointer for the user), else 1."""
    pos = 0
    for needle in needles:
        found = text.find(needle, pos)
        if found < 0:
            break
        pos = found
    return text.count("\n", 0, pos) + 1


class _Reader:
    def __init__(self, path: str, text: str) -> None:
        self.path, self.text = path, text

    def fail(self, message: str, *needles: str) -> OverridesError:
        return OverridesError(f"{self.path}:{_line_of(self.text, *needles)}: {message}")

    def strings(self, value: Any, where: str, *needles: str) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(f"{where} must be a list of strings", *needles)
        return tuple(v.strip() for v in value)

    def str_map(self, value: Any, key: str) -> dict[str, str]:
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if not isinstance(value, dict) or not all(isinstance(v, str) and v.strip() for v in value.values()):
            raise self.fail(f"{key} must be an object of string = string", key)
        return {str(k).strip(): v.strip() for k, v in value.items() if not str(k).startswith("__")}

    def filters(self, blocks: Any, key: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        types: list[str] = []
        groups: list[str] = []
        for block in blocks if isinstance(blocks, list) else [blocks]:
            if not isinstance(block, dict):
                raise self.fail(f"{key} must be a block: {key} {{ types = [...] resource_groups = [...] }}", key)
            for name, value in block.items():
                if name.startswith("__"):
                    continue
                if name not in FILTER_KEYS:
                    raise self.fail(f"{key}.{name}: unknown key (expected one of {', '.join(FILTER_KEYS)})", key, name)
                (types if name == "types" else groups).extend(self.strings(value, f"{key}.{name}", key, name))
        return tuple(types), tuple(groups)

    def patches(self, blocks: Any) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for block in blocks if isinstance(blocks, list) else [blocks]:
            if not isinstance(block, dict) or len([k for k in block if not k.startswith("__")]) != 1:
                raise self.fail('patch must be a labelled block: patch "<type>" { body = { ... } }', "patch")
            (arm_type, inner), *_ = [(k, v) for k, v in block.items() if not k.startswith("__")]
            where = f'patch "{arm_type}"'
            if "/" not in arm_type:
                raise self.fail(f"{where}: the label must be an ARM type (Microsoft.Storage/storageAccounts)", arm_type)
            if not isinstance(inner, dict):
                raise self.fail(f"{where}: expected {{ body = {{ ... }} }}", arm_type)
            unknown = [k for k in inner if not k.startswith("__") and k != "body"]
            if unknown:
                raise self.fail(f"{where}.{unknown[0]}: unknown key (expected body)", arm_type, unknown[0])
            body = inner.get("body")
            if isinstance(body, list) and len(body) == 1:
                body = body[0]
            if not isinstance(body, dict):
                raise self.fail(f"{where}.body must be an object", arm_type, "body")
            if arm_type.lower() in out:
                raise self.fail(f"{where}: patched twice (merge the two blocks)", arm_type)
            out[arm_type.lower()] = _strip_meta(body)
        return out


def _strip_meta(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_meta(v) for k, v in value.items() if not str(k).startswith("__")}
    if isinstance(value, list):
        return [_strip_meta(v) for v in value]
    return value


def parse_overrides(text: str, path: str = "overrides.hcl") -> Overrides:
    """Parse overrides text; OverridesError names ``path``, the line and the key of the first problem."""
    import hcl2

    try:
        doc = hcl2.loads(text, serialization_options=hcl2.SerializationOptions(strip_string_quotes=True))
    except Exception as error:  # lark's parse errors carry line and column
        line = getattr(error, "line", None)
        where = f"{path}:{line}" if line else path
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise OverridesError(f"{where}: not valid HCL ({first})") from error
    reader = _Reader(path, text)
    for key in doc:
        if key not in TOP_KEYS and not key.startswith("__"):
            raise reader.fail(f"unknown key {key!r} (expected one of {', '.join(TOP_KEYS)})", key)
    exclude_types, exclude_rgs = reader.filters(doc["exclude"], "exclude") if "exclude" in doc else ((), ())
    include_types, include_rgs = reader.filters(doc["include"], "include") if "include" in doc else ((), ())
    locations = reader.str_map(doc["location_map"], "location_map") if "location_map" in doc else {}
    names = reader.str_map(doc["name_map"], "name_map") if "name_map" in doc else {}
    for source_id in names:
        if not source_id.lower().startswith("/subscriptions/"):
            raise reader.fail(f"name_map key {source_id!r} must be a source resource id (/subscriptions/..)", source_id)
    principals: dict[str, str] = {}
    if "principals" in doc:
        try:
            principals = normalise_principal_map(reader.str_map(doc["principals"], "principals"))
        except OverridesError:
            raise
        except ValueError as error:
            raise reader.fail(f"principals: {error}", "principals") from error
    return Overrides(
        exclude_types=exclude_types,
        exclude_resource_groups=exclude_rgs,
        include_types=include_types,
        include_resource_groups=include_rgs,
        patches=reader.patches(doc["patch"]) if "patch" in doc else {},
        location_map={location_key(k): v for k, v in locations.items()},
        name_map={k.rstrip("/").lower(): v for k, v in names.items()},
        principals=principals,
        source=path,
    )


def load_overrides(path: Path) -> Overrides:
    """Read and parse an overrides file (see the module docstring)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise OverridesError(f"{path}: cannot read overrides ({error.strerror})") from error
    return parse_overrides(text, str(path))


__all__ = ["Overrides", "OverridesError", "deep_merge", "load_overrides", "location_key", "parse_overrides"]
