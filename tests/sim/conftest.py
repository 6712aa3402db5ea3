"""Fixtures that run the ARM simulator as a real subprocess on a free loopback port.

The process is started by `tenant_replicator.devstack.start_simulator`, exactly as the demo and the
end-to-end stack start it (own process group, ready file, same arguments).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests
from azure.core.credentials import AccessToken

from tenant_replicator import devstack


class StaticCredential:
    """The simulator accepts any bearer token; this one never expires during a test."""

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken("sim", int(time.time()) + 3600)


@dataclass
class SimProcess:
    workdir: Path
    stack: devstack.Stack | None = None
    endpoint: str = ""
    ca_file: str = ""
    env: dict[str, str] = field(default_factory=dict)

    @property
    def proc(self) -> subprocess.Popen | None:
        services = self.stack.services if self.stack else []
        return services[-1].process if services else None

    @property
    def state_file(self) -> Path:
        return self.workdir / "sim" / "state.json"

    @property
    def ready_file(self) -> Path:
        return self.workdir / "sim" / "ready.json"

    @property
    def log_file(self) -> Path:
        return self.workdir / "logs" / "simulator.log"

    def start(self, *extra: str) -> SimProcess:
        """`extra`: `--reset` (discard the state, reseed) and/or `--preset NAME` (on first start/reset)."""
        env = dict(os.environ) | self.env
        args = list(extra)
        fresh = "--reset" in args
        if "--preset" in args:
            env["TENANT_REPLICATOR_SIM_PRESET"] = args[args.index("--preset") + 1]
        unknown = [a for a in args if a not in {"--reset", "--preset", env.get("TENANT_REPLICATOR_SIM_PRESET")}]
        assert not unknown, f"unsupported simulator arguments {unknown}"
        self.stack = devstack.Stack(workdir=self.workdir, env=env)
        devstack.start_simulator(self.stack, fresh=fresh)
        legacy_log = self.workdir / "sim.log"  # older tests read the log here
        if not legacy_log.exists():
            legacy_log.symlink_to(self.log_file)
        self.endpoint, self.ca_file = self.stack.arm_endpoint, self.stack.ca_file
        return self

    def stop(self) -> int:
        """SIGTERM to the group: the simulator flushes its state and exits 0."""
        proc = self.proc
        assert proc is not None
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            return proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def hook(self, method: str, path: str, payload: dict | None = None) -> dict:
        response = requests.request(
            method, f"{self.endpoint}/_sim/{path}", json=payload, verify=self.ca_file, timeout=10
        )
        response.raise_for_status()
        return response.json()

    def client(self, subscription_id: str):
        from azure.mgmt.resource.resources import ResourceManagementClient

        return ResourceManagementClient(
            StaticCredential(), subscription_id, base_url=self.endpoint, connection_verify=self.ca_file
        )


@pytest.fixture(scope="module")
def sim_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimProcess]:
    server = SimProcess(tmp_path_factory.mktemp("sim")).start("--reset")
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def sim(sim_server: SimProcess) -> SimProcess:
    """A freshly seeded simulator with zeroed counters."""
    sim_server.hook("POST", "reset")
    return sim_server


@pytest.fixture
def fresh_sim(tmp_path: Path) -> Iterator[SimProcess]:
    """A simulator of the test's own (for restart tests)."""
    server = SimProcess(tmp_path)
    try:
        yield server
    finally:
        server.kill()
