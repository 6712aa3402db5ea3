"""Bad environments fail before anything is read or written, naming what is missing."""

from __future__ import annotations

import pytest

from tenant_replicator import iteration
from tenant_replicator.devstack import free_port
from tenant_replicator.preflight import PreflightError, check_arm, check_graph, check_terraform
from tenant_replicator.settings import ConfigurationError, load_settings

SRC, TGT = "3f2b8c1e-5d4a-4e7b-9c21-6a8f0d2e4b17", "c7e91a04-2b6f-4d38-a5e2-91f4b7c0d863"


def settings_for(tmp_path, **env):
    return load_settings({"TENANT_REPLICATOR_HOME": str(tmp_path)} | env)


def test_terraform_missing_from_path(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(PreflightError, match="terraform not found on PATH"):
        check_terraform()


def test_unknown_graph_uri_is_named(tmp_path):
    settings = settings_for(tmp_path, TENANT_REPLICATOR_GRAPH_URI="mongodb://127.0.0.1:1")
    with pytest.raises(PreflightError, match="TENANT_REPLICATOR_GRAPH_URI.*mongodb"):
        check_graph(settings)


def test_unreachable_graph_is_named(tmp_path):
    settings = settings_for(tmp_path, TENANT_REPLICATOR_GRAPH_URI=f"falkordb://127.0.0.1:{free_port()}")
    with pytest.raises(PreflightError, match="graph not reachable"):
        check_graph(settings)


def test_unreachable_arm_endpoint_is_named(tmp_path):
    endpoint = f"https://127.0.0.1:{free_port()}"
    settings = settings_for(tmp_path, TENANT_REPLICATOR_ARM_ENDPOINT=endpoint)
    with pytest.raises(PreflightError, match=f"ARM endpoint {endpoint} not reachable"):
        check_arm(settings, timeout=2)


def test_plain_http_arm_endpoint_is_refused(tmp_path):
    with pytest.raises(ConfigurationError, match="TENANT_REPLICATOR_ARM_ENDPOINT"):
        settings_for(tmp_path, TENANT_REPLICATOR_ARM_ENDPOINT="http://127.0.0.1:1")


def test_prepare_refuses_before_creating_anything(tmp_path):
    settings = settings_for(tmp_path / "home", TENANT_REPLICATOR_GRAPH_URI=f"falkordb://127.0.0.1:{free_port()}")
    with pytest.raises(PreflightError):
        iteration.prepare(settings, {"source_subscription": SRC, "target_subscription": TGT}, "run")
    assert not (tmp_path / "home").exists()
