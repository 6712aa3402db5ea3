"""`tenant-replicator campaigns list|show ID|pools`: the configured campaigns and their state.

State comes from the Airflow Variables (`tenant_replication__<id>`, `tenant_replicator_drift__<id>`)
when Airflow's metadata DB is reachable from here; otherwise the configuration alone is printed.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tenant_replicator import campaigns, drift


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--file",
        type=Path,
        help=f"campaigns file (default ${campaigns.CONFIG_FILE_ENV} or $AIRFLOW_HOME/{campaigns.DEFAULT_FILE_NAME})",
    )
    parser.add_argument("--no-state", action="store_true", help="do not ask Airflow for the campaigns' state")
    parser.add_argument("--json", action="store_true", help="JSON output")
    sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    sub.add_parser("list", help="every configured campaign, one line each")
    show = sub.add_parser("show", help="one campaign: configuration, state, recent drift checks")
    show.add_argument("campaign_id")
    pools = sub.add_parser("pools", help="the apply pools (one per target subscription) as `airflow pools import` JSON")
    pools.add_argument("--slots", type=int, default=campaigns.DEFAULT_POOL_SLOTS)
    pools.add_argument("--create", action="store_true", help="create them now with `airflow pools import`")


def run(args: argparse.Namespace) -> int:
    reader = None if args.no_state else airflow_reader()
    try:
        configs = campaigns.load_campaigns(args.file, variable_json=reader.config() if reader else None)
    except campaigns.CampaignConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.action == "pools":
        return _pools(configs, args.slots, args.create)
    if args.action == "show":
        try:
            config = campaigns.find(configs, args.campaign_id)
        except campaigns.CampaignConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        view = describe(config, reader)
        print(json.dumps(view, indent=1, default=str) if args.json else render_show(view))
        return 0
    views = [describe(c, reader) for c in configs]
    print(json.dumps(views, indent=1, default=str) if args.json else render_list(views, state_known=reader is not None))
    return 0


class AirflowReader:
    """Variables straight from Airflow's metadata DB (the CLI runs where `airflow` is configured)."""

    def __init__(self, variable_cls: Any) -> None:
        self.variable_cls = variable_cls

    def get(self, key: str) -> Any:
        raw = self.variable_cls.get(key, default_var=None)
        return None if raw is None else json.loads(raw)

    def config(self) -> str | None:
        return self.variable_cls.get(campaigns.CONFIG_VARIABLE, default_var=None)


def airflow_reader() -> AirflowReader | None:
    """None when Airflow is not installed or its metadata DB is unreachable: config only then."""
    try:
        from airflow.models.variable import Variable

        Variable.get("tenant_replicator_campaigns", default_var=None)  # probe the DB once
        return AirflowReader(Variable)
    except Exception:  # no Airflow here, not migrated, or DB down
        return None


def describe(config: campaigns.CampaignConfig, reader: AirflowReader | None) -> dict[str, Any]:
    view: dict[str, Any] = {"config": config.as_dict(), "state": None, "drift": None}
    if reader is None:
        return view
    state = reader.get(f"tenant_replication__{config.campaign_id}") or None
    record = reader.get(drift.variable_key(config.campaign_id)) or {}
    if state:
        view["state"] = {
            k: state.get(k)
            for k in ("status", "iteration", "last_fidelity", "best_fidelity", "consecutive_successes", "started_at")
        }
    history = record.get("history") or []
    view["drift"] = {"checks": len(history), "recent": history[-5:]}
    return view


def render_list(views: list[dict[str, Any]], state_known: bool) -> str:
    if not views:
        return "no campaigns configured"
    header = f"{'CAMPAIGN':<24} {'SOURCE -> TARGET':<21} {'SCHEDULE':<12} {'OBJECTIVE':<10} {'DELETES':<7} STATE"
    lines = [header]
    for view in views:
        c = view["config"]
        lines.append(
            f"{c['campaign_id']:<24} {c['source'][:8]} -> {c['target'][:8]}  {c['schedule']:<12} "
            f"{c['fidelity_percent']:>5.1f}%/{c['consecutive_successes']:<3} "
            f"{'yes' if c['allow_deletes'] else 'no':<7} "
            f"{_state_text(view) if state_known else '(Airflow not reachable: config only)'}"
        )
    return "\n".join(lines)


def render_show(view: dict[str, Any]) -> str:
    c = view["config"]
    filters = c["filters"]
    lines = [
        f"campaign     {c['campaign_id']}  ({c['origin']})",
        f"source       {c['source']}",
        f"target       {c['target']}  (apply pool {campaigns.pool_name(c['target'])})",
        f"objective    fidelity >= {c['fidelity_percent']:g} %, {c['consecutive_successes']} consecutive successes, "
        f"max {c['max_iterations']} iterations / {c['max_hours']:g} h",
        f"schedule     {c['schedule']}{'' if c['enabled'] else ' (disabled)'}",
        f"filters      resource groups {filters['resource_groups'] or 'all'}, "
        f"types {filters['resource_types'] or 'all'}",
        f"slack        {c['slack_conn_id']}{' ' + c['slack_channel'] if c['slack_channel'] else ''}",
        f"deletes      {'allowed' if c['allow_deletes'] else 'not allowed (source deletions are kept in the target)'}",
        f"state        {_state_text(view)}",
    ]
    for entry in ((view.get("drift") or {}).get("recent")) or []:
        counts = ", ".join(f"{k} {v}" for k, v in entry["counts"].items() if v) or "no drift"
        lines.append(
            f"drift check  {entry['checked_at']}: {'baseline; ' if entry['baseline'] else ''}{counts}; fidelity "
            f"{entry['fidelity_percent']}{'; re-triggered' if entry['retriggered'] else ''}"
        )
    return "\n".join(lines)


def _state_text(view: dict[str, Any]) -> str:
    state = view.get("state")
    if not state:
        return "never run"
    fidelity = state.get("last_fidelity")
    return (
        f"{state['status']}, iteration {state['iteration']}, fidelity "
        f"{'n/a' if fidelity is None else f'{fidelity:.1f} %'}, {state['consecutive_successes']} consecutive"
    )


def _pools(configs: list[campaigns.CampaignConfig], slots: int, create: bool) -> int:
    document = campaigns.pools(configs, slots)
    if not create:
        print(json.dumps(document, indent=1))
        return 0
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(document, handle)
    try:
        result = subprocess.run(["airflow", "pools", "import", handle.name], capture_output=True, text=True)
    finally:
        Path(handle.name).unlink(missing_ok=True)
    print(result.stdout or result.stderr, end="")
    return result.returncode
