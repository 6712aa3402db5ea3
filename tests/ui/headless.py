"""A real headless Chromium for tests: the CLI for one-shot dumps, chromedriver (W3C WebDriver) for more.

Stdlib only (no selenium): WebDriver is plain JSON over HTTP. Chromium and chromedriver run in their
own process group on a free loopback port and are stopped by group.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from tenant_replicator import devstack

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # root in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
]


def chromium_binaries() -> tuple[str | None, str | None]:
    return shutil.which("chromium"), shutil.which("chromedriver")


def ensure_chromium(repo_root: Path) -> str | None:
    """Install Chromium through mk/browser.mk when missing and root; else the reason to skip (None = ready)."""
    if all(chromium_binaries()):
        return None
    if os.geteuid() != 0:
        return "headless Chromium is missing and we are not root: sudo apt-get install -y chromium chromium-driver"
    subprocess.run(["make", "-s", "-f", "mk/browser.mk", "browser"], cwd=repo_root, check=True, timeout=900)
    if not all(chromium_binaries()):
        raise RuntimeError("mk/browser.mk ran but chromium/chromedriver are still missing")
    return None


def dump_dom(url: str, profile: Path, timeout: float = 60) -> str:
    """`chromium --headless --dump-dom`: the DOM after load, as a fresh browser with no cookie sees it."""
    binary, _ = chromium_binaries()
    command = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom", url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, start_new_session=True)
    return done.stdout


class Browser:
    """One chromedriver + Chromium session."""

    def __init__(self, workdir: Path, width: int = 1280, height: int = 1600) -> None:
        binary, driver = chromium_binaries()
        port = devstack.free_port()
        self.service = devstack.Service(
            "chromedriver",
            [driver, f"--port={port}", "--allowed-ips=127.0.0.1"],
            {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
            workdir / "chromedriver.log",
        ).start()
        self.base = f"http://127.0.0.1:{port}"
        devstack.wait_for(lambda: self._call("GET", "/status")["ready"], 30, "chromedriver")
        options = {
            "binary": binary,
            "args": [*CHROMIUM_FLAGS, f"--user-data-dir={workdir / 'profile'}", f"--window-size={width},{height}"],
        }
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}}
        self.session = self._call("POST", "/session", caps)["sessionId"]

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read())["value"]

    def do(self, method: str, path: str, body: Any = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)

    def get(self, url: str) -> None:
        self.do("POST", "/url", {"url": url})

    def add_cookie(self, name: str, value: str, path: str = "/") -> None:
        self.do("POST", "/cookie", {"cookie": {"name": name, "value": value, "path": path, "httpOnly": True}})

    def source(self) -> str:
        return self.do("GET", "/source")

    def script(self, code: str, *args: Any) -> Any:
        return self.do("POST", "/execute/sync", {"script": code, "args": list(args)})

    def find(self, css: str) -> dict[str, str] | None:
        found = self.do("POST", "/elements", {"using": "css selector", "value": css})
        return found[0] if found else None

    def switch_to_frame(self, element: dict[str, str] | None) -> None:
        self.do("POST", "/frame", {"id": element})

    def fit_height(self, limit: int = 4000) -> int:
        """Grow the window to the page so one screenshot shows all of it."""
        height = int(self.script("return document.documentElement.scrollHeight"))
        rect = self.do("GET", "/window/rect")
        self.do("POST", "/window/rect", {"width": rect["width"], "height": min(limit, height + 140)})
        return height

    def screenshot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self.do("GET", "/screenshot")))
        return path

    def close(self) -> None:
        try:
            self.do("DELETE", "")
        except Exception:  # the group kill below ends it anyway
            pass
        self.service.stop(grace=5)
