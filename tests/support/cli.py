"""The one way tests run the wiam command line: a process of its own, the way CI and users run it."""

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from support.paths import ROOT

# What `python -m wiam` does, for a child that first runs a test's own code (see run_wiam's `before`).
_MAIN = "\nimport sys\nsys.argv = ['wiam', *sys.argv[1:]]\nfrom wiam.cli import main\nmain()\n"


def run_wiam(*args, cwd: Path = ROOT, env: Mapping[str, str] | None = None, inherit_env: bool = True,
             timeout: float = 600, before: str | None = None) -> subprocess.CompletedProcess:
    """`python -m wiam ARGS` (each arg str()-ed), stdout and stderr captured as text.

    `env` is added to this process's environment, or with inherit_env=False is the child's whole
    environment. `before` is Python the child runs ahead of the CLI, to patch wiam inside it. The
    timeout only keeps a hung run from stalling the suite; callers that test hangs pass a shorter one."""
    command = [sys.executable, "-m", "wiam"] if before is None else [sys.executable, "-c", before + _MAIN]
    environment = {**(os.environ if inherit_env else {}), **(env or {})}
    return subprocess.run([*command, *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          env=environment, timeout=timeout)
