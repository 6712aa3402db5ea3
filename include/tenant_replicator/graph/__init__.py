"""Graph access: one GraphStore interface over FalkorDB (redis protocol) and the neo4j driver."""

from tenant_replicator.graph.store import GraphStore, GraphUnavailable, ensure_indexes, open_graph

__all__ = ["GraphStore", "GraphUnavailable", "ensure_indexes", "open_graph"]
