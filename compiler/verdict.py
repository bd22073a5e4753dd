"""What simulation answers: for one principal, whether the cloud accepts a token, and each check it made."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One thing a cloud compares: a claim (iss, sub, aud or another) or the kill switch (enabled)."""

    name: str
    passed: bool
    detail: str  # what was compared, shown when it fails


@dataclass(frozen=True)
class Verdict:
    cloud: str
    target: str
    workload: str
    principal: str  # the role name, service account email, direct principal or identity name
    node: str  # the principal's node in the access graph
    checks: tuple[Check, ...]  # of the trust path that came closest (all pass when accepted)

    @property
    def accepted(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def passed(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.checks if c.passed)

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why not, one per failed check (empty when accepted)."""
        return tuple(f"{c.name}: {c.detail}" for c in self.checks if not c.passed)


def closeness(checks) -> tuple[bool, bool, int, int]:
    """Sort key of a trust path, closest first: accepting, then the exact subject, then the most
    checks passed and the fewest failed."""
    passed = sum(c.passed for c in checks)
    subject = any(c.name == "sub" and c.passed for c in checks)
    return passed < len(checks), not subject, -passed, len(checks) - passed


def closest(paths: list[tuple[Check, ...]], none: Check) -> tuple[Check, ...]:
    """The trust path of a principal that comes closest to accepting; `none` when it has no path."""
    return min(paths, key=closeness, default=(none,))


def audiences(claims: dict) -> list[str]:
    """A token's audiences: `aud` is a string or a list of strings."""
    value = claims.get("aud")
    return [value] if isinstance(value, str) else [a for a in value or [] if isinstance(a, str)]
