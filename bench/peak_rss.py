"""Peak resident memory of this process, in MiB.

Not ``getrusage().ru_maxrss``: Linux keeps that across ``execve``, so a benchmark child started
from the 300 MiB ``bench/run.py`` process would report the parent's peak. ``VmHWM`` belongs to the
process's own address space, which ``execve`` replaces.
"""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    except OSError:  # not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
