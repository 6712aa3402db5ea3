"""One entry point for the DAG: generate a campaign's Terraform from what the campaign directory holds.

Why here: the ``generate`` task must read the user's overrides and principal map, keep the secret
store filled and write every artefact fidelity and the terraform step rely on; ``iteration.generate``
only fetches inputs from the graph and delegates (one call).

Campaign directory (``ctx["campaign_dir"]``): ``overrides.hcl`` (optional, ``iac.overrides``),
``principals.json`` / ``principals.hcl`` (optional, ``iac.principals``), ``secrets/`` (``iac.secrets``),
``skipped.json``, ``labels.json``, ``unmapped_references.json``; ``ctx["tf_dir"]``: ``main.tf.json``
(or ``main.tf``), ``name_map.json``, ``imports.tf.json``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tenant_replicator.iac.generate import GenerateResult, generate, write_config
from tenant_replicator.iac.overrides import Overrides, load_overrides
from tenant_replicator.iac.principals import load_principal_map
from tenant_replicator.iac.secrets import ensure_secrets

OVERRIDES_FILE = "overrides.hcl"
PRINCIPAL_FILES = ("principals.json", "principals.hcl")


def campaign_overrides(campaign_dir: Path, path: Path | None = None) -> Overrides | None:
    """The overrides given by ``path``, else ``<campaign_dir>/overrides.hcl`` when present."""
    chosen = Path(path) if path is not None else Path(campaign_dir) / OVERRIDES_FILE
    if path is None and not chosen.is_file():
        return None
    return load_overrides(chosen)


def campaign_principals(campaign_dir: Path, path: Path | None = None) -> dict[str, str] | None:
    """The principal map given by ``path``, else the campaign's ``principals.json``/``.hcl`` when present."""
    if path is not None:
        return load_principal_map(Path(path))
    for name in PRINCIPAL_FILES:
        candidate = Path(campaign_dir) / name
        if candidate.is_file():
            return load_principal_map(candidate)
    return None


def managed_addresses(tf_dir: Path) -> set[str]:
    """Addresses in the local state (``terraform.tfstate``), so adoption imports skip what is managed.

    A remote backend leaves this empty: an import block for a managed address is then a no-op for
    terraform and ``terraform.imports.refresh_imports`` drops it after the apply.
    """
    path = Path(tf_dir) / "terraform.tfstate"
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {
        f"{r.get('type')}.{r.get('name')}"
        for r in state.get("resources") or []
        if r.get("mode") == "managed" and r.get("instances")
    }


def _write_json(path: Path, value: Any) -> None:
    path.write_text(json.dumps(value, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def summary(result: GenerateResult, listed: int = 20) -> dict[str, Any]:
    """What an iteration reports (XCom-safe: names and counts, never secret values)."""
    return {
        "resources_emitted": result.resource_count,
        "skipped_count": len(result.skipped),
        "skipped": result.skipped[:listed],
        "inline_count": len(result.inline),
        "unmapped_references_count": len(result.unmapped_references),
        "unmapped_references": result.unmapped_references[:listed],
        "imports_count": len(result.imports or {}),
        "imports": sorted(result.imports or {})[:listed],
        "secret_variables_count": len(result.variables),
        "notes": result.notes[:listed],
    }


def generate_for_campaign(
    settings: Any,
    ctx: Mapping[str, Any],
    *,
    source_resources: Iterable[dict[str, Any]],
    resource_groups: Iterable[dict[str, Any]],
    target_resources: Iterable[dict[str, Any]] | None = None,
    fmt: str = "json",
) -> dict[str, Any]:
    """Generate, write and secure one campaign's config; returns the iteration's generate summary.

    ``ctx`` is ``iteration.prepare``'s: ``campaign_dir``, ``tf_dir``, ``source_subscription``,
    ``target_subscription``, ``nonce``. ``target_resources`` (the target's latest scan) turns
    pre-existing target resources into imports; pass None to adopt nothing. ``settings`` is accepted
    for the DAG's uniform call shape (nothing in it is needed yet).
    """
    del settings
    started = time.monotonic()
    campaign_dir, tf_dir = Path(ctx["campaign_dir"]), Path(ctx["tf_dir"])
    overrides = campaign_overrides(campaign_dir)
    principals = campaign_principals(campaign_dir)
    result = generate(
        source_resources,
        resource_groups,
        ctx["source_subscription"],
        ctx["target_subscription"],
        ctx["nonce"],
        principal_map=principals,
        overrides=overrides,
        target_resources=target_resources,
        emit_secrets=True,
    )
    if result.imports:
        managed = managed_addresses(tf_dir)
        result.imports = {a: i for a, i in result.imports.items() if a not in managed}
    secrets = ensure_secrets(campaign_dir, result.variables)  # before the config that needs them
    tf_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_config(result, tf_dir, fmt)
    _write_json(campaign_dir / "skipped.json", result.skipped)
    _write_json(campaign_dir / "labels.json", result.labels)
    _write_json(campaign_dir / "unmapped_references.json", result.unmapped_references)
    for name in ("skipped.json", "labels.json", "unmapped_references.json"):
        os.chmod(campaign_dir / name, 0o600)
    report = summary(result)
    report.update(secrets_created=secrets["created"], duration_s=round(time.monotonic() - started, 3))
    return report


__all__ = ["campaign_overrides", "campaign_principals", "generate_for_campaign", "managed_addresses", "summary"]
