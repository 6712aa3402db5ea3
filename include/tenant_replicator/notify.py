"""Slack messages (Block Kit) for the loop; building only, sending lives in the Airflow layer.

Everything that reaches Slack passes `redact`, so a connection string or token that slipped
into an error message never leaves the machine.
"""

from __future__ import annotations

import re
from typing import Any

_SECRET_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(
        r"(?i)((?:password|passwd|pwd|secret|accountkey|sharedaccesskey|client_secret|token)\s*[=:]\s*)[^\s;,&\"']+"
    ),
    re.compile(r"(?i)([?&]sig=)[^&\s\"']+"),
    re.compile(r"(?i)(https://hooks\.slack\.com/services/)[^\s\"']+"),
    re.compile(r"(xox[abprs]-)[A-Za-z0-9-]+"),
]


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***", text)
    return text


def _message(text: str, fields: list[tuple[str, str]], run_url: str | None, detail: str | None = None) -> dict:
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": redact(text)}}]
    if fields:
        blocks.append(
            {
                "type": "section",
                "fields": [{"type": "mrkdwn", "text": redact(f"*{k}*\n{v}")} for k, v in fields[:10]],
            }
        )
    if detail:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": redact(detail)[:2900]}})
    if run_url:
        blocks.append(
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open run"}, "url": run_url}],
            }
        )
    return {"text": redact(text), "blocks": blocks}


def task_failure_message(
    campaign_id: str, iteration: int | None, task_id: str, error: str, run_url: str | None
) -> dict:
    return _message(
        f":x: tenant-replicator `{campaign_id}`: task `{task_id}` failed in iteration {iteration}",
        [("Campaign", campaign_id), ("Iteration", str(iteration)), ("Task", task_id)],
        run_url,
        f"```{error[:1500]}```",
    )


def type_movers(previous: dict[str, dict], current: dict[str, dict], limit: int = 8) -> list[str]:
    """Per-type lines that changed since the previous report, biggest moves first."""
    moves = []
    for type_name, row in current.items():
        before = (previous.get(type_name) or {}).get("matched", 0)
        if row["matched"] != before:
            moves.append((abs(row["matched"] - before), f"{type_name}: {before} -> {row['matched']}/{row['source']}"))
    return [line for _, line in sorted(moves, key=lambda m: -m[0])][:limit]


def fidelity_change_message(
    campaign_id: str,
    iteration: int,
    old: float | None,
    new: float,
    report: dict,
    run_url: str | None,
    previous_per_type: dict[str, dict] | None = None,
) -> dict:
    delta = new - (old or 0.0)
    per_type = report.get("per_type", {})
    movers = type_movers(previous_per_type or {}, per_type)
    incomplete = [f"{t}: {r['matched']}/{r['source']}" for t, r in per_type.items() if r["matched"] < r["source"]][:8]
    detail = ("Movers:\n" + "\n".join(movers) + "\n") if movers else ""
    detail += ("Incomplete types:\n" + "\n".join(incomplete)) if incomplete else "Every in-scope type fully matched."
    return _message(
        f":bar_chart: `{campaign_id}` fidelity {_pct(old)} -> {_pct(new)} ({delta:+.1f} pts), iteration {iteration}",
        [
            ("Matched", f"{report.get('matched')}/{report.get('source_total')}"),
            ("Property score", _pct(report.get("property_score_percent"))),
            ("Pre-existing in target", str(report.get("preexisting_target"))),
        ],
        run_url,
        detail,
    )


def chain_end_message(campaign_id: str, state: dict, reason: str, met: bool, run_url: str | None) -> dict:
    icon = ":white_check_mark:" if met else ":octagonal_sign:"
    headline = "objective met" if met else f"safety stop: {reason}"
    return _message(
        f"{icon} `{campaign_id}` replication chain ended: {headline}",
        [
            ("Iterations", str(state.get("iteration"))),
            ("Fidelity", _pct(state.get("last_fidelity"))),
            ("Consecutive successes", str(state.get("consecutive_successes"))),
            ("Started", str(state.get("started_at"))),
        ],
        run_url,
    )


def status_message(statuses: list[dict], run_url: str | None) -> dict:
    """One message for the running campaigns whose status changed (replication_status)."""
    lines = []
    for s in statuses:
        line = (
            f"`{s['campaign_id']}` iteration {s['iteration']}, fidelity {_pct(s['fidelity'])}, "
            f"{s['consecutive_successes']} consecutive successes, ETA {s['eta'] or 'unknown (not converging yet)'}"
        )
        if s.get("last_error"):
            line += f"\n    last error: {s['last_error']}"
        lines.append(line)
    return _message(
        f":hourglass_flowing_sand: {len(statuses)} replication campaign(s) in progress", [], run_url, "\n".join(lines)
    )


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} %"
