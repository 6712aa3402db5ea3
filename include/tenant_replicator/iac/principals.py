"""The principal map: which identity in the target tenant stands for each source principal.

Role assignments name principals (users, groups, service principals) by object ID; those IDs do
not exist in another tenant, so copying them gives ``PrincipalNotFound``. With a map a role
assignment is replicated for the mapped principal; without one it is skipped with the reason.

Accepted files (the format follows the extension):
- JSON: ``{"<source object id>": "<target object id>", ...}`` or ``{"principals": {...}}``;
- HCL: ``principals = { "<source>" = "<target>" }`` (parsed with python-hcl2).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)


def _parse(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".hcl", ".tf", ".tfvars"):
        import hcl2

        return hcl2.loads(text)
    return json.loads(text)


def _unwrap(document: Any) -> Mapping[str, Any]:
    if isinstance(document, dict) and "principals" in document:
        document = document["principals"]
    if isinstance(document, list) and len(document) == 1:  # hcl2 renders a map attribute as [map]
        document = document[0]
    if not isinstance(document, dict):
        raise ValueError("a principal map is an object of source object id -> target object id")
    return document


def normalise_principal_map(raw: Mapping[str, Any]) -> dict[str, str]:
    """Lower-cased GUID -> GUID; ValueError naming the first entry that is not a pair of GUIDs."""
    out: dict[str, str] = {}
    for source, target in raw.items():
        source_id, target_id = str(source).strip().strip('"'), str(target).strip().strip('"')
        if not _GUID.match(source_id) or not _GUID.match(target_id):
            raise ValueError(f"principal map entry {source!r} = {target!r} is not a pair of object ids (GUIDs)")
        out[source_id.lower()] = target_id
    return out


def load_principal_map(path: Path) -> dict[str, str]:
    """Read a JSON or HCL principal map file (see the module docstring)."""
    path = Path(path)
    try:
        return normalise_principal_map(_unwrap(_parse(path)))
    except (OSError, ValueError) as error:
        raise ValueError(f"principal map {path}: {error}") from error
    except Exception as error:  # hcl2's parse errors are lark exceptions
        raise ValueError(f"principal map {path}: not valid HCL ({error})") from error


__all__ = ["load_principal_map", "normalise_principal_map"]
