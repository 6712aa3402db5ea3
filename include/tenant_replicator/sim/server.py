"""The ARM simulator's HTTPS server: plumbing only (TLS, threads, auth, counters, persistence).

ARM semantics live in `arm.py`, state in `store.py`/`model.py`, certificates in `tls.py`.
Run it with `python -m tenant_replicator.sim.server --port 0 --ready-file ready.json`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tenant_replicator.sim import arm, faults, generator, identity, lro, resourcegraph
from tenant_replicator.sim.paths import Route, parse_route
from tenant_replicator.sim.store import Store
from tenant_replicator.sim.throttle import Throttle
from tenant_replicator.sim.tls import ensure_tls, server_context

log = logging.getLogger("tenant_replicator.sim")

MAX_BODY = 32 * 1024 * 1024
WRITE_METHODS = frozenset({"PUT", "PATCH", "DELETE", "POST"})


# --- request processing (no sockets: testable in-process) ---------------------------------------


DROP = -1  # a Response status meaning "close the socket without answering"
# Properties ARM accepts on PUT but never returns (GET, list or the PUT's own answer): the simulator keeps
# them in its state, as Azure does, and answers without them, so clients only ever see what Azure shows.
WRITE_ONLY_KEYS = frozenset({"adminpassword", "administratorloginpassword", "appsettings", "connectionstrings"})


def hide_write_only(value: object) -> object:
    """A copy of a response body without write-only secrets (the state's own objects are never touched)."""
    if isinstance(value, dict):
        return {k: hide_write_only(v) for k, v in value.items() if str(k).lower() not in WRITE_ONLY_KEYS}
    if isinstance(value, list):
        return [hide_write_only(v) for v in value]
    return value


def process(
    store: Store, req: arm.Request, authorization: str | None, throttle: Throttle | None = None
) -> arm.Response:
    """Hooks and identity endpoints, else the ARM pipeline; every ARM request is counted."""
    route = parse_route(req.path)
    if route.kind == "sim":
        return _sim_hook(store, route, req, throttle)
    ident = identity.route(req.path)
    if ident is not None:
        with store.lock:
            response = identity.handle(store.state, ident[0], ident[1], req)
        store.count_request(req.method, None, f"identity/{ident[0]}", response.status)
        return response
    if route.kind == "resource_graph":
        response = _process_graph(store, req, authorization)
        store.count_request(req.method, None, "microsoft.resourcegraph/resources", response.status)
        return response
    response = _process_arm(store, route, req, authorization, throttle)
    store.count_request(req.method, route.subscription, _type_label(route), response.status)
    return response


def _process_arm(
    store: Store, route: Route, req: arm.Request, authorization: str | None, throttle: Throttle | None
) -> arm.Response:
    """Auth -> api-version -> throttling -> injected faults -> counters -> ARM handler -> persist."""
    headers: dict[str, str] = {}
    try:
        _authenticate(authorization)
        arm.require_api_version(req)
        if route.subscription and throttle is not None:
            # ARM's buckets are per principal and subscription: another client has its own.
            principal = resourcegraph.user_of(authorization or "")
            decision = throttle.take(f"{principal}:{route.subscription}", req.method)
            headers = decision.headers
            if not decision.allowed:
                raise arm.ArmError(
                    429,
                    "TooManyRequests",
                    "The request is being throttled as the limit has been "
                    f"reached for operation type. Please try again after {decision.retry_after_s} "
                    "seconds.",
                    headers,
                )
        if route.subscription:
            store.count("writes" if req.method in WRITE_METHODS else "reads", route.subscription)
        chance = store.chaos.decide(req.method, req.path)
        if chance.latency_s:
            time.sleep(chance.latency_s)
        if chance.kind == "drop":
            return arm.Response(DROP)
        if chance.kind:
            status = int(chance.kind)
            return _fault_response(
                {"status": status, "retry_after": chance.retry_after} if status != 500 else {"status": 500}
            )
        fault = store.take_fault(req.method, req.path)
        if fault and fault.get("drop"):
            return arm.Response(DROP)
        if fault and "status" in fault:
            return _fault_response(fault)
        req.lro_seconds = store.lro_seconds
        req.list_delay_s = store.chaos.config.list_delay_s
        if fault and fault.get("async_error"):
            req.async_error = dict(fault["async_error"])
        elif chance.async_failed:
            req.async_error = dict(faults.ASYNC_ERROR)
        with store.lock:
            req.epoch = time.time()
            settled = lro.settle(store.state, req.epoch)
            response = arm.handle(store.state, route, req)
            if settled or (req.method in WRITE_METHODS and response.status < 300):
                store.commit()
            response.body = hide_write_only(response.body)
    except arm.ArmError as err:
        response = err.response()
    response.headers = {**headers, **response.headers}
    return response


def _process_graph(store: Store, req: arm.Request, authorization: str | None) -> arm.Response:
    """Resource Graph: auth, per-user quota, then the query against the (possibly lagging) view."""
    headers: dict[str, str] = {}
    try:
        _authenticate(authorization)
        if req.method != "POST":
            raise arm.ArmError(405, "MethodNotAllowed", "Resource Graph queries are POST requests.")
        allowed, headers = store.graph_quota.take(resourcegraph.user_of(authorization or ""))
        if not allowed:
            raise arm.ArmError(
                429,
                "RateLimiting",
                "Please provide below info when asking for support: the request was throttled; "
                f"retry after {headers['Retry-After']} seconds.",
                headers,
            )
        with store.lock:
            now = time.time()
            if lro.settle(store.state, now):
                store.commit()
            response = resourcegraph.query(store.graph_view(now), req)
    except arm.ArmError as err:
        response = err.response()
    response.headers = {**headers, **response.headers}
    return response


def _type_label(route: Route) -> str:
    """The resource type a request is about (lower case), or the kind of route for everything else."""
    if route.resource is not None:
        return route.resource.full_type.lower()
    if route.kind == "extension":
        return f"{route.rest[1]}/{route.rest[2]}".lower()
    if route.kind in ("resource_group", "resource_groups"):
        return "microsoft.resources/resourcegroups"
    return route.kind


def _authenticate(authorization: str | None) -> None:
    if not authorization:
        raise arm.ArmError(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
            {
                "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/", '
                'error="invalid_token", error_description="The authentication '
                "failed because of missing 'Authorization' header.\""
            },
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise arm.ArmError(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is provided in an invalid format.",
        )


def _fault_response(fault: dict) -> arm.Response:
    """An injected answer; a rule with `body` answers exactly that JSON (malformed payloads: any status,
    e.g. `{"status": 200, "body": {"value": "not a list"}}`)."""
    status = int(fault.get("status", 429))
    if "body" in fault:
        return arm.Response(status, fault["body"])
    default = {429: "TooManyRequests", 503: "ServiceUnavailable"}.get(status, "InternalServerError")
    code = str(fault.get("code") or default)
    message = str(fault.get("message") or f"Injected fault {status} {code}.")
    headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else {}
    return arm.ArmError(status, code, message, headers).response()


def _sim_hook(store: Store, route: Route, req: arm.Request, throttle: Throttle | None) -> arm.Response:
    """Test hooks, no auth: stats, reset, fault injection, throttling."""
    what = "/".join(route.rest).lower()
    if what == "throttle" and req.method == "POST" and throttle is not None:
        return _throttle_hook(throttle, req)
    if what == "stats" and req.method == "GET":
        return arm.Response(200, store.stats())
    if what == "health" and req.method == "GET":
        return arm.Response(200, {"ok": True, "pid": os.getpid()})
    if what == "reset" and req.method == "POST":
        store.reset()
        return arm.Response(200, {"reset": True, **store.stats()})
    if what == "stats/requests" and req.method == "GET":
        return arm.Response(200, store.request_stats())
    if what == "stats/reset" and req.method == "POST":
        store.reset_counters()
        return arm.Response(200, store.stats())
    if what == "faults":
        return _faults_hook(store, req)
    if what == "graph" and req.method == "POST":
        return _graph_hook(store, req)
    if what == "principals" and req.method == "GET":
        with store.lock:
            return arm.Response(200, {"value": list(store.state.get("principals", {}).values())})
    if what == "lro" and req.method == "POST":
        return _lro_hook(store, req)
    return arm.ArmError(404, "NotFound", f"No simulator hook '{req.method} {req.path}'.").response()


def _throttle_hook(throttle: Throttle, req: arm.Request) -> arm.Response:
    """`POST /_sim/throttle {"enforce": true, "limits": {"reads": [capacity, per_second], ...}}`."""
    try:
        config = json.loads(req.body or b"{}")
        limits = {k: (float(v[0]), float(v[1])) for k, v in (config.get("limits") or {}).items()}
        assert set(limits) <= {"reads", "writes", "deletes"}
    except (ValueError, TypeError, AssertionError, AttributeError, IndexError):
        return arm.ArmError(400, "InvalidRequestContent", 'Expected {"enforce": bool, "limits": {...}}.').response()
    throttle.configure(bool(config.get("enforce", True)), limits)
    return arm.Response(200, {"enforce": throttle.enforce, "limits": throttle.limits})


def _graph_hook(store: Store, req: arm.Request) -> arm.Response:
    """`POST /_sim/graph {"lag_s": 2, "quota": [15, 5]}`: Resource Graph's lag and per-user quota."""
    try:
        config = json.loads(req.body or b"{}")
        lag = float(config.get("lag_s", store.graph_lag_s))
        limit, window = config.get("quota") or (store.graph_quota.limit, store.graph_quota.window_s)
        assert lag >= 0 and int(limit) >= 1 and float(window) > 0
    except (ValueError, TypeError, AssertionError, AttributeError):
        return arm.ArmError(400, "InvalidRequestContent", 'Expected {"lag_s": s, "quota": [n, s]}.').response()
    store.set_graph_lag(lag)
    store.graph_quota.configure(int(limit), float(window))
    return arm.Response(200, {"lag_s": lag, "quota": [int(limit), float(window)]})


def _lro_hook(store: Store, req: arm.Request) -> arm.Response:
    """`POST /_sim/lro {"seconds": 0.3}`: how long long-running operations take (0: synchronous)."""
    try:
        seconds = float(json.loads(req.body or b"{}")["seconds"])
        assert 0 <= seconds <= 3600
    except (ValueError, TypeError, KeyError, AssertionError):
        return arm.ArmError(400, "InvalidRequestContent", 'Expected {"seconds": 0..3600}.').response()
    store.lro_seconds = seconds
    return arm.Response(200, {"seconds": seconds})


def _faults_hook(store: Store, req: arm.Request) -> arm.Response:
    """`POST /_sim/faults` with `{"faults": [{"method", "path_contains", "status", "code", "retry_after",
    "times", "drop", "async_error", "body"}], "random": {...}}` arms one-shot rules (each consumed after `times`
    matches) and/or replaces the random fault config (see `faults.py`); `DELETE` clears both."""
    with store.lock:
        if req.method == "POST":
            try:
                payload = json.loads(req.body or b"{}")
                rules = payload.get("faults", [])
                assert isinstance(rules, list) and all(isinstance(r, dict) for r in rules)
                config = faults.parse_config(payload["random"]) if "random" in payload else None
            except (ValueError, TypeError, AssertionError, AttributeError) as exc:
                return arm.ArmError(
                    400, "InvalidRequestContent", f'Expected {{"faults": [...], "random": {{...}}}}: {exc}'
                ).response()
            store.faults.extend(rules)
            if config is not None:
                store.chaos.configure(config)
        elif req.method == "DELETE":
            store.faults.clear()
            store.chaos.configure(faults.FaultConfig())
        return arm.Response(200, {"faults": list(store.faults), "random": store.chaos.describe()})


# --- HTTP plumbing -------------------------------------------------------------------------------


class SimHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], store: Store, context: ssl.SSLContext, throttle: Throttle):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, SimHandler)
        self.store = store
        self.throttle = throttle
        # Handshakes happen in the handler threads, so one slow client cannot stall accept().
        self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    @property
    def endpoint(self) -> str:
        host, port = self.server_address[:2]
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"

    def handle_error(self, request: object, client_address: object) -> None:
        log.debug("connection from %s failed", client_address, exc_info=True)


class SimHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "tenant-replicator-sim/1"
    timeout = 120
    server: SimHTTPServer

    def setup(self) -> None:
        # Headers and body leave in separate writes: without NODELAY, Nagle + delayed ACK adds ~40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()
        self.request.do_handshake()

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch()

    do_PUT = do_PATCH = do_DELETE = do_POST = do_HEAD = do_GET  # noqa: N815

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(arm.ArmError(413, "RequestEntityTooLarge", "The request body is too large.").response())
            return
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        query = {k.lower(): v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        req = arm.Request(self.command, parts.path, query, body, self.server.endpoint)
        try:
            response = process(self.server.store, req, self.headers.get("Authorization"), self.server.throttle)
        except Exception:  # a simulator bug must still answer like ARM, not drop the connection
            log.exception("unhandled error for %s %s", self.command, parts.path)
            response = arm.ArmError(500, "InternalServerError", "The simulator failed; see its log.").response()
        self._send(response)

    def _send(self, response: arm.Response) -> None:
        if response.status == DROP:  # injected: the connection dies without an answer
            self.close_connection = True
            return
        payload = b"" if response.body is None else json.dumps(response.body).encode("utf-8")
        self.send_response(response.status)
        request_id = self.headers.get("x-ms-client-request-id") or str(uuid.uuid4())
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.send_header("x-ms-correlation-request-id", request_id)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        # Request line and status only: headers (and so bearer tokens) are never logged.
        log.debug("%s " + format, self.address_string(), *args)


# --- lifecycle -----------------------------------------------------------------------------------


def _write_ready(ready_file: Path, payload: dict) -> None:
    ready_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = ready_file.with_name(f".{ready_file.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(payload), encoding="utf-8")
    os.replace(tmp, ready_file)


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    state_file: Path = Path("sim-state.json"),
    tls_dir: Path = Path("sim-tls"),
    ready_file: Path | None = None,
    *,
    reset: bool = False,
    scale: int = 0,
    throttle: bool = False,
    stop_event: threading.Event | None = None,
    lro_seconds: float | None = None,
    faults_file: Path | None = None,
    graph_lag_s: float | None = None,
    preset: str = "contoso",
    size: int = 0,
    seed: int = 410,
) -> None:
    """Serve until SIGTERM/SIGINT (or `stop_event`), then flush the state and remove `ready_file`.

    Seeding (on first start or `reset`): `preset` (contoso, seed-410, enterprise-4466) or `size` generated
    source resources (deterministic by `seed`); `scale` adds synthetic resources to contoso.
    `throttle` enforces ARM's token buckets; `lro_seconds`, `faults_file` and `graph_lag_s` shape the run.
    """
    files = ensure_tls(Path(tls_dir))
    store = Store(Path(state_file), generator.seed_function(preset, size, scale, seed), reset=reset)
    if lro_seconds is None:
        lro_seconds = float(os.environ.get("TENANT_REPLICATOR_SIM_LRO_SECONDS", lro.DEFAULT_SECONDS))
    store.lro_seconds = lro_seconds
    if graph_lag_s is None:
        graph_lag_s = float(os.environ.get("TENANT_REPLICATOR_SIM_GRAPH_LAG", "0"))
    store.graph_defaults = (graph_lag_s, store.graph_quota.limit, store.graph_quota.window_s)
    store.set_graph_lag(graph_lag_s)
    faults_file = faults_file or os.environ.get(faults.ENV_VAR) or None
    if faults_file:
        document = faults.load_file(faults_file)
        store.chaos.configure(faults.parse_config(document))
        store.faults.extend(document.get("faults") or [])
        log.info("fault injection from %s: %s", faults_file, store.chaos.describe())
    httpd = SimHTTPServer((host, port), store, server_context(files), Throttle(enforce=throttle))
    stopper = threading.Thread(target=_stop_when, args=(httpd, stop_event), daemon=True) if stop_event else None
    _install_signal_handlers(httpd)
    ready = {"endpoint": httpd.endpoint, "ca_file": str(files.ca_file), "pid": os.getpid()}
    if ready_file is not None:
        _write_ready(Path(ready_file), ready)
    log.info("ARM simulator listening on %s (CA %s, state %s)", httpd.endpoint, files.ca_file, store.state_file)
    if stopper:
        stopper.start()
    try:
        httpd.serve_forever(poll_interval=0.2)
    finally:
        httpd.server_close()
        store.save()
        if ready_file is not None:
            Path(ready_file).unlink(missing_ok=True)
        log.info("ARM simulator stopped; state saved to %s", store.state_file)


def _stop_when(httpd: SimHTTPServer, event: threading.Event) -> None:
    event.wait()
    httpd.shutdown()


def _install_signal_handlers(httpd: SimHTTPServer) -> None:
    if threading.current_thread() is not threading.main_thread():
        return

    def stop(signum: int, frame: object) -> None:
        # shutdown() waits for serve_forever to return: call it off the main thread.
        threading.Thread(target=httpd.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)


def _default_home() -> Path:
    return Path(os.environ.get("TENANT_REPLICATOR_HOME", Path.home() / ".tenant-replicator")) / "sim"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="tenant-replicator sim", description="Serve the ARM simulator (HTTPS).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port",
        type=int,
        default=0,
        help="0: $TENANT_REPLICATOR_SIM_PORT if set (a restart keeps its endpoint), else a free port",
    )
    parser.add_argument("--state-file", type=Path, default=_default_home() / "state.json")
    parser.add_argument("--tls-dir", type=Path, default=_default_home() / "tls")
    parser.add_argument(
        "--ready-file", type=Path, default=None, help='written once listening: {"endpoint", "ca_file", "pid"}'
    )
    parser.add_argument("--reset", action="store_true", help="discard the state file and reseed")
    parser.add_argument(
        "--preset",
        choices=generator.PRESET_NAMES,
        default=os.environ.get("TENANT_REPLICATOR_SIM_PRESET", "contoso"),
        help="seeded tenant (on first start/--reset; default $TENANT_REPLICATOR_SIM_PRESET or contoso)",
    )
    parser.add_argument("--size", type=int, default=0, help="generate N source resources instead (up to 100k)")
    parser.add_argument("--seed", type=int, default=410, help="generator seed for --preset/--size")
    parser.add_argument("--scale", type=int, default=0, help="synthetic source resources added to contoso")
    parser.add_argument("--throttle", action="store_true", help="enforce ARM token-bucket throttling (429)")
    parser.add_argument(
        "--lro-seconds",
        type=float,
        default=None,
        help="duration of long-running operations (default $TENANT_REPLICATOR_SIM_LRO_SECONDS or "
        f"{lro.DEFAULT_SECONDS}; 0 answers synchronously)",
    )
    parser.add_argument(
        "--faults", type=Path, default=None, help=f"fault injection config (JSON; default ${faults.ENV_VAR})"
    )
    parser.add_argument(
        "--graph-lag",
        type=float,
        default=None,
        help="seconds Resource Graph lags ARM writes (default $TENANT_REPLICATOR_SIM_GRAPH_LAG or 0)",
    )
    parser.add_argument("--log-level", default=os.environ.get("TENANT_REPLICATOR_SIM_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    serve(
        args.host,
        args.port or int(os.environ.get("TENANT_REPLICATOR_SIM_PORT") or 0),
        args.state_file,
        args.tls_dir,
        args.ready_file,
        reset=args.reset,
        scale=args.scale,
        throttle=args.throttle,
        lro_seconds=args.lro_seconds,
        faults_file=args.faults,
        graph_lag_s=args.graph_lag,
        preset=args.preset,
        size=args.size,
        seed=args.seed,
    )


if __name__ == "__main__":
    main()
