"""An AWS grant adopting a role adopts one of its existing inline policies too (adopt_policy): the
grant's inline policy takes that policy's name instead of wiam-grant and gets an import block with
the ID the terraform-provider-aws docs give (role_name:policy_name), so that the old permissions are
replaced, not kept beside the grant's. A setting that names nothing the plan writes is an error at
its line; without it nothing of the output changes."""

import json
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from support.paths import EXAMPLE_SPECS
from support.specs import compiled_files, spec_errors, write_spec
from wiam.compile import load_model
from wiam.planning import plan_model
from wiam.providers.aws import live
from wiam.providers.aws.plan import INLINE_POLICY_NAME
from wiam.providers.aws.settings import GrantSettings

HEAD = '''issuer "gh" {
  kind = "github_actions"
}

target "aws" "prod" {
  account_id = "123456789012"
}
'''
ACCESS = 'actions = ["s3:GetObject"]\nresources = ["arn:aws:s3:::b/*"]'
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ADOPTING = 'adopt = "GitHubDeploy"\nadopt_policy = "deploy"'
BLOCK = 'grant "aws" "prod" in workload "app"'
# terraform-provider-aws website/docs/r/iam_role_policy.html.markdown, "Import": role_name:role_policy_name;
# IAM's RoleName is 1 to 64 and PolicyName 1 to 128 of [\w+=,.@-], so the first ':' splits them.
POLICY_IMPORT_ID = re.compile(r"(?P<role>[A-Za-z0-9_+=,.@-]{1,64}):(?P<policy>[A-Za-z0-9_+=,.@-]{1,128})")


def hcl(grant: str, access: str = ACCESS) -> str:
    """A spec of one workload, `app`, whose grant on aws target prod holds `access` and `grant`'s lines."""
    lines = "".join(f"    {line}\n" for line in f"{access}\n{grant}".strip().splitlines())
    return (HEAD + '\nworkload "app" {\n  identity {\n    issuer     = "gh"\n    repository = "acme/app"\n'
                   '    ref        = "refs/heads/main"\n  }\n\n'
            f'  grant "aws" "prod" {{\n{lines}  }}\n}}\n')


def compiled(tmp_path: Path, text: str) -> dict:
    return compiled_files(write_spec(tmp_path, {"main.wiam.hcl": text}))["main.tf.json"]


def test_the_setting_is_read_with_adopt():
    assert GrantSettings.of({"actions": ["s3:GetObject"], "adopt": "r", "adopt_policy": "p"}).adopt_policy == "p"
    assert GrantSettings.of({"actions": ["s3:GetObject"]}).adopt_policy is None


def test_the_adopted_policy_keeps_its_name_and_is_imported_by_role_and_policy_name(tmp_path):
    main = compiled(tmp_path, hcl(ADOPTING + f'\nmanaged_policies = ["{READ_ONLY}"]'))
    resources = main["resource"]
    (policy,) = resources["aws_iam_role_policy"].values()
    assert policy["name"] == "deploy" and policy["role"] == "${aws_iam_role.prod__app.id}"
    assert resources["aws_iam_role"]["prod__app"]["name"] == "GitHubDeploy"
    assert main["import"] == [
        {"to": "aws_iam_role.prod__app", "id": "GitHubDeploy", "provider": "aws.prod"},
        {"to": "aws_iam_role_policy.prod__app", "id": "GitHubDeploy:deploy", "provider": "aws.prod"}]
    found = POLICY_IMPORT_ID.fullmatch(main["import"][1]["id"])
    assert (found["role"], found["policy"]) == ("GitHubDeploy", "deploy")
    # An attachment is created over one the role holds already (AttachRolePolicy is idempotent): no import.
    (attachment,) = resources["aws_iam_role_policy_attachment"].values()
    assert attachment["policy_arn"] == READ_ONLY


def test_adopting_the_policy_changes_its_name_and_adds_its_import_block_and_nothing_else(tmp_path):
    plain = compiled(tmp_path / "plain", hcl('adopt = "GitHubDeploy"'))
    main = compiled(tmp_path / "adopting", hcl(ADOPTING))
    assert plain["resource"]["aws_iam_role_policy"]["prod__app"]["name"] == INLINE_POLICY_NAME
    main["resource"]["aws_iam_role_policy"]["prod__app"]["name"] = INLINE_POLICY_NAME
    assert {k: v for k, v in main.items() if k != "import"} == {k: v for k, v in plain.items() if k != "import"}
    assert main["import"] == plain["import"] + [
        {"to": "aws_iam_role_policy.prod__app", "id": "GitHubDeploy:deploy", "provider": "aws.prod"}]


@pytest.mark.parametrize("example", EXAMPLE_SPECS, ids=lambda p: p.name)
def test_without_the_setting_every_example_keeps_wiam_s_policy_name_and_imports_no_policy(example):
    """The examples compile as before the setting existed: every inline policy named wiam-grant, and
    no import block but those of adopted principals."""
    files = compiled_files(example, split=True)
    for path, main in files.items():
        if not path.endswith("main.tf.json"):
            continue
        main = main if isinstance(main, dict) else json.loads(main)
        names = {body["name"] for body in main.get("resource", {}).get("aws_iam_role_policy", {}).values()}
        assert names <= {INLINE_POLICY_NAME}, path
        assert not [b for b in main.get("import", []) if b["to"].startswith("aws_iam_role_policy.")], path


def test_a_window_s_denies_are_an_inline_policy_the_setting_can_name(tmp_path):
    """Managed policies under a window: the grant's own policy holds the Denies outside it."""
    main = compiled(tmp_path, hcl(ADOPTING + '\nexpires = "2030-01-01T00:00:00Z"\nreason = "migration"',
                                  access=f'managed_policies = ["{READ_ONLY}"]'))
    (policy,) = main["resource"]["aws_iam_role_policy"].values()
    assert policy["name"] == "deploy" and "WiamAfterWindow" in policy["policy"]
    assert [b["id"] for b in main["import"]] == ["GitHubDeploy", "GitHubDeploy:deploy"]


def _line_of(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


ERRORS = {  # case -> (spec, the text at the error's line, words of the message, words of the fix)
    "without adopt": (hcl('adopt_policy = "deploy"'), "adopt_policy", "the grant adopts none", 'add adopt = "NAME"'),
    "managed policies only": (hcl(ADOPTING, access=f'managed_policies = ["{READ_ONLY}"]'), "adopt_policy",
                              "the grant compiles to none: it holds managed_policies only",
                              "aws iam delete-role-policy --role-name GitHubDeploy --policy-name deploy"),
    "a space": (hcl('adopt = "GitHubDeploy"\nadopt_policy = "old policy"'), "old policy",
                'invalid value adopt_policy = "old policy"', "1 to 128 letters, digits and +=,.@_-"),
    "a colon": (hcl('adopt = "GitHubDeploy"\nadopt_policy = "a:b"'), '"a:b"', "invalid value", "1 to 128"),
    "too long": (hcl(f'adopt = "GitHubDeploy"\nadopt_policy = "{"p" * 129}"'), "p" * 129, "invalid value",
                 "1 to 128"),
    "empty": (hcl('adopt = "GitHubDeploy"\nadopt_policy = ""'), 'adopt_policy = ""', "invalid value", "1 to 128"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_a_setting_that_names_nothing_the_plan_imports_is_an_error_at_its_line(tmp_path, case):
    text, at, message, fix = ERRORS[case]
    (error,) = spec_errors(write_spec(tmp_path, {"main.wiam.hcl": text}))
    assert (error.pos.line, error.block) == (_line_of(text, at), BLOCK), error
    assert message in error.message and fix in error.hint, error


def test_actions_without_resources_are_one_error_not_two(tmp_path):
    text = hcl(ADOPTING, access='actions = ["s3:GetObject"]')
    (error,) = spec_errors(write_spec(tmp_path, {"main.wiam.hcl": text}))
    assert error.message == "actions need resources"


def test_drift_expects_the_adopted_policy_name(tmp_path):
    plans = plan_model(load_model(str(write_spec(tmp_path, {"main.wiam.hcl": hcl(ADOPTING)}))))
    (role,) = [o for o in live.expected(plans[("aws", "prod")]) if o.kind == "role"]
    assert role.name == "GitHubDeploy" and list(role.state["inline_policies"]) == ["deploy"]


POLICY_NAMES = st.from_regex(r"[A-Za-z0-9_+=,.@-]{1,128}", fullmatch=True)
ROLE_NAMES = st.from_regex(r"[A-Za-z0-9_+=,.@-]{1,64}", fullmatch=True)


@settings(max_examples=40, deadline=None)
@given(role=ROLE_NAMES, policy=POLICY_NAMES)
def test_any_name_iam_takes_is_imported_as_exactly_that_role_and_policy(role, policy):
    spec = {"issuer": {"ci": {"kind": "generic_oidc", "url": "https://ci.example"}},
            "target": {"aws": {"prod": {"account_id": "123456789012"}}},
            "workload": {"app": {"identity": [{"issuer": "ci", "subject": "job"}],
                                 "grant": {"aws": {"prod": {"actions": ["s3:GetObject"], "resources": ["*"],
                                                            "adopt": role, "adopt_policy": policy}}}}}}
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "spec.wiam.json").write_text(json.dumps(spec), encoding="utf-8")
        main = compiled_files(Path(folder))["main.tf.json"]
    (key, body), = main["resource"]["aws_iam_role_policy"].items()
    assert body["name"] == policy
    (block,) = [b for b in main["import"] if b["to"] == f"aws_iam_role_policy.{key}"]
    found = POLICY_IMPORT_ID.fullmatch(block["id"])
    assert (found["role"], found["policy"]) == (role, policy)
