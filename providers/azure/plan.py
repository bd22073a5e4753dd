"""Azure's plan of a target: a user-assigned managed identity per workload, its federated identity
credentials (exact, or flexible where the target opts in and claims need it) and its role
assignments, named once, with Azure's documented limits checked."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter

from wiam import windows
from wiam.diagnostics import Report
from wiam.document import describe
from wiam.issuers import GITHUB_DEFAULT_TEMPLATE, KINDS, OtherWorkload
from wiam.model import Grant, Identity, Model, Target, Window, Workload
from wiam.names import ObjectName, free_name, short_hash, slug, terraform_name
from wiam.plan import Principal, TargetPlan
from wiam.terraform import Expr, provider_alias, ref

from . import catalog, flexible
from .settings import (CLOUD, DEFAULT_AUDIENCE, TERRAFORM_PROVIDER, GrantSettings, TargetSettings, assignment_name,
                       credential_name, grant_identity_name, role_reference)

# Documented limits (Microsoft Entra workload identity federation and Azure RBAC docs).
CREDENTIALS_PER_IDENTITY = 20
SUBJECT_MAX = 600
ISSUER_MAX = 600
ROLE_ASSIGNMENTS_PER_SUBSCRIPTION = 4000

IDENTITY = "azurerm_user_assigned_identity"
CREDENTIAL = "azurerm_federated_identity_credential"
ASSIGNMENT = "azurerm_role_assignment"
PIM_ASSIGNMENT = "azurerm_pim_active_role_assignment"  # azurerm docs/r/pim_active_role_assignment
PIM_MINIMUM = 300  # seconds: PIM assigns for no less than five minutes (Entra ID Governance docs)
TICKET_SYSTEM = "wiam"
PRINCIPAL_KIND = "identity"


# Plain, not frozen, dataclasses: one of each is made per workload, and frozen ones cost four times as much.
@dataclass
class Credential:
    """A federated identity credential: Entra accepts a token whose issuer and subject equal these,
    whose audience is one of `audiences` and, for a flexible one, whose `claims` equal these."""

    resource: str  # Terraform resource name
    name: str
    issuer: str
    subject: str
    audiences: tuple[str, ...]
    after: str | None  # the address of the credential written before it: Azure refuses concurrent writes
    claims: tuple[tuple[str, str], ...] = ()  # matched beyond sub, sorted: a flexible credential; () an exact one
    adopted: bool = False  # it exists already (the grant's adopt_credentials): Terraform imports it by name

    @property
    def kind(self) -> str:
        """Its Terraform resource type: azurerm has no flexible credentials, azapi writes them."""
        return flexible.RESOURCE if self.claims else CREDENTIAL

    @property
    def address(self) -> str:
        return f"{self.kind}.{self.resource}"

    @property
    def expression(self) -> str:
        """A flexible credential's claimsMatchingExpression value."""
        return flexible.expression(self.subject, self.claims)


@dataclass
class Assignment:
    resource: str  # Terraform resource name
    name: str  # the GUID Azure names it by
    scope: str
    role: str  # as written
    reference: tuple[str, str]  # (role_definition_id or role_definition_name, its value)
    description: str
    # A PIM schedule, which Azure starts and ends itself; None: a plain, standing role assignment.
    schedule: Schedule | None = None
    adopted: bool = False  # it exists already (the grant's adopt_assignments): Terraform imports it by its GUID

    @property
    def kind(self) -> str:
        return PIM_ASSIGNMENT if self.schedule else ASSIGNMENT


@dataclass
class Schedule:
    """An active PIM assignment's schedule: its window's bounds as RFC 3339 text (None: unbounded, so
    it starts when applied, or never ends), and why it exists."""

    start: str | None
    end: str | None
    justification: str
    ticket: str | None


@dataclass
class Pending:
    """A credential not written yet: its identity's window opens later, and a compile from then on writes it."""

    credential: Credential
    opens: datetime


@dataclass
class ManagedIdentity:
    workload: Workload
    grant: Grant
    resource: str  # Terraform resource name
    name: str
    resource_id: str
    tags: dict[str, str]
    credentials: tuple[Credential, ...]  # of the active identities, in the order they are written
    access: GrantSettings
    assignments: tuple[Assignment, ...]
    pending: tuple[Pending, ...] = ()  # credentials of identities whose window is still to come

    @property
    def address(self) -> str:
        return f"{IDENTITY}.{self.resource}"

    def attribute(self, name: str) -> Expr:
        return ref(f"{self.address}.{name}")

    @property
    def adopted(self) -> bool:
        """It exists already (the grant's adopt): Terraform imports it by its resource ID."""
        return self.access.adopt is not None


@dataclass
class AzurePlan(TargetPlan):
    spec: Target | None = None  # the target block planned
    settings: TargetSettings | None = None
    alias: str = ""  # the Terraform provider configuration of the target
    identities: list[ManagedIdentity] = field(default_factory=list)


def plan(model: Model, target: Target, report: Report) -> AzurePlan:
    settings = TargetSettings.of(target.settings)
    result = AzurePlan(CLOUD, target.name, spec=target, settings=settings,
                       alias=provider_alias(TERRAFORM_PROVIDER[0], target.name))
    taken: dict[str, set[str]] = {CREDENTIAL: set(), ASSIGNMENT: set()}  # resource names by kind, for free_name
    assignments = 0
    for workload, grant in model.grants_on(target):
        if not workload.identities:
            continue
        identity = _identity(model, result, workload, grant, taken, report)
        _unenforced(model, result, workload, grant, report)
        assignments += len(identity.assignments)
        result.identities.append(identity)
        result.principals[workload.name] = Principal(CLOUD, target.name, workload.name, PRINCIPAL_KIND, identity.name,
                                                     _trust(identity), {"resource_id": identity.resource_id})
        result.outputs[workload.name] = {"client_id": identity.attribute("client_id"),
                                         "tenant_id": identity.attribute("tenant_id")}
    if assignments > ROLE_ASSIGNMENTS_PER_SUBSCRIPTION:
        report.error(target.pos, describe(target.path),
                     f"{assignments} role assignments in one subscription; Azure allows {ROLE_ASSIGNMENTS_PER_SUBSCRIPTION}",
                     "spread workloads over subscriptions or assign at fewer scopes")
    return result


def _identity(model: Model, result: AzurePlan, workload: Workload, grant: Grant, taken: dict[str, set[str]],
              report: Report) -> ManagedIdentity:
    settings = result.settings
    base = terraform_name(result.target, workload.name)
    if len(workload.identities) > CREDENTIALS_PER_IDENTITY:
        report.error(workload.pos, describe(("workload", workload.name)),
                     f"{len(workload.identities)} subjects; an Azure managed identity takes at most "
                     f"{CREDENTIALS_PER_IDENTITY} federated credentials",
                     f"split the identities over several workloads of at most {CREDENTIALS_PER_IDENTITY}")
    credentials: list[Credential] = []
    pending: list[Pending] = []
    seen: dict[tuple[str, str], Identity] = {}  # Entra takes one per issuer and subject
    access = GrantSettings.of(grant.settings, settings)
    if access.adopt_credentials or access.adopt_assignments:
        _check_adoption(model, workload, grant, access, report)
    adopted = adopted_subjects(workload, access.adopt_credentials)
    for item in sorted(workload.identities, key=lambda i: (i.issuer.name, i.subject)):
        _check_identity(model, item, seen, report)
        claims = _check_conditions(model, result.target, settings.flexible_credentials, item, report)
        name = adopted.get(item.subject)
        if name is not None and claims:
            report.error(model.where(grant.path + ("adopt_credentials", name)), describe(grant.path),
                         f"credential {name!r} is adopted for identity #{item.index + 1}, whose claims make its "
                         f"credential a flexible one (a claims expression, written through azapi): an exact "
                         f"credential cannot be imported as it", "remove the entry, and delete the existing "
                         "credential before applying (Azure takes one credential per issuer and subject)")
        if not item.active:  # kill switch: the credential goes; the identity and its role assignments stay
            if name is not None:
                _not_imported(result, workload, f"federated credential {name!r}", "its identity is disabled", report)
            continue
        audience = item.audience_for(DEFAULT_AUDIENCE)
        parts = (item.issuer.name, item.subject, audience)
        if windows.pending(item.window, model.at):  # Entra cannot hold a credential back: it is written once open
            if name is not None:
                _not_imported(result, workload, f"federated credential {name!r}",
                              f"its identity's window has not opened (at {windows.text(item.window.not_before)})", report)
            pending.append(Pending(Credential("", name or credential_name(*parts), item.issuer.url, item.subject,
                                              (audience,), None, claims), item.window.not_before))
            continue
        resource = free_name(terraform_name(base, short_hash(*parts)), taken[CREDENTIAL], *parts)
        taken[CREDENTIAL].add(resource)
        credentials.append(Credential(resource, name or credential_name(*parts), item.issuer.url, item.subject,
                                      (audience,), credentials[-1].address if credentials else None, claims,
                                      name is not None))
    window = windows.narrowest(workload.window, grant.window)
    schedule = _schedule(workload, grant, window, report) if window and settings.pim else None
    # Without PIM nothing holds a plain assignment back: it is written once its window opens.
    roles = access.roles if schedule or not windows.pending(window, model.at) else ()
    if not roles and access.adopt_assignments:
        _not_imported(result, workload, f"role assignments {sorted(access.adopt_assignments.values())}",
                      f"its grant's window has not opened (at {windows.text(window.not_before)})", report)
    assignments = []
    for index, role in enumerate(roles):
        resource = free_name(terraform_name(base, f"{slug(role)}_{short_hash(access.scope, role, length=6)}"),
                             taken[ASSIGNMENT], access.scope, role)
        taken[ASSIGNMENT].add(resource)
        reference = role_reference(role, settings.subscription_id)
        if schedule:
            reference = _definition_id(model, grant, index, reference, settings.subscription_id, report)
        guid = access.adopt_assignments.get(role)
        if guid is not None and schedule:
            report.error(model.where(grant.path + ("adopt_assignments", role)), describe(grant.path),
                         f"role {role!r} is assigned as a PIM schedule (pim = true on the target, and the grant has "
                         f"a time window): Azure names a schedule itself, so role assignment {guid} cannot be "
                         f"imported as it", "remove the entry, and delete the existing assignment before applying; "
                         "or remove the time window, so that the role is a plain assignment")
        assignments.append(Assignment(resource, guid or assignment_name(settings.subscription_id, workload.name,
                                                                        access.scope, role),
                                      access.scope, role, reference, f"wiam workload {workload.name}", schedule,
                                      guid is not None))
    name = grant_identity_name(workload.name, grant.settings)
    return ManagedIdentity(workload, grant, base, name, settings.identity_id(name), workload.tags(), tuple(credentials),
                           access, tuple(assignments), tuple(pending))


def _matchable(workload: Workload) -> list[Identity]:
    """The identities an adopt_credentials subject can name: not those naming another workload, whose
    principal is known only at apply."""
    return [i for i in workload.identities if not isinstance(i.subject, OtherWorkload)]


def adopted_subjects(workload: Workload, adopt_credentials: dict[str, str]) -> dict[str, str]:
    """Subject -> the name of the existing credential its identity's credential takes over: each entry of
    adopt_credentials whose subject exactly one of the workload's identities compiles to (Entra compares
    subjects exactly), the first name where two give one subject. _check_adoption reports the others."""
    if not adopt_credentials:
        return {}
    held = Counter(i.subject for i in _matchable(workload))
    found: dict[str, str] = {}
    for name, subject in adopt_credentials.items():
        if held[subject] == 1:
            found.setdefault(subject, name)
    return found


def _check_adoption(model: Model, workload: Workload, grant: Grant, access: GrantSettings, report: Report) -> None:
    """adopt_credentials and adopt_assignments name objects of the adopted identity that the plan makes:
    each subject one identity's credential, each name once, each role one of the grant's. Names and GUIDs
    unique per identity and tenant are object_names'; flexible credentials and PIM schedules _identity's."""
    block = describe(grant.path)
    for setting in ("adopt_credentials", "adopt_assignments"):
        if access.adopt is None and getattr(access, setting):
            report.error(model.where(grant.path + (setting,), key=True), block,
                         f"{setting} names existing objects of an adopted managed identity, and the grant adopts none",
                         f'add adopt = "NAME" (the existing identity those objects belong to), or remove {setting}')
    matchable = _matchable(workload)
    subjects = sorted({i.subject for i in matchable})
    named: dict[str, str] = {}  # subject -> the first name given it
    for name, subject in access.adopt_credentials.items():
        holders = [i for i in matchable if i.subject == subject]
        where = model.where(grant.path + ("adopt_credentials", name))
        if not holders:
            shown = ", ".join(map(repr, subjects[:3])) + (", ..." if len(subjects) > 3 else "")
            report.error(where, block, f"no identity of workload {workload.name!r} has the subject {subject!r} "
                                       f"that adopt_credentials gives credential {name!r}",
                         f"write the subject exactly as one of the workload's identities makes it ({shown}), "
                         f"or remove the entry")
        elif len(holders) > 1:
            which = ", ".join(f"#{i.index + 1} (issuer {i.issuer.name!r})" for i in holders)
            report.error(where, block, f"subject {subject!r} of credential {name!r} is held by identities {which}: "
                                       f"each has a credential of its own, and an entry adopts one",
                         "keep one of those identities on this workload (move the others to another workload), "
                         "or remove the entry")
        elif named.setdefault(subject, name) != name:
            report.error(model.where(grant.path + ("adopt_credentials", name), key=True), block,
                         f"credentials {named[subject]!r} and {name!r} both hold subject {subject!r}; the workload "
                         f"has one credential for it", "keep one of the two entries, and delete the other "
                         "credential before applying (Azure takes one credential per issuer and subject)")
    for role in access.adopt_assignments:
        if role not in access.roles:
            report.error(model.where(grant.path + ("adopt_assignments", role), key=True), block,
                         f"role {role!r} of adopt_assignments is not among the grant's roles",
                         f"write the role as roles does: {', '.join(map(repr, access.roles))}")


def _not_imported(result: AzurePlan, workload: Workload, what: str, why: str, report: Report) -> None:
    """An adopted object the plan does not write now: an import block would name no resource. Unless an
    earlier apply imported it (and this one deletes it), Azure keeps it, and it holds as it did."""
    report.notes.append(f"workload {workload.name!r} on azure target {result.target!r}: {what} not imported while "
                        f"{why}; unless an earlier apply imported it, Azure keeps it as it is: delete it by hand "
                        f"if it must not hold until then")


def _schedule(workload: Workload, grant: Grant, window: Window, report: Report) -> Schedule:
    """The PIM schedule of a grant's assignments: exactly its window within its workload's, so the same
    bytes at every --at, with the grant's (else the workload's) reason and ticket."""
    if window.not_before and window.expires and (window.expires - window.not_before).total_seconds() < PIM_MINIMUM:
        report.error(grant.pos, describe(grant.path),
                     f"the window {windows.described(window)} is shorter than five minutes, the least Azure PIM "
                     f"assigns a role for", "make the window at least five minutes long")
    return Schedule(window.not_before and windows.text(window.not_before), window.expires and windows.text(window.expires),
                    grant.reason or workload.reason or f"wiam workload {workload.name}", grant.ticket or workload.ticket)


def _definition_id(model: Model, grant: Grant, index: int, reference: tuple[str, str] | None, subscription: str,
                   report: Report) -> tuple[str, str] | None:
    """A PIM assignment names its role by definition ID only: a built-in name through the catalog."""
    if reference is None or reference[0] == "role_definition_id":
        return reference
    guid = catalog.role_guid(reference[1])
    if guid == reference[1]:
        report.error(model.where(grant.path + ("roles", index)), describe(grant.path),
                     f"{reference[1]!r} is no built-in role, and a PIM assignment (pim = true, a time window) "
                     f"names its role by definition ID", "write the custom role as its role definition ID: "
                     f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/<GUID>")
        return reference
    return role_reference(guid, subscription)


def _unenforced(model: Model, result: AzurePlan, workload: Workload, grant: Grant, report: Report) -> None:
    """The windows Azure cannot end or begin itself, in the plan and one note: federated credentials carry
    none, and plain role assignments none (PIM schedules do). A window that has begun and never ends
    needs nothing more."""
    def open_ended(window: Window) -> bool:
        return bool(window.expires) or windows.pending(window, model.at)

    clauses, what = [], []
    for identity in workload.identities:
        if identity.active and open_ended(identity.window):
            clauses.append(_lifetime(f"identity #{identity.index + 1}'s credential", identity.window, model.at))
    if clauses:
        what.append("trust window")
    window = windows.narrowest(workload.window, grant.window)
    if not result.settings.pim and open_ended(window):
        what.append("grant window")
        clauses.append(_lifetime("its role assignments", window, model.at))
    if not what:
        return
    result.unenforced[workload.name] = what
    why = [reason for key, reason in (("trust window", "federated credentials carry none"),
                                      ("grant window", "role assignments carry none without pim = true on the target"))
           if key in what]
    report.notes.append(f"workload {workload.name!r} on azure target {result.target!r}: Azure cannot enforce its time "
                        f"window ({' and '.join(why)}): it holds only as long as the spec is compiled and applied "
                        f"again: {'; '.join(clauses)}")


def _lifetime(what: str, window: Window, at: datetime) -> str:
    steps = []
    if windows.pending(window, at):
        steps.append(f"written by the first compile applied at or after {windows.text(window.not_before)}")
    if window.expires:
        steps.append(f"removed by the first compile applied at or after {windows.text(window.expires)}")
    return f"{what} is {' and '.join(steps)}"


def _trust(identity: ManagedIdentity) -> dict:
    """What Entra checks, as the access graph has always shown it: each credential with its one audience
    (and a flexible one's claims)."""
    credentials = [{"issuer": c.issuer, "subject": c.subject, "audience": c.audiences[0],
                    **({"claims": dict(c.claims)} if c.claims else {})} for c in identity.credentials]
    credentials.sort(key=itemgetter("issuer", "subject"))
    return {"federated_credentials": credentials}


def _check_identity(model: Model, item: Identity, seen: dict[tuple[str, str], Identity], report: Report) -> None:
    first = seen.setdefault((item.issuer.url, item.subject), item)
    if first is not item:
        report.error(item.pos, _block(item),
                     f"issuer {item.issuer.url} and subject {item.subject!r} already have a federated "
                     f"credential on this workload's managed identity (at {first.pos}); Azure takes one "
                     f"per issuer and subject, whatever the audience",
                     "keep one identity block for this subject (one audience), or move the other to "
                     "another workload")
    if len(item.subject) > SUBJECT_MAX:
        report.error(item.pos, _block(item), f"the subject is {len(item.subject)} characters; Azure allows {SUBJECT_MAX}",
                     "shorten the names that make up the subject")
    if len(item.issuer.url) > ISSUER_MAX:
        report.error(model.where(("issuer", item.issuer.name, "url")), describe(("issuer", item.issuer.name)),
                     f"the issuer URL is {len(item.issuer.url)} characters; Azure allows {ISSUER_MAX}",
                     "use a shorter issuer URL")


def _check_conditions(model: Model, target: str, flexible_credentials: bool, item: Identity,
                      report: Report) -> tuple[tuple[str, str], ...]:
    """The claims the identity's credential matches beyond its subject: () for an exact credential, which
    compares issuer, subject and audience only. A claim no credential can check is an error, never a
    silent drop."""
    if not item.conditions:
        return ()
    issuer = item.issuer
    if item.pinned_by:  # its sub names the user who started the run: an exact credential would pin one user
        report.error(item.pos, _block(item),
                     f"azure target {target!r} cannot trust a {issuer.kind} identity (issuer {issuer.name!r}): "
                     f"its tokens' sub names the user who started the run, and Azure's federated credentials "
                     f"compare sub exactly (no wildcards), so the project ({item.pinned_by}) cannot be pinned alone",
                     f"grant this workload in a cloud that checks the claim (aws, gcp), not in azure target {target!r}")
        return ()
    found = flexible.platform(issuer.url) if flexible_credentials else None
    claims = flexible.matched(found, item) if found else item.conditions
    problems = (flexible.problems(found, item.subject, claims) if flexible_credentials else
                [(claim, "its exact federated credentials compare issuer, subject and audience only", None)
                 for claim, _ in claims])
    conditions = dict(item.conditions)
    for claim, why, fix in problems:
        path = ("workload", item.workload, "identity", item.index)
        where = model.where(path + ("claims", claim), key=True) if claim in conditions else item.pos
        what = f"cannot check claim {claim!r} of" if claim else "cannot write a flexible credential for"
        if not claim and issuer.subject_claims:  # a claim the subject carries is not among the conditions
            fix += ", not one carried in the subject by subject_claims"
        report.error(where, _block(item), f"azure target {target!r} {what} issuer {issuer.name!r} ({issuer.url}): "
                                          f"{why}", fix or _conditions_fix(item))
    return claims


def _conditions_fix(item: Identity) -> str:
    issuer = item.issuer
    if KINDS[issuer.kind].templated is None:
        return "Azure's exact federated credentials cannot check it: remove the claim or grant this workload elsewhere"
    keys = issuer.subject_claims or GITHUB_DEFAULT_TEMPLATE
    keys += tuple(name for name, _ in item.conditions if name not in keys)  # every unchecked claim, in one template
    return (f"add the claim to subject_claims on issuer {issuer.name!r}, so the subject carries it "
            f"(e.g. subject_claims = [{', '.join(map(json.dumps, keys))}]); the repositories using it must set the "
            f"same include_claim_keys")


def _block(identity: Identity) -> str:
    return describe(("workload", identity.workload, "identity", identity.index))


def object_names(model: Model, target: Target) -> list[ObjectName]:
    """Managed identity names, unique per resource group, and federated credential names, unique per
    identity; Azure compares resource names without regard to case."""
    settings = TargetSettings.of(target.settings)
    scope = ("resource group", settings.place[1], "of subscription", settings.place[0])
    names = []
    for workload, grant in model.grants_on(target):
        identity = grant_identity_name(workload.name, grant.settings)
        names.append(ObjectName.of_grant(grant, "managed identity name", scope, identity, True))
        adopted = adopted_subjects(workload, grant.settings.get("adopt_credentials", {}))
        names += [ObjectName("federated credential name", ("managed identity", identity, "in", *scope),
                             adopted.get(i.subject) or credential_name(i.issuer.name, i.subject,
                                                                        i.audience_for(DEFAULT_AUDIENCE)), True,
                             f"identity #{i.index + 1} of workload {workload.name!r}", i.pos, _block(i))
                  for i in workload.identities]
        # Role assignment names are GUIDs unique in the tenant; wiam's own are uuid5s of distinct inputs.
        names += [ObjectName("role assignment name", ("tenant", settings.tenant_id.lower()), guid, True,
                             f"role {role!r} in workload {workload.name!r} on azure target {target.name!r}",
                             model.where(grant.path + ("adopt_assignments", role)), describe(grant.path))
                  for role, guid in grant.settings.get("adopt_assignments", {}).items()]
    return names


def places(settings: dict) -> list[tuple[str, str, tuple]]:
    """Identity names are unique per resource group, whose names Azure compares without case."""
    return [("resource group", "resource_group", TargetSettings.of(settings).place)]
