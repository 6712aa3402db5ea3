"""Safety of a campaign's Terraform state: permissions, backups, corruption check, destroy guard.

Why: the local state of a campaign holds every target resource ID (and, with real azapi, response
bodies that can carry secrets), and it is the only memory of what was created. So it is private
(dir 0700, files 0600, terraform itself runs with umask 077), copied before every apply into a
bounded set of timestamped backups, checked for corruption *before* terraform gets to overwrite
it, and a plan that would delete target resources is refused unless the caller allows it: a
source scan that missed resources must never turn into deletes in the target.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tenant_replicator.terraform.runner import TerraformError

STATE_FILE = "terraform.tfstate"
BACKUP_DIR = "state-backups"
BACKUP_KEEP = 20
PRIVATE_FILES = (
    STATE_FILE,
    f"{STATE_FILE}.backup",
    ".terraform.tfstate.lock.info",
    "tfplan",
    "imports.tf.json",
    "backend.tf.json",
    "job.json",
    "job.log",
    "job-result.json",
    "creates.jsonl",
)
# Destroys that only remove what a failed create of ours left behind (terraform tainted it).
SAFE_REPLACE_REASONS = frozenset({"tainted"})


class StateCorrupted(TerraformError):
    """The state file cannot be read as Terraform state; nothing was applied."""


def secure_workdir(workdir: Path) -> None:
    """Directory 0700, state/plan/job files 0600 (idempotent; called before and after every run)."""
    workdir = Path(workdir)
    workdir.chmod(0o700)
    for name in PRIVATE_FILES:
        path = workdir / name
        if path.is_file() and stat.S_IMODE(path.stat().st_mode) != 0o600:
            path.chmod(0o600)
    backups = workdir / BACKUP_DIR
    if backups.is_dir():
        backups.chmod(0o700)


def check_state_text(text: str, origin: str) -> dict[str, Any] | None:
    """Parsed state, ``None`` for an empty one, ``StateCorrupted`` naming ``origin`` otherwise."""
    if not text.strip():
        return None
    try:
        state = json.loads(text)
    except ValueError as err:
        raise StateCorrupted(
            f"state file {origin} is not valid JSON ({err}); nothing was applied. "
            f"Restore it from {BACKUP_DIR}/ or terraform.tfstate.backup"
        ) from None
    valid = isinstance(state, dict) and "version" in state and isinstance(state.get("resources", []), list)
    if not valid:
        raise StateCorrupted(
            f"state file {origin} is not Terraform state (no version/resources); "
            f"nothing was applied. Restore it from {BACKUP_DIR}/"
        )
    return state


def check_local_state(workdir: Path) -> dict[str, Any] | None:
    """The local state parsed, or ``None`` when there is none yet."""
    path = Path(workdir) / STATE_FILE
    if not path.exists():
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise StateCorrupted(f"state file {path} is unreadable ({err}); nothing was applied") from None
    return check_state_text(text, str(path))


def managed_addresses(state: dict[str, Any] | None) -> set[str]:
    """Resource instance addresses in a (v4) state document: ``type.name``, ``type.name[key]``."""
    found: set[str] = set()
    for res in (state or {}).get("resources", []):
        if res.get("mode") != "managed":
            continue
        base = f"{res['type']}.{res['name']}"
        if res.get("module"):
            base = f"{res['module']}.{base}"
        for inst in res.get("instances", []) or [{}]:
            key = inst.get("index_key")
            found.add(base if key is None else f"{base}[{json.dumps(key)}]")
    return found


def backup_state(
    workdir: Path, text: str | None = None, keep: int = BACKUP_KEEP, now: datetime | None = None
) -> Path | None:
    """Copy the state into ``state-backups/`` (0600) before an apply; keep the newest ``keep``.

    ``text`` is the state from ``terraform state pull`` for a remote backend; default: the local
    file. Only backups beyond ``keep`` are ever deleted, oldest first; the state itself never is.
    """
    workdir = Path(workdir)
    source = workdir / STATE_FILE
    if text is None and (not source.exists() or source.stat().st_size == 0):
        return None
    backups = workdir / BACKUP_DIR
    backups.mkdir(mode=0o700, exist_ok=True)
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")
    target = backups / f"terraform.tfstate.{stamp}"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        if text is None:
            with open(source, "rb") as src:
                shutil.copyfileobj(src, out)
        else:
            out.write(text.encode("utf-8"))
    for old in list_backups(workdir)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return target


def list_backups(workdir: Path) -> list[Path]:
    """Backups oldest first (the timestamp in the name sorts)."""
    backups = Path(workdir) / BACKUP_DIR
    return sorted(backups.glob("terraform.tfstate.*")) if backups.is_dir() else []


def destructive_changes(actions: dict[str, str], reasons: dict[str, str]) -> list[dict[str, str]]:
    """Planned deletes and replaces that would remove a target resource we did not just fail to create."""
    found = []
    for address, action in sorted(actions.items()):
        if action == "delete" or (action == "replace" and reasons.get(address) not in SAFE_REPLACE_REASONS):
            found.append({"address": address, "action": action, "reason": reasons.get(address, "")})
    return found
