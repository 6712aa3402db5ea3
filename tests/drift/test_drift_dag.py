"""The drift-watch DAG factory: one DAG per configured campaign, its schedule, its steps; bad config = import error."""

from __future__ import annotations

from pathlib import Path

import pytest

DAG_FILE = Path(__file__).resolve().parents[2] / "dags" / "replication_drift_watch.py"
SRC = "3f2b8c1e-5d4a-4e7b-9c21-6a8f0d2e4b17"
TGT = "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"
OTHER = "11111111-2222-4333-8444-555555555555"


def dagbag(monkeypatch, tmp_path, text):
    from airflow.dag_processing.dagbag import DagBag

    path = tmp_path / "campaigns.yaml"
    path.write_text(text)
    monkeypatch.setenv("TENANT_REPLICATOR_CAMPAIGNS_FILE", str(path))
    return DagBag(dag_folder=str(DAG_FILE))


def test_one_dag_per_campaign_with_its_schedule(monkeypatch, tmp_path):
    bag = dagbag(
        monkeypatch,
        tmp_path,
        f"campaigns:\n  prod-dr: {{source: {SRC}, target: {TGT}, schedule: '*/30 * * * *'}}\n"
        f"  test-range: {{source: {SRC}, target: {OTHER}}}\n  off-one: {{source: {TGT}, target: {OTHER}, "
        "schedule: none, enabled: false}\n",
    )
    assert bag.import_errors == {}
    assert sorted(bag.dag_ids) == [
        "replication_drift_watch__off-one",
        "replication_drift_watch__prod-dr",
        "replication_drift_watch__test-range",
    ]
    prod = bag.dags["replication_drift_watch__prod-dr"]
    assert prod.schedule == "*/30 * * * *"
    assert bag.dags["replication_drift_watch__test-range"].schedule == "@daily"
    assert bag.dags["replication_drift_watch__off-one"].schedule is None
    assert prod.max_active_runs == 1
    order = ["check", "should_reconverge", "release_removed", "trigger_replication", "wait_converged", "snapshot"]
    for upstream, downstream in zip(order, order[1:], strict=False):
        assert downstream in prod.get_task(upstream).downstream_task_ids
    assert prod.get_task("trigger_replication").trigger_dag_id == "tenant_replication"


def test_a_bad_campaign_config_is_an_import_error_naming_file_and_key(monkeypatch, tmp_path):
    bag = dagbag(monkeypatch, tmp_path, f"campaigns:\n  prod-dr: {{source: {SRC}, target: nope}}\n")
    assert bag.dag_ids == []
    (message,) = bag.import_errors.values()
    assert "campaigns.yaml: campaigns.prod-dr.target: 'nope' is not a subscription ID" in message


@pytest.mark.parametrize("text", ["", "campaigns: {}\n"])
def test_no_campaign_no_dag(monkeypatch, tmp_path, text):
    bag = dagbag(monkeypatch, tmp_path, text)
    assert bag.import_errors == {} and bag.dag_ids == []
