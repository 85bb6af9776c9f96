"""Shared options and fixtures for flakehound's own suite."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--update-goldens``: rewrite tests/golden/*.md instead of comparing against them."""
    parser.addoption(
        "--update-goldens",
        action="store_true",
        default=False,
        help="rewrite the golden files under tests/golden/ from the current renderers",
    )


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """Whether this run rewrites golden files rather than comparing against them."""
    return bool(request.config.getoption("--update-goldens"))
