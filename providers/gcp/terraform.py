"""GCP: a workload identity pool per project, providers per issuer with an attribute condition
that admits only the named subjects, service accounts and IAM bindings."""

from __future__ import annotations

import re
from dataclasses import dataclass

from wiam.diagnostics import Report
from wiam.document import describe
from wiam.model import Identity, Model, Target
from wiam.names import ObjectName, fit_name, free_name, short_hash, slug, terraform_name
from wiam.terraform import Expr, Module, one_or_list, ref

CLOUD = "gcp"
TERRAFORM_PROVIDER = ("google", "hashicorp/google", ">= 6.0, < 8.0")

# Documented limits (Workload Identity Federation and IAM docs).
ATTRIBUTE_CONDITION_MAX = 4096
SUBJECT_MAX_BYTES = 127  # google.subject
POOL_DEFAULT_ID = "wiam-pool"
ID_MIN, ID_MAX = 4, 32  # pool and provider IDs
DISPLAY_NAME_MAX = 32  # pool and provider display names
SERVICE_ACCOUNT_ID_MIN, SERVICE_ACCOUNT_ID_MAX = 6, 30
PRINCIPALS_PER_POLICY = 1500
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"


_CEL_SPECIAL = re.compile(r'[\\"\x00-\x1f\x7f]')


def _cel_escape(match: re.Match) -> str:
    char = match.group(0)
    return "\\" + char if char in '\\"' else f"\\u{ord(char):04x}"


def cel_string(text: str) -> str:
    """A CEL string literal that denotes exactly `text`."""
    return '"' + _CEL_SPECIAL.sub(_cel_escape, text) + '"'


# One equality per subject, not `assertion.sub in [...]`: the same subjects, in the form scanners
# such as checkov (CKV_GCP_125) read; a provider admitting no subject (it is disabled) says false.
_SUBJECT_OR = " || "
_NO_SUBJECT = "false"


def _subject_term(subject: str) -> str:
    return "assertion.sub == " + cel_string(subject)


def subject_condition(subjects: list[str]) -> str:
    return _SUBJECT_OR.join(map(_subject_term, subjects)) or _NO_SUBJECT


def principal(project_number: str, pool_id: str, subject: str) -> str:
    return (f"principal://iam.googleapis.com/projects/{project_number}/locations/global/"
            f"workloadIdentityPools/{pool_id}/subject/{subject}")


def service_account_id(workload: str) -> str:
    return fit_name(f"wiam-{workload}", SERVICE_ACCOUNT_ID_MAX, min_length=SERVICE_ACCOUNT_ID_MIN,
                    allowed="a-z0-9-", lower=True)


def provider_id(issuer: str, audience_tag: str, chunk: int) -> str:
    suffix = (f"-{audience_tag}" if audience_tag else "") + (f"-{chunk + 1}" if chunk else "")
    base = fit_name(issuer, ID_MAX - len(suffix), min_length=ID_MIN, allowed="a-z0-9-", lower=True)
    if base.startswith("gcp-"):
        base = fit_name("p" + base, ID_MAX - len(suffix), allowed="a-z0-9-")
    return base + suffix


# Resource kinds, by full resource name: the IAM member resource that binds a role on each.
@dataclass(frozen=True)
class ResourceKind:
    label: str
    pattern: re.Pattern
    terraform_type: str
    arguments: tuple[tuple[str, str], ...]  # (terraform argument, regex group or "name")


def _kind(label, pattern, terraform_type, *arguments):
    return ResourceKind(label, re.compile(pattern), terraform_type, arguments)


RESOURCE_KINDS = (
    _kind("project", r"projects/(?P<project>[a-z][a-z0-9-]{4,28}[a-z0-9])", "google_project_iam_member",
          ("project", "project")),
    _kind("storage bucket", r"projects/_/buckets/(?P<bucket>[a-z0-9][a-z0-9_.-]{1,220}[a-z0-9])",
          "google_storage_bucket_iam_member", ("bucket", "bucket")),
    _kind("Pub/Sub topic", r"projects/(?P<project>[^/]+)/topics/(?P<topic>[^/]+)", "google_pubsub_topic_iam_member",
          ("project", "project"), ("topic", "topic")),
    _kind("Pub/Sub subscription", r"projects/(?P<project>[^/]+)/subscriptions/(?P<subscription>[^/]+)",
          "google_pubsub_subscription_iam_member", ("project", "project"), ("subscription", "subscription")),
    _kind("Secret Manager secret", r"projects/(?P<project>[^/]+)/secrets/(?P<secret>[^/]+)",
          "google_secret_manager_secret_iam_member", ("project", "project"), ("secret_id", "secret")),
    _kind("BigQuery dataset", r"projects/(?P<project>[^/]+)/datasets/(?P<dataset>[A-Za-z0-9_]+)",
          "google_bigquery_dataset_iam_member", ("project", "project"), ("dataset_id", "dataset")),
    _kind("Artifact Registry repository",
          r"projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/repositories/(?P<repository>[^/]+)",
          "google_artifact_registry_repository_iam_member", ("project", "project"), ("location", "location"),
          ("repository", "repository")),
    _kind("KMS crypto key", r"projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+",
          "google_kms_crypto_key_iam_member", ("crypto_key_id", "name")),
    _kind("service account", r"projects/[^/]+/serviceAccounts/[^/]+@[^/]+",
          "google_service_account_iam_member", ("service_account_id", "name")),
)
SUPPORTED_KINDS = "projects/P, " + ", ".join(
    f"{k.label} ({k.pattern.pattern})" for k in RESOURCE_KINDS[1:])


def resource_binding(resource: str) -> tuple[str, dict] | None:
    """The IAM member resource type and its arguments for a full resource name, or None."""
    name = re.sub(r"^//[a-z0-9.-]+\.googleapis\.com/", "", resource)
    for kind in RESOURCE_KINDS:
        match = kind.pattern.fullmatch(name)
        if match:
            return kind.terraform_type, {arg: (name if group == "name" else match.group(group))
                                         for arg, group in kind.arguments}
    return None


@dataclass
class _ProviderPlan:
    address: str
    subjects: list[str]


def compile_target(model: Model, target: Target, module: Module, report: Report) -> dict[str, dict]:
    project = target.settings["project_id"]
    number = target.settings["project_number"]
    pool_id = target.settings.get("pool_id", POOL_DEFAULT_ID)
    alias = f"google.{target.name}"
    module.require(*TERRAFORM_PROVIDER)
    module.provider("google", {"alias": target.name, "project": project})
    grants = model.grants_on(target)
    if not grants:
        return {}

    pool = module.resource("google_iam_workload_identity_pool", target.name, {
        "provider": alias, "project": project, "workload_identity_pool_id": pool_id,
        "display_name": "wiam", "description": "Workload identities managed by wiam"})

    identities = [i for workload, _ in grants for i in workload.identities]
    _check_subjects(model, target, identities, report)
    providers = _compile_providers(model, target, module, pool, identities, report)
    subject_provider = {(p_issuer, s): plan.address
                        for (p_issuer, _), plans in providers.items() for plan in plans for s in plan.subjects}

    outputs: dict[str, dict] = {}
    policies: dict[tuple[str, str], set[str]] = {}  # (type, resource) -> members, for the per-policy limit
    for workload, grant in grants:
        if not workload.identities:
            continue
        # A disabled identity leaves the bindings; a disabled issuer's provider is disabled instead.
        members = list(dict.fromkeys(principal(number, pool_id, i.subject)
                                     for i in workload.identities if not i.disabled))  # one per subject
        used_providers = sorted({subject_provider[(i.issuer.name, i.subject)] for i in workload.identities})
        output = {"workload_identity_provider": one_or_list([ref(f"{p}.name") for p in used_providers])}
        base = terraform_name(target.name, workload.name)
        if grant.settings.get("mode", "service_account") == "service_account":
            account = module.resource("google_service_account", base, {
                "provider": alias, "project": project, "account_id": service_account_id(workload.name),
                "display_name": workload.name, "description": workload.description or f"wiam workload {workload.name}"})
            for member in members:
                module.resource("google_service_account_iam_member",
                                free_name(terraform_name(base, f"wif_{short_hash(member)}"),
                                          module.resources.get("google_service_account_iam_member", {}), member), {
                                    "provider": alias, "service_account_id": ref(f"{account}.name"),
                                    "role": WORKLOAD_IDENTITY_USER, "member": member,
                                    "depends_on": used_providers})
            policies.setdefault(("service_account", base), set()).update(members)
            grantees = [("sa", Expr("serviceAccount:${" + account + ".email}"))]
            output["service_account_email"] = ref(f"{account}.email")
        else:
            grantees = [(f"p_{short_hash(m)}", m) for m in members]
        _bind_roles(model, target, grant, module, base, grantees, used_providers, policies, report)
        outputs[workload.name] = output
    for (kind, resource), members in sorted(policies.items()):
        if len(members) > PRINCIPALS_PER_POLICY:
            report.error(target.pos, describe(target.path),
                         f"the IAM policy of {resource} would hold {len(members)} principals; "
                         f"GCP allows {PRINCIPALS_PER_POLICY}",
                         "grant through fewer principals (service accounts instead of direct mode), "
                         "or narrower resources")
    return outputs



def _bind_roles(model, target, grant, module, base, grantees, depends_on, policies, report):
    alias = f"google.{target.name}"
    resource = grant.settings.get("resource")
    if resource is None:
        binding = ("google_project_iam_member", {"project": target.settings["project_id"]})
        policy_key = ("project", f"projects/{target.settings['project_id']}")
    else:
        binding = resource_binding(resource)
        policy_key = ("resource", resource)
        if binding is None:
            report.error(model.where(grant.path + ("resource",)), describe(grant.path),
                         f"unsupported or malformed resource {resource!r}",
                         f"name a resource of a supported kind: {SUPPORTED_KINDS}; leave resource out for the project")
            return
    terraform_type, arguments = binding
    for role in list(dict.fromkeys(grant.settings["roles"])):
        for tag, member in grantees:
            body = {"provider": alias, **arguments, "role": role, "member": member}
            if tag != "sa":
                body["depends_on"] = depends_on
            name = terraform_name(base, f"{slug(role)}_{short_hash(role, length=6)}_{tag}")
            module.resource(terraform_type, free_name(name, module.resources.get(terraform_type, {}), role, str(member)), body)
            policies.setdefault(policy_key, set()).add(str(member))


def _check_subjects(model: Model, target: Target, identities: list[Identity], report: Report) -> None:
    subjects: dict[str, list[Identity]] = {}
    for identity in identities:
        size = len(identity.subject.encode("utf-8"))
        if size > SUBJECT_MAX_BYTES:
            report.error(identity.pos, describe(("workload", identity.workload, "identity", identity.index)),
                         f"the subject is {size} bytes; GCP's google.subject holds at most {SUBJECT_MAX_BYTES}",
                         "shorten the names that make up the subject (branch, environment, namespace...)")
        subjects.setdefault(identity.subject, []).append(identity)
    for subject, sharing in subjects.items():
        _check_shared_subject(target, subject, sharing, report)


def _trust_key(identity: Identity) -> tuple[str, str]:
    """What tells two tokens of one subject apart in GCP: the provider (issuer, audience) admitting them."""
    return identity.issuer.name, identity.audience_for(None) or ""


def _trust_label(key: tuple[str, str]) -> str:
    return f"issuer {key[0]!r} with " + (f"audience {key[1]!r}" if key[1] else "the provider's default audience")


def _check_shared_subject(target: Target, subject: str, identities: list[Identity], report: Report) -> None:
    """Principals are pool-scoped (principal://.../subject/SUB, whichever provider admitted the
    token), so every workload bound to a subject accepts every issuer and audience any of them trusts
    it from. Refuse unless the workloads sharing a subject trust exactly the same ones. Workloads are
    grouped by what they trust, so a subject shared by many costs one error per group."""
    keys: dict[str, dict[tuple[str, str], Identity]] = {}
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
                     f"pool (principal://.../workloadIdentityPools/{target.settings.get('pool_id', POOL_DEFAULT_ID)}"
                     f"/subject/{subject}, whichever provider admitted the token), so {leak} in gcp target "
                     f"{target.name!r}",
                     "give these workloads distinct subjects, or the same issuer and audience, or separate pools "
                     "(grant one of them on another GCP target with its own pool_id)")


def _compile_providers(model, target, module, pool, identities, report) -> dict[tuple, list[_ProviderPlan]]:
    """One provider per issuer and audience, split further where a condition would pass 4,096."""
    alias = f"google.{target.name}"
    groups: dict[tuple[str, str | None], set[str]] = {}
    admitted: set[tuple] = set()  # (issuer, audience, subject) of identities not disabled themselves
    for identity in identities:
        group = (identity.issuer.name, identity.audience_for(None))
        groups.setdefault(group, set()).add(identity.subject)
        if not identity.disabled:
            admitted.add((*group, identity.subject))
    audiences_per_issuer: dict[str, int] = {}
    for issuer_name, _ in groups:
        audiences_per_issuer[issuer_name] = audiences_per_issuer.get(issuer_name, 0) + 1
    plans: dict[tuple, list[_ProviderPlan]] = {}
    used_ids: set[str] = set()
    for (issuer_name, audience), subjects in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        issuer = model.issuers[issuer_name]
        tag = short_hash(audience or "", length=4) if audiences_per_issuer[issuer_name] > 1 else ""
        chunks = _chunks(sorted(subjects))  # over every subject, so that disabling one moves nothing
        plans[(issuer_name, audience)] = []
        for index, chunk in enumerate(chunks):
            pid = provider_id(issuer_name, tag, index)
            salt = ""
            while pid in used_ids:  # e.g. issuer "ci" chunk 2 and issuer "ci-2"; a fallback may be taken too
                pid = provider_id(f"{issuer_name}-{short_hash(issuer_name, audience or '', str(index) + salt)}", "", 0)
                salt += "+"
            used_ids.add(pid)
            oidc = {"issuer_uri": issuer.url}
            if audience:
                oidc["allowed_audiences"] = [audience]
            address = module.resource("google_iam_workload_identity_pool_provider",
                                      terraform_name(target.name, pid), {
                "provider": alias,
                "project": target.settings["project_id"],
                "workload_identity_pool_id": ref(f"{pool}.workload_identity_pool_id"),
                "workload_identity_pool_provider_id": pid,
                "display_name": fit_name(pid, DISPLAY_NAME_MAX),
                "description": f"wiam: issuer {issuer_name}",
                "attribute_mapping": {"google.subject": "assertion.sub"},
                "attribute_condition": subject_condition([s for s in chunk if (issuer_name, audience, s) in admitted]),
                "disabled": bool(issuer.disabled) or not any((issuer_name, audience, s) in admitted for s in chunk),
                "oidc": oidc,
            })
            plans[(issuer_name, audience)].append(_ProviderPlan(address, chunk))
        if len(chunks) > 1:
            report.notes.append(f"gcp target {target.name!r}: issuer {issuer_name!r} admits {len(subjects)} subjects, "
                                f"split over {len(chunks)} providers to keep each attribute_condition within "
                                f"{ATTRIBUTE_CONDITION_MAX} characters")
    return plans


def _chunks(subjects: list[str]) -> list[list[str]]:
    """Greedy packing: each chunk's condition stays within the limit."""
    chunks: list[list[str]] = [[]]
    size = 0
    for subject in subjects:
        term = len(_subject_term(subject))
        if chunks[-1] and size + len(_SUBJECT_OR) + term > ATTRIBUTE_CONDITION_MAX:
            chunks.append([])
        size = term if not chunks[-1] else size + len(_SUBJECT_OR) + term
        chunks[-1].append(subject)
    return chunks


def object_names(model: Model, target: Target) -> list[ObjectName]:
    """Service account IDs, unique per project (which targets with other pools may share)."""
    scope = ("project", target.settings["project_id"])
    return [ObjectName.of_grant(grant, "service account ID", scope, service_account_id(workload.name), False)
            for workload, grant in model.grants_on(target)
            if grant.settings.get("mode", "service_account") == "service_account"]


def places(settings: dict) -> list[tuple[str, str, tuple]]:
    """A target manages its pool alone, and the project is named by ID or by number."""
    pool_id = settings.get("pool_id", POOL_DEFAULT_ID)
    return [("project and pool", field, (settings[field], pool_id)) for field in ("project_id", "project_number")]
