"""`tenant-replicator generate`: azapi Terraform for a source subscription, from the graph or an export.

Input is the graph (``TENANT_REPLICATOR_GRAPH_URI``, the latest scan of ``--source-subscription``) or
a directory of ARM GET payloads (``--from-arm-json DIR``). The config goes to ``--out`` (default
``./terraform``); secret values for write-only properties go to ``<out>/../secrets`` (0700/0600;
``tenant_replicator.iac.secrets.tf_var_env(out)`` gives terraform's ``TF_VAR_*`` environment).
The summary lists what was emitted, what was skipped and why, and references that could not be mapped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from-arm-json", dest="arm_dir", type=Path, help="directory of ARM GET payloads")
    parser.add_argument("--source-subscription", help="source subscription (required with the graph)")
    parser.add_argument("--target-subscription", required=True, help="subscription the config deploys into")
    parser.add_argument(
        "--resource-group",
        dest="resource_groups",
        action="append",
        default=[],
        help="only this resource group (repeatable; case-insensitive)",
    )
    parser.add_argument("--overrides", type=Path, help="HCL overrides (exclude/include, patch, location_map, ...)")
    parser.add_argument("--principal-map", type=Path, help="JSON or HCL map of source -> target principal ids")
    parser.add_argument("--format", dest="fmt", choices=("json", "hcl"), default="json", help="main.tf.json or main.tf")
    parser.add_argument("--out", type=Path, default=Path("terraform"), help="directory for the config (created)")
    parser.add_argument("--nonce", default=None, help="suffix of globally unique names (default: from the pair)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def _from_graph(source: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from tenant_replicator.graph.store import open_graph
    from tenant_replicator.scan import read_resource_groups, read_resources
    from tenant_replicator.settings import load_settings

    if not os.environ.get("TENANT_REPLICATOR_GRAPH_URI"):
        raise ValueError("reading the graph needs TENANT_REPLICATOR_GRAPH_URI (or use --from-arm-json DIR)")
    settings = load_settings()
    store = open_graph(settings.graph_uri, settings.graph_name)
    try:
        return read_resources(store, source), read_resource_groups(store, source)
    finally:
        store.close()


def _rg_of(resource_id: str) -> str | None:
    parts = resource_id.strip("/").split("/")
    return parts[3].lower() if len(parts) > 3 and parts[2].lower() == "resourcegroups" else None


Payloads = list[dict[str, Any]]


def load_inputs(args: argparse.Namespace) -> tuple[str, Payloads, Payloads, list[dict[str, str]]]:
    """(source subscription, resources, resource groups, input problems) after the filters."""
    problems: list[dict[str, str]] = []
    if args.arm_dir is not None:
        from tenant_replicator.iac.arm_json import load_arm_dir

        export = load_arm_dir(args.arm_dir)
        problems = list(export.problems)
        if not export.resources and not export.resource_groups:
            raise ValueError(f"{args.arm_dir}: no usable ARM payload ({len(problems)} problem(s))")
        source = (args.source_subscription or (export.subscriptions or [""])[0]).lower()
        resources, groups = export.resources, export.resource_groups
    else:
        if not args.source_subscription:
            raise ValueError("--source-subscription is required when reading the graph")
        source = args.source_subscription.lower()
        resources, groups = _from_graph(source)

    def in_source(rid: str) -> bool:
        parts = rid.strip("/").split("/")
        return len(parts) > 1 and parts[1].lower() == source

    outside = [r for r in resources if not in_source(str(r.get("id", "")))]
    problems += [{"file": "", "id": r["id"], "reason": f"not in source subscription {source}"} for r in outside]
    resources = [r for r in resources if in_source(str(r.get("id", "")))]
    groups = [g for g in groups if in_source(str(g.get("id", "")))]
    if args.resource_groups:
        wanted = {g.lower() for g in args.resource_groups}
        resources = [r for r in resources if _rg_of(r["id"]) in wanted]
        groups = [g for g in groups if _rg_of(g["id"]) in wanted]
        missing = sorted(wanted - {_rg_of(g["id"]) for g in groups})
        if missing:
            raise ValueError(f"resource group(s) not in the input: {', '.join(missing)}")
    return source, resources, groups, problems


def render(summary: dict[str, Any]) -> str:
    """The human summary: counts first, then every skip and unmapped reference with its reason."""
    lines = [
        f"config: {summary['config']}",
        f"resources emitted: {summary['resources_emitted']} (inline children: {summary['inline_count']})",
        f"skipped: {summary['skipped_count']}",
    ]
    lines += [f"  - {s['id']} ({s['type']}): {s['reason']}" for s in summary["skipped"]]
    lines.append(f"unmapped references: {summary['unmapped_references_count']}")
    lines += [f"  - {u['id']} -> {u['reference']}" for u in summary["unmapped_references"]]
    lines.append(f"input problems: {len(summary['input_problems'])}")
    lines += [f"  - {p.get('file') or p.get('id')}: {p['reason']}" for p in summary["input_problems"]]
    lines.append(f"adoption imports: {summary['imports_count']}")
    lines.append(
        f"secret variables: {summary['secret_variables_count']} (values in {summary['secrets_store']}, "
        "passed to terraform as TF_VAR_*)"
    )
    lines += [f"note: {n}" for n in summary["notes"]]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from tenant_replicator.iac.campaign import campaign_overrides, campaign_principals
    from tenant_replicator.iac.generate import generate, write_config
    from tenant_replicator.iac.secrets import ensure_secrets, store_path_for_tf_dir

    try:
        source, resources, groups, problems = load_inputs(args)
        out = args.out.resolve()
        overrides = campaign_overrides(out.parent, args.overrides) if args.overrides else None
        principals = campaign_principals(out.parent, args.principal_map) if args.principal_map else None
        nonce = args.nonce or source.replace("-", "")[:6]
        result = generate(
            resources,
            groups,
            source,
            args.target_subscription,
            nonce,
            principal_map=principals,
            overrides=overrides,
            emit_secrets=True,
        )
        ensure_secrets(out.parent, result.variables)
        main = write_config(result, out, args.fmt)
    except (ValueError, OSError) as error:
        print(f"generate: {error}", file=sys.stderr)
        return 2
    summary = {
        "config": str(main),
        "resources_emitted": result.resource_count,
        "inline_count": len(result.inline),
        "skipped_count": len(result.skipped),
        "skipped": result.skipped,
        "unmapped_references_count": len(result.unmapped_references),
        "unmapped_references": result.unmapped_references,
        "input_problems": problems,
        "imports_count": len(result.imports or {}),
        "secret_variables_count": len(result.variables),
        "secrets_store": str(store_path_for_tf_dir(out)),
        "notes": result.notes,
    }
    print(json.dumps(summary, indent=1, sort_keys=True) if args.json else render(summary))
    return 0
