"""AWS drift of spiffe_x509 objects: roles in a moto server (which has no Roles Anywhere), trust anchors
and profiles answered by botocore's Stubber, which checks each request and response against the
service's own API model."""

import json

import boto3
import pytest
from botocore.stub import Stubber

from live_aws import apply, moto_environment, reset, session
from support.certs import authority
from support.specs import BASE_HCL, workload_hcl, write_spec
from wiam.bundles import fingerprint
from wiam.compile import load_model
from wiam.drift import drift, selected
from wiam.planning import plan_model
from wiam.providers.aws import live
from wiam.terraform import Module
from wiam import registry

ROOT, OTHER = authority("mesh root"), authority("another root")
ISSUER = 'issuer "mesh" {\n  kind              = "spiffe_x509"\n  trust_bundle_file = "mesh.pem"\n}\n'
REGION = "us-east-1"


@pytest.fixture(scope="module")
def endpoint():
    with moto_environment() as url:
        yield url


@pytest.fixture
def deployed(endpoint, tmp_path):
    """The spec's prod target applied: its role in moto with the anchor's ARN where Terraform puts it."""
    reset(endpoint)
    folder = write_spec(tmp_path, {"main.wiam.hcl": BASE_HCL + ISSUER + workload_hcl(
        "api", identities=['issuer = "mesh"\n    spiffe_id = "spiffe://acme.example/api"'])})
    (folder / "mesh.pem").write_text(ROOT.pem)
    model = load_model(str(folder))
    plan = plan_model(model)[("aws", "prod")]
    module = Module()
    registry.get("aws").emit(plan, module)
    (anchor,) = plan.trust_anchors
    arn = f"arn:aws:rolesanywhere:{REGION}:123456789012:trust-anchor/{'1' * 8}-0000-0000-0000-{'0' * 12}"
    for role in module.resources["aws_iam_role"].values():
        role["assume_role_policy"] = role["assume_role_policy"].replace(anchor.arn, arn)
    apply(module.resources, session(endpoint))
    return model, plan, session(endpoint), arn


def _stubbed(boto, anchors: list[dict], profiles: list[dict]):
    client = boto3.client("rolesanywhere", region_name=REGION, aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    stub = Stubber(client)
    stub.add_response("list_trust_anchors", {"trustAnchors": [a for a, _ in anchors]})
    for anchor, tags in anchors:
        stub.add_response("list_tags_for_resource", {"tags": tags}, {"resourceArn": anchor["trustAnchorArn"]})
    stub.add_response("list_profiles", {"profiles": [p for p, _ in profiles]})
    for profile, tags in profiles:
        stub.add_response("list_tags_for_resource", {"tags": tags}, {"resourceArn": profile["profileArn"]})
    stub.activate()

    class Connection(live.Connection):
        def client(self, service):
            return client if service == "rolesanywhere" else super().client(service)
    return Connection(boto), stub


def _tags(tags: dict) -> list[dict]:
    return [{"key": k, "value": v} for k, v in tags.items()]


def _anchor(name, arn, certificate, enabled=True):
    return {"name": name, "trustAnchorArn": arn, "trustAnchorId": arn.rsplit("/", 1)[1], "enabled": enabled,
            "source": {"sourceType": "CERTIFICATE_BUNDLE", "sourceData": {"x509CertificateData": certificate}}}


def _profile(name, roles, enabled=True):
    arn = f"arn:aws:rolesanywhere:{REGION}:123456789012:profile/{'2' * 8}-0000-0000-0000-{'0' * 12}"
    return {"name": name, "profileArn": arn, "profileId": arn.rsplit("/", 1)[1], "enabled": enabled, "roleArns": roles}


def _prod(model, connection):
    results = drift(model, {"aws": connection}, selected(model, {"aws"}))
    return next(r for r in results if r.target == "prod")


def test_the_applied_anchors_profiles_and_role_trust_have_no_drift(deployed):
    model, plan, boto, arn = deployed
    (anchor,), role = plan.trust_anchors, plan.settings.role_arn("wiam-api")
    connection, stub = _stubbed(boto, [(_anchor(anchor.name, arn, ROOT.pem), _tags(anchor.tags))],
                                [(_profile("wiam-api", [role]), _tags(plan.roles[0].tags))])
    result = _prod(model, connection)
    stub.assert_no_pending_responses()
    assert not result.drifted and result.unreadable is None


def test_a_swapped_certificate_a_widened_profile_and_another_source_anchor_are_drift(deployed):
    model, plan, boto, arn = deployed
    (anchor,), role = plan.trust_anchors, plan.settings.role_arn("wiam-api")
    iam = boto.client("iam")
    trust = iam.get_role(RoleName="wiam-api")["Role"]["AssumeRolePolicyDocument"]
    elsewhere = arn.replace("11111111", "99999999")
    iam.update_assume_role_policy(RoleName="wiam-api", PolicyDocument=json.dumps(trust).replace(arn, elsewhere))
    connection, _ = _stubbed(boto, [(_anchor(anchor.name, arn, OTHER.pem), _tags(anchor.tags)),
                                    (_anchor("wiam-left", elsewhere, OTHER.pem), _tags({"managed-by": "wiam"}))],
                             [(_profile("wiam-api", [role, "arn:aws:iam::123456789012:role/admin"]),
                               _tags(plan.roles[0].tags))])
    result = _prod(model, connection)
    assert [(o.kind, o.name) for o in result.extra] == [("trust_anchor", "wiam-left")]
    changed = {(e.kind, e.name): [d["field"] for d in found] for e, _, found in result.changed}
    assert changed == {("trust_anchor", anchor.name): ["certificate"], ("roles_anywhere_profile", "wiam-api"): ["roles"],
                       ("role", "wiam-api"): ["trust.Statement"]}


def test_gcp_reads_an_x509_providers_trust_store(tmp_path):
    from fake_gcp import State, apply as apply_gcp, fake_gcp, fake_iam_grpc
    from wiam.providers.gcp import live as gcp_live

    intermediate = authority("mesh intermediate", ROOT)
    folder = write_spec(tmp_path, {"main.wiam.hcl": BASE_HCL + ISSUER + workload_hcl(
        "api", identities=['issuer = "mesh"\n    spiffe_id = "spiffe://acme.example/api"'], grants=[
            ("gcp", "prod", 'roles = ["roles/storage.objectViewer"]\n    resource = "projects/_/buckets/acme-data"\n'
                            '    mode = "direct"')])})
    (folder / "mesh.pem").write_text(ROOT.pem + intermediate.pem)
    model = load_model(str(folder))
    plan = plan_model(model)[("gcp", "prod")]
    module = Module()
    registry.get("gcp").emit(plan, module)
    state = State()
    apply_gcp(state, module.resources, plan.settings.project_id, plan.settings.project_number)
    with fake_gcp(state) as rest, fake_iam_grpc(state) as grpc:
        connection = gcp_live.connect(rest=rest, grpc=grpc)
        (result,) = [r for r in drift(model, {"gcp": connection}, selected(model, {"gcp"})) if r.target == "prod"]
        assert not result.drifted and result.unreadable is None
        (provider,) = state.project(plan.settings.project_id, plan.settings.project_number)["pools"]["wiam-pool"][
            "providers"].values()
        provider["x509"]["trustStore"]["trustAnchors"].append({"pemCertificate": OTHER.pem})
        (result,) = [r for r in drift(model, {"gcp": connection}, selected(model, {"gcp"})) if r.target == "prod"]
    ((expected, _, found),) = result.changed
    assert expected.kind == "pool_provider" and [d["field"] for d in found] == ["x509.trust_anchors"]
    assert found[0]["added"] == [fingerprint(OTHER.pem)]
