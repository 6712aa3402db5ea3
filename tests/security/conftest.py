"""Security suite fixtures: the same shared stack as tests/faults (one Airflow start per session)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))

import faultstack  # noqa: E402

from tenant_replicator import devstack  # noqa: E402


@pytest.fixture(scope="session")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[devstack.Stack, devstack.AirflowClient]]:
    yield faultstack.shared_stack(tmp_path_factory.getbasetemp())
    faultstack.stop_shared_stack()


def pytest_sessionfinish(session: pytest.Session) -> None:
    faultstack.write_results()
