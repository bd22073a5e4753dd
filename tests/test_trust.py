"""The compiled trust admits exactly the named subjects, evaluated the way each cloud does it."""

import pytest
from hypothesis import given, settings, strategies as st

from wiam.compile import compile_model, load_model
from conftest import EXAMPLE_SPECS, EXAMPLES
from trust_eval import aws_roles_accepting, azure_identities_accepting, cel_admits, gcp_principals_accepting
from wiam.providers.gcp import subject_condition
from wiam.providers.gcp import terraform as gcp_terraform

EXAMPLE_DIRS = EXAMPLE_SPECS


def _compiled(folder):
    import json
    model = load_model(str(folder))
    return model, json.loads(compile_model(model)["main.tf.json"])


def _claims(identity, cloud):
    defaults = {"aws": "sts.amazonaws.com", "azure": "api://AzureADTokenExchange", "gcp": None}
    audience = identity.audience or identity.issuer.audience or defaults[cloud]
    return {"iss": identity.issuer.url, "sub": identity.subject, "aud": audience}


def _expected(model, workload_name, cloud):
    return {f"{g.target}__{workload_name}" for g in model.workloads[workload_name].grants if g.cloud == cloud}


def _near_misses(subject: str):
    yield subject + "x"
    yield subject[:-1]
    yield "x" + subject
    yield subject.swapcase()
    yield subject.replace("main", "mainx") if "main" in subject else subject + "/other"
    yield subject.replace("acme/", "acme-evil/") if "acme/" in subject else subject + ":extra"
    yield subject.replace(":", "::", 1)


@pytest.mark.parametrize("folder", EXAMPLE_DIRS, ids=lambda p: p.name)
def test_each_named_subject_reaches_exactly_its_workload(folder):
    model, module = _compiled(folder)
    for workload in model.workloads.values():
        for identity in workload.identities:
            aws = aws_roles_accepting(module, _claims(identity, "aws"))
            assert aws == _expected(model, workload.name, "aws"), identity.subject
            azure = azure_identities_accepting(module, _claims(identity, "azure"))
            assert azure == _expected(model, workload.name, "azure"), identity.subject
            gcp_grants = [g for g in workload.grants if g.cloud == "gcp"]
            if not gcp_grants:
                continue
            claims = _claims(identity, "gcp")
            if claims["aud"] is None:  # default audience: the provider's resource name
                providers = module["resource"]["google_iam_workload_identity_pool_provider"].values()
                claims["aud"] = next(
                    f"//iam.googleapis.com/projects/x/locations/global/workloadIdentityPools/p/providers/"
                    f"{p['workload_identity_pool_provider_id']}" for p in providers
                    if cel_admits(p["attribute_condition"], claims))
            reached = gcp_principals_accepting(module, claims)
            expected = set()
            for grant in gcp_grants:
                mode = grant.settings.get("mode", "service_account")
                expected.add(f"{grant.target}__{workload.name}" if mode == "service_account" else f"direct:{workload.name}")
            assert reached == expected, identity.subject


@pytest.mark.parametrize("folder", EXAMPLE_DIRS, ids=lambda p: p.name)
def test_near_miss_subjects_are_refused_everywhere(folder):
    model, module = _compiled(folder)
    named = {i.subject for w in model.workloads.values() for i in w.identities}
    for workload in model.workloads.values():
        for identity in workload.identities:
            for miss in _near_misses(identity.subject):
                if miss in named:
                    continue
                for cloud, evaluate in (("aws", aws_roles_accepting), ("azure", azure_identities_accepting)):
                    claims = dict(_claims(identity, cloud), sub=miss)
                    assert evaluate(module, claims) == set(), (cloud, miss)
                claims = dict(_claims(identity, "gcp"), sub=miss)
                for provider in module.get("resource", {}).get("google_iam_workload_identity_pool_provider", {}).values():
                    assert not cel_admits(provider["attribute_condition"], claims), miss


def test_other_issuer_with_same_subject_is_refused():
    model, module = _compiled(EXAMPLES / "spec-reference")
    claims = {"iss": "https://gitlab.com", "sub": "repo:acme/payments:ref:refs/heads/main", "aud": "sts.amazonaws.com"}
    assert aws_roles_accepting(module, claims) == set()
    assert azure_identities_accepting(module, dict(claims, aud="api://AzureADTokenExchange")) == set()
    assert gcp_principals_accepting(module, claims) == set()


@pytest.mark.parametrize("hostile", ['a"b', "a\\b", 'a\\"] || true || ["', "line\nbreak", "tab\there", "\u00e9\u6f22", "${x}%{y}"])
def test_cel_literals_hold_hostile_subjects_exactly(hostile):
    condition = subject_condition([hostile, "plain"])
    assert cel_admits(condition, {"sub": hostile})
    assert cel_admits(condition, {"sub": "plain"})
    assert not cel_admits(condition, {"sub": hostile + " "})
    assert not cel_admits(condition, {"sub": "anything"})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=6, unique=True), st.text(max_size=20))
def test_gcp_condition_admits_exactly_its_subjects(subjects, other):
    condition = subject_condition(subjects)
    assert all(cel_admits(condition, {"sub": s}) for s in subjects)
    assert cel_admits(condition, {"sub": other}) == (other in subjects)


def test_gcp_condition_is_the_equality_form_scanners_read():
    # checkov's CKV_GCP_125 judges the first `assertion.sub == '...'` it finds.
    assert subject_condition(["repo:acme/a:ref:refs/heads/main", "repo:acme/b:environment:prod"]) == (
        'assertion.sub == "repo:acme/a:ref:refs/heads/main" || assertion.sub == "repo:acme/b:environment:prod"')
    assert subject_condition([]) == "false" and not cel_admits("false", {"sub": ""})


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=127), max_size=150, unique=True))
def test_gcp_conditions_split_within_the_limit_and_keep_every_subject_once(subjects):
    chunks = gcp_terraform._chunks(sorted(subjects))
    assert [s for chunk in chunks for s in chunk] == sorted(subjects)
    conditions = [gcp_terraform.subject_condition(chunk) for chunk in chunks]
    assert all(len(c) <= gcp_terraform.ATTRIBUTE_CONDITION_MAX for c in conditions)
    # Greedy: a chunk ends only where the next subject would not fit.
    for condition, following in zip(conditions, chunks[1:]):
        assert len(condition + " || " + gcp_terraform.subject_condition(following[:1])) > gcp_terraform.ATTRIBUTE_CONDITION_MAX
