"""The campaign page: a FastAPI app the Airflow api-server mounts under /tenant-replicator.

This package is imported by every Airflow process that loads plugins (dag-processor, workers),
so it imports nothing heavy: FastAPI and the metadata DB are reached only inside `LazyApp`.
"""

from __future__ import annotations

import importlib
from typing import Any

URL_PREFIX = "/tenant-replicator"
VARIABLE_PREFIX = "tenant_replication__"


class LazyApp:
    """An ASGI app that builds the real one on first request: plugin import stays cheap."""

    def __init__(self, factory: str) -> None:
        self.factory = factory  # "module:function"
        self._app: Any = None

    def build(self) -> Any:
        if self._app is None:
            module, _, name = self.factory.partition(":")
            self._app = getattr(importlib.import_module(module), name)()
        return self._app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        await self.build()(scope, receive, send)

    def __repr__(self) -> str:
        return f"LazyApp({self.factory!r})"
