"""Parallel generation (a forked worker emits half the blocks) gives the very bytes of the serial one."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from tenant_replicator.iac import generate as gen
from tenant_replicator.iac.arm_json import load_arm_dir
from tenant_replicator.iac.generate import generate, write_config

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "arm_corpus"
TARGET = "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="parallel generation forks")


def _synthetic(count: int):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from bench_generate import SOURCE, synthetic
    finally:
        sys.path.remove(str(ROOT / "bench"))
    resources, groups = synthetic(count)
    return resources, groups, SOURCE


def _files(result, directory: Path) -> dict[str, bytes]:
    write_config(result, directory)
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.mark.parametrize("count", [62, 3000])
def test_two_workers_write_the_same_bytes_as_one(tmp_path: Path, count: int) -> None:
    if count == 62:
        export = load_arm_dir(CORPUS)
        resources, groups, source = export.resources, export.resource_groups, export.subscriptions[0]
    else:
        resources, groups, source = _synthetic(count)
    serial = generate(resources, groups, source, TARGET, "par1", emit_secrets=True, workers=1)
    forked = generate(resources, groups, source, TARGET, "par1", emit_secrets=True, workers=2)
    assert serial.rendered is None and forked.rendered is not None
    assert _files(serial, tmp_path / "serial") == _files(forked, tmp_path / "forked")
    for name in ("name_map", "skipped", "unmapped_references", "labels", "variables", "inline", "resource_count"):
        assert getattr(serial, name) == getattr(forked, name), name
    assert forked.config == serial.config  # decoded on demand from the rendered text
    assert forked.rendered is None  # the dicts are now the truth
    assert _files(serial, tmp_path / "s2") == _files(forked, tmp_path / "f2")


def test_a_cycle_across_the_two_halves_is_broken_the_same_way(tmp_path: Path) -> None:
    sub = "9b00bc5e-1f2a-4c3d-8e4f-5a6b7c8d9e0f"
    rg = f"/subscriptions/{sub}/resourceGroups/rg"
    ids = [f"{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id{n:02d}" for n in range(10)]
    payloads = [
        {"id": rid, "type": "Microsoft.ManagedIdentity/userAssignedIdentities", "location": "westeurope",
         "apiVersion": "2023-01-31", "tags": {"next": ids[(n + 1) % len(ids)]}}
        for n, rid in enumerate(ids)
    ]  # fmt: skip
    groups = [{"id": rg, "name": "rg", "location": "westeurope"}]
    serial = generate(payloads, groups, sub, TARGET, "n", workers=1)
    forked = generate(payloads, groups, sub, TARGET, "n", workers=2)
    assert _files(serial, tmp_path / "a") == _files(forked, tmp_path / "b")
    tags = [b["tags"]["next"] for b in forked.config["resource"]["azapi_resource"].values() if "tags" in b]
    assert sum(t.startswith(f"/subscriptions/{TARGET}/") for t in tags) == 1  # exactly one literal edge


def test_a_failing_worker_is_an_error_not_a_smaller_file(monkeypatch: pytest.MonkeyPatch) -> None:
    export = load_arm_dir(CORPUS)
    parent = os.getpid()
    real_emit = gen._Emission.emit

    def emit_failing_in_the_child(self, items, prepared=None):
        if os.getpid() != parent:
            raise MemoryError("simulated worker failure")
        return real_emit(self, items, prepared)

    monkeypatch.setattr(gen._Emission, "emit", emit_failing_in_the_child)
    with pytest.raises(RuntimeError, match="generation worker failed: MemoryError: simulated worker failure"):
        generate(export.resources, export.resource_groups, export.subscriptions[0], TARGET, "n", workers=2)


def test_a_worker_failing_before_the_plan_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker strips bodies while the plan is made: a failure there surfaces once the plan is sent."""
    export = load_arm_dir(CORPUS)
    parent = os.getpid()
    real_prepare = gen._Emission.prepare

    def prepare_failing_in_the_child(self, item):
        if os.getpid() != parent:
            raise MemoryError("simulated failure while stripping")
        return real_prepare(self, item)

    monkeypatch.setattr(gen._Emission, "prepare", prepare_failing_in_the_child)
    with pytest.raises(RuntimeError, match="generation worker failed: MemoryError: simulated failure while stripping"):
        generate(export.resources, export.resource_groups, export.subscriptions[0], TARGET, "n", workers=2)


def test_a_plan_error_while_the_worker_waits_ends_the_worker_too() -> None:
    """An impossible name override fails the plan after the fork: the same error as in one process, and the
    waiting worker is reaped (no child left behind)."""
    from tenant_replicator.iac.overrides import Overrides

    export = load_arm_dir(CORPUS)
    victim = next(r for r in export.resources if r["type"] == "Microsoft.Storage/storageAccounts")
    bad = Overrides(name_map={victim["id"].lower(): "Not Valid!"})
    messages = []
    for workers in (1, 2):
        with pytest.raises(ValueError, match="name_map") as caught:
            generate(export.resources, export.resource_groups, export.subscriptions[0], TARGET, "n",
                     overrides=bad, workers=workers)  # fmt: skip
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
    import psutil

    deadline = time.monotonic() + 10
    while psutil.Process().children() and time.monotonic() < deadline:  # reaped in the background
        time.sleep(0.05)
    assert psutil.Process().children() == []  # no worker left, running or zombie


@pytest.mark.parametrize("where", [0, -1])
def test_a_malformed_id_in_either_half_is_the_same_error(where: int) -> None:
    resources, groups, source = _synthetic(400)
    bad = {"id": f"/subscriptions/{source}/resourceGroups/rg/providers/Microsoft.Network", "type": "x"}
    resources = list(resources)
    resources.insert(len(resources) if where == -1 else 0, bad)
    messages = []
    for workers in (1, 2):
        with pytest.raises(ValueError, match="malformed") as caught:
            generate(resources, groups, source, TARGET, "n", workers=workers)
        messages.append(str(caught.value))
    assert messages[0] == messages[1]
