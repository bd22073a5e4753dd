"""Hints whose cost and length do not grow with the spec: did-you-mean suggestions and capped lists."""

from __future__ import annotations

from typing import Sequence

from rapidfuzz import fuzz, process

# difflib.get_close_matches' default cutoff, on rapidfuzz's 0-100 scale (the same Indel similarity).
CUTOFF = 60.0
# A message lists at most this many names, then says how many more.
LISTED = 10
# Names longer than any catalogued one get no suggestion: comparing them would only cost time.
MAX_LENGTH = 256


def closest(name: str, choices: Sequence[str]) -> str | None:
    """The choice most like `name`, if one is close enough; ties go to the earliest choice, so pass
    them sorted for a stable answer."""
    if len(name) > MAX_LENGTH:
        return None
    found = process.extractOne(name, choices, scorer=fuzz.ratio, score_cutoff=CUTOFF)
    return found[0] if found else None


def listed(items: Sequence[str], total: int | None = None) -> str:
    """The first LISTED of `total` items (all of `items` by default), then how many more."""
    more = (len(items) if total is None else total) - LISTED
    return ", ".join(items[:LISTED]) + (f" and {more} more" if more > 0 else "")
