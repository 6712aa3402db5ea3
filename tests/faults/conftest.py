"""Fixtures of the fault suite: the shared stack (see faultstack.py)."""

from __future__ import annotations

from faultstack import fault_stack, pytest_sessionfinish  # noqa: F401  (pytest finds them by name)
