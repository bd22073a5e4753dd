"""GCP drift with the real client libraries pointed at local fakes of the REST and gRPC APIs."""

import json

import pytest

from wiam.compile import load_model
from wiam import registry
from wiam.drift import drift
from wiam.planning import plan_model
from wiam.terraform import Module
from support.cli import run_wiam
from support.specs import write_spec
from fake_gcp import State, apply, fake_gcp, fake_iam_grpc
from wiam.providers.gcp import live

SPEC = """
issuer:
  gitlab: { kind: gitlab_ci }
target:
  gcp:
    prod: { project_id: acme-prod, project_number: "123456789012" }
    locked: { project_id: acme-locked, project_number: "210987654321" }
workload:
  deployer:
    owner: team-platform
    identity:
      - { issuer: gitlab, project_path: acme/platform/deployer, ref_type: branch, ref: main }
    grant:
      gcp:
        prod: { roles: ["roles/run.developer", "roles/iam.serviceAccountUser"] }
        locked: { roles: ["roles/viewer"] }
  loader:
    owner: team-data
    identity:
      - { issuer: gitlab, project_path: acme/data/etl, ref_type: tag, ref: v2.4.0 }
    grant:
      gcp:
        prod:
          roles: ["roles/bigquery.dataEditor"]
          resource: projects/acme-prod/datasets/warehouse
"""


@pytest.fixture
def cloud(tmp_path):
    """The spec applied to the fake GCP, the `locked` project refusing every call."""
    model = load_model(str(write_spec(tmp_path / "spec", {"spec.wiam.yaml": SPEC})))
    state = State()
    for (cloud, _), plan in plan_model(model).items():
        module = Module()
        registry.get(cloud).emit(plan, module)
        apply(state, module.resources, plan.settings.project_id, plan.settings.project_number)
    state.forbidden.add("acme-locked")
    with fake_gcp(state) as rest, fake_iam_grpc(state) as grpc:
        yield model, state, live.connect(rest=rest, grpc=grpc), (rest, grpc)


def prod_drift(model, connection):
    results = {r.target: r for r in drift(model, {"gcp": connection})}
    assert "PERMISSION_DENIED" in results["locked"].unreadable or "Permission denied" in results["locked"].unreadable
    assert results["locked"].reason == "access-denied"
    return results["prod"]


def test_applied_spec_has_no_drift(cloud):
    model, _, connection, _ = cloud
    result = prod_drift(model, connection)
    assert not result.drifted and result.unreadable is None
    assert result.unchecked == 1  # the dataset binding: BigQuery's own API, not read


def test_widened_attribute_condition_is_changed(cloud):
    model, state, connection, _ = cloud
    provider = next(iter(state.projects["acme-prod"]["pools"]["wiam-pool"]["providers"].values()))
    original = provider["attributeCondition"]
    provider["attributeCondition"] = "true"
    result = prod_drift(model, connection)
    (expected, _, found), = result.changed
    assert expected.kind == "pool_provider"
    assert found == [{"field": "attribute_condition", "expected": original, "actual": "true"}]
    assert not result.missing and not result.extra


def test_console_binding_and_deleted_account(cloud):
    model, state, connection, _ = cloud
    project = state.projects["acme-prod"]
    deployer = next(e for e in project["accounts"] if e.startswith("wiam-deployer@"))
    project["policy"]["bindings"].append({"role": "roles/owner", "members": [f"serviceAccount:{deployer}"]})
    project["policy"]["bindings"].append({"role": "roles/viewer", "members": ["user:alice@example.com"]})  # not wiam's
    loader = next(e for e in project["accounts"] if e.startswith("wiam-loader@"))
    del project["accounts"][loader]
    account_policy = project["accounts"][deployer]["policy"]
    account_policy["bindings"][0]["members"].append("principal://iam.googleapis.com/projects/123456789012/"
                                                    "locations/global/workloadIdentityPools/wiam-pool/subject/x")
    result = prod_drift(model, connection)
    assert [(o.kind, o.name) for o in result.missing] == [("service_account", "wiam-loader")]
    assert result.extra == []
    changed = {(e.kind, e.name): found for e, _, found in result.changed}
    assert changed[("project_member", f"serviceAccount:{deployer}")] == [
        {"field": "roles", "added": ["roles/owner"], "removed": []}]
    account_change, = changed[("service_account", "wiam-deployer")]
    assert account_change["field"] == "iam_policy.roles/iam.workloadIdentityUser"
    assert account_change["added"] == ["principal://iam.googleapis.com/projects/123456789012/locations/global/"
                                       "workloadIdentityPools/wiam-pool/subject/x"]


def test_left_behind_account_and_provider_are_extra(cloud):
    model, state, connection, _ = cloud
    project = state.projects["acme-prod"]
    email = "wiam-old-job@acme-prod.iam.gserviceaccount.com"
    project["accounts"][email] = {**next(iter(project["accounts"].values())), "email": email,
                                  "name": f"projects/acme-prod/serviceAccounts/{email}",
                                  "policy": {"version": 1, "bindings": []}}
    email = "ci-bot@acme-prod.iam.gserviceaccount.com"  # not wiam's: ignored
    project["accounts"][email] = {**project["accounts"]["wiam-old-job@acme-prod.iam.gserviceaccount.com"], "email": email,
                                  "name": f"projects/acme-prod/serviceAccounts/{email}"}
    pool = project["pools"]["wiam-pool"]["providers"]
    pool["hand-made"] = {**next(iter(pool.values())), "name": "projects/123456789012/locations/global/"
                         "workloadIdentityPools/wiam-pool/providers/hand-made"}
    result = prod_drift(model, connection)
    assert [(o.kind, o.name) for o in result.extra] == [("pool_provider", "hand-made"), ("service_account", "wiam-old-job")]


def test_deleted_pool_is_missing_with_its_providers(cloud):
    model, state, connection, _ = cloud
    del state.projects["acme-prod"]["pools"]["wiam-pool"]
    result = prod_drift(model, connection)
    assert {o.kind for o in result.missing} == {"pool", "pool_provider"}


def test_cli_json(cloud, tmp_path):
    model, state, _, (rest, grpc) = cloud
    spec = write_spec(tmp_path / "cli", {"spec.wiam.yaml": SPEC})
    command = ["drift", spec, "--cloud", "gcp", "--gcp-endpoint", rest, "--gcp-grpc-endpoint", grpc, "--format", "json"]
    clean = run_wiam(*command, timeout=120)
    assert clean.returncode == 3, clean.stderr  # `locked` refuses: the run is incomplete
    report = {t["target"]: t for t in json.loads(clean.stdout)["targets"]}
    assert report["prod"]["readable"] and not report["locked"]["readable"]
    assert report["locked"]["unread_reason"] == "access-denied"
    narrowed = run_wiam(*command, "--target", "gcp.prod", timeout=120)
    assert narrowed.returncode == 0, narrowed.stderr
    next(iter(state.projects["acme-prod"]["pools"]["wiam-pool"]["providers"].values()))["disabled"] = True
    drifted = run_wiam(*command, timeout=120)
    assert drifted.returncode == 1
    change, = {t["target"]: t for t in json.loads(drifted.stdout)["targets"]}["prod"]["changed"]
    assert change["differences"] == [{"field": "disabled", "expected": False, "actual": True}]


BINDINGS_SPEC = """
issuer:
  gitlab: { kind: gitlab_ci }
target:
  gcp:
    prod: { project_id: acme-prod, project_number: "123456789012" }
workload:
  deployer:
    identity:
      - { issuer: gitlab, project_path: acme/platform/deployer, ref_type: branch, ref: main }
    grant:
      gcp:
        prod: { roles: ["roles/run.developer"] }
  runner:
    identity:
      - { issuer: gitlab, project_path: acme/platform/runner, ref_type: branch, ref: main }
    grant:
      gcp:
        prod:
          roles: ["roles/iam.serviceAccountTokenCreator"]
          resource: projects/acme-prod/serviceAccounts/wiam-deployer@acme-prod.iam.gserviceaccount.com
  auditor:
    identity:
      - { issuer: gitlab, project_path: acme/sec/audit, ref_type: branch, ref: main }
    grant:
      gcp:
        prod: { roles: ["roles/viewer"], resource: projects/acme-other, mode: direct }
"""


def test_roles_on_the_targets_own_accounts_are_expected_and_others_unchecked(tmp_path):
    """A role on a service account the target creates is in that account's expected policy, which
    drift reads; one on another project's policy is not read, so it counts as unchecked."""
    plan = plan_model(load_model(str(write_spec(tmp_path / "spec", {"spec.wiam.yaml": BINDINGS_SPEC}))))[("gcp", "prod")]
    objects = {(o.kind, o.name): o.state for o in live.expected(plan)}
    assert objects[("service_account", "wiam-deployer")]["iam_policy"]["roles/iam.serviceAccountTokenCreator"] == [
        "serviceAccount:wiam-runner@acme-prod.iam.gserviceaccount.com"]
    assert [name for kind, name in objects if kind == "project_member"] == [
        "serviceAccount:wiam-deployer@acme-prod.iam.gserviceaccount.com"]  # not the auditor's, on acme-other
    assert live.unchecked(plan) == 1
