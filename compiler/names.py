"""Deterministic cloud object names: fit a cloud's rules, stay unique, stay stable."""

from __future__ import annotations

import hashlib
import re


def short_hash(*parts: str, length: int = 8) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:length]


def fit_name(name: str, max_length: int, *, min_length: int = 1, allowed: str = r"a-zA-Z0-9-",
             lower: bool = False, pad: str = "-id", sep: str = "-") -> str:
    """`name` made to fit `[allowed]{min_length,max_length}`.

    A name that had to change (characters replaced, case folded, cut or padded) gets a short hash
    of the original, so two different names never fit to the same result.
    """
    fitted = name.lower() if lower else name
    fitted = re.sub(f"[^{allowed}]", sep, fitted)
    if fitted == name and min_length <= len(name) <= max_length:
        return name
    digest = short_hash(name, length=6)
    fitted = fitted[: max_length - len(digest) - 1].rstrip(sep) + sep + digest
    while len(fitted) < min_length:
        fitted += pad
    return fitted


def terraform_name(*parts: str) -> str:
    """A Terraform resource name; spec names never hold '__', so '__' joins them uniquely."""
    return "__".join(parts)


def slug(text: str) -> str:
    """Text made safe for a Terraform resource name (used beside a hash or a unique key)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text).strip("_") or "x"


def case_clash(taken: dict[str, str], name: str, owner: str) -> str | None:
    """For clouds whose names ignore case: the owner that already took `name` in another case (or
    the same), else None; records the name for `owner`."""
    first = taken.setdefault(name.lower(), owner)
    return None if first == owner else first
