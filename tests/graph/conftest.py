"""A real embedded FalkorDB per test module (own process group, free loopback port, tmp data dir)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tenant_replicator.graph.embedded import EmbeddedFalkorDB, free_bolt_port


@pytest.fixture(scope="module")
def falkordb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedFalkorDB]:
    server = EmbeddedFalkorDB(Path(tmp_path_factory.mktemp("falkordb")), bolt_port=free_bolt_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()
