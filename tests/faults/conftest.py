"""Fixtures of the fault suite: the shared stack (see faultstack.py) and restart helpers."""

from __future__ import annotations

from collections.abc import Iterator

import faultstack
import pytest

from tenant_replicator import devstack


@pytest.fixture(scope="session")
def fault_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[devstack.Stack, devstack.AirflowClient]]:
    yield faultstack.shared_stack(tmp_path_factory.getbasetemp())
    faultstack.stop_shared_stack()


def pytest_sessionfinish(session: pytest.Session) -> None:
    faultstack.write_results()
