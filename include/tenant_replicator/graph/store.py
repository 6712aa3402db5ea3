"""One small interface over the graph database, so the scanner's Cypher runs on FalkorDB and Neo4j alike.

Backends are chosen by URI scheme: `falkordb://` / `redis://` -> FalkorDB (redis protocol, large
batches), `bolt://` / `neo4j://` (and `+s`/`+ssc`) -> the official neo4j driver (Neo4j, or
FalkorDB's Bolt endpoint). Only OpenCypher that FalkorDB accepts is used by the library.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable
from urllib.parse import unquote, urlparse, urlunparse

FALKOR_SCHEMES = {"falkordb", "falkordbs", "redis", "rediss"}
BOLT_SCHEMES = {"bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc"}

# (label, property) pairs the scanner looks nodes up by.
INDEXES: tuple[tuple[str, str], ...] = (
    ("Resource", "id_lower"),
    ("Resource", "subscription_id"),
    ("ResourceGroup", "id_lower"),
    ("Subscription", "id"),
)


class GraphUnavailable(RuntimeError):
    """The graph URI is unusable (unknown scheme) or its server does not answer."""


@runtime_checkable
class GraphStore(Protocol):
    """What the library needs from a graph database."""

    def query(self, cypher: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run one statement; rows as dicts keyed by the RETURN aliases (nodes become property dicts)."""
        ...

    def write(
        self,
        cypher: str,
        rows: Sequence[dict[str, Any]],
        batch_size: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> int:
        """Run `cypher` (starting `UNWIND $rows AS row`) once per batch of rows, with `params` besides
        `$rows`; returns rows written."""
        ...

    def close(self) -> None: ...


def redact(uri: str) -> str:
    """The URI without any password, for error messages and logs."""
    parsed = urlparse(uri)
    if parsed.password is None:
        return uri
    netloc = parsed.hostname or ""
    if parsed.username:
        netloc = f"{parsed.username}:***@{netloc}"
    if parsed.port:
        netloc += f":{parsed.port}"
    return urlunparse(parsed._replace(netloc=netloc))


@dataclass(frozen=True)
class GraphTarget:
    """Where a store connects: URI, graph key or database `name`, credentials, write batch size."""

    uri: str
    name: str
    user: str | None = None
    password: str | None = None
    batch_size: int | None = None


def split_credentials(
    uri: str, user: str | None = None, password: str | None = None
) -> tuple[Any, str | None, str | None]:
    """(parsed URI without user-info, user, password): explicit credentials win over the URI's
    (percent-decoded), so either backend can take them from an Airflow connection or the URI."""
    parsed = urlparse(uri)
    user = user or (unquote(parsed.username) if parsed.username else None)
    password = password or (unquote(parsed.password) if parsed.password else None)
    return parsed._replace(netloc=parsed.netloc.rpartition("@")[2]), user, password


UNWIND_ROWS = re.compile(r"^\s*UNWIND\s+\$rows\s+AS\s+row\b", re.IGNORECASE)
_ROW_USE = re.compile(r"\brow\b(\s*\.\s*(\w+))?")
_PASSED_ON = re.compile(r"\bWITH\s+(?:\w+\s*,\s*)*$", re.IGNORECASE)


@lru_cache(maxsize=256)  # a load asks once per batch of the same few statements
def referenced_fields(cypher: str) -> tuple[str, ...] | None:
    """The `row.<field>`s an `UNWIND $rows AS row` statement reads, in first-use order, so a store
    sends only those (a loader can pass its full rows without copying them); None when the statement
    is not of that shape or uses `row` as a whole (other than passing it on in a WITH)."""
    match = UNWIND_ROWS.match(cypher)
    if not match:
        return None
    rest = cypher[match.end() :]
    fields: dict[str, None] = {}
    for use in _ROW_USE.finditer(rest):
        if use.group(2):
            fields.setdefault(use.group(2), None)
        elif not _PASSED_ON.search(rest[: use.start()]):
            return None
    return tuple(fields)


def batches(rows: Sequence[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """Consecutive slices of at most `size` rows."""
    if size < 1:
        raise ValueError(f"batch size must be >= 1, got {size}")
    for start in range(0, len(rows), size):
        yield list(rows[start : start + size])


def open_graph(
    uri: str,
    name: str = "tenant_replicator",
    user: str | None = None,
    password: str | None = None,
    batch_size: int | None = None,
) -> GraphStore:
    """Connect to the graph at `uri` and check it answers; raises GraphUnavailable otherwise.

    `name` is the FalkorDB graph key, or the Neo4j database when it is not the default name
    (Neo4j Community has only its default database).
    """
    scheme = urlparse(uri).scheme.lower()
    if scheme in FALKOR_SCHEMES:
        from tenant_replicator.graph.falkor import FalkorGraphStore

        return FalkorGraphStore.connect(GraphTarget(uri, name, user, password, batch_size))
    if scheme in BOLT_SCHEMES:
        from tenant_replicator.graph.neo4j_store import Neo4jGraphStore

        return Neo4jGraphStore.connect(GraphTarget(uri, name, user, password, batch_size))
    raise GraphUnavailable(f"unsupported graph URI {redact(uri)!r}: use falkordb://, redis://, bolt:// or neo4j://")


def existing_indexes(store: GraphStore) -> set[tuple[str, str]] | None:
    """(label, property) pairs already indexed, via FalkorDB's `db.indexes()`; None where the
    procedure does not exist (Neo4j 5 replaced it with SHOW INDEXES)."""
    try:
        rows = store.query("CALL db.indexes() YIELD label, properties RETURN label, properties")
    except Exception:  # noqa: BLE001 - absence of the procedure is the signal
        return None
    return {(str(row["label"]), str(p)) for row in rows for p in row["properties"] or []}


def ensure_indexes(store: GraphStore) -> list[str]:
    """Create the lookup indexes the scanner relies on; idempotent on both backends.

    FalkorDB has no `IF NOT EXISTS` (and its Bolt endpoint hides error messages), so we list its
    indexes first; Neo4j gets `CREATE INDEX IF NOT EXISTS`. Returns the indexes this call created
    (for Neo4j: the ones it asked for).
    """
    have = existing_indexes(store)
    created = []
    for label, prop in INDEXES:
        if have is None:
            store.query(f"CREATE INDEX IF NOT EXISTS FOR (n:{label}) ON (n.{prop})")
        elif (label, prop) in have:
            continue
        else:
            try:
                store.query(f"CREATE INDEX FOR (n:{label}) ON (n.{prop})")
            except Exception as exc:  # a concurrent scan may have just created it
                if "already" not in str(exc).lower():
                    raise
        created.append(f"{label}.{prop}")
    return created
