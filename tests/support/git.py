"""The one git helper: real repositories in a test's folder, with an identity of their own."""

import os
import subprocess
from pathlib import Path

# Commits need an author; the machine's may be unset.
_IDENTITY = ["-c", "user.name=T", "-c", "user.email=t@example.com"]
# The machine's own git config (signing, hooks, templates) never reaches a test's repository.
_NO_MACHINE_CONFIG = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


def git(folder: Path, *args, check: bool = True) -> str:
    """Run `git ARGS` (each arg str()-ed) in `folder`; its stdout. A failing command raises unless check=False."""
    done = subprocess.run(["git", *_IDENTITY, *map(str, args)], cwd=folder, check=check, capture_output=True,
                          text=True, env={**os.environ, **_NO_MACHINE_CONFIG})
    return done.stdout


def init_repo(folder: Path) -> Path:
    """A fresh repository at `folder` (created if missing), on branch main."""
    folder.mkdir(parents=True, exist_ok=True)
    git(folder, "init", "-q", "-b", "main")
    return folder


def commit_all(folder: Path, message: str) -> str:
    """Commit everything in the working tree; the new commit's full hash."""
    git(folder, "add", "-A")
    git(folder, "commit", "-qm", message)
    return git(folder, "rev-parse", "HEAD").strip()
