"""Fixtures for the campaign page tests."""

from __future__ import annotations

from typing import Any

import pytest
from ui_fixtures import make_state


@pytest.fixture
def state() -> dict[str, Any]:
    return make_state()
