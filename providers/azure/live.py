"""Live Azure, read-only: user-assigned identities in the target's resource group (azure-mgmt-msi),
their federated credentials, and the role assignments held by those identities
(azure-mgmt-authorization), PIM's active assignment schedules among them where the plan has any.
wiam's identities carry the tag managed-by = wiam."""

from __future__ import annotations

import logging
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from wiam import windows
from wiam.issuers import identity_fields
from wiam.live import (BY_HTTP_STATUS, FAILED, NO_CREDENTIALS, UNREACHABLE, WRONG_ACCOUNT, Adoptable, LiveObject,
                       Trusted, Unreadable, sayable)
from wiam.issuers import OtherWorkload
from wiam.model import Model, Target
from wiam.schema import grant_pattern

from .. import catalogs
from . import catalog, flexible
from .plan import AzurePlan
from .settings import DEFAULT_AUDIENCE, TargetSettings, grant_identity_name

MANAGED = ("managed-by", "wiam")
FLEXIBLE_API = flexible.TYPE.split("@")[1]  # the API version that returns claimsMatchingExpression
# ARM's codes for a token of another tenant, or a subscription these credentials do not see.
_WRONG_ACCOUNT = {"InvalidAuthenticationTokenTenant", "SubscriptionNotFound", "InvalidSubscriptionId"}
# Short timeouts and few retries: an unreachable endpoint fails the target in seconds.
_TRANSPORT = {"connection_timeout": 5, "read_timeout": 30, "retry_total": 2}


class EmulatorToken:
    """For an emulator on plain http: a placeholder bearer token, never a real credential."""

    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken
        return AccessToken("emulator", int(time.time()) + 3600)


def _emulator_authorization():
    """azure-core refuses bearer tokens over plain http; an emulator gets the placeholder this way."""
    from azure.core.pipeline.policies import SansIOHTTPPolicy

    class EmulatorAuthorization(SansIOHTTPPolicy):
        def on_request(self, request):
            request.http_request.headers["Authorization"] = "Bearer emulator"
    return EmulatorAuthorization()


@dataclass
class Connection:
    """Credentials from azure-identity's DefaultAzureCredential; `endpoint` replaces Azure Resource
    Manager (a sovereign cloud, or an emulator on plain http), `graph` Microsoft Graph (discovery)."""
    credential: Any
    endpoint: str | None = None
    graph: str | None = None

    def _options(self) -> dict:
        if not self.endpoint:
            return dict(_TRANSPORT)
        options = {**_TRANSPORT, "base_url": self.endpoint, "credential_scopes": [f"{self.endpoint.rstrip('/')}/.default"]}
        if self.endpoint.startswith("http://"):
            options["authentication_policy"] = _emulator_authorization()
        return options

    def identities(self, subscription: str):
        from azure.mgmt.msi import ManagedServiceIdentityClient
        return ManagedServiceIdentityClient(self.credential, subscription, **self._options())

    def authorization(self, subscription: str):
        from azure.mgmt.authorization import AuthorizationManagementClient
        return AuthorizationManagementClient(self.credential, subscription, **self._options())


def connect(endpoint: str | None = None, graph: str | None = None) -> Connection:
    # azure-identity logs each failed credential to stderr (Python's last-resort handler), repeating
    # what the target's reason already says.
    logging.getLogger("azure").addHandler(logging.NullHandler())
    if endpoint and endpoint.startswith("http://"):
        return Connection(EmulatorToken(), endpoint, graph)
    from azure.identity import DefaultAzureCredential
    return Connection(DefaultAzureCredential(exclude_interactive_browser_credential=True), endpoint, graph)


def expected(plan: AzurePlan) -> list[LiveObject]:
    found = [LiveObject("identity", i.name, {"location": plan.settings.location, "tags": i.tags})
             for i in plan.identities]
    found += [LiveObject("federated_credential", f"{i.name}/{c.name}", _credential_state(
        c.issuer, c.expression if c.claims else None, None if _named(c) else c.subject, c.audiences))
        for i in plan.identities for c in i.credentials]
    found += [LiveObject("role_assignment", a.name, {
        "identity": i.name, "scope": a.scope.lower(), "role": catalog.role_guid(a.reference[1])})
        for i in plan.identities for a in i.assignments if not a.schedule]
    found += [_schedule(i.name, a.scope, catalog.role_guid(a.reference[1]), a.schedule.start, a.schedule.end)
              for i in plan.identities for a in i.assignments if a.schedule]
    return found


def _credential_state(issuer: str, expression: str | None, subject: str | None, audiences) -> dict:
    """Exact credentials by subject, flexible ones by their claimsMatchingExpression (never both); a
    credential whose subject is another cloud's principal (a named workload) by issuer and audience."""
    if expression is not None:
        return {"issuer": issuer, "expression": expression, "audiences": sorted(audiences)}
    return {"issuer": issuer, **({"subject": subject} if subject is not None else {}), "audiences": sorted(audiences)}


def _named(credential) -> bool:
    """Whether the credential's subject is a named workload's principal: an ID another cloud assigned,
    which this target's state cannot tell (so it is not compared)."""
    return isinstance(credential.subject, OtherWorkload)


def _schedule(identity: str, scope: str, role: str, start: str | None, end: str | None) -> LiveObject:
    """A PIM active assignment schedule, named as Terraform's ID is (scope|role|principal): Azure names
    the schedule itself. An unset start is the apply's moment, so it is compared only when set."""
    state = {"identity": identity, "scope": scope.lower(), "role": role, "end": end}
    if start:
        state["start"] = start
    return LiveObject("pim_assignment", f"{scope.lower()}|{role}|{identity}", state)


def unchecked(plan: AzurePlan) -> int:
    return sum(_named(c) for i in plan.identities for c in i.credentials)  # their subjects


def importable(model: Model, target: Target, connection: Connection) -> dict[str, dict[str, str]]:
    return {}  # an Azure target reuses no object made outside wiam


@contextmanager
def _readable(what: str):
    from azure.core.exceptions import (AzureError, ClientAuthenticationError, HttpResponseError, ServiceRequestError,
                                       ServiceResponseError)
    try:
        yield
    except HttpResponseError as error:
        if isinstance(error, ClientAuthenticationError) and error.response is None:
            # raised by the credential chain before any request: it found nothing it could use
            raise Unreadable(f"{what}: {str(error).splitlines()[0]}", NO_CREDENTIALS) from None
        code = error.error.code if error.error else error.status_code
        reason = WRONG_ACCOUNT if code in _WRONG_ACCOUNT else BY_HTTP_STATUS.get(error.status_code, FAILED)
        raise Unreadable(f"{what}: {code}: {error.message.splitlines()[0] if error.message else ''}".rstrip(), reason) from None
    except (ServiceRequestError, ServiceResponseError) as error:
        raise Unreadable(f"{what}: {str(error).splitlines()[0]}", UNREACHABLE) from None
    except AzureError as error:
        raise Unreadable(f"{what}: {str(error).splitlines()[0]}") from None


def _credentials(operations, group: str, identity: str, reads_expressions: bool) -> list[LiveObject]:
    """An identity's federated credentials. azure-mgmt-msi knows no claimsMatchingExpression: where flexible
    ones are expected the preview API is asked and its JSON kept; the SDK asks for pages after the first in
    its GA version, so a credential there without a subject is read again on its own."""
    raw: dict[str, dict] = {}  # credential name -> its properties as sent

    def keep(response) -> None:
        body = response.http_response.json()
        raw.update((item["name"], item.get("properties") or {}) for item in body.get("value", [body]))
    preview = {"api_version": FLEXIBLE_API, "raw_response_hook": keep} if reads_expressions else {}
    found = []
    for credential in operations.list(group, identity, **preview):
        if preview and credential.subject is None and "claimsMatchingExpression" not in raw.get(credential.name, {}):
            operations.get(group, identity, credential.name, **preview)
        expression = (raw.get(credential.name, {}).get("claimsMatchingExpression") or {}).get("value")
        found.append(LiveObject("federated_credential", f"{identity}/{credential.name}", _credential_state(
            credential.issuer, expression, credential.subject, credential.audiences or [])))
    return found


def read(plan: AzurePlan, expected: list[LiveObject], connection: Connection) -> list[LiveObject]:
    subscription, group = plan.settings.subscription_id, plan.settings.resource_group
    wanted = {o.name for o in expected if o.kind == "identity"}
    reads_expressions = any("expression" in o.state for o in expected)
    found = []
    principals: dict[str, str] = {}  # principal ID -> identity name
    with _readable(f"managed identities in {group}"):
        msi = connection.identities(subscription)
        for identity in msi.user_assigned_identities.list_by_resource_group(group):
            tags = dict(identity.tags or {})
            if identity.name not in wanted and tags.get(MANAGED[0]) != MANAGED[1]:
                continue
            principals[identity.principal_id] = identity.name
            found.append(LiveObject("identity", identity.name, {"location": identity.location, "tags": tags}))
            found += _credentials(msi.federated_identity_credentials, group, identity.name, reads_expressions)
    by_reference = {o.name for o in expected if o.kind == "federated_credential" and set(o.state) == {"issuer", "audiences"}}
    found = [LiveObject(o.kind, o.name, {k: v for k, v in o.state.items() if k != "subject"}) if o.name in by_reference else o
             for o in found]
    schedules = _schedules(plan, expected, connection, principals)
    found += schedules
    # An active PIM schedule shows as a role assignment too: it is compared as the schedule.
    scheduled = {(o.state["identity"], o.state["scope"], o.state["role"]) for o in schedules}
    with _readable("role assignments"):
        for assignment in connection.authorization(subscription).role_assignments.list_for_subscription():
            holder = principals.get(assignment.principal_id)
            role = catalog.role_guid(assignment.role_definition_id)
            if holder is not None and (holder, assignment.scope.lower(), role) not in scheduled:
                found.append(LiveObject("role_assignment", assignment.name, {
                    "identity": holder, "scope": assignment.scope.lower(), "role": role}))
    return found


def _location(name: str) -> str:
    """A location as ARM compares it: "East US" is eastus."""
    return name.replace(" ", "").lower()


def adoptable(model: Model, target: Target, connection: Connection) -> list[Adoptable]:
    """The resource group's user-assigned identities that wiam did not create (no managed-by tag) and
    no grant of the target names: their federated credentials' exact subjects as identities, their
    role assignments at one scope as the grant's roles, and both, by name, as what the grant adopts
    (Azure refuses a second credential of one issuer and subject, and a second assignment of one role
    at one scope). One in another location is not proposed (azurerm_user_assigned_identity's location
    forces a new identity, with a new principal)."""
    settings = TargetSettings.of(target.settings)
    taken = {grant_identity_name(w.name, g.settings).lower() for w, g in model.grants_on(target)}  # ARM ignores case
    found, adopt = [], grant_pattern(__package__, "adopt")
    with _readable(f"managed identities in {settings.resource_group}"):
        msi = connection.identities(settings.subscription_id)
        identities = [i for i in msi.user_assigned_identities.list_by_resource_group(settings.resource_group)
                      if i.name.lower() not in taken and dict(i.tags or {}).get(MANAGED[0]) != MANAGED[1]]
        credentials = {i.name: list(msi.federated_identity_credentials.list(settings.resource_group, i.name))
                       for i in identities}
    with _readable("role assignments"):
        assignments = list(connection.authorization(settings.subscription_id).role_assignments.list_for_subscription())
    for identity in sorted(identities, key=lambda i: i.name):
        trusted, left = [], []
        exact = []
        for credential in credentials[identity.name]:
            if credential.subject is None:
                left.append(f"federated credential {credential.name!r} (a claims expression)")
                continue
            exact.append(credential)
            kind, fields = identity_fields(credential.issuer, credential.subject)
            trusted += [Trusted(credential.issuer, kind, fields, audience) for audience in credential.audiences or []]
        scopes: dict[str, list] = {}
        for assignment in assignments:
            if assignment.principal_id == identity.principal_id:
                scopes.setdefault(assignment.scope, []).append(assignment)
        grant, held = None, {}
        if scopes:  # a grant holds roles at one scope: the one with most, the others left
            scope = max(sorted(scopes), key=lambda s: len(scopes[s]))
            left += [f"roles {sorted({catalog.role_guid(a.role_definition_id) for a in theirs})} at {other}"
                     for other, theirs in sorted(scopes.items()) if other != scope]
            held = _held_roles(scopes[scope], scope, left)
        if held:  # none where every assignment there is under a condition: no grant can hold those
            grant = {"roles": sorted(held)}
            if scope.lower() != settings.subscription_scope.lower():
                grant["scope"] = scope
            adopted = _adopted_credentials(exact, left)
            if adopted:
                grant["adopt_credentials"] = adopted
            grant["adopt_assignments"] = dict(sorted(held.items()))
        refused = ("its location is not the target's: Terraform would replace it, and its principal with it"
                   if _location(identity.location) != _location(settings.location) else
                   "its name is no managed identity name wiam can keep" if not adopt.fullmatch(identity.name) else
                   "it trusts no exact subject" if not trusted else "it holds no role assignment a grant can hold" if grant is None
                   else None)
        found.append(Adoptable(identity.name, tuple(trusted), None if refused else grant, DEFAULT_AUDIENCE, None,
                               tuple(([refused] if refused else []) + left)))
    return found


def _held_roles(assignments: list, scope: str, left: list[str]) -> dict[str, str]:
    """Role GUID -> the name (a GUID) of the identity's assignment of it at `scope`, the grant adopts; a
    second of one role is left, by name, and so is one under a condition (ABAC): a grant holds none,
    and adopting it would drop the condition, which widens what the role allows."""
    held: dict[str, str] = {}
    for assignment in sorted(assignments, key=lambda a: a.name):
        role = catalog.role_guid(assignment.role_definition_id)
        if assignment.condition:
            left.append(f"role assignment {assignment.name!r} (role {role} at {scope} under the condition "
                        f"{assignment.condition!r}, which a grant cannot hold: it stays as it is)")
        elif held.setdefault(role, assignment.name) != assignment.name:
            left.append(f"role assignment {assignment.name!r} (a second of role {role} at {scope})")
    return held


def _adopted_credentials(credentials: list, left: list[str]) -> dict[str, str]:
    """Name -> subject of the exact credentials whose subject a proposed identity holds (the proposal
    drops a subject or audience a spec refuses, and says so), sorted by name. Credentials sharing a
    subject (under several issuers) are left: a grant adopts one credential per subject."""
    by_subject: dict[str, list] = {}
    for credential in credentials:
        by_subject.setdefault(credential.subject, []).append(credential)
    adopted = {}
    for subject, found in by_subject.items():
        if len(found) > 1:
            left.append(f"federated credentials {sorted(c.name for c in found)} (one subject under several "
                        f"issuers: a grant adopts one credential per subject; delete them before applying)")
        elif found[0].audiences and all(sayable(value) for value in (subject, *found[0].audiences)):
            adopted[found[0].name] = subject
    return dict(sorted(adopted.items()))


def _schedules(plan: AzurePlan, expected: list[LiveObject], connection: Connection,
               principals: dict[str, str]) -> list[LiveObject]:
    """The active PIM assignment schedules of the identities the plan gives some, read only then (a tenant
    without PIM licences has none to read); by principal, which lists them at, above and below the scope."""
    wanted = {o.name: o for o in expected if o.kind == "pim_assignment"}
    holders = {o.state["identity"] for o in wanted.values()}
    if not holders:
        return []
    found = []
    with _readable("PIM role assignment schedules"):
        client = connection.authorization(plan.settings.subscription_id)
        for principal in sorted(p for p, name in principals.items() if name in holders):
            for item in client.role_assignment_schedules.list_for_scope(
                    plan.settings.subscription_scope, filter=f"principalId eq '{principal}'"):
                found += _read_schedule(item, principals, wanted)
    return found


def _read_schedule(item, principals: dict[str, str], wanted: dict[str, LiveObject]) -> list[LiveObject]:
    holder = principals.get(item.principal_id)
    if holder is None or item.assignment_type not in (None, "Assigned"):
        return []  # another principal's, or an activation of an eligible assignment
    read = _schedule(holder, item.scope, catalog.role_guid(item.role_definition_id),
                     item.start_date_time and windows.text(item.start_date_time),
                     item.end_date_time and windows.text(item.end_date_time))
    if "start" not in wanted.get(read.name, read).state:
        read.state.pop("start", None)
    return [read]


def role_definition_records(connection: Connection) -> list[dict]:
    """Every built-in role definition, as the REST API shapes them (role definitions are global,
    so the subscription the client is made with is never used)."""
    with _readable("role definitions"):
        client = connection.authorization("00000000-0000-0000-0000-000000000000")
        return [{"name": definition.name, "roleName": definition.role_name, "permissions": [
            {"actions": p.actions or [], "notActions": p.not_actions or [], "dataActions": p.data_actions or [],
             "notDataActions": p.not_data_actions or []} for p in definition.permissions or []]}
            for definition in client.role_definitions.list("/", filter="type eq 'BuiltInRole'")]


def refresh_catalog(connect, folder: str | None, date: str) -> str:
    """Write the Azure built-in role catalog from the role definitions into `folder` (None: the
    catalog shipped with wiam); connect() makes the Connection."""
    records = role_definition_records(connect())
    path = os.path.join(folder or os.path.dirname(catalogs.__file__), catalogs.AZURE_FILE)
    catalogs.write(catalogs.azure_catalog(records, "Azure RBAC role definitions (BuiltInRole)", date), path)
    return f"{len(records)} built-in roles written to {path}"
