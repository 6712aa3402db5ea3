"""Run one command in its own process group and make sure nothing of it survives.

Why: the original loop killed terraform on timeout and left zombie terraform/provider processes
and lost the partial result. Here the command gets its own session (so its provider plugins and
provisioner children share one process group), stdout is streamed line by line (terraform's
``-json`` events arrive as they happen), and stopping is: SIGINT (terraform's graceful stop, it
finishes in-flight calls and writes state), a grace period, then SIGKILL to the whole group.
The group is killed while the leader is still an unreaped zombie, so its id cannot be recycled.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_GRACE_S = 30.0
_POLL_S = 0.05
_KILL_WAIT_S = 5.0


@dataclass
class ProcessResult:
    """What a finished (or stopped) command left behind."""

    returncode: int
    lines: list[str] = field(default_factory=list)
    stderr: str = ""
    timed_out: bool = False
    stopped: bool = False
    killed: bool = False
    duration_s: float = 0.0


class ManagedProcess:
    """One run of ``argv`` (no shell) in a new session; ``stop()`` may be called from any thread.

    ``on_line`` is called from a reader thread with each stdout line (newline stripped).
    The first SIGINT goes to the leader only by default: terraform then stops gracefully, waits for
    in-flight provider calls and writes state, whereas a group-wide SIGINT (Ctrl-C at a terminal,
    ``interrupt_group=True``) also hits the provider plugins, and the Python stand-in provider
    shuts its gRPC server down on SIGINT, cutting in-flight ARM calls. The final SIGKILL always
    goes to the whole group.
    """

    def __init__(
        self,
        argv: Sequence[str],
        cwd: Path | str | None = None,
        env: Mapping[str, str] | None = None,
        on_line: Callable[[str], None] | None = None,
        grace_s: float = DEFAULT_GRACE_S,
        interrupt_group: bool = False,
        on_start: Callable[[int], None] | None = None,
        umask: int = -1,
    ) -> None:
        self.argv = [str(a) for a in argv]
        self.on_start = on_start
        self.umask = umask  # -1: inherit; 0o077 makes every file the command creates private
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self.on_line = on_line
        self.grace_s = grace_s
        self.interrupt_group = interrupt_group
        self._proc: subprocess.Popen[str] | None = None
        self._lock = threading.Lock()
        self._stop_requested = threading.Event()
        self._interrupted_at: float | None = None
        self._timed_out = False

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def run(self, timeout: float | None = None) -> ProcessResult:
        """Start, stream, wait (stop on timeout / ``stop()``), kill leftovers, reap. Never leaks."""
        started = time.monotonic()
        lines: list[str] = []
        err_chunks: list[str] = []
        with self._lock:
            self._proc = subprocess.Popen(  # noqa: S603 - argv list, no shell
                self.argv,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                bufsize=1,
                start_new_session=True,
                umask=self.umask,
                preexec_fn=_default_sigint,
            )
        proc = self._proc
        if self.on_start is not None:
            try:
                self.on_start(proc.pid)  # pid == pgid: e.g. recorded in a detached job's record
            except Exception:
                log.exception("on_start callback failed")
        readers = [
            threading.Thread(target=self._read_stdout, args=(proc, lines), daemon=True),
            threading.Thread(target=_drain, args=(proc.stderr, err_chunks), daemon=True),
        ]
        for reader in readers:
            reader.start()
        killed = False
        try:
            killed = self._wait(proc, started, timeout)
        finally:
            # Reached also when an exception (e.g. Airflow's task termination) unwinds run().
            if proc.returncode is None:
                killed = self._finish(proc) or killed
            for reader in readers:
                reader.join(timeout=5)
            _close(proc)
        return ProcessResult(
            returncode=proc.returncode,
            lines=lines,
            stderr="".join(err_chunks),
            timed_out=self._timed_out,
            stopped=self._stop_requested.is_set() and not self._timed_out,
            killed=killed,
            duration_s=round(time.monotonic() - started, 3),
        )

    def stop(self) -> None:
        """Ask the command to stop: SIGINT now, SIGKILL for the group after the grace period."""
        self._stop_requested.set()
        self._interrupt()

    # -- internals -------------------------------------------------------------------------

    def _wait(self, proc: subprocess.Popen[str], started: float, timeout: float | None) -> bool:
        """Poll until the leader exits; escalate on timeout/stop. Returns True if SIGKILL was sent."""
        deadline = started + timeout if timeout is not None else None
        delay = 0.002  # short commands return fast; long ones are polled every _POLL_S
        while not _exited(proc.pid):
            now = time.monotonic()
            if deadline is not None and now >= deadline and self._interrupted_at is None:
                log.warning("command timed out after %.1fs; sending SIGINT", timeout)
                self._timed_out = True
                self._interrupt()
            if self._stop_requested.is_set() and self._interrupted_at is None:
                self._interrupt()
            if self._interrupted_at is not None and now - self._interrupted_at >= self.grace_s:
                log.warning("grace period of %.1fs over; killing process group %s", self.grace_s, proc.pid)
                return self._finish(proc, grace_s=0)
            time.sleep(delay)
            delay = min(delay * 2, _POLL_S)
        return self._finish(proc, grace_s=0)

    def _finish(self, proc: subprocess.Popen[str], grace_s: float | None = None) -> bool:
        """Interrupt if needed, wait the (remaining) grace, then SIGKILL the group and reap the leader."""
        if not _exited(proc.pid):
            self._interrupt()
            limit = self.grace_s if grace_s is None else grace_s
            end = (self._interrupted_at or time.monotonic()) + limit
            while not _exited(proc.pid) and time.monotonic() < end:
                time.sleep(_POLL_S)
        # The leader is a zombie (or alive) here, so its pgid is still ours: kill stragglers, and
        # wait (bounded) until the kernel has actually removed them before reaping the leader.
        _killpg(proc.pid, signal.SIGKILL)
        end = time.monotonic() + _KILL_WAIT_S
        while _group_members(proc.pid, exclude=proc.pid) and time.monotonic() < end:
            time.sleep(0.005)
        proc.wait()
        return proc.returncode == -signal.SIGKILL

    def _interrupt(self) -> None:
        with self._lock:
            proc = self._proc
            if proc is None or self._interrupted_at is not None or proc.returncode is not None:
                return
            self._interrupted_at = time.monotonic()
            try:
                if self.interrupt_group:
                    os.killpg(proc.pid, signal.SIGINT)
                else:
                    os.kill(proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    def _read_stdout(self, proc: subprocess.Popen[str], lines: list[str]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip("\n")
            lines.append(line)
            if self.on_line is not None:
                try:
                    self.on_line(line)
                except Exception:  # a logging callback must never break the run
                    log.exception("on_line callback failed")


def run_command(
    argv: Sequence[str],
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    on_line: Callable[[str], None] | None = None,
    grace_s: float = DEFAULT_GRACE_S,
) -> ProcessResult:
    """Convenience wrapper: one ``ManagedProcess`` run."""
    return ManagedProcess(argv, cwd=cwd, env=env, on_line=on_line, grace_s=grace_s).run(timeout)


def _exited(pid: int) -> bool:
    """True once ``pid`` has exited, without reaping it (WNOWAIT keeps the zombie and its pgid)."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _group_members(pgid: int, exclude: int | None = None) -> list[int]:
    """Live (not zombie/dead) processes of process group ``pgid``; ``[]`` where /proc is absent."""
    members = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return members
    for entry in entries:
        if not entry.isdigit() or int(entry) == exclude:
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            members.append(int(entry))
    return members


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _drain(stream, chunks: list[str]) -> None:
    for chunk in iter(lambda: stream.read(4096), ""):
        chunks.append(chunk)


def _close(proc: subprocess.Popen[str]) -> None:
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass


def _default_sigint() -> None:
    """In the child: SIGINT back to its default. A worker started in the background (nohup, `cmd &`, some
    supervisors) passes SIGINT on as *ignored*, and then the graceful stop we send would never arrive."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
