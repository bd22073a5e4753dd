"""Which cloud principals would accept a token, judged on the compiled Terraform the way each cloud
judges it, and why the nearest ones refuse it."""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass

from .diagnostics import Report
from .loader import UsageError, read_text
from .model import Model


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


def read_claims(path: str | None = None, token: str | None = None) -> dict:
    """Claims from a JSON file (a decoded JWT payload) or a raw JWT, whose signature is not checked."""
    if (path is None) == (token is None):
        raise UsageError("give either --claims FILE or --token JWT")
    if path is not None:
        try:  # a regular file, read without blocking on a FIFO, of a spec file's size at most
            claims = json.loads(read_text(path, os.path.dirname(os.path.realpath(path))))
        except UnicodeDecodeError as error:
            raise UsageError(f"{path}: not UTF-8 text ({error.reason})") from None
        except json.JSONDecodeError as error:
            raise UsageError(f"{path}:{error.lineno}:{error.colno}: not JSON: {error.msg}") from None
    else:
        parts = token.strip().split(".")
        if len(parts) != 3:
            raise UsageError("a JWT has three dot-separated parts (header.payload.signature)")
        try:
            payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
            claims = json.loads(payload)
        except (binascii.Error, ValueError):
            raise UsageError("the JWT payload is not base64url-encoded JSON") from None
    if not isinstance(claims, dict) or not all(isinstance(claims.get(k), str) for k in ("iss", "sub")):
        raise UsageError("the claims need at least iss and sub as strings")
    return claims


def simulate(model: Model, claims: dict) -> list[Verdict]:
    """A verdict for every principal wiam compiles, in every cloud."""
    from wiam.providers import PROVIDERS  # each cloud judges tokens its own way (and providers import this module)

    from .compile import build_modules

    # The values the clouds will hold: the plan before escaping for Terraform (`$${` is `${` there).
    module = {"resource": build_modules(model, False, Report(), lambda done, total: None)["main.tf.json"].resources}
    verdicts = []
    for _, provider in sorted(PROVIDERS.items()):
        verdicts.extend(provider.simulate(model, module, claims))
    return sorted(verdicts, key=lambda v: (v.cloud, v.target, v.workload))


def nearest(verdicts: list[Verdict], count: int = 5) -> list[Verdict]:
    """The refusing principals that came closest: exact subject first, then the most checks passed."""
    refused = [v for v in verdicts if not v.accepted]
    return sorted(refused, key=lambda v: (closeness(v.checks), v.cloud, v.target, v.workload))[:count]
