"""Campaign and iteration state: what counts as success, when the loop stops.

Pure functions over plain dicts so the same rules serve the DAG, the CLI and tests, and a run
can be replayed from the UI with a given state (the counters travel in the trigger conf).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
CAMPAIGN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")
# Airflow connection ids as they reach terraform's environment and Airflow look-ups: no spaces, quotes, `;`, `$`.
CONN_ID = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,249}$")
BOOLEAN_PARAMS = ("fidelity_deferrable", "apply_deferrable", "allow_destroy", "adopt_existing")
CONN_ID_PARAMS = ("slack_conn_id", "backend_conn_id")
MAX_APPLY_TIMEOUT_S = 7 * 24 * 3600
HISTORY_LIMIT = 50


class CampaignInputError(ValueError):
    """A campaign parameter is missing or wrong; the message names it."""


class CampaignStateError(ValueError):
    """The recorded campaign state is corrupted; recording over it would lose or invent counters."""


def check_state(state: Any, where: str) -> dict[str, Any] | None:
    """The recorded state if it has the shape `record` folds into (None: no state yet), else CampaignStateError."""
    if state is None:
        return None
    problems = []
    if not isinstance(state, dict):
        problems.append(f"is a {type(state).__name__}, not an object")
    else:
        if not isinstance(state.get("history", []), list) or not all(
            isinstance(h, dict) and isinstance(h.get("iteration"), int) for h in state.get("history", [])
        ):
            problems.append("'history' is not a list of iterations")
        for name in ("iteration", "consecutive_successes"):
            if name in state and (not isinstance(state[name], int) or isinstance(state[name], bool) or state[name] < 0):
                problems.append(f"{name!r}={state[name]!r} is not a count")
    if problems:
        raise CampaignStateError(
            f"campaign state {where} is corrupted ({'; '.join(problems)}): nothing recorded. "
            "Restore it from a backup or delete it to start a new chain."
        )
    return state


@dataclass(frozen=True)
class Objective:
    fidelity_percent: float = 95.0
    consecutive_successes: int = 3
    max_iterations: int = 20
    max_hours: float = 24.0


@dataclass(frozen=True)
class CampaignSpec:
    source_subscription: str
    target_subscription: str
    campaign_id: str
    objective: Objective = field(default_factory=Objective)


def campaign_id_for(source: str, target: str) -> str:
    """Stable default id: the same pair always continues the same campaign (and Terraform state)."""
    digest = hashlib.sha1(f"{source.lower()}->{target.lower()}".encode()).hexdigest()[:8]
    return f"{source.lower()[:8]}-to-{target.lower()[:8]}-{digest}"


def parse_spec(params: dict[str, Any]) -> CampaignSpec:
    """Validate DAG Params / CLI input; raise CampaignInputError naming the bad input."""
    source = str(params.get("source_subscription") or "").strip()
    target = str(params.get("target_subscription") or "").strip()
    for name, value in (("source_subscription", source), ("target_subscription", target)):
        if not GUID.match(value):
            raise CampaignInputError(f"{name}={value!r} is not a subscription ID (a GUID)")
    if source.lower() == target.lower():
        raise CampaignInputError(
            f"target_subscription equals source_subscription ({source}): refusing to write into the source"
        )
    campaign_id = str(params.get("campaign_id") or "").strip().lower() or campaign_id_for(source, target)
    if not CAMPAIGN_ID.match(campaign_id):
        raise CampaignInputError(f"campaign_id={campaign_id!r} must be 3-63 chars of a-z, 0-9 and '-'")
    objective = Objective(
        fidelity_percent=_number(params, "fidelity_target", 95.0, 0.0, 100.0),
        consecutive_successes=int(_number(params, "required_successes", 3, 1, 1000, integer=True)),
        max_iterations=int(_number(params, "max_iterations", 20, 1, 10_000, integer=True)),
        max_hours=_number(params, "max_hours", 24.0, 0.01, 24 * 30),
    )
    validate_run_params(params)
    return CampaignSpec(source.lower(), target.lower(), campaign_id, objective)


def validate_run_params(params: dict[str, Any]) -> None:
    """The Params that reach terraform calls, connections and the chain's counters, checked before
    anything runs (the DAG's Param schema checks UI input; a conf from the REST API or a replayed run
    reaches the tasks as given). Raises CampaignInputError naming the Param."""
    _number(params, "apply_timeout_s", 3600, 10, MAX_APPLY_TIMEOUT_S, integer=True)
    _number(params, "iteration", 0, 0, 1_000_000, integer=True)
    _number(params, "consecutive_successes", 0, 0, 1_000_000, integer=True)
    for name in BOOLEAN_PARAMS:
        raw = params.get(name)
        if raw is not None and not isinstance(raw, bool) and str(raw).strip().lower() not in {"true", "false"}:
            raise CampaignInputError(f"{name}={raw!r} must be true or false")
    for name in CONN_ID_PARAMS:
        raw = params.get(name)
        if raw not in (None, "") and not (isinstance(raw, str) and CONN_ID.match(raw)):
            raise CampaignInputError(
                f"{name}={raw!r} is not an Airflow connection id (letters, digits, '_', '.', '-' only)"
            )
    started = params.get("started_at")
    if started not in (None, ""):
        try:
            datetime.fromisoformat(str(started))
        except ValueError:
            raise CampaignInputError(f"started_at={started!r} is not an ISO date-time") from None


def _number(params: dict[str, Any], name: str, default: float, low: float, high: float, integer: bool = False) -> float:
    raw = params.get(name, default)
    if raw is None or raw == "":
        return float(default)
    if isinstance(raw, bool):
        raise CampaignInputError(f"{name}={raw!r} is not a number")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise CampaignInputError(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:  # NaN fails this too
        raise CampaignInputError(f"{name}={raw!r} must be between {low:g} and {high:g}")
    if integer and value != int(value):
        raise CampaignInputError(f"{name}={raw!r} must be a whole number")
    return value


def campaign_dir(home: Path, campaign_id: str) -> Path:
    path = home / "campaigns" / campaign_id
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def campaign_nonce(directory: Path) -> str:
    """Per-campaign nonce for globally unique names; kept beside the Terraform state it shaped."""
    path = directory / "nonce"
    if not path.exists():
        path.write_text(secrets.token_hex(3))
    return path.read_text().strip()


@dataclass
class IterationOutcome:
    iteration: int
    run_id: str
    success: bool
    fidelity_percent: float | None
    reasons: list[str]
    finished_at: str
    property_score_percent: float | None = None
    matched: int | None = None
    source_total: int | None = None
    arm_writes: int | None = None


def iteration_outcome(
    iteration: int,
    run_id: str,
    apply_summary: dict[str, Any] | None,
    fidelity: dict[str, Any] | None,
    target_scan: dict[str, Any] | None,
) -> IterationOutcome:
    """Success = apply exited cleanly with every planned change applied AND the target rescan finished."""
    reasons: list[str] = []
    if apply_summary is None:
        reasons.append("apply did not report (failed before or during terraform)")
    else:
        if apply_summary.get("failed_count"):
            reasons.append(f"{apply_summary['failed_count']} resource(s) failed to apply")
        if apply_summary.get("timed_out"):
            reasons.append("apply timed out")
        elif apply_summary.get("stopped"):
            reasons.append("apply was stopped")
        if apply_summary.get("provider_crashed"):
            reasons.append("the Terraform provider crashed")
        if apply_summary.get("destroy_refused_count"):
            reasons.append(
                f"{apply_summary['destroy_refused_count']} delete(s)/replacement(s) refused (allow_destroy off)"
            )
        if apply_summary.get("existing_not_adopted_count"):
            reasons.append(
                f"{apply_summary['existing_not_adopted_count']} resource(s) already exist in the target "
                "(not created by this campaign; adopt_existing off)"
            )
        if not apply_summary.get("ok", True) and not reasons:
            reasons.append(f"terraform exited with {apply_summary.get('exit_code')}")
        if apply_summary.get("not_started_count"):
            reasons.append(f"{apply_summary['not_started_count']} planned change(s) never started")
    if not target_scan or not target_scan.get("complete"):
        reasons.append("target rescan did not complete")
    if fidelity is None:
        reasons.append("fidelity was not computed")
    return IterationOutcome(
        iteration=iteration,
        run_id=run_id,
        success=not reasons,
        fidelity_percent=None if fidelity is None else float(fidelity["overall_percent"]),
        reasons=reasons,
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        property_score_percent=None if fidelity is None else fidelity.get("property_score_percent"),
        matched=None if fidelity is None else fidelity.get("matched"),
        source_total=None if fidelity is None else fidelity.get("source_total"),
        arm_writes=((apply_summary or {}).get("writes") or {}).get("total"),
    )


def new_state(spec: CampaignSpec, started_at: str | None = None) -> dict[str, Any]:
    return {
        "campaign_id": spec.campaign_id,
        "source_subscription": spec.source_subscription,
        "target_subscription": spec.target_subscription,
        "iteration": 0,
        "consecutive_successes": 0,
        "best_fidelity": None,
        "last_fidelity": None,
        "started_at": started_at or datetime.now(UTC).isoformat(timespec="seconds"),
        "status": "running",
        "history": [],
    }


def record_iteration(state: dict[str, Any], outcome: IterationOutcome, streak_before: int) -> dict[str, Any]:
    """Fold one outcome into the state.

    `streak_before` is the consecutive-success count the iteration started with (it travels in the
    run conf), so recording the same run twice (a retried task) replaces its entry and never double counts.
    """
    streak = streak_before + 1 if outcome.success else 0
    entry = asdict(outcome) | {"consecutive_successes": streak}
    history = [h for h in state.get("history", []) if h.get("run_id") != outcome.run_id]
    history = sorted(history + [entry], key=lambda h: h["iteration"])[-HISTORY_LIMIT:]
    fidelities = [h["fidelity_percent"] for h in history if h["fidelity_percent"] is not None]
    best = max([*fidelities, state.get("best_fidelity") or 0.0]) if fidelities else state.get("best_fidelity")
    return state | {
        "iteration": outcome.iteration,
        "consecutive_successes": streak,
        "last_fidelity": outcome.fidelity_percent,
        "best_fidelity": best,
        "history": history,
    }


def objective_met(state: dict[str, Any], objective: Objective) -> bool:
    return (state.get("last_fidelity") or 0.0) >= objective.fidelity_percent and state.get(
        "consecutive_successes", 0
    ) >= objective.consecutive_successes


def safety_stop_reason(state: dict[str, Any], objective: Objective, now: datetime | None = None) -> str | None:
    """Why the chain must stop although the objective is not met, or None."""
    now = now or datetime.now(UTC)
    if state.get("iteration", 0) >= objective.max_iterations:
        return f"max iterations reached ({objective.max_iterations})"
    started = datetime.fromisoformat(state["started_at"])
    hours = (now - started).total_seconds() / 3600
    if hours >= objective.max_hours:
        return f"max wall time reached ({hours:.1f} h >= {objective.max_hours:g} h)"
    return None
