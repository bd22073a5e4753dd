"""Cloud-to-cloud identities and chains: a Google service account, an Entra managed identity and an AWS
role trusted by the other clouds exactly (judged by tests/trust_eval.py as each cloud does), identities
naming another workload compiled to its principal, their errors, --split, and the chain in the graph."""

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from support.paths import EXAMPLES
from support.specs import BASE_HCL, compiled_files, resources, spec_errors, workload_hcl, write_spec
from trust_eval import aws_roles_accepting, azure_identities_accepting, gcp_principals_accepting
from wiam.chains import applied, template
from wiam.compile import load_model
from wiam.issuers import UUID
from wiam.graph import build_graph
from wiam.query import blast_radius, starting_points, who_can
from wiam.simulate import simulate
from wiam.terraform import ref

AWS_GRANT = ("aws", "prod", 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]')
GCP_GRANT = ("gcp", "prod", 'roles = ["roles/storage.objectViewer"]\n    resource = "projects/_/buckets/acme-data"')
AZURE_GRANT = ("azure", "prod", 'roles = ["Reader"]\n    scope = "/subscriptions/11111111-1111-1111-1111-111111111111"')
TENANT = "00000000-0000-0000-0000-000000000000"
ISSUERS = f'''
issuer "google" {{
  kind = "gcp_service_account"
}}

issuer "entra" {{
  kind      = "azure_managed_identity"
  tenant_id = "{TENANT}"
  audience  = "api://wiam-federation"
}}

issuer "aws-roles" {{
  kind = "aws_role"
}}
'''
ENTRA = f"https://sts.windows.net/{TENANT}/"
POOL_PROVIDER = "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/wiam-pool/providers/{}"


def _module(tmp_path, text, split=False):
    return compiled_files(write_spec(tmp_path, {"main.wiam.hcl": BASE_HCL + ISSUERS + text}), split=split)


def _errors(tmp_path, text):
    return spec_errors(write_spec(tmp_path, {"main.wiam.hcl": BASE_HCL + ISSUERS + text}))


unique_ids = st.text("0123456789", min_size=21, max_size=21)
role_names = st.text("abcdefghijklmnopqrstuvwxyz0123456789+=,.@_-", min_size=1, max_size=40)
sessions = st.text("abcdefghijklmnopqrstuvwxyz0123456789=,.@-", min_size=2, max_size=64)


def _neighbour(value: str, alphabet: str) -> str:
    """One character of `value` changed: another ID or name of the same form."""
    other = next(c for c in alphabet if c != value[-1])
    return value[:-1] + other


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(unique_id=unique_ids)
def test_aws_and_azure_accept_exactly_the_named_google_service_account(tmp_path_factory, unique_id):
    text = workload_hcl("gsa", identities=[f'issuer = "google"\n    unique_id = "{unique_id}"'],
                        grants=[AWS_GRANT, AZURE_GRANT])
    module = _module(tmp_path_factory.mktemp("spec"), text)["main.tf.json"]
    token = {"iss": "https://accounts.google.com", "sub": unique_id, "azp": unique_id, "aud": "sts.amazonaws.com",
             "email": "gsa@acme.iam.gserviceaccount.com"}
    assert aws_roles_accepting(module, token) == {"prod__gsa"}
    assert azure_identities_accepting(module, dict(token, aud="api://AzureADTokenExchange")) == {"prod__gsa"}
    other = _neighbour(unique_id, "0123456789")
    for refused in (dict(token, sub=other, azp=other), dict(token, azp=other), dict(token, aud="sts.amazonaws.co")):
        assert aws_roles_accepting(module, refused) == set(), refused
    assert azure_identities_accepting(module, dict(token, sub=other, aud="api://AzureADTokenExchange")) == set()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(principal=st.uuids().map(str))
def test_aws_and_gcp_accept_exactly_the_named_managed_identity(tmp_path_factory, principal):
    text = workload_hcl("mi", identities=[f'issuer = "entra"\n    principal_id = "{principal}"'],
                        grants=[AWS_GRANT, GCP_GRANT])
    module = _module(tmp_path_factory.mktemp("spec"), text)["main.tf.json"]
    token = {"iss": ENTRA, "sub": principal, "oid": principal, "tid": TENANT, "aud": "api://wiam-federation"}
    assert aws_roles_accepting(module, token) == {"prod__mi"}
    assert gcp_principals_accepting(module, token) == {"prod__mi"}
    other = _neighbour(principal, "0123456789abcdef")
    for refused in (dict(token, sub=other), dict(token, aud="api://AzureADTokenExchange"),
                    dict(token, iss=ENTRA.replace("0000/", "0001/"))):
        assert aws_roles_accepting(module, refused) == set(), refused
        assert gcp_principals_accepting(module, refused) == set(), refused


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(role=role_names, session=sessions, path=st.sampled_from(["", "service-role/", "a/b/"]))
def test_gcp_accepts_every_session_of_exactly_the_named_role(tmp_path_factory, role, session, path):
    text = workload_hcl("loader", identities=[f'issuer = "aws-roles"\n    role_arn = "arn:aws:iam::210987654321:role/{path}{role}"'],
                        grants=[GCP_GRANT])
    module = _module(tmp_path_factory.mktemp("spec"), text)["main.tf.json"]
    (provider,) = resources(module, "google_iam_workload_identity_pool_provider").values()
    arn = f"arn:aws:sts::210987654321:assumed-role/{role}/{session}"
    caller = {"iss": "sts.amazonaws.com", "sub": arn, "arn": arn, "account": "210987654321",
              "aud": POOL_PROVIDER.format(provider["workload_identity_pool_provider_id"])}
    assert gcp_principals_accepting(module, caller) == {"prod__loader"}
    neighbours = [n for n in (role + "x", role[:-1], "x" + role) if n and n != role]
    for other in neighbours:
        wrong = f"arn:aws:sts::210987654321:assumed-role/{other}/{session}"
        assert gcp_principals_accepting(module, dict(caller, sub=wrong, arn=wrong)) == set(), other
    assert gcp_principals_accepting(module, dict(caller, account="210987654322")) == set()
    # the role's own ARN is no session: GCP's STS sees only assumed roles of the account
    assert gcp_principals_accepting(module, dict(caller, arn=f"arn:aws:iam::210987654321:role/{role}")) == set()


CHAIN = (workload_hcl("deployer")
         + workload_hcl("exporter", identities=['issuer = "aws-roles"\n    workload = "deployer"'], grants=[GCP_GRANT])
         + workload_hcl("reporter", identities=['issuer = "google"\n    workload = "exporter"'], grants=[AZURE_GRANT]))


def _deployed(module: dict, values: dict[str, str]) -> dict:
    """The module as applied: each reference to a created principal's ID is the ID the cloud gave it."""
    text = json.dumps(module)
    for reference, value in values.items():
        text = text.replace("${" + reference + "}", value)
    assert not re.search(r"(?<!\$)\$\{google_service_account\.[^}]*unique_id\}", text)
    return json.loads(text)


def test_a_named_workload_is_its_principal_in_the_trust(tmp_path):
    files = _module(tmp_path, CHAIN)
    module = files["main.tf.json"]
    (credential,) = resources(module, "azurerm_federated_identity_credential").values()
    assert credential["issuer"] == "https://accounts.google.com"
    assert credential["subject"] == "${google_service_account.prod__exporter.unique_id}"
    (provider,) = resources(module, "google_iam_workload_identity_pool_provider").values()
    assert provider["aws"] == {"account_id": "123456789012"} and "oidc" not in provider
    member = "arn:aws:sts::123456789012:assumed-role/wiam-deployer"
    assert any(b["member"].endswith(f"/subject/{member}")
               for b in resources(module, "google_service_account_iam_member").values())
    # As deployed, exactly the exporter's account is the reporter; another account is not.
    deployed = _deployed(module, {"google_service_account.prod__exporter.unique_id": "104729365018274619350"})
    token = {"iss": "https://accounts.google.com", "sub": "104729365018274619350", "aud": "api://AzureADTokenExchange"}
    assert azure_identities_accepting(deployed, token) == {"prod__reporter"}
    assert azure_identities_accepting(deployed, dict(token, sub="104729365018274619351")) == set()
    assert _module(tmp_path / "again", CHAIN) == files  # deterministic


def test_aws_trust_refers_to_a_named_account_and_escapes_the_rest(tmp_path):
    text = (workload_hcl("exporter", grants=[GCP_GRANT])
            + workload_hcl("uploader", identities=['issuer = "google"\n    workload = "exporter"',
                                                   'issuer = "github"\n    repository = "acme/a"\n    environment = "p$${x}"'],
                           grants=[AWS_GRANT]))
    module = _module(tmp_path, text)["main.tf.json"]
    policy = resources(module, "aws_iam_role")["prod__uploader"]["assume_role_policy"]
    # the reference is a Terraform template; the user's `${` is escaped for Terraform and for IAM
    assert '"accounts.google.com:sub":"${google_service_account.prod__exporter.unique_id}"' in policy
    assert "repo:acme/a:environment:p$${$}{x}" in policy
    deployed = _deployed(module, {"google_service_account.prod__exporter.unique_id": "104729365018274619350"})
    token = {"iss": "https://accounts.google.com", "sub": "104729365018274619350", "azp": "104729365018274619350",
             "aud": "sts.amazonaws.com"}
    assert aws_roles_accepting(json.loads(json.dumps(deployed).replace("$${", "${")), token) == {"prod__uploader"}


def test_split_reads_a_named_principal_from_its_module(tmp_path):
    files = _module(tmp_path, CHAIN, split=True)
    azure = files["azure-prod/main.tf.json"]
    (credential,) = resources(azure, "azurerm_federated_identity_credential").values()
    assert credential["subject"] == "${data.google_service_account.prod__exporter.unique_id}"
    assert azure["data"]["google_service_account"]["prod__exporter"] == {
        "provider": "google.prod", "account_id": "wiam-exporter", "project": "acme-prod"}
    assert [c["alias"] for c in azure["provider"]["google"]] == ["prod"]
    assert "google" in files["azure-prod/versions.tf"]
    assert "data" not in files["gcp-prod/main.tf.json"]  # the role's ARN is known: no lookup


def test_blast_radius_and_who_can_follow_the_chain_hop_by_hop(tmp_path):
    model = load_model(str(write_spec(tmp_path, {"main.wiam.hcl": BASE_HCL + ISSUERS + CHAIN})))
    access = build_graph(model)
    reached = {r.node: r for r in blast_radius(access, starting_points(access, subject="repo:acme/app:ref:refs/heads/main"))}
    azure = reached["azure:identity:prod:reporter"]
    labels = [access.graph.nodes[n]["label"] for n in azure.path]
    assert labels == ["repo:acme/app:ref:refs/heads/main", "deployer", "wiam-deployer", "workload:deployer", "exporter",
                      "wiam-exporter@acme-prod.iam.gserviceaccount.com", "workload:exporter", "reporter", "wiam-reporter"]
    assert (azure.hops, reached["gcp:service_account:prod:exporter"].hops) == (2, 1)
    answers = {a.subject: a for a in who_can(access, role="Reader")}
    assert answers["subject:github:repo:acme/app:ref:refs/heads/main"].hops == 2
    assert set(answers) == {"subject:github:repo:acme/app:ref:refs/heads/main", "subject:aws-roles:workload:deployer",
                            "subject:google:workload:exporter"}


def test_a_disabled_link_breaks_the_chain(tmp_path):
    text = CHAIN.replace('workload = "exporter"', 'workload = "exporter"\n    disabled = true\n    reason = "INC-1"')
    model = load_model(str(write_spec(tmp_path, {"main.wiam.hcl": BASE_HCL + ISSUERS + text})))
    access = build_graph(model)
    reached = {r.node for r in blast_radius(access, starting_points(access, subject="repo:acme/app:ref:refs/heads/main"))}
    assert "gcp:service_account:prod:exporter" in reached and "azure:identity:prod:reporter" not in reached


def test_simulate_judges_an_aws_caller_as_gcp_does():
    model = load_model(str(EXAMPLES / "aws-role-to-gcp"))
    arn = "arn:aws:sts::410987654321:assumed-role/orders-loader/fn"
    caller = {"iss": "sts.amazonaws.com", "sub": arn, "arn": arn, "account": "410987654321",
              "aud": POOL_PROVIDER.replace("123456789012", "593026847312").format("aws-410987654321")}
    assert [v.workload for v in simulate(model, caller) if v.accepted] == ["orders-loader"]
    other = arn.replace("orders-loader/", "orders-loader2/")
    (verdict,) = simulate(model, dict(caller, sub=other, arn=other))
    assert not verdict.accepted and any(r.startswith("sub:") for r in verdict.reasons)
    (verdict,) = simulate(model, dict(caller, account="410987654322"))
    assert any(r.startswith("account:") for r in verdict.reasons)


NAMED = [
    ('issuer = "google"\n    workload = "ghost"', [AWS_GRANT], "no workload named 'ghost'", "name a workload"),
    ('issuer = "google"\n    workload = "app"', [AWS_GRANT], "workload 'app' names itself", "name the workload"),
    ('issuer = "google"\n    workload = "other"', [AWS_GRANT], "workload 'other' has no gcp principal",
     "grant workload 'other' on a gcp target"),
]


@pytest.mark.parametrize("identity, grants, message, fix", NAMED)
def test_naming_a_workload_is_checked_where_it_is_written(tmp_path, identity, grants, message, fix):
    other = workload_hcl("other", grants=[AWS_GRANT] if "entra" not in identity else [AZURE_GRANT])
    text = other + workload_hcl("app", identities=[identity], grants=grants)
    errors = [e for e in _errors(tmp_path, text) if message in e.message]
    assert len(errors) == 1 and errors[0].hint.startswith(fix), _errors(tmp_path, text)
    source = (BASE_HCL + ISSUERS + text).splitlines()
    line = errors[0].pos.line
    assert source[line - 1].strip().startswith("workload =") and errors[0].block == 'identity #1 in workload "app"'


def test_a_service_account_in_direct_mode_or_two_targets_is_refused(tmp_path):
    direct = ("gcp", "prod", GCP_GRANT[2] + '\n    mode = "direct"')
    text = (workload_hcl("other", grants=[direct])
            + workload_hcl("app", identities=['issuer = "google"\n    workload = "other"'], grants=[AWS_GRANT]))
    (error,) = _errors(tmp_path / "direct", text)
    assert "direct mode" in error.message and error.hint.startswith("grant workload 'other' in service_account mode")
    two = BASE_HCL.replace('target "gcp" "prod"', 'target "gcp" "dev" {\n  project_id = "acme-dev"\n'
                                                '  project_number = "223456789012"\n}\n\ntarget "gcp" "prod"')
    text = (workload_hcl("other", grants=[GCP_GRANT, ("gcp", "dev", GCP_GRANT[2])])
            + workload_hcl("app", identities=['issuer = "google"\n    workload = "other"'], grants=[AWS_GRANT]))
    (error,) = spec_errors(write_spec(tmp_path / "two", {"main.wiam.hcl": two + ISSUERS + text}))
    assert "has 2 gcp principals" in error.message and "exactly one gcp target" in error.hint


def test_a_cycle_of_named_workloads_is_refused_once(tmp_path):
    text = (workload_hcl("a", identities=['issuer = "google"\n    workload = "b"'], grants=[AWS_GRANT])
            + workload_hcl("b", identities=['issuer = "aws-roles"\n    workload = "a"'], grants=[GCP_GRANT]))
    (error,) = _errors(tmp_path, text)
    assert error.message.endswith("a -> b -> a") and "break the cycle" in error.hint
    three = (workload_hcl("c", identities=['issuer = "entra"\n    workload = "a"'], grants=[AWS_GRANT])
             + workload_hcl("a", identities=['issuer = "google"\n    workload = "b"'], grants=[AWS_GRANT, AZURE_GRANT])
             + workload_hcl("b", identities=['issuer = "aws-roles"\n    workload = "c"'], grants=[GCP_GRANT]))
    (error,) = _errors(tmp_path / "three", three)
    assert error.message.endswith("a -> b -> c -> a") and error.block == 'identity #1 in workload "a"'


def test_an_entra_issuer_needs_its_audience(tmp_path):
    text = f'issuer "mi" {{\n  kind = "azure_managed_identity"\n  tenant_id = "{TENANT}"\n}}\n'
    (error,) = spec_errors(write_spec(tmp_path, {"main.wiam.hcl": BASE_HCL + text}))
    assert error.message == "a azure_managed_identity issuer needs audience" and "application ID URI" in error.hint


def test_azure_refuses_an_aws_role_naming_the_cloud_and_kind(tmp_path):
    text = workload_hcl("app", identities=['issuer = "aws-roles"\n    role_arn = "arn:aws:iam::123456789012:role/x"'],
                        grants=[AZURE_GRANT])
    (error,) = _errors(tmp_path, text)
    assert error.message.startswith("azure target 'prod' cannot accept a aws_role identity") and "gcp" in error.hint


def test_a_chain_into_privileged_access_is_a_finding_with_its_path(tmp_path):
    from wiam.analysis import analyze

    owner = ("azure", "prod", 'roles = ["Owner"]\n    scope = "/subscriptions/11111111-1111-1111-1111-111111111111"')
    for text, expected in ((CHAIN, []), (CHAIN.replace(AZURE_GRANT[2], owner[2]), ["reporter"])):
        folder = write_spec(tmp_path / str(len(expected)), {"main.wiam.hcl": BASE_HCL + ISSUERS + text})
        model = load_model(str(folder))
        findings = [f for f in analyze(model) if f.rule == "WIAM026"]
        assert [f.workload for f in findings] == expected
    (finding,) = findings
    assert "the chain deployer (aws) -> exporter (gcp) -> reporter (azure)" in finding.message
    assert "'repo:acme/app:ref:refs/heads/main'" in finding.message
    assert finding.path[0] == "subject:github:repo:acme/app:ref:refs/heads/main"
    assert finding.path[-1] == "grant:azure:prod:reporter" and "aws:role:prod:deployer" in finding.path


def test_drift_reads_an_aws_pool_provider_by_its_account(tmp_path):
    from fake_gcp import State, apply, fake_gcp, fake_iam_grpc
    from wiam import registry
    from wiam.drift import drift
    from wiam.planning import plan_model
    from wiam.providers.gcp import live
    from wiam.terraform import Module

    model = load_model(str(EXAMPLES / "aws-role-to-gcp"))
    state = State()
    for (cloud, _), plan in plan_model(model).items():
        module = Module()
        registry.get(cloud).emit(plan, module)
        apply(state, module.resources, plan.settings.project_id, plan.settings.project_number)
    with fake_gcp(state) as rest, fake_iam_grpc(state) as grpc:
        connection = live.connect(rest=rest, grpc=grpc)
        (result,) = drift(model, {"gcp": connection})
        assert not result.drifted and result.unreadable is None
        (pool,) = state.project("acme-warehouse", "593026847312")["pools"].values()
        pool["providers"]["aws-410987654321"]["aws"]["accountId"] = "999999999999"
        (result,) = drift(model, {"gcp": connection})
        (expected, _, found), = result.changed
        assert (expected.kind, expected.name) == ("pool_provider", "aws-410987654321")
        assert found == [{"field": "aws_account", "expected": "410987654321", "actual": "999999999999"}]


def test_drift_compares_a_named_credential_by_issuer_and_audience(tmp_path):
    from fake_azure import State, apply, fake_azure
    from wiam import registry
    from wiam.drift import drift
    from wiam.planning import plan_model
    from wiam.providers.azure import live
    from wiam.terraform import Module

    model = load_model(str(EXAMPLES / "cross-cloud-chain"))
    state = State()
    plan = plan_model(model)[("azure", "delivery")]
    registry.get("azure").emit(plan, module := Module())
    (credential,) = module.resources["azurerm_federated_identity_credential"].values()
    credential["subject"] = "104729365018274619350"  # what GCP gave the catalog's account
    apply(state, module.resources, plan.settings.subscription_id)
    with fake_azure(state) as endpoint:
        connection = live.connect(endpoint)
        (result,) = drift(model, {"azure": connection}, [("azure", "delivery")])
        assert not result.drifted and result.unchecked == 1
        (identity,) = state.subscriptions[plan.settings.subscription_id]["identities"].values()
        (stored,) = identity["credentials"].values()
        stored["properties"]["issuer"] = "https://accounts.google.com/evil"
        (result,) = drift(model, {"azure": connection}, [("azure", "delivery")])
        (expected, _, found), = result.changed
        assert expected.kind == "federated_credential"
        assert found == [{"field": "issuer", "expected": "https://accounts.google.com",
                          "actual": "https://accounts.google.com/evil"}]


def test_split_aws_reads_a_named_managed_identity(tmp_path):
    text = (workload_hcl("fn", grants=[AZURE_GRANT])
            + workload_hcl("fn-aws", identities=['issuer = "entra"\n    workload = "fn"'], grants=[AWS_GRANT]))
    whole = _module(tmp_path / "one", text)["main.tf.json"]
    policy = resources(whole, "aws_iam_role")["prod__fn-aws"]["assume_role_policy"]
    assert f'"sts.windows.net/{TENANT}:sub":"${{azurerm_user_assigned_identity.prod__fn.principal_id}}"' in policy
    aws = _module(tmp_path / "split", text, split=True)["aws-prod/main.tf.json"]
    policy = resources(aws, "aws_iam_role")["prod__fn-aws"]["assume_role_policy"]
    assert "${data.azurerm_user_assigned_identity.prod__fn.principal_id}" in policy
    assert aws["data"] == {"azurerm_user_assigned_identity": {"prod__fn": {
        "provider": "azurerm.prod", "name": "wiam-fn", "resource_group_name": "workload-identities"}}}


def test_aws_drift_compares_a_named_principal_by_its_place(tmp_path):
    import os

    from live_aws import FAKE_ENVIRONMENT, apply, moto_server, reset, session
    from wiam import registry
    from wiam.drift import drift
    from wiam.planning import plan_model
    from wiam.providers.aws import live
    from wiam.terraform import Module

    text = (workload_hcl("exporter", grants=[GCP_GRANT])
            + workload_hcl("uploader", identities=['issuer = "google"\n    workload = "exporter"',
                                                   'issuer = "google"\n    unique_id = "104729365018274619351"'],
                           grants=[AWS_GRANT]))
    model = load_model(str(write_spec(tmp_path, {"main.wiam.hcl": BASE_HCL + ISSUERS + text})))
    module = Module()
    registry.get("aws").emit(plan_model(model)[("aws", "prod")], module)
    role = module.resources["aws_iam_role"]["prod__uploader"]
    deployed = role["assume_role_policy"].replace("${google_service_account.prod__exporter.unique_id}",
                                                  "104729365018274619350")
    saved = {k: os.environ.get(k) for k in FAKE_ENVIRONMENT}
    os.environ.update(FAKE_ENVIRONMENT)
    try:
        with moto_server() as url:
            reset(url)  # moto's accounts live in the process: other tests' roles would be extra here
            boto = session(url)
            apply({**module.resources, "aws_iam_role": {"prod__uploader": {**role, "assume_role_policy": deployed}}}, boto)
            (result,) = drift(model, {"aws": live.Connection(boto)}, [("aws", "prod")])
            assert not result.drifted
            widened = json.loads(deployed)
            (named,) = [s for s in widened["Statement"]
                        if s["Condition"]["StringEquals"]["accounts.google.com:sub"] == "104729365018274619350"]
            named["Condition"]["StringEquals"]["accounts.google.com:sub"] = ["104729365018274619350",
                                                                             "999999999999999999999"]
            boto.client("iam").update_assume_role_policy(RoleName=role["name"], PolicyDocument=json.dumps(widened))
            (result,) = drift(model, {"aws": live.Connection(boto)}, [("aws", "prod")])
            (expected, _, found), = result.changed
            assert expected.name == role["name"] and [f["field"] for f in found] == ["trust.Statement"]
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)


def test_one_workload_named_by_two_kinds_is_two_principals(tmp_path):
    text = (workload_hcl("both", grants=[GCP_GRANT, AZURE_GRANT])
            + workload_hcl("caller", identities=['issuer = "google"\n    workload = "both"',
                                                 'issuer = "entra"\n    workload = "both"'], grants=[AWS_GRANT]))
    policy = json.loads(resources(_module(tmp_path, text)["main.tf.json"], "aws_iam_role")["prod__caller"]["assume_role_policy"])
    pinned = sorted(v for s in policy["Statement"] for k, v in s["Condition"]["StringEquals"].items() if k.endswith(":sub"))
    assert pinned == ["${azurerm_user_assigned_identity.prod__both.principal_id}",
                      "${google_service_account.prod__both.unique_id}"]


def test_many_roles_of_one_account_split_over_providers_within_the_limit(tmp_path):
    from wiam.providers.gcp.plan import ATTRIBUTE_CONDITION_MAX

    identities = [f'issuer = "aws-roles"\n    role_arn = "arn:aws:iam::210987654321:role/{"r" * 50}{n:03}"' for n in range(80)]
    module = _module(tmp_path, workload_hcl("many", identities=identities, grants=[GCP_GRANT]))["main.tf.json"]
    providers = resources(module, "google_iam_workload_identity_pool_provider").values()
    assert len(providers) > 1 and all(len(p["attribute_condition"]) <= ATTRIBUTE_CONDITION_MAX for p in providers)
    admitted = re.findall(r"assumed-role/(r+\d{3})/", " ".join(p["attribute_condition"] for p in providers))
    assert sorted(admitted) == [f"{'r' * 50}{n:03}" for n in range(80)]  # each once


def test_the_diff_counts_a_chain_as_the_start_subjects_indirect_access(tmp_path):
    from wiam.diff import access_tuples

    model = load_model(str(write_spec(tmp_path, {"main.wiam.hcl": BASE_HCL + ISSUERS + CHAIN})))
    reached = {(a.subject, a.cloud, a.workload, a.indirect) for a in access_tuples(model, build_graph(model))}
    github = "repo:acme/app:ref:refs/heads/main"
    assert {(github, "aws", "deployer", False), (github, "gcp", "exporter", True),
            (github, "azure", "reporter", True)} <= reached
    assert ("workload:exporter", "azure", "reporter", False) in reached


def test_the_kill_switch_refuses_a_google_account_in_aws_and_azure(tmp_path):
    identities = ['issuer = "google"\n    unique_id = "104729365018274619350"\n    disabled = true\n    reason = "INC-7"',
                  'issuer = "google"\n    unique_id = "104729365018274619351"']
    module = _module(tmp_path, workload_hcl("gsa", identities=identities, grants=[AWS_GRANT, AZURE_GRANT]))["main.tf.json"]
    for unique_id, accepted in (("104729365018274619350", set()), ("104729365018274619351", {"prod__gsa"})):
        token = {"iss": "https://accounts.google.com", "sub": unique_id, "azp": unique_id, "aud": "sts.amazonaws.com"}
        assert aws_roles_accepting(module, token) == accepted
        assert azure_identities_accepting(module, dict(token, aud="api://AzureADTokenExchange")) == accepted
    statements = json.loads(resources(module, "aws_iam_role")["prod__gsa"]["assume_role_policy"])["Statement"]
    assert [s["Effect"] for s in statements] == ["Allow", "Deny"]


def test_a_role_arn_written_out_chains_like_a_named_workload(tmp_path):
    text = (workload_hcl("deployer")
            + workload_hcl("exporter", identities=['issuer = "aws-roles"\n    role_arn = "arn:aws:iam::123456789012:role/wiam-deployer"'],
                           grants=[GCP_GRANT]))
    model = load_model(str(write_spec(tmp_path, {"main.wiam.hcl": BASE_HCL + ISSUERS + text})))
    access = build_graph(model)
    reached = {r.node: r for r in blast_radius(access, starting_points(access, subject="repo:acme/app:ref:refs/heads/main"))}
    assert reached["gcp:service_account:prod:exporter"].hops == 1
    other = text.replace("role/wiam-deployer", "role/wiam-deployer2")
    model = load_model(str(write_spec(tmp_path / "other", {"main.wiam.hcl": BASE_HCL + ISSUERS + other})))
    access = build_graph(model)
    reached = {r.node for r in blast_radius(access, starting_points(access, subject="repo:acme/app:ref:refs/heads/main"))}
    assert "gcp:service_account:prod:exporter" not in reached


def test_a_chain_through_a_written_out_role_arn_is_reported_and_a_circle_ends(tmp_path):
    from wiam.analysis import analyze

    owner = ("gcp", "prod", 'roles = ["roles/owner"]')
    text = (workload_hcl("deployer", identities=['issuer = "google"\n    workload = "exporter"'])
            + workload_hcl("exporter", identities=['issuer = "aws-roles"\n    role_arn = "arn:aws:iam::123456789012:role/wiam-deployer"'],
                           grants=[owner]))
    model = load_model(str(write_spec(tmp_path, {"main.wiam.hcl": BASE_HCL + ISSUERS + text})))
    findings = {f.workload: f for f in analyze(model) if f.rule == "WIAM026"}
    # exporter's role ARN is deployer's role; deployer is exporter's account: a circle, walked once
    assert "the chain deployer (aws) -> exporter (gcp)" in findings["exporter"].message
    assert findings["exporter"].severity == "high" and findings["exporter"].pos.line


NAMED_MI = (workload_hcl("fn", grants=[AZURE_GRANT])
            + workload_hcl("fn-gcp", identities=['issuer = "entra"\n    workload = "fn"'], grants=[GCP_GRANT]))
FN_PRINCIPAL = "azurerm_user_assigned_identity.prod__fn.principal_id"


def _pinned(principal: str) -> str:
    return NAMED_MI.replace('workload = "fn"', f'principal_id = "{principal}"')


def _entra_trust(module: dict) -> tuple[str, list[str]]:
    """The entra provider's attribute condition and the members bound through it."""
    (provider,) = resources(module, "google_iam_workload_identity_pool_provider").values()
    return provider["attribute_condition"], sorted(b["member"] for b in resources(module, "google_service_account_iam_member").values())


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(principal=st.uuids().map(str))
def test_gcp_accepts_exactly_the_named_managed_identity_once_azure_creates_it(tmp_path_factory, principal):
    module = _module(tmp_path_factory.mktemp("spec"), NAMED_MI)["main.tf.json"]
    condition, (member,) = _entra_trust(module)
    assert "${" + FN_PRINCIPAL + "}" in condition and member.endswith("/subject/${" + FN_PRINCIPAL + "}")
    deployed = _deployed(module, {FN_PRINCIPAL: principal})
    # as deployed, the trust is the one a pinned principal_id of that ID compiles to
    assert _entra_trust(deployed) == _entra_trust(_module(tmp_path_factory.mktemp("pinned"), _pinned(principal))["main.tf.json"])
    token = {"iss": ENTRA, "sub": principal, "oid": principal, "tid": TENANT, "aud": "api://wiam-federation"}
    assert gcp_principals_accepting(deployed, token) == {"prod__fn-gcp"}
    other = _neighbour(principal, "0123456789abcdef")
    for refused in (dict(token, sub=other), dict(token, aud="api://AzureADTokenExchange")):
        assert gcp_principals_accepting(deployed, refused) == set(), refused


def test_split_gcp_reads_a_named_managed_identity(tmp_path):
    files = _module(tmp_path, NAMED_MI, split=True)
    gcp = files["gcp-prod/main.tf.json"]
    condition, (member,) = _entra_trust(gcp)
    assert condition == 'assertion.sub == "${data.' + FN_PRINCIPAL + '}"'
    assert member.endswith("/subject/${data." + FN_PRINCIPAL + "}")
    assert gcp["data"] == {"azurerm_user_assigned_identity": {"prod__fn": {
        "provider": "azurerm.prod", "name": "wiam-fn", "resource_group_name": "workload-identities"}}}
    assert "data" not in files["azure-prod/main.tf.json"]


def test_gcp_drift_compares_a_named_managed_identity_by_its_place(tmp_path):
    from fake_gcp import State, _bind, apply, fake_gcp, fake_iam_grpc
    from wiam import registry
    from wiam.drift import drift
    from wiam.planning import plan_model
    from wiam.providers.gcp import live
    from wiam.terraform import Module

    model = load_model(str(write_spec(tmp_path, {"main.wiam.hcl": BASE_HCL + ISSUERS + NAMED_MI})))
    plan = plan_model(model)[("gcp", "prod")]
    registry.get("gcp").emit(plan, module := Module())
    principal = "6f1c2a3b-0d4e-4f5a-8b9c-0123456789ab"
    other = _neighbour(principal, "0123456789abcdef")
    state = State()
    apply(state, _deployed({"resource": module.resources}, {FN_PRINCIPAL: principal})["resource"],
          plan.settings.project_id, plan.settings.project_number)
    with fake_gcp(state) as rest, fake_iam_grpc(state) as grpc:
        connection = live.connect(rest=rest, grpc=grpc)
        (result,) = drift(model, {"gcp": connection}, [("gcp", "prod")])
        assert not result.drifted and result.unreadable is None
        project = state.project(plan.settings.project_id, plan.settings.project_number)
        (account,) = [a for a in project["accounts"].values() if a["email"].startswith("wiam-fn-gcp@")]
        (binding,) = account["policy"]["bindings"]
        applied = json.loads(json.dumps(binding))
        # a second managed identity in the named one's place is drift, whichever is the real one
        _bind(account["policy"], binding["role"], binding["members"][0].replace(principal, other))
        (result,) = drift(model, {"gcp": connection}, [("gcp", "prod")])
        (expected, _, found), = result.changed
        assert expected.kind == "service_account"
        assert [f["field"] for f in found] == ["iam_policy.roles/iam.workloadIdentityUser"]
        account["policy"]["bindings"] = [applied]
        (provider,) = next(iter(project["pools"].values()))["providers"].values()
        provider["attributeCondition"] += ' || assertion.sub == "' + other + '"'
        (result,) = drift(model, {"gcp": connection}, [("gcp", "prod")])
        (expected, _, found), = result.changed
        assert expected.kind == "pool_provider" and [f["field"] for f in found] == ["attribute_condition"]


def _renders(text: str, values: dict[str, str]) -> str:
    """A Terraform JSON string as Terraform renders it, left to right: `$${` and `%%{` are literals,
    `${NAME}` the value of NAME, `${"TEXT"}` the string TEXT."""
    out, at = [], 0
    while at < len(text):
        if text.startswith(("$${", "%%{"), at):
            out.append(text[at + 1:at + 3])
            at += 3
        elif text.startswith("${", at):
            end = text.index("}", at)
            inner = text[at + 2:end]
            out.append(json.loads(inner) if inner.startswith('"') else values[inner])
            at = end + 1
        else:
            assert not text.startswith("%{", at), text  # no directive
            out.append(text[at])
            at += 1
    return "".join(out)


texts = st.text(st.characters(blacklist_characters="\x00"), max_size=12) | st.sampled_from(["$", "$$", "${x}", "%{", "a$"])


@settings(max_examples=200, deadline=None)
@given(before=texts, after=texts, value=st.uuids().map(str))
def test_a_template_is_its_parts_around_the_value_once_applied(before, after, value):
    key = ("azure_managed_identity", "fn")
    render = lambda values: template([before, values[key], after])  # noqa: E731
    written = render({key: ref("a.b")})
    assert _renders(written, {"a.b": value}) == before + value + after
    pattern = applied(render, [key], UUID[1:-1])
    assert pattern.fullmatch(before + value + after)
    assert not pattern.fullmatch(before + value[:-1] + after) and not pattern.fullmatch(before + "x" + after)


def test_conditions_of_many_named_managed_identities_fit_once_applied(tmp_path):
    # markers (workload:mN) are shorter than the principal IDs they become: chunks count the IDs
    count = 130
    text = "".join(workload_hcl(f"m{i}", grants=[AZURE_GRANT]) for i in range(count))
    text += workload_hcl("caller", identities=[f'issuer = "entra"\n    workload = "m{i}"' for i in range(count)],
                         grants=[GCP_GRANT])
    module = _module(tmp_path, text)["main.tf.json"]
    principals = {f"azurerm_user_assigned_identity.prod__m{i}.principal_id": f"{i:08x}-0000-4000-8000-000000000000"
                  for i in range(count)}
    providers = resources(_deployed(module, principals), "google_iam_workload_identity_pool_provider").values()
    lengths = [len(p["attribute_condition"]) for p in providers]
    assert len(lengths) > 1 and max(lengths) <= 4096 and max(lengths) > 4096 - 100, lengths
