"""Fixtures and session set-up only; the names tests import live in tests/support."""

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from support.specs import AT_TEXT, write_spec

os.environ.setdefault("WIAM_CACHE_DIR", tempfile.mkdtemp(prefix="wiam-test-cache-"))  # never the user's cache
os.environ.update(WIAM_AT=AT_TEXT)  # time windows are evaluated at one fixed moment, in process and in the CLI
# Under CI every property test draws the same examples each run (a red CI is a real failure, never a
# rare draw); elsewhere they stay random, to keep finding new cases.
settings.register_profile("wiam-ci", derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
if os.environ.get("CI"):
    settings.load_profile("wiam-ci")


@pytest.fixture
def spec(tmp_path):
    """Write spec files into a fresh folder and return the folder."""
    counter = iter(range(1000))

    def make(files: dict[str, str] | str) -> Path:
        if isinstance(files, str):
            files = {"main.wiam.hcl": files}
        return write_spec(tmp_path / f"spec{next(counter)}", files)

    return make
