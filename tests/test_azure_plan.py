"""Azure plans once: the graph's trust, simulation and drift's expected state read the plan, and each
agrees with the Terraform emitted from it, read here independently of the provider."""

import json
import tempfile
import uuid
from pathlib import Path

from hypothesis import given, settings, strategies as st

from wiam import registry
from wiam.compile import load_model
from wiam.graph import build_graph
from wiam.planning import plan_model
from wiam.providers.azure.settings import assignment_name
from wiam.simulate import simulate
from wiam.terraform import Module

SUBSCRIPTION = "11111111-1111-1111-1111-111111111111"
TARGET = {"tenant_id": "00000000-0000-0000-0000-000000000000", "subscription_id": SUBSCRIPTION,
          "resource_group": "ids", "location": "eastus"}
ISSUERS = {"a": {"kind": "generic_oidc", "url": "https://a.example/realm"},
           "b": {"kind": "generic_oidc", "url": "https://b.example", "audience": "api://b"}}
ROLES = ["Reader", "Storage Blob Data Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7"]

identities = st.fixed_dictionaries(
    {"issuer": st.sampled_from(sorted(ISSUERS)), "subject": st.sampled_from(["main", "dev", "a:b", "x" * 40])},
    optional={"audience": st.sampled_from(["api://AzureADTokenExchange", "custom"]), "disabled": st.just(True)})
grants = st.fixed_dictionaries({"roles": st.lists(st.sampled_from(ROLES), min_size=1, max_size=4)},
                               optional={"scope": st.sampled_from([f"/subscriptions/{SUBSCRIPTION}/resourceGroups/data",
                                                                   f"/subscriptions/{SUBSCRIPTION}"])})


@st.composite
def specs(draw) -> dict:
    workloads = {}
    for index in range(draw(st.integers(1, 3))):
        # one identity per issuer and subject: Azure takes one credential for each, and plan refuses more
        found = draw(st.lists(identities, min_size=1, max_size=4, unique_by=lambda i: (i["issuer"], i["subject"])))
        for identity in found:
            if identity.pop("disabled", False):
                identity.update(disabled=True, reason="revoked in a test")
        workloads[f"w{index}"] = {"identity": found, "grant": {"azure": {"prod": draw(grants)}}}
    return {"issuer": ISSUERS, "target": {"azure": {"prod": TARGET}}, "workload": workloads}


def _planned(spec: dict):
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "spec.wiam.json").write_text(json.dumps(spec), encoding="utf-8")
        model = load_model(folder)
    plans = plan_model(model)
    module = Module()
    registry.get("azure").emit(plans[("azure", "prod")], module)
    return model, plans, json.loads(json.dumps(module.resources))


def _credentials_of(resources: dict, identity: str) -> list[dict]:
    parent = "${azurerm_user_assigned_identity." + identity + ".id}"
    return [c for c in resources.get("azurerm_federated_identity_credential", {}).values() if c["user_assigned_identity_id"] == parent]


@settings(max_examples=40, deadline=None)
@given(specs())
def test_graph_trust_and_drift_expectations_are_the_emitted_credentials(spec):
    model, plans, resources = _planned(spec)
    access = build_graph(model, plans)
    identities = resources.get("azurerm_user_assigned_identity", {})
    expected = {(o.kind, o.name): o.state for o in registry.get("azure").live.expected(plans[("azure", "prod")])}
    for name, workload in spec["workload"].items():
        key = next(k for k, body in identities.items() if body["tags"]["wiam-workload"] == name)
        emitted = _credentials_of(resources, key)
        trust = access.graph.edges[f"workload:{name}", f"azure:identity:prod:{name}", "federates"]["trust"]
        assert trust == {"federated_credentials": sorted(
            ({"issuer": c["issuer"], "subject": c["subject"], "audience": c["audience"][0]} for c in emitted),
            key=lambda c: (c["issuer"], c["subject"]))}
        assert len(emitted) == sum(not i.get("disabled") for i in workload["identity"])
        identity = identities[key]["name"]
        assert expected[("identity", identity)] == {"location": "eastus", "tags": identities[key]["tags"]}
        for credential in emitted:
            assert expected[("federated_credential", f"{identity}/{credential['name']}")] == {
                "issuer": credential["issuer"], "subject": credential["subject"], "audiences": credential["audience"]}
    assignments = resources.get("azurerm_role_assignment", {}).values()
    assert sorted(a["name"] for a in assignments) == sorted(n for k, n in expected if k == "role_assignment")
    assert len(expected) == sum(map(len, resources.values()))  # nothing expected that is not emitted


@settings(max_examples=40, deadline=None)
@given(specs(), st.sampled_from(sorted(ISSUERS)), st.sampled_from(["main", "dev", "other"]),
       st.sampled_from(["api://AzureADTokenExchange", "api://b", "custom"]))
def test_simulation_accepts_what_an_emitted_credential_accepts(spec, issuer, subject, audience):
    model, plans, resources = _planned(spec)
    claims = {"iss": ISSUERS[issuer]["url"], "sub": subject, "aud": audience}
    identities = resources.get("azurerm_user_assigned_identity", {})
    accepted = {identities[key]["tags"]["wiam-workload"] for key in identities
                if any(c["issuer"] == claims["iss"] and c["subject"] == subject and audience in c["audience"]
                       for c in _credentials_of(resources, key))}
    assert {v.workload for v in simulate(model, claims, plans) if v.accepted} == accepted


@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",))), min_size=4, max_size=4))  # specs hold no surrogates
def test_assignment_names_are_uuid5_in_wiams_namespace(parts):
    namespace = uuid.UUID("5a0c6a52-7f2e-4be4-9d64-3e0c5f0f7a11")
    assert assignment_name(*parts) == str(uuid.uuid5(namespace, "\x00".join(parts)))
