"""What providers read from the running clouds: objects in a canonical state, and why a target could not be read."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class LiveObject:
    kind: str  # e.g. "role", "oidc_provider", "service_account", "federated_credential"
    name: str  # unique per kind within a target
    state: dict  # canonical: equal states mean the same effect


# Why a target was not read: each provider sorts its SDK's errors into one of these.
NO_CREDENTIALS = "no-credentials"  # the SDK's default chain found none
REJECTED = "credentials-rejected"  # found, but invalid or expired
DENIED = "access-denied"  # valid, but not allowed to read
WRONG_ACCOUNT = "wrong-account"  # valid for another account, subscription or tenant
UNREACHABLE = "unreachable"  # the API could not be reached (network, endpoint, timeout)
FAILED = "error"  # any other refusal
BY_HTTP_STATUS = {401: REJECTED, 403: DENIED}  # the REST APIs' answers to a bad token and to a refusal
REASONS = {NO_CREDENTIALS: "no credentials", REJECTED: "credentials rejected", DENIED: "access denied",
           WRONG_ACCOUNT: "wrong account", UNREACHABLE: "cloud API unreachable", FAILED: "error"}

# What may look like a credential in an SDK's error text: AWS key IDs, JWTs, OAuth tokens, bearer headers.
_SECRET = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|\beyJ[\w-]+\.[\w-]+\.[\w-]*|\bya29\.[\w.-]+|(?i:bearer)\s+\S+")


def redacted(text: str) -> str:
    """Error text with anything credential-shaped blanked: SDK messages are echoed into CI logs."""
    return _SECRET.sub("[redacted]", text)


class Unreadable(Exception):
    """The caller may not read this target (or reached the wrong account): reported per target."""

    def __init__(self, message: str, reason: str = FAILED):
        super().__init__(redacted(message))
        self.reason = reason


@dataclass(frozen=True)
class Proposed:
    """An importable setting's value with what a person should know before taking it, which
    live.importable may give instead of the bare value: the notes are printed, never written."""
    value: dict[str, str] | bool
    notes: tuple[str, ...] = ()


def sayable(value, breaks: str = "") -> bool:
    """Whether a value read from a cloud is one a spec takes: strings of visible characters, and of
    `breaks` (descriptions take line breaks and tabs)."""
    return not isinstance(value, str) or all(c.isprintable() or c in breaks for c in value)


@dataclass(frozen=True)
class Trusted:
    """One subject an object trusts, in the spec's terms: what an identity block of it says."""
    url: str  # the issuer's URL
    kind: str  # the issuer kind its subject reads as
    fields: dict  # the identity's fields but issuer and audience
    audience: str


@dataclass(frozen=True)
class Adoptable:
    """An object of a target that wiam did not create and that a workload could take over (wiam
    import): what the workload's identities and grant would say, and what they cannot."""
    name: str  # the object's name in the cloud: the grant's adopt
    trusted: tuple[Trusted, ...]
    grant: dict | None  # the grant's settings but adopt; None: not proposed, `left` says why
    default_audience: str  # the audience the cloud's identities take when they name none
    description: str | None = None
    left: tuple[str, ...] = ()  # what the object holds that the proposal does not carry
