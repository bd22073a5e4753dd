"""Drift of GKE workloads' bindings (ordinary IAM bindings of Google's pool principals), with the real
client libraries pointed at the local GCP fakes."""

import pytest

from fake_gcp import State, apply, fake_gcp, fake_iam_grpc
from support.specs import write_spec
from wiam import registry
from wiam.compile import load_model
from wiam.drift import drift
from wiam.planning import plan_model
from wiam.providers.gcp import live
from wiam.terraform import Module

POOL = "principal://iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/acme-prod.svc.id.goog"
SPEC = """
issuer:
  gke: { kind: gke }
target:
  gcp:
    prod: { project_id: acme-prod, project_number: "123456789012" }
workload:
  api:
    identity:
      - { issuer: gke, project_id: acme-prod, namespace: shop, service_account: api }
    grant:
      gcp:
        prod: { roles: ["roles/cloudtrace.agent"], mode: direct }
  worker:
    identity:
      - { issuer: gke, project_id: acme-prod, namespace: shop, service_account: worker }
    grant:
      gcp:
        prod: { roles: ["roles/pubsub.subscriber"] }
"""


@pytest.fixture
def cloud(tmp_path):
    model = load_model(str(write_spec(tmp_path, {"spec.wiam.yaml": SPEC})))
    state = State()
    plan = plan_model(model)[("gcp", "prod")]
    module = Module()
    registry.get("gcp").emit(plan, module)
    apply(state, module.resources, "acme-prod", "123456789012")
    with fake_gcp(state) as rest, fake_iam_grpc(state) as grpc:
        yield model, state, live.connect(rest=rest, grpc=grpc)


def test_the_applied_bindings_are_no_drift_and_no_pool_is_expected(cloud):
    model, state, connection = cloud
    assert state.projects["acme-prod"]["pools"] == {}
    (result,) = drift(model, {"gcp": connection})
    assert not result.drifted and result.unreadable is None


def test_a_removed_principal_and_a_namespace_wide_member_are_drift(cloud):
    model, state, connection = cloud
    project = state.projects["acme-prod"]
    for binding in project["policy"]["bindings"]:
        binding["members"] = [m for m in binding["members"] if m != f"{POOL}/subject/ns/shop/sa/api"]
    worker = next(e for e in project["accounts"] if e.startswith("wiam-worker@"))
    namespace = POOL.replace("principal://", "principalSet://") + "/namespace/shop"
    project["accounts"][worker]["policy"]["bindings"][0]["members"].append(namespace)
    (result,) = drift(model, {"gcp": connection})
    assert [(o.kind, o.name) for o in result.missing] == [("project_member", f"{POOL}/subject/ns/shop/sa/api")]
    ((expected, _, found),) = result.changed
    assert expected.name == "wiam-worker" and found[0]["added"] == [namespace]
