"""AWS planning: the IAM OIDC providers and roles (web-identity trust policies, inline and managed
policies) a target will hold, with IAM's documented limits checked."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from wiam import chains
from wiam.diagnostics import Report
from wiam.document import describe
from wiam.issuers import KINDS, OtherWorkload
from wiam.model import ALWAYS, Grant, Identity, Model, Target, Window, Workload, host_path, normalised_url
from wiam.names import free_name, short_hash, slug, terraform_name
from wiam.plan import Principal, TargetPlan
from wiam.terraform import one_or_list, policy_json, provider_alias, ref
from wiam import windows

from . import federation, pod_identity, roles_anywhere
from .settings import CLOUD, DEFAULT_AUDIENCE, TERRAFORM_PROVIDER, GrantSettings, TargetSettings, grant_role_name

# Documented IAM quotas (IAM and AWS STS quotas page).
INLINE_POLICY_MAX = 10240  # aggregate inline policy size per role, whitespace not counted
SESSION_MIN, SESSION_MAX = 3600, 43200
ROLES_PER_ACCOUNT_MAX = 5000
OIDC_PROVIDERS_PER_ACCOUNT = 100
CLIENT_IDS_PER_PROVIDER = 100
ROLE_DESCRIPTION_MAX = 1000
_ROLE_DESCRIPTION_CHARS = re.compile(r"[\t\n\r\x20-\x7e\xa1-\xff]*")
INLINE_POLICY_NAME = "wiam-grant"
OIDC_PROVIDER_KIND, ROLE_KIND = "aws_iam_openid_connect_provider", "aws_iam_role"

CONDITION_OPERATORS = {
    "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase",
    "StringLike", "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan",
    "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals",
    "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals",
    "Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals",
    "ArnNotLike", "Null",
}

# A window is enforced on aws:CurrentTime, the time of each request (STS's included), which IAM's Date
# operators compare with ISO 8601 values (2026-12-02T02:00:00Z) or epoch seconds; DateLessThan is strict
# and DateGreaterThanEquals is not: exactly windows.holds, not_before <= time < expires. (IAM User Guide,
# reference_policies_elements_condition_operators.html#Conditions_DateEquals, and
# reference_policies_condition-keys.html#condition-keys-currenttime.)
CURRENT_TIME = "aws:CurrentTime"
FROM, UNTIL = "DateGreaterThanEquals", "DateLessThan"


# The claims beyond aud and sub that STS checks in a web-identity trust policy, as condition keys
# `<provider host/path>:<claim>`, by the issuer URL's host/path (AWS Service Authorization Reference,
# sts:AssumeRoleWithWebIdentity; IAM User Guide, reference_policies_iam-condition-keys.html#condition-keys-wif).
# Any other issuer (GitHub Enterprise Server, self-hosted GitLab, ...) has only aud and sub.
_GITHUB_STS_CLAIMS = frozenset({
    "actor", "actor_id", "enterprise_id", "environment", "job_workflow_ref", "ref", "repository", "repository_id",
    "repository_owner_id", "workflow",
})
STS_CLAIMS: tuple[tuple[re.Pattern, frozenset[str]], ...] = (
    (re.compile(r"token\.actions\.githubusercontent\.com(/[^/]+)?"), _GITHUB_STS_CLAIMS),  # /<enterprise slug>
    (re.compile(r"token\.actions\.[a-z0-9-]+\.ghe\.com"), _GITHUB_STS_CLAIMS),  # GHE.com data residency
    (re.compile(r"gitlab\.com"), frozenset({
        "namespace_id", "pipeline_source", "project_id", "ref_protected", "runner_environment", "user_access_level",
        "user_email", "user_id", "user_login"})),
    (re.compile(r"oidc\.circleci\.com/org/[0-9a-f-]+"), frozenset({"oidc.circleci.com/project-id"})),
)


def sts_claims(url: str) -> frozenset[str]:
    """The claims (beyond aud and sub) STS checks on tokens of the issuer at `url`."""
    where = host_path(normalised_url(url))
    return next((claims for pattern, claims in STS_CLAIMS if pattern.fullmatch(where)), frozenset())


def valid_condition_operator(operator: str) -> bool:
    base = re.sub(r"^(ForAllValues|ForAnyValue):", "", operator)
    if base.endswith("IfExists") and base != "NullIfExists":
        base = base[: -len("IfExists")]
    return base in CONDITION_OPERATORS


def parse_duration(value) -> int | None:
    if isinstance(value, int):
        return value
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", value)
    if not match or not any(match.groups()):
        return None
    hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


@dataclass(frozen=True)
class OidcProvider:
    """The one IAM OIDC provider of an issuer URL in an account, shared by the issuers naming that URL."""

    url: str  # as the first issuer (by name) writes it
    arn: str
    issuers: tuple[str, ...]  # sorted; the first names the Terraform resource
    existing: bool  # given by existing_oidc_providers, not created here

    @property
    def host_path(self) -> str:
        """How IAM names the provider (its ARN) and its condition keys."""
        return self.arn.split("oidc-provider/", 1)[1]


@dataclass(frozen=True)
class CreatedProvider:
    """An OIDC provider this target creates (aws_iam_openid_connect_provider)."""

    resource: str  # Terraform resource name
    provider: OidcProvider
    client_ids: list[str]  # sorted
    tags: dict[str, str]

    @property
    def address(self) -> str:
        return f"{OIDC_PROVIDER_KIND}.{self.resource}"


@dataclass(frozen=True)
class Attachment:
    """A managed policy attached to a role (aws_iam_role_policy_attachment)."""

    resource: str  # Terraform resource name
    arn: str


@dataclass
class Role:
    """A workload's IAM role (aws_iam_role), with its inline policy and attachments."""

    workload: Workload
    grant: Grant
    settings: GrantSettings
    resource: str  # Terraform resource name, also of its inline policy
    name: str  # the IAM role name
    arn: str
    trust: dict  # the trust policy document
    assume_role_policy: str  # the trust policy exactly as written
    tags: dict[str, str]
    depends_on: list[str]  # addresses of the OIDC providers it trusts that this target creates
    description: str | None
    max_session_duration: int | None
    permissions_boundary: str | None
    inline_policy: str | None  # the policy JSON of its inline policy, named policy_name
    attachments: list[Attachment]
    # When its permissions hold (permission_window): the trust policy's windows bound only when a
    # session begins, this every request of it.
    window: Window = ALWAYS
    associations: list[pod_identity.Association] = field(default_factory=list)  # its eks_pod_identity identities'
    chains: list[pod_identity.ChainRole] = field(default_factory=list)  # those whose cluster is another target's

    @property
    def adopted(self) -> bool:
        """The role exists already (the grant's adopt): Terraform imports it by its name."""
        return self.settings.adopt is not None

    @property
    def policy_name(self) -> str:
        """Its inline policy's name: the adopted role's existing policy it takes over (adopt_policy), whose
        permissions it replaces, else wiam's own."""
        return self.settings.adopt_policy or INLINE_POLICY_NAME

    @property
    def address(self) -> str:
        return f"{ROLE_KIND}.{self.resource}"


@dataclass(kw_only=True)
class AWSPlan(TargetPlan):
    block: Target  # the target as the spec gives it
    settings: TargetSettings
    alias: str  # the Terraform provider configuration its resources name
    oidc_providers: list[CreatedProvider] = field(default_factory=list)
    roles: list[Role] = field(default_factory=list)  # in workload-name order
    trust_anchors: list[roles_anywhere.TrustAnchor] = field(default_factory=list)  # spiffe_x509 issuers' CAs
    chain_roles: list[pod_identity.ChainRole] = field(default_factory=list)  # other targets' pods in its clusters
    at: datetime | None = None  # the model's moment: when simulate presents a token


def oidc_providers(model: Model, target: Target, settings: TargetSettings, issuer_names,
                   report: Report) -> dict[str, OidcProvider]:
    """Each issuer's provider in the target's account. IAM takes one provider per URL, so issuers whose
    URLs normalise alike share one; what makes sharing impossible is an error."""
    existing = settings.existing_oidc_providers
    groups: dict[str, list[str]] = {}
    for name in sorted(set(issuer_names)):
        groups.setdefault(normalised_url(model.issuers[name].url), []).append(name)
    providers: dict[str, OidcProvider] = {}
    for url, names in sorted(groups.items()):
        entries = {n: existing[n] for n in names if n in existing}  # issuer -> ARN, in name order
        first = model.issuers[names[0]]
        arn = next(iter(entries.values()), None)
        provider = OidcProvider(first.url, arn or settings.oidc_provider_arn(first.host_path), tuple(names),
                                arn is not None)
        providers.update(dict.fromkeys(names, provider))
        _check_sharing(model, target, settings, provider, url, entries, report)
    return providers


def _check_sharing(model: Model, target: Target, settings: TargetSettings, provider: OidcProvider, url: str,
                   entries: dict[str, str], report: Report) -> None:
    account = settings.account_id
    issuers = [model.issuers[n] for n in provider.issuers]
    shared = f"issuers {', '.join(repr(i.name) for i in issuers)} all name {url}"
    for name, arn in entries.items():
        where = model.where(target.path + ("existing_oidc_providers", name))
        if arn.split(":")[4] != account:
            report.error(where, describe(target.path), f"{arn!r} is not in account {account}",
                         "use the ARN of the OIDC provider in this target's account")
        if normalised_url("https://" + arn.split("oidc-provider/", 1)[1]) != url:
            report.error(where, describe(target.path), f"{arn!r} is not the provider of issuer {name!r} ({url})",
                         f"use the ARN ending in oidc-provider/{host_path(url)}")
        if arn != provider.arn:
            report.error(where, describe(target.path),
                         f"{shared}, which has one OIDC provider per account, but existing_oidc_providers maps "
                         f"{name!r} to {arn!r} and {provider.issuers[0]!r}'s provider is {provider.arn!r}",
                         "map every issuer of this URL to the one provider ARN")
    disabled = [i for i in issuers if i.disabled]
    if disabled and len(disabled) < len(issuers):
        enabled = next(i for i in issuers if not i.disabled)
        report.error(enabled.pos, describe(("issuer", enabled.name)),
                     f"{shared} (one AWS OIDC provider, the same tokens), but only "
                     f"{', '.join(repr(i.name) for i in disabled)} is disabled: {enabled.name!r} would still admit "
                     f"the tokens the kill switch means to refuse", "disable every issuer of this URL, or none")


def iam_literal(text: str) -> str:
    """`text` as a literal in an IAM condition value, where `${` starts a policy variable and the
    variable `${$}` is a literal `$`. A named workload's subject stays itself: chains.py fills it in."""
    return text if isinstance(text, OtherWorkload) else text.replace("${", "${$}{")


def window_conditions(window: Window) -> dict[str, dict[str, str]]:
    """The Date conditions that hold exactly inside `window` (none when it is unbounded)."""
    return {operator: {CURRENT_TIME: windows.text(moment)}
            for operator, moment in ((FROM, window.not_before), (UNTIL, window.expires)) if moment is not None}


def _window_order(window: Window) -> tuple[str, str]:
    return tuple(windows.text(m) if m else "" for m in (window.not_before, window.expires))


def trust_policy(providers: dict[str, OidcProvider], identities: list[Identity]) -> dict:
    """One Allow statement per OIDC provider, audience, set of pinned claims and window, pinning aud,
    the exact sub values of the active identities, each claim and the window; disabled subjects (and
    disabled issuers, whole) get an explicit Deny, which wins whatever the claims."""
    groups: dict[tuple[str, str, tuple, bool, Window], list[str]] = {}
    denied: dict[tuple[str, str], set[str]] = {}  # by provider and the claim pinning the identities
    by_arn: dict[str, tuple[OidcProvider, bool]] = {}
    for identity in identities:
        provider = providers[identity.issuer.name]
        by_arn[provider.arn] = provider, bool(identity.issuer.disabled)  # alike for issuers of one URL
        if identity.active:  # an identity pinned by a claim has it among its conditions, and no sub
            key = (provider.arn, identity.audience_for(DEFAULT_AUDIENCE), identity.conditions, not identity.pinned_by,
                   identity.window)
            groups.setdefault(key, []).append(identity.subject)
        else:
            claim, value = identity.pin
            denied.setdefault((provider.arn, claim), set()).add(value)
    statements = []
    for (arn, audience, conditions, by_sub, window), subjects in sorted(groups.items(),
                                                                         key=lambda g: (g[0][:4], _window_order(g[0][4]))):
        keys = by_arn[arn][0].host_path
        equals = {f"{keys}:aud": iam_literal(audience)}
        if by_sub:
            equals[f"{keys}:sub"] = one_or_list([iam_literal(s) for s in sorted(set(subjects))])
        equals.update((f"{keys}:{claim}", iam_literal(value)) for claim, value in conditions)
        statements.append({
            "Effect": "Allow",
            "Principal": {"Federated": arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringEquals": equals, **window_conditions(window)},
        })
    # Sids must be unique within a policy.
    for number, ((arn, claim), values) in enumerate(sorted(denied.items()), 1):
        provider, issuer_disabled = by_arn[arn]
        statement = {"Sid": f"WiamDisabled{number}", "Effect": "Deny", "Principal": {"Federated": arn},
                     "Action": "sts:AssumeRoleWithWebIdentity"}
        if not issuer_disabled:  # a disabled issuer is refused whole
            statement["Condition"] = {"StringEquals": {
                f"{provider.host_path}:{claim}": one_or_list([iam_literal(s) for s in sorted(values)])}}
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def _check_conditions(model: Model, target: Target, workload: Workload, report: Report) -> None:
    """Every claim an identity pins must be one STS checks for its issuer: never dropped in silence."""
    for identity in workload.identities:
        issuer = identity.issuer
        checkable = sts_claims(issuer.url)
        for claim, _ in identity.conditions:
            if claim in checkable:
                continue
            path = ("workload", workload.name, "identity", identity.index)
            carry = (f"carry it in the subject: add it to subject_claims on issuer {issuer.name!r}, or "
                     if KINDS[issuer.kind].templated else "")
            pinnable = sorted(checkable - set(KINDS[issuer.kind].required) - {identity.pinned_by})  # pinned already
            only = (f"pin only claims AWS checks: {', '.join(pinnable)}" if pinnable
                    else f"remove it from claims (AWS checks only {', '.join(['sub', *sorted(checkable)])} and aud "
                         "of this issuer's tokens)")
            if claim == identity.pinned_by:  # the claim the identity rests on: no way out but another URL or cloud
                carry, only = "", (f"remove url from issuer {issuer.name!r} (its default is "
                                   f"{KINDS[issuer.kind].default_url}, where STS checks it), or grant this workload in gcp")
            report.error(model.where(path + ("claims", claim), key=True), describe(path),
                         f"{CLOUD} target \"{target.name}\" cannot check claim {claim!r} of issuer {issuer.name!r} "
                         f"({issuer.url}): STS compares only the claims it knows for that issuer", carry + only)


def iam_date(value) -> datetime | None:
    """A Date condition value as IAM reads it, ISO 8601 (UTC unless it says otherwise) or epoch
    seconds; None if it is neither."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)) or re.fullmatch(r"-?\d+(\.\d+)?", value):
            return datetime.fromtimestamp(float(value), timezone.utc)
        moment = datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# Of several values of one key any may hold (IAM ORs them), so their loosest is the bound they set;
# of the user's bound and the window's both must hold, so the narrowest is the one kept.
_LOOSEST = {FROM: min, UNTIL: max}
_NARROWEST = {FROM: max, UNTIL: min}


def one_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _time_keys(block: dict) -> list[str]:
    return [key for key in block if key.lower() == CURRENT_TIME.lower()]  # IAM condition keys ignore case


def undated_conditions(conditions: dict | None, window: Window) -> list[tuple[str, str]]:
    """The (operator, key) pairs on aws:CurrentTime that the window must merge with but that hold a
    value IAM does not read as a date."""
    blocks = conditions or {}
    return [(operator, key) for operator in window_conditions(window) for key in _time_keys(blocks.get(operator, {}))
            if any(iam_date(v) is None for v in one_list(blocks[operator][key]))]


def windowed(conditions: dict | None, window: Window) -> dict | None:
    """`conditions` and the window's on aws:CurrentTime, both holding: where the user bounds it with the
    same operator, one key keeps the narrower bound (two keys differing in case would be ambiguous)."""
    merged = {operator: dict(block) for operator, block in (conditions or {}).items()}
    for operator, ours in window_conditions(window).items():
        block = merged.setdefault(operator, {})
        bounds = [ours[CURRENT_TIME]]  # first: the window's value wins a tie
        for key in _time_keys(block):
            values = [v for v in one_list(block.pop(key)) if iam_date(v) is not None]  # others are errors
            bounds += [_LOOSEST[operator](values, key=iam_date)] if values else []
        block[CURRENT_TIME] = _NARROWEST[operator](bounds, key=iam_date)
    return merged or None


def window_denials(window: Window) -> list[dict]:
    """Denies of every action outside `window`. Managed policies cannot carry a condition, but an
    explicit Deny in the role's own policy wins over any Allow, theirs too, on every request."""
    outside = (("WiamBeforeWindow", UNTIL, window.not_before), ("WiamAfterWindow", FROM, window.expires))
    return [{"Sid": sid, "Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {operator: {CURRENT_TIME: windows.text(moment)}}}
            for sid, operator, moment in outside if moment is not None]


def inline_policy(settings: GrantSettings, window: Window = ALWAYS) -> dict | None:
    """The role's own policy: the grant's actions on its resources, and only inside `window`."""
    actions = list(dict.fromkeys(settings.actions))
    statements = []
    if actions and settings.resources is not None:
        statement = {
            "Sid": "WiamGrant",
            "Effect": "Allow",
            "Action": one_or_list(actions),
            "Resource": one_or_list(list(dict.fromkeys(settings.resources))),
        }
        conditions = windowed(settings.conditions, window)
        if conditions:
            statement["Condition"] = conditions
        statements.append(statement)
    if settings.managed_policies:
        statements += window_denials(window)
    return {"Version": "2012-10-17", "Statement": statements} if statements else None


def _check_grant(model: Model, target: TargetSettings, workload: Workload, settings: GrantSettings, path: tuple,
                 report: Report) -> None:
    block = describe(path)
    if settings.actions and settings.resources is None:
        report.error(model.where(path + ("actions",), key=True), block, "actions need resources",
                     'add resources = ["arn:..."] (the ARNs the actions apply to)')
    for operator in sorted(settings.conditions or {}):
        if not valid_condition_operator(operator):
            report.error(model.where(path + ("conditions", operator), key=True), block,
                         f"unknown IAM condition operator {operator!r}",
                         "use an IAM operator such as StringEquals, StringLike, ArnLike, Bool, IpAddress "
                         "(optionally with IfExists, ForAllValues: or ForAnyValue:)")
    partition = target.partition
    arns = [("managed_policies", i, arn) for i, arn in enumerate(settings.managed_policies or ())]
    if settings.permissions_boundary is not None:
        arns.append(("permissions_boundary", None, settings.permissions_boundary))
    arns += [("resources", i, arn) for i, arn in enumerate(settings.resources or ()) if arn != "*"]
    for field_name, index, arn in arns:
        if arn.split(":")[1] != partition:
            where = path + ((field_name, index) if index is not None else (field_name,))
            report.error(model.where(where), block, f"{arn!r} is not in the target's partition {partition!r}",
                         f"use arn:{partition}:... or set partition on the target")
    quota = target.managed_policies_quota
    count = len(set(settings.managed_policies or ()))
    if count > quota:
        report.error(model.where(path + ("managed_policies",), key=True), block,
                     f"{count} managed policies; a role takes at most {quota} (IAM quota)",
                     "merge policies, move actions to the inline policy, or raise the quota (at most 20) "
                     "and declare it with managed_policies_quota on the target")
    if settings.max_session_duration is not None:
        seconds = parse_duration(settings.max_session_duration)
        if seconds is None or not SESSION_MIN <= seconds <= SESSION_MAX:
            report.error(model.where(path + ("max_session_duration",)), block,
                         f"max_session_duration {settings.max_session_duration!r} is outside 1 to 12 hours",
                         "use 3600 to 43200 seconds, e.g. \"1h\" or \"12h\"")
    description = workload.description
    if description and (len(description) > ROLE_DESCRIPTION_MAX or not _ROLE_DESCRIPTION_CHARS.fullmatch(description)):
        report.error(model.where(("workload", workload.name, "description")), describe(("workload", workload.name)),
                     "this description cannot be an IAM role description (Latin-1 printable text only)",
                     "remove characters outside Latin-1 from the description")


def _check_adoption(model: Model, grant: Grant, settings: GrantSettings, window: Window, report: Report) -> None:
    """adopt_policy names an inline policy of the adopted role for the grant's to take over: only with
    adopt, and only where the grant compiles to an inline policy (actions, or a window's Denies)."""
    name = settings.adopt_policy
    if name is None:
        return
    where, block = model.where(grant.path + ("adopt_policy",), key=True), describe(grant.path)
    if settings.adopt is None:
        report.error(where, block, "adopt_policy names an existing inline policy of an adopted role, and the grant "
                                   "adopts none", 'add adopt = "NAME" (the existing role the policy belongs to), '
                                                  "or remove adopt_policy")
    elif inline_policy(settings, window) is None and not settings.actions:  # actions without resources: _check_grant's
        report.error(where, block, f"adopt_policy {name!r} names an inline policy for the grant's to take over, and "
                                   f"the grant compiles to none: it holds managed_policies only",
                     f"add actions (with resources) for the policy to hold, or remove adopt_policy and delete the "
                     f"policy by hand (aws iam delete-role-policy --role-name {settings.adopt} --policy-name {name}): "
                     f"IAM keeps it, and its permissions, beside the grant's")


def permission_window(workload: Workload, grant: Grant) -> Window:
    """The grant's window within the span of its workload's identities' windows (each within the
    workload's): exactly the union of its paths' windows when the identities share one, so a session
    outlives none of them then; wider, never narrower, when they differ. Identities refused since
    count too: a session they began earlier stays bounded."""
    spans = [i.window for i in workload.identities] or [workload.window]
    starts, ends = [w.not_before for w in spans], [w.expires for w in spans]
    span = Window(None if None in starts else min(starts), None if None in ends else max(ends))
    return windows.narrowest(span, grant.window)


def _check_window_conditions(model: Model, conditions: dict | None, window: Window, path: tuple,
                             report: Report) -> None:
    for operator, key in undated_conditions(conditions, window):
        report.error(model.where(path + ("conditions", operator, key)), describe(path),
                     f"the grant's window merges with {operator} on {key}, whose value IAM cannot read as a date",
                     "write the time as 2026-12-02T02:00:00Z, or leave the bound to the grant's "
                     "not_before and expires")


def _created(model: Model, target: Target, providers: dict[str, OidcProvider], audiences: dict[str, set[str]],
             report: Report) -> list[CreatedProvider]:
    """The OIDC providers the target creates (not those it reuses), with their client ID limit checked."""
    created = []
    for provider in sorted(set(providers.values()), key=lambda p: p.issuers):
        if provider.existing:
            continue
        first = model.issuers[provider.issuers[0]]
        client_ids = sorted(set().union(*(audiences[n] for n in provider.issuers)))
        if len(client_ids) > CLIENT_IDS_PER_PROVIDER:
            report.error(first.pos, describe(("issuer", first.name)),
                         f"{len(client_ids)} audiences for one AWS OIDC provider (of {normalised_url(first.url)}); "
                         f"the limit is {CLIENT_IDS_PER_PROVIDER}", "use fewer distinct audiences")
        created.append(CreatedProvider(terraform_name(target.name, first.name), provider, client_ids,
                                       {"managed-by": "wiam", "wiam-issuer": first.name}))
    return created


def plan(model: Model, target: Target, report: Report) -> AWSPlan:
    settings = TargetSettings.of(target.settings)
    grants = model.grants_on(target)
    for issuer_name in sorted(settings.existing_oidc_providers):
        if issuer_name not in model.issuers:
            report.error(model.where(target.path + ("existing_oidc_providers", issuer_name), key=True),
                         describe(target.path), f"no issuer named {issuer_name!r}",
                         "existing_oidc_providers maps issuer names to provider ARNs")

    # Which issuers (and audiences) this account must trust: one provider per URL, audiences united.
    audiences: dict[str, set[str]] = {}
    for workload, _ in grants:
        for identity in filter(federation.by_oidc_provider, workload.identities):
            audiences.setdefault(identity.issuer.name, set()).add(identity.audience_for(DEFAULT_AUDIENCE))
    providers = oidc_providers(model, target, settings, audiences, report)
    result = AWSPlan(CLOUD, target.name, block=target, settings=settings, alias=provider_alias(TERRAFORM_PROVIDER[0], target.name),
                     oidc_providers=_created(model, target, providers, audiences, report), at=model.at)
    result.trust_anchors = roles_anywhere.trust_anchors(model, target, [i for w, _ in grants for i in w.identities],
                                                        report)
    if len(result.oidc_providers) > OIDC_PROVIDERS_PER_ACCOUNT:
        report.error(target.pos, describe(target.path),
                     f"{len(result.oidc_providers)} OIDC providers in one account; IAM allows {OIDC_PROVIDERS_PER_ACCOUNT}",
                     "reuse providers through existing_oidc_providers or spread issuers over accounts")
    if len(grants) > ROLES_PER_ACCOUNT_MAX:
        report.error(target.pos, describe(target.path),
                     f"{len(grants)} roles in one account; IAM allows at most {ROLES_PER_ACCOUNT_MAX}",
                     "spread the workloads over several accounts")

    addresses = {issuer: p.address for p in result.oidc_providers for issuer in p.provider.issuers}
    taken: set[str] = set()  # attachment resource names
    values = chains.references(model)
    for workload, grant in grants:
        grant_settings = GrantSettings.of(grant.settings)
        _check_grant(model, settings, workload, grant_settings, grant.path, report)
        _check_conditions(model, target, workload, report)
        window = permission_window(workload, grant)
        _check_window_conditions(model, grant_settings.conditions, window, grant.path, report)
        _check_adoption(model, grant, grant_settings, window, report)
        if not workload.identities:
            continue
        role = _role(model, target, settings, workload, grant, grant_settings, window, providers, addresses, taken,
                     values, report, result.trust_anchors)
        result.roles.append(role)
        result.principals[workload.name] = Principal(CLOUD, target.name, workload.name, "role", role.name,
                                                     role.trust, {"arn": role.arn})
        result.outputs[workload.name] = {"role_arn": ref(f"{role.address}.arn")}
    result.chain_roles = _held_chains(model, target)
    pod_identity.check(target, [a for role in result.roles for a in role.associations]
                       + [c.association for c in result.chain_roles], report)
    return result


def _chains(model: Model, target: str, role: str, role_arn: str, pods: list[Identity],
            tags: dict[str, str]) -> list[pod_identity.ChainRole]:
    """The chain roles of a granted role's identities whose cluster is another aws target's."""
    found = []
    for identity in pods:
        cluster = model.targets.get((CLOUD, pod_identity.cluster_target(identity, target)))
        if cluster is not None and cluster.name != target:
            settings = TargetSettings.of(cluster.settings)
            found.append(pod_identity.chain_role(target, role, role_arn, identity, settings.role_arn,
                                                 settings.cluster_arn, window_conditions, tags))
    return found


def _held_chains(model: Model, target: Target) -> list[pod_identity.ChainRole]:
    """The active chain roles in this target's account: of other aws targets' grants naming it cluster_target."""
    found = []
    for other in model.targets_of(CLOUD):
        settings = TargetSettings.of(other.settings)
        for workload, grant in model.grants_on(other):
            pods = [i for i in workload.identities if pod_identity.is_pod(i) and i.active
                    and pod_identity.cluster_target(i, other.name) == target.name != other.name]
            name = grant_role_name(workload.name, grant.settings)
            found += _chains(model, other.name, name, settings.role_arn(name), pods, workload.tags())
    return sorted(found, key=lambda c: c.resource)


def _check_cluster_targets(model: Model, target: Target, pods: list[Identity], report: Report) -> None:
    for identity in pods:
        name = pod_identity.cluster_target(identity, target.name)
        if (CLOUD, name) not in model.targets:
            report.error(identity.pos, describe(("workload", identity.workload, "identity", identity.index)),
                         f"cluster_target {name!r} is not an aws target of the spec",
                         "name the aws target whose account holds the EKS cluster, or leave cluster_target out "
                         "when the cluster is in the granted target's account")


def _role(model: Model, target: Target, settings: TargetSettings, workload: Workload, grant: Grant,
          grant_settings: GrantSettings, window: Window, providers: dict[str, OidcProvider], addresses: dict[str, str],
          taken: set[str], values: chains.References, report: Report,
          anchors: list[roles_anywhere.TrustAnchor]) -> Role:
    resource = terraform_name(target.name, workload.name)
    pods = [i for i in workload.identities if pod_identity.is_pod(i)]
    _check_cluster_targets(model, target, pods, report)
    local = [i for i in pods if pod_identity.cluster_target(i, target.name) == target.name]
    role_name = grant_role_name(workload.name, grant.settings)
    chained = _chains(model, target.name, role_name, settings.role_arn(role_name), pods, workload.tags())
    google = [i for i in workload.identities if federation.by_google(i)]
    trust = trust_policy(providers, list(filter(federation.by_oidc_provider, workload.identities)))
    trust["Statement"] += pod_identity.statements(settings.cluster_arn, local, window_conditions)
    trust["Statement"] += pod_identity.chained_statements(chained, window_conditions)
    trust["Statement"] += roles_anywhere.statements(anchors, workload.identities, window_conditions)
    trust["Statement"] += federation.google_statements(google, iam_literal, window_conditions)
    text = chains.document_text(trust, values)  # a template where anchors' ARNs or other workloads' IDs stand
    quota = settings.trust_policy_quota
    if roles_anywhere.measured(text, anchors) > quota:
        report.error(workload.pos, describe(("workload", workload.name)),
                     f"the trust policy for target \"{target.name}\" is {roles_anywhere.measured(text, anchors)} characters; "
                     f"the account's limit is {quota}",
                     "split the identities over several workloads, or raise the role trust policy quota "
                     "(at most 4096) and declare it with trust_policy_quota on the target")
    policy = inline_policy(grant_settings, window)
    inline = None if policy is None else policy_json(policy)
    if inline is not None and len(inline) > INLINE_POLICY_MAX:
        report.error(model.where(grant.path, key=True), describe(grant.path),
                     f"the inline policy is {len(inline)} characters; IAM allows {INLINE_POLICY_MAX} per role",
                     "use wildcards that stay least-privilege, fewer resources, or managed_policies")
    attachments = []
    for arn in sorted(set(grant_settings.managed_policies or ())):
        name = free_name(terraform_name(resource, f"{slug(arn.rsplit('/', 1)[-1])}_{short_hash(arn, length=6)}"),
                         taken, arn)
        taken.add(name)
        attachments.append(Attachment(name, arn))
    used = {i.issuer.name for i in workload.identities} & set(addresses)
    duration = grant_settings.max_session_duration
    return Role(workload, grant, grant_settings, resource, role_name, settings.role_arn(role_name), trust, text,
                workload.tags(), sorted({addresses[i] for i in used}), workload.description or None,
                None if duration is None else parse_duration(duration), grant_settings.permissions_boundary,
                inline, attachments, window, pod_identity.associations(resource, local), chained)
