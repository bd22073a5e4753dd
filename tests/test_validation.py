"""Validation: every kind of error names its place, its block and the way out; all are reported."""

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from wiam.diagnostics import Pos
from wiam.document import describe
from support.specs import BASE_HCL, spec_errors, workload_hcl, write_spec

GH = 'issuer = "github"\n    repository = "acme/app"\n    ref = "refs/heads/main"'


def _grant(cloud, target, body):
    """A workload "w" with the GitHub identity and one grant block."""
    return workload_hcl("w", identities=[GH], grants=[(cloud, target, body)])


def only_error(folder):
    errors = spec_errors(folder)
    assert len(errors) == 1, [e.render() for e in errors]
    return errors[0]


@pytest.mark.parametrize("extra_hcl,needle,block,hint_part", [
    ('issuer "x" {\n  kind = "jenkins"\n}\n', "is not one of", 'issuer "x"', "kind is one of"),
    ('issuer "x" {\n  kind = "kubernetes"\n}\n', "needs a url", 'issuer "x"', "https URL"),
    ('issuer "x" {\n  kind = "kubernetes"\n  url = "http://insecure"\n}\n', "invalid value", 'issuer "x"', "https://"),
    ('issuer "x" {\n  kind = "gitlab_ci"\n  enterprise_slug = "acme"\n}\n', "github_actions issuers only", 'issuer "x"', "remove"),
    ('target "aws" "dev" {\n  account_id = "12345"\n}\n', "invalid value", 'target "aws" "dev"', "12 digits"),
    ('target "aws" "dev" {\n  account_id = 123456789012\n}\n', "expected a string", 'target "aws" "dev"', "quote"),
    ('target "gcp" "dev" {\n  project_id = "acme-dev"\n  project_number = "12x"\n}\n', "invalid value", 'target "gcp" "dev"', "digits"),
    ('target "azure" "dev" {\n  tenant_id = "not-a-guid"\n  subscription_id = "11111111-1111-1111-1111-111111111111"\n'
     '  resource_group = "rg"\n  location = "eastus"\n}\n', "invalid value", 'target "azure" "dev"', "GUID"),
    ('target "oracle" "dev" {\n}\n', "unknown cloud 'oracle'", "target blocks", "one of: aws, azure, gcp"),
    (_grant("aws", "prod", 'actions = ["s3:GetObject"]\n'
     '    resources = ["arn:aws:s3:::b/*"]\n    max_session_duration = "13h"'),
     "outside 1 to 12 hours", 'grant "aws" "prod" in workload "w"', "43200"),
    (_grant("azure", "prod", 'roles = ["Reader"]\n    scope = "/subscriptions/11111111-1111-1111-1111-111111111111/'
            'resourceGroups/rg/../.."'), "invalid value", 'grant "azure" "prod" in workload "w"', "no . or .. segments"),
    (_grant("aws", "prod", 'actions = ["s3 GetObject"]\n'
     '    resources = ["arn:aws:s3:::b/*"]'), "invalid value", 'grant "aws" "prod" in workload "w"', "service:Action"),
    (_grant("aws", "prod", 'actions = ["s3:GetObject"]\n'
     '    resources = ["bucket"]'), "invalid value", 'grant "aws" "prod" in workload "w"', "ARN"),
    (_grant("aws", "prod", 'actions = ["s3:GetObject"]'),
     "actions need resources", 'grant "aws" "prod" in workload "w"', "resources"),
    (_grant("aws", "prod", 'actions = ["s3:GetObject"]\n'
     '    resources = ["*"]\n    conditions = { StringEqualz = { "aws:x" = "y" } }'),
     "unknown IAM condition operator", 'grant "aws" "prod" in workload "w"', "StringEquals"),
    (_grant("aws", "dev", 'actions = ["s3:GetObject"]\n'
     '    resources = ["*"]'), "no aws target named 'dev'", 'grant "aws" "dev" in workload "w"', "aws targets are: prod"),
    ('workload "w" {\n  identity {\n    issuer = "githb"\n    repository = "a/b"\n    ref = "refs/heads/x"\n  }\n'
     '  grant "aws" "prod" {\n    actions = ["s3:GetObject"]\n    resources = ["*"]\n  }\n}\n',
     "no issuer named 'githb'", 'identity #1 in workload "w"', "did you mean 'github'"),
    ('workload "w" {\n  identity {\n    issuer = "github"\n    repository = "a/b"\n    namespace = "x"\n    ref = "refs/heads/x"\n  }\n'
     '  grant "aws" "prod" {\n    actions = ["s3:GetObject"]\n    resources = ["*"]\n  }\n}\n',
     "'namespace' does not apply to a github_actions issuer", 'identity #1 in workload "w"', "repository"),
    ('workload "w" {\n  identity {\n    issuer = "github"\n    repository = "a/b"\n  }\n'
     '  grant "aws" "prod" {\n    actions = ["s3:GetObject"]\n    resources = ["*"]\n  }\n}\n',
     "exactly one of ref, environment, pull_request", 'identity #1 in workload "w"', "several identity blocks"),
    ('workload "w" {\n  identity {\n    issuer = "github"\n    repository = "a/b"\n    ref = "main"\n  }\n'
     '  grant "aws" "prod" {\n    actions = ["s3:GetObject"]\n    resources = ["*"]\n  }\n}\n',
     "not a full Git ref", 'identity #1 in workload "w"', "refs/heads/main"),
    ('workload "w" {\n  identity {\n    issuer = "github"\n    repository = "a/b"\n    owner_id = "1"\n    ref = "refs/heads/x"\n  }\n'
     '  grant "aws" "prod" {\n    actions = ["s3:GetObject"]\n    resources = ["*"]\n  }\n}\n',
     "owner_id and repository_id go together", 'identity #1 in workload "w"', "both"),
    (_grant("gcp", "prod", 'roles = ["storage.admin"]'),
     "invalid value", 'grant "gcp" "prod" in workload "w"', "roles/NAME"),
    (_grant("gcp", "prod", 'roles = ["roles/viewer"]\n'
     '    resource = "projects/acme/instances/db"'), "unsupported or malformed resource", 'grant "gcp" "prod" in workload "w"', "storage bucket"),
    (_grant("azure", "prod", 'roles = ["Reader"]\n'
     '    scope = "subscriptions/x"'), "invalid value", 'grant "azure" "prod" in workload "w"', "ARM resource ID"),
    (_grant("azure", "prod", 'roles = ["/bad/role"]'),
     "neither a role name nor a role definition ID", 'grant "azure" "prod" in workload "w"', "GUID"),
    ('workload "w" {\n  identity {\n    ' + GH + '\n  }\n}\n', "missing required attribute 'grant'", 'workload "w"', ""),
    ('workload "bad name" {\n  identity {\n    ' + GH + '\n  }\n  grant "aws" "prod" {\n    managed_policies = []\n  }\n}\n', "invalid name", "workload blocks", "letter"),
    ('workload "w" {\n  colour = "blue"\n  identity {\n    ' + GH + '\n  }\n  grant "aws" "prod" {\n'
     '    actions = ["s3:GetObject"]\n    resources = ["*"]\n  }\n}\n', "unknown attribute or block 'colour'", 'workload "w"', "description"),
])
def test_each_error_names_block_place_and_fix(spec, extra_hcl, needle, block, hint_part):
    folder = spec({"base.wiam.hcl": BASE_HCL, "extra.wiam.hcl": extra_hcl})
    error = only_error(folder)
    assert needle in error.message
    assert error.block == block
    assert hint_part in error.hint
    assert error.pos.file == str(folder / "extra.wiam.hcl") and error.pos.line >= 1 and error.pos.column >= 1


def test_error_points_at_the_offending_value(spec):
    folder = spec({"base.wiam.hcl": BASE_HCL,
                   "w.wiam.hcl": workload_hcl(grants=[("aws", "prod", 'actions = ["s3:GetObject", "bad action"]\n'
                                                                       '    resources = ["*"]')])})
    error = only_error(folder)
    assert error.pos == Pos(str(folder / "w.wiam.hcl"), 8, 32)


def test_all_errors_reported_in_one_run_sorted_by_place(spec):
    folder = spec({
        "a.wiam.hcl": 'issuer "x" {\n  kind = "bogus"\n}\n',
        "b.wiam.yaml": "target:\n  aws:\n    dev: {account_id: '1'}\n",
        "c.wiam.json": '{"workload": {"w": {"identity": [], "grant": {}}}}',
    })
    errors = spec_errors(folder)
    assert len(errors) >= 4
    assert [e.pos for e in errors] == sorted(e.pos for e in errors)
    assert {e.pos.file.rsplit("/", 1)[1] for e in errors} == {"a.wiam.hcl", "b.wiam.yaml", "c.wiam.json"}


def test_repeated_subject_in_one_workload(spec):
    folder = spec({"base.wiam.hcl": BASE_HCL, "w.wiam.hcl": workload_hcl(identities=[GH, GH])})
    error = only_error(folder)
    assert "already named by identity #1" in error.message and error.block == 'identity #2 in workload "w"'.replace('"w"', '"app"')


def test_existing_oidc_provider_must_match_issuer_and_account(spec):
    base = BASE_HCL.replace('account_id = "123456789012"\n', 'account_id = "123456789012"\n'
                            '  existing_oidc_providers = { github = "arn:aws:iam::999999999999:oidc-provider/gitlab.com" }\n')
    errors = spec_errors(spec({"base.wiam.hcl": base, "w.wiam.hcl": workload_hcl()}))
    messages = " ".join(e.message for e in errors)
    assert "not in account 123456789012" in messages and "is not the provider of issuer 'github'" in messages


def test_usage_errors(tmp_path):
    from wiam.loader import UsageError, spec_files
    with pytest.raises(UsageError):
        spec_files(str(tmp_path / "missing"))
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(UsageError):
        spec_files(str(tmp_path / "x.txt"))


def test_empty_folder_is_a_spec_error(tmp_path):
    (error,) = spec_errors(tmp_path)
    assert "no spec files found" in error.message and "--recursive" in error.hint


@pytest.mark.parametrize("second,field,label", [
    ('target "aws" "again" {\n  account_id = "123456789012"\n}\n', "account_id", "account"),
    ('target "gcp" "again" {\n  project_id = "acme-prod"\n  project_number = "999999999999"\n}\n',
     "project_id", "project and pool"),
    ('target "gcp" "again" {\n  project_id = "acme-other"\n  project_number = "123456789012"\n}\n',
     "project_number", "project and pool"),
    ('target "azure" "again" {\n  tenant_id = "00000000-0000-0000-0000-000000000000"\n'
     '  subscription_id = "11111111-1111-1111-1111-111111111111"\n  resource_group = "Workload-Identities"\n'
     '  location = "westeurope"\n}\n', "resource_group", "resource group"),
])
def test_two_targets_in_one_cloud_place_are_refused_at_the_setting(spec, second, field, label):
    folder = spec({"main.wiam.hcl": BASE_HCL + second})
    error = only_error(folder)
    line = next(n for n, text in enumerate(second.splitlines(), BASE_HCL.count("\n") + 1) if f"  {field} " in text)
    assert (error.pos.line, error.block) == (line, describe(("target", error.block.split('"')[1], "again")))
    assert f"same {label} as target 'prod'" in error.message and f"one target per {label}" in error.hint


def test_a_second_pool_in_one_project_is_its_own_target(spec):
    other_pool = 'target "gcp" "split" {\n  project_id = "acme-prod"\n  project_number = "123456789012"\n  pool_id = "split-pool"\n}\n'
    assert spec_errors(spec({"main.wiam.hcl": BASE_HCL + other_pool})) == []


INVISIBLE = ["\x1b", "\x07", "\x00", "\x85", "\u202e", "\u200b", "\u2028", "\u2029", "\ufeff", "\n"]


def _visible_spec(subject="s", resource="arn:aws:s3:::b/*", description="d") -> str:
    return json.dumps({
        "issuer": {"g": {"kind": "generic_oidc", "url": "https://idp.example.com"}},
        "target": {"aws": {"prod": {"account_id": "123456789012"}}},
        "workload": {"w": {"description": description, "identity": [{"issuer": "g", "subject": subject}],
                           "grant": {"aws": {"prod": {"actions": ["s3:GetObject"], "resources": [resource]}}}}}})


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(INVISIBLE), st.text(alphabet=st.characters(codec="ascii", categories=["L", "N"]), max_size=8),
       st.sampled_from(["subject", "resource", "description"]))
def test_controls_and_invisible_characters_are_refused_where_no_cloud_holds_them(char, text, field):
    value = {"subject": f"s{text}{char}", "resource": f"arn:aws:s3:::b/{text}{char}", "description": f"{text}{char}"}
    with tempfile.TemporaryDirectory() as folder:
        errors = spec_errors(write_spec(Path(folder), {"s.wiam.json": _visible_spec(**{field: value[field]})}))
    if field == "description" and char == "\n":  # free text may hold line breaks and tabs
        assert errors == []
        return
    (error,) = errors
    attribute = {"subject": "subject", "resource": "resources[0]", "description": "description"}[field]
    shown = char.encode("unicode_escape").decode("ascii")
    if error.message.startswith("invalid value"):  # the schema's pattern for the field refused it first
        assert shown in error.message and field == "resource"
    else:
        assert error.message == f"{attribute} holds {shown} (U+{ord(char):04X}), a control or invisible character"
        assert error.hint.startswith("remove it")
    assert error.pos.line == 1


def test_a_key_with_an_invisible_character_is_refused_at_the_key(tmp_path):
    document = json.loads(_visible_spec())
    grant = document["workload"]["w"]["grant"]["aws"]["prod"]
    grant["conditions"] = {"StringEquals": {"aws:Requested\u202eRegion": "eu-west-1"}}
    (error,) = spec_errors(write_spec(tmp_path, {"s.wiam.json": json.dumps(document)}))
    assert error.message == "the key 'aws:Requested\\u202eRegion' holds \\u202e (U+202E), a control or invisible character"
    assert error.block == 'grant "aws" "prod" in workload "w"' and error.hint.startswith("remove it")


def test_two_targets_in_one_account_is_one_error_not_one_per_derived_name(spec):
    again = 'target "aws" "again" {\n  account_id = "123456789012"\n}\n'
    aws = 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]'
    folder = spec({"main.wiam.hcl": BASE_HCL + again + workload_hcl("w", identities=[GH],
                                                                     grants=[("aws", "prod", aws), ("aws", "again", aws)])})
    error = only_error(folder)
    assert "is in the same account as target" in error.message
