"""ARM simulator throughput: is it ever our bottleneck?

The simulator runs in its own process (pinned to one core when the machine allows), seeded with the
`seed-410` preset; the client (another core) is a small thread pool of keep-alive HTTPS sessions.
Measured: GETs/s of resources by ID, PUTs/s (synchronous writes: `--lro-seconds 0`), resources/s
listed through `nextLink` paging and rows/s through Resource Graph. The baseline, measured in the
same run against the same server, is its cheapest endpoint (`GET /_sim/health`: TLS + HTTP plumbing,
no ARM work), so the ratio says how much of the plumbing's ceiling ARM semantics leave.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

SRC = "3f2b8c1e-5d4a-4e7b-9c21-6a8f0d2e4b17"
TGT = "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"
THREADS = 4
GETS = 3000
PUTS = 1000
HEADERS = {"Authorization": "Bearer bench"}


def _start(workdir: Path) -> tuple[subprocess.Popen, dict]:
    ready = workdir / "ready.json"
    cmd = [
        sys.executable, "-m", "tenant_replicator.sim.server", "--port", "0", "--preset", "seed-410",
        "--lro-seconds", "0", "--state-file", str(workdir / "state.json"), "--tls-dir", str(workdir / "tls"),
        "--ready-file", str(ready), "--log-level", "WARNING",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while not ready.is_file():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("simulator did not start")
        time.sleep(0.05)
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) >= 2:  # simulator on one core, client on another: "2 cores"
        os.sched_setaffinity(proc.pid, {cores[0]})
        os.sched_setaffinity(0, {cores[1]})
    return proc, json.loads(ready.read_text())


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _rate(jobs: list, call, verify: str) -> float:
    """Requests per second for `call(session, job)` over the jobs, THREADS keep-alive sessions."""
    local = threading.local()

    def work(job) -> None:
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
            session.verify = verify
            session.trust_env = False  # a REQUESTS_CA_BUNDLE in the environment would override verify
            session.headers.update(HEADERS)
        response = call(session, job)
        if response.status_code >= 300:
            raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(work, jobs))
    return len(jobs) / (time.perf_counter() - started)


def _ids(endpoint: str, verify: str) -> list[tuple[str, str]]:
    """(id, api-version) of every source resource, by paging the list."""
    versions = {}
    providers = requests.get(
        f"{endpoint}/subscriptions/{SRC}/providers", params={"api-version": "2021-04-01"}, headers=HEADERS,
        verify=verify, timeout=30,
    ).json()["value"]  # fmt: skip
    for provider in providers:
        for spec in provider["resourceTypes"]:
            versions[f"{provider['namespace']}/{spec['resourceType']}".lower()] = spec["defaultApiVersion"]
    out, url = [], f"{endpoint}/subscriptions/{SRC}/resources?api-version=2021-04-01&$top=1000"
    while url:
        page = requests.get(url, headers=HEADERS, verify=verify, timeout=30).json()
        out += [(r["id"], versions[r["type"].lower()]) for r in page["value"]]
        url = page.get("nextLink")
    return out


def run() -> list[dict]:
    affinity = os.sched_getaffinity(0)
    with tempfile.TemporaryDirectory(prefix="bench-sim-") as tmp:
        proc, info = _start(Path(tmp))
        try:
            endpoint, verify = info["endpoint"], info["ca_file"]
            ids = _ids(endpoint, verify)
            health = _rate(list(range(GETS)), lambda s, _: s.get(f"{endpoint}/_sim/health", timeout=30), verify)
            gets = _rate(
                [ids[i % len(ids)] for i in range(GETS)],
                lambda s, job: s.get(f"{endpoint}{job[0]}", params={"api-version": job[1]}, timeout=30),
                verify,
            )
            rg = f"{endpoint}/subscriptions/{TGT}/resourceGroups/rg-bench"
            requests.put(rg, params={"api-version": "2024-03-01"}, json={"location": "westeurope"}, headers=HEADERS,
                         verify=verify, timeout=30)  # fmt: skip
            body = {"location": "westeurope", "tags": {"bench": "1"}, "properties": {"securityRules": []}}
            puts = _rate(
                list(range(PUTS)),
                lambda s, i: s.put(
                    f"{rg}/providers/Microsoft.Network/networkSecurityGroups/nsg-{i:05d}",
                    params={"api-version": "2024-05-01"},
                    json=body,
                    timeout=30,
                ),  # fmt: skip
                verify,
            )
            started = time.perf_counter()
            listed = len(_ids(endpoint, verify))
            list_rate = listed / (time.perf_counter() - started)
            started, rows, token = time.perf_counter(), 0, None
            while True:
                options = {"$top": 1000, **({"$skipToken": token} if token else {})}
                page = requests.post(
                    f"{endpoint}/providers/Microsoft.ResourceGraph/resources", params={"api-version": "2022-10-01"},
                    json={"subscriptions": [SRC], "query": "Resources | order by id asc", "options": options},
                    headers=HEADERS, verify=verify, timeout=60,
                ).json()  # fmt: skip
                rows += page["count"]
                token = page.get("$skipToken")
                if not token:
                    break
            graph_rate = rows / (time.perf_counter() - started)
        finally:
            _stop(proc)
            os.sched_setaffinity(0, affinity)
    note = f"{THREADS} keep-alive HTTPS sessions; simulator process pinned to 1 core, client to another"
    base = {"benchmark": "simulator", "baseline": round(health, 1)}
    return [
        {**base, "metric": "GET resource by id", "value": round(gets, 1), "unit": "req/s",
         "ratio": round(gets / health, 3), "note": f"baseline: GET /_sim/health req/s; {note}"},
        {**base, "metric": "PUT NSG (synchronous)", "value": round(puts, 1), "unit": "req/s",
         "ratio": round(puts / health, 3), "note": "journaled write per PUT; baseline as above"},
        {"benchmark": "simulator", "metric": "list /resources (nextLink, $top=1000)", "value": round(list_rate, 1),
         "unit": "resources/s", "note": "seed-410 source subscription"},
        {"benchmark": "simulator", "metric": "Resource Graph rows", "value": round(graph_rate, 1), "unit": "rows/s",
         "note": "Resources | order by id asc, pages of 1000"},
        {"benchmark": "simulator", "metric": "plumbing ceiling (GET /_sim/health)", "value": round(health, 1),
         "unit": "req/s", "note": note},
    ]  # fmt: skip


if __name__ == "__main__":
    for row in run():
        print(row)
