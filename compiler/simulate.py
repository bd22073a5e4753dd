"""Which cloud principals would accept a token, judged on the compiled Terraform the way each cloud
judges it, and why the nearest ones refuse it."""

from __future__ import annotations

import base64
import binascii
import json
import os
from dataclasses import dataclass

from .loader import UsageError, read_text
from .model import Model


@dataclass(frozen=True)
class Verdict:
    cloud: str
    target: str
    workload: str
    principal: str  # the role name, service account email, direct principal or identity name
    node: str  # the principal's node in the access graph
    accepted: bool
    reasons: tuple[str, ...] = ()  # why not, one per claim that differs (empty when accepted)


def distance(reasons) -> tuple[bool, int]:
    """How far a refusal is from acceptance: another issuer is farthest, then the count of claims."""
    return any(r.startswith("iss:") for r in reasons), len(reasons)


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

    from .compile import compile_model

    module = json.loads(compile_model(model)["main.tf.json"])
    verdicts = []
    for _, provider in sorted(PROVIDERS.items()):
        verdicts.extend(provider.simulate(model, module, claims))
    return sorted(verdicts, key=lambda v: (v.cloud, v.target, v.workload))


def nearest(verdicts: list[Verdict], count: int = 5) -> list[Verdict]:
    """The refusing principals that came closest: fewest differing claims first."""
    refused = [v for v in verdicts if not v.accepted]
    return sorted(refused, key=lambda v: (distance(v.reasons), v.cloud, v.target, v.workload))[:count]
