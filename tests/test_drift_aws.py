"""AWS drift against a real moto server: apply what Terraform would create, then edit it by hand."""

import json

import pytest

from wiam.compile import load_model
from wiam.drift import compare, drift, selected
from wiam.live import WRONG_ACCOUNT
from support.cli import run_wiam
from support.paths import EXAMPLES
from support.specs import write_spec
from live_aws import FAKE_ENVIRONMENT, apply, moto_environment, reset, session, trust_with
from wiam.providers.aws import live
from wiam import registry
from wiam.planning import plan_model
from wiam.terraform import Module

MOTO_ACCOUNT = "123456789012"  # the account moto serves


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    """The github-actions-aws example with its prod account moved to moto's; staging stays elsewhere."""
    text = (EXAMPLES / "github-actions-aws" / "main.wiam.hcl").read_text()
    return write_spec(tmp_path_factory.mktemp("spec"), {"main.wiam.hcl": text.replace("210987654321", MOTO_ACCOUNT)})


@pytest.fixture(scope="module")
def endpoint():
    with moto_environment() as url:
        yield url


@pytest.fixture
def deployed(endpoint, spec):
    """The spec applied to a fresh moto account: (model, boto3 session, the prod target)."""
    reset(endpoint)
    model = load_model(str(spec))
    boto = session(endpoint)
    prod = model.targets[("aws", "prod")]
    module = Module()
    registry.get("aws").emit(plan_model(model)[("aws", "prod")], module)
    apply(module.resources, boto)
    return model, boto, prod


def aws_drift(model, boto):
    """The prod target's drift; staging is in an account these credentials are not for."""
    results = drift(model, {"aws": live.Connection(boto)}, selected(model, {"aws"}))
    staging = next(r for r in results if r.target == "staging")
    assert staging.unreadable == f"the credentials are for account {MOTO_ACCOUNT}, not 109876543210"
    assert staging.reason == WRONG_ACCOUNT
    return [r for r in results if r.target == "prod"]


def test_applied_spec_has_no_drift(deployed):
    model, boto, _ = deployed
    result, = aws_drift(model, boto)
    assert not result.drifted and result.unreadable is None


def test_hand_edited_trust_policy_is_changed(deployed):
    model, boto, target = deployed
    iam = boto.client("iam")
    role = next(o for o in live.expected(plan_model(model)[("aws", target.name)]) if o.kind == "role")
    current = iam.get_role(RoleName=role.name)["Role"]["AssumeRolePolicyDocument"]
    iam.update_assume_role_policy(RoleName=role.name, PolicyDocument=trust_with(current, "repo:evil/fork:ref:refs/heads/main"))
    result, = aws_drift(model, boto)
    assert not result.missing and not result.extra
    (changed_expected, _, found), = result.changed
    assert (changed_expected.kind, changed_expected.name) == ("role", role.name)
    assert [d["field"] for d in found] == ["trust.Statement"]
    added, = found[0]["added"]
    removed, = found[0]["removed"]
    added_subjects = next(v for k, v in added["Condition"]["StringEquals"].items() if k.endswith(":sub"))
    removed_subjects = next(v for k, v in removed["Condition"]["StringEquals"].items() if k.endswith(":sub"))
    assert set(added_subjects) - set(removed_subjects) == {"repo:evil/fork:ref:refs/heads/main"}


def test_added_policy_and_deleted_role_and_extra_role(deployed):
    model, boto, target = deployed
    iam = boto.client("iam")
    roles = sorted(o.name for o in live.expected(plan_model(model)[("aws", target.name)]) if o.kind == "role")
    assert len(roles) >= 2, "the example should compile to at least two roles"
    extra_policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    iam.put_role_policy(RoleName=roles[0], PolicyName="hand-added", PolicyDocument=json.dumps(extra_policy))
    iam.attach_role_policy(RoleName=roles[0], PolicyArn="arn:aws:iam::aws:policy/ReadOnlyAccess")
    for name in iam.list_role_policies(RoleName=roles[1])["PolicyNames"]:
        iam.delete_role_policy(RoleName=roles[1], PolicyName=name)
    for attached in iam.list_attached_role_policies(RoleName=roles[1])["AttachedPolicies"]:
        iam.detach_role_policy(RoleName=roles[1], PolicyArn=attached["PolicyArn"])
    iam.delete_role(RoleName=roles[1])
    iam.create_role(RoleName="wiam-left-behind", AssumeRolePolicyDocument=json.dumps(extra_policy | {"Statement": []}),
                    Tags=[{"Key": "managed-by", "Value": "wiam"}])
    iam.create_role(RoleName="someone-elses", AssumeRolePolicyDocument=json.dumps(extra_policy | {"Statement": []}))
    result, = aws_drift(model, boto)
    assert [(o.kind, o.name) for o in result.missing] == [("role", roles[1])]
    assert [(o.kind, o.name) for o in result.extra] == [("role", "wiam-left-behind")]  # not someone else's role
    (changed, _, found), = result.changed
    assert changed.name == roles[0]
    fields = {d["field"]: d for d in found}
    assert set(fields) == {"inline_policies.hand-added", "managed_policies"}
    assert fields["inline_policies.hand-added"]["expected"] is None
    assert fields["inline_policies.hand-added"]["actual"]["Statement"][0]["Action"] == ["s3:*"]
    assert fields["managed_policies"]["added"] == ["arn:aws:iam::aws:policy/ReadOnlyAccess"]


READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ADOPTING = f'''issuer "github" {{
  kind = "github_actions"
}}

target "aws" "prod" {{
  account_id = "{MOTO_ACCOUNT}"
}}

workload "deployer" {{
  identity {{
    issuer     = "github"
    repository = "acme/app"
    ref        = "refs/heads/main"
  }}

  grant "aws" "prod" {{
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::b/*"]
    adopt     = "GitHubDeploy"
    ADOPT_POLICY
  }}
}}
'''


@pytest.mark.parametrize("adopt_policy", [True, False], ids=["adopt_policy", "no_adopt_policy"])
def test_an_adopted_role_s_old_policies_are_drift_until_removed(endpoint, tmp_path, adopt_policy):
    """A hand-made role with two inline policies and an attachment, adopted and applied: Terraform
    manages only what it names, so what the plan does not hold stays, and drift reports each of it on
    the role (the policy taken over by adopt_policy holds the grant's permissions, and is no drift)."""
    reset(endpoint)
    boto = session(endpoint)
    iam = boto.client("iam")
    wide = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    iam.create_role(RoleName="GitHubDeploy", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17",
                                                                                "Statement": []}))
    for name in ("deploy", "legacy"):
        iam.put_role_policy(RoleName="GitHubDeploy", PolicyName=name, PolicyDocument=wide)
    iam.attach_role_policy(RoleName="GitHubDeploy", PolicyArn=READ_ONLY)
    text = ADOPTING.replace("ADOPT_POLICY", 'adopt_policy = "deploy"' if adopt_policy else "")
    model = load_model(str(write_spec(tmp_path, {"main.wiam.hcl": text})))
    module = Module()
    registry.get("aws").emit(plan_model(model)[("aws", "prod")], module)
    apply(module.resources, boto, module.imports)
    (result,) = drift(model, {"aws": live.Connection(boto)}, selected(model, {"aws"}))
    assert not result.missing and not result.extra and result.unreadable is None
    (changed, _, found), = result.changed
    assert changed.name == "GitHubDeploy"
    fields = {d["field"]: d for d in found}
    kept = ["legacy"] if adopt_policy else ["deploy", "legacy"]  # the old permissions the role still holds
    assert set(fields) == {f"inline_policies.{name}" for name in kept} | {"managed_policies"}
    for name in kept:
        assert fields[f"inline_policies.{name}"]["expected"] is None
        assert fields[f"inline_policies.{name}"]["actual"]["Statement"][0]["Action"] == ["s3:*"]
    assert fields["managed_policies"] == {"field": "managed_policies", "added": [READ_ONLY], "removed": []}
    for name in kept:
        iam.delete_role_policy(RoleName="GitHubDeploy", PolicyName=name)
    iam.detach_role_policy(RoleName="GitHubDeploy", PolicyArn=READ_ONLY)
    (result,) = drift(model, {"aws": live.Connection(boto)}, selected(model, {"aws"}))
    assert not result.drifted
    expected = {"deploy" if adopt_policy else "wiam-grant"}
    assert set(iam.list_role_policies(RoleName="GitHubDeploy")["PolicyNames"]) == expected


def test_rewritten_but_equal_policies_are_not_drift(deployed):
    model, boto, target = deployed
    iam = boto.client("iam")
    role = next(o for o in live.expected(plan_model(model)[("aws", target.name)])
                if o.kind == "role" and o.state["inline_policies"])
    name, policy = next(iter(role.state["inline_policies"].items()))
    rewritten = {"Version": policy["Version"], "Statement": [
        {**s, "Sid": "Renamed", "Action": [a.upper() for a in reversed(s["Action"])]} for s in reversed(policy["Statement"])]}
    iam.put_role_policy(RoleName=role.name, PolicyName=name, PolicyDocument=json.dumps(rewritten))
    assert all(not r.drifted for r in aws_drift(model, boto))


def test_compare_reports_exactly_what_differs():
    from wiam.live import LiveObject
    a = LiveObject("role", "r", {"tags": {"owner": "x"}, "managed_policies": ["p1"]})
    b = LiveObject("role", "r", {"tags": {"owner": "y"}, "managed_policies": ["p1", "p2"]})
    result = compare("aws", "prod", [a, LiveObject("role", "gone", {})], [b, LiveObject("role", "new", {})])
    assert [o.name for o in result.missing] == ["gone"] and [o.name for o in result.extra] == ["new"]
    assert result.changed[0][2] == [{"field": "managed_policies", "added": ["p2"], "removed": []},
                                    {"field": "tags.owner", "expected": "x", "actual": "y"}]


def test_cli_exit_codes_unread_narrowed_and_drift(deployed, endpoint, spec):
    model, boto, target = deployed
    environment = {**FAKE_ENVIRONMENT, "AWS_ENDPOINT_URL": endpoint}
    run = lambda *args: run_wiam("drift", spec, "--cloud", "aws", *args, env=environment, timeout=120)  # noqa: E731
    everything = run("--format", "json")
    assert everything.returncode == 3, everything.stderr  # staging is another account: the run is incomplete
    report = json.loads(everything.stdout)
    assert report["unread"] is True and report["drifted"] is False
    targets = {t["target"]: t for t in report["targets"]}
    assert not targets["prod"]["missing"] and not targets["prod"]["extra"] and not targets["prod"]["changed"]
    assert (targets["staging"]["readable"], targets["staging"]["unread_reason"]) == (False, "wrong-account")
    assert run("--allow-unread").returncode == 0
    narrowed = run("--target", "prod", "--format", "json")  # staging left out: not read, and not missed
    assert narrowed.returncode == 0, narrowed.stderr
    assert [t["target"] for t in json.loads(narrowed.stdout)["targets"]] == ["prod"]
    assert run("--target", "aws.prod").returncode == 0
    unreadable = run("--target", "staging")  # narrowing excuses only the targets left out
    assert unreadable.returncode == 3
    assert f"aws staging: not read (wrong account): the credentials are for account {MOTO_ACCOUNT}" in unreadable.stdout
    unknown = run("--target", "prod", "--target", "nope")
    assert unknown.returncode == 2 and "no target named 'nope' in aws (targets: aws.prod, aws.staging)" in unknown.stderr
    role = next(o.name for o in live.expected(plan_model(model)[("aws", target.name)]) if o.kind == "role")
    boto.client("iam").put_role_policy(RoleName=role, PolicyName="hand-added", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}))
    drifted = run()
    assert drifted.returncode == 1  # drift outranks the unread staging target, which is still printed
    assert f"changed role {role}" in drifted.stdout and "inline_policies.hand-added" in drifted.stdout
    assert "aws staging: not read (wrong account)" in drifted.stdout
    assert "testing" not in drifted.stdout + drifted.stderr  # no credential is ever printed


@pytest.mark.parametrize("code, reason", [("InvalidClientTokenId", "credentials-rejected"),
                                          ("ExpiredToken", "credentials-rejected"), ("AccessDenied", "access-denied"),
                                          ("Throttling", "error")])
def test_sdk_refusals_say_why(code, reason):
    from botocore.exceptions import ClientError
    refusal = ClientError({"Error": {"Code": code, "Message": "request signed with AKIAIOSFODNN7EXAMPLE"}}, "GetCallerIdentity")
    with pytest.raises(live.Unreadable) as raised:
        with live._readable():
            raise refusal
    assert raised.value.reason == reason
    assert str(raised.value) == f"GetCallerIdentity: {code}: request signed with [redacted]"


def test_no_credentials_and_no_endpoint_say_why():
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError
    for error, reason in [(NoCredentialsError(), "no-credentials"),
                          (EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), "unreachable")]:
        with pytest.raises(live.Unreadable) as raised:
            with live._readable():
                raise error
        assert raised.value.reason == reason
