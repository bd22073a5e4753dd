"""The contract examples of docs/language.md validate and compile exactly as written, and
examples/spec-reference* hold them verbatim."""

import json

import pytest

from support.markdown import doc_blocks
from support.paths import LANGUAGE_MD, ROOT
from support.specs import compiled_files, resources, spec_errors
from trust_eval import cel_admits

CONTRACT = [b for b in doc_blocks(LANGUAGE_MD.read_text(encoding="utf-8")) if b.contract]
SUBJECT = "repo:acme/payments:ref:refs/heads/main"


def test_examples_folder_holds_the_contract_examples_verbatim():
    assert sorted((b.lang, b.contract) for b in CONTRACT) == [
        ("hcl", "examples/spec-reference/conditions.wiam.hcl"), ("hcl", "examples/spec-reference/jit.wiam.hcl"),
        ("hcl", "examples/spec-reference/main.wiam.hcl"),
        ("yaml", "examples/spec-reference-yaml/spec.wiam.yaml")]
    for block in CONTRACT:
        assert (ROOT / block.contract).read_text(encoding="utf-8") == block.text, f"{block.contract} drifted"


@pytest.mark.parametrize("block", [b for b in CONTRACT if not b.fragment], ids=lambda b: b.lang)
def test_contract_example_validates_and_compiles(spec, block):
    folder = spec({f"spec.wiam.{block.lang}": block.text})
    assert spec_errors(folder) == []
    module = compiled_files(folder)["main.tf.json"]
    roles = resources(module, "aws_iam_role")
    assert "prod__payments-deployer" in roles
    trust = json.loads(roles["prod__payments-deployer"]["assume_role_policy"])
    (statement,) = trust["Statement"]
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Principal"]["Federated"] == (
        "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com")
    assert statement["Condition"] == {"StringEquals": {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": SUBJECT}}
    policy = json.loads(resources(module, "aws_iam_role_policy")["prod__payments-deployer"]["policy"])
    assert policy["Statement"][0]["Resource"] == "arn:aws:s3:::acme-payments-artifacts/*"


def test_contract_hcl_example_compiles_every_cloud(spec):
    (hcl,) = [b.text for b in CONTRACT if b.lang == "hcl" and not b.fragment]
    module = compiled_files(spec({"spec.wiam.hcl": hcl}))["main.tf.json"]
    # AWS: one OIDC provider per issuer and account, shared by the workloads.
    providers = resources(module, "aws_iam_openid_connect_provider")
    assert sorted(p["url"] for p in providers.values()) == [
        "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE",
        "https://token.actions.githubusercontent.com"]
    orders = json.loads(resources(module, "aws_iam_role")["prod__orders-api"]["assume_role_policy"])
    assert orders["Statement"][0]["Condition"]["StringEquals"][
        "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:sub"] == "system:serviceaccount:orders:orders-api"
    # GCP: pool, provider with a condition naming the subject, service account, bindings.
    (provider,) = resources(module, "google_iam_workload_identity_pool_provider").values()
    assert provider["attribute_mapping"] == {"google.subject": "assertion.sub"}
    condition = provider["attribute_condition"]
    assert cel_admits(condition, {"sub": SUBJECT}) and not cel_admits(condition, {"sub": SUBJECT + "x"})
    assert "allowed_audiences" not in provider["oidc"]  # default: the provider's own resource name
    (binding,) = resources(module, "google_service_account_iam_member").values()
    assert binding["role"] == "roles/iam.workloadIdentityUser"
    assert binding["member"] == ("principal://iam.googleapis.com/projects/123456789012/locations/global/"
                                 f"workloadIdentityPools/wiam-pool/subject/{SUBJECT}")
    (bucket,) = resources(module, "google_storage_bucket_iam_member").values()
    assert bucket["bucket"] == "acme-payments-artifacts" and bucket["role"] == "roles/storage.objectViewer"
    # Azure: identity, one exact credential, a role assignment at the given scope.
    (credential,) = resources(module, "azurerm_federated_identity_credential").values()
    assert credential["audience"] == ["api://AzureADTokenExchange"]
    assert credential["subject"] == SUBJECT
    (assignment,) = resources(module, "azurerm_role_assignment").values()
    assert assignment["role_definition_name"] == "Storage Blob Data Reader"
    assert assignment["scope"] == "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/payments"
    # Outputs the owner needs.
    outputs = module["output"]["payments-deployer"]["value"]
    assert set(outputs) == {"aws_prod_role_arn", "gcp_prod_workload_identity_provider",
                            "gcp_prod_service_account_email", "azure_prod_client_id", "azure_prod_tenant_id"}
    assert set(module["output"]["orders-api"]["value"]) == {"aws_prod_role_arn"}


def test_conditional_contract_example_validates_and_compiles_with_the_contract_example(spec):
    """The conditional example is written against the contract example's issuers and targets."""
    texts = {b.contract: b.text for b in CONTRACT if b.lang == "hcl"}
    folder = spec({"main.wiam.hcl": texts["examples/spec-reference/main.wiam.hcl"],
                   "conditions.wiam.hcl": texts["examples/spec-reference/conditions.wiam.hcl"]})
    assert spec_errors(folder) == []
    module = compiled_files(folder)["main.tf.json"]
    (credential,) = [c for c in resources(module, "azurerm_federated_identity_credential").values()
                     if c["subject"] != SUBJECT]
    assert credential["subject"] == (  # the SPEC's subject for payments-blob-sync
        "repo:acme/payments:ref:refs/heads/main:job_workflow_ref:"
        "acme/shared-workflows/.github/workflows/sync.yml@refs/heads/main")
