"""Converge vs the original strategy, to the objective, on the same ARM simulator.

Both strategies run the library directly (no Airflow): scan source -> generate -> terraform apply
(real terraform, stand-in azapi provider) -> rescan target -> fidelity, iteration after iteration,
until fidelity >= 95 % and one successful iteration (or MAX_ITERATIONS; the loop itself wants 3
consecutive successes: fewer here keeps the benchmark under 5 minutes).

- converge (ours): one working directory + state for the campaign; each iteration regenerates the
  same config and ``terraform.converge`` plans and applies only the difference.
- original (reference/000): a fresh working directory and local state every iteration, everything
  created again under a per-iteration name: the original's ``ITERATION{N}_`` prefix, here as
  ``iteration{n}-`` on the resource group names (underscores are invalid in many ARM names), which
  changes every resource ID exactly as the prefix did.

In iteration 1 the PUTs of the same 2 % of source resources (every 50th by source ID) fail for both
strategies (simulator one-shot rules with ``async_error``: ARM accepts the PUT, the long-running
operation ends Failed, the resource is left behind as real ARM does), so convergence takes more
than one iteration; dependents of a failed resource are not started that iteration.
ARM writes are counted from the plans (create/update/delete = 1, replace = 2, import = 1; changes
terraform started, summed over passes) and, independently, by the simulator (``/_sim/stats``:
every PUT/DELETE/POST that reached it, retries included).
The source is scanned once per strategy (identical for both; not part of the comparison).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from tenant_replicator import devstack, iteration
from tenant_replicator.iac.secrets import tf_var_env
from tenant_replicator.settings import Settings
from tenant_replicator.terraform.converge import ConvergeOptions, converge
from tenant_replicator.terraform.runner import Terraform

SOURCE = "3f2b8c1e-5d4a-4e7b-9c21-6a8f0d2e4b17"
TARGET = "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"
FIDELITY_TARGET = 95.0
REQUIRED_SUCCESSES = 1  # the loop uses 3; each more success costs ours 0 writes, the original a full copy
MAX_ITERATIONS = 5
PARALLELISM = 20
LRO_SECONDS = 0.05
# seed-410's target already holds 22 resources with the IDs the campaign creates (4 resource groups and
# their contents); the campaign imports them (the original's renamed copies never collide)
ADOPT_EXISTING = True
FAILING_FRACTION = 0.02
_RG_TYPE = "Microsoft.Resources/resourceGroups@"


def _sim_command(sim_dir: Path) -> list[str]:
    """``--preset seed-410`` once the simulator has it, else ``--scale 400`` (DESIGN: ~410 resources)."""
    base = [sys.executable, "-m", "tenant_replicator.sim.server"]
    help_text = subprocess.run([*base, "--help"], capture_output=True, text=True, check=False).stdout
    size = ["--preset", "seed-410"] if "--preset" in help_text and "seed-410" in help_text else ["--scale", "400"]
    # long-running operations shortened (same write count, less waiting) to fit the 5-minute budget
    lro = ["--lro-seconds", str(LRO_SECONDS)] if "--lro-seconds" in help_text else []
    return [
        *base,
        *lro,
        "--port",
        "0",
        "--state-file",
        str(sim_dir / "state.json"),
        "--tls-dir",
        str(sim_dir / "tls"),
        "--ready-file",
        str(sim_dir / "ready.json"),
        "--reset",
        *size,
    ]


class Bench:
    """The embedded stack (simulator + FalkorDB) and the hooks both strategies use."""

    def __init__(self, workdir: Path) -> None:
        self.stack = devstack.Stack(workdir, env=devstack.base_env(workdir))
        sim_dir = workdir / "sim"
        sim_dir.mkdir(parents=True)
        self.sim_command = _sim_command(sim_dir)
        self.stack.services.append(
            devstack.Service("simulator", self.sim_command, self.stack.env, workdir / "logs/sim.log").start()
        )
        ready = sim_dir / "ready.json"
        info = devstack.wait_for(lambda: ready.exists() and json.loads(ready.read_text()), 60, "simulator")
        self.endpoint, self.ca_file = info["endpoint"].rstrip("/"), info["ca_file"]
        devstack.start_graph(self.stack)
        self.settings = Settings(
            arm_endpoint=self.endpoint,
            arm_ca_file=self.ca_file,
            graph_uri=self.stack.graph_uri,
            graph_name="bench_converge",
            home=workdir / "home",
        )
        from tenant_replicator.tfprovider.install import write_cli_config

        self.cli_config = str(write_cli_config(workdir / "tfprovider", python=sys.executable))

    def hook(self, method: str, path: str, payload: Any = None) -> dict[str, Any]:
        response = requests.request(
            method, f"{self.endpoint}/_sim/{path}", json=payload, verify=self.ca_file, timeout=30
        )
        response.raise_for_status()
        return response.json()

    def target_writes(self) -> int:
        return int(
            self.hook("GET", "stats")["writes"].get(TARGET.lower(), 0)
            or self.hook("GET", "stats")["writes"].get(TARGET, 0)
        )

    def terraform(self, workdir: Path) -> Terraform:
        env = {
            "TF_CLI_CONFIG_FILE": self.cli_config,
            "TENANT_REPLICATOR_ARM_ENDPOINT": self.endpoint,
            "TENANT_REPLICATOR_ARM_CA_FILE": self.ca_file,
        }
        # generated admin passwords: sensitive variables fed from the campaign's secret store
        env.update(tf_var_env(workdir))
        return Terraform(workdir, env=env, grace_s=30)

    def stop(self) -> None:
        self.stack.stop()


def prefix_resource_groups(tf_dir: Path, prefix: str) -> None:
    """The original's per-iteration names: every resource group (hence every ID) renamed."""
    config_path, map_path = tf_dir / "main.tf.json", tf_dir / "name_map.json"
    config = json.loads(config_path.read_text())
    names = []
    for block in config["resource"]["azapi_resource"].values():
        if block["type"].startswith(_RG_TYPE):
            names.append(block["name"])
            block["name"] = prefix + block["name"]
    pattern = re.compile(r"(/resourceGroups/)(" + "|".join(map(re.escape, names)) + r")(?=[/\"]|$)", re.I)
    text = pattern.sub(lambda m: m[1] + prefix + m[2], json.dumps(config))
    config_path.write_text(text)
    name_map = {k: pattern.sub(lambda m: m[1] + prefix + m[2], v) for k, v in json.loads(map_path.read_text()).items()}
    map_path.write_text(json.dumps(name_map))


def failing_rules(tf_dir: Path) -> list[dict[str, Any]]:
    """One-shot async failures for every 50th source resource (not resource groups), by source ID."""
    name_map = json.loads((tf_dir / "name_map.json").read_text())
    chosen = [name_map[s] for s in sorted(name_map) if "/providers/" in s][:: round(1 / FAILING_FRACTION)]
    error = {"code": "InternalOperationError", "message": "injected by bench_converge"}
    return [{"method": "PUT", "path_contains": target, "async_error": error, "times": 1} for target in chosen]


def run_strategy(bench: Bench, strategy: str, scan_source: bool = True) -> dict[str, Any]:
    """Iterate to the objective; returns the per-iteration rows and the totals."""
    bench.hook("POST", "reset")  # same seeded tenant, empty target, counters zeroed
    if scan_source:  # the reseeded source is identical: the second strategy reuses the graph's copy
        source_scan = iteration.scan(bench.settings, SOURCE, f"{strategy}:source")
        assert source_scan["complete"], source_scan["errors"][:3]
    ctx = iteration.prepare(
        bench.settings,
        {"source_subscription": SOURCE, "target_subscription": TARGET, "campaign_id": f"bench-{strategy}"},
        f"bench-{strategy}",
    )
    campaign_tf = ctx["tf_dir"]
    rows, streak, started = [], 0, time.monotonic()
    for n in range(1, MAX_ITERATIONS + 1):
        it_started = time.monotonic()
        if strategy == "original":
            ctx["tf_dir"] = str(Path(campaign_tf).parent / f"original-iter{n}")
            Path(ctx["tf_dir"]).mkdir(mode=0o700)
            ctx["nonce"] = f"{ctx['nonce'][:4]}{n}"  # global names must differ per copy, as they did
        generated = iteration.generate(bench.settings, ctx)
        if strategy == "original":
            prefix_resource_groups(Path(ctx["tf_dir"]), f"iteration{n}-")
        if n == 1:
            bench.hook("POST", "faults", {"faults": failing_rules(Path(ctx["tf_dir"]))})
        writes_before = bench.target_writes()
        summary = converge(
            bench.terraform(Path(ctx["tf_dir"])),
            ConvergeOptions(timeout=600, parallelism=PARALLELISM, adopt_existing=ADOPT_EXISTING),
        )
        sim_writes = bench.target_writes() - writes_before
        bench.hook("DELETE", "faults")
        scan_started = time.monotonic()
        target_scan = iteration.scan(bench.settings, TARGET, f"{strategy}:target:{n}")
        scan_s = round(time.monotonic() - scan_started, 1)
        report = iteration.fidelity(bench.settings, ctx, target_scan["scan_id"]) or {}
        success = bool(summary["ok"] and target_scan["complete"])
        streak = streak + 1 if success else 0
        rows.append(
            {
                "iteration": n,
                "emitted": generated["resources_emitted"],
                "ok": summary["ok"],
                "failed": summary["failed_count"],
                "not_started": summary["not_started_count"],
                "plan": summary["plan"],
                "writes": summary["writes"]["total"],
                "writes_planned": summary["writes_planned"]["total"],
                "sim_writes": sim_writes,
                "fidelity": report.get("overall_percent"),
                "matched": report.get("matched"),
                "passes": summary.get("passes"),
                "seconds": round(time.monotonic() - it_started, 1),
                "scan_target_s": scan_s,
                "terraform_s": {k: round(v, 1) for k, v in summary["timings"].items()},
            }
        )
        if (report.get("overall_percent") or 0) >= FIDELITY_TARGET and streak >= REQUIRED_SUCCESSES:
            break
    last = rows[-1]
    reached = (last["fidelity"] or 0) >= FIDELITY_TARGET and streak >= REQUIRED_SUCCESSES
    matched = last["matched"] or 0
    return {
        "strategy": strategy,
        "iterations": len(rows),
        "reached": reached,
        "rows": rows,
        "wall_s": round(time.monotonic() - started, 1),
        "writes": sum(r["writes"] for r in rows),
        "sim_writes": sum(r["sim_writes"] for r in rows),
        "matched": matched,
        "writes_per_resource": round(sum(r["writes"] for r in rows) / matched, 3) if matched else None,
        "sim_writes_per_resource": round(sum(r["sim_writes"] for r in rows) / matched, 3) if matched else None,
    }


def _rows(ours: dict[str, Any], original: dict[str, Any], size: str) -> list[dict[str, Any]]:
    note = (
        f"{size}, LRO {LRO_SECONDS} s; objective fidelity>={FIDELITY_TARGET:g}% + "
        f"{REQUIRED_SUCCESSES} consecutive successes; "
        f"{FAILING_FRACTION:.0%} of resources fail (async) in iteration 1; adopt_existing={ADOPT_EXISTING}; "
        "baseline = original strategy "
        "(fresh state + renamed copy each iteration)"
    )
    out = []
    for metric, key, unit in [
        ("iterations to objective", "iterations", "iterations"),
        ("wall time to objective", "wall_s", "s"),
        ("ARM writes per converged resource (plan)", "writes_per_resource", "writes"),
        ("ARM writes per converged resource (simulator)", "sim_writes_per_resource", "writes"),
        ("converged resources", "matched", "resources"),
    ]:
        value, baseline = ours[key], original[key]
        row = {
            "benchmark": "converge",
            "metric": metric,
            "value": value,
            "unit": unit,
            "baseline": baseline,
            "note": note if not out else f"reached: ours={ours['reached']}, original={original['reached']}",
        }
        if isinstance(value, (int, float)) and isinstance(baseline, (int, float)) and baseline:
            row["ratio"] = round(value / baseline, 3)
        out.append(row)
    return out


def run() -> list[dict[str, Any]]:
    if shutil.which("terraform") is None:
        raise RuntimeError("terraform is not on PATH")
    workdir = Path(tempfile.mkdtemp(prefix="bench-converge-"))
    bench = Bench(workdir)
    try:
        ours = run_strategy(bench, "converge")
        original = run_strategy(bench, "original", scan_source=False)
    finally:
        bench.stop()
    size = " ".join(bench.sim_command[-2:])
    for result in (ours, original):
        print(json.dumps({k: v for k, v in result.items() if k != "rows"}), flush=True)
        for row in result["rows"]:
            print("   ", json.dumps(row), flush=True)
    if not os.environ.get("BENCH_KEEP"):
        shutil.rmtree(workdir, ignore_errors=True)
    return _rows(ours, original, size)


if __name__ == "__main__":
    for line in run():
        print(json.dumps(line))
