"""Adopt resources that exist in ARM but not in state, through generated ``import`` blocks.

Why: when terraform is killed after ARM accepted a PUT but before the state was written, the next
plan creates the resource again and azapi refuses ("A resource with the ID ... already exists -
to be managed via Terraform this resource needs to be imported"). The apply summary names those
addresses; ``imports.tf.json`` next to the generated config turns them into ``import`` blocks
(Terraform >= 1.5) that the next plan consumes: import, then update to the config if it differs.
Entries are dropped once their address is in state or gone from the config, so the file never
breaks a plan (an import block whose target has no configuration is an error).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

IMPORTS_FILE = "imports.tf.json"
# Files written by us next to the generated config: not part of "the configuration" of resources.
OWN_FILES = frozenset({IMPORTS_FILE, "backend.tf.json"})
_ALREADY_EXISTS_RE = re.compile(r'A resource with the ID "(?P<id>[^"]+)" already exists')


def adoptable(failed: list[dict[str, Any]]) -> dict[str, str]:
    """{address: ARM ID} of failed creates that ARM refused because the resource already exists."""
    found = {}
    for entry in failed:
        match = _ALREADY_EXISTS_RE.search(f"{entry.get('summary', '')}\n{entry.get('detail', '')}")
        if match and entry.get("address"):
            found[entry["address"]] = match["id"]
    return found


def orphans(applied_ids: dict[str, str], managed: set[str]) -> dict[str, str]:
    """{address: ID} ARM confirmed (``apply_complete``) but the state lacks: the run was killed first."""
    return {address: rid for address, rid in applied_ids.items() if address not in managed}


def config_resources(workdir: Path) -> dict[str, dict[str, Any]]:
    """{address: resource block} of the single-instance resources in the ``*.tf.json`` config."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(workdir).glob("*.tf.json")):
        if path.name in OWN_FILES:
            continue
        doc = json.loads(path.read_text(encoding="utf-8"))
        for rtype, blocks in (doc.get("resource") or {}).items():
            for name, block in blocks.items():
                if isinstance(block, dict) and "count" not in block and "for_each" not in block:
                    found[f"{rtype}.{name}"] = block
    return found


def import_id(resource_id: str, block: dict[str, Any]) -> str:
    """azapi's import ID: ``<ARM ID>?api-version=<version of the configured type>``."""
    _, _, version = str(block.get("type", "")).partition("@")
    return f"{resource_id}?api-version={version}" if version and "?" not in resource_id else resource_id


def read_imports(workdir: Path) -> dict[str, str]:
    path = Path(workdir) / IMPORTS_FILE
    if not path.exists():
        return {}
    return {entry["to"]: entry["id"] for entry in json.loads(path.read_text()).get("import", [])}


def write_imports(workdir: Path, imports: dict[str, str]) -> Path | None:
    """Write (0600, atomically) or remove ``imports.tf.json``; returns its path when written."""
    path = Path(workdir) / IMPORTS_FILE
    if not imports:
        path.unlink(missing_ok=True)
        return None
    doc = {"import": [{"to": to, "id": rid} for to, rid in sorted(imports.items())]}
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path


def pending_imports(
    current: dict[str, str], config: dict[str, dict[str, Any]], managed: set[str], adopt: dict[str, str] | None = None
) -> dict[str, str]:
    """Pure: the import blocks to keep: current + newly adoptable, minus managed or unconfigured."""
    merged = dict(current)
    for address, rid in (adopt or {}).items():
        if address in config:
            merged[address] = import_id(rid, config[address])
    return {a: rid for a, rid in merged.items() if a in config and a not in managed}


def refresh_imports(workdir: Path, managed: set[str], adopt: dict[str, str] | None = None) -> dict[str, str]:
    """Read, update and write ``imports.tf.json``; returns the import blocks now pending."""
    pending = pending_imports(read_imports(workdir), config_resources(workdir), managed, adopt)
    write_imports(workdir, pending)
    return pending


# -- ownership: adopt only what this campaign started creating ------------------------------------

LEDGER_FILE = "creates.jsonl"


class CreateLedger:
    """Appends, as terraform streams them, the creates it starts and the ones ARM refused as existing.

    Why: "already exists" also answers a create of a resource that was in the target before the
    campaign (someone else's). Importing that would put it under our management and overwrite it.
    A create this campaign started in an earlier run (``apply_start``) that was not itself refused
    as existing is ours: its PUT may have gone through before the run was killed. Written line by
    line (0600) so a worker killed with terraform still leaves the record.
    """

    def __init__(self, workdir: Path, run_id: str) -> None:
        self.path = Path(workdir) / LEDGER_FILE
        self.run_id = run_id

    def observe(self, line: str) -> None:
        if '"apply_start"' not in line and '"apply_errored"' not in line and "already exists" not in line:
            return
        try:
            event = json.loads(line)
        except ValueError:
            return
        kind, hook = event.get("type"), event.get("hook") or {}
        address = (hook.get("resource") or {}).get("addr") or (event.get("diagnostic") or {}).get("address")
        if kind == "apply_start" and hook.get("action") in ("create", "replace"):
            self._append({"run": self.run_id, "address": address, "event": "start"})
        elif (
            kind == "diagnostic"
            and address
            and _ALREADY_EXISTS_RE.search(
                f"{event['diagnostic'].get('summary', '')}\n{event['diagnostic'].get('detail', '')}"
            )
        ):
            self._append({"run": self.run_id, "address": address, "event": "exists"})

    def _append(self, entry: dict[str, Any]) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as out:
            out.write(json.dumps(entry, sort_keys=True) + "\n")


def owned_creates(workdir: Path, current_run: str | None = None) -> set[str]:
    """Addresses a run other than ``current_run`` started creating and ARM did not refuse as existing."""
    path = Path(workdir) / LEDGER_FILE
    if not path.exists():
        return set()
    started: dict[str, set[str]] = {}
    refused: dict[str, set[str]] = {}
    for raw in path.read_text().splitlines():
        try:
            entry = json.loads(raw)
        except ValueError:
            continue  # a line cut by a kill
        if entry.get("run") == current_run or not entry.get("address"):
            continue
        target = started if entry.get("event") == "start" else refused
        target.setdefault(entry["run"], set()).add(entry["address"])
    return {a for run, addrs in started.items() for a in addrs - refused.get(run, set())}
