"""Processes a test started, found by a marker in their environment (terraform passes env on to its
provider plugins and provisioners, so one marker finds the whole tree, whatever its process group).

Import as ``from proc_util import ...`` (tests/ is on sys.path through tests/conftest.py).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

MARKER_ENV = "TR_TEST_MARKER"


def process_state(pid: int | str) -> str:
    """The one-letter state of /proc/<pid>/stat ("R", "S", "Z", ...), "X" when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"


def marked(marker: str, cmd_contains: str = "") -> list[int]:
    """Live (not zombie) processes whose environment holds ``TR_TEST_MARKER=<marker>``."""
    needle = f"{MARKER_ENV}={marker}".encode()
    found = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if needle not in Path(f"/proc/{entry}/environ").read_bytes():
                continue
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if process_state(entry) not in ("Z", "X") and cmd_contains in cmdline:
            found.append(int(entry))
    return found


def wait_until_gone(marker: str, within_s: float = 3.0) -> list[int]:
    """Wait up to ``within_s`` for every marked process to end; the ones still alive."""
    end = time.monotonic() + within_s
    while (left := marked(marker)) and time.monotonic() < end:
        time.sleep(0.05)
    return left


def marker_fixture(within_s: float = 3.0, kill_leftovers: bool = False) -> Callable[[], Iterator[str]]:
    """A ``marker`` fixture: a fresh marker; afterwards nothing carrying it may be alive.

    ``kill_leftovers``: SIGKILL what is left before failing, so a failing test never leaks.
    """

    @pytest.fixture
    def marker() -> Iterator[str]:
        value = uuid.uuid4().hex
        yield value
        left = wait_until_gone(value, within_s)
        if kill_leftovers:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        assert left == [], "a test left processes behind"

    return marker
