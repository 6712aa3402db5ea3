"""A GraphStore from an Airflow connection, so production credentials live in Airflow, not in env.

`neo4j` connections (apache-airflow-providers-neo4j: host, port, login, password, schema = database,
extras `neo4j_scheme`/`encrypted`/`certs_*`) go through `Neo4jHook.get_conn()` -> the official
driver; any other connection names a FalkorDB (`extra.uri`, else `falkordb://host:port`).
Airflow is imported only when called (the library has no module-level Airflow import).
"""

from __future__ import annotations

from typing import Any

from tenant_replicator.graph.store import GraphStore, GraphUnavailable, open_graph, redact


def _connection(conn_id: str) -> Any:
    from airflow.providers.neo4j.hooks.neo4j import Neo4jHook

    try:
        return Neo4jHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException and friends: name the connection
        raise GraphUnavailable(f"graph connection {conn_id!r} is not defined: {exc}") from exc


def open_graph_from_connection(
    conn_id: str, name: str = "tenant_replicator", batch_size: int | None = None
) -> GraphStore:
    """Connect to the graph an Airflow connection describes and check it answers (GraphUnavailable otherwise)."""
    conn = _connection(conn_id)
    if (conn.conn_type or "").lower() == "neo4j":
        from airflow.providers.neo4j.hooks.neo4j import Neo4jHook
        from neo4j.exceptions import DriverError, Neo4jError

        from tenant_replicator.graph.neo4j_store import DEFAULT_BATCH, Neo4jGraphStore

        hook = Neo4jHook(conn_id)
        uri = hook.get_uri(conn)
        try:
            driver = hook.get_conn()
            driver.verify_connectivity()
        except (DriverError, Neo4jError, OSError, ValueError) as exc:
            raise GraphUnavailable(f"graph connection {conn_id!r} ({redact(uri)}) does not answer: {exc}") from exc
        return Neo4jGraphStore(driver, conn.schema or None, batch_size or DEFAULT_BATCH)
    extra = conn.extra_dejson or {}
    uri = extra.get("uri") or f"falkordb://{conn.host or '127.0.0.1'}:{conn.port or 6379}"
    try:
        return open_graph(uri, conn.schema or name, conn.login, conn.password, batch_size)
    except GraphUnavailable as exc:
        raise GraphUnavailable(f"graph connection {conn_id!r}: {exc}") from exc
