"""Loopback stand-in for Slack's incoming-webhook endpoint: records every POST as a JSON line.

Tests and the demo point the Slack connection here, so alerts are real HTTP requests from the
real Slack provider, and nothing goes to the internet.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def make_handler(out: Path) -> type[BaseHTTPRequestHandler]:
    lock = threading.Lock()

    class CaptureHandler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server naming)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8", "replace")
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                body = {"raw": raw}
            api = self.path.rstrip("/").endswith("chat.postMessage")
            with lock, out.open("a") as sink:
                sink.write(json.dumps({"path_kind": "api" if api else "webhook", "body": body}) + "\n")
            self.send_response(200)
            # the Web API (bot token) answers JSON; an incoming webhook answers plain "ok"
            self.send_header("Content-Type", "application/json" if api else "text/plain")
            self.end_headers()
            self.wfile.write(b'{"ok": true}' if api else b"ok")

        def log_message(self, *args: object) -> None:  # the URL path holds the webhook token
            pass

    return CaptureHandler


def read_messages(out: Path) -> list[dict]:
    if not out.exists():
        return []
    return [json.loads(line)["body"] for line in out.read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.out))
    server.serve_forever()


if __name__ == "__main__":
    main()
