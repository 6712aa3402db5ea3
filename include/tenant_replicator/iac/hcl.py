"""Render the generated Terraform JSON config as native HCL (``--format hcl``), deterministically.

Why a writer of our own: the config has a fixed shape (terraform, provider, variable, resource) and
every string in it is already a Terraform template in JSON syntax (``${...}`` references, ``$${``
escapes), which native syntax reads the same way inside a quoted string. So only quoting changes:
keys sorted, two-space indentation, ``=`` aligned per block: byte-identical for the same config.
"""

from __future__ import annotations

import json
import re
from typing import Any

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# JSON escapes that HCL's quoted strings do not know (\b, \f, \/) become \u escapes.
_JSON_ONLY_ESCAPES = {"\\b": "\\u0008", "\\f": "\\u000c", "\\/": "/"}
# A string that is one interpolation and nothing else is written as the bare expression (terraform fmt's style).
_BARE = re.compile(r"^\$\{((?:azapi_resource|data\.azapi_resource)\.[A-Za-z0-9_-]+\.id|var\.[A-Za-z0-9_-]+)\}$")
_TYPE_KEYWORDS = frozenset({"string", "number", "bool", "any"})


def quote(text: str) -> str:
    """An HCL quoted template with the same meaning as ``text`` in a .tf.json string."""
    encoded = json.dumps(text, ensure_ascii=False)
    if "\\b" in encoded or "\\f" in encoded or "\\/" in encoded:
        encoded = re.sub(r"\\\\|\\[bf/]", lambda m: _JSON_ONLY_ESCAPES.get(m.group(0), m.group(0)), encoded)
    return encoded


def _key(key: str) -> str:
    return quote(key)


def value(val: Any, indent: int) -> str:
    """One expression: objects and lists spread over lines, scalars inline."""
    pad = "  " * indent
    if isinstance(val, dict):
        if not val:
            return "{}"
        pairs = [(_key(k), value(val[k], indent + 1)) for k in sorted(val)]
        return "{\n" + "\n".join(_aligned(pairs, pad + "  ")) + "\n" + pad + "}"
    if isinstance(val, list):
        if not val:
            return "[]"
        return "[\n" + "".join(f"{pad}  {value(v, indent + 1)},\n" for v in val) + pad + "]"
    if isinstance(val, str):
        bare = _BARE.match(val)
        return bare.group(1) if bare else quote(val)
    if val is True:
        return "true"
    if val is False:
        return "false"
    if val is None:
        return "null"
    return json.dumps(val)


def _attributes(block: dict[str, Any], indent: int, raw: frozenset[str] = frozenset()) -> list[str]:
    pairs = [(k, str(block[k]) if k in raw else value(block[k], indent)) for k in sorted(block)]
    return _aligned(pairs, "  " * indent)


def _aligned(pairs: list[tuple[str, str]], pad: str) -> list[str]:
    """``key = value`` lines with '=' aligned per run of one-line values, as ``terraform fmt`` does."""
    out: list[str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        width = max((len(k) for k, _ in run), default=0)
        out.extend(f"{pad}{k.ljust(width)} = {v}" for k, v in run)
        run.clear()

    for key, rendered in pairs:
        if "\n" in rendered:  # stands alone: the lines inside it end the run
            flush()
            out.append(f"{pad}{key} = {rendered}")
        else:
            run.append((key, rendered))
    flush()
    return out


def _label(text: str) -> str:
    return quote(text)


def dump_hcl(config: dict[str, Any]) -> str:
    """``main.tf`` text for a config made by ``iac.generate`` (same meaning as its main.tf.json)."""
    out: list[str] = []
    terraform = config.get("terraform") or {}
    if terraform:
        out.append("terraform {")
        providers = terraform.get("required_providers") or {}
        out.append("  required_providers {")
        out.extend(_attributes(providers, 2))
        out.append("  }")
        out.append("}")
    for name, settings in sorted((config.get("provider") or {}).items()):
        body = _attributes(settings or {}, 1)
        out.append("")
        out.append(f"provider {_label(name)} {{" + ("" if body else "}"))
        if body:
            out.extend(body)
            out.append("}")
    for name, spec in sorted((config.get("variable") or {}).items()):
        out.append("")
        out.append(f"variable {_label(name)} {{")
        spec = dict(spec)
        kind = str(spec.get("type", ""))
        raw = frozenset({"type"}) if kind in _TYPE_KEYWORDS else frozenset()
        out.extend(_attributes(spec, 1, raw))
        out.append("}")
    for entry in config.get("import") or []:
        out.append("")
        out.append("import {")
        out.extend(_attributes({"to": entry["to"], "id": entry["id"]}, 1, frozenset({"to"})))
        out.append("}")
    for rtype, blocks in sorted((config.get("resource") or {}).items()):
        for label in sorted(blocks):
            if not _IDENT.match(label):
                raise ValueError(f"resource label {label!r} is not a valid HCL identifier")
            out.append("")
            out.append(f"resource {_label(rtype)} {_label(label)} {{")
            out.extend(_attributes(blocks[label], 1))
            out.append("}")
    unknown = sorted(set(config) - {"terraform", "provider", "variable", "import", "resource"})
    if unknown:
        raise ValueError(f"cannot render top-level {unknown} as HCL")
    return "\n".join(out) + "\n"


__all__ = ["dump_hcl", "quote"]
