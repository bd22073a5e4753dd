"""The compiled trust admits exactly the named subjects, evaluated the way each cloud does it."""

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from wiam.compile import compile_model, load_model
from support.paths import EXAMPLE_SPECS, EXAMPLES
from support.specs import spec_errors, write_spec
from wiam.diagnostics import SpecError
from wiam.issuers import OIDC_KINDS
from wiam.model import host_path
from trust_eval import aws_roles_accepting, azure_identities_accepting, cel_admits, gcp_principals_accepting
from wiam.providers.gcp.plan import ATTRIBUTE_CONDITION_MAX, _chunks, subject_condition

EXAMPLE_DIRS = EXAMPLE_SPECS


def _compiled(folder):
    import json
    model = load_model(str(folder))
    return model, json.loads(compile_model(model)["main.tf.json"])


def _claims(identity, cloud):
    defaults = {"aws": "sts.amazonaws.com", "azure": "api://AzureADTokenExchange", "gcp": None}
    audience = identity.audience or identity.issuer.audience or defaults[cloud]
    return {"iss": identity.issuer.url, "sub": identity.subject, "aud": audience, **dict(identity.conditions)}


def _expected(model, identity, cloud):
    """The principals a token of `identity` (its subject and claims) reaches in a cloud that checks
    each principal's own trust: its workload's, and those of workloads that trust the same subject
    with no claim the token lacks (a shared subject gives the union of their access)."""
    def trusts(other):
        return (other.issuer.url == identity.issuer.url and other.subject == identity.subject
                and other.audience_for(None) == identity.audience_for(None)
                and set(other.conditions) <= set(identity.conditions))
    return {f"{g.target}__{w.name}" for w in model.workloads.values() for g in w.grants
            if g.cloud == cloud and (w.name == identity.workload or any(trusts(o) for o in w.active_identities))}


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
            if identity.issuer.kind == "spiffe_x509":  # an X.509-SVID (tests/test_x509.py): no token gets in
                assert aws_roles_accepting(module, _claims(identity, "aws")) == set()
                assert gcp_principals_accepting(module, dict(_claims(identity, "gcp"), aud="x")) == set()
                continue
            if identity.issuer.kind not in OIDC_KINDS:
                continue  # tokens of another shape: judged per kind (test_cross_cloud.py)
            aws = aws_roles_accepting(module, _claims(identity, "aws"))
            assert aws == _expected(model, identity, "aws"), identity.subject
            azure = azure_identities_accepting(module, _claims(identity, "azure"))
            assert azure == _expected(model, identity, "azure"), identity.subject
            gcp_grants = [g for g in workload.grants if g.cloud == "gcp"]
            if not gcp_grants:
                continue
            claims = _claims(identity, "gcp")
            if claims["aud"] is None:  # default audience: the provider's resource name
                # The identity's own provider: one checking its claims, where there is one.
                providers = sorted(module["resource"]["google_iam_workload_identity_pool_provider"].values(),
                                   key=lambda p: p["attribute_mapping"]["google.subject"] == "assertion.sub")
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
            if identity.issuer.kind not in OIDC_KINDS:
                continue  # tokens of another shape: judged per kind (test_cross_cloud.py)
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
    condition = subject_condition([(hostile, ()), ("plain", ())])
    assert cel_admits(condition, {"sub": hostile})
    assert cel_admits(condition, {"sub": "plain"})
    assert not cel_admits(condition, {"sub": hostile + " "})
    assert not cel_admits(condition, {"sub": "anything"})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=20), max_size=6, unique=True), st.text(max_size=20))
def test_gcp_condition_admits_exactly_its_subjects(subjects, other):
    condition = subject_condition([(s, ()) for s in subjects])
    assert all(cel_admits(condition, {"sub": s}) for s in subjects)
    assert cel_admits(condition, {"sub": other}) == (other in subjects)


def test_gcp_condition_is_the_equality_form_scanners_read():
    # checkov's CKV_GCP_125 judges the first `assertion.sub == '...'` it finds.
    assert subject_condition([("repo:acme/a:ref:refs/heads/main", ()), ("repo:acme/b:environment:prod", ())]) == (
        'assertion.sub == "repo:acme/a:ref:refs/heads/main" || assertion.sub == "repo:acme/b:environment:prod"')
    assert subject_condition([]) == "false" and not cel_admits("false", {"sub": ""})


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=127), max_size=150, unique=True))
def test_gcp_conditions_split_within_the_limit_and_keep_every_subject_once(subjects):
    chunks = _chunks([(s, ()) for s in sorted(subjects)])
    assert [s for chunk in chunks for s, _ in chunk] == sorted(subjects)
    conditions = [subject_condition(chunk) for chunk in chunks]
    assert all(len(c) <= ATTRIBUTE_CONDITION_MAX for c in conditions)
    # Greedy: a chunk ends only where the next subject would not fit.
    for condition, following in zip(conditions, chunks[1:]):
        assert len(condition + " || " + subject_condition(following[:1])) > ATTRIBUTE_CONDITION_MAX


# Workloads sharing a subject: either validate refuses, or every cloud keeps them apart.


SHARED_ISSUERS = {  # p1 and p2 are one URL, written two ways
    "p1": "https://idp.example.com", "p2": "https://idp.example.com/", "p3": "https://other.example.com"}
SHARED_TARGETS = {
    "aws": {"a": {"account_id": "111111111111"}},
    "gcp": {"g": {"project_id": "proj-g1", "project_number": "222222222222"}},
    "azure": {"z": {"tenant_id": "00000000-0000-0000-0000-000000000000",
                    "subscription_id": "11111111-1111-1111-1111-111111111111", "resource_group": "ids",
                    "location": "eastus"}},
}
SHARED_GRANTS = {
    "aws": {"a": {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}},
    "gcp": {"g": {"roles": ["roles/viewer"]}},
    "azure": {"z": {"roles": ["Reader"]}},
}
DEFAULT_AUDIENCE = {"aws": "sts.amazonaws.com", "azure": "api://AzureADTokenExchange", "gcp": None}

identity_keys = st.tuples(st.sampled_from(sorted(SHARED_ISSUERS)), st.sampled_from(["s0", "s1"]),
                          st.sampled_from([None, "a0", "a1"]))
workload_bodies = st.tuples(st.lists(identity_keys, min_size=1, max_size=3, unique=True),
                            st.sets(st.sampled_from(sorted(SHARED_GRANTS)), min_size=1))


def _shared_spec(workloads) -> dict:
    return {
        "issuer": {name: {"kind": "generic_oidc", "url": url} for name, url in SHARED_ISSUERS.items()},
        "target": SHARED_TARGETS,
        "workload": {f"w{n}": {
            "identity": [{"issuer": i, "subject": s, **({"audience": a} if a else {})} for i, s, a in identities],
            "grant": {cloud: SHARED_GRANTS[cloud] for cloud in sorted(clouds)},
        } for n, (identities, clouds) in enumerate(workloads)},
    }


def _token_key(cloud: str, identity) -> tuple:
    """What a cloud can tell apart in a token meant for this identity."""
    audience = identity.audience_for(DEFAULT_AUDIENCE[cloud])
    if cloud == "aws":
        return host_path(identity.issuer.url), identity.subject, audience
    if cloud == "gcp" and audience is None:  # the default audience is the provider's own name
        return identity.issuer.name, identity.subject, None
    return identity.issuer.url, identity.subject, audience


def _token(module: dict, cloud: str, identity) -> dict:
    claims = {"iss": identity.issuer.url, "sub": identity.subject,
              "aud": identity.audience_for(DEFAULT_AUDIENCE[cloud])}
    if claims["aud"] is None:
        claims["aud"] = "//iam.googleapis.com/projects/222222222222/locations/global/workloadIdentityPools/" \
                        "wiam-pool/providers/" + next(
                            p["workload_identity_pool_provider_id"]
                            for p in module["resource"]["google_iam_workload_identity_pool_provider"].values()
                            if p["description"] == f"wiam: issuer {identity.issuer.name}"
                            and "allowed_audiences" not in p["oidc"])
    return claims


ACCEPTING = {"aws": aws_roles_accepting, "gcp": gcp_principals_accepting, "azure": azure_identities_accepting}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(workload_bodies, min_size=2, max_size=4))
def test_shared_subjects_are_refused_or_kept_apart(workloads):
    with tempfile.TemporaryDirectory() as folder:
        write_spec(Path(folder), {"main.wiam.json": json.dumps(_shared_spec(workloads))})
        try:
            model = load_model(folder)
            module = json.loads(compile_model(model)["main.tf.json"])
        except SpecError:
            return
    for workload in model.workloads.values():
        for identity in workload.identities:
            for grant in workload.grants:
                cloud = grant.cloud
                key = _token_key(cloud, identity)
                allowed = {w.name for w in model.workloads.values() if any(g.cloud == cloud for g in w.grants)
                           and any(_token_key(cloud, i) == key for i in w.identities)}
                reached = {name.split("__")[-1].removeprefix("direct:")
                           for name in ACCEPTING[cloud](module, _token(module, cloud, identity))}
                assert workload.name in reached, (cloud, identity)
                assert reached <= allowed, (cloud, identity, reached, allowed)


def _generic(subject, audience=None, issuer="idp"):
    return f'issuer = "{issuer}"\n    subject = "{subject}"' + (f'\n    audience = "{audience}"' if audience else "")


IDP = 'issuer "idp" {\n  kind = "generic_oidc"\n  url = "https://idp.example.com"\n}\n'
VIEWER = [("gcp", "prod", 'roles = ["roles/viewer"]')]


def test_gcp_shared_subject_with_other_audience_names_both_workloads(spec):
    from support.specs import BASE_HCL, workload_hcl
    folder = spec({"base.wiam.hcl": BASE_HCL + IDP,
                   "a.wiam.hcl": workload_hcl("a", [_generic("svc", "one")], VIEWER),
                   "b.wiam.hcl": workload_hcl("b", [_generic("svc", "two")], VIEWER)})
    [error] = spec_errors(folder)
    assert (error.pos.file.endswith("b.wiam.hcl"), error.pos.line) == (True, 2)
    assert "a.wiam.hcl:2:3" in error.message and "'one'" in error.message and "'two'" in error.message
    assert "per pool" in error.message and "either workload can act as the other" in error.message
    assert "pool_id" in error.hint and "same issuer and audience" in error.hint


def test_gcp_subject_trusted_alike_by_both_or_by_one_workload_is_valid(spec):
    from support.specs import BASE_HCL, workload_hcl
    both = [_generic("svc", "one"), _generic("svc", "two")]
    folder = spec({"base.wiam.hcl": BASE_HCL + IDP, "a.wiam.hcl": workload_hcl("a", both, VIEWER),
                   "b.wiam.hcl": workload_hcl("b", both, VIEWER)})
    assert spec_errors(folder) == []
    module = json.loads(compile_model(load_model(str(folder)))["main.tf.json"])
    bindings = module["resource"]["google_service_account_iam_member"].values()
    assert sorted(b["service_account_id"] for b in bindings) == [  # one binding per subject, not per audience
        "${google_service_account.prod__a.name}", "${google_service_account.prod__b.name}"]


def test_gcp_one_way_leak_names_its_direction(spec):
    from support.specs import BASE_HCL, workload_hcl
    folder = spec({"base.wiam.hcl": BASE_HCL + IDP,
                   "a.wiam.hcl": workload_hcl("a", [_generic("svc", "one")], VIEWER),
                   "b.wiam.hcl": workload_hcl("b", [_generic("svc", "one"), _generic("svc", "two")], VIEWER)})
    [error] = spec_errors(folder)
    assert "a token for workload 'b' can act as workload 'a'" in error.message


def test_gcp_separate_pools_keep_a_shared_subject_apart(spec):
    from support.specs import BASE_HCL, workload_hcl
    other = '\ntarget "gcp" "other" {\n  project_id = "acme-other"\n  project_number = "999999999999"\n}\n'
    folder = spec({"base.wiam.hcl": BASE_HCL + IDP + other,
                   "a.wiam.hcl": workload_hcl("a", [_generic("svc", "one")], VIEWER),
                   "b.wiam.hcl": workload_hcl("b", [_generic("svc", "two")], [("gcp", "other", 'roles = ["roles/viewer"]')])})
    assert spec_errors(folder) == []


# AWS: one OIDC provider per issuer URL (normalised) and account.

def _one_url_issuers(second_url="https://IDP.example.com:443/", extra=""):
    return (IDP.replace('"https://idp.example.com"', '"https://idp.example.com"\n  audience = "one"')
            + f'issuer "idp2" {{\n  kind = "generic_oidc"\n  url = "{second_url}"\n  audience = "two"\n{extra}}}\n')


AWS_GRANT = [("aws", "prod", 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]')]


def _two_issuer_spec(spec, issuers, base=None):
    from support.specs import BASE_HCL, workload_hcl
    return spec({"base.wiam.hcl": (base or BASE_HCL) + issuers,
                 "a.wiam.hcl": workload_hcl("a", [_generic("svc-a")], AWS_GRANT),
                 "b.wiam.hcl": workload_hcl("b", [_generic("svc-b", issuer="idp2")], AWS_GRANT)})


@pytest.mark.parametrize("second_url", ["https://idp.example.com/", "https://IDP.example.com:443", "https://idp.example.com:443/"])
def test_issuers_of_one_url_share_one_aws_provider(spec, second_url):
    folder = _two_issuer_spec(spec, _one_url_issuers(second_url))
    model = load_model(str(folder))
    module = json.loads(compile_model(model)["main.tf.json"])
    [(name, provider)] = module["resource"]["aws_iam_openid_connect_provider"].items()
    assert name == "prod__idp" and provider["url"] == "https://idp.example.com"
    assert provider["client_id_list"] == ["one", "two"] and "thumbprint_list" not in provider
    roles = module["resource"]["aws_iam_role"]
    for role, subject, audience in (("prod__a", "svc-a", "one"), ("prod__b", "svc-b", "two")):
        assert roles[role]["depends_on"] == ["aws_iam_openid_connect_provider.prod__idp"]
        [statement] = json.loads(roles[role]["assume_role_policy"])["Statement"]
        assert statement["Principal"]["Federated"] == "arn:aws:iam::123456789012:oidc-provider/idp.example.com"
        assert statement["Condition"]["StringEquals"] == {"idp.example.com:aud": audience, "idp.example.com:sub": subject}
        claims = {"iss": "https://idp.example.com", "sub": subject, "aud": audience}
        assert aws_roles_accepting(module, claims) == {role}


def test_issuers_of_other_paths_keep_their_own_aws_providers(spec):
    folder = _two_issuer_spec(spec, _one_url_issuers("https://idp.example.com/tenant"))
    module = json.loads(compile_model(load_model(str(folder)))["main.tf.json"])
    assert sorted(p["url"] for p in module["resource"]["aws_iam_openid_connect_provider"].values()) == [
        "https://idp.example.com", "https://idp.example.com/tenant"]


def _with_existing(entries: str):
    from support.specs import BASE_HCL
    return BASE_HCL.replace('account_id = "123456789012"\n', f'account_id = "123456789012"\n  existing_oidc_providers = {{ {entries} }}\n')


ARN = "arn:aws:iam::123456789012:oidc-provider/idp.example.com"


@pytest.mark.parametrize("entries", [f'idp = "{ARN}"', f'idp2 = "{ARN}"', f'idp = "{ARN}", idp2 = "{ARN}"'])
def test_existing_provider_of_one_issuer_serves_every_issuer_of_its_url(spec, entries):
    folder = _two_issuer_spec(spec, _one_url_issuers(), _with_existing(entries))
    module = json.loads(compile_model(load_model(str(folder)))["main.tf.json"])
    assert "aws_iam_openid_connect_provider" not in module["resource"]
    for role in module["resource"]["aws_iam_role"].values():
        assert "depends_on" not in role
        assert json.loads(role["assume_role_policy"])["Statement"][0]["Principal"]["Federated"] == ARN


def test_two_existing_arns_for_one_url_are_refused(spec):
    other = ARN.replace("idp.example.com", "IDP.example.com")
    folder = _two_issuer_spec(spec, _one_url_issuers(), _with_existing(f'idp = "{ARN}", idp2 = "{other}"'))
    [error] = spec_errors(folder)
    assert "one OIDC provider per account" in error.message and "idp2" in error.message
    assert error.pos.file.endswith("base.wiam.hcl") and "one provider ARN" in error.hint


def test_disabling_one_issuer_of_a_shared_url_is_refused(spec):
    folder = _two_issuer_spec(spec, _one_url_issuers(extra='  disabled = true\n  reason = "INC-1"\n'))
    [error] = spec_errors(folder)
    assert error.block == 'issuer "idp"' and "'idp2' is disabled" in error.message
    assert "disable every issuer of this URL" in error.hint


def test_audiences_of_one_url_are_counted_together(spec):
    from support.specs import BASE_HCL, workload_hcl
    identities = [_generic(f"svc-{n}", f"aud-{n}", "idp" if n % 2 else "idp2") for n in range(101)]
    issuers = IDP + 'issuer "idp2" {\n  kind = "generic_oidc"\n  url = "https://idp.example.com/"\n}\n'
    folder = spec({"base.wiam.hcl": BASE_HCL.replace('target "aws" "prod" {\n', 'target "aws" "prod" {\n  trust_policy_quota = 4096\n')
                   + issuers, "a.wiam.hcl": workload_hcl("a", identities[:50], AWS_GRANT),
                   "b.wiam.hcl": workload_hcl("b", identities[50:], AWS_GRANT)})
    errors = [e for e in spec_errors(folder) if "audiences" in e.message]
    assert len(errors) == 1 and "101 audiences for one AWS OIDC provider" in errors[0].message


def test_azure_refuses_two_credentials_of_one_issuer_and_subject(spec):
    from support.specs import BASE_HCL, workload_hcl
    azure = [("azure", "prod", 'roles = ["Reader"]')]
    folder = spec({"base.wiam.hcl": BASE_HCL + IDP,
                   "a.wiam.hcl": workload_hcl("a", [_generic("svc", "one"), _generic("svc", "two")], azure)})
    [error] = spec_errors(folder)
    assert "one per issuer and subject" in error.message and "a.wiam.hcl:2:3" in error.message
    assert error.pos.line == 7 and error.block == 'identity #2 in workload "a"'
    apart = spec({"base.wiam.hcl": BASE_HCL + IDP,  # other workloads have their own managed identities
                  "a.wiam.hcl": workload_hcl("a", [_generic("svc", "one")], azure),
                  "b.wiam.hcl": workload_hcl("b", [_generic("svc", "two")], azure)})
    assert spec_errors(apart) == []
