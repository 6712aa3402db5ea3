"""Terraform CLI runner: init / validate / plan / apply / show with timeouts and parsed results.

Why: every terraform call of the replication loop goes through here, so there is one place that
(a) runs terraform in its own process group and stops it cleanly (see ``process.py``), (b) turns
the ``-json`` event streams into per-resource outcomes, and (c) keeps secrets out of logs: the
environment given to terraform (ARM credentials, ...) is never logged, only argv.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tenant_replicator.terraform.events import (
    crash_evidence,
    diagnostic_of,
    provider_crash_lines,
    summarise_apply,
    summarise_plan,
)
from tenant_replicator.terraform.process import DEFAULT_GRACE_S, ManagedProcess, ProcessResult

log = logging.getLogger(__name__)

AUTOMATION_ENV = {"TF_IN_AUTOMATION": "1", "TF_INPUT": "0", "CHECKPOINT_DISABLE": "1"}
# Error-level core logs on stderr: the only place terraform always says a provider process died
# (``plugin process exited ... error="signal: killed"``); the -json stream may just say "errored".
DEFAULT_TF_LOG = "ERROR"
LOCAL_LOCK_INFO = ".terraform.tfstate.lock.info"
MIN_VERSION = (1, 5)


def version_tuple(text: str) -> tuple[int, int]:
    """``"1.11.4"`` -> (1, 11); anything unparsable sorts lowest."""
    parts = text.strip().lstrip("v").split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return (0, 0)


class TerraformError(RuntimeError):
    """Base class of the runner's errors."""


class TerraformNotFound(TerraformError):
    """The terraform binary is not on PATH."""


class TerraformFailed(TerraformError):
    """A terraform command failed; ``diagnostics`` holds the parsed error diagnostics."""

    def __init__(
        self,
        message: str,
        diagnostics: list[dict[str, Any]] | None = None,
        returncode: int | None = None,
        stderr: str = "",
    ) -> None:
        self.diagnostics = diagnostics or []
        self.returncode = returncode
        self.stderr = stderr
        first = "; ".join(d.get("summary", "") for d in self.diagnostics[:3] if d.get("summary"))
        tail = first or stderr.strip()[-500:]
        super().__init__(f"{message}: {tail}" if tail else message)


class TerraformTooOld(TerraformError):
    """The terraform binary is older than ``MIN_VERSION``."""


class ProviderCrashed(TerraformFailed):
    """A provider plugin died during a command other than apply (apply reports ``provider_crash``)."""


class TerraformTimeout(TerraformError):
    """A terraform command (other than apply, which reports ``timed_out``) ran out of time."""


@dataclass
class PlanResult:
    """Outcome of ``plan -detailed-exitcode``; ``changes`` is exit code 2."""

    exit_code: int
    changes: bool
    add: int = 0
    change: int = 0
    destroy: int = 0
    import_: int = 0
    actions: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    importing: dict[str, str] = field(default_factory=dict)
    drift: list[dict[str, str]] = field(default_factory=list)
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    plan_file: str = "tfplan"
    duration_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["import"] = data.pop("import_")
        return data


@dataclass
class ApplyResult:
    """Outcome of ``apply``: per-resource lists from the event stream plus how the process ended."""

    exit_code: int
    applied: list[str] = field(default_factory=list)
    applied_ids: dict[str, str] = field(default_factory=dict)
    failed: list[dict[str, Any]] = field(default_factory=list)
    not_started: list[str] = field(default_factory=list)
    in_progress: list[str] = field(default_factory=list)
    change_summary: dict[str, Any] = field(default_factory=dict)
    diagnostics: list[dict[str, Any]] = field(default_factory=list)
    timed_out: bool = False
    stopped: bool = False
    killed: bool = False
    interrupted: bool = False
    duration_s: float = 0.0
    provider_crash: list[str] = field(default_factory=list)  # stderr lines saying a provider died

    @property
    def ok(self) -> bool:
        """True only when terraform exited 0 and nothing failed, was left out or was cut short."""
        return (
            self.exit_code == 0
            and not self.failed
            and not self.not_started
            and not self.in_progress
            and not self.timed_out
            and not self.stopped
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


def terraform_env(env: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for terraform: ``base`` (default os.environ), then ``env``, then automation flags."""
    merged = dict(os.environ if base is None else base)
    merged.update(env or {})
    merged.update(AUTOMATION_ENV)
    if not merged.get("TF_LOG"):  # an operator's own TF_LOG (e.g. DEBUG) is kept
        merged["TF_LOG"] = DEFAULT_TF_LOG
    return merged


def find_binary(binary: str = "terraform", path: str | None = None) -> str:
    """Absolute path of the terraform binary, or ``TerraformNotFound`` with install advice."""
    found = shutil.which(binary, path=path)
    if not found:
        raise TerraformNotFound(
            f"{binary} not found on PATH; install Terraform 1.11.x "
            "(https://developer.hashicorp.com/terraform/install) or use the project's Docker image"
        )
    return found


class Terraform:
    """One working directory driven by one terraform binary. ``stop()`` is safe from any thread."""

    def __init__(
        self,
        workdir: Path | str,
        env: dict[str, str] | None = None,
        binary: str = "terraform",
        grace_s: float = DEFAULT_GRACE_S,
        on_line: Callable[[str], None] | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> None:
        self.workdir = Path(workdir)
        self.env = terraform_env(env)
        self.binary = find_binary(binary, self.env.get("PATH"))
        self.grace_s = grace_s
        self.on_line = on_line
        self.on_start = on_start
        self._current: ManagedProcess | None = None
        self._stopped = threading.Event()
        self._lock = threading.Lock()

    # -- commands ---------------------------------------------------------------------------

    def version(self) -> str:
        result = self._run(["version", "-json"], timeout=60)
        try:
            return json.loads("\n".join(result.lines))["terraform_version"]
        except (ValueError, KeyError):  # < 0.13 has no -json: print its first line instead
            first = (result.lines or [result.stderr])[0].strip()
            return first.removeprefix("Terraform v").split()[0] if first else "unknown"

    def require_version(self, minimum: tuple[int, int] = MIN_VERSION) -> str:
        """The version, or ``TerraformTooOld``: ``import`` blocks (adopting resources) need 1.5."""
        found = self.version()
        if version_tuple(found) < minimum:
            raise TerraformTooOld(
                f"{self.binary} is Terraform {found}; tenant-replicator needs >= "
                f"{minimum[0]}.{minimum[1]} (import blocks); install 1.11.x"
            )
        return found

    def init(self, backend: bool = True, timeout: float | None = None) -> None:
        """``init``; skip it when every provider is dev-overridden (DESIGN.md)."""
        args = ["init", "-input=false", "-no-color"] + ([] if backend else ["-backend=false"])
        result = self._run(args, timeout)
        self._raise_if_timed_out(result, "init")
        if result.returncode != 0:
            raise TerraformFailed(
                "terraform init failed",
                returncode=result.returncode,
                stderr=result.stderr or "\n".join(result.lines[-20:]),
            )

    def validate(self, timeout: float | None = None) -> dict[str, Any]:
        """``validate -json``; raises ``TerraformFailed`` carrying the diagnostics when invalid."""
        result = self._run(["validate", "-json", "-no-color"], timeout)
        self._raise_if_timed_out(result, "validate")
        try:
            report = json.loads("\n".join(result.lines))
        except ValueError:
            raise TerraformFailed(
                "terraform validate failed", returncode=result.returncode, stderr=result.stderr
            ) from None
        if result.returncode != 0 or not report.get("valid", False):
            _raise_if_provider_crashed("validate", result, [diagnostic_of(d) for d in report.get("diagnostics", [])])
            raise TerraformFailed(
                "configuration is invalid",
                [diagnostic_of(d) for d in report.get("diagnostics", [])],
                result.returncode,
                result.stderr,
            )
        return report

    def plan(
        self, out: str = "tfplan", timeout: float | None = None, parallelism: int | None = None, refresh: bool = True
    ) -> PlanResult:
        """``plan -detailed-exitcode -out``: exit 0 no changes, 2 changes, 1 error (raised)."""
        args = ["plan", "-input=false", "-json", "-detailed-exitcode", f"-out={out}"]
        args += self._parallelism(parallelism) + ([] if refresh else ["-refresh=false"])
        result = self._run(args, timeout)
        self._raise_if_timed_out(result, "plan")
        summary = summarise_plan(result.lines)
        if result.returncode not in (0, 2):
            errors = [d for d in summary["diagnostics"] if d["severity"] == "error"]
            _raise_if_provider_crashed("plan", result, errors)
            raise TerraformFailed("terraform plan failed", errors, result.returncode, result.stderr)
        counts = summary["change_summary"]
        return PlanResult(
            exit_code=result.returncode,
            changes=result.returncode == 2,
            add=counts.get("add", 0),
            change=counts.get("change", 0),
            destroy=counts.get("remove", 0),
            import_=counts.get("import", 0),
            actions=summary["actions"],
            reasons=summary["reasons"],
            importing=summary["importing"],
            drift=summary["drift"],
            diagnostics=summary["diagnostics"],
            plan_file=out,
            duration_s=result.duration_s,
        )

    def apply(self, plan: str = "tfplan", timeout: float | None = None, parallelism: int | None = None) -> ApplyResult:
        """Apply a saved plan. Never raises for resource failures or a timeout: the partial outcome
        is the point, so it comes back in ``ApplyResult`` (check ``.ok``)."""
        args = ["apply", "-input=false", "-json", "-auto-approve", *self._parallelism(parallelism), plan]
        result = self._run(args, timeout)
        summary = summarise_apply(result.lines)
        if result.returncode != 0 and not summary["failed"] and not result.timed_out and result.stderr:
            # e.g. a stale plan file: terraform reports it on stderr, not as an event.
            summary["diagnostics"].append(
                {
                    "severity": "error",
                    "summary": result.stderr.strip()[-500:],
                    "detail": "",
                    "address": None,
                    "arm_code": None,
                }
            )
        return ApplyResult(
            exit_code=result.returncode,
            applied=summary["applied"],
            applied_ids=summary["applied_ids"],
            failed=summary["failed"],
            not_started=summary["not_started"],
            in_progress=summary["in_progress"],
            change_summary=summary["change_summary"],
            diagnostics=summary["diagnostics"],
            timed_out=result.timed_out,
            stopped=result.stopped,
            killed=result.killed,
            interrupted=summary["interrupted"],
            duration_s=result.duration_s,
            provider_crash=provider_crash_lines(result.stderr) if result.returncode != 0 else [],
        )

    def show_state(self, timeout: float | None = 300) -> dict[str, Any]:
        """``show -json`` of the current state (``{}``-like document when there is no state yet)."""
        result = self._run(["show", "-json", "-no-color"], timeout)
        self._raise_if_timed_out(result, "show")
        if result.returncode != 0:
            raise TerraformFailed("terraform show failed", returncode=result.returncode, stderr=result.stderr)
        return json.loads("\n".join(result.lines))

    def state_pull(self, timeout: float | None = 300) -> str:
        """``state pull``: the raw state document of any backend (``""`` when there is none)."""
        result = self._run(["state", "pull"], timeout)
        self._raise_if_timed_out(result, "state pull")
        if result.returncode != 0:
            raise TerraformFailed("terraform state pull failed", returncode=result.returncode, stderr=result.stderr)
        return "\n".join(result.lines)

    def state_addresses(self) -> list[str]:
        """Addresses of the managed resources in state (root module and child modules)."""
        return _addresses(self.show_state().get("values", {}).get("root_module", {}))

    def force_unlock_if_stale(self, lock_id: str | None = None) -> bool:
        """Release a lock left by a killed terraform; True when something was released.

        Remote backends (azurerm blob lease): pass the lock ID from the lock error, this runs
        ``force-unlock -force``. Local backend: the lock itself is an fcntl lock on the state file,
        which the kernel drops with the process, so only the ``.terraform.tfstate.lock.info`` file
        can be stale; it is removed when nobody holds the fcntl lock (terraform's own
        ``force-unlock`` refuses local state). Call it only when no terraform of ours runs here.
        """
        if lock_id:
            result = self._run(["force-unlock", "-force", "-no-color", lock_id], timeout=120)
            if result.returncode != 0:
                log.warning("force-unlock of %s failed: %s", lock_id, result.stderr.strip()[-300:])
            return result.returncode == 0
        info = self.workdir / LOCAL_LOCK_INFO
        state = self.workdir / "terraform.tfstate"
        if not info.exists() or (state.exists() and not _fcntl_lock_free(state)):
            return False
        log.warning("removing stale local lock info %s", info)
        info.unlink(missing_ok=True)
        return True

    def stop(self) -> None:
        """Stop the running command (SIGINT, grace, SIGKILL of the group) and refuse new ones."""
        self._stopped.set()
        with self._lock:
            current = self._current
        if current is not None:
            current.stop()

    # -- internals --------------------------------------------------------------------------

    def _run(self, args: list[str], timeout: float | None) -> ProcessResult:
        if self._stopped.is_set():
            raise TerraformError(f"terraform {args[0]} not started: runner was stopped")
        log.info("terraform %s (cwd=%s, timeout=%s)", " ".join(args), self.workdir, timeout)
        proc = ManagedProcess(
            [self.binary, *args],
            cwd=self.workdir,
            env=self.env,
            on_line=self.on_line,
            grace_s=self.grace_s,
            on_start=self.on_start,
            umask=0o077,
        )
        with self._lock:
            self._current = proc
        try:
            if self._stopped.is_set():  # stop() raced with the start: do not run at all
                raise TerraformError(f"terraform {args[0]} not started: runner was stopped")
            result = proc.run(timeout)
        finally:
            with self._lock:
                self._current = None
        log.info(
            "terraform %s exited %s in %.2fs%s",
            args[0],
            result.returncode,
            result.duration_s,
            " (timed out)" if result.timed_out else "",
        )
        return result

    def _raise_if_timed_out(self, result: ProcessResult, what: str) -> None:
        if result.timed_out or result.stopped:
            reason = "timed out" if result.timed_out else "was stopped"
            raise TerraformTimeout(f"terraform {what} {reason} after {result.duration_s:.1f}s")

    @staticmethod
    def _parallelism(parallelism: int | None) -> list[str]:
        return [f"-parallelism={int(parallelism)}"] if parallelism else []


def _raise_if_provider_crashed(what: str, result: ProcessResult, diagnostics: list[dict[str, Any]]) -> None:
    crash = provider_crash_lines(result.stderr)
    if crash:
        raise ProviderCrashed(
            f"the provider plugin crashed during terraform {what} ({crash_evidence(crash)})",
            diagnostics,
            result.returncode,
            result.stderr,
        )


def _fcntl_lock_free(path: Path) -> bool:
    """True when no process holds terraform's fcntl write lock on the local state file."""
    import fcntl

    with open(path, "r+b") as handle:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        fcntl.lockf(handle, fcntl.LOCK_UN)
    return True


def _addresses(module: dict[str, Any]) -> list[str]:
    found = [r["address"] for r in module.get("resources", []) if r.get("mode") == "managed"]
    for child in module.get("child_modules", []):
        found += _addresses(child)
    return found


def apply_summary(plan: PlanResult, result: ApplyResult | None, max_listed: int = 20) -> dict[str, Any]:
    """The XCom/iteration-report view of one plan+apply: counts, the first ``max_listed`` failures.

    ``ok`` is the one authoritative flag. A non-zero exit with no per-resource failure (e.g. a stale
    plan file) still yields a ``failed`` entry without address, so ``failed_count`` never hides it.
    """
    failed = list(result.failed) if result else []
    if result and result.exit_code != 0 and not failed and not (result.timed_out or result.stopped):
        errors = [d for d in result.diagnostics if d.get("severity") == "error"]
        failed = [
            {
                "address": None,
                "summary": d["summary"],
                "detail": d.get("detail", ""),
                "arm_code": d.get("arm_code"),
                "http_status": d.get("http_status"),
            }
            for d in errors
        ]
        failed = failed or [
            {
                "address": None,
                "summary": f"terraform apply exited {result.exit_code}",
                "detail": "",
                "arm_code": None,
                "http_status": None,
            }
        ]
    codes: dict[str, int] = {}
    for entry in failed:
        if entry.get("arm_code"):
            codes[entry["arm_code"]] = codes.get(entry["arm_code"], 0) + 1
    not_started = result.not_started if result else []
    return {
        "plan": {"add": plan.add, "change": plan.change, "destroy": plan.destroy, "import": plan.import_},
        "changes": plan.changes,
        "applied": len(result.applied) if result else 0,
        "failed": [{**f, "detail": (f.get("detail") or "")[:1000]} for f in failed[:max_listed]],
        "failed_count": len(failed),
        "arm_error_codes": codes,
        "not_started": not_started[:max_listed],
        "not_started_count": len(not_started),
        "in_progress": result.in_progress[:max_listed] if result else [],
        "timed_out": bool(result and result.timed_out),
        "stopped": bool(result and result.stopped),
        "exit_code": result.exit_code if result else plan.exit_code,
        "ok": (result.ok and not failed) if result else not plan.changes,
        "duration_s": round(plan.duration_s + (result.duration_s if result else 0.0), 3),
    }


def failure_message(summary: dict[str, Any], max_listed: int = 10) -> str:
    """One line for an exception / alert: what went wrong and the first failed addresses with ARM codes."""
    parts = []
    if summary.get("destroy_refused_count"):
        shown = ", ".join(d["address"] for d in summary["destroy_refused"][:max_listed])
        parts.append(
            f"refused to destroy {summary['destroy_refused_count']} resource(s) without allow_destroy=True ({shown})"
        )
    if summary.get("existing_not_adopted_count"):
        shown = ", ".join(summary["existing_not_adopted"][:max_listed])
        parts.append(
            f"{summary['existing_not_adopted_count']} already exist in the target but were not created "
            f"by this campaign (not imported; adopt_existing=True imports them: {shown})"
        )
    if summary.get("provider_crashed"):
        evidence = crash_evidence(summary.get("provider_crash") or [])
        parts.append("the provider plugin crashed" + (f" ({evidence})" if evidence else ""))
    if summary["failed_count"]:
        parts.append(f"{summary['failed_count']} failed")
    if summary["not_started_count"]:
        parts.append(f"{summary['not_started_count']} not started")
    if summary["timed_out"]:
        parts.append(f"timed out after {summary['duration_s']:.0f}s")
    if summary["stopped"]:
        parts.append("stopped")
    listed = ", ".join(
        f"{f['address'] or '(no address)'} ({f.get('arm_code') or f['summary'][:80]})"
        for f in summary["failed"][:max_listed]
    )
    more = summary["failed_count"] - min(summary["failed_count"], max_listed)
    text = f"terraform apply not clean: {', '.join(parts) or 'exit ' + str(summary['exit_code'])}"
    return text + (f": {listed}" if listed else "") + (f" (+{more} more)" if more > 0 else "")
