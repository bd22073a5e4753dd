"""Which cloud principals would accept a token, judged on the compiled Terraform the way each cloud
judges it, and why the nearest ones refuse it."""

from __future__ import annotations

import base64
import json
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime

from . import bundles, registry, windows
from .access import AccessGraph
from .findings import SEVERITIES
from .graph import build_graph
from .planning import plan_model
from .loader import UsageError, read_bytes
from .model import Model, normalised_url
from .plan import Plans
from .query import Reached, blast_radius
from .verdict import Verdict, closeness
from .readers.domain import SURROGATE  # only an unpaired \u escape gives one


MAX_CLAIMS_BYTES = 1 << 20  # a token is a few KiB (STS takes at most 20,000 characters)
MAX_CLAIMS_DEPTH = 32  # claims nest a level or two; deeper input is an attack on the parser, not a token
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")  # RFC 7515: the URL-safe alphabet, padding omitted


def _values(value):
    """Every value in a parsed JSON value (itself and keys included), with its depth, without recursion."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        yield item, depth
        if isinstance(item, (dict, list)):
            stack.extend((v, depth + 1) for v in (item if isinstance(item, list) else
                                                  [part for pair in item.items() for part in pair]))


def parse_json(data: bytes, where: str):
    """JSON as RFC 8259 and RFC 7519 have it: UTF-8 Unicode text, finite numbers, and here at most
    MAX_CLAIMS_DEPTH deep."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"{where}: not UTF-8 (byte {error.start}); JSON claims are UTF-8 text") from None

    def refuse(name: str):
        raise UsageError(f"{where}: {name} is not JSON (RFC 8259 has no NaN or Infinity)")

    def finite(number: str) -> float:
        if not math.isfinite(parsed := float(number)):
            raise UsageError(f"{where}: {number[:40]} is beyond what a JSON number can be here (finite doubles)")
        return parsed

    too_deep = UsageError(f"{where}: JSON nested deeper than {MAX_CLAIMS_DEPTH} levels; token claims are shallow")
    try:
        value = json.loads(text, parse_constant=refuse, parse_float=finite)
    except json.JSONDecodeError as error:
        raise UsageError(f"{where}:{error.lineno}:{error.colno}: not JSON: {error.msg}") from None
    except ValueError:  # Python refuses to convert integers of thousands of digits
        raise UsageError(f"{where}: an integer has more digits than Python reads") from None
    except RecursionError:  # nested past what the parser follows
        raise too_deep from None
    for item, depth in _values(value):
        if isinstance(item, (dict, list)) and depth >= MAX_CLAIMS_DEPTH:
            raise too_deep
        surrogate = SURROGATE.search(item) if isinstance(item, str) else None
        if surrogate:
            raise UsageError(f"{where}: a string holds the unpaired surrogate \\u{ord(surrogate.group()):04x}; "
                             "claims are Unicode text (RFC 7519)")
    return value


def _segment(text: str, name: str) -> bytes:
    """One base64url part of a JWT, decoded as strictly as the clouds' token parsers do."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise UsageError(f"the JWT {name} is not base64url (A-Z, a-z, 0-9, '-' and '_', without '=' padding)")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def read_claims(path: str | None = None, token: str | None = None) -> dict:
    """Claims from a JSON file (a decoded JWT payload, or {"x5c": [PEM, ...]}: an X.509-SVID chain,
    leaf first) or a raw JWT, whose signature is not checked."""
    if (path is None) == (token is None):
        raise UsageError("give either --claims FILE or --token JWT")
    if path is not None:
        # a regular file, read without blocking on a FIFO
        data = read_bytes(path, os.path.dirname(os.path.realpath(path)), MAX_CLAIMS_BYTES, "a token's claims file")
        claims = parse_json(data, path)
    else:
        parts = token.split(".")  # no trimming: the clouds take the token as sent
        if len(parts) != 3:
            raise UsageError("a JWT has three dot-separated parts (header.payload.signature)")
        header, payload, _ = (_segment(part, name) for part, name in zip(parts, ("header", "payload", "signature")))
        if not isinstance(parse_json(header, "the JWT header"), dict):
            raise UsageError("the JWT header is not a JSON object")
        claims = parse_json(payload, "the JWT payload")
    if isinstance(claims, dict) and "x5c" in claims:  # an X.509-SVID chain: its claims are the certificate's
        try:
            claims = bundles.svid_claims(claims["x5c"])
        except ValueError as error:
            raise UsageError(f"{path or 'the token'}: {error}") from None
    if not isinstance(claims, dict) or not all(isinstance(claims.get(k), str) for k in ("iss", "sub")):
        raise UsageError("the claims need at least iss and sub as strings")
    audience = claims.get("aud")
    if audience is not None and not (isinstance(audience, str) or isinstance(audience, list)
                                     and all(isinstance(a, str) for a in audience)):
        raise UsageError("the claims' aud is a string or a list of strings (RFC 7519)")
    return claims


def simulate(model: Model, claims: dict, plans: Plans | None = None) -> list[Verdict]:
    """A verdict for every principal of the plans (of the model's, planned here when not given)."""
    plans = plan_model(model) if plans is None else plans
    verdicts = [v for (cloud, _), plan in plans.items() for v in registry.get(cloud).simulate(plan, claims)]
    return sorted(verdicts, key=lambda v: (v.cloud, v.target, v.workload))


def nearest(verdicts: list[Verdict], count: int = 5) -> list[Verdict]:
    """The refusing principals that came closest: exact subject first, then the most checks passed."""
    refused = [v for v in verdicts if not v.accepted]
    return sorted(refused, key=lambda v: (closeness(v.checks), v.cloud, v.target, v.workload))[:count]


@dataclass
class Simulation:
    """A token against the spec: who accepts it, what it could then reach, else who came closest."""
    claims: dict
    accepted: list[Verdict]
    reaches: list[Reached]  # the permissions reached from the accepting principals
    nearest: list[Verdict]  # when none accepts it
    access: AccessGraph
    at: datetime | None = None  # the moment the token is presented
    outside_window: list[str] = field(default_factory=list)  # refusals its identity's window explains

    def ranked(self) -> list[Reached]:
        """The reached permissions, worst first, then nearest."""
        return sorted(self.reaches, key=lambda r: (-SEVERITIES.index(r.severity), r.hops, r.node))

    def as_json(self) -> dict:
        nodes = self.access.graph.nodes
        return {
            **({"at": windows.text(self.at)} if self.at else {}),
            "claims": {k: self.claims.get(k) for k in ("iss", "sub", "aud")},
            "accepted": [{"cloud": v.cloud, "target": v.target, "workload": v.workload, "principal": v.principal}
                         for v in self.accepted],
            "reaches": [{"permission": nodes[r.node]["label"], "severity": r.severity, "resources": list(r.resources),
                         "cloud": nodes[r.grant]["cloud"], "target": nodes[r.grant]["target"], "hops": r.hops,
                         "path": [nodes[n]["label"] for n in r.path]} for r in self.reaches],
            "nearest": [{"cloud": v.cloud, "target": v.target, "workload": v.workload, "principal": v.principal,
                         "passed": list(v.passed), "reasons": list(v.reasons),
                         "checks": [{"check": c.name, "passed": c.passed, "detail": c.detail} for c in v.checks]}
                        for v in self.nearest],
            **({"outside_window": self.outside_window} if self.at else {}),
        }


def outside_window(model: Model, claims: dict, refused: list[Verdict]) -> list[str]:
    """Each refusing principal whose workload names this token's issuer and subject in an identity
    whose window does not hold at the model's moment: the window that refuses it, said by the core
    whatever each cloud calls its check."""
    if model.at is None:
        return []
    issuer, found = normalised_url(claims["iss"]), []
    for verdict in refused:
        for identity in model.workloads[verdict.workload].identities:
            if (identity.subject == claims["sub"] and normalised_url(identity.issuer.url) == issuer
                    and not windows.holds(identity.window, model.at)):
                found.append(f"{verdict.cloud} {verdict.target}: {verdict.principal} (workload {verdict.workload}): "
                             f"identity #{identity.index + 1} admits it {windows.described(identity.window)}, "
                             f"not at {windows.text(model.at)}")
    return found


def simulation(model: Model, claims: dict, plans: Plans | None = None) -> Simulation:
    """The token presented at the model's moment: windows that do not hold then admit and reach nothing."""
    plans = plan_model(model) if plans is None else plans
    verdicts = simulate(model, claims, plans)
    accepted = [v for v in verdicts if v.accepted]
    access = build_graph(model, plans)
    reaches = [r for r in blast_radius(access, [v.node for v in accepted], model.at) if r.severity]
    return Simulation(claims, accepted, reaches, nearest(verdicts) if not accepted else [], access, model.at,
                      outside_window(model, claims, [v for v in verdicts if not v.accepted]))
