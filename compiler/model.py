"""The validated spec as plain dataclasses: what every provider and the graph read."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from .bundles import Bundle
from .diagnostics import Pos
from .document import Document


@dataclass(frozen=True)
class Issuer:
    name: str
    kind: str
    url: str
    audience: str | None  # None: each cloud's default
    pos: Pos
    disabled: str | None = None  # kill switch: the reason, when every subject of this issuer is refused
    subject_claims: tuple[str, ...] = ()  # the claim keys its subjects carry, in order; () for the kind's default
    manage_subject_claims: bool = False  # also emit the code host's side: the template its repositories use
    bundle: Bundle | None = None  # spiffe_x509: the CA certificates of its trust_bundle_file

    @property
    def host_path(self) -> str:
        return host_path(self.url)


def host_path(url: str) -> str:
    """The URL without its scheme: how AWS names an OIDC provider and its condition keys."""
    return url.removeprefix("https://").rstrip("/")


def normalised_url(url: str) -> str:
    """One issuer URL, however written: scheme and host in lower case, no default port, no
    trailing slash (the path keeps its case; it names the issuer)."""
    parts = urlsplit(url)
    netloc = parts.netloc.lower().removesuffix(":443")
    return f"{parts.scheme.lower()}://{netloc}{parts.path.rstrip('/')}"


@dataclass(frozen=True)
class Window:
    """When access holds: from not_before (inclusive) until expires (exclusive), UTC; None is unbounded."""

    not_before: datetime | None = None
    expires: datetime | None = None

    def __bool__(self) -> bool:
        return self.not_before is not None or self.expires is not None


ALWAYS = Window()


@dataclass(frozen=True)
class Identity:
    workload: str
    index: int
    issuer: Issuer
    subject: str
    audience: str | None  # an identity's own audience (generic_oidc), else the issuer's
    claims: tuple[tuple[str, Any], ...]  # the fields as written, for display and analysis
    pos: Pos
    disabled: str | None = None  # kill switch on the identity or its workload: the reason
    switched_off: str | None = None  # its own kill switch's reason (not its workload's)
    # Claims pinned beyond the subject, (name, value) sorted by name: every cloud checks each exactly.
    # Claims the subject carries (subject_claims) are not here: the subject checks them.
    conditions: tuple[tuple[str, str], ...] = ()
    # When its tokens are accepted: its own window within its workload's (each cloud enforces it in trust).
    window: Window = ALWAYS
    pinned: tuple[tuple[str, str], ...] = ()  # every claim in `claims`, carried or not, sorted: for analysis
    # The claim (in conditions) that pins it where its kind's sub does not (CircleCI's names the user):
    # no cloud compares sub, and subject is the name of its principal (e.g. project:ID). None: sub pins.
    pinned_by: str | None = None

    @property
    def pin(self) -> tuple[str, str]:
        """The claim and value that tell this identity's tokens apart: sub = subject, or its pinning claim."""
        return (self.pinned_by, dict(self.conditions)[self.pinned_by]) if self.pinned_by else ("sub", self.subject)

    @property
    def other_conditions(self) -> tuple[tuple[str, str], ...]:
        """Its conditions beyond the pin."""
        return tuple(c for c in self.conditions if c[0] != self.pinned_by) if self.pinned_by else self.conditions

    @property
    def active(self) -> bool:
        """Whether clouds accept this subject: neither it, its workload nor its issuer is disabled."""
        return not self.disabled and not self.issuer.disabled

    def audience_for(self, cloud_default: str | None) -> str | None:
        return self.audience or self.issuer.audience or cloud_default


@dataclass
class Target:
    cloud: str
    name: str
    settings: dict[str, Any]
    pos: Pos
    path: tuple


@dataclass
class Grant:
    workload: str
    cloud: str
    target: str
    settings: dict[str, Any]  # the cloud's own settings (the core's fields below are not in them)
    pos: Pos
    path: tuple
    window: Window = ALWAYS  # its own, not narrowed by its workload's (trust carries that)
    reason: str | None = None
    ticket: str | None = None


@dataclass(frozen=True)
class Review:
    """An access review of a workload: who looked at its access, and on which day (UTC)."""
    by: str
    on: date
    pos: Pos


@dataclass(frozen=True)
class Settings:
    """The spec-wide settings block: how often access is reviewed, and who owns what on the code host."""
    review_every: timedelta | None = None
    owners: dict[str, str] = field(default_factory=dict)  # workload owner -> code-host handle (@org/team)
    members: dict[str, tuple[str, ...]] = field(default_factory=dict)  # handle -> git author emails
    pos: Pos | None = None


@dataclass
class Workload:
    name: str
    description: str
    owner: str
    environment: str
    identities: list[Identity]
    grants: list[Grant]
    pos: Pos
    suppress: dict[str, str] = field(default_factory=dict)  # rule ID -> the reason it is accepted
    disabled: str | None = None  # kill switch: the reason
    window: Window = ALWAYS
    break_glass: bool = False
    reason: str | None = None  # why it exists (break-glass, windows); a kill switch's is `disabled`
    ticket: str | None = None
    closed: list[Grant] = field(default_factory=list)  # grants whose window had closed at the model's time
    reviews: tuple[Review, ...] = ()  # as written; the latest day counts

    @property
    def active_identities(self) -> list[Identity]:
        return [i for i in self.identities if i.active]

    def tags(self) -> dict[str, str]:
        """Tags on the cloud objects made for this workload: who made them, for whom, whose."""
        tags = {"managed-by": "wiam", "wiam-workload": self.name}
        if self.owner:
            tags["owner"] = self.owner
        if self.environment:
            tags["environment"] = self.environment
        return tags


@dataclass
class Model:
    issuers: dict[str, Issuer] = field(default_factory=dict)
    targets: dict[tuple[str, str], Target] = field(default_factory=dict)
    workloads: dict[str, Workload] = field(default_factory=dict)
    settings: Settings = field(default_factory=Settings)
    document: Document = field(default_factory=Document)
    at: datetime | None = None  # the time windows were evaluated at (compile's --at), once resolved
    _grants_by_target: dict | None = field(default=None, repr=False, compare=False)
    _references: dict | None = field(default=None, repr=False, compare=False)  # chains.references, once

    def where(self, path: tuple, key: bool = False) -> Pos:
        return self.document.where(path, key)

    def targets_of(self, cloud: str) -> list[Target]:
        return [t for (c, _), t in sorted(self.targets.items()) if c == cloud]

    def grants_on(self, target: Target) -> list[tuple[Workload, Grant]]:
        """Every workload's grant on one target, in workload-name order."""
        if self._grants_by_target is None:
            index: dict[tuple[str, str], list] = {}
            for name in sorted(self.workloads):
                for grant in self.workloads[name].grants:
                    index.setdefault((grant.cloud, grant.target), []).append((self.workloads[name], grant))
            self._grants_by_target = index
        return self._grants_by_target.get((target.cloud, target.name), [])
