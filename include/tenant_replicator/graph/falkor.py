"""FalkorDB over its redis protocol: the fast path for bulk loads.

Three things make bulk writes fast here (measured in bench/bench_graph_load.py):
- a parameter encoder specialised for rows of scalars/lists/maps (the client's generic
  `stringify_param_value` makes one Python call per value: ~40 % of a load's client time);
- pipelining: IN_FLIGHT batches are on their way at once (each on its own connection), so the
  server parses one while it commits another and the client encodes the next meanwhile (the socket
  waits release the GIL): a load costs about max(client, server) instead of their sum;
- only the fields a statement reads are sent (`referenced_fields`): the loader hands over its
  full rows without copying them.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from tenant_replicator.graph.store import (
    UNWIND_ROWS,
    GraphTarget,
    GraphUnavailable,
    batches,
    redact,
    referenced_fields,
    split_credentials,
)

DEFAULT_BATCH = 1000
# batches sent before the first reply is awaited (bench_graph_load: 2 beats 1 by ~25 %, 3+ adds nothing)
IN_FLIGHT = 2
_BARE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_KEYS: dict[str, str] = {}


def plain(value: Any) -> Any:
    """Nodes and edges become their property dicts; lists/maps recurse; scalars pass through."""
    props = getattr(value, "properties", None)
    if isinstance(props, dict) and hasattr(value, "id"):
        return {k: plain(v) for k, v in props.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def _key(key: Any) -> str:
    """A map key as FalkorDB's CYPHER header accepts it (bare, or in backticks); cached per key."""
    text = key.decode() if isinstance(key, bytes) else str(key)
    cached = _KEYS.get(text)
    if cached is None:
        if not text or "`" in text:
            raise ValueError(f"FalkorDB cannot take the map key {text!r} as a parameter")
        cached = text if _BARE_KEY.match(text) else f"`{text}`"
        if len(_KEYS) < 10_000:
            _KEYS[text] = cached
    return cached


def literal(value: Any) -> str:
    """One parameter value as a FalkorDB CYPHER-header literal (same escaping as the falkordb client)."""
    kind = type(value)
    if kind is str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return repr(value)
    if kind is dict or isinstance(value, dict):
        return "{" + ",".join([_key(k) + ":" + literal(v) for k, v in value.items()]) + "}"
    if kind is list or kind is tuple or isinstance(value, (list, tuple)):
        return "[" + ",".join([literal(v) for v in value]) + "]"
    if isinstance(value, bytes):
        return literal(value.decode())
    if isinstance(value, (int, float)):
        return repr(value)
    return literal(str(value))


def encode_rows(rows: Sequence[dict[str, Any]]) -> str:
    """`[{k:v,...},...]` for `UNWIND $rows`: the hot loop of a load, so string keys are inlined."""
    parts = []
    keys: dict[Any, str] = {}
    for row in rows:
        fields = []
        for k, v in row.items():
            name = keys.get(k)
            if name is None:
                name = keys[k] = _key(k) + ":"
            if type(v) is str:
                fields.append(name + '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"')
            else:
                fields.append(name + literal(v))
        parts.append("{" + ",".join(fields) + "}")
    return "[" + ",".join(parts) + "]"


def positional(cypher: str, rows: Sequence[dict[str, Any]], params: dict[str, Any] | None = None) -> str | None:
    """The batch as one `json.dumps` of positional lists (C speed; no key names sent) of just the
    fields the statement reads, with the Cypher rewritten to rebuild `row` from them; None when
    that encoding would not be exact.

    Exactness: FalkorDB decodes JSON's string escapes except `\\uXXXX` (measured), so batches whose
    JSON holds one (control characters) fall back to `encode_rows`; so do nested maps, whose JSON
    keys would be quoted: `{"` cannot occur inside a JSON string (quotes are escaped there), so
    its presence means a map. A field a row lacks is sent as null, as Cypher reads a missing key.
    Statements that use `row` whole need rows sharing one key order.
    """
    match = UNWIND_ROWS.match(cypher)
    if not match or not rows:
        return None
    keys = referenced_fields(cypher)
    if keys is None:
        keys = tuple(rows[0])
        if any(tuple(row) != keys for row in rows):
            return None
        values = [list(row.values()) for row in rows]
    else:
        values = [[row.get(k) for k in keys] for row in rows]
    try:
        data = json.dumps(values, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return None
    if "\\u" in data or '{"' in data:
        return None
    fields = ", ".join(f"{_key(k)}: __row[{i}]" for i, k in enumerate(keys))
    rest = cypher[match.end() :]
    return f"CYPHER rows={data} {_assignments(params)}UNWIND $rows AS __row WITH {{{fields}}} AS row{rest}"


def _assignments(params: dict[str, Any] | None) -> str:
    """`a=1 b="x" ` (with its trailing space), or nothing."""
    return "".join(f"{_key(k)}={literal(v)} " for k, v in (params or {}).items())


def header(params: dict[str, Any] | None) -> str:
    """`CYPHER a=1 b="x" ` prefix for a parameterised query."""
    return "CYPHER " + _assignments(params) if params else ""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


_SCALAR_PARSERS: dict[int, Any] = {
    1: lambda v: None,
    2: _text,
    3: int,
    4: lambda v: _text(v) == "true",
    5: float,
}


def scalar_rows(response: Any) -> list[dict[str, Any]] | None:
    """Rows of a `--compact` reply whose cells are all scalars, parsed without the client's
    per-cell dispatch (5-10x faster on 100k-row results); None -> use the client's parser
    (errors, nodes, edges, arrays, maps)."""
    from redis.exceptions import ResponseError

    if not isinstance(response, list) or not response or isinstance(response[-1], ResponseError):
        return None
    if isinstance(response[0], ResponseError):
        return None
    if len(response) == 1:
        return []
    names = [_text(column[1]) for column in response[0]]
    out = []
    parsers = _SCALAR_PARSERS
    try:
        for record in response[1]:
            out.append({name: parsers[int(cell[0])](cell[1]) for name, cell in zip(names, record, strict=True)})
    except (KeyError, TypeError, ValueError, IndexError):
        return None
    return out


class FalkorGraphStore:
    """GraphStore over one FalkorDB graph key."""

    def __init__(self, graph: Any, db: Any, batch_size: int = DEFAULT_BATCH) -> None:
        self._graph = graph
        self._db = db
        self.batch_size = batch_size

    @classmethod
    def connect(cls, target: GraphTarget) -> FalkorGraphStore:
        from falkordb import FalkorDB
        from redis.exceptions import RedisError

        uri, name, batch_size = target.uri, target.name, target.batch_size

        parsed, user, password = split_credentials(uri, target.user, target.password)
        try:
            db = FalkorDB(
                host=parsed.hostname or "127.0.0.1",
                port=parsed.port or 6379,
                username=user,
                password=password,
                ssl=parsed.scheme.lower() in {"falkordbs", "rediss"},
                socket_connect_timeout=5,
            )
            db.connection.ping()
        except (RedisError, OSError) as exc:
            raise GraphUnavailable(f"graph server at {redact(uri)} does not answer: {exc}") from exc
        return cls(db.select_graph(name), db, batch_size or DEFAULT_BATCH)

    @property
    def name(self) -> str:
        return str(self._graph.name)

    def _execute(self, text: str) -> Any:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        try:
            return self._graph.execute_command("GRAPH.QUERY", self._graph.name, text, "--compact")
        except (RedisConnectionError, RedisTimeoutError) as exc:  # the server went away mid-scan
            raise GraphUnavailable(f"graph {self.name!r} stopped answering: {exc}") from exc

    def query(self, cypher: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        from falkordb.query_result import QueryResult

        response = self._execute(header(params) + cypher)
        rows = scalar_rows(response)
        if rows is not None:
            return rows
        result = QueryResult(self._graph, response)
        names = [column[1] for column in result.header]
        return [dict(zip(names, (plain(v) for v in record), strict=True)) for record in result.result_set]

    def write(
        self,
        cypher: str,
        rows: Sequence[dict[str, Any]],
        batch_size: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> int:
        """One query per batch (`params` besides `$rows` in each), IN_FLIGHT batches at a time on
        their own connections: the server parses batch N+1 while it commits batch N, and the next
        batch is encoded meanwhile. Batches of one call may therefore commit in any order (rows must
        not depend on each other, as for every loader statement); calls are still sequential."""
        written = 0
        pending: deque[Future[Any]] = deque()
        with ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="falkordb-write") as sender:
            try:
                for batch in batches(rows, batch_size or self.batch_size):
                    text = positional(cypher, batch, params) or (
                        "CYPHER rows=" + encode_rows(batch) + " " + _assignments(params) + cypher
                    )
                    while len(pending) >= IN_FLIGHT:
                        pending.popleft().result()  # surfaces a failed batch before more are sent
                    pending.append(sender.submit(self._execute, text))
                    written += len(batch)
                while pending:
                    pending.popleft().result()
            finally:
                for future in pending:
                    future.cancel()
        return written

    def delete_graph(self) -> None:
        """Drop the whole graph key (tests, `demo` resets)."""
        try:
            self._graph.delete()
        except Exception as exc:  # an empty graph has no key to delete
            if "empty key" not in str(exc).lower() and "invalid graph" not in str(exc).lower():
                raise

    def close(self) -> None:
        self._db.connection.close()
