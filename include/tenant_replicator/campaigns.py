"""Campaigns configured in one place: a YAML/JSON file and/or the Variable `tenant_replicator_campaign_config`.

A replica that must stay faithful is a long-lived thing with its own schedule, scope and alert
channel; the loop's run conf is only how one chain is started. This module turns the operator's
configuration into validated `CampaignConfig`s (errors name the file/Variable and the key), and
derives from them what the Airflow layer needs: the loop's conf, the drift-watch schedule and the
per-target-subscription apply pool. No Airflow import here.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tenant_replicator.arm.ids import parse_resource_id
from tenant_replicator.campaign import CAMPAIGN_ID, GUID, CampaignInputError, parse_spec

CONFIG_VARIABLE = "tenant_replicator_campaign_config"
CONFIG_FILE_ENV = "TENANT_REPLICATOR_CAMPAIGNS_FILE"
DEFAULT_FILE_NAME = "tenant_replicator_campaigns.yaml"
DEFAULT_SCHEDULE = "@daily"
DEFAULT_SLACK_CONN_ID = "tenant_replicator_slack"
POOL_PREFIX = "tenant_replicator_apply__"
DEFAULT_POOL_SLOTS = 1
PRESETS = {"@once", "@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@continuous"}
KNOWN_KEYS = {
    "source",
    "target",
    "objective",
    "schedule",
    "filters",
    "slack",
    "allow_deletes",
    "apply_timeout_s",
    "adopt_existing",
    "enabled",
    "description",
}
OBJECTIVE_KEYS = {"fidelity_percent", "consecutive_successes", "max_iterations", "max_hours"}
FILTER_KEYS = {"resource_groups", "resource_types"}
SLACK_KEYS = {"conn_id", "channel"}


class CampaignConfigError(ValueError):
    """The campaign configuration is malformed; the message names the origin (file or Variable) and key."""


@dataclass(frozen=True)
class Filters:
    """Scope of a campaign: only these resource groups / types (empty = everything), case-insensitive."""

    resource_groups: tuple[str, ...] = ()
    resource_types: tuple[str, ...] = ()

    def admits(self, resource: dict[str, Any]) -> bool:
        group = str(resource.get("resourceGroup") or _group_of(str(resource.get("id", "")))).lower()
        kind = str(resource.get("type") or "").lower()
        if self.resource_groups and group not in {g.lower() for g in self.resource_groups}:
            return False
        return not self.resource_types or kind in {t.lower() for t in self.resource_types}

    @property
    def empty(self) -> bool:
        return not self.resource_groups and not self.resource_types


@dataclass(frozen=True)
class CampaignConfig:
    campaign_id: str
    source: str
    target: str
    fidelity_percent: float = 95.0
    consecutive_successes: int = 3
    max_iterations: int = 20
    max_hours: float = 24.0
    schedule: str = DEFAULT_SCHEDULE
    filters: Filters = field(default_factory=Filters)
    slack_conn_id: str = DEFAULT_SLACK_CONN_ID
    slack_channel: str | None = None
    allow_deletes: bool = False
    adopt_existing: bool = False
    apply_timeout_s: int = 3600
    enabled: bool = True
    description: str = ""
    origin: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["filters"] = {k: list(v) for k, v in data["filters"].items()}
        return data


def default_file(env: dict[str, str] | None = None) -> Path:
    """TENANT_REPLICATOR_CAMPAIGNS_FILE, else `$AIRFLOW_HOME/tenant_replicator_campaigns.yaml`."""
    env = dict(os.environ if env is None else env)
    if env.get(CONFIG_FILE_ENV):
        return Path(env[CONFIG_FILE_ENV])
    home = env.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return Path(home) / DEFAULT_FILE_NAME


def read_file(path: Path) -> Any:
    """The file's document (YAML or JSON), or None when it does not exist."""
    if not path.is_file():
        return None
    text = path.read_text(encoding="utf-8")
    kind = "JSON" if path.suffix.lower() == ".json" else "YAML"
    try:
        if kind == "JSON":
            return json.loads(text)
        import yaml

        return yaml.safe_load(text)
    except Exception as error:  # json.JSONDecodeError / yaml.YAMLError: say where, not a traceback
        raise CampaignConfigError(f"{path}: not valid {kind}: {error}") from None


def parse_document(document: Any, origin: str) -> list[CampaignConfig]:
    """`{"campaigns": {id: {...}}}` or `{"campaigns": [{"id": ..., ...}]}` (or the bare mapping/list)."""
    if document is None:
        return []
    if isinstance(document, dict) and "campaigns" in document:
        extra = set(document) - {"campaigns", "defaults"}
        if extra:
            raise CampaignConfigError(f"{origin}: unknown top-level key(s) {sorted(extra)} (expected 'campaigns')")
        defaults = document.get("defaults") or {}
        if not isinstance(defaults, dict):
            raise CampaignConfigError(f"{origin}: 'defaults' must be a mapping")
        document = document["campaigns"]
    else:
        defaults = {}
    if isinstance(document, dict):
        items = list(document.items())
    elif isinstance(document, list):
        items = []
        for index, entry in enumerate(document):
            if not isinstance(entry, dict) or not entry.get("id"):
                raise CampaignConfigError(f"{origin}: campaigns[{index}] needs an 'id'")
            items.append((entry["id"], {k: v for k, v in entry.items() if k != "id"}))
    else:
        raise CampaignConfigError(f"{origin}: 'campaigns' must be a mapping of id -> campaign or a list")
    seen: set[str] = set()
    configs = []
    for campaign_id, body in items:
        config = parse_campaign(str(campaign_id), _merge(defaults, body) if isinstance(body, dict) else body, origin)
        if config.campaign_id in seen:
            raise CampaignConfigError(f"{origin}: campaign {config.campaign_id!r} is defined twice")
        seen.add(config.campaign_id)
        configs.append(config)
    return configs


def parse_campaign(campaign_id: str, body: Any, origin: str) -> CampaignConfig:
    """One campaign; every error names `origin: campaigns.<id>.<key>`."""
    where = f"{origin}: campaigns.{campaign_id}"
    if not CAMPAIGN_ID.match(campaign_id):
        raise CampaignConfigError(f"{where}: the id must be 3-63 chars of a-z, 0-9 and '-'")
    if not isinstance(body, dict):
        raise CampaignConfigError(f"{where}: must be a mapping with source, target, ...")
    unknown = set(body) - KNOWN_KEYS
    if unknown:
        raise CampaignConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(KNOWN_KEYS)}")
    for key in ("source", "target"):
        value = str(body.get(key) or "")
        if not GUID.match(value):
            raise CampaignConfigError(f"{where}.{key}: {value!r} is not a subscription ID (a GUID)")
    objective = _section(body, "objective", OBJECTIVE_KEYS, where)
    slack = _section(body, "slack", SLACK_KEYS, where)
    try:  # the loop's own validation, so config and Params can never disagree on what is valid
        spec = parse_spec(
            {
                "source_subscription": body["source"],
                "target_subscription": body["target"],
                "campaign_id": campaign_id,
                "fidelity_target": objective.get("fidelity_percent", 95.0),
                "required_successes": objective.get("consecutive_successes", 3),
                "max_iterations": objective.get("max_iterations", 20),
                "max_hours": objective.get("max_hours", 24.0),
            }
        )
    except CampaignInputError as error:
        raise CampaignConfigError(f"{where}: {_config_words(str(error))}") from None
    return CampaignConfig(
        campaign_id=spec.campaign_id,
        source=spec.source_subscription,
        target=spec.target_subscription,
        fidelity_percent=spec.objective.fidelity_percent,
        consecutive_successes=spec.objective.consecutive_successes,
        max_iterations=spec.objective.max_iterations,
        max_hours=spec.objective.max_hours,
        schedule=_schedule(body.get("schedule", DEFAULT_SCHEDULE), f"{where}.schedule"),
        filters=parse_filters(body.get("filters"), f"{where}.filters"),
        slack_conn_id=_text(slack.get("conn_id", DEFAULT_SLACK_CONN_ID), f"{where}.slack.conn_id"),
        slack_channel=_text(slack.get("channel"), f"{where}.slack.channel") or None,
        allow_deletes=_bool(body.get("allow_deletes", False), f"{where}.allow_deletes"),
        adopt_existing=_bool(body.get("adopt_existing", False), f"{where}.adopt_existing"),
        apply_timeout_s=_int(body.get("apply_timeout_s", 3600), f"{where}.apply_timeout_s", 10),
        enabled=_bool(body.get("enabled", True), f"{where}.enabled"),
        description=_text(body.get("description", ""), f"{where}.description"),
        origin=origin,
    )


def load_campaigns(
    path: Path | None = None, variable_json: str | None = None, env: dict[str, str] | None = None
) -> list[CampaignConfig]:
    """File and Variable together (an id defined in both is an error: one place per campaign)."""
    path = path or default_file(env)
    from_file = parse_document(read_file(path), str(path))
    from_variable: list[CampaignConfig] = []
    if variable_json:
        origin = f"Variable {CONFIG_VARIABLE}"
        try:
            document = json.loads(variable_json)
        except ValueError as error:
            raise CampaignConfigError(f"{origin}: not valid JSON: {error}") from None
        from_variable = parse_document(document, origin)
    file_ids = {c.campaign_id: c for c in from_file}
    for config in from_variable:
        if config.campaign_id in file_ids:
            raise CampaignConfigError(
                f"campaign {config.campaign_id!r} is defined both in {path} and in Variable {CONFIG_VARIABLE}"
            )
    return sorted([*from_file, *from_variable], key=lambda c: c.campaign_id)


def find(configs: list[CampaignConfig], campaign_id: str) -> CampaignConfig:
    for config in configs:
        if config.campaign_id == campaign_id:
            return config
    known = ", ".join(c.campaign_id for c in configs) or "none"
    raise CampaignConfigError(f"campaign {campaign_id!r} is not configured (configured: {known})")


def loop_conf(config: CampaignConfig, started_at: str = "") -> dict[str, Any]:
    """The `tenant_replication` run conf that starts a new chain of this campaign."""
    return {
        "source_subscription": config.source,
        "target_subscription": config.target,
        "campaign_id": config.campaign_id,
        "fidelity_target": config.fidelity_percent,
        "required_successes": config.consecutive_successes,
        "max_iterations": config.max_iterations,
        "max_hours": config.max_hours,
        "apply_timeout_s": config.apply_timeout_s,
        "slack_conn_id": config.slack_conn_id,
        "allow_destroy": config.allow_deletes,
        "adopt_existing": config.adopt_existing,
        "filters": filters_conf(config.filters),
        "iteration": 0,
        "consecutive_successes": 0,
        "started_at": started_at,
    }


def pool_name(target_subscription: str) -> str:
    """ARM's write budget is per subscription, so applies are capped per target subscription."""
    return f"{POOL_PREFIX}{target_subscription.lower()}"


def pools(configs: list[CampaignConfig], slots: int = DEFAULT_POOL_SLOTS) -> dict[str, dict[str, Any]]:
    """`airflow pools import` document: one pool per configured target subscription."""
    result: dict[str, dict[str, Any]] = {}
    for config in configs:
        name = pool_name(config.target)
        users = sorted({*result.get(name, {}).get("campaigns", []), config.campaign_id})
        result[name] = {"slots": slots, "description": f"terraform applies into {config.target}", "campaigns": users}
    return {
        name: {"slots": p["slots"], "description": f"{p['description']} ({', '.join(p['campaigns'])})"}
        for name, p in sorted(result.items())
    }


def active_conflict(runs: list[dict[str, Any]], campaign_id: str, own_run_id: str | None = None) -> str | None:
    """The run id of another queued/running loop run of the same campaign, or None.

    Per-campaign serialisation once `tenant_replication` allows several active runs: two chains of
    one campaign would share its Terraform state; chains of different campaigns share nothing.
    """
    for run in runs:
        conf = run.get("conf") or {}
        if run.get("state") not in {"queued", "running"} or run.get("run_id") == own_run_id:
            continue
        other = str(conf.get("campaign_id") or "").lower()
        if other == campaign_id.lower():
            return str(run.get("run_id"))
    return None


# --- helpers -------------------------------------------------------------------------------------


def _merge(defaults: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    for key, value in body.items():
        merged[key] = (
            {**defaults[key], **value} if isinstance(defaults.get(key), dict) and isinstance(value, dict) else value
        )
    return merged


def parse_filters(value: Any, where: str = "filters") -> Filters:
    """A campaign's scope from config or from the loop's `filters` Param (same rules for both)."""
    section = value or {}
    if not isinstance(section, dict):
        raise CampaignConfigError(f"{where}: must be a mapping with {sorted(FILTER_KEYS)}")
    if set(section) - FILTER_KEYS:
        raise CampaignConfigError(
            f"{where}: unknown key(s) {sorted(set(section) - FILTER_KEYS)}; known: {sorted(FILTER_KEYS)}"
        )
    return Filters(
        resource_groups=_names(section.get("resource_groups"), f"{where}.resource_groups"),
        resource_types=_names(section.get("resource_types"), f"{where}.resource_types"),
    )


def filters_conf(filters: Filters) -> dict[str, list[str]]:
    """The `filters` Param value (JSON) of a campaign's scope."""
    return {"resource_groups": list(filters.resource_groups), "resource_types": list(filters.resource_types)}


def _section(body: dict[str, Any], key: str, allowed: set[str], where: str) -> dict[str, Any]:
    value = body.get(key) or {}
    if not isinstance(value, dict):
        raise CampaignConfigError(f"{where}.{key}: must be a mapping with {sorted(allowed)}")
    unknown = set(value) - allowed
    if unknown:
        raise CampaignConfigError(f"{where}.{key}: unknown key(s) {sorted(unknown)}; known: {sorted(allowed)}")
    return value


def _schedule(value: Any, where: str) -> str:
    text = str(value or "").strip()
    if text.lower() in {"none", "manual"}:
        return "none"
    if text in PRESETS:
        return text
    fields = text.split()
    if len(fields) != 5:
        raise CampaignConfigError(f"{where}: {text!r} is neither a preset ({sorted(PRESETS)}) nor a 5-field cron")
    try:
        from croniter import croniter

        if not croniter.is_valid(text):
            raise CampaignConfigError(f"{where}: {text!r} is not a valid cron expression")
    except ImportError:  # croniter comes with Airflow; without it, the field count check stands
        pass
    return text


def _names(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CampaignConfigError(f"{where}: must be a list of names")
    return tuple(v.strip() for v in value)


def _text(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CampaignConfigError(f"{where}: must be a string")
    return value.strip()


def _bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    raise CampaignConfigError(f"{where}: {value!r} must be true or false")


def _int(value: Any, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise CampaignConfigError(f"{where}: {value!r} must be an integer >= {minimum}")
    return value


def _config_words(message: str) -> str:
    """parse_spec names Params; say the config keys instead."""
    for param, key in (
        ("source_subscription", "source"),
        ("target_subscription", "target"),
        ("fidelity_target", "objective.fidelity_percent"),
        ("required_successes", "objective.consecutive_successes"),
        ("max_iterations", "objective.max_iterations"),
        ("max_hours", "objective.max_hours"),
    ):
        message = message.replace(param, key)
    return message


def _group_of(resource_id: str) -> str:
    """The resource group an ARM ID names ("" when it names none or is no ARM ID)."""
    try:
        return parse_resource_id(resource_id)["resource_group"] or ""
    except ValueError:
        return ""
