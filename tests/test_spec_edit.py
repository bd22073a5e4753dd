"""Adding map entries to a spec block in place, in each format, keeping the rest as written."""

import json

import pytest

from wiam.compile import load_model
from wiam.spec_edit import EditError, add_entries
from conftest import write_spec

GITHUB = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
GITLAB = "arn:aws:iam::123456789012:oidc-provider/gitlab.com"
WORKLOAD = {"owner": "t", "identity": [{"issuer": "github", "repository": "acme/app", "ref": "refs/heads/main"},
                                       {"issuer": "gitlab", "project_path": "acme/app", "ref_type": "branch", "ref": "main"}],
            "grant": {"aws": {"prod": {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}}}}


def edit(tmp_path, name, text, entries):
    spec = write_spec(tmp_path, {name: text, "workloads.wiam.json": json.dumps({"workload": {"app": WORKLOAD}})})
    model = load_model(str(spec))
    path, content = add_entries(model, ("target", "aws", "prod"), "existing_oidc_providers", entries)
    (spec / name).write_bytes(content)
    return load_model(str(spec)).targets[("aws", "prod")].settings["existing_oidc_providers"], content.decode()


ISSUERS_HCL = 'issuer "github" { kind = "github_actions" }\nissuer "gitlab" { kind = "gitlab_ci" }\n'
ISSUERS_YAML = "issuer:\n  github: { kind: github_actions }\n  gitlab: { kind: gitlab_ci }\n"


def test_hcl_existing_map_gets_the_entry(tmp_path):
    text = ISSUERS_HCL + ('target "aws" "prod" {\n  account_id = "123456789012"  # ours\n'
                          f'  existing_oidc_providers = {{\n    "github" = "{GITHUB}"\n  }}\n}}\n')
    found, edited = edit(tmp_path, "main.wiam.hcl", text, {"gitlab": GITLAB})
    assert found == {"github": GITHUB, "gitlab": GITLAB} and "# ours" in edited


def test_hcl_one_line_map_is_left_to_the_user(tmp_path):
    text = ISSUERS_HCL + f'target "aws" "prod" {{\n  account_id = "123456789012"\n  existing_oidc_providers = {{ "github" = "{GITHUB}" }}\n}}\n'
    with pytest.raises(EditError, match='add to this block by hand: existing_oidc_providers = { "gitlab" = '):
        edit(tmp_path, "main.wiam.hcl", text, {"gitlab": GITLAB})


def test_yaml_block_style_with_and_without_the_map(tmp_path):
    text = ISSUERS_YAML + 'target:\n  aws:\n    prod:\n      # the payments account\n      account_id: "123456789012"\n'
    found, edited = edit(tmp_path / "a", "main.wiam.yaml", text, {"github": GITHUB})
    assert found == {"github": GITHUB} and "# the payments account" in edited
    text = ISSUERS_YAML + f'target:\n  aws:\n    prod:\n      account_id: "123456789012"\n      existing_oidc_providers:\n        github: "{GITHUB}"\n'
    found, _ = edit(tmp_path / "b", "main.wiam.yaml", text, {"gitlab": GITLAB})
    assert found == {"github": GITHUB, "gitlab": GITLAB}


def test_json_is_rewritten_with_the_entry(tmp_path):
    document = {"issuer": {"github": {"kind": "github_actions"}, "gitlab": {"kind": "gitlab_ci"}},
                "target": {"aws": {"prod": {"account_id": "123456789012"}}}}
    found, edited = edit(tmp_path, "main.wiam.json", json.dumps(document), {"github": GITHUB})
    assert found == {"github": GITHUB}
    assert json.loads(edited)["issuer"] == document["issuer"]
