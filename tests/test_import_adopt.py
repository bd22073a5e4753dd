"""`wiam import` adopting what exists, against a moto server seeded with a hand-made GitHub role (inline
and attached policies), a wiam-managed one, one away from path / and a service's: the proposed spec
validates and compiles, its import blocks name exactly the hand-made roles by their documented import
ID, and each adopted role's compiled trust admits exactly the tokens its old trust admitted."""

import json
import re

import pytest

from live_aws import FAKE_ENVIRONMENT, moto_server, reset, session
from support.cli import run_wiam
from support.specs import write_spec
from trust_eval import aws_roles_accepting
from wiam.compile import compile_model, load_model

ACCOUNT = "123456789012"
GITHUB = "token.actions.githubusercontent.com"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GITHUB}"
READER = f"arn:aws:iam::{ACCOUNT}:policy/reader"  # a customer managed policy: moto's server holds no AWS ones
SPEC = f'issuer "github" {{\n  kind = "github_actions"\n}}\n\ntarget "aws" "prod" {{\n  account_id = "{ACCOUNT}"\n}}\n'
# terraform-provider-aws website/docs/r/iam_role.html.markdown, "Import": the role name.
ROLE_IMPORT_ID = re.compile(r"[A-Za-z0-9_+=,.@-]{1,64}")
HOSTILE_DESCRIPTION = 'pwn" } workload "evil" { ${file("/etc/passwd")} %{ if true } # x'
HOSTILE_SUBJECT = 'repo:o/r:ref:refs/heads/"} %{y} $x # x'  # ${ would be an IAM policy variable: not exact
UNSAYABLE_SUBJECT = "repo:o/r:ref:refs/heads/a\n}"  # a line break: no spec holds it, so it is left out


def trust(subjects, audience="sts.amazonaws.com", operator="StringEquals", extra=()):
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Federated": PROVIDER}, "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {operator: {f"{GITHUB}:aud": audience, f"{GITHUB}:sub": subjects}}}, *extra]}


OLD_TRUST = {
    "GitHubDeploy": trust(["repo:o/r:ref:refs/heads/main", "repo:o/r:environment:prod"]),
    "hostile": trust([HOSTILE_SUBJECT, UNSAYABLE_SUBJECT, "repo:o/r:pull_request"], extra=[
        {"Effect": "Allow", "Principal": {"Federated": PROVIDER}, "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringLike": {f"{GITHUB}:sub": "repo:o/*"}}}]),
}


@pytest.fixture(scope="module")
def endpoint():
    with moto_server() as url:
        reset(url)
        iam = session(url).client("iam")
        iam.create_open_id_connect_provider(Url=f"https://{GITHUB}", ClientIDList=["sts.amazonaws.com"],
                                            ThumbprintList=["0" * 40])
        iam.create_policy(PolicyName="reader", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
        iam.create_role(RoleName="GitHubDeploy", AssumeRolePolicyDocument=json.dumps(OLD_TRUST["GitHubDeploy"]),
                        Description="Deploys o/r", MaxSessionDuration=7200)
        iam.put_role_policy(RoleName="GitHubDeploy", PolicyName="deploy", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"], "Resource": "arn:aws:s3:::b/*"},
                {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}]}))
        iam.attach_role_policy(RoleName="GitHubDeploy", PolicyArn=READER)
        iam.create_role(RoleName="hostile", AssumeRolePolicyDocument=json.dumps(OLD_TRUST["hostile"]),
                        Description=HOSTILE_DESCRIPTION)
        iam.attach_role_policy(RoleName="hostile", PolicyArn=READER)
        iam.create_role(RoleName="wiam-managed", AssumeRolePolicyDocument=json.dumps(trust("repo:o/r:ref:refs/heads/x")),
                        Tags=[{"Key": "managed-by", "Value": "wiam"}])
        iam.create_role(RoleName="nested", Path="/ci/", AssumeRolePolicyDocument=json.dumps(trust("repo:o/n:ref:refs/heads/main")))
        iam.create_role(RoleName="ec2-service", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
        yield url


def wiam_import(spec, endpoint, *args):
    return run_wiam("import", spec, *args, env={**FAKE_ENVIRONMENT, "AWS_ENDPOINT_URL": endpoint})


def candidate_claims():
    """Tokens each old trust admits, and near misses: other refs, repositories and audiences."""
    subjects = ["repo:o/r:ref:refs/heads/main", "repo:o/r:environment:prod", "repo:o/r:pull_request",
                HOSTILE_SUBJECT, UNSAYABLE_SUBJECT, "repo:o/r:ref:refs/heads/dev", "repo:o/other:ref:refs/heads/main", "repo:o/r"]
    return [{"iss": f"https://{GITHUB}", "sub": s, "aud": a} for s in subjects for a in ("sts.amazonaws.com", "other")]


def old_accepts(role: str, claims: dict) -> bool:
    """The old trust, exact statements and subjects a spec can hold only: what the proposal leaves out
    (StringLike, a subject with a line break) it says in a comment."""
    if claims["sub"] == UNSAYABLE_SUBJECT:
        return False
    statements = [s for s in OLD_TRUST[role]["Statement"] if "StringEquals" in s["Condition"]]
    module = {"resource": {"aws_iam_role": {role: {"assume_role_policy": json.dumps({"Statement": statements})}}}}
    return bool(aws_roles_accepting(module, claims))


@pytest.fixture(scope="module")
def adopted(endpoint, tmp_path_factory):
    spec = write_spec(tmp_path_factory.mktemp("adopt"), {"main.wiam.hcl": SPEC})
    shown = wiam_import(spec, endpoint)
    assert sorted(p.name for p in spec.iterdir()) == ["main.wiam.hcl"]  # nothing written without --write
    written = wiam_import(spec, endpoint, "--write")
    return spec, shown, written


def test_the_hand_made_roles_are_proposed_and_the_others_are_not(adopted):
    spec, shown, _ = adopted
    assert shown.returncode == 0, shown.stderr
    assert re.search(r'\n    adopt += "GitHubDeploy"\n', shown.stdout) and re.search(r'\n    adopt += "hostile"\n', shown.stdout)
    assert "wiam-managed" not in shown.stdout and "ec2-service" not in shown.stdout
    assert "# not proposed: 'nested' on aws target 'prod': its path '/ci/' is not /" in shown.stdout
    assert "run again with --write" in shown.stdout


def test_the_proposal_is_written_as_its_own_file_and_compiles_with_import_blocks(adopted):
    spec, _, written = adopted
    assert written.returncode == 0, written.stderr
    assert (spec / "main.wiam.hcl").read_text().startswith(SPEC.split("target")[0])
    model = load_model(str(spec))
    assert model.targets[("aws", "prod")].settings["existing_oidc_providers"] == {"github": PROVIDER}
    grants = {w.name: g.settings for w in model.workloads.values() for g in w.grants}
    assert grants["GitHubDeploy"] == {
        "actions": ["s3:PutObject", "s3:DeleteObject"], "resources": ["arn:aws:s3:::b/*"],
        "managed_policies": [READER], "max_session_duration": 7200,
        "adopt": "GitHubDeploy"}
    assert model.workloads["hostile"].description == HOSTILE_DESCRIPTION  # landed literally, not as HCL
    text = (spec / "adopted.wiam.hcl").read_text()
    assert "# left, not carried: inline policy 'deploy' statement" in text and "StringLike" in text
    assert "# left, not carried: subject {'subject': 'repo:o/r:ref:refs/heads/a\\n}'} (characters a spec refuses)" in text
    main = json.loads(compile_model(model)["main.tf.json"])
    assert "aws_iam_openid_connect_provider" not in main["resource"]
    imports = main["import"]
    assert all(ROLE_IMPORT_ID.fullmatch(block["id"]) for block in imports)
    assert sorted(block["id"] for block in imports) == ["GitHubDeploy", "hostile"]
    roles = main["resource"]["aws_iam_role"]
    assert {roles[block["to"].split(".")[1]]["name"] for block in imports} == {"GitHubDeploy", "hostile"}


@pytest.mark.parametrize("role", sorted(OLD_TRUST))
def test_the_adopted_role_trusts_exactly_the_subjects_the_old_trust_did(adopted, role):
    spec, _, _ = adopted
    main = json.loads(compile_model(load_model(str(spec)))["main.tf.json"])
    (resource,) = [k for k, body in main["resource"]["aws_iam_role"].items() if body["name"] == role]
    for claims in candidate_claims():
        assert (resource in aws_roles_accepting(main, claims)) == old_accepts(role, claims), claims


def test_a_second_run_proposes_nothing_and_writes_no_second_file(adopted, endpoint):
    spec, _, _ = adopted
    again = wiam_import(spec, endpoint, "--write")
    assert again.returncode == 0, again.stderr
    assert "adopt  " not in again.stdout and "# not proposed: 'nested'" in again.stdout
    assert sorted(p.name for p in spec.iterdir()) == ["adopted.wiam.hcl", "main.wiam.hcl"]
