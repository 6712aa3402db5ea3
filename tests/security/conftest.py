"""Security suite fixtures: the same shared stack as tests/faults (one Airflow start per session)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))

from faultstack import fault_stack, pytest_sessionfinish  # noqa: E402, F401  (pytest finds them by name)
