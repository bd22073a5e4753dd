"""The kill switch: disabling an issuer, a workload or one identity refuses exactly those subjects in
every cloud (evaluated the way each cloud does), keeps everyone else's access, and keeps the objects."""

import json

import pytest

from wiam.compile import compile_model, load_model
from support.cli import run_wiam
from support.git import commit_all, init_repo
from support.specs import BASE_HCL, spec_errors
from trust_eval import aws_roles_accepting, azure_identities_accepting, cel_admits, gcp_principals_accepting

GRANTS = '''
  grant "aws" "prod" {
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::acme-bucket/*"]
  }
  grant "gcp" "prod" {
    roles    = ["roles/storage.objectViewer"]
    resource = "projects/_/buckets/acme-bucket"
  }
  grant "azure" "prod" {
    roles = ["Storage Blob Data Reader"]
    scope = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/data"
  }
'''
SPEC = BASE_HCL.replace('kind = "github_actions"\n', 'kind = "github_actions"\n%(github)s') + '''
issuer "eks" {
  kind = "kubernetes"
  url  = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"
}

workload "deployer" {
%(deployer)s  identity {
    issuer     = "github"
    repository = "acme/app"
    ref        = "refs/heads/main"
%(main)s  }
  identity {
    issuer     = "github"
    repository = "acme/app"
    ref        = "refs/tags/release"
  }
  identity {
    issuer          = "eks"
    namespace       = "deploy"
    service_account = "deployer"
  }
''' + GRANTS + '''}

workload "reader" {
  identity {
    issuer     = "github"
    repository = "acme/reports"
    ref        = "refs/heads/main"
  }
  identity {
    issuer          = "eks"
    namespace       = "reports"
    service_account = "reader"
  }
''' + GRANTS + '''}
'''
OFF = '  disabled = true\n  reason   = "INC-42: runner token leaked"\n'
MAIN = "repo:acme/app:ref:refs/heads/main"
RELEASE = "repo:acme/app:ref:refs/tags/release"
EKS_DEPLOYER = "system:serviceaccount:deploy:deployer"
REPORTS = "repo:acme/reports:ref:refs/heads/main"
EKS_READER = "system:serviceaccount:reports:reader"
ISSUERS = {MAIN: "github", RELEASE: "github", REPORTS: "github", EKS_DEPLOYER: "eks", EKS_READER: "eks"}
URLS = {"github": "https://token.actions.githubusercontent.com", "eks": "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE"}


def _spec(github="", deployer="", main=""):
    return SPEC % {"github": github, "deployer": deployer, "main": "  " + main.replace("\n  ", "\n    ") if main else ""}


def _compiled(spec, text):
    return json.loads(compile_model(load_model(str(spec(text))))["main.tf.json"])


def _access(module, subject) -> dict[str, set[str]]:
    """What a token for `subject` is accepted as, per cloud."""
    iss = URLS[ISSUERS[subject]]
    provider = next(p["workload_identity_pool_provider_id"] for p in
                    module["resource"]["google_iam_workload_identity_pool_provider"].values() if p["oidc"]["issuer_uri"] == iss)
    gcp_claims = {"iss": iss, "sub": subject, "aud": "//iam.googleapis.com/projects/123456789012/locations/global/"
                  f"workloadIdentityPools/wiam-pool/providers/{provider}"}  # the default audience
    return {
        "aws": aws_roles_accepting(module, {"iss": iss, "sub": subject, "aud": "sts.amazonaws.com"}),
        "gcp": gcp_principals_accepting(module, gcp_claims),
        "azure": azure_identities_accepting(module, {"iss": iss, "sub": subject, "aud": "api://AzureADTokenExchange"}),
    }


@pytest.mark.parametrize("switch,refused", [
    ({"main": OFF}, {MAIN}),
    ({"deployer": OFF}, {MAIN, RELEASE, EKS_DEPLOYER}),
    ({"github": OFF}, {MAIN, RELEASE, REPORTS}),
])
def test_disabled_subjects_are_refused_everywhere_and_others_keep_exactly_their_access(spec, switch, refused):
    before = _compiled(spec, _spec())
    after = _compiled(spec, _spec(**switch))
    for subject in ISSUERS:
        baseline = _access(before, subject)
        assert all(baseline.values()), subject  # every subject has access in every cloud to begin with
        now = _access(after, subject)
        if subject in refused:
            assert now == {"aws": set(), "gcp": set(), "azure": set()}, subject
        else:
            assert now == baseline, subject


@pytest.mark.parametrize("switch", [{"main": OFF}, {"deployer": OFF}, {"github": OFF}])
def test_objects_stay_in_place_for_forensics_and_restore(spec, switch):
    before = _compiled(spec, _spec())["resource"]
    after = _compiled(spec, _spec(**switch))["resource"]
    kept = ("aws_iam_openid_connect_provider", "aws_iam_role", "aws_iam_role_policy", "google_service_account",
            "google_iam_workload_identity_pool", "google_iam_workload_identity_pool_provider",
            "google_storage_bucket_iam_member", "azurerm_user_assigned_identity", "azurerm_role_assignment")
    for kind in kept:
        assert set(after[kind]) == set(before[kind]), kind
    for kind in ("aws_iam_role_policy", "google_storage_bucket_iam_member", "azurerm_role_assignment"):
        assert after[kind] == before[kind], kind  # permissions untouched
    assert set(after["azurerm_federated_identity_credential"]) < set(before["azurerm_federated_identity_credential"])


def test_disabling_an_issuer_disables_its_gcp_provider_and_denies_it_in_aws(spec):
    module = _compiled(spec, _spec(github=OFF))
    providers = module["resource"]["google_iam_workload_identity_pool_provider"]
    assert {p["oidc"]["issuer_uri"]: p["disabled"] for p in providers.values()} == {URLS["github"]: True,
                                                                                   URLS["eks"]: False}
    trust = json.loads(module["resource"]["aws_iam_role"]["prod__deployer"]["assume_role_policy"])
    deny = [s for s in trust["Statement"] if s["Effect"] == "Deny"]
    assert deny == [{"Sid": "WiamDisabled1", "Effect": "Deny", "Action": "sts:AssumeRoleWithWebIdentity",
                     "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}}]


def test_a_disabled_identity_leaves_the_gcp_condition_and_binding(spec):
    module = _compiled(spec, _spec(main=OFF))
    github = next(p for p in module["resource"]["google_iam_workload_identity_pool_provider"].values()
                  if p["workload_identity_pool_provider_id"] == "github")
    assert not github["disabled"]
    assert not cel_admits(github["attribute_condition"], {"sub": MAIN})
    assert cel_admits(github["attribute_condition"], {"sub": RELEASE})
    members = {b["member"] for b in module["resource"]["google_service_account_iam_member"].values()}
    assert not any(m.endswith("/subject/" + MAIN) for m in members)


@pytest.mark.parametrize("text,needle", [
    (lambda: _spec(deployer="  disabled = true\n"), "disabled = true needs a reason"),
    (lambda: _spec(deployer='  disabled = true\n  reason = "  "\n'), "disabled = true needs a reason"),
    (lambda: _spec(deployer='  reason = "why"\n'), "reason applies to disabled = true"),
    (lambda: _spec(main='  reason = "why"\n'), "reason applies to disabled = true"),
])
def test_a_kill_switch_needs_its_reason(spec, text, needle):
    [error] = spec_errors(spec(text()))
    assert needle in error.message and error.pos.line > 0


def test_disabled_subjects_reach_nothing_and_analyze_lists_them_with_their_revision(tmp_path):
    folder = tmp_path / "repo"
    folder.mkdir()
    (folder / "main.wiam.hcl").write_text(_spec(main=OFF), encoding="utf-8")
    init_repo(folder)
    head = commit_all(folder, "Disable the leaked runner")
    radius = run_wiam("blast-radius", folder, "--subject", MAIN)
    assert radius.returncode == 0 and "reaches nothing (disabled: INC-42: runner token leaked)" in radius.stdout
    listed = json.loads(run_wiam("analyze", folder, "--format", "json").stdout)["disabled"]
    assert [(d["kind"], d["block"], d["reason"], d["since"]["commit"], d["since"]["summary"]) for d in listed] == [
        ("identity", 'identity #1 in workload "deployer"', "INC-42: runner token leaked", head,
         "Disable the leaked runner")]
    text = run_wiam("analyze", folder).stdout
    assert f"since {head[:12]}" in text and "INC-42" in text
