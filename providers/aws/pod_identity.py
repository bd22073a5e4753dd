"""EKS Pod Identity (issuer kind eks_pod_identity): the role trusts the service pods.eks.amazonaws.com,
and an aws_eks_pod_identity_association binds the cluster's namespace and service account to it.

The association alone decides which pods EKS assumes the role for; the trust policy pins the same
cluster, namespace and service account again on the session tags EKS sets (Amazon EKS User Guide,
pod-id-role.html and pod-id-abac.html), so that an association someone else makes in the account for
a neighbouring cluster, namespace or service account is refused by the role itself. The cluster is
the target's: its account and region (the cluster ARN pins both)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from wiam.diagnostics import Report
from wiam.document import describe
from wiam.live import LiveObject
from wiam.model import Identity, Target
from wiam.names import short_hash, terraform_name
from wiam.verdict import Check

KIND = "eks_pod_identity"
SERVICE = "pods.eks.amazonaws.com"
ACTIONS = ("sts:AssumeRole", "sts:TagSession")
ASSOCIATION_KIND = "aws_eks_pod_identity_association"
# The session tags EKS Pod Identity sets on each AssumeRole, by what they pin (pod-id-abac.html).
CLUSTER_TAG, NAMESPACE_TAG, ACCOUNT_TAG = "eks-cluster-arn", "kubernetes-namespace", "kubernetes-service-account"
# EKS service quotas: Pod Identity associations per cluster.
ASSOCIATIONS_PER_CLUSTER = 5000


def is_pod(identity: Identity) -> bool:
    """Whether the identity is EKS Pod Identity's."""
    return identity.issuer.kind == KIND


def fields(identity: Identity) -> dict[str, str]:
    return dict(identity.claims)


def session_tags(arn: str, identity: Identity) -> dict[str, str]:
    """The tags EKS sets when it assumes the role for this identity's pods: tag -> value."""
    values = fields(identity)
    return {CLUSTER_TAG: arn, NAMESPACE_TAG: values["namespace"], ACCOUNT_TAG: values["service_account"]}


def _tag_conditions(tags: dict[str, str]) -> dict[str, str]:
    return {f"aws:RequestTag/{tag}": value for tag, value in tags.items()}


def statements(arn_of: Callable[[str], str], identities: list[Identity], window_conditions) -> list[dict]:
    """An Allow per active identity (its three tags together, and its window), and a Deny per one
    refused by a kill switch (its own, its workload's or its issuer's): one statement each, since a
    statement's lists of values would admit any cluster with any namespace of the lists, and every
    issuer of the kind is the same service."""
    ordered = sorted(identities, key=lambda i: i.subject)
    tags = {i.subject: _tag_conditions(session_tags(arn_of(fields(i)["cluster"]), i)) for i in ordered}
    allows = [{"Effect": "Allow", "Principal": {"Service": SERVICE}, "Action": list(ACTIONS),
               "Condition": {"StringEquals": tags[i.subject], **window_conditions(i.window)}}
              for i in ordered if i.active]
    denies = [{"Sid": f"WiamPodDisabled{number}", "Effect": "Deny", "Principal": {"Service": SERVICE},
               "Action": list(ACTIONS), "Condition": {"StringEquals": tags[i.subject]}}  # Sids: unique in a policy
              for number, i in enumerate((i for i in ordered if not i.active), 1)]
    return allows + denies


@dataclass(frozen=True)
class Association:
    """An EKS Pod Identity association (aws_eks_pod_identity_association) of an active identity."""

    resource: str  # Terraform resource name
    identity: Identity

    @property
    def address(self) -> str:
        return f"{ASSOCIATION_KIND}.{self.resource}"

    @property
    def key(self) -> tuple[str, str, str]:
        """(cluster, namespace, service account)"""
        values = fields(self.identity)
        return values["cluster"], values["namespace"], values["service_account"]


def associations(role_resource: str, identities: list[Identity]) -> list[Association]:
    found = [Association(terraform_name(role_resource, f"pod_{short_hash(i.subject)}"), i)
             for i in identities if i.active]
    return sorted(found, key=lambda a: a.key)


def check(target: Target, found: list[Association], report: Report) -> None:
    """EKS takes one association per service account of a cluster, and a bounded number per cluster."""
    first: dict[tuple, Association] = {}
    per_cluster: dict[str, int] = {}
    for association in found:
        cluster, namespace, account = association.key
        per_cluster[cluster] = per_cluster.get(cluster, 0) + 1
        other = first.setdefault(association.key, association)
        if other is not association:
            identity = association.identity
            report.error(identity.pos, describe(("workload", identity.workload, "identity", identity.index)),
                         f"service account {account!r} of namespace {namespace!r} in EKS cluster {cluster!r} is "
                         f"associated with workload {other.identity.workload!r} too; EKS takes one Pod Identity "
                         f"association per service account (aws target {target.name!r})",
                         "give each workload its own Kubernetes service account")
    for cluster, count in sorted(per_cluster.items()):
        if count > ASSOCIATIONS_PER_CLUSTER:
            report.error(target.pos, describe(target.path),
                         f"{count} Pod Identity associations in EKS cluster {cluster!r}; EKS allows "
                         f"{ASSOCIATIONS_PER_CLUSTER} per cluster", "spread the service accounts over several clusters")


def _claim(claims: dict, name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) else None


def statement_checks(statement: dict, claims: dict) -> list[Check]:
    """A trust statement of the service as STS judges EKS's AssumeRole: the caller is EKS Pod Identity
    (the token's iss names it) and each tag condition equals the session tag EKS sets."""
    checks = [Check("iss", claims["iss"] == SERVICE, f"the credentials come from {claims['iss']!r}, "
                                                     f"the role trusts the service {SERVICE}")]
    for key, expected in statement.get("Condition", {}).get("StringEquals", {}).items():
        tag = key.removeprefix("aws:RequestTag/")
        value = _claim(claims, tag)
        wanted = expected if isinstance(expected, list) else [expected]
        checks.append(Check(tag, value in wanted, f"the session has {tag} {value!r}, the role expects {wanted[0]!r}"))
    return checks


def association_check(role_arn: str, found: list[Association], arn_of: Callable[[str], str], claims: dict) -> Check:
    """Whether EKS assumes this role for the pod at all: an association of the session's cluster,
    namespace and service account names it; and the pod's token (sub) is of that service account."""
    key = (_claim(claims, CLUSTER_TAG), _claim(claims, NAMESPACE_TAG), _claim(claims, ACCOUNT_TAG))
    sub = f"system:serviceaccount:{key[1]}:{key[2]}"
    if claims["sub"] != sub:
        return Check("sub", False, f"the pod's token is of {claims['sub']!r}, its session tags say {sub!r}")
    associated = any((arn_of(a.key[0]), *a.key[1:]) == key for a in found)
    return Check("association", associated, f"no Pod Identity association of {key[0]!r} binds namespace "
                                             f"{key[1]!r} and service account {key[2]!r} to {role_arn}")


def cluster_target(identity: Identity, granted: str) -> str:
    """The aws target whose account holds the identity's cluster: its cluster_target, else the granted one."""
    return fields(identity).get("cluster_target", granted)


@dataclass(frozen=True)
class ChainRole:
    """The role EKS assumes in the cluster's account for one identity granted in another account, before
    the granted role (the association's target_role_arn): EKS PassRoles only a role of the cluster's account."""

    resource: str  # Terraform resource name, also of its inline policy
    name: str
    arn: str
    cluster_arn: str  # arn_of the identity's cluster in the cluster target's account
    trust: dict
    target_role_arn: str  # the granted role
    tags: dict[str, str]
    association: Association


def chain_role(granted_target: str, granted_role: str, target_role_arn: str, identity: Identity,
               role_arn: Callable[[str], str], cluster_arn: Callable[[str], str], window_conditions,
               tags: dict[str, str]) -> ChainRole:
    """The identity's role in its cluster target's account, named after the granted target and role so
    that each plan (the granted one and the cluster's) derives the same ARN without the other."""
    digest = short_hash(granted_target, granted_role, identity.subject)
    name = f"{granted_role[:50]}-pod-{digest[:8]}"  # IAM role names: 64 characters
    resource = terraform_name(granted_target, f"{granted_role}_pod_{digest}")
    trust = {"Version": "2012-10-17", "Statement": statements(cluster_arn, [identity], window_conditions)}
    return ChainRole(resource, name, role_arn(name), cluster_arn(fields(identity)["cluster"]), trust, target_role_arn,
                     tags, Association(terraform_name(resource, "association"), identity))


def chained_statements(chains: list[ChainRole], window_conditions) -> list[dict]:
    """The granted role's trust of its chain roles: each for AssumeRole and TagSession (EKS's second hop),
    pinned to that role's ARN, in its identity's window; a disabled identity's chain role is refused too."""
    ordered = sorted(chains, key=lambda c: c.arn)
    allows = [{"Effect": "Allow", "Principal": {"AWS": c.arn}, "Action": list(ACTIONS),
               "Condition": {"StringEquals": {"aws:PrincipalArn": c.arn},
                             **window_conditions(c.association.identity.window)}}
              for c in ordered if c.association.identity.active]
    denies = [{"Sid": f"WiamPodChainDisabled{number}", "Effect": "Deny", "Principal": {"AWS": c.arn},
               "Action": list(ACTIONS)}
              for number, c in enumerate((c for c in ordered if not c.association.identity.active), 1)]
    return allows + denies


def chain_policy(chain: ChainRole) -> dict:
    """The chain role may assume (and tag the session of) the granted role only."""
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(ACTIONS),
                                                    "Resource": chain.target_role_arn}]}


LIVE_KIND = "pod_identity_association"


def live_name(cluster: str, namespace: str, service_account: str) -> str:
    return f"{cluster}/{namespace}/{service_account}"


def live_state(role_arn: str, tags: dict[str, str], disable_session_tags: bool = False,
               target_role_arn: str | None = None) -> dict:
    """What drift compares of an association: the role, its tags, and the settings that would undo the
    trust policy's pins (no session tags) or move the pod to another role (a target role)."""
    return {"role_arn": role_arn, "tags": tags, "disable_session_tags": disable_session_tags,
            "target_role_arn": target_role_arn}


def read_associations(eks, clusters: list[str], wanted: set[tuple[str, str]], managed: tuple[str, str],
                      paged, call) -> list[LiveObject]:
    """The associations of the plan's clusters that it names, or that carry wiam's tag (extra otherwise)."""
    found = []
    for cluster in clusters:
        for entry in paged(eks, "list_pod_identity_associations", "associations", clusterName=cluster):
            name = live_name(cluster, entry["namespace"], entry["serviceAccount"])
            detail = call(eks.describe_pod_identity_association, clusterName=cluster,
                          associationId=entry["associationId"])["association"]
            tags = detail.get("tags") or {}
            if (LIVE_KIND, name) in wanted or tags.get(managed[0]) == managed[1]:
                found.append(LiveObject(LIVE_KIND, name, live_state(
                    detail["roleArn"], tags, bool(detail.get("disableSessionTags")), detail.get("targetRoleArn"))))
    return found
