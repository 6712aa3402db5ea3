"""`tenant-replicator generate`: from an ARM export or from the graph, filters, summary, clear errors."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from tenant_replicator import cli, devstack
from tenant_replicator.iac.arm_json import load_arm_dir

CORPUS = Path(__file__).resolve().parents[1] / "data" / "arm_corpus"
TARGET = "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"


def _generate(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(["generate", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_from_arm_json_every_payload_is_accounted_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "tf"
    code, out, _ = _generate(
        capsys, "--from-arm-json", str(CORPUS), "--target-subscription", TARGET, "--out", str(out_dir), "--json"
    )
    assert code == 0
    summary = json.loads(out)
    export = load_arm_dir(CORPUS)
    total = len(export.resources) + len(export.resource_groups)
    assert summary["resources_emitted"] + summary["skipped_count"] + summary["inline_count"] == total
    assert len(summary["input_problems"]) == len(export.problems) >= 1  # reported, not silently dropped
    assert summary["secret_variables_count"] == 3
    config = json.loads((out_dir / "main.tf.json").read_text())
    assert len(config["resource"]["azapi_resource"]) == summary["resources_emitted"]
    store = json.loads((tmp_path / "secrets" / "tf_vars.json").read_text())
    assert set(store) == set(config["variable"])
    assert not any(value in (out_dir / "main.tf.json").read_text() or value in out for value in store.values())


def test_text_summary_lists_skips_and_unmapped_with_reasons(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _generate(
        capsys, "--from-arm-json", str(CORPUS), "--target-subscription", TARGET, "--out", str(tmp_path / "tf")
    )
    assert code == 0
    assert "resources emitted: " in out and "skipped: 2" in out
    assert "principals differ between tenants" in out and "unmapped references: 6" in out


def test_resource_group_filter_and_hcl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _generate(
        capsys,
        "--from-arm-json", str(CORPUS),
        "--target-subscription", TARGET,
        "--resource-group", "RG1",
        "--resource-group", "myResourceGroup",
        "--format", "hcl",
        "--out", str(tmp_path / "tf"),
        "--json",
    )  # fmt: skip
    assert code == 0
    summary = json.loads(out)
    name_map = json.loads((tmp_path / "tf" / "name_map.json").read_text())
    assert {source_id.split("/")[4] for source_id in name_map} == {"rg1", "myresourcegroup"}
    assert summary["resources_emitted"] > 2 and "resource " in (tmp_path / "tf" / "main.tf").read_text()
    assert not (tmp_path / "tf" / "main.tf.json").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--resource-group", "nope"], "resource group(s) not in the input: nope"),
        (["--overrides", "/nonexistent/o.hcl"], "cannot read overrides"),
        (["--principal-map", "/nonexistent/p.json"], "principal map"),
    ],
)
def test_bad_arguments_are_clear_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, _, err = _generate(
        capsys, "--from-arm-json", str(CORPUS), "--target-subscription", TARGET, "--out", str(tmp_path), *args
    )
    assert code == 2 and message in err


def test_graph_input_needs_its_uri(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("TENANT_REPLICATOR_GRAPH_URI", raising=False)
    code, _, err = _generate(capsys, "--source-subscription", "x", "--target-subscription", TARGET)
    assert code == 2 and "TENANT_REPLICATOR_GRAPH_URI" in err
    code, _, err = _generate(capsys, "--target-subscription", TARGET)
    assert code == 2 and "--source-subscription is required" in err


def test_from_the_graph_after_a_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default input: the latest scan of the source subscription in the graph."""
    from tenant_replicator.graph.store import open_graph
    from tenant_replicator.scan import scan_subscription
    from tenant_replicator.settings import load_settings
    from tenant_replicator.sim.seed import SOURCE_SUBSCRIPTION_ID

    with devstack.start_stack(tmp_path / "stack", airflow=False, slack=False) as stack:
        settings = load_settings(stack.env)
        store = open_graph(settings.graph_uri, settings.graph_name)
        try:
            scan = scan_subscription(settings, store, SOURCE_SUBSCRIPTION_ID, f"t-{uuid.uuid4().hex[:6]}")
        finally:
            store.close()
        assert scan["complete"]
        for key, value in stack.env.items():
            monkeypatch.setenv(key, value)
        code, out, err = _generate(
            capsys,
            "--source-subscription", SOURCE_SUBSCRIPTION_ID,
            "--target-subscription", TARGET,
            "--out", str(tmp_path / "tf"),
            "--json",
        )  # fmt: skip
    assert code == 0, err
    summary = json.loads(out)
    assert summary["resources_emitted"] + summary["skipped_count"] + summary["inline_count"] == (
        scan["resources"] + scan["resource_groups"]
    )
    assert SOURCE_SUBSCRIPTION_ID not in (tmp_path / "tf" / "main.tf.json").read_text()
