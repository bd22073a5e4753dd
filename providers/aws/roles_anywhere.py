"""AWS IAM Roles Anywhere for spiffe_x509 identities: a trust anchor per CA certificate of the issuer's
bundle, a profile per role, and the role's trust on the X.509-SVID's URI SAN with the issuer's anchors
as source.

Roles Anywhere maps the first URI SAN of the presented certificate to the session tag x509SAN/URI
(rolesanywhere user guide, "Certificate attribute mapping", default mapping); the trust policy must
allow sts:AssumeRole, sts:SetSourceIdentity and sts:TagSession to rolesanywhere.amazonaws.com ("Trust
model"), and aws:SourceArn is the ARN of the trust anchor the certificate chained to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from wiam import windows
from wiam.bundles import SVID_ISSUER, Certificate, chain_verifies
from wiam.diagnostics import Report
from wiam.document import describe
from wiam.model import Identity, Model, Target, Window
from wiam.names import fit_name, terraform_name
from wiam.terraform import Expr, one_or_list, ref
from wiam.verdict import Check

KIND = "spiffe_x509"
TRUST_ANCHOR_KIND, PROFILE_KIND = "aws_rolesanywhere_trust_anchor", "aws_rolesanywhere_profile"
SERVICE = "rolesanywhere.amazonaws.com"
ACTIONS = ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]
SAN_URI = "aws:PrincipalTag/x509SAN/URI"
SOURCE_ARN = "aws:SourceArn"
CERTIFICATE_DATA_MAX = 8000  # SourceData.x509CertificateData, API reference: one PEM certificate
ANCHORS_PER_REGION = 50  # Roles Anywhere quotas: trust anchors per account and Region (adjustable)
NAME_MAX = 255  # ResourceName, [ a-zA-Z0-9-_]*
# The longest trust anchor ARN (arn:aws-us-gov:rolesanywhere:REGION:ACCOUNT:trust-anchor/UUID): what a
# reference to one stands for when a trust policy's length is measured.
ARN_STAND_IN = "arn:aws-us-gov:rolesanywhere:ap-southeast-5:123456789012:trust-anchor/" + "0" * 36


@dataclass(frozen=True)
class TrustAnchor:
    """One CA certificate of a spiffe_x509 issuer's bundle, trusted in the target's account and region."""
    resource: str
    name: str
    issuer: str
    certificate: Certificate
    enabled: bool  # false: the issuer is disabled, and no certificate of its CA is accepted
    tags: dict[str, str]

    @property
    def address(self) -> str:
        return f"{TRUST_ANCHOR_KIND}.{self.resource}"

    @property
    def arn(self) -> Expr:
        return ref(f"{self.address}.arn")


def handles(identity: Identity) -> bool:
    return identity.issuer.kind == KIND


def _name(text: str) -> str:
    return fit_name(re.sub(r"[^a-zA-Z0-9_-]", "-", text), NAME_MAX, allowed=r"a-zA-Z0-9_-")


def trust_anchors(model: Model, target: Target, identities: list[Identity], report: Report) -> list[TrustAnchor]:
    """The anchors of every spiffe_x509 issuer these identities name, in issuer order, each certificate once."""
    anchors = []
    for name in sorted({i.issuer.name for i in identities if handles(i)}):
        issuer = model.issuers[name]
        for certificate in issuer.bundle.certificates:
            if len(certificate.pem) > CERTIFICATE_DATA_MAX:
                report.error(issuer.pos, describe(("issuer", name)),
                             f"the certificate at {issuer.bundle.file}:{certificate.line} is {len(certificate.pem)} "
                             f"characters of PEM; an AWS trust anchor takes at most {CERTIFICATE_DATA_MAX}",
                             "issue the SVIDs from a CA with a smaller certificate (an EC key), or grant in gcp")
            fingerprint = certificate.sha256[:16]
            anchors.append(TrustAnchor(terraform_name(target.name, name, fingerprint), _name(f"wiam-{name}-{fingerprint}"),
                                       name, certificate, not issuer.disabled,
                                       {"managed-by": "wiam", "wiam-issuer": name}))
    if len(anchors) > ANCHORS_PER_REGION:
        report.error(target.pos, describe(target.path),
                     f"{len(anchors)} Roles Anywhere trust anchors (one per CA certificate of the spiffe_x509 issuers' "
                     f"bundles) in one account and Region; the default quota is {ANCHORS_PER_REGION}",
                     "keep only the CAs that issue the SVIDs in the bundles, or spread the workloads over targets")
    return anchors


def statements(anchors: list[TrustAnchor], identities: list[Identity], window_conditions) -> list[dict]:
    """The role's statements for its spiffe_x509 identities: one Allow per issuer and window pinning
    the URI SAN exactly and the issuer's anchors as source; a disabled identity's SAN denied."""
    by_issuer: dict[str, list[Expr]] = {}
    for anchor in anchors:
        by_issuer.setdefault(anchor.issuer, []).append(anchor.arn)
    groups: dict[tuple[str, Window], set[str]] = {}
    denied: dict[str, set[str]] = {}
    for identity in filter(handles, identities):
        if identity.active:
            groups.setdefault((identity.issuer.name, identity.window), set()).add(identity.subject)
        else:
            denied.setdefault(identity.issuer.name, set()).add(identity.subject)
    result = []
    for (issuer, window), subjects in sorted(groups.items(), key=lambda g: (g[0][0], str(g[0][1]))):
        result.append({"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": ACTIONS, "Condition": {
            "StringEquals": {SAN_URI: one_or_list(sorted(subjects))},
            "ArnEquals": {SOURCE_ARN: one_or_list(by_issuer[issuer])}, **window_conditions(window)}})
    for number, (issuer, subjects) in enumerate(sorted(denied.items()), 1):
        result.append({"Sid": f"WiamDisabledX509{number}", "Effect": "Deny", "Principal": {"Service": SERVICE},
                       "Action": ACTIONS, "Condition": {"StringEquals": {SAN_URI: one_or_list(sorted(subjects))}}})
    return result


def measured(text: str, anchors: list[TrustAnchor]) -> int:
    """The length IAM will count once the anchors' ARNs stand where their references are."""
    return len(text) - sum(text.count(a.arn) * (len(a.arn) - len(ARN_STAND_IN)) for a in anchors)


def emit(alias: str, anchors: list[TrustAnchor], profiles: list[tuple[str, str, str, dict]], module) -> None:
    """The anchors, and each Roles Anywhere role's profile: (resource, name, role address, tags)."""
    for anchor in anchors:
        module.resource(TRUST_ANCHOR_KIND, anchor.resource, {
            "provider": alias, "name": anchor.name, "enabled": anchor.enabled, "tags": anchor.tags,
            "source": {"source_type": "CERTIFICATE_BUNDLE",
                       "source_data": {"x509_certificate_data": anchor.certificate.pem}}})
    for resource, name, role, tags in profiles:
        module.resource(PROFILE_KIND, resource, {"provider": alias, "name": name, "enabled": True,
                                                 "role_arns": [ref(f"{role}.arn")], "tags": tags})


def profile_name(role_name: str) -> str:
    return _name(role_name)


def checks(statement: dict, anchors: list[TrustAnchor], claims: dict, at: datetime) -> list[Check]:
    """A Roles Anywhere statement against an X.509-SVID chain's claims (simulate): the chain builds to
    an enabled trust anchor the statement names as source, and its first URI SAN is one it expects."""
    condition = statement.get("Condition", {})
    chain = claims.get("x5c")
    result = [Check("iss", claims.get("iss") == SVID_ISSUER and chain is not None,
                    f"the role trusts X.509-SVIDs (IAM Roles Anywhere), not tokens of {claims.get('iss')!r}")]
    sources = [a for a in anchors if a.arn in _listed(condition.get("ArnEquals", {}).get(SOURCE_ARN, []))]
    if sources:
        built = bool(chain) and any(a.enabled and chain_verifies([a.certificate.pem], chain, at) for a in sources)
        result.append(Check("chain", built, "the chain does not build to an enabled trust anchor of the role ("
                            + ", ".join(sorted({a.certificate.subject for a in sources})) + f") at {windows.text(at)}"))
    wanted = _listed(condition["StringEquals"][SAN_URI])
    result.append(Check("sub", claims.get("sub") in wanted,
                        f"the SVID's first URI SAN is {claims.get('sub')!r}, the role expects {wanted!r}"))
    return result


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]
