"""One embedded stack for the fault and security suites, and the helpers that hurt it.

Both `tests/faults` and `tests/security` use the same running stack (a module-level singleton, so one
Airflow start serves the whole session), tuned so that a killed task is noticed in seconds, not the
default five minutes, and the simulator restarts on the same endpoint. Outcomes of each case are
collected here and, when `TENANT_REPLICATOR_RELIABILITY_JSON` names a file, written there at the end of
the session (`python tests/faults/render_reliability.py` turns that file into docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tenant_replicator import devstack
from tenant_replicator.demo import DAG_ID, demo_conf
from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID as SRC
from tenant_replicator.sim.seed import TARGET_SUBSCRIPTION_ID as TGT

RESULTS_ENV = "TENANT_REPLICATOR_RELIABILITY_JSON"
# A task whose process died is noticed after this long without a heartbeat (Airflow's default is 300 s).
FAULT_AIRFLOW_ENV = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
    "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "10",
    "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "5",
}


@dataclass
class Session:
    stack: devstack.Stack | None = None
    client: devstack.AirflowClient | None = None
    # source writes seen before each simulator reset (a reset zeroes the simulator's counters)
    source_writes: int = 0
    source_reads: int = 0
    outcomes: list[dict[str, Any]] = field(default_factory=list)


SESSION = Session()


def shared_stack(tmp_root: Path) -> tuple[devstack.Stack, devstack.AirflowClient]:
    """The session's stack, started on first use."""
    if SESSION.stack is None:
        workdir = tmp_root / "faultstack"
        workdir.mkdir(parents=True, exist_ok=True)
        stack = devstack.Stack(workdir=workdir, env=devstack.base_env(workdir))
        stack.env |= {"TENANT_REPLICATOR_SIM_PORT": str(devstack.free_port()), **FAULT_AIRFLOW_ENV}
        try:
            devstack.start_simulator(stack)
            devstack.start_graph(stack)
            devstack.start_slack_capture(stack)
            devstack.start_airflow(stack)
            client = devstack.AirflowClient(stack.api_url, devstack.ADMIN_USER, stack.admin_password)
            devstack.wait_for(lambda: client.call("GET", f"/dags/{DAG_ID}"), 180, "DAG parsed", 1)
            devstack.wait_for(lambda: client.call("GET", "/dags/replication_status"), 60, "status DAG parsed", 1)
            client.call("PATCH", "/dags/replication_status", {"is_paused": True})
        except BaseException:
            stack.stop()
            raise
        SESSION.stack, SESSION.client = stack, client
    return SESSION.stack, SESSION.client


def stop_shared_stack() -> None:
    if SESSION.stack is not None:
        SESSION.stack.stop()
        SESSION.stack = None


def write_results() -> None:
    """The outcomes of this session merged into `$TENANT_REPLICATOR_RELIABILITY_JSON` (by case), if set."""
    path = os.environ.get(RESULTS_ENV)
    if not path or not SESSION.outcomes:
        return
    target = Path(path)
    known = json.loads(target.read_text())["outcomes"] if target.exists() else []
    cases = {o["case"] for o in SESSION.outcomes}
    merged = [o for o in known if o["case"] not in cases] + SESSION.outcomes
    target.write_text(json.dumps({"outcomes": merged}, indent=1, sort_keys=True) + "\n")


def record_outcome(case: str, result: str, lost: int, **measured: Any) -> None:
    """One row of the reliability table: `lost` counts resources/iterations/counters lost (expected 0)."""
    SESSION.outcomes = [o for o in SESSION.outcomes if o["case"] != case]
    SESSION.outcomes.append({"case": case, "result": result, "lost": lost, "measured": measured})


# --- the simulator ---------------------------------------------------------------------------------


def sim_stats(stack: devstack.Stack) -> dict[str, Any]:
    return stack.sim_call("GET", "/_sim/stats")


def reset_simulator(stack: devstack.Stack) -> None:
    """Reseed the simulator; the source's counters seen so far are kept in the session's tally first."""
    stats = sim_stats(stack)
    SESSION.source_writes += int(stats["writes"].get(SRC, 0))
    SESSION.source_reads += int(stats["reads"].get(SRC, 0))
    stack.sim_call("DELETE", "/_sim/faults")
    stack.sim_call("POST", "/_sim/reset")


def total_source_writes(stack: devstack.Stack) -> int:
    return SESSION.source_writes + int(sim_stats(stack)["writes"].get(SRC, 0))


def service(stack: devstack.Stack, name: str) -> devstack.Service:
    return next(s for s in stack.services if s.name == name)


def sigkill(svc: devstack.Service) -> None:
    """SIGKILL to the service's whole process group (what a crashed machine or OOM killer does)."""
    assert svc.process is not None
    try:
        os.killpg(svc.process.pid, signal.SIGKILL)
    except ProcessLookupError:  # already dead
        pass
    svc.process.wait(timeout=30)


def descendants(pid: int) -> list[int]:
    """Every live process below `pid` (task supervisors, task runners, terraform and its provider plugins)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def crash(svc: devstack.Service) -> int:
    """What a machine crash does to one service: SIGKILL to its group and to every process below it, whatever
    group or session they moved to (terraform runs in a session of its own). Returns how many were killed."""
    assert svc.process is not None
    below = descendants(svc.process.pid)
    groups = {svc.process.pid}
    for pid in below:
        try:
            groups.add(os.getpgid(pid))
        except ProcessLookupError:
            pass
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except ProcessLookupError:
            pass
    svc.process.wait(timeout=30)
    return len(below) + 1


def restart(stack: devstack.Stack, name: str, kill: bool = True) -> devstack.Service:
    """Kill (SIGKILL) or stop a service and start a new process with the same command in its place."""
    old = service(stack, name)
    if kill:
        sigkill(old)
    else:
        old.stop()
    new = devstack.Service(old.name, old.command, old.env, old.log_path)
    stack.services[stack.services.index(old)] = new.start()
    return new


def restart_simulator(stack: devstack.Stack, outage_s: float = 2.0) -> None:
    """SIGKILL the simulator, stay down `outage_s`, start it again on its state journal, same endpoint."""
    old = service(stack, "simulator")
    counted = sim_stats(stack)
    sigkill(old)
    stack.services.remove(old)
    time.sleep(outage_s)
    endpoint = stack.arm_endpoint
    devstack.start_simulator(stack, fresh=False)
    assert stack.arm_endpoint == endpoint, (stack.arm_endpoint, endpoint)
    if int(sim_stats(stack)["writes"].get(SRC, 0)) < int(counted["writes"].get(SRC, 0)):  # counters not journaled
        SESSION.source_writes += int(counted["writes"].get(SRC, 0))
        SESSION.source_reads += int(counted["reads"].get(SRC, 0))


def restart_graph(stack: devstack.Stack, outage_s: float = 0.0) -> None:
    old = service(stack, "falkordb")
    sigkill(old)
    time.sleep(outage_s)
    new = devstack.Service(old.name, old.command, old.env, old.log_path)
    stack.services[stack.services.index(old)] = new.start()
    port = int(stack.graph_uri.rsplit(":", 1)[1])

    def ping() -> bool:
        import socket

        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    devstack.wait_for(ping, 30, "FalkorDB after restart")


# --- Airflow -----------------------------------------------------------------------------------------


def campaign_conf(campaign_id: str, **overrides: Any) -> dict[str, Any]:
    return demo_conf(SRC, TGT, campaign_id=campaign_id, **overrides)


def campaign_runs(client: devstack.AirflowClient, campaign_id: str) -> list[dict[str, Any]]:
    runs = [r for r in client.runs(DAG_ID) if (r.get("conf") or {}).get("campaign_id") == campaign_id]
    return sorted(runs, key=lambda r: r.get("start_date") or r.get("queued_at") or "")


def task_states(client: devstack.AirflowClient, run_id: str) -> dict[str, str | None]:
    tis = client.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")["task_instances"]
    return {ti["task_id"]: ti["state"] for ti in tis}


def xcom(client: devstack.AirflowClient, run_id: str, task_id: str, key: str = "return_value") -> Any:
    value = client.xcom(DAG_ID, run_id, task_id, key)
    return json.loads(value) if isinstance(value, str) else value


def follow(client: devstack.AirflowClient, campaign_id: str, timeout: float) -> dict[str, Any]:
    """Wait until the campaign's chain ended and none of its runs is queued or running; the final Variable."""
    key = f"tenant_replication__{campaign_id}"

    def ended() -> dict[str, Any] | None:
        state = client.variable(key) or {}
        if state.get("status") not in {"objective_met", "stopped"}:
            return None
        busy = [r for r in campaign_runs(client, campaign_id) if r["state"] in {"queued", "running"}]
        return None if busy else state

    return devstack.wait_for(ended, timeout, f"chain of {campaign_id}", 2)


def chain_seconds(client: devstack.AirflowClient, campaign_id: str) -> float:
    """Wall time from the first run's start to the last run's end of the campaign."""
    from datetime import datetime

    runs = [r for r in campaign_runs(client, campaign_id) if r.get("start_date") and r.get("end_date")]
    start = min(datetime.fromisoformat(r["start_date"]) for r in runs)
    end = max(datetime.fromisoformat(r["end_date"]) for r in runs)
    return round((end - start).total_seconds(), 1)


def campaign_dir(stack: devstack.Stack, campaign_id: str) -> Path:
    return stack.workdir / "replicator" / "campaigns" / campaign_id


# --- what the campaign claims vs what the target holds ---------------------------------------------


def claimed_done(stack: devstack.Stack, campaign_id: str, report: dict[str, Any]) -> list[str]:
    """Target IDs the fidelity report counts as replicated: the name map minus unmatched and out-of-scope."""
    name_map = json.loads((campaign_dir(stack, campaign_id) / "terraform" / "name_map.json").read_text())
    excluded = {str(e["id"]).lower() for e in [*report.get("unmatched", []), *report.get("out_of_scope", [])]}
    return sorted({str(t) for s, t in name_map.items() if s.lower() not in excluded})


def arm_exists(stack: devstack.Stack, resource_id: str, api_version: str = "2024-03-01") -> bool:
    """GET by id; on NoRegisteredProviderFound retry with a version ARM says it supports (as clients do)."""
    import re
    import urllib.error

    try:
        stack.sim_call("GET", f"{resource_id}?api-version={api_version}")
        return True
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return False
        text = error.read().decode(errors="replace")
        supported = re.search(r"supported api-versions are '([^',]+)", text)
        if error.code == 400 and supported and supported.group(1) != api_version:
            return arm_exists(stack, resource_id, supported.group(1))
        raise AssertionError(f"GET {resource_id}: {error.code} {text[:300]}") from None


def missing_from_target(stack: devstack.Stack, campaign_id: str, report: dict[str, Any]) -> tuple[int, list[str]]:
    """(how many the report claims, which of those the simulator's target does not hold)."""
    claimed = claimed_done(stack, campaign_id, report)
    return len(claimed), [t for t in claimed if not arm_exists(stack, t)]


def list_target(stack: devstack.Stack) -> list[dict[str, Any]]:
    """The target's top-level resources as its ARM lists them (all pages)."""
    resources, url = [], f"/subscriptions/{TGT}/resources?api-version=2021-04-01"
    while url:
        page = stack.sim_call("GET", url)
        resources += page.get("value", [])
        url = (page.get("nextLink") or "").replace(stack.arm_endpoint, "") or None
    return resources


# --- processes ---------------------------------------------------------------------------------------


def stray_processes(stack: devstack.Stack) -> list[str]:
    """Processes running in (or naming) the stack's workdir that are not in a live service's process group."""
    groups = {s.process.pid for s in stack.services if s.process is not None and s.process.poll() is None}
    found = []
    workdir = str(stack.workdir)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            pgid = os.getpgid(int(entry.name))
        except (OSError, ProcessLookupError):
            continue
        if (cwd.startswith(workdir) or workdir in cmdline) and pgid not in groups:
            found.append(f"{entry.name} (pgid {pgid}, cwd {cwd}): {cmdline[:160]}")
    return found


# -- shared by tests/faults/conftest.py and tests/security/conftest.py (imported there by name) -----------


@pytest.fixture(scope="session")
def fault_stack(tmp_path_factory: pytest.TempPathFactory):
    yield shared_stack(tmp_path_factory.getbasetemp())
    stop_shared_stack()


def pytest_sessionfinish(session: pytest.Session) -> None:
    write_results()
