"""GCP in cloud-to-cloud chains: a pool provider of type aws admitting an AWS role's sessions, and
what a GCP service account is to other clouds (its unique ID, the sub of its Google-signed ID
tokens, which GCP assigns when it creates the account).

An AWS caller proves itself with a signed GetCallerIdentity request; GCP's STS checks that it is of
the provider's account and reads `assertion.arn`, the session's ARN
(arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION). google.subject is mapped to the role's part,
arn:aws:sts::ACCOUNT:assumed-role/ROLE, with the mapping Google documents for attribute.aws_role
(IAM docs, "Configure Workload Identity Federation with AWS or Azure VMs"): the role is bound, every
session of it alike, and no other role's."""

from __future__ import annotations

import re
from dataclasses import replace

from wiam.chains import References, resolved, template
from wiam.document import describe
from wiam.issuers import OtherWorkload
from wiam.model import Identity, Model, Target
from wiam.names import terraform_name
from wiam.plan import TargetPlan
from wiam.provider import Chain
from wiam.terraform import ref

from .settings import DIRECT, GrantSettings

AWS_KIND = "aws_role"
ROLE_MAPPING = ("assertion.arn.contains('assumed-role') ? assertion.arn.extract('{account_arn}assumed-role/') + "
                "'assumed-role/' + assertion.arn.extract('assumed-role/{role_name}/') : assertion.arn")
_ROLE_ARN = re.compile(r"arn:(?P<partition>[a-z-]+):iam::(?P<account>\d{12}):role/(?:.*/)?(?P<name>[^/]+)")


def extract(text: str, template: str) -> str:
    """CEL's extract as Google's attribute mappings define it: the part of `text` between the
    template's text before `{name}` and the first occurrence of the text after it ("" if neither is found)."""
    before, _, rest = template.partition("{")
    after = rest.partition("}")[2]
    start = text.find(before)
    if start < 0:
        return ""
    start += len(before)
    end = text.find(after, start) if after else len(text)
    return text[start:end] if end >= 0 else ""


def by_aws(identity: Identity) -> bool:
    return identity.issuer.kind == AWS_KIND


def role_subject(role_arn: str) -> str:
    """The google.subject of every session of a role: its assumed-role ARN without the session (a
    role's path is no part of it)."""
    found = _ROLE_ARN.fullmatch(role_arn)
    return f"arn:{found['partition']}:sts::{found['account']}:assumed-role/{found['name']}"


def subject_account(subject: str) -> str:
    """The AWS account of a role_subject."""
    return subject.split(":")[4]


def admitted(identity: Identity, values: References) -> Identity:
    """The identity as GCP admits it: an AWS role's subject is its sessions' google.subject."""
    if not by_aws(identity):
        return identity
    return replace(identity, subject=role_subject(resolved(identity.subject, values)))


PRINCIPAL_ID_LENGTH = 36  # a managed identity's principal ID: a UUID


def applied_growth(subject: str | None) -> int:
    """How much longer a subject is once applied: a named managed identity's marker becomes its ID."""
    return PRINCIPAL_ID_LENGTH - len(subject) if isinstance(subject, OtherWorkload) else 0


class NamedMember(str):
    """A principal:// member whose subject names a workload's managed identity (chains.py): its text
    holds the subject's marker (keys, graph, simulate), its output the principal's value."""

    named: OtherWorkload

    def __new__(cls, text: str, named: OtherWorkload) -> NamedMember:
        made = super().__new__(cls, text)
        made.named = named
        return made

    def __reduce__(self):  # copies (copy, pickle) keep the subject
        return NamedMember, (str(self), self.named)

    def written(self, values: References) -> str:
        """As Terraform takes it: a template of the principal's value, the rest escaped (the pool's
        prefix holds no marker, the claims suffix follows the subject)."""
        before, _, after = self.rpartition(self.named)
        return template([before, values[self.named.key], after])


def _unique_id(model: Model, target: Target, workload: str) -> str:
    return ref(f"google_service_account.{terraform_name(target.name, workload)}.unique_id")


def _direct(model: Model, target: Target, workload: str) -> tuple[str, str] | None:
    grant = next(g for g in model.workloads[workload].grants if (g.cloud, g.target) == ("gcp", target.name))
    if GrantSettings.of(grant.settings).mode != DIRECT:
        return None
    return (f"workload {workload!r} is granted in direct mode on gcp target {target.name!r} ({describe(grant.path)}): "
            "it has no service account whose ID tokens could call another cloud",
            f"grant workload {workload!r} in service_account mode (the default)")


def _lookup(plan: TargetPlan, workload: str) -> tuple[str, str, dict, str]:
    """The account read by its ID in the project (google docs/d/service_account: account_id, project)."""
    return ("google_service_account", terraform_name(plan.target, workload),
            {"provider": plan.alias, "account_id": plan.principals[workload].attributes["email"].split("@")[0],
             "project": plan.settings.project_id}, "unique_id")


def _configure(plan, module) -> None:
    from .terraform import configure  # terraform imports plan, which imports this module

    configure(plan, module)


CHAINS = {"gcp_service_account": Chain("unique_id", _unique_id, _direct, _lookup, _configure)}
# An Azure managed identity's Entra tokens go through an OIDC provider like any issuer's; a GCP
# service account needs no federation in GCP (grant its workload there instead).
KINDS = frozenset({AWS_KIND, "azure_managed_identity"})
