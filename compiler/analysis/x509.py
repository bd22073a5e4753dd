"""Rules of spiffe_x509 identities and their trust bundles (whichever cloud trusts them)."""

from __future__ import annotations

from .. import windows
from ..bundles import FIELD
from ..document import describe
from ..findings import Context, Rule, rule

RULES: list[Rule] = []


@rule(RULES, "WIAM040", "trust-domain-spiffe-id", "high", "X.509 identity pinned to a whole trust domain",
      """A spiffe_id without a path (spiffe://TRUST-DOMAIN) is the trust domain's own ID, which names no
      workload: the access goes to whatever certificate the trust domain's CA issues with that bare ID,
      the way a Roles Anywhere role trusting the anchor without a SAN condition would.""",
      """Pin the workload's full SPIFFE ID, spiffe://TRUST-DOMAIN/ns/NAMESPACE/sa/ACCOUNT or the path
      your registration entries give it.""")
def _trust_domain_ids(rule: Rule, context: Context):
    for name, workload in sorted(context.model.workloads.items()):
        for identity in workload.identities:
            # an issuer with a trust bundle is a spiffe_x509 one (its kind is issuers.py's to name)
            if identity.issuer.bundle and "/" not in identity.subject.removeprefix("spiffe://").rstrip("/"):
                path = ("workload", name, "identity", identity.index)
                yield rule.finding(context.model.where(path + ("spiffe_id",)), describe(path),
                                   f"spiffe_id {identity.subject!r} names the trust domain, not a workload",
                                   workload=name)


@rule(RULES, "WIAM041", "trust-bundle-certificate-expiring", "medium", "Trust bundle CA expired or expiring soon",
      """A CA certificate of a spiffe_x509 issuer's trust bundle has expired, or expires within the
      expiring-soon duration of the moment analysed (analyze --expiring-within, default 24h). Once it
      expires the clouds refuse every SVID that chains to it: the workloads lose their access.""",
      """Put the CA's renewed certificate in the bundle (beside the old one while SVIDs of both are in
      use), or remove the expired one.""")
def _expiring_bundles(rule: Rule, context: Context):
    at, within = context.model.at, context.limits.expiring_within
    for name, issuer in sorted(context.model.issuers.items()):
        if issuer.bundle is None or at is None:
            continue
        for certificate in issuer.bundle.certificates:
            if certificate.not_after <= at + within:
                state = "expired" if certificate.not_after <= at else "expires"
                yield rule.finding(context.model.where(("issuer", name, FIELD)), describe(("issuer", name)),
                                   f"the CA certificate {certificate.subject!r} at {issuer.bundle.file}:"
                                   f"{certificate.line} {state} at {windows.text(certificate.not_after)}")
