"""A moto server on a loopback port, and the boto3 calls that mirror what Terraform's aws provider
makes for wiam's compiled resources."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager

import boto3
from moto.server import ThreadedMotoServer

from wiam.terraform import referenced

# moto's documented placeholders: it accepts any key, and nothing here reaches AWS.
FAKE_ENVIRONMENT = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                    "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                    "MOTO_IAM_LOAD_MANAGED_POLICIES": "true"}  # so AWS managed policies can be attached


@contextmanager
def moto_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@contextmanager
def moto_environment():
    """A moto server with boto3's environment pointed at moto's placeholder credentials, restored after."""
    saved = {k: os.environ.get(k) for k in FAKE_ENVIRONMENT}
    os.environ.update(FAKE_ENVIRONMENT)
    try:
        with moto_server() as url:
            yield url
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def session(endpoint: str) -> boto3.Session:
    """A session whose clients all go to the moto server (as AWS_ENDPOINT_URL does for the CLI)."""
    class Pointed(boto3.Session):
        def client(self, *args, **kwargs):
            return super().client(*args, endpoint_url=endpoint, **kwargs)
    return Pointed(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")


def _tags(tags: dict) -> list[dict]:
    return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]


def apply(resources: dict, boto: boto3.Session, imports: list[dict] = ()) -> None:
    """Create what `terraform apply` would: providers, roles, inline policies, attachments. A role an
    import block names exists already: its trust, tags, description and session are updated instead;
    its inline policies are put over any of their names, and attaching an attached policy changes nothing."""
    iam = boto.client("iam")
    imported = {block["to"] for block in imports}
    for body in resources.get("aws_iam_openid_connect_provider", {}).values():
        iam.create_open_id_connect_provider(Url=body["url"], ClientIDList=body["client_id_list"],
                                            ThumbprintList=["0" * 40], Tags=_tags(body.get("tags", {})))
    names = {}
    for key, body in resources.get("aws_iam_role", {}).items():
        names[key] = body["name"]
        optional = {"Description": body.get("description"), "MaxSessionDuration": body.get("max_session_duration"),
                    "PermissionsBoundary": body.get("permissions_boundary")}
        if f"aws_iam_role.{key}" in imported:
            iam.update_assume_role_policy(RoleName=body["name"], PolicyDocument=body["assume_role_policy"])
            iam.tag_role(RoleName=body["name"], Tags=_tags(body.get("tags", {})))
            iam.update_role(RoleName=body["name"], Description=body.get("description", ""),
                            MaxSessionDuration=body.get("max_session_duration", 3600))
            continue
        iam.create_role(RoleName=body["name"], AssumeRolePolicyDocument=body["assume_role_policy"],
                        Tags=_tags(body.get("tags", {})), **{k: v for k, v in optional.items() if v is not None})
    role_of = lambda reference: names[referenced(reference, "aws_iam_role")]  # noqa: E731
    for body in resources.get("aws_iam_role_policy", {}).values():
        iam.put_role_policy(RoleName=role_of(body["role"]), PolicyName=body["name"], PolicyDocument=body["policy"])
    for body in resources.get("aws_iam_role_policy_attachment", {}).values():
        iam.attach_role_policy(RoleName=role_of(body["role"]), PolicyArn=body["policy_arn"])


def reset(endpoint: str) -> None:
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).read()


def trust_with(policy: dict, subject: str) -> str:
    """The trust policy with one more subject allowed: a hand edit."""
    policy = json.loads(json.dumps(policy))
    condition = policy["Statement"][0]["Condition"]["StringEquals"]
    key = next(k for k in condition if k.endswith(":sub"))
    values = condition[key] if isinstance(condition[key], list) else [condition[key]]
    condition[key] = values + [subject]
    return json.dumps(policy)
