"""A pytest plugin (`-p outside_reads`) that records every file or folder the run opens or lists
beside the repository: under WIAM_BESIDE (the folder holding the checkout) but under none of
WIAM_ALLOWED. tests/test_packaging.py runs a clone's tests with it and expects no record."""

import os
import sys

_BESIDE = os.environ["WIAM_BESIDE"] + os.sep
_ALLOWED = tuple(p + os.sep for p in os.environ["WIAM_ALLOWED"].split(os.pathsep))
_LOG = os.environ["WIAM_OUTSIDE_LOG"]
_EVENTS = {"open", "os.listdir", "os.scandir"}
_seen: set[str] = set()


def _audit(event: str, args: tuple) -> None:
    if event in _EVENTS and args and isinstance(args[0], (str, bytes, os.PathLike)):
        path = os.path.abspath(os.fsdecode(args[0]))
        if (path + os.sep).startswith(_BESIDE) and not (path + os.sep).startswith(_ALLOWED) and path != _LOG:
            _seen.add(path)


sys.addaudithook(_audit)


def pytest_unconfigure(config) -> None:
    with open(_LOG, "w", encoding="utf-8") as log:
        log.write("".join(f"{path}\n" for path in sorted(_seen)))
