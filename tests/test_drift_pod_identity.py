"""Drift of EKS Pod Identity associations: IAM from a moto server (which serves no EKS Pod Identity), the
associations of the plan's clusters through botocore's Stubber, answering as the EKS API documents."""

import boto3
import pytest
from botocore.stub import Stubber

from live_aws import apply, reset, session
from support.paths import EXAMPLES
from support.specs import write_spec
from test_drift_aws import MOTO_ACCOUNT, endpoint  # noqa: F401  (the moto server fixture)
from wiam import registry
from wiam.compile import load_model
from wiam.drift import drift, selected
from wiam.planning import plan_model
from wiam.providers.aws import live
from wiam.terraform import Module

REGION = "eu-central-1"
ROLE = f"arn:aws:iam::{MOTO_ACCOUNT}:role/wiam-{{}}"
WIAM_TAGS = {"managed-by": "wiam", "owner": "team-orders", "environment": "prod"}


@pytest.fixture
def deployed(endpoint, tmp_path):  # noqa: F811
    reset(endpoint)
    text = (EXAMPLES / "eks-pod-identity" / "main.wiam.hcl").read_text().replace("210987654321", MOTO_ACCOUNT)
    model = load_model(str(write_spec(tmp_path, {"main.wiam.hcl": text})))
    boto = session(endpoint)
    module = Module()
    registry.get("aws").emit(plan_model(model)[("aws", "shop")], module)
    apply(module.resources, boto)
    return model, boto


def _eks(associations: dict[str, list[dict]]):
    """An EKS client answering list and describe for each cluster's associations, in the order read reads them."""
    client = boto3.client("eks", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")
    stubber = Stubber(client)
    for cluster, found in sorted(associations.items()):
        stubber.add_response("list_pod_identity_associations", {"associations": [
            {"clusterName": cluster, "namespace": a["namespace"], "serviceAccount": a["serviceAccount"],
             "associationId": f"a-{index}"} for index, a in enumerate(found)]}, {"clusterName": cluster})
        for index, association in enumerate(found):
            stubber.add_response("describe_pod_identity_association",
                                 {"association": {"clusterName": cluster, "associationId": f"a-{index}", **association}},
                                 {"clusterName": cluster, "associationId": f"a-{index}"})
    stubber.activate()
    return client, stubber


class _WithEks:
    """The moto session for IAM and STS; the stubbed client for EKS (in the target's region)."""

    def __init__(self, boto, eks):
        self.boto, self.eks = boto, eks

    def client(self, service, region_name=None, **kwargs):
        if service == "eks":
            assert region_name == REGION
            return self.eks
        return self.boto.client(service, **kwargs)


def _association(namespace, account, workload, **extra):
    return {"namespace": namespace, "serviceAccount": account, "roleArn": ROLE.format(workload),
            "tags": {**WIAM_TAGS, "wiam-workload": workload}, **extra}


def _as_applied():
    return {"shop-prod": [_association("orders", "orders-worker", "orders-worker"),
                          _association("receipts", "archiver", "receipts-archiver")],
            "shop-standby": [_association("receipts", "archiver", "receipts-archiver")]}


def _drift(model, boto, associations):
    eks, stubber = _eks(associations)
    (result,) = drift(model, {"aws": live.Connection(_WithEks(boto, eks))}, selected(model, {"aws"}))
    stubber.assert_no_pending_responses()
    return result


def test_the_applied_associations_are_no_drift(deployed):
    result = _drift(*deployed, _as_applied())
    assert not result.drifted and result.unreadable is None


def test_a_removed_an_extra_and_a_loosened_association_are_drift(deployed):
    associations = _as_applied()
    associations["shop-standby"] = [_association("default", "debug", "receipts-archiver"),  # wiam's tag: extra
                                    {"namespace": "kube-system", "serviceAccount": "ebs-csi",  # someone else's
                                     "roleArn": f"arn:aws:iam::{MOTO_ACCOUNT}:role/ebs", "tags": {}}]
    associations["shop-prod"][0]["disableSessionTags"] = True
    associations["shop-prod"][1]["targetRoleArn"] = "arn:aws:iam::999999999999:role/elsewhere"
    result = _drift(*deployed, associations)
    assert [o.name for o in result.missing] == ["shop-standby/receipts/archiver"]
    assert [o.name for o in result.extra] == ["shop-standby/default/debug"]
    changed = {expected.name: [d["field"] for d in found] for expected, _, found in result.changed}
    assert changed == {"shop-prod/orders/orders-worker": ["disable_session_tags"],
                       "shop-prod/receipts/archiver": ["target_role_arn"]}
