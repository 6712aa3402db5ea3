"""The embedded stack on loopback: simulator, FalkorDB, Slack capture and Airflow components.

`make demo` and the end-to-end tests start exactly the same stack through this module. Every
service runs in its own process group and is stopped by group, so nothing outlives its owner.
This is wiring (like the CLI): the library proper never imports it.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN_USER = "admin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as error:  # the service is not up yet
            last_error = error
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f} s (last error: {last_error})")


@dataclass
class Service:
    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen | None = None

    def start(self) -> Service:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, grace: float = 10.0) -> None:
        if self.process is None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
                # the leader is gone; make sure its group (children) is gone too
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
            break


@dataclass
class Stack:
    """The running embedded stack and what a client needs to reach it."""

    workdir: Path
    services: list[Service] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    arm_endpoint: str = ""
    ca_file: str = ""
    graph_uri: str = ""
    slack_capture_file: Path | None = None
    api_url: str = ""
    admin_password: str = ""

    def sim_call(self, method: str, path: str, body: dict | None = None) -> dict:
        """One call to the simulator (ARM or its `/_sim/` hooks) over its own CA; tests and rehearsals use it."""
        request = urllib.request.Request(
            f"{self.arm_endpoint}{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": "Bearer simulator"},
        )
        context = ssl.create_default_context(cafile=self.ca_file)
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        self.services.clear()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def base_env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "TENANT_REPLICATOR_"))}
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env["TENANT_REPLICATOR_HOME"] = str(workdir / "replicator")
    return env


def start_simulator(stack: Stack, fresh: bool = True) -> None:
    sim_dir = stack.workdir / "sim"
    sim_dir.mkdir(parents=True, exist_ok=True)
    ready = sim_dir / "ready.json"
    ready.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "tenant_replicator.sim.server",
        "--port",
        "0",
        "--state-file",
        str(sim_dir / "state.json"),
        "--tls-dir",
        str(sim_dir / "tls"),
        "--ready-file",
        str(ready),
    ]
    if fresh:
        command.append("--reset")
    stack.services.append(Service("simulator", command, stack.env, stack.workdir / "logs/simulator.log").start())
    info = wait_for(lambda: ready.exists() and json.loads(ready.read_text()), 30, "ARM simulator")
    stack.arm_endpoint, stack.ca_file = info["endpoint"], info["ca_file"]
    stack.env |= {"TENANT_REPLICATOR_ARM_ENDPOINT": stack.arm_endpoint, "TENANT_REPLICATOR_ARM_CA_FILE": stack.ca_file}


def start_graph(stack: Stack) -> None:
    from tenant_replicator.graph.embedded import EmbeddedFalkorDB

    port = free_port()
    falkor = EmbeddedFalkorDB(stack.workdir / "graph", port=port)
    (stack.workdir / "graph").mkdir(parents=True, exist_ok=True)
    stack.services.append(Service("falkordb", falkor.command(), stack.env, stack.workdir / "logs/falkordb.log").start())
    stack.graph_uri = f"falkordb://127.0.0.1:{port}"

    def ping() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    wait_for(ping, 30, "FalkorDB")
    stack.env["TENANT_REPLICATOR_GRAPH_URI"] = stack.graph_uri


def start_slack_capture(stack: Stack) -> None:
    port = free_port()
    stack.slack_capture_file = stack.workdir / "slack_capture.jsonl"
    command = [
        sys.executable,
        "-m",
        "tenant_replicator.slack_capture",
        "--port",
        str(port),
        "--out",
        str(stack.slack_capture_file),
    ]
    stack.services.append(Service("slack-capture", command, stack.env, stack.workdir / "logs/slack.log").start())
    wait_for(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() or True, 15, "Slack capture")
    # A webhook connection whose URL is the capture server (never the internet in tests/demo).
    stack.env["AIRFLOW_CONN_TENANT_REPLICATOR_SLACK"] = json.dumps(
        {"conn_type": "slackwebhook", "password": f"http://127.0.0.1:{port}/services/T0DEMO/B0DEMO/capture"}
    )


def airflow_env(stack: Stack, api_port: int) -> dict[str, str]:
    home = stack.workdir / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    passwords = home / "simple_auth_passwords.json"
    stack.admin_password = stack.admin_password or os.urandom(9).hex()
    passwords.write_text(json.dumps({ADMIN_USER: stack.admin_password}))
    passwords.chmod(0o600)
    db_url = stack.env.get("TENANT_REPLICATOR_TEST_DB_URL", f"sqlite:///{home / 'airflow.db'}")
    return stack.env | {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.2",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN_USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        # log servers default to fixed ports (8793/8794): two stacks on one machine must not collide
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    }


def start_airflow(
    stack: Stack, components: tuple[str, ...] = ("api-server", "scheduler", "dag-processor", "triggerer")
) -> None:
    api_port = free_port()
    env = airflow_env(stack, api_port)
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    for component in components:
        service = Service(f"airflow-{component}", [airflow, component], env, stack.workdir / f"logs/{component}.log")
        stack.services.append(service.start())
    stack.api_url = f"http://127.0.0.1:{api_port}"
    stack.env = env
    wait_for(lambda: urllib.request.urlopen(f"{stack.api_url}/api/v2/monitor/health", timeout=2), 120, "api-server")


def start_stack(workdir: Path, *, airflow: bool = True, slack: bool = True) -> Stack:
    workdir.mkdir(parents=True, exist_ok=True)
    stack = Stack(workdir=workdir, env=base_env(workdir))
    try:
        start_simulator(stack)
        start_graph(stack)
        if slack:
            start_slack_capture(stack)
        if airflow:
            start_airflow(stack)
    except BaseException:
        stack.stop()
        raise
    return stack


class AirflowClient:
    """The few REST calls the demo and e2e tests make (the same API the UI uses)."""

    def __init__(self, base_url: str, user: str, password: str) -> None:
        self.base_url = base_url
        body = json.dumps({"username": user, "password": password}).encode()
        request = urllib.request.Request(
            f"{base_url}/auth/token", data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            self.token = json.loads(response.read())["access_token"]

    def call(self, method: str, path: str, body: Any = None, attempts: int = 5) -> Any:
        """One REST call; a 500/503 is retried (SQLite, the demo's metadata DB, answers "database is
        locked" after 5 s while a task writes; a longer lock wait only made requests hang), nothing else is."""
        for attempt in range(attempts):
            try:
                return self._call(method, path, body)
            except urllib.error.HTTPError as error:
                if error.code not in (500, 503) or attempt == attempts - 1:
                    raise
                time.sleep(1 + attempt)
        raise AssertionError("unreachable")

    def _call(self, method: str, path: str, body: Any) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base_url}/api/v2{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        run = self.call("POST", f"/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
        return run["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.call("GET", f"/dags/{dag_id}/dagRuns?order_by=start_date&limit=100")["dag_runs"]

    def variable(self, key: str) -> Any | None:
        try:
            return json.loads(self.call("GET", f"/variables/{key}")["value"])
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/{key}"
        return self.call("GET", path)["value"]
