"""Which git revision a spec line comes from, for reports that say "since when"."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timezone

# A pull request can commit a bare repository's files (HEAD, config, objects/) into the spec folder; git
# would then read its config, and core.fsmonitor or a hook runs any command. So git may use only a
# repository found through a real .git, and runs no fsmonitor and no hooks.
_SAFE = ["-c", "safe.bareRepository=explicit", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null"]


def run_git(args: list[str], cwd: str, timeout: int, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    """git with `args` in `cwd` (reading `stdin`), its output as bytes; raises OSError or TimeoutExpired."""
    return subprocess.run(["git", *_SAFE, *args], cwd=cwd, capture_output=True, timeout=timeout, input=stdin,
                          env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})  # status writes no index


def line_origin(file: str, line: int) -> dict:
    """{"commit", "date", "author", "summary"} of the commit that last wrote `line` of `file`, or
    {"commit": None, "why": ...} when the file is not committed in a git repository."""
    folder = os.path.dirname(os.path.abspath(file)) or "."
    try:
        result = run_git(["blame", "--porcelain", "-L", f"{line},{line}", "--", os.path.basename(file)], folder, 30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return {"commit": None, "why": f"git is not available ({error})"}
    if result.returncode != 0:
        return {"commit": None, "why": "not in a git repository"}
    lines = result.stdout.decode("utf-8", "replace").splitlines()
    commit = lines[0].split()[0]
    if set(commit) == {"0"}:
        return {"commit": None, "why": "not committed yet"}
    fields = dict(line.split(" ", 1) for line in lines[1:] if " " in line and not line.startswith("\t"))
    date = fields.get("author-time")
    return {"commit": commit, "author": fields.get("author"), "summary": fields.get("summary"),
            "date": datetime.fromtimestamp(int(date), timezone.utc).isoformat() if date else None}


def spec_revision(path: str) -> dict:
    """{"commit", "dirty"} of the git work tree holding `path`, or {"commit": None, "why": ...}."""
    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    try:
        head = run_git(["rev-parse", "HEAD"], folder, 30)
        if head.returncode != 0:
            return {"commit": None, "why": "not in a git repository"}
        status = run_git(["status", "--porcelain", "--", "."], folder, 30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return {"commit": None, "why": f"git is not available ({error})"}
    return {"commit": head.stdout.decode("ascii", "replace").strip(), "dirty": bool(status.stdout.strip())}
