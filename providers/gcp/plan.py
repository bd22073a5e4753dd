"""GCP planning: a workload identity pool per target, providers per issuer (and audience) with an
attribute condition that admits only the named subjects, service accounts and IAM bindings, with
the documented limits checked (Workload Identity Federation and IAM docs)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime

from wiam import chains
from wiam.diagnostics import Report
from wiam.document import describe
from wiam.issuers import CLAIM_TYPES, KINDS, OtherWorkload
from wiam.model import ALWAYS, Grant, Identity, Model, Target, Window, Workload
from wiam.names import fit_name, free_name, short_hash, slug, terraform_name
from wiam.plan import Principal, TargetPlan
from wiam.terraform import Expr, one_or_list, provider_alias, ref
from wiam.windows import described, narrowest, text

from . import federation, gke
from .settings import DIRECT, SERVICE_ACCOUNT, TERRAFORM_PROVIDER, GrantSettings, TargetSettings, provider_id

CLOUD = "gcp"
ATTRIBUTE_CONDITION_MAX = 4096
SUBJECT_MAX_BYTES = 127  # google.subject
DISPLAY_NAME_MAX = 32  # pool and provider display names
PRINCIPALS_PER_POLICY = 1500
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
ATTRIBUTE_MAPPING = {"google.subject": "assertion.sub"}

POOL = "google_iam_workload_identity_pool"
POOL_DESCRIPTION = "Workload identities managed by wiam"  # what tells wiam's own pool from one made outside it
PROVIDER = "google_iam_workload_identity_pool_provider"
ACCOUNT = "google_service_account"
ACCOUNT_MEMBER = "google_service_account_iam_member"
PROJECT_MEMBER = "google_project_iam_member"

# IAM conditions (cloud.google.com/iam/docs/conditions-overview): request.time is each request's
# time; `>=` not_before and `<` expires hold exactly where windows.holds does. GCP takes at most 100
# conditional role bindings in one allow policy, and 20 bindings of one role to one principal that
# differ only in their condition; basic roles take no condition (google_project_iam docs).
CONDITIONAL_BINDINGS_PER_POLICY = 100
CONDITIONS_PER_ROLE_AND_MEMBER = 20
UNCONDITIONAL_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
TOKEN_LIFETIME = "trust window: service account tokens minted before it closes outlive it by their lifetime"
CONDITION_DESCRIPTION = "Set by wiam: access from not_before (inclusive) until expires (exclusive), UTC"


_CEL_SPECIAL = re.compile(r'[\\"\x00-\x1f\x7f]')


def _cel_escape(match: re.Match) -> str:
    char = match.group(0)
    return "\\" + char if char in '\\"' else f"\\u{ord(char):04x}"


def cel_string(text: str) -> str:
    """A CEL string literal that denotes exactly `text`."""
    return '"' + _CEL_SPECIAL.sub(_cel_escape, text) + '"'


# One equality per subject, not `assertion.sub in [...]`: the same subjects, in the form scanners
# such as checkov (CKV_GCP_125) read; a provider admitting no subject (it is disabled) says false.
# A subject with conditions is one term: its equality and one per claim, parenthesised among others.
_SUBJECT_OR = " || "
_CLAIM_AND = " && "
_NO_SUBJECT = "false"
# CEL identifiers, less CEL's reserved words: any other claim name is written as a map key.
_CEL_IDENTIFIER = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_CEL_RESERVED = frozenset("true false null in as break const continue else for function if import let loop "
                          "package namespace return var void while".split())

Conditions = tuple[tuple[str, str], ...]
# A subject and the claims its tokens must carry; None for identities pinned by a claim (among the
# claims), whose sub is not compared.
Term = tuple[str | None, Conditions]


def claim_access(name: str) -> str:
    """The CEL expression for a token claim: assertion.name, or assertion["name"] where name is no identifier."""
    if _CEL_IDENTIFIER.fullmatch(name) and name not in _CEL_RESERVED:
        return f"assertion.{name}"
    return f"assertion[{cel_string(name)}]"


def _claim_equality(name: str, value: str) -> str:
    """The CEL that a claim matches its pinned value (claim_holds): equal, or for claims that are no
    string, the boolean or an element of the list."""
    kind = CLAIM_TYPES.get(name)
    if kind == "bool":
        return f"{claim_access(name)} == {'true' if value == 'true' else 'false'}"
    if kind == "list":
        return f"{cel_string(value)} in {claim_access(name)}"
    return f"{claim_access(name)} == {cel_string(value)}"


def _subject_equality(subject: str, values: chains.References) -> str:
    """The sub's equality; a named managed identity's ID is a Terraform reference (chains.template)
    to a UUID Azure assigns, which needs no CEL escape."""
    value = values.get(subject.key) if isinstance(subject, OtherWorkload) else None
    if isinstance(value, Expr):
        return chains.template([f'{claim_access("sub")} == "', value, '"'])
    return _claim_equality("sub", subject)


def _joined(separator: str, pieces: list[str]) -> str:
    return chains.template([part for index, piece in enumerate(pieces)
                            for part in ([separator, piece] if index else [piece])])


def term_expression(term: Term, values: chains.References | None = None) -> str:
    """A term's CEL; with values, a named workload's subject is its principal's value."""
    subject, conditions = term
    sub = [] if subject is None else [_subject_equality(subject, values or {})]
    return _joined(_CLAIM_AND, sub + [_claim_equality(*c) for c in conditions])


def _joined_expression(term: Term, values: chains.References | None = None) -> str:
    """A term as it reads between ||."""
    expression = term_expression(term, values)
    return chains.template(["(", expression, ")"]) if term[1] else expression


# Principals are pool-wide and bound by google.subject, so the subjects a provider admits only with
# claims are mapped apart: google.subject = sub + ":wiam-" + a hash of the claims. A token without
# them is refused by that provider and, through any other, maps to its bare sub: another principal.
# (Characters subjects already hold, so the principal:// member reads as any other.)
_CLAIMS_SEPARATOR = ":wiam-"


def claims_hash(conditions: Conditions) -> str:
    return short_hash(json.dumps(conditions, ensure_ascii=False), length=10) if conditions else ""


def claims_suffix(conditions: Conditions) -> str:
    """What a provider checking these claims appends to google.subject ("" for none)."""
    return _CLAIMS_SEPARATOR + claims_hash(conditions) if conditions else ""


def mapped_subject(identity: Identity) -> str:
    """The google.subject of this identity's tokens, which its principal:// names."""
    return identity.subject + claims_suffix(identity.other_conditions)


def subject_condition(terms: list[Term], values: chains.References | None = None) -> str:
    if len(terms) == 1:
        return term_expression(terms[0], values)
    return _joined(_SUBJECT_OR, [_joined_expression(t, values) for t in terms]) or _NO_SUBJECT


# Resource kinds, by full resource name: the IAM member resource that binds a role on each. Those
# whose policies GCP refuses conditions in (Pub/Sub, Artifact Registry: IAM's "resource types that
# accept conditional role bindings"), and KMS keys, whose member resource takes a condition only in
# google-beta (google_kms_crypto_key_iam docs), cannot hold a window.
@dataclass(frozen=True)
class ResourceKind:
    label: str
    pattern: re.Pattern
    terraform_type: str
    arguments: tuple[tuple[str, str], ...]  # (terraform argument, regex group or "name")
    conditions: bool  # whether its bindings can carry an IAM condition (a window)


def _kind(label, pattern, terraform_type, *arguments, conditions=True):
    return ResourceKind(label, re.compile(pattern), terraform_type, arguments, conditions)


RESOURCE_KINDS = (
    _kind("project", r"projects/(?P<project>[a-z][a-z0-9-]{4,28}[a-z0-9])", PROJECT_MEMBER, ("project", "project")),
    _kind("storage bucket", r"projects/_/buckets/(?P<bucket>[a-z0-9][a-z0-9_.-]{1,220}[a-z0-9])",
          "google_storage_bucket_iam_member", ("bucket", "bucket")),
    _kind("Pub/Sub topic", r"projects/(?P<project>[^/]+)/topics/(?P<topic>[^/]+)", "google_pubsub_topic_iam_member",
          ("project", "project"), ("topic", "topic"), conditions=False),
    _kind("Pub/Sub subscription", r"projects/(?P<project>[^/]+)/subscriptions/(?P<subscription>[^/]+)",
          "google_pubsub_subscription_iam_member", ("project", "project"), ("subscription", "subscription"),
          conditions=False),
    _kind("Secret Manager secret", r"projects/(?P<project>[^/]+)/secrets/(?P<secret>[^/]+)",
          "google_secret_manager_secret_iam_member", ("project", "project"), ("secret_id", "secret")),
    _kind("BigQuery dataset", r"projects/(?P<project>[^/]+)/datasets/(?P<dataset>[A-Za-z0-9_]+)",
          "google_bigquery_dataset_iam_member", ("project", "project"), ("dataset_id", "dataset")),
    _kind("Artifact Registry repository",
          r"projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/repositories/(?P<repository>[^/]+)",
          "google_artifact_registry_repository_iam_member", ("project", "project"), ("location", "location"),
          ("repository", "repository"), conditions=False),
    _kind("KMS crypto key", r"projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+",
          "google_kms_crypto_key_iam_member", ("crypto_key_id", "name"), conditions=False),
    _kind("service account", r"projects/[^/]+/serviceAccounts/[^/]+@[^/]+", ACCOUNT_MEMBER, ("service_account_id", "name")),
)
CONDITIONAL_TYPES = frozenset(k.terraform_type for k in RESOURCE_KINDS if k.conditions)
SUPPORTED_KINDS = "projects/P, " + ", ".join(
    f"{k.label} ({k.pattern.pattern})" for k in RESOURCE_KINDS[1:])
_API_PREFIX = re.compile(r"^//[a-z0-9.-]+\.googleapis\.com/")
_SERVICE_ACCOUNT = re.compile(r"(?://iam\.googleapis\.com/)?projects/[^/]+/serviceAccounts/(?P<email>[^/]+)")


def relative_name(resource: str) -> str:
    """A full resource name without its service (//storage.googleapis.com/...), as IAM bindings take it."""
    return _API_PREFIX.sub("", resource)


def resource_binding(resource: str) -> tuple[str, dict] | None:
    """The IAM member resource type and its arguments for a full resource name, or None."""
    name = relative_name(resource)
    for kind in RESOURCE_KINDS:
        match = kind.pattern.fullmatch(name)
        if match:
            return kind.terraform_type, {arg: (name if group == "name" else match.group(group))
                                         for arg, group in kind.arguments}
    return None


def service_account_of(resource: str) -> str | None:
    """The email of the service account a full resource name names, or None."""
    match = _SERVICE_ACCOUNT.fullmatch(resource)
    return match["email"] if match else None


@dataclass(frozen=True)
class Condition:
    """An IAM condition: the expression decides; title and description only say what it is."""

    title: str
    description: str
    expression: str


def window_expression(window: Window) -> str:
    """The CEL that holds exactly inside `window` (not_before inclusive, expires exclusive)."""
    bounds = []
    if window.not_before is not None:
        bounds.append(f'request.time >= timestamp("{text(window.not_before)}")')
    if window.expires is not None:
        bounds.append(f'request.time < timestamp("{text(window.expires)}")')
    return " && ".join(bounds)


def window_condition(window: Window) -> Condition | None:
    """The condition of a binding that holds in `window`; None when it always holds. The title
    names the window, so bindings of one role in different windows differ by title too; it holds
    timestamps only, at most 57 characters, like the fixed description far within any title or
    description field."""
    if not window:
        return None
    return Condition(f"wiam {described(window)}", CONDITION_DESCRIPTION, window_expression(window))


@dataclass(slots=True)
class Resource:
    """A Terraform resource the plan writes."""

    terraform_type: str
    name: str  # the Terraform resource name

    @property
    def address(self) -> str:
        return f"{self.terraform_type}.{self.name}"


@dataclass(slots=True)
class Pool(Resource):
    pool_id: str
    display_name: str = "wiam"
    description: str = POOL_DESCRIPTION


@dataclass(slots=True)
class PoolProvider(Resource):
    provider_id: str
    display_name: str
    description: str
    issuer: str  # the spec's issuer name
    issuer_uri: str
    audience: str | None  # None: GCP's default (the provider's own resource name)
    terms: list[Term]  # every subject (with its conditions) of the issuer and audience in this chunk, disabled too
    admits: list[Term]  # those its attribute_condition admits
    attribute_condition: str
    disabled: bool
    subject_suffix: str = ""  # what google.subject appends to assertion.sub: the claims every term checks
    # google.subject is subject_prefix + this claim (+ the suffix): the kind's pin, so that it names the
    # identity's subject (CircleCI: "project:" + the project ID claim)
    subject_claim: str = "sub"
    subject_prefix: str = ""
    aws_account: str | None = None  # a provider of type aws: the account whose roles' sessions it admits

    @property
    def allowed_audiences(self) -> list[str]:
        return [self.audience] if self.audience else []

    @property
    def attribute_mapping(self) -> dict[str, str]:
        if self.aws_account:
            return {"google.subject": federation.ROLE_MAPPING}
        if not self.subject_suffix and not self.subject_prefix:
            return dict(ATTRIBUTE_MAPPING)
        parts = [cel_string(self.subject_prefix)] if self.subject_prefix else []
        parts += [claim_access(self.subject_claim)] + ([cel_string(self.subject_suffix)] if self.subject_suffix else [])
        return {"google.subject": " + ".join(parts)}


@dataclass(slots=True)
class ServiceAccount(Resource):
    account_id: str
    email: str
    display_name: str
    description: str
    adopted: bool = False  # it exists already (the grant's adopt): Terraform imports it


@dataclass(slots=True)
class Binding(Resource):
    """One IAM member resource: a role for a member on the project or one resource."""

    arguments: dict  # what names the resource (project, bucket, service_account_id...)
    role: str
    member: str  # as written: a principal://, or a reference to the service account's email
    grantee: str  # the member as the cloud holds it
    depends_on: list[str] | None  # provider addresses, where the member is a pool principal
    account: str | None = None  # the email of the service account whose policy holds it
    window: Window = ALWAYS  # when it grants: its condition

    @property
    def condition(self) -> Condition | None:
        return window_condition(self.window)


@dataclass(slots=True)
class WorkloadPlan:
    workload: Workload
    grant: Grant
    settings: GrantSettings
    roles: list[str]  # as granted, each once
    resource: str  # the granted resource's full name, or the project's
    account: ServiceAccount | None  # in service_account mode
    federation: list[Binding]  # workloadIdentityUser on the account for each member (service_account mode)
    bindings: list[Binding]  # the roles granted


@dataclass
class GCPPlan(TargetPlan):
    settings: TargetSettings | None = None
    spec: Target | None = None  # the target as the spec has it
    alias: str = ""  # the target's Terraform provider configuration
    pool: Pool | None = None  # None when nothing is granted on the target
    providers: list[PoolProvider] = field(default_factory=list)
    workloads: list[WorkloadPlan] = field(default_factory=list)  # those with identities
    at: datetime | None = None  # the model's moment: when simulate presents a token
    projects: dict[str, str] = field(default_factory=dict)  # GKE's pools: project ID -> number


def plan(model: Model, target: Target, report: Report) -> GCPPlan:
    settings = TargetSettings.of(target.settings)
    result = GCPPlan(CLOUD, target.name, settings=settings, spec=target,
                     alias=provider_alias(TERRAFORM_PROVIDER[0], target.name), at=model.at)
    grants = model.grants_on(target)
    if not grants:
        return result
    values = chains.references(model)
    # each identity as GCP admits it: an AWS role's by the google.subject of its sessions
    own = {id(i): federation.admitted(i, values) for workload, _ in grants for i in workload.identities}
    identities = [i for i in own.values() if not gke.is_gke(i)]
    if identities:  # GKE's identities are of Google's pool
        result.pool = Pool(POOL, target.name, settings.pool_id)
    _check_subjects(target, settings, identities, report)
    from . import x509  # X.509 providers build on this module's PoolProvider

    result.providers = _providers(model, target, [i for i in identities if not x509.handles(i)
                                                  and not federation.by_aws(i)], report)
    result.providers += _aws_providers(target, [i for i in identities if federation.by_aws(i)],
                                       {p.provider_id for p in result.providers})
    result.providers += x509.providers(model, target, identities, {p.provider_id for p in result.providers})
    if not gke.check(model, grants, lambda g: GrantSettings.of(g.settings).mode == SERVICE_ACCOUNT, report):
        return result
    numbers = result.projects = gke.project_numbers(model)
    term_provider = {(p.issuer, p.audience, term): p.address for p in result.providers for term in p.terms}

    planning = _Planning(model, target, settings, report)
    for workload, grant in grants:
        mine = [own[id(i)] for i in workload.identities]
        if not mine:
            continue
        # A disabled identity leaves the bindings; a disabled issuer's provider is disabled instead
        # (GKE's has none: its identities leave them too).
        bound = [i for i in mine if not i.disabled and not (gke.is_gke(i) and i.issuer.disabled)]
        impersonating = GrantSettings.of(grant.settings).mode == SERVICE_ACCOUNT
        members = [_member(settings, numbers, i, impersonating) for i in bound]
        used_providers = sorted({term_provider[(*_group(i)[:2], _term(i))] for i in mine if not gke.is_gke(i)})
        windows = _member_windows(target, bound, members, report)  # one per subject
        planned = planning.workload(workload, grant, windows, used_providers)
        result.workloads.append(planned)
        result.principals[workload.name] = _principal(target, settings, planned, bound, members)
        output = {"workload_identity_provider": one_or_list([ref(f"{p}.name") for p in used_providers])
                  } if used_providers else {}  # GKE's pods need none
        if planned.account:
            output["service_account_email"] = ref(f"{planned.account.address}.email")
        result.outputs[workload.name] = output or {"principal": one_or_list(sorted(members))}  # GKE's, bound directly
    for (kind, resource), members in sorted(planning.policies.items()):
        if len(members) > PRINCIPALS_PER_POLICY:
            report.error(target.pos, describe(target.path),
                         f"the IAM policy of {resource} would hold {len(members)} principals; "
                         f"GCP allows {PRINCIPALS_PER_POLICY}",
                         "grant through fewer principals (service accounts instead of direct mode), "
                         "or narrower resources")
    _check_conditions(target, result.workloads, report)
    result.unenforced = planning.unenforced
    return result


def _policy_of(binding: Binding) -> str:
    """The allow policy that holds a binding, as people read it (one service account's, whichever
    way it is named)."""
    if binding.account:
        return f"service account {binding.account}"
    return f"{binding.terraform_type} " + " ".join(map(str, binding.arguments.values()))


def _check_conditions(target: Target, planned: list[WorkloadPlan], report: Report) -> None:
    """GCP's limits on conditional role bindings in one allow policy: (role, condition) pairs, and
    the conditions one role is bound to one principal under."""
    pairs: dict[str, set[tuple[str, str]]] = {}
    conditions: dict[tuple[str, str, str], set[str]] = {}  # "" for the binding without one
    for workload in planned:
        for binding in workload.federation + workload.bindings:
            policy = _policy_of(binding)
            expression = window_expression(binding.window)
            if expression:
                pairs.setdefault(policy, set()).add((binding.role, expression))
            conditions.setdefault((policy, binding.role, binding.grantee), set()).add(expression)
    for policy, found in sorted(pairs.items()):
        if len(found) > CONDITIONAL_BINDINGS_PER_POLICY:
            report.error(target.pos, describe(target.path),
                         f"the IAM policy of {policy} would hold {len(found)} conditional role bindings (one per role "
                         f"and window); GCP allows {CONDITIONAL_BINDINGS_PER_POLICY}",
                         "give the grants there fewer distinct windows (the same not_before and expires), or fewer roles")
    for (policy, role, member), found in sorted(conditions.items()):
        if len(found) > CONDITIONS_PER_ROLE_AND_MEMBER:
            report.error(target.pos, describe(target.path),
                         f"the IAM policy of {policy} would bind {role} to {member} under {len(found)} conditions; "
                         f"GCP allows {CONDITIONS_PER_ROLE_AND_MEMBER}",
                         "give the workloads sharing this subject fewer distinct windows, or distinct subjects")


def _member(settings: TargetSettings, numbers: dict[str, str], identity: Identity, impersonating: bool) -> str:
    """The principal a workload's roles (or its account's workloadIdentityUser) are bound to for this identity."""
    if gke.is_gke(identity):
        return gke.member(identity, numbers, impersonating)
    member = settings.principal(mapped_subject(identity))
    return federation.NamedMember(member, identity.subject) if isinstance(identity.subject, OtherWorkload) else member


def _member_windows(target: Target, bound: list[Identity], members: list[str], report: Report) -> dict[str, Window]:
    """Each member a workload binds (bound's, in order), once, with the window of its identities:
    identities that map to one principal are one to GCP, so they must share a window."""
    first: dict[str, Identity] = {}
    for identity, member in zip(bound, members):
        other = first.setdefault(member, identity)
        if other.window != identity.window:
            report.error(identity.pos, describe(("workload", identity.workload, "identity", identity.index)),
                         f"this identity's window ({described(identity.window)}) differs from identity "
                         f"#{other.index + 1}'s ({described(other.window)}), but both become principal "
                         f"{member} in gcp target {target.name!r}, which GCP cannot tell apart",
                         "give these identities the same window (on the workload, or the same not_before and "
                         "expires on each), or distinct subjects")
    return {member: identity.window for member, identity in first.items()}


def _principal(target: Target, settings: TargetSettings, planned: WorkloadPlan, bound: list[Identity],
               members: list[str]) -> Principal:
    """What the access graph shows: the issuers of the bound identities (those enabled), their
    members, and the claims the attribute condition requires with each subject (only where some are)."""
    workload = planned.workload
    members = sorted(members)
    issuers = sorted({i.issuer.url for i in bound if not i.issuer.disabled})
    trust = {"issuers": issuers, "members": members}
    if any(i.conditions for i in bound):
        trust["conditions"] = [{"subject": subject, "claims": dict(conditions)}
                               for subject, conditions in sorted({(i.subject, i.conditions) for i in bound})]
    if planned.account:
        email = planned.account.email
        return Principal(CLOUD, target.name, workload.name, SERVICE_ACCOUNT, email,
                         {**trust, "role": WORKLOAD_IDENTITY_USER},
                         {"email": email, "resource": f"{settings.project_name}/serviceAccounts/{email}"})
    return Principal(CLOUD, target.name, workload.name, DIRECT, f"{workload.name} (direct principals)",
                     trust, {"members": members})


@dataclass
class _Planning:
    """What the workloads of one target share while planned: the Terraform names taken and the
    members of each IAM policy (for its limit)."""

    model: Model
    target: Target
    settings: TargetSettings
    report: Report
    taken: dict[str, set[str]] = field(default_factory=dict)  # by resource type
    policies: dict[tuple[str, str], set[str]] = field(default_factory=dict)  # by (kind, resource)
    unenforced: dict[str, list[str]] = field(default_factory=dict)  # TargetPlan.unenforced

    def name(self, terraform_type: str, name: str, *parts: str) -> str:
        """A Terraform name not yet taken in its type (see free_name), now taken."""
        names = self.taken.setdefault(terraform_type, set())
        name = free_name(name, names, *parts)
        names.add(name)
        return name

    def workload(self, workload: Workload, grant: Grant, windows: dict[str, Window],
                 used_providers: list[str]) -> WorkloadPlan:
        """In service_account mode the account's workloadIdentityUser bindings hold each member's
        window (trust), and its roles the grant's within the workload's, checked on every request
        with the account's tokens. In direct mode each member's roles hold the whole path's window."""
        grant_settings = GrantSettings.of(grant.settings)
        base = terraform_name(self.target.name, workload.name)
        account, federation = None, []
        if grant_settings.mode == SERVICE_ACCOUNT:
            account = self.account(base, workload, grant_settings)
            federation = self.federation(base, account, windows, used_providers)
            grantees = [("sa", Expr("serviceAccount:${" + account.address + ".email}"),
                         f"serviceAccount:{account.email}", narrowest(workload.window, grant.window))]
        else:
            if grant_settings.adopt is not None:
                self.report.error(self.model.where(grant.path + ("adopt",)), describe(grant.path),
                                  'mode = "direct" makes no service account to adopt',
                                  'remove adopt, or remove mode = "direct" (service_account mode takes the account over)')
            grantees = [(f"p_{short_hash(m)}", m, m, narrowest(window, grant.window)) for m, window in windows.items()]
        roles = list(dict.fromkeys(grant_settings.roles))
        resource = grant_settings.resource or self.settings.project_name
        bindings = self.bindings(grant, grant_settings, base, roles, grantees, used_providers)
        self.check_token_lifetime(workload, federation, bindings)
        return WorkloadPlan(workload, grant, grant_settings, roles, resource, account, federation, bindings)

    def account(self, base: str, workload: Workload, grant_settings: GrantSettings) -> ServiceAccount:
        account_id = grant_settings.account_id(workload.name)
        return ServiceAccount(ACCOUNT, base, account_id, self.settings.service_account_email(account_id),
                              workload.name, workload.description or f"wiam workload {workload.name}",
                              grant_settings.adopt is not None)

    def federation(self, base: str, account: ServiceAccount, windows: dict[str, Window],
                   used_providers: list[str]) -> list[Binding]:
        """workloadIdentityUser on the account for each member, in its window."""
        arguments = {"service_account_id": ref(f"{account.address}.name")}
        self.policies.setdefault(("service_account", base), set()).update(windows)
        return [Binding(ACCOUNT_MEMBER,
                        self.name(ACCOUNT_MEMBER, terraform_name(base, f"wif_{short_hash(member)}"), member), arguments,
                        WORKLOAD_IDENTITY_USER, member, member, used_providers, account.email, window)
                for member, window in windows.items()]

    def bindings(self, grant: Grant, grant_settings: GrantSettings, base: str, roles: list[str],
                 grantees: list[tuple[str, str, str, Window]], depends_on: list[str]) -> list[Binding]:
        """Each role for each grantee (tag, member as written, member as held, window), on the project or the resource."""
        if grant_settings.resource is None:
            binding = (PROJECT_MEMBER, {"project": self.settings.project_id})
            policy_key = ("project", self.settings.project_name)
        else:
            binding = resource_binding(grant_settings.resource)
            policy_key = ("resource", grant_settings.resource)
            if binding is None:
                self.report.error(self.model.where(grant.path + ("resource",)), describe(grant.path),
                                  f"unsupported or malformed resource {grant_settings.resource!r}",
                                  f"name a resource of a supported kind: {SUPPORTED_KINDS}; "
                                  "leave resource out for the project")
                return []
        terraform_type, arguments = binding
        refusal = _condition_refusal(terraform_type, roles) if any(w for *_, w in grantees) else None
        if refusal:
            if grant.window or grant_settings.mode == DIRECT:
                self.refuse_window(grant, grant_settings, refusal)
                return []
            # The workload's window alone: its trust bindings hold it (check_token_lifetime says the rest).
            grantees = [(*grantee[:3], ALWAYS) for grantee in grantees]
        elif terraform_type == "google_storage_bucket_iam_member" and grantees and grantees[0][3]:
            self.report.notes.append(f"workload {grant.workload!r} on gcp target {self.target.name!r}: the window on "
                                     f"{grant_settings.resource} needs uniform bucket-level access on the bucket; "
                                     "GCP refuses the conditional binding otherwise")
        account = service_account_of(grant_settings.resource) if terraform_type == ACCOUNT_MEMBER else None
        members = self.policies.setdefault(policy_key, set())
        found = []
        for role in roles:
            for tag, member, grantee, window in grantees:
                name = terraform_name(base, f"{slug(role)}_{short_hash(role, length=6)}_{tag}")
                found.append(Binding(terraform_type, self.name(terraform_type, name, role, str(member)), arguments,
                                     role, member, grantee, None if tag == "sa" else depends_on, account, window))
                members.add(str(member))
        return found

    def refuse_window(self, grant: Grant, grant_settings: GrantSettings, refusal: str) -> None:
        """The error of a window that these bindings cannot hold and nothing else enforces."""
        if grant.window:
            where = self.model.where(grant.path + ("expires" if grant.window.expires else "not_before",))
            source, dropped = "this grant's window", "or drop not_before and expires from the grant"
        else:
            where = grant.pos
            source = "the window of its workload or identities (direct mode binds them here)"
            dropped = "or use service_account mode, whose workloadIdentityUser bindings hold that window"
        self.report.error(where, describe(grant.path),
                          f"{source} cannot be enforced on {grant_settings.resource or 'the project'}: {refusal}",
                          "grant predefined roles on the project or on a resource whose bindings take a condition "
                          f"(a bucket, a secret, a dataset, a service account), {dropped}")

    def check_token_lifetime(self, workload: Workload, federation: list[Binding], bindings: list[Binding]) -> None:
        """An account's tokens are minted inside the trust window but live on (1 hour by default):
        a trust window that closes before the roles' own leaves that much unenforced."""
        roles_window = bindings[0].window if bindings else ALWAYS
        early = sorted({b.window.expires for b in federation if b.window.expires is not None
                        and (roles_window.expires is None or b.window.expires < roles_window.expires)})
        if not early:
            return
        self.report.notes.append(f"workload {workload.name!r} on gcp target {self.target.name!r}: its tokens are refused "
                                 f"from {text(early[0])}, but a service account token minted before then stays valid "
                                 f"for its lifetime (1 hour by default); its roles hold {described(roles_window)}")
        self.unenforced.setdefault(workload.name, []).append(TOKEN_LIFETIME)


def _condition_refusal(terraform_type: str, roles: list[str]) -> str | None:
    """Why bindings of these roles by this IAM member resource cannot carry a condition, or None."""
    if terraform_type not in CONDITIONAL_TYPES:
        return f"its IAM bindings ({terraform_type}) take no condition"
    basic = sorted(UNCONDITIONAL_ROLES.intersection(roles))
    return f"GCP refuses conditions on basic roles ({', '.join(basic)})" if basic else None


def _check_subjects(target: Target, settings: TargetSettings, identities: list[Identity], report: Report) -> None:
    subjects: dict[str, list[Identity]] = {}
    for identity in identities:
        size = len(mapped_subject(identity).encode("utf-8"))
        if size > SUBJECT_MAX_BYTES:
            suffix = claims_suffix(identity.other_conditions)
            claims = f" with {len(suffix)} for its claims" if suffix else ""
            report.error(identity.pos, describe(("workload", identity.workload, "identity", identity.index)),
                         f"the subject is {size} bytes{claims}; GCP's google.subject holds at most {SUBJECT_MAX_BYTES}",
                         "shorten the names that make up the subject (branch, environment, namespace...)")
        length = len(term_expression(_term(identity)))
        if length > ATTRIBUTE_CONDITION_MAX:
            report.error(identity.pos, describe(("workload", identity.workload, "identity", identity.index)),
                         f"the attribute condition admitting this subject and its claims is {length} characters; "
                         f"GCP allows {ATTRIBUTE_CONDITION_MAX}",
                         "pin fewer or shorter claims, or carry them in the subject (subject_claims on the issuer)")
        subjects.setdefault(mapped_subject(identity), []).append(identity)
    for subject, sharing in subjects.items():
        if len(sharing) > 1:  # most subjects are one identity's
            _check_shared_subject(target, settings, subject, sharing, report)


def _trust_key(identity: Identity) -> tuple[str, str, Conditions]:
    """What tells two tokens of one subject apart in GCP: the provider (issuer, audience) admitting
    them, and the claims its condition requires with the subject."""
    return identity.issuer.name, identity.audience_for(None) or "", identity.conditions


def _trust_label(key: tuple[str, str, Conditions]) -> str:
    issuer, audience, conditions = key
    claims = ", ".join(f"{name} = {value!r}" for name, value in conditions)
    return (f"issuer {issuer!r} with " + (f"audience {audience!r}" if audience else "the provider's default audience")
            + (f" and claims {claims}" if conditions else ""))


def _check_shared_subject(target: Target, settings: TargetSettings, subject: str, identities: list[Identity],
                          report: Report) -> None:
    """Principals are pool-scoped (principal://.../subject/SUB, whichever provider admitted the
    token), so every workload bound to a subject accepts every issuer and audience any of them trusts
    it from. Refuse unless the workloads sharing a subject trust exactly the same ones, with the same
    claims (claims get a google.subject of their own: differing ones meet here only when a sub is
    spelled like a claimed subject). Workloads are
    grouped by what they trust, so a subject shared by many costs one error per group."""
    keys: dict[str, dict[tuple[str, str, Conditions], Identity]] = {}
    for identity in identities:
        keys.setdefault(identity.workload, {}).setdefault(_trust_key(identity), identity)
    groups: dict[frozenset, str] = {}
    for workload in sorted(keys):
        groups.setdefault(frozenset(keys[workload]), workload)
    if len(groups) < 2:
        return
    (first_keys, first), *others = groups.items()
    for other_keys, other in others:
        into_first, into_other = other_keys - first_keys, first_keys - other_keys
        mine = keys[other][min(into_first or other_keys)]
        theirs = keys[first][min(into_other or first_keys)]
        leak = ("a token for either workload can act as the other" if into_first and into_other else
                f"a token for workload {(other if into_first else first)!r} can act as "
                f"workload {(first if into_first else other)!r}")
        report.error(mine.pos, describe(("workload", mine.workload, "identity", mine.index)),
                     f"subject {subject!r} is trusted here from {_trust_label(_trust_key(mine))}, and by workload "
                     f"{first!r} (at {theirs.pos}) from {_trust_label(_trust_key(theirs))}; GCP principals are per "
                     f"pool (principal://.../workloadIdentityPools/{settings.pool_id}"
                     f"/subject/{subject}, whichever provider admitted the token), so {leak} in gcp target "
                     f"{target.name!r}",
                     "give these workloads distinct subjects, or the same issuer and audience (and claims), "
                     "or separate pools "
                     "(grant one of them on another GCP target with its own pool_id)")


def _group(identity: Identity) -> tuple[str, str | None, Conditions]:
    """The providers that admit an identity: its issuer, audience and the claims checked with its subject."""
    return identity.issuer.name, identity.audience_for(None), identity.other_conditions


def _term(identity: Identity) -> Term:
    return (None if identity.pinned_by else identity.subject), identity.conditions


def _providers(model: Model, target: Target, identities: list[Identity], report: Report) -> list[PoolProvider]:
    """One provider per issuer, audience and claim set, split further where a condition would pass 4,096."""
    groups: dict[tuple[str, str | None, Conditions], set[Term]] = {}
    admitted: set[tuple] = set()  # (issuer, audience, term) of identities not disabled themselves
    for identity in identities:
        groups.setdefault(_group(identity), set()).add(_term(identity))
        if not identity.disabled:
            admitted.add((*_group(identity), _term(identity)))
    audiences_per_issuer: dict[str, int] = {}
    for issuer_name, audience in {group[:2] for group in groups}:
        audiences_per_issuer[issuer_name] = audiences_per_issuer.get(issuer_name, 0) + 1
    providers: list[PoolProvider] = []
    used_ids: set[str] = set()
    for (issuer_name, audience, conditions), terms in sorted(groups.items(),
                                                            key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2])):
        issuer = model.issuers[issuer_name]
        suffix = claims_suffix(conditions)
        claim, prefix = KINDS[issuer.kind].pinned_by or ("sub", "")
        tag = "-".join(filter(None, [short_hash(audience or "", length=4) if audiences_per_issuer[issuer_name] > 1
                                     else "", claims_hash(conditions)[:6]]))
        chunks = _chunks(sorted(terms))  # over every term, so that disabling one moves nothing
        for index, chunk in enumerate(chunks):
            pid = provider_id(issuer_name, tag, index)
            salt = ""
            while pid in used_ids:  # e.g. issuer "ci" chunk 2 and issuer "ci-2"; a fallback may be taken too
                fallback = short_hash(issuer_name, audience or "", str(index) + suffix + salt)
                pid = provider_id(f"{issuer_name}-{fallback}", "", 0)
                salt += "+"
            used_ids.add(pid)
            admits = [t for t in chunk if (issuer_name, audience, conditions, t) in admitted]
            providers.append(PoolProvider(
                PROVIDER, terraform_name(target.name, pid), pid, fit_name(pid, DISPLAY_NAME_MAX),
                f"wiam: issuer {issuer_name}", issuer_name, issuer.url, audience, chunk, admits,
                subject_condition(admits), bool(issuer.disabled) or not admits, suffix, claim, prefix))
        if len(chunks) > 1:
            report.notes.append(f"gcp target {target.name!r}: issuer {issuer_name!r} admits {len(terms)} subjects, "
                                f"split over {len(chunks)} providers to keep each attribute_condition within "
                                f"{ATTRIBUTE_CONDITION_MAX} characters")
    return providers


def _chunks(terms: list[Term]) -> list[list[Term]]:
    """Greedy packing: each chunk's condition stays within the limit (a term counted with its parentheses)."""
    chunks: list[list[Term]] = [[]]
    size = 0
    for term in terms:
        length = len(_joined_expression(term)) + federation.applied_growth(term[0])
        if chunks[-1] and size + len(_SUBJECT_OR) + length > ATTRIBUTE_CONDITION_MAX:
            chunks.append([])
        size = length if not chunks[-1] else size + len(_SUBJECT_OR) + length
        chunks[-1].append(term)
    return chunks


def _aws_providers(target: Target, identities: list[Identity], used: set[str]) -> list[PoolProvider]:
    """A provider of type aws per issuer, audience and AWS account, admitting exactly its roles'
    google.subjects (those not disabled); GCP's STS admits only callers of that account."""
    groups: dict[tuple[str, str | None, str], list[Identity]] = {}
    for identity in identities:
        groups.setdefault((*_group(identity)[:2], federation.subject_account(identity.subject)), []).append(identity)
    providers = []
    for (issuer, audience, account), found in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1] or "", g[0][2])):
        admitted = {_term(i) for i in found if not i.disabled}
        for index, terms in enumerate(_role_chunks(sorted({_term(i) for i in found}))):
            pid = provider_id(f"{issuer}-{account}", "", index)
            if pid in used:  # an OIDC issuer named alike
                pid = provider_id(f"{issuer}-{short_hash(issuer, audience or '', account)}", "", index)
            used.add(pid)
            admits = [t for t in terms if t in admitted]
            condition = _SUBJECT_OR.join(_session_condition(subject) for subject, _ in admits) or _NO_SUBJECT
            providers.append(PoolProvider(
                PROVIDER, terraform_name(target.name, pid), pid, fit_name(pid, DISPLAY_NAME_MAX),
                f"wiam: issuer {issuer}, AWS account {account}", issuer, found[0].issuer.url, audience, terms, admits,
                condition, bool(found[0].issuer.disabled) or not admits, aws_account=account))
    return providers


def _role_chunks(terms: list[Term]) -> list[list[Term]]:
    """Roles packed so that each provider's attribute_condition stays within its limit."""
    chunks: list[list[Term]] = [[]]
    size = 0
    for term in terms:
        length = len(_session_condition(term[0])) + len(_SUBJECT_OR)
        if chunks[-1] and size + length > ATTRIBUTE_CONDITION_MAX + len(_SUBJECT_OR):
            chunks.append([])
            size = 0
        chunks[-1].append(term)
        size += length
    return chunks


def _session_condition(subject: str) -> str:
    """CEL admitting exactly the sessions of a role (federation.role_subject): their ARN is it, '/', the
    session name; a role name holds no '/', so no other role's sessions start alike."""
    return f"assertion.arn.startsWith({cel_string(subject + '/')})"
