"""Azure drift with azure-mgmt-msi and azure-mgmt-authorization pointed at a local fake of ARM."""

import json

import pytest

from wiam import registry
from wiam.compile import load_model
from wiam.drift import drift
from wiam.planning import plan_model
from wiam.terraform import Module
from support.cli import run_wiam
from support.specs import write_spec
from fake_azure import State, apply, assignment, fake_azure, identity
from wiam.providers.azure import live

PROD, LOCKED = "22222222-2222-2222-2222-222222222222", "33333333-3333-3333-3333-333333333333"
SPEC = {
    "issuer": {"aks": {"kind": "kubernetes", "url": "https://westeurope.oic.prod-aks.azure.com/tenant/cluster/"}},
    "target": {"azure": {
        "prod": {"tenant_id": "00000000-0000-0000-0000-000000000000", "subscription_id": PROD,
                 "resource_group": "ids", "location": "westeurope"},
        "locked": {"tenant_id": "00000000-0000-0000-0000-000000000000", "subscription_id": LOCKED,
                   "resource_group": "ids", "location": "westeurope"}}},
    "workload": {
        "checkout": {"owner": "team-checkout", "identity": [
            {"issuer": "aks", "namespace": "checkout", "service_account": "api"},
            {"issuer": "aks", "namespace": "checkout", "service_account": "worker"}],
            "grant": {"azure": {"prod": {"roles": ["Key Vault Secrets User"],
                                         "scope": f"/subscriptions/{PROD}/resourceGroups/checkout"},
                                "locked": {"roles": ["Reader"]}}}},
        "scanner": {"owner": "team-security", "identity": [
            {"issuer": "aks", "namespace": "security", "service_account": "scanner"}],
            "grant": {"azure": {"prod": {"roles": ["Reader"]}}}},
    },
}


@pytest.fixture
def cloud(tmp_path):
    model = load_model(str(write_spec(tmp_path / "spec", {"spec.wiam.json": json.dumps(SPEC)})))
    state = State()
    for (cloud, _), plan in plan_model(model).items():
        registry.get(cloud).emit(plan, module := Module())
        apply(state, module.resources, plan.settings.subscription_id)
    state.forbidden.add(LOCKED)
    with fake_azure(state) as endpoint:
        yield model, state, live.connect(endpoint), endpoint


def prod_drift(model, connection):
    results = {r.target: r for r in drift(model, {"azure": connection})}
    assert results["locked"].unreadable.startswith("managed identities in ids: AuthorizationFailed")
    assert results["locked"].reason == "access-denied"
    return results["prod"]


def identities(state):
    return state.subscriptions[PROD]["identities"]


def test_applied_spec_has_no_drift(cloud):
    model, state, connection, _ = cloud
    assert sum(len(i["credentials"]) for i in identities(state).values()) == 3
    result = prod_drift(model, connection)
    assert not result.drifted and result.unreadable is None


def test_edited_subject_and_portal_credential(cloud):
    model, state, connection, _ = cloud
    checkout = identities(state)[("ids", "wiam-checkout")]
    first = sorted(checkout["credentials"])[0]
    original = checkout["credentials"][first]["properties"]["subject"]
    checkout["credentials"][first]["properties"]["subject"] = "system:serviceaccount:checkout:default"
    checkout["credentials"]["added-in-portal"] = {**checkout["credentials"][first], "name": "added-in-portal"}
    result = prod_drift(model, connection)
    (expected, _, found), = result.changed
    assert (expected.kind, expected.name) == ("federated_credential", f"wiam-checkout/{first}")
    assert found == [{"field": "subject", "expected": original, "actual": "system:serviceaccount:checkout:default"}]
    assert [(o.kind, o.name) for o in result.extra] == [("federated_credential", "wiam-checkout/added-in-portal")]
    assert not result.missing


def test_portal_role_assignment_and_deleted_identity(cloud):
    model, state, connection, _ = cloud
    scanner = identities(state)[("ids", "wiam-scanner")]
    owner = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"  # Owner's built-in role ID
    state.subscriptions[PROD]["assignments"].append(assignment(
        PROD, "0f0f0f0f-0000-4000-8000-000000000001", f"/subscriptions/{PROD}", owner,
        scanner["properties"]["principalId"]))
    state.subscriptions[PROD]["assignments"].append(assignment(  # someone else's: ignored
        PROD, "0f0f0f0f-0000-4000-8000-000000000002", f"/subscriptions/{PROD}", owner, "another-principal"))
    del identities(state)[("ids", "wiam-checkout")]
    result = prod_drift(model, connection)
    assert [(o.kind, o.name) for o in result.extra] == [("role_assignment", "0f0f0f0f-0000-4000-8000-000000000001")]
    assert result.extra[0].state == {"identity": "wiam-scanner", "scope": f"/subscriptions/{PROD}", "role": owner}
    missing = sorted(o.kind for o in result.missing)
    assert missing == ["federated_credential", "federated_credential", "identity", "role_assignment"]


def test_tagged_identity_not_in_spec_is_extra(cloud):
    model, state, connection, _ = cloud
    identities(state)[("ids", "wiam-retired")] = identity(PROD, "ids", "wiam-retired", "westeurope",
                                                          {"managed-by": "wiam", "wiam-workload": "retired"})
    identities(state)[("ids", "platform-admin")] = identity(PROD, "ids", "platform-admin", "westeurope", {})
    result = prod_drift(model, connection)
    assert [(o.kind, o.name) for o in result.extra] == [("identity", "wiam-retired")]


def test_cli_text(cloud, tmp_path):
    model, state, _, endpoint = cloud
    spec = write_spec(tmp_path / "cli", {"spec.wiam.json": json.dumps(SPEC)})
    command = ["drift", spec, "--azure-endpoint", endpoint]
    clean = run_wiam(*command, timeout=120)
    assert clean.returncode == 3, clean.stderr  # `locked` refuses: the run is incomplete
    assert "azure prod: no drift" in clean.stdout and "azure locked: not read (access denied): " in clean.stdout
    assert "0 of 2 targets drifted, 1 not read" in clean.stdout
    excused = run_wiam(*command, "--allow-unread", timeout=120)
    assert excused.returncode == 0 and "azure locked: not read (access denied): " in excused.stdout
    identities(state)[("ids", "wiam-scanner")]["tags"]["owner"] = "someone-else"
    drifted = run_wiam(*command, "--target", "prod", timeout=120)
    assert drifted.returncode == 1
    assert 'changed identity wiam-scanner\n    tags.owner: expected "team-security", found "someone-else"' in drifted.stdout


def test_subscription_the_credentials_do_not_see_is_the_wrong_account(cloud):
    model, state, connection, _ = cloud
    state.forbidden.clear()
    del state.subscriptions[LOCKED]  # ARM answers SubscriptionNotFound, as for another tenant's subscription
    results = {r.target: r for r in drift(model, {"azure": connection})}
    assert results["locked"].reason == "wrong-account"
    assert results["locked"].unreadable.startswith("managed identities in ids: SubscriptionNotFound")
    assert results["prod"].unreadable is None
