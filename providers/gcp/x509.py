"""GCP workload identity federation with X.509 certificates, for spiffe_x509 identities: one pool
provider per issuer whose trust store has each CA certificate of the bundle as a trust anchor (a root
or an intermediate: IAM REST reference, TrustStore; as AWS makes each one a trust anchor), google.subject
the certificate's first URI SAN, and an attribute_condition that admits exactly the identities' SPIFFE
IDs (cloud.google.com/iam/docs/workload-identity-federation-with-x509-certificates: `san.uri`, "the
subject alternative name's first URI")."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from wiam import windows
from wiam.bundles import SVID_ISSUER, chain_verifies, fingerprint
from wiam.model import Identity, Model, Target
from wiam.names import fit_name, terraform_name
from wiam.verdict import Check

from .plan import DISPLAY_NAME_MAX, PROVIDER, PoolProvider, cel_string
from .settings import provider_id

KIND = "spiffe_x509"
SAN_URI = "assertion.san.uri"


@dataclass(slots=True)
class X509Provider(PoolProvider):
    """A pool provider of an X.509 trust store instead of an OIDC issuer."""
    trust_anchors: list[str] = field(default_factory=list)  # PEM

    @property
    def attribute_mapping(self) -> dict[str, str]:
        return {"google.subject": SAN_URI}


def handles(identity: Identity) -> bool:
    return identity.issuer.kind == KIND


def san_condition(spiffe_ids: list[str]) -> str:
    """The CEL that admits a certificate whose first URI SAN is exactly one of these; false for none."""
    return " || ".join(f"{SAN_URI} == {cel_string(s)}" for s in spiffe_ids) or "false"


def providers(model: Model, target: Target, identities: list[Identity], taken: set[str]) -> list[X509Provider]:
    """One provider per spiffe_x509 issuer these identities name; `taken`: provider IDs used already."""
    result = []
    for name in sorted({i.issuer.name for i in identities if handles(i)}):
        issuer = model.issuers[name]
        mine = [i for i in identities if i.issuer.name == name]
        terms = sorted({(i.subject, ()) for i in mine})
        admits = sorted({(i.subject, ()) for i in mine if not i.disabled})
        pid = provider_id(f"{name}-x509", "", 0)
        while pid in taken:
            pid = provider_id(f"{pid}-x", "", 0)
        taken.add(pid)
        condition = san_condition([subject for subject, _ in admits])
        result.append(X509Provider(
            PROVIDER, terraform_name(target.name, pid), pid, fit_name(pid, DISPLAY_NAME_MAX),
            f"wiam: issuer {name} (X.509)", name, issuer.url, None, terms, admits, condition,
            bool(issuer.disabled) or not admits,
            trust_anchors=[c.pem for c in issuer.bundle.certificates]))
    return result


def source_checks(provider: PoolProvider, claims: dict, at: datetime | None) -> tuple[Check, ...] | None:
    """What an X.509 provider checks before its condition (simulate): an X.509-SVID chain that builds
    to its trust store at `at`; None for an OIDC provider."""
    if not isinstance(provider, X509Provider):
        return None
    chain = claims.get("x5c")
    at = at or windows.current()
    built = bool(chain) and chain_verifies(provider.trust_anchors, chain, at)
    return (Check("iss", claims.get("iss") == SVID_ISSUER and chain is not None,
                  f"provider {provider.provider_id} takes X.509-SVIDs, not tokens of {claims.get('iss')!r}"),
            Check("chain", built, f"the chain does not build to the trust store of provider {provider.provider_id} "
                                  f"at {windows.text(at)}"))


def store_state(anchors: list[str], intermediates: list[str]) -> dict:
    """A trust store as drift compares it: its certificates by fingerprint, order aside."""
    return {"trust_anchors": sorted(map(fingerprint, anchors)), "intermediate_cas": sorted(map(fingerprint, intermediates))}


def expected_store(provider: PoolProvider) -> dict | None:
    """The planned provider's trust store state, None for an OIDC provider."""
    if not isinstance(provider, X509Provider):
        return None
    return store_state(provider.trust_anchors, [])


def live_store(x509: dict | None) -> dict | None:
    """A provider's trust store state as the IAM REST API returns its `x509`, None without one."""
    if x509 is None:
        return None
    store = x509.get("trustStore", {})
    pems = lambda key: [c.get("pemCertificate", "") for c in store.get(key, [])]  # noqa: E731
    return store_state(pems("trustAnchors"), pems("intermediateCas"))


def block(provider: PoolProvider) -> dict | None:
    """The provider's `x509` block, or None for an OIDC provider."""
    if not isinstance(provider, X509Provider):
        return None
    return {"x509": {"trust_store": {"trust_anchors": [{"pem_certificate": pem} for pem in provider.trust_anchors]}}}
