"""Rehearse a replication of an ARM export against the simulator: a dry run before Azure.

get (load the payload directory) -> load into a private simulator's SOURCE subscription through the
ARM API (each payload PUT with its own api-version) -> generate -> terraform validate/plan/apply
into the TARGET -> rescan both -> fidelity. Everything that could not take part is listed with the
reason, split by whose limit it is: the export (bad payloads), the simulator (types or
api-versions it does not serve) or the generator (deliberate skips).

Wiring like ``demo``: it starts services through ``devstack`` and reads the simulator's subscription
IDs; the library proper never imports this module.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenant_replicator.arm.ids import find_arm_ids
from tenant_replicator.iac.arm_json import LoadedExport, load_arm_dir, swap_subscription
from tenant_replicator.iac.ids import parse_resource_id
from tenant_replicator.iac.registry import FALLBACK_API_VERSION, canonical_type, lookup

RG_API_VERSION = "2021-04-01"
DEFAULT_RG_LOCATION = "eastus"  # for a derived group whose resources are all global
# ARM answers these when the provider does not serve the type or api-version.
UNSERVED_CODES = frozenset({"InvalidResourceType", "NoRegisteredProviderFound", "InvalidApiVersionParameter"})
# Principals and custom roles live in the export's tenant: the simulator's directory cannot know them.
DIRECTORY_CODES = frozenset({"PrincipalNotFound", "RoleDefinitionDoesNotExist"})
PAYLOAD_ONLY_KEYS = frozenset({"apiVersion", "resourceGroup"})  # export annotations, not ARM body keys
LRO_TIMEOUT_S = 60.0


# ---------------------------------------------------------------- seeding the source


@dataclass
class SeedOutcome:
    """What the source subscription accepted, and what it refused with ARM's own words."""

    seeded: list[dict[str, Any]] = field(default_factory=list)
    groups: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, str]] = field(default_factory=list)  # {id, type, api_version, code, reason, limit}


def api_version_of(payload: Mapping[str, Any]) -> str:
    """The payload's own api-version (the export's), else the registry's default for its type."""
    return str(payload.get("apiVersion") or lookup(str(payload["type"])).default_api_version or FALLBACK_API_VERSION)


def _on_cycle(start: str, needs: Mapping[str, set[str]], pending: set[str]) -> bool:
    """True when ``start`` can reach itself through pending dependencies."""
    stack, seen = list(needs[start] & pending), set()
    while stack:
        key = stack.pop()
        if key == start:
            return True
        if key not in seen:
            seen.add(key)
            stack.extend(needs[key] & pending)
    return False


def seed_order(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parents and referenced resources before the resources that need them (id order otherwise).

    ``managedBy`` is the platform's back-reference (a disk names the VM that attached it), not a
    dependency. A real reference cycle is entered at its first member in id order, never at a
    resource that merely waits for the cycle (ARM refuses what it cannot link, and that is reported).
    """
    by_key = {r["id"].lower(): r for r in resources}
    needs: dict[str, set[str]] = {}
    for resource in resources:
        key = resource["id"].lower()
        body = {k: v for k, v in resource.items() if k != "managedBy"}
        wanted = set()
        for ref in find_arm_ids(body) | {parse_resource_id(resource["id"]).parent or ""}:
            ref_key = ref.lower()
            while ref_key and ref_key not in by_key and ref_key.count("/") > 2:
                ref_key = ref_key.rsplit("/", 1)[0]
            if ref_key in by_key and ref_key != key and not ref_key.startswith(key + "/"):
                wanted.add(ref_key)
        needs[key] = wanted
    ordered: list[dict[str, Any]] = []
    placed: set[str] = set()
    pending = sorted(by_key)
    while pending:
        ready = [k for k in pending if needs[k] <= placed]
        if not ready:
            left = set(pending)
            ready = [next((k for k in pending if _on_cycle(k, needs, left)), pending[0])]
        for key in ready:
            ordered.append(by_key[key])
            placed.add(key)
        pending = [k for k in pending if k not in placed]
    return ordered


class ArmSession:
    """Minimal ARM client for the rehearsal: PUT with the payload's api-version, follow async operations."""

    def __init__(self, endpoint: str, ca_file: str, token: str = "rehearsal") -> None:
        import requests

        self.endpoint = endpoint.rstrip("/")
        self.http = requests.Session()
        self.verify = ca_file  # per request: REQUESTS_CA_BUNDLE would override a session-level verify
        self.http.headers.update({"Authorization": f"Bearer {token}", "Content-Type": "application/json"})

    def close(self) -> None:
        self.http.close()

    def get(self, resource_id: str, api_version: str) -> tuple[int, dict[str, Any]]:
        response = self.http.get(
            f"{self.endpoint}{resource_id}", params={"api-version": api_version}, timeout=60, verify=self.verify
        )
        return response.status_code, _json(response)

    def put(self, resource_id: str, api_version: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """PUT and, for a long-running operation, wait for its end; (status, body or error document)."""
        response = self.http.put(
            f"{self.endpoint}{resource_id}",
            params={"api-version": api_version},
            json=body,
            timeout=60,
            verify=self.verify,
        )
        status, document = response.status_code, _json(response)
        if status in (201, 202) and (response.headers.get("Azure-AsyncOperation") or response.headers.get("Location")):
            status, document = self._wait(response, resource_id, api_version)
        return status, document

    def _wait(self, response: Any, resource_id: str, api_version: str) -> tuple[int, dict[str, Any]]:
        deadline = time.monotonic() + LRO_TIMEOUT_S
        operation = response.headers.get("Azure-AsyncOperation")
        location = response.headers.get("Location")
        while time.monotonic() < deadline:
            time.sleep(min(float(response.headers.get("Retry-After") or 0.2), 1.0))
            response = self.http.get(operation or location, timeout=60, verify=self.verify)
            document = _json(response)
            if operation:
                state = str(document.get("status", "")).lower()
                if state in ("succeeded", "failed", "canceled"):
                    if state != "succeeded":
                        return 409, {"error": document.get("error") or {"code": "OperationFailed", "message": state}}
                    return self.get(resource_id, api_version)
            elif response.status_code != 202:
                return response.status_code, document
        return 408, {"error": {"code": "Timeout", "message": f"no result after {LRO_TIMEOUT_S:.0f} s"}}


def _json(response: Any) -> dict[str, Any]:
    try:
        document = response.json()
    except ValueError:
        return {}
    return document if isinstance(document, dict) else {}


def _error(document: Mapping[str, Any], status: int) -> tuple[str, str]:
    error = document.get("error") if isinstance(document.get("error"), dict) else {}
    return str(error.get("code") or f"HTTP{status}"), str(error.get("message") or "")[:400]


def classify_refusal(code: str, message: str, arm_type: str, api: str, source: str) -> tuple[str, str]:
    """(whose limit, reason) of a refused PUT: the simulator's, or the export's own problem."""
    if code in UNSERVED_CODES:
        return "simulator", f"the simulator does not serve {arm_type}@{api} ({code})"
    if code in DIRECTORY_CODES:
        return "simulator", f"the simulator's directory does not know it: {code}: {message}"
    if code == "LinkedInvalidPropertyId":
        linked = sorted(find_arm_ids(message))
        outside = [i for i in linked if parse_resource_id(i).subscription.lower() != source.lower()]
        if outside:
            return "simulator", (
                f"references {outside[0]} outside the rehearsed subscription, which the simulator cannot know ({code})"
            )
    return "export", f"the source refused the payload: {code}: {message}"


def seed_source(
    session: ArmSession,
    resources: list[dict[str, Any]],
    groups: list[dict[str, Any]],
    source_subscription: str,
) -> SeedOutcome:
    """PUT the resource groups, then every payload (parents first) into the source subscription."""
    out = SeedOutcome()
    failed_groups: dict[str, str] = {}
    for group in groups:
        body = {"location": group.get("location") or DEFAULT_RG_LOCATION, "tags": group.get("tags") or {}}
        status, document = session.put(group["id"], RG_API_VERSION, body)
        if status in (200, 201):
            out.groups.append({**group, "location": body["location"]})
        else:
            code, message = _error(document, status)
            failed_groups[group["id"].lower()] = f"{code}: {message}"
            out.refused.append(
                {
                    "id": group["id"],
                    "type": "Microsoft.Resources/resourceGroups",
                    "api_version": RG_API_VERSION,
                    "code": code,
                    "reason": message,
                    "limit": "export",
                }
            )
    refused_keys: set[str] = set(failed_groups)
    for payload in seed_order(resources):
        api = api_version_of(payload)
        blocked = next((k for k in refused_keys if payload["id"].lower().startswith(k + "/")), None)
        entry = {"id": payload["id"], "type": canonical_type(payload["type"]), "api_version": api}
        if blocked:
            refused_keys.add(payload["id"].lower())
            out.refused.append(
                {
                    **entry,
                    "code": "ParentNotRehearsed",
                    "reason": f"its parent {blocked} could not be put into the source",
                    "limit": "parent",
                }
            )
            continue
        body = {k: v for k, v in payload.items() if k not in PAYLOAD_ONLY_KEYS}
        status, document = session.put(payload["id"], api, body)
        if status in (200, 201):
            out.seeded.append(payload)
            continue
        code, message = _error(document, status)
        refused_keys.add(payload["id"].lower())
        limit, reason = classify_refusal(code, message, entry["type"], api, source_subscription)
        out.refused.append({**entry, "code": code, "reason": reason, "limit": limit})
    return out


# ---------------------------------------------------------------- terraform


def run_terraform(tf_dir: Path, env: dict[str, str], apply_timeout: float) -> dict[str, Any]:
    """validate -> plan -> apply -> re-plan; the re-plan says whether the target converged."""
    from tenant_replicator.terraform.runner import Terraform, TerraformFailed, apply_summary

    tf = Terraform(tf_dir, env)
    report: dict[str, Any] = {"validate": None, "apply": None, "replan_changes": None}
    try:
        tf.validate()
        report["validate"] = "valid"
        plan = tf.plan(out="tfplan")
        result = tf.apply("tfplan", timeout=apply_timeout)
        report["apply"] = apply_summary(plan, result, max_listed=200)
        report["applied_ids"] = result.applied_ids
        report["replan_changes"] = tf.plan(out="tfplan.check").changes
    except TerraformFailed as error:
        report["error"] = str(error)
        report["diagnostics"] = [
            {k: d.get(k) for k in ("severity", "summary", "detail", "address")} for d in error.diagnostics[:50]
        ]
    return report


# ---------------------------------------------------------------- measuring


def bodies_by_get(
    session: ArmSession, payloads: Iterable[dict[str, Any]], ids: Callable[[dict[str, Any]], str | None]
) -> list[dict[str, Any]]:
    """GET bodies of the given resources (those the listing does not return)."""
    found = []
    for payload in payloads:
        resource_id = ids(payload)
        if not resource_id:
            continue
        status, body = session.get(resource_id, api_version_of(payload))
        if status == 200 and body.get("id"):
            found.append(body)
    return found


def measured_resources(
    session: ArmSession,
    rehearsed: list[dict[str, Any]],
    source_scanned: list[dict[str, Any]],
    target_scanned: list[dict[str, Any]],
    name_map: Mapping[str, str],
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(source, target) resources to measure: the scans, plus a GET of every rehearsed resource the
    scans do not list (ARM's list returns top-level resources only: children and extension resources
    such as role assignments are read one by one), so nothing rehearsed drops out of the count."""
    wanted = {r["id"].lower() for r in rehearsed}
    source = [r for r in source_scanned if r["id"].lower() in wanted]
    seen_source = {r["id"].lower() for r in source}
    seen_target = {r["id"].lower() for r in target_scanned}
    unlisted = [p for p in rehearsed if p["id"].lower() not in seen_source]
    source += bodies_by_get(session, unlisted, lambda p: p["id"])
    target = target_scanned + bodies_by_get(
        session,
        [p for p in unlisted if str(name_map.get(p["id"].lower(), "")).lower() not in seen_target],
        lambda p: name_map.get(p["id"].lower()),
    )
    return source, target


def type_summary(
    fidelity: dict[str, Any], generated: Any, outcome: SeedOutcome, export: LoadedExport
) -> dict[str, Any]:
    """Per type: rehearsed (with fidelity), not claimed by the generator, or not rehearsed, and why."""
    claimed = {canonical_type(i["type"]) for i in generated.inline}
    skipped_types: dict[str, list[str]] = {}
    for entry in generated.skipped:
        skipped_types.setdefault(canonical_type(entry["type"]), []).append(entry["reason"])
    emitted = set(fidelity["per_type"]) | claimed
    not_claimed = {t: sorted(set(r)) for t, r in skipped_types.items() if t not in emitted}
    not_rehearsed: dict[str, list[str]] = {}
    for entry in outcome.refused:
        if entry["type"] not in emitted:
            not_rehearsed.setdefault(entry["type"], []).append(entry["reason"])
    bad_payloads = sorted({p["reason"] for p in export.problems})
    return {
        "rehearsed": fidelity["per_type"],
        "not_claimed_by_generator": not_claimed,
        "not_rehearsed": {t: sorted(set(r)) for t, r in sorted(not_rehearsed.items())},
        "simulator_missing": sorted(
            {f"{e['type']}@{e['api_version']}" for e in outcome.refused if e["code"] in UNSERVED_CODES}
        ),
        "export_problems": bad_payloads,
    }


def failure_reasons(apply_report: dict[str, Any] | None, labels: Mapping[str, str]) -> dict[str, str]:
    """source id -> the apply error of its Terraform resource."""
    reasons = {}
    for failure in (apply_report or {}).get("failed", []):
        address = str(failure.get("address") or "")
        label = address.rsplit(".", 1)[-1]
        if label in labels:
            code = failure.get("arm_code") or ""
            reasons[labels[label].lower()] = f"{code} {failure.get('summary', '')}".strip()
    return reasons


# ---------------------------------------------------------------- the rehearsal


def rehearse(
    arm_dir: Path,
    workdir: Path,
    *,
    principal_map: Mapping[str, str] | None = None,
    nonce: str = "rehearse",
    apply_timeout: float = 900.0,
    keep: bool = False,
) -> dict[str, Any]:
    """Replicate the export in ``arm_dir`` from the simulator's source into its target; the report."""
    from tenant_replicator import devstack
    from tenant_replicator.graph.store import open_graph
    from tenant_replicator.iac.generate import generate, write_config
    from tenant_replicator.iac.secrets import ensure_secrets, tf_var_env
    from tenant_replicator.iteration import writable_properties
    from tenant_replicator.scan import read_resources, scan_subscription
    from tenant_replicator.settings import load_settings
    from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID as SOURCE
    from tenant_replicator.sim.seed import TARGET_SUBSCRIPTION_ID as TARGET
    from tenant_replicator.tfprovider.install import write_cli_config

    timings: dict[str, float] = {}
    started = time.monotonic()
    export = load_arm_dir(arm_dir)
    if not export.resources:
        raise ValueError(
            f"{arm_dir}: no usable ARM payload ({len(export.problems)} problem(s): "
            + "; ".join(p["reason"] for p in export.problems[:5])
            + ")"
        )
    export_sub = export.subscriptions[0]
    for resource in [r for r in export.resources if parse_resource_id(r["id"]).subscription.lower() != export_sub]:
        export.problems.append(
            {"file": "", "id": resource["id"], "reason": f"not in the export's subscription {export_sub}"}
        )
    resources = swap_subscription(
        [r for r in export.resources if parse_resource_id(r["id"]).subscription.lower() == export_sub],
        export_sub,
        SOURCE,
    )
    groups = swap_subscription(
        [g for g in export.resource_groups if parse_resource_id(g["id"]).subscription.lower() == export_sub],
        export_sub,
        SOURCE,
    )
    timings["load_s"] = round(time.monotonic() - started, 3)

    workdir = Path(workdir).resolve()
    tf_dir = workdir / "terraform"
    for stale in tf_dir.glob("terraform.tfstate*"):  # every rehearsal starts from a fresh simulator
        stale.unlink()
    stack = devstack.start_stack(workdir / "stack", airflow=False, slack=False)
    try:
        session = ArmSession(stack.arm_endpoint, stack.ca_file)
        mark = time.monotonic()
        outcome = seed_source(session, resources, groups, SOURCE)
        timings["seed_s"] = round(time.monotonic() - mark, 3)

        mark = time.monotonic()
        generated = generate(
            outcome.seeded, outcome.groups, SOURCE, TARGET, nonce, principal_map=principal_map, emit_secrets=True
        )
        ensure_secrets(workdir, generated.variables)  # the rehearsal's own store: <workdir>/secrets
        write_config(generated, tf_dir)
        timings["generate_s"] = round(time.monotonic() - mark, 3)

        mark = time.monotonic()
        env = {**stack.env, "TF_CLI_CONFIG_FILE": str(write_cli_config(workdir / "tfprovider")), **tf_var_env(tf_dir)}
        terraform = run_terraform(tf_dir, env, apply_timeout)
        timings["terraform_s"] = round(time.monotonic() - mark, 3)

        mark = time.monotonic()
        settings = load_settings(stack.env)
        store = open_graph(stack.graph_uri, "rehearsal")
        try:
            scans = {
                sub: scan_subscription(settings, store, sub, f"rehearse-{uuid.uuid4().hex[:8]}")
                for sub in (SOURCE, TARGET)
            }
            source_scanned = read_resources(store, SOURCE)
            target_scanned = read_resources(store, TARGET)
        finally:
            store.close()
        source_all, target_all = measured_resources(
            session, outcome.seeded, source_scanned, target_scanned, generated.name_map
        )
        timings["rescan_s"] = round(time.monotonic() - mark, 3)
        session.close()
    finally:
        if not keep:
            stack.stop()

    from tenant_replicator.fidelity import compute_fidelity

    fidelity = compute_fidelity(
        source_all,
        target_all,
        generated.name_map,
        source_complete=bool(scans[SOURCE]["complete"]),
        target_complete=bool(scans[TARGET]["complete"]),
        out_of_scope={s["id"].lower(): s["reason"] for s in generated.skipped},
        failure_reasons=failure_reasons(terraform.get("apply"), generated.labels),
        canonical_type=canonical_type,
        writable=writable_properties,
    )
    types = type_summary(fidelity, generated, outcome, export)
    timings["total_s"] = round(time.monotonic() - started, 3)
    apply_ok = bool((terraform.get("apply") or {}).get("ok"))
    return {
        "export": {
            "dir": str(arm_dir),
            "files": export.files,
            "subscription": export_sub,
            "payloads": len(export.resources) + len(export.resource_groups),
            "problems": export.problems,
            "notes": export.notes,
        },
        "simulator": {
            "source_subscription": SOURCE,
            "target_subscription": TARGET,
            "endpoint": stack.arm_endpoint if keep else None,
        },
        "seed": {
            "resource_groups": len(outcome.groups),
            "resources": len(outcome.seeded),
            "not_rehearsed": outcome.refused,
        },
        "generate": {
            "emitted": generated.resource_count,
            "skipped": generated.skipped,
            "inline": generated.inline,
            "unmapped_references": generated.unmapped_references,
            "main_tf_json": str(tf_dir / "main.tf.json"),
        },
        "terraform": {k: v for k, v in terraform.items() if k != "applied_ids"},
        "scan": {sub: {k: scans[sub][k] for k in ("resources", "complete", "errors", "duration_s")} for sub in scans},
        "fidelity": fidelity,
        "types": types,
        "ok": apply_ok
        and terraform.get("replan_changes") is False
        and all(row["percent"] == 100.0 for row in fidelity["per_type"].values()),
        "timings": timings,
    }


def render_text(report: dict[str, Any]) -> str:
    """The report for a terminal: the fidelity table first, then everything that did not take part."""
    fid = report["fidelity"]
    apply_ok = bool((report["terraform"].get("apply") or {}).get("ok"))
    lines = [
        f"rehearsal of {report['export']['dir']}: {report['export']['payloads']} payload(s) "
        f"from {report['export']['files']} file(s), {report['seed']['resources']} rehearsed",
        f"fidelity {fid['overall_percent']}% ({fid['matched']}/{fid['source_total']} matched), "
        f"properties {fid['property_score_percent']}%, apply ok={apply_ok}, "
        f"converged={report['terraform'].get('replan_changes') is False}",
        "",
        f"{'type':<72} {'source':>6} {'matched':>7} {'percent':>7}",
    ]
    for name, row in fid["per_type"].items():
        lines.append(f"{name:<72} {row['source']:>6} {row['matched']:>7} {row['percent']:>7.1f}")
    sections = [
        ("not matched", [f"{u['type']}: {u['id']} ({u['reason']})" for u in fid["unmatched"]]),
        (
            "not claimed by the generator",
            [f"{t}: {'; '.join(r)}" for t, r in report["types"]["not_claimed_by_generator"].items()],
        ),
        ("not rehearsed", [f"{t}: {'; '.join(r)}" for t, r in report["types"]["not_rehearsed"].items()]),
        ("bad payloads", [f"{p['file']}: {p['reason']}" for p in report["export"]["problems"]]),
        ("unmapped references", [f"{u['id']} -> {u['reference']}" for u in report["generate"]["unmapped_references"]]),
    ]
    for title, rows in sections:
        if rows:
            lines += ["", f"{title} ({len(rows)}):"] + [f"  {row}" for row in rows]
    if report["terraform"].get("error"):
        lines += ["", f"terraform: {report['terraform']['error']}"]
    return "\n".join(lines)


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=1, sort_keys=True, default=str)


__all__ = ["rehearse", "render_text", "to_json", "seed_order", "seed_source", "ArmSession", "api_version_of"]
