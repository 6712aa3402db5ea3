"""The official neo4j driver: production Neo4j, and FalkorDB's Bolt endpoint offline.

Writes run as managed write transactions (retried by the driver on transient errors), one per
batch. Batches default to 500 rows: FalkorDB's Bolt endpoint broke on ~1,000-row payloads.

FalkorDB 4.16's Bolt endpoint (the offline stand-in for Neo4j) has limits we measured, so use
it to test this code path with small payloads, and `falkordb://` for real data:
- a query whose parameters exceed ~4.4 KB crashes the server ("stack smashing detected"; 70 tiny
  rows passed, 75 did not), which is why ~1,000-row batches "broke the connection";
- it serves one graph (`falkordb`) whatever the database name;
- string parameters containing an apostrophe fail, and backslash escapes are interpreted
  (backslash-b arrives as a backspace);
- with AOF on, a Bolt write kills the server (EmbeddedFalkorDB turns AOF off when Bolt is on).
Real Neo4j has none of these.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlunparse

from tenant_replicator.graph.store import (
    GraphTarget,
    GraphUnavailable,
    batches,
    redact,
    referenced_fields,
    split_credentials,
)

DEFAULT_BATCH = 500
DEFAULT_NAMES = {"", "neo4j", "tenant_replicator"}


def plain(value: Any) -> Any:
    """neo4j Node/Relationship -> property dict; lists/maps recurse."""
    from neo4j.graph import Node, Relationship

    if isinstance(value, (Node, Relationship)):
        return {k: plain(v) for k, v in dict(value).items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


class Neo4jGraphStore:
    """GraphStore over a neo4j Driver (from `open_graph`, or Airflow's Neo4jHook.get_conn())."""

    def __init__(self, driver: Any, database: str | None = None, batch_size: int = DEFAULT_BATCH) -> None:
        self._driver = driver
        self.database = database
        self.batch_size = batch_size

    @classmethod
    def connect(cls, target: GraphTarget) -> Neo4jGraphStore:
        from neo4j import GraphDatabase
        from neo4j.exceptions import DriverError, Neo4jError

        uri, name, batch_size = target.uri, target.name, target.batch_size

        # the driver refuses credentials in the URI: move them to `auth`
        parsed, user, password = split_credentials(uri, target.user, target.password)
        bare = urlunparse(parsed)
        auth = (user, password or "") if user else None
        try:
            driver = GraphDatabase.driver(bare, auth=auth, connection_timeout=5)
        except (DriverError, ValueError) as exc:
            raise GraphUnavailable(f"graph URI {redact(uri)} is not usable: {exc}") from exc
        try:
            driver.verify_connectivity()
        except (DriverError, Neo4jError, OSError, ValueError) as exc:
            driver.close()
            raise GraphUnavailable(f"graph server at {redact(uri)} does not answer: {exc}") from exc
        database = None if name in DEFAULT_NAMES else name
        return cls(driver, database, batch_size or DEFAULT_BATCH)

    def _session(self) -> Any:
        return self._driver.session(database=self.database) if self.database else self._driver.session()

    def query(self, cypher: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        # auto-commit: also valid for schema statements, which Neo4j refuses inside write transactions
        with _unavailable_as_error(), self._session() as session:
            result = session.run(cypher, params or {})
            return [{k: plain(v) for k, v in record.items()} for record in result]

    def write(
        self,
        cypher: str,
        rows: Sequence[dict[str, Any]],
        batch_size: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> int:
        written = 0
        fields = referenced_fields(cypher)
        with _unavailable_as_error(), self._session() as session:
            for batch in batches(rows, batch_size or self.batch_size):
                sent = batch if fields is None else [{k: row.get(k) for k in fields} for row in batch]
                session.execute_write(_run_consumed, cypher, sent, params or {})
                written += len(batch)
        return written

    def close(self) -> None:
        self._driver.close()


@contextmanager
def _unavailable_as_error() -> Iterator[None]:
    """A server that went away mid-scan is GraphUnavailable, as at connect time (after the driver's retries)."""
    from neo4j.exceptions import ServiceUnavailable, SessionExpired

    try:
        yield
    except (ServiceUnavailable, SessionExpired) as exc:
        raise GraphUnavailable(f"graph server stopped answering: {exc}") from exc


def _run_consumed(tx: Any, cypher: str, rows: list[dict[str, Any]], params: dict[str, Any]) -> None:
    tx.run(cypher, {**params, "rows": rows}).consume()
