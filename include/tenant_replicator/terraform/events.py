"""Pure parsing of ``terraform plan|apply -json`` event streams (one JSON object per line).

Why: the exit code of ``apply`` only says "something failed"; the event stream says which
resource was applied, which failed and with what ARM error, and which planned change never
started (e.g. dependents of a failed resource, or everything left when a timeout stopped the run).
Checked against terraform 1.11.4 (UI protocol 1.2).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

# Actions in ``planned_change`` that do not touch the remote side: never counted as "to apply".
PASSIVE_ACTIONS = frozenset({"noop", "read", "move", "remove", "forget"})

# Stand-in provider: "ARM PUT <id> failed: 404 ParentResourceNotFound: <message>"
_STANDIN_RE = re.compile(r"\bARM\s+[A-Z]+\s+\S+\s+failed:\s*(?P<status>\d{3})\s+(?P<code>[A-Za-z][\w.]*)")
# Real azapi (azure-sdk-for-go ResponseError):
#   "RESPONSE 404: 404 Not Found\nERROR CODE: ResourceGroupNotFound"
_AZAPI_CODE_RE = re.compile(r"ERROR CODE:\s*(?P<code>[A-Za-z][\w.]*)")
_AZAPI_STATUS_RE = re.compile(r"RESPONSE\s+(?P<status>\d{3})\b")
# Fallback: the JSON error body both print, {"error": {"code": "..."}}
_JSON_CODE_RE = re.compile(r'"code"\s*:\s*"(?P<code>[A-Za-z][\w.]*)"')


def parse_lines(lines: Iterable[str]) -> list[dict[str, Any]]:
    """JSON events from raw stdout lines; anything that is not a JSON object is skipped."""
    events = []
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def extract_arm_error(text: str) -> tuple[str | None, int | None]:
    """(ARM error code, HTTP status) found in a diagnostic's text, or (None, None)."""
    if not text:
        return None, None
    match = _STANDIN_RE.search(text)
    if match:
        return match["code"], int(match["status"])
    code_match = _AZAPI_CODE_RE.search(text)
    status_match = _AZAPI_STATUS_RE.search(text)
    status = int(status_match["status"]) if status_match else None
    if code_match:
        return code_match["code"], status
    json_match = _JSON_CODE_RE.search(text)
    return (json_match["code"] if json_match else None), status


def diagnostic_of(event: dict[str, Any]) -> dict[str, Any]:
    """Flatten a ``diagnostic`` event (or a ``validate -json`` diagnostic) into what reports need."""
    diag = event.get("diagnostic", event)
    summary = diag.get("summary", "")
    detail = diag.get("detail", "")
    code, status = extract_arm_error(f"{summary}\n{detail}")
    out: dict[str, Any] = {
        "severity": diag.get("severity", event.get("@level", "")),
        "summary": summary,
        "detail": detail,
        "address": diag.get("address"),
        "arm_code": code,
        "http_status": status,
    }
    rng = diag.get("range")
    if rng:
        out["file"] = rng.get("filename")
        out["line"] = rng.get("start", {}).get("line")
    return out


def _address(event: dict[str, Any], key: str) -> str | None:
    return event.get(key, {}).get("resource", {}).get("addr")


def summarise_plan(lines: Iterable[str]) -> dict[str, Any]:
    """``plan -json`` stream -> planned actions per address, change summary, drift, diagnostics.

    ``reasons`` holds terraform's reason for a replace/delete (``tainted``, ``cannot_update``,
    ``delete_because_no_resource_config``, ...); ``importing`` maps addresses an ``import`` block
    adopts to the imported ID (their action is ``noop`` or ``update``).
    """
    actions: dict[str, str] = {}
    reasons: dict[str, str] = {}
    importing: dict[str, str] = {}
    drift: list[dict[str, str]] = []
    change_summary: dict[str, Any] = {}
    diagnostics: list[dict[str, Any]] = []
    for event in parse_lines(lines):
        kind = event.get("type")
        if kind == "planned_change":
            addr = _address(event, "change")
            actions[addr] = event["change"].get("action", "")
            if event["change"].get("reason"):
                reasons[addr] = event["change"]["reason"]
            if isinstance(event["change"].get("importing"), dict):
                importing[addr] = event["change"]["importing"].get("id", "")
        elif kind == "resource_drift":
            drift.append({"address": _address(event, "change"), "action": event["change"].get("action", "")})
        elif kind == "change_summary":
            change_summary = dict(event.get("changes", {}))
        elif kind == "diagnostic":
            diagnostics.append(diagnostic_of(event))
    return {
        "actions": actions,
        "reasons": reasons,
        "importing": importing,
        "change_summary": change_summary,
        "drift": drift,
        "diagnostics": diagnostics,
    }


def summarise_apply(lines: Iterable[str]) -> dict[str, Any]:
    """``apply -json`` stream -> per-resource outcome.

    Returns ``{"applied": [addr], "applied_ids": {addr: remote ID},
    "failed": [{address, summary, detail, arm_code, http_status}],
    "not_started": [addr], "in_progress": [addr], "planned": {addr: action},
    "change_summary": {...}, "diagnostics": [...], "interrupted": bool}``. A resource is
    ``applied`` once every one of its hooks completed (a replace has a delete and a create),
    ``failed`` when a hook errored or an error diagnostic names it, ``in_progress`` when it
    started and neither completed nor errored (the run was stopped), ``not_started`` when it was
    planned (a non-passive action) but never started.
    """
    planned: dict[str, str] = {}
    started: dict[str, int] = {}
    completed: dict[str, int] = {}
    errored: dict[str, str] = {}
    ids: dict[str, str] = {}
    change_summary: dict[str, Any] = {}
    diagnostics: list[dict[str, Any]] = []
    interrupted = False
    for event in parse_lines(lines):
        kind = event.get("type")
        if kind == "planned_change":
            planned[_address(event, "change")] = event["change"].get("action", "")
        elif kind == "apply_start":
            addr = _address(event, "hook")
            started[addr] = started.get(addr, 0) + 1
        elif kind == "apply_complete":
            addr = _address(event, "hook")
            completed[addr] = completed.get(addr, 0) + 1
            if event["hook"].get("id_value") and event["hook"].get("action") in ("create", "update"):
                ids[addr] = event["hook"]["id_value"]
        elif kind == "apply_errored":
            errored[_address(event, "hook")] = event.get("@message", "")
        elif kind == "change_summary":
            change_summary = dict(event.get("changes", {}))
        elif kind == "diagnostic":
            diag = diagnostic_of(event)
            diagnostics.append(diag)
            interrupted = interrupted or diag["summary"] == "execution halted"
        elif kind == "log" and event.get("@message") == "Stopping operation...":
            interrupted = True
    failed = _failed_entries(errored, diagnostics)
    failed_addresses = {entry["address"] for entry in failed}
    applied = [a for a, n in completed.items() if a not in failed_addresses and n >= started.get(a, 0)]
    in_progress = [a for a in started if a not in failed_addresses and a not in applied]
    not_started = [
        a for a, act in planned.items() if act not in PASSIVE_ACTIONS and a not in started and a not in failed_addresses
    ]
    return {
        "applied": applied,
        "applied_ids": {a: ids[a] for a in applied if a in ids},
        "failed": failed,
        "not_started": not_started,
        "in_progress": in_progress,
        "planned": planned,
        "change_summary": change_summary,
        "diagnostics": diagnostics,
        "interrupted": interrupted,
    }


def _failed_entries(errored: dict[str, str], diagnostics: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per failed address: its first error diagnostic, else the ``apply_errored`` message."""
    by_address: dict[str, dict[str, Any]] = {}
    for diag in diagnostics:
        addr = diag.get("address")
        if addr and diag["severity"] == "error" and addr not in by_address:
            by_address[addr] = diag
    entries = []
    for addr in list(errored) + [a for a in by_address if a not in errored]:
        diag = by_address.get(addr)
        entries.append(
            {
                "address": addr,
                "summary": diag["summary"] if diag else errored[addr],
                "detail": diag["detail"] if diag else "",
                "arm_code": diag["arm_code"] if diag else None,
                "http_status": diag["http_status"] if diag else None,
            }
        )
    return entries


# What terraform (TF_LOG=ERROR, set by the runner) and the plugin framework print on stderr when a
# provider process dies: the plugin's exit with an error, a panic, the broken gRPC stream.
_CRASH_LINE_RE = re.compile(
    r"plugin process exited:.*error=|plugin exited|panic:|Plugin did not respond|plugin .*crashed"
    r"|rpc error: code = Unavailable|error reading from server: EOF|transport is closing",
    re.IGNORECASE,
)
_LOG_PREFIX_RE = re.compile(r"^\S+\s+\[(?:ERROR|WARN|INFO|DEBUG|TRACE)\]\s*")


def provider_crash_lines(stderr: str, limit: int = 5) -> list[str]:
    """The stderr lines that say a provider plugin died (log prefix stripped, each <= 300 chars),
    the plugin's exit first, then panics, then the rest in order."""
    found = [_LOG_PREFIX_RE.sub("", line.strip())[:300] for line in stderr.splitlines() if _CRASH_LINE_RE.search(line)]
    return sorted(found, key=_crash_rank)[:limit]


def _crash_rank(line: str) -> int:
    return 0 if "plugin process exited" in line else 1 if "panic:" in line else 2


def crash_evidence(lines: list[str]) -> str:
    """The most telling crash line: the plugin's exit (with its signal/status), else a panic, else the last."""
    for needle in ("plugin process exited", "panic:"):
        found = next((line for line in lines if needle in line), None)
        if found:
            return found
    return lines[-1] if lines else ""
