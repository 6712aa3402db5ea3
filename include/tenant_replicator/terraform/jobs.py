"""Detached converge jobs: terraform runs outside the worker, a job record says where it is.

Why: a 1-hour apply should not hold an Airflow worker slot. ``start_job`` launches
``python -m tenant_replicator.terraform.jobs`` which double-forks into its own session (so no
zombie is left in the worker and the worker's exit does not stop it) and runs ``converge`` there.
The job record ``job.json`` in the working directory holds job id, pid, pgid, process start time
(guards against pid reuse), log path and start time, and the pgid of the terraform command that is
running; the result lands in ``job-result.json``. The trigger polls ``job_state``; ``stop_job``
asks the job to stop (SIGTERM -> terraform SIGINT, grace, SIGKILL of the group) and then kills
whatever still carries the job's marker in its environment, so nothing survives even a job that
was SIGKILLed itself. Credentials reach the job through its environment only, never a file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

JOB_FILE = "job.json"
RESULT_FILE = "job-result.json"
LOG_FILE = "job.log"
MARKER_ENV = "TENANT_REPLICATOR_TF_JOB"
_LAUNCH_WAIT_S = 15.0


class JobError(RuntimeError):
    """The job could not be started or its record is unusable."""


# -- records ----------------------------------------------------------------------------------------


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(value, indent=1, sort_keys=True))
    tmp.replace(path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_job(workdir: Path) -> dict[str, Any] | None:
    return _read_json(Path(workdir) / JOB_FILE)


def read_result(workdir: Path, job_id: str) -> dict[str, Any] | None:
    result = _read_json(Path(workdir) / RESULT_FILE)
    return result if result and result.get("job_id") == job_id else None


def _start_ticks(pid: int) -> int | None:
    """Process start time in clock ticks since boot (field 22 of /proc/<pid>/stat); None if gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else int(fields[19])


def _is_job_process(record: dict[str, Any]) -> bool:
    pid = record.get("pid")
    return bool(pid) and _start_ticks(pid) is not None and _start_ticks(pid) == record.get("proc_start")


def job_state(workdir: Path, job_id: str) -> str:
    """``finished`` (result written), ``running``, ``starting`` or ``lost`` (died without a result)."""
    if read_result(workdir, job_id) is not None:
        return "finished"
    record = read_job(workdir)
    if not record or record.get("job_id") != job_id:
        return "lost"
    if record.get("pid") is None:
        return "starting" if time.time() - record.get("created_at", 0) < _LAUNCH_WAIT_S else "lost"
    return "running" if _is_job_process(record) else "lost"


# -- start / stop -----------------------------------------------------------------------------------


def start_job(
    workdir: Path,
    options: dict[str, Any],
    env: dict[str, str] | None = None,
    binary: str = "terraform",
    grace_s: float = 30.0,
) -> dict[str, Any]:
    """Launch a detached converge of ``workdir``; returns the job record once the job runs.

    A job of an earlier try that still runs is returned instead of starting a second one
    (``attached: true``): two terraform runs on one state would only fight over the lock.
    """
    workdir = Path(workdir)
    current = read_job(workdir)
    if current and job_state(workdir, current["job_id"]) in ("running", "starting"):
        return {**current, "attached": True}
    job_id = uuid.uuid4().hex
    record = {
        "job_id": job_id,
        "workdir": str(workdir),
        "options": options,
        "binary": binary,
        "grace_s": grace_s,
        "log_path": str(workdir / LOG_FILE),
        "created_at": time.time(),
        "pid": None,
    }
    _write_json(workdir / JOB_FILE, record)
    child_env = {**(os.environ if env is None else env), MARKER_ENV: job_id}
    with open(workdir / LOG_FILE, "ab") as log:
        launcher = subprocess.Popen(  # noqa: S603 - argv list, no shell
            [sys.executable, "-m", "tenant_replicator.terraform.jobs", str(workdir), job_id],
            env=child_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            umask=0o077,
            cwd=workdir,
        )
    code = launcher.wait(timeout=_LAUNCH_WAIT_S + 5)  # the launcher exits once the daemon runs
    started = read_job(workdir) or {}
    if code != 0 or started.get("pid") is None:
        raise JobError(f"terraform job did not start (launcher exit {code}); see {workdir / LOG_FILE}")
    return {**started, "attached": False}


def marked_processes(job_id: str) -> list[int]:
    """Pids (own user, alive) whose environment carries this job's marker: the job, terraform, providers."""
    needle = f"{MARKER_ENV}={job_id}".encode()
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if needle in Path(f"/proc/{entry}/environ").read_bytes() and _start_ticks(int(entry)) is not None:
                found.append(int(entry))
        except OSError:
            continue
    return found


def stop_job(workdir: Path, job_id: str, grace_s: float | None = None) -> bool:
    """SIGTERM the job (it stops terraform: SIGINT, grace, SIGKILL), wait, then SIGKILL leftovers.

    Returns True when nothing of the job is alive afterwards. Safe on a finished or lost job.
    """
    record = read_job(workdir) or {}
    if record.get("job_id") == job_id and _is_job_process(record):
        _signal(record["pid"], signal.SIGTERM)
        wait = (record.get("grace_s", 30.0) if grace_s is None else grace_s) + 5.0
        end = time.monotonic() + wait
        while _is_job_process(record) and time.monotonic() < end:
            time.sleep(0.1)
    for pid in marked_processes(job_id):
        _signal(pid, signal.SIGKILL)
    end = time.monotonic() + 5
    while marked_processes(job_id) and time.monotonic() < end:
        time.sleep(0.05)
    return not marked_processes(job_id)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


# -- the job process --------------------------------------------------------------------------------


def run_job(workdir: Path, job_id: str) -> dict[str, Any]:
    """Body of the detached process: converge, then write the result (also for errors)."""
    from tenant_replicator.terraform.converge import ConvergeOptions, converge
    from tenant_replicator.terraform.runner import Terraform, TerraformError, TerraformFailed

    record = read_job(workdir) or {}
    if record.get("job_id") != job_id:
        raise JobError(f"job record in {workdir} is not job {job_id}")
    record.update(
        pid=os.getpid(),
        pgid=os.getpgid(0),
        proc_start=_start_ticks(os.getpid()),
        started_at=time.time(),
        status="running",
    )
    _write_json(workdir / JOB_FILE, record)

    def on_start(pgid: int) -> None:
        _write_json(workdir / JOB_FILE, {**record, "terraform_pgid": pgid})

    def on_line(line: str) -> None:
        print(line, flush=True)  # stdout is job.log

    result: dict[str, Any] = {"job_id": job_id}
    try:
        tf = Terraform(
            workdir,
            grace_s=float(record.get("grace_s", 30.0)),
            binary=record.get("binary", "terraform"),
            on_line=on_line,
            on_start=on_start,
        )
        signal.signal(signal.SIGTERM, lambda *_: tf.stop())
        signal.signal(signal.SIGINT, lambda *_: tf.stop())
        options = ConvergeOptions(**record.get("options", {}))
        result.update(status="done", summary=converge(tf, options))
    except TerraformError as err:
        diagnostics = err.diagnostics[:20] if isinstance(err, TerraformFailed) else []
        result.update(status="error", error=str(err)[:2000], error_type=type(err).__name__, diagnostics=diagnostics)
    except Exception as err:  # the trigger must always get an answer
        result.update(status="error", error=f"{type(err).__name__}: {err}"[:2000], error_type=type(err).__name__)
    result["finished_at"] = time.time()
    _write_json(workdir / RESULT_FILE, result)
    return result


def main(argv: list[str] | None = None) -> int:
    """``python -m tenant_replicator.terraform.jobs <workdir> <job_id>``: double-fork, run the job."""
    workdir, job_id = (argv if argv is not None else sys.argv[1:])[:2]
    workdir_path = Path(workdir)
    pid = os.fork()
    if pid:  # launcher: return once the daemon has recorded itself, so the caller sees its pid
        end = time.monotonic() + _LAUNCH_WAIT_S
        while time.monotonic() < end:
            record = read_job(workdir_path) or {}
            if record.get("job_id") == job_id and record.get("pid") == pid:
                return 0
            time.sleep(0.02)
        return 1
    os.setsid()  # own session and process group: pgid == pid
    try:
        run_job(workdir_path, job_id)
    finally:
        os._exit(0)
    return 0  # pragma: no cover


def record_fields(record: dict[str, Any]) -> dict[str, Any]:
    """What a log line / XCom may show of a record (no env, which the record never holds anyway)."""
    keys = ("job_id", "pid", "pgid", "terraform_pgid", "log_path", "started_at", "attached")
    return {k: record.get(k) for k in keys if k in record}


if __name__ == "__main__":
    sys.exit(main())

__all__ = [
    "JobError",
    "job_state",
    "marked_processes",
    "read_job",
    "read_result",
    "record_fields",
    "run_job",
    "start_job",
    "stop_job",
]
