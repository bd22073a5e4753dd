"""Per-cloud compilation: subjects per issuer kind, names, and every documented limit (just
under and just over)."""

import json

import hcl2
import pytest
from hcl2.utils import SerializationOptions

from wiam.compile import compile_model, load_model
from support.specs import BASE_HCL, compiled_files, resources, spec_errors, workload_hcl
from wiam import terraform
from wiam.providers import aws, azure, gcp
from wiam.providers.gcp.plan import resource_binding


def _module(folder):
    return compiled_files(folder)["main.tf.json"]


ISSUERS = '''
issuer "gl" {
  kind = "gitlab_ci"
}
issuer "k8s" {
  kind = "kubernetes"
  url  = "https://oidc.example.com/cluster"
}
issuer "mesh" {
  kind = "spiffe"
  url  = "https://spire.example.com"
}
issuer "tfc" {
  kind = "terraform_cloud"
}
issuer "oidc" {
  kind     = "generic_oidc"
  url      = "https://idp.example.com"
  audience = "wiam"
}
issuer "ghe" {
  kind            = "github_actions"
  enterprise_slug = "acme"
}
'''


@pytest.mark.parametrize("identity,subject,key", [
    ('issuer = "github"\n repository = "o/r"\n ref = "refs/heads/main"', "repo:o/r:ref:refs/heads/main",
     "token.actions.githubusercontent.com"),
    ('issuer = "github"\n repository = "o/r"\n environment = "prod"', "repo:o/r:environment:prod",
     "token.actions.githubusercontent.com"),
    ('issuer = "github"\n repository = "o/r"\n pull_request = true', "repo:o/r:pull_request",
     "token.actions.githubusercontent.com"),
    ('issuer = "github"\n repository = "o/r"\n owner_id = "12"\n repository_id = "34"\n ref = "refs/tags/v1"',
     "repo:o@12/r@34:ref:refs/tags/v1", "token.actions.githubusercontent.com"),
    ('issuer = "ghe"\n repository = "o/r"\n ref = "refs/heads/main"', "repo:o/r:ref:refs/heads/main",
     "token.actions.githubusercontent.com/acme"),
    ('issuer = "gl"\n project_path = "g/sub/p"\n ref_type = "tag"\n ref = "v1"', "project_path:g/sub/p:ref_type:tag:ref:v1",
     "gitlab.com"),
    ('issuer = "k8s"\n namespace = "ns"\n service_account = "sa"', "system:serviceaccount:ns:sa", "oidc.example.com/cluster"),
    ('issuer = "mesh"\n spiffe_id = "spiffe://td/ns/a"', "spiffe://td/ns/a", "spire.example.com"),
    ('issuer = "tfc"\n organization = "o"\n project = "p"\n workspace = "w"\n run_phase = "apply"',
     "organization:o:project:p:workspace:w:run_phase:apply", "app.terraform.io"),
    ('issuer = "oidc"\n subject = "job:42"', "job:42", "idp.example.com"),
])
def test_subject_and_condition_keys_per_issuer_kind(spec, identity, subject, key):
    module = _module(spec({"base.wiam.hcl": BASE_HCL + ISSUERS, "w.wiam.hcl": workload_hcl(identities=[identity])}))
    trust = json.loads(resources(module, "aws_iam_role")["prod__app"]["assume_role_policy"])
    condition = trust["Statement"][0]["Condition"]["StringEquals"]
    assert condition[f"{key}:sub"] == subject
    assert trust["Statement"][0]["Principal"]["Federated"] == f"arn:aws:iam::123456789012:oidc-provider/{key}"
    audience = "wiam" if "oidc" in identity.split("\n")[0] else "sts.amazonaws.com"
    assert condition[f"{key}:aud"] == audience
    (provider,) = resources(module, "aws_iam_openid_connect_provider").values()
    assert provider["url"] == f"https://{key}" and provider["client_id_list"] == [audience]


def test_identity_audience_overrides_issuer_audience_per_cloud(spec):
    identities = ['issuer = "oidc"\n subject = "a"', 'issuer = "oidc"\n subject = "b"\n audience = "other"']
    grants = [("aws", "prod", 'actions = ["s3:GetObject"]\n resources = ["*"]'), ("gcp", "prod", 'roles = ["roles/viewer"]'),
              ("azure", "prod", 'roles = ["Reader"]')]
    module = _module(spec({"base.wiam.hcl": BASE_HCL + ISSUERS, "w.wiam.hcl": workload_hcl(identities=identities, grants=grants)}))
    statements = json.loads(resources(module, "aws_iam_role")["prod__app"]["assume_role_policy"])["Statement"]
    pairs = {(s["Condition"]["StringEquals"]["idp.example.com:aud"], s["Condition"]["StringEquals"]["idp.example.com:sub"]) for s in statements}
    assert pairs == {("wiam", "a"), ("other", "b")}
    providers = resources(module, "google_iam_workload_identity_pool_provider").values()
    assert sorted((p["oidc"]["allowed_audiences"][0], p["attribute_condition"]) for p in providers) == [
        ("other", 'assertion.sub == "b"'), ("wiam", 'assertion.sub == "a"')]
    credentials = resources(module, "azurerm_federated_identity_credential").values()
    assert sorted((c["audience"][0], c["subject"]) for c in credentials) == [("other", "b"), ("wiam", "a")]


def test_aws_role_fields(spec):
    grant = ('actions = ["s3:GetObject", "s3:GetObject", "s3:ListBucket"]\n resources = ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]\n'
             ' conditions = { StringEquals = { "aws:RequestedRegion" = "eu-west-1" }, "ForAnyValue:StringLikeIfExists" = { "aws:TagKeys" = ["a*"] } }\n'
             ' managed_policies = ["arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::123456789012:policy/custom"]\n'
             ' max_session_duration = "1h30m"\n permissions_boundary = "arn:aws:iam::123456789012:policy/boundary"')
    module = _module(spec({"base.wiam.hcl": BASE_HCL, "w.wiam.hcl": workload_hcl(grants=[("aws", "prod", grant)])}))
    role = resources(module, "aws_iam_role")["prod__app"]
    assert role["max_session_duration"] == 5400 and role["name"] == "wiam-app"
    assert role["permissions_boundary"] == "arn:aws:iam::123456789012:policy/boundary"
    policy = json.loads(resources(module, "aws_iam_role_policy")["prod__app"]["policy"])
    statement = policy["Statement"][0]
    assert statement["Action"] == ["s3:GetObject", "s3:ListBucket"]
    assert statement["Condition"]["ForAnyValue:StringLikeIfExists"] == {"aws:TagKeys": ["a*"]}
    attachments = resources(module, "aws_iam_role_policy_attachment").values()
    assert sorted(a["policy_arn"] for a in attachments) == [
        "arn:aws:iam::123456789012:policy/custom", "arn:aws:iam::aws:policy/ReadOnlyAccess"]
    assert module["provider"]["aws"] == [{"alias": "prod", "region": "us-east-1", "allowed_account_ids": ["123456789012"]}]


def test_existing_oidc_provider_is_reused_not_created(spec):
    base = BASE_HCL.replace('account_id = "123456789012"\n', 'account_id = "123456789012"\n  existing_oidc_providers = '
                            '{ github = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com" }\n')
    module = _module(spec({"base.wiam.hcl": base, "w.wiam.hcl": workload_hcl()}))
    assert resources(module, "aws_iam_openid_connect_provider") == {}
    assert "depends_on" not in resources(module, "aws_iam_role")["prod__app"]


def _identities(n, prefix="refs/heads/feature-"):
    return [f'issuer = "github"\n repository = "acme/app"\n ref = "{prefix}{i:04d}"' for i in range(n)]


def _largest_passing(spec, make, start=1, stop=400):
    """The largest n whose spec compiles, with the errors of n + 1."""
    best = None
    for n in range(start, stop):
        errors = spec_errors(spec(make(n)))
        if errors:
            return best, errors
        best = n
    raise AssertionError("never failed")


def test_aws_trust_policy_limit_just_under_and_over(spec):
    make = lambda n: {"base.wiam.hcl": BASE_HCL, "w.wiam.hcl": workload_hcl(identities=_identities(n))}
    n, errors = _largest_passing(spec, make)
    module = _module(spec(make(n)))
    assert len(resources(module, "aws_iam_role")["prod__app"]["assume_role_policy"]) <= 2048
    assert any("trust policy" in e.message and "2048" in e.message for e in errors)
    raised = BASE_HCL.replace('account_id = "123456789012"\n', 'account_id = "123456789012"\n  trust_policy_quota = 4096\n')
    assert spec_errors(spec({"base.wiam.hcl": raised, "w.wiam.hcl": workload_hcl(identities=_identities(n + 1))})) == []


def test_aws_inline_policy_limit(spec):
    def make(n):
        arns = ", ".join(f'"arn:aws:s3:::acme-bucket-with-a-long-name-{i:04d}/*"' for i in range(n))
        return {"base.wiam.hcl": BASE_HCL,
                "w.wiam.hcl": workload_hcl(grants=[("aws", "prod", f'actions = ["s3:GetObject"]\n resources = [{arns}]')])}
    n, errors = _largest_passing(spec, make, start=150, stop=260)
    policy = resources(_module(spec(make(n))), "aws_iam_role_policy")["prod__app"]["policy"]
    assert 10240 - 60 < len(policy) <= 10240
    assert any("inline policy" in e.message and "10240" in e.message for e in errors)


@pytest.mark.parametrize("count,quota,ok", [(10, None, True), (11, None, False), (20, 20, True), (21, 20, False)])
def test_aws_managed_policy_count(spec, count, quota, ok):
    base = BASE_HCL if quota is None else BASE_HCL.replace(
        'account_id = "123456789012"\n', f'account_id = "123456789012"\n  managed_policies_quota = {quota}\n')
    arns = ", ".join(f'"arn:aws:iam::123456789012:policy/p{i}"' for i in range(count))
    errors = spec_errors(spec({"base.wiam.hcl": base, "w.wiam.hcl": workload_hcl(grants=[("aws", "prod", f"managed_policies = [{arns}]")])}))
    assert (errors == []) == ok
    if not ok:
        assert "managed policies" in errors[0].message and "managed_policies_quota" in errors[0].hint


@pytest.mark.parametrize("duration,ok", [(3600, True), (43200, True), ('"12h"', True), (3599, False), (43201, False), ('"12h1s"', False)])
def test_aws_session_duration_bounds(spec, duration, ok):
    grant = f'actions = ["s3:GetObject"]\n resources = ["*"]\n max_session_duration = {duration}'
    errors = spec_errors(spec({"base.wiam.hcl": BASE_HCL, "w.wiam.hcl": workload_hcl(grants=[("aws", "prod", grant)])}))
    assert (errors == []) == ok


def test_aws_role_names_fit_64_and_stay_unique():
    long_a, long_b = "a" * 60 + "-one", "a" * 60 + "-two"
    names = {aws.settings.role_name(long_a), aws.settings.role_name(long_b)}
    assert len(names) == 2 and all(len(n) <= 64 for n in names)
    assert aws.settings.role_name("short") == "wiam-short"
    assert aws.settings.role_name(long_a) == aws.settings.role_name(long_a)


def test_aws_description_must_fit_iam(spec):
    errors = spec_errors(spec({"base.wiam.hcl": BASE_HCL, "w.wiam.hcl": workload_hcl(extra='  description = "deploys \u6f22"\n')}))
    assert len(errors) == 1 and "IAM role description" in errors[0].message


def test_gcp_condition_splits_across_providers_within_4096(spec, capsys):
    identities = _identities(120, prefix="refs/heads/a-rather-long-feature-branch-name-")
    folder = spec({"base.wiam.hcl": BASE_HCL, "w.wiam.hcl": workload_hcl(identities=identities, grants=[("gcp", "prod", 'roles = ["roles/viewer"]')])})
    from wiam.diagnostics import Report
    report = Report()
    module = json.loads(compile_model(load_model(str(folder)), report=report)["main.tf.json"])
    providers = resources(module, "google_iam_workload_identity_pool_provider")
    assert len(providers) >= 2
    assert all(len(p["attribute_condition"]) <= 4096 for p in providers.values())
    ids = [p["workload_identity_pool_provider_id"] for p in providers.values()]
    assert len(set(ids)) == len(ids) and all(4 <= len(i) <= 32 for i in ids)
    from trust_eval import cel_admits
    for i in range(120):
        sub = f"repo:acme/app:ref:refs/heads/a-rather-long-feature-branch-name-{i:04d}"
        assert sum(cel_admits(p["attribute_condition"], {"sub": sub}) for p in providers.values()) == 1
    assert any("split over" in note for note in report.notes)
    assert len(module["output"]["app"]["value"]["gcp_prod_workload_identity_provider"]) == len(providers)


@pytest.mark.parametrize("length,ok", [(127, True), (128, False)])
def test_gcp_google_subject_127_bytes(spec, length, ok):
    identity = f'issuer = "oidc"\n subject = "{"s" * length}"'
    errors = spec_errors(spec({"base.wiam.hcl": BASE_HCL + ISSUERS,
                               "w.wiam.hcl": workload_hcl(identities=[identity], grants=[("gcp", "prod", 'roles = ["roles/viewer"]')])}))
    assert (errors == []) == ok
    if not ok:
        assert "127" in errors[0].message


def test_gcp_multibyte_subject_counts_bytes(spec):
    identity = 'issuer = "oidc"\n subject = "' + "\u00e9" * 64 + '"'  # 64 characters, 128 bytes
    errors = spec_errors(spec({"base.wiam.hcl": BASE_HCL + ISSUERS,
                               "w.wiam.hcl": workload_hcl(identities=[identity], grants=[("gcp", "prod", 'roles = ["roles/viewer"]')])}))
    assert len(errors) == 1 and "128 bytes" in errors[0].message


def test_gcp_same_subject_from_two_issuers_in_one_pool_is_refused(spec):
    issuers = 'issuer "k1" {\n kind = "kubernetes"\n url = "https://c1.example.com"\n}\nissuer "k2" {\n kind = "kubernetes"\n url = "https://c2.example.com"\n}\n'
    a = workload_hcl("a", identities=['issuer = "k1"\n namespace = "ns"\n service_account = "sa"'], grants=[("gcp", "prod", 'roles = ["roles/viewer"]')])
    b = workload_hcl("b", identities=['issuer = "k2"\n namespace = "ns"\n service_account = "sa"'], grants=[("gcp", "prod", 'roles = ["roles/editor"]')])
    errors = spec_errors(spec({"base.wiam.hcl": BASE_HCL + issuers, "w.wiam.hcl": a + b}))
    assert len(errors) == 1 and "per pool" in errors[0].message


@pytest.mark.parametrize("resource,kind,arguments", [
    ("projects/_/buckets/my-bucket", "google_storage_bucket_iam_member", {"bucket": "my-bucket"}),
    ("//storage.googleapis.com/projects/_/buckets/my-bucket", "google_storage_bucket_iam_member", {"bucket": "my-bucket"}),
    ("projects/p1/topics/t", "google_pubsub_topic_iam_member", {"project": "p1", "topic": "t"}),
    ("projects/p1/subscriptions/s", "google_pubsub_subscription_iam_member", {"project": "p1", "subscription": "s"}),
    ("projects/p1/secrets/s", "google_secret_manager_secret_iam_member", {"project": "p1", "secret_id": "s"}),
    ("projects/p1/datasets/d_1", "google_bigquery_dataset_iam_member", {"project": "p1", "dataset_id": "d_1"}),
    ("projects/p1/locations/eu/repositories/r", "google_artifact_registry_repository_iam_member",
     {"project": "p1", "location": "eu", "repository": "r"}),
    ("projects/p1/locations/eu/keyRings/k/cryptoKeys/c", "google_kms_crypto_key_iam_member",
     {"crypto_key_id": "projects/p1/locations/eu/keyRings/k/cryptoKeys/c"}),
    ("projects/p1/serviceAccounts/sa@p1.iam.gserviceaccount.com", "google_service_account_iam_member",
     {"service_account_id": "projects/p1/serviceAccounts/sa@p1.iam.gserviceaccount.com"}),
    ("projects/other-project", "google_project_iam_member", {"project": "other-project"}),
])
def test_gcp_resource_kinds(resource, kind, arguments):
    assert resource_binding(resource) == (kind, arguments)


def test_gcp_direct_mode_binds_principals_without_service_account(spec):
    grant = 'roles = ["roles/pubsub.publisher"]\n resource = "projects/acme-prod/topics/t"\n mode = "direct"'
    module = _module(spec({"base.wiam.hcl": BASE_HCL, "w.wiam.hcl": workload_hcl(grants=[("gcp", "prod", grant)])}))
    assert resources(module, "google_service_account") == {}
    (binding,) = resources(module, "google_pubsub_topic_iam_member").values()
    assert binding["member"].endswith("/subject/repo:acme/app:ref:refs/heads/main")
    assert "service_account_email" not in module["output"]["app"]["value"]


def test_gcp_service_account_ids_fit():
    for name in ["ab", "A_Very_Long_Workload_Name_That_Goes_On", "x" * 64]:
        account = gcp.settings.service_account_id(name)
        assert 6 <= len(account) <= 30 and account[0].isalpha() and account[-1].isalnum()
        assert all(c.islower() or c.isdigit() or c == "-" for c in account)
    assert gcp.settings.service_account_id("a-b") != gcp.settings.service_account_id("A-b")


@pytest.mark.parametrize("count,ok", [(20, True), (21, False)])
def test_azure_twenty_credentials_per_identity(spec, count, ok):
    errors = spec_errors(spec({"base.wiam.hcl": BASE_HCL,
                               "w.wiam.hcl": workload_hcl(identities=_identities(count), grants=[("azure", "prod", 'roles = ["Reader"]')])}))
    assert (errors == []) == ok
    if not ok:
        assert "at most 20 federated credentials" in errors[0].message


@pytest.mark.parametrize("length,ok", [(600, True), (601, False)])
def test_azure_subject_600_characters(spec, length, ok):
    identity = f'issuer = "oidc"\n subject = "{"s" * length}"'
    errors = spec_errors(spec({"base.wiam.hcl": BASE_HCL + ISSUERS,
                               "w.wiam.hcl": workload_hcl(identities=[identity], grants=[("azure", "prod", 'roles = ["Reader"]')])}))
    assert (errors == []) == ok


def test_azure_credentials_are_chained_and_roles_resolved(spec):
    grants = [("azure", "prod", 'roles = ["Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7", '
               '"/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe"]')]
    module = _module(spec({"base.wiam.hcl": BASE_HCL, "w.wiam.hcl": workload_hcl(identities=_identities(3), grants=grants)}))
    credentials = resources(module, "azurerm_federated_identity_credential")
    roots = [n for n, c in credentials.items() if "depends_on" not in c]
    assert len(roots) == 1
    chain, current = [roots[0]], roots[0]
    while True:
        following = [n for n, c in credentials.items() if c.get("depends_on") == [f"azurerm_federated_identity_credential.{current}"]]
        if not following:
            break
        current = following[0]
        chain.append(current)
    assert len(chain) == 3
    assignments = sorted(resources(module, "azurerm_role_assignment").values(), key=lambda a: str(a))
    by_kind = sorted((k, a[k]) for a in assignments for k in ("role_definition_name", "role_definition_id") if k in a)
    assert by_kind == [
        ("role_definition_id", "/providers/Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe"),
        ("role_definition_id", "/subscriptions/11111111-1111-1111-1111-111111111111/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7"),
        ("role_definition_name", "Reader")]
    assert all(a["scope"] == "/subscriptions/11111111-1111-1111-1111-111111111111" for a in assignments)
    assert all(a["principal_type"] == "ServicePrincipal" for a in assignments)


def test_split_by_target_gives_plannable_modules(spec):
    grants = [("aws", "prod", 'actions = ["s3:GetObject"]\n resources = ["*"]'), ("gcp", "prod", 'roles = ["roles/viewer"]'),
              ("azure", "prod", 'roles = ["Reader"]')]
    modules = compiled_files(spec({"base.wiam.hcl": BASE_HCL, "w.wiam.hcl": workload_hcl(grants=grants)}), split=True)
    assert sorted(modules) == [f"{d}/{f}" for d in ("aws-prod", "azure-prod", "gcp-prod")
                               for f in ("main.tf.json", "versions.tf")] + ["modules.json"]
    assert [m["dir"] for m in modules.pop("modules.json")["modules"]] == ["aws-prod", "azure-prod", "gcp-prod"]
    for name, module in [(n, m) for n, m in modules.items() if n.endswith(".json")]:
        cloud = name.split("-")[0]
        local = {"aws": "aws", "gcp": "google", "azure": "azurerm"}[cloud]
        settings = hcl2.loads(modules[name.replace("main.tf.json", "versions.tf")],
                              serialization_options=SerializationOptions(strip_string_quotes=True))["terraform"][0]
        assert settings["required_version"] == terraform.TERRAFORM_VERSION
        assert settings["required_providers"][0][local] == dict(zip(("source", "version"), {
            "aws": aws, "gcp": gcp, "azure": azure}[cloud].TERRAFORM_PROVIDER[1:]))
        assert "terraform" not in module  # checkov's terraform_json parser fails on it (versions_tf)
        assert list(module["provider"]) == [local]
        assert all(kind.startswith(local + "_") for kind in module["resource"])
    assert set(modules["aws-prod/main.tf.json"]["output"]["app"]["value"]) == {"role_arn"}


def test_names_that_would_collide_stay_distinct(spec):
    issuers = ('issuer "ci" {\n kind = "generic_oidc"\n url = "https://a.example.com"\n}\n'
               'issuer "ci-2" {\n kind = "generic_oidc"\n url = "https://b.example.com"\n}\n')
    many = [f'issuer = "ci"\n subject = "{"job-" + str(i).zfill(3) + "-" + "x" * 100}"' for i in range(40)]
    w1 = workload_hcl("one", identities=many, grants=[("gcp", "prod", 'roles = ["roles/storage.admin", "roles/storage_admin"]\n custom = ["roles/storage_admin"]')])
    w2 = workload_hcl("two", identities=['issuer = "ci-2"\n subject = "other"'], grants=[("gcp", "prod", 'roles = ["roles/viewer"]')])
    module = _module(spec({"base.wiam.hcl": BASE_HCL + issuers, "w.wiam.hcl": w1 + w2}))
    ids = [p["workload_identity_pool_provider_id"] for p in resources(module, "google_iam_workload_identity_pool_provider").values()]
    assert "ci-2" in ids and len(ids) == len(set(ids)) >= 3
    roles = sorted(b["role"] for b in resources(module, "google_project_iam_member").values())
    assert roles == ["roles/storage.admin", "roles/storage_admin", "roles/viewer"]


@pytest.mark.parametrize("count,ok", [(1500, True), (1501, False)])
def test_gcp_principals_per_allow_policy(spec, count, ok):
    issuer = 'issuer "oidc" {\n kind = "generic_oidc"\n url = "https://idp.example.com"\n}\n'
    identities = [f'issuer = "oidc"\n subject = "s{i}"' for i in range(count)]
    grant = 'roles = ["roles/pubsub.publisher"]\n resource = "projects/acme-prod/topics/t"\n mode = "direct"'
    errors = spec_errors(spec({"base.wiam.hcl": BASE_HCL + issuer, "w.wiam.hcl": workload_hcl(identities=identities, grants=[("gcp", "prod", grant)])}))
    assert (errors == []) == ok
    if not ok:
        assert "1501 principals" in errors[0].message and "1500" in errors[0].message


def _generated(spec, issuers: int, workloads: int, grant: dict, cloud: str, roles_per: int = 1):
    """A JSON spec with `issuers` generic issuers and `workloads` workloads, one subject each."""
    document = {"target": {"aws": {"prod": {"account_id": "123456789012"}},
                                                 "azure": {"prod": {"tenant_id": "00000000-0000-0000-0000-000000000000",
                                                                    "subscription_id": "11111111-1111-1111-1111-111111111111",
                                                                    "resource_group": "rg", "location": "eastus"}}}}
    document["issuer"] = {f"i{n}": {"kind": "generic_oidc", "url": f"https://idp{n}.example.com"} for n in range(issuers)}
    document["workload"] = {f"w{n}": {"identity": [{"issuer": f"i{n % issuers}", "subject": f"s{n}"}],
                                      "grant": {cloud: {"prod": grant}}} for n in range(workloads)}
    return spec({"gen.wiam.json": json.dumps(document)})


@pytest.mark.parametrize("count,ok", [(100, True), (101, False)])
def test_aws_oidc_providers_per_account(spec, count, ok):
    errors = spec_errors(_generated(spec, count, count, {"actions": ["s3:GetObject"], "resources": ["*"]}, "aws"))
    assert (errors == []) == ok
    if not ok:
        assert "101 OIDC providers" in errors[0].message


@pytest.mark.parametrize("count,ok", [(5000, True), (5001, False)])
def test_aws_roles_per_account(spec, count, ok):
    errors = spec_errors(_generated(spec, 1, count, {"actions": ["s3:GetObject"], "resources": ["*"]}, "aws"))
    assert (errors == []) == ok
    if not ok:
        assert "5001 roles" in errors[0].message


@pytest.mark.parametrize("workloads,ok", [(200, True), (201, False)])
def test_azure_role_assignments_per_subscription(spec, workloads, ok):
    roles = [f"Custom Role {n}" for n in range(20)]
    grant = {"roles": roles, "custom": roles}
    errors = spec_errors(_generated(spec, 1, workloads, grant, "azure"))
    assert (errors == []) == ok
    if not ok:
        assert "4020 role assignments" in errors[0].message
