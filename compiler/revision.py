"""Which git revision a spec line comes from, for reports that say "since when"."""

from __future__ import annotations

import os
import subprocess
from datetime import datetime, timezone


def line_origin(file: str, line: int) -> dict:
    """{"commit", "date", "author", "summary"} of the commit that last wrote `line` of `file`, or
    {"commit": None, "why": ...} when the file is not committed in a git repository."""
    folder = os.path.dirname(os.path.abspath(file)) or "."
    try:
        result = subprocess.run(["git", "blame", "--porcelain", "-L", f"{line},{line}", "--", os.path.basename(file)],
                                cwd=folder, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return {"commit": None, "why": f"git is not available ({error})"}
    if result.returncode != 0:
        return {"commit": None, "why": "not in a git repository"}
    lines = result.stdout.splitlines()
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
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=30)
        if head.returncode != 0:
            return {"commit": None, "why": "not in a git repository"}
        status = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=folder, capture_output=True,
                                text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return {"commit": None, "why": f"git is not available ({error})"}
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}
