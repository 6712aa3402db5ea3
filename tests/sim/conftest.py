"""Fixtures that run the ARM simulator as a real subprocess on a free loopback port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from azure.core.credentials import AccessToken

READY_TIMEOUT_S = 30


class StaticCredential:
    """The simulator accepts any bearer token; this one never expires during a test."""

    def get_token(self, *scopes: str, **kwargs: object) -> AccessToken:
        return AccessToken("sim", int(time.time()) + 3600)


@dataclass
class SimProcess:
    workdir: Path
    proc: subprocess.Popen | None = None
    endpoint: str = ""
    ca_file: str = ""

    @property
    def state_file(self) -> Path:
        return self.workdir / "state.json"

    @property
    def ready_file(self) -> Path:
        return self.workdir / "ready.json"

    def start(self, *extra: str) -> SimProcess:
        self.ready_file.unlink(missing_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "tenant_replicator.sim.server",
            "--port",
            "0",
            "--state-file",
            str(self.state_file),
            "--tls-dir",
            str(self.workdir / "tls"),
            "--ready-file",
            str(self.ready_file),
            *extra,
        ]
        log = open(self.workdir / "sim.log", "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not self.ready_file.is_file():
            if self.proc.poll() is not None:
                raise RuntimeError(f"simulator exited {self.proc.returncode}: {(self.workdir / 'sim.log').read_text()}")
            if time.monotonic() > deadline:
                self.kill()
                raise TimeoutError("simulator did not become ready")
            time.sleep(0.05)
        ready = json.loads(self.ready_file.read_text())
        assert ready["pid"] == self.proc.pid
        self.endpoint, self.ca_file = ready["endpoint"], ready["ca_file"]
        return self

    def stop(self) -> int:
        """SIGTERM to the group: the simulator flushes its state and exits 0."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

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
    server = SimProcess(tmp_path_factory.mktemp("sim")).start()
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
