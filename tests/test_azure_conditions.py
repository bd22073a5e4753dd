"""Claims beyond the subject on Azure: exact federated credentials compare issuer, subject and audience
only, so a claim reaches Azure through the subject (subject_claims) or is an error, never dropped."""

import json
import re
import tempfile
from pathlib import Path

from hypothesis import given, settings, strategies as st

from support.cli import run_wiam
from support.paths import ROOT
from support.specs import BASE_HCL, compiled_files, resources, spec_errors, workload_hcl
from wiam.compile import load_model
from wiam.planning import plan_model
from wiam.simulate import simulate

GITHUB = "https://token.actions.githubusercontent.com"
AUDIENCE = "api://AzureADTokenExchange"
TARGET = {"tenant_id": "00000000-0000-0000-0000-000000000000",
          "subscription_id": "11111111-1111-1111-1111-111111111111", "resource_group": "ids", "location": "eastus"}
AZURE_GRANT = ('azure', 'prod', 'roles = ["Reader"]')
PINNED = ('issuer = "{issuer}"\n    repository = "acme/app"\n    ref = "refs/heads/main"\n'
          '    claims = {{\n      job_workflow_ref = "acme/wf/.github/workflows/a.yml@refs/heads/main"\n'
          '      repository_owner = "acme"\n    }}')


def _position(folder: Path, name: str, text: str) -> str:
    """`file:line:column` of the first `text` in the file, found here rather than trusted from wiam."""
    lines = (folder / name).read_text(encoding="utf-8").splitlines()
    line = next(n for n, content in enumerate(lines, 1) if text in content)
    return f"{folder / name}:{line}:{lines[line - 1].index(text) + 1}"


def test_an_uncheckable_claim_fails_the_compile_at_the_claim_with_the_way_out(spec, tmp_path):
    folder = spec(BASE_HCL + workload_hcl("w", [PINNED.format(issuer="github")], [AZURE_GRANT]))
    out = tmp_path / "out"
    done = run_wiam("compile", folder, "--out", out)
    assert done.returncode == 1, done.stderr
    report = done.stdout + done.stderr
    assert "Traceback" not in report
    template = '["repo", "context", "job_workflow_ref", "repository_owner"]'  # every claim the subject must carry
    for claim in ("job_workflow_ref", "repository_owner"):
        error = (f'{_position(folder, "main.wiam.hcl", claim + " =")}: error in identity #1 in workload "w": '
                 f"azure target 'prod' cannot check claim {claim!r} of issuer 'github' ({GITHUB})")
        assert error in report
    assert report.count(f"fix: add the claim to subject_claims on issuer 'github', so the subject carries it "
                        f"(e.g. subject_claims = {template})") == 2
    assert not out.exists()  # nothing written


def test_a_claim_of_a_kind_without_subject_templates_cannot_reach_azure(spec):
    gitlab = 'issuer "gl" {\n  kind = "gitlab_ci"\n}\n'
    identity = ('issuer = "gl"\n    project_path = "acme/app"\n    ref_type = "branch"\n    ref = "main"\n'
                '    claims = { project_id = "42" }')
    folder = spec(BASE_HCL + gitlab + workload_hcl("w", [identity], [AZURE_GRANT]))
    [error] = spec_errors(folder)
    assert str(error.pos) == _position(folder, "main.wiam.hcl", "project_id = \"42\"")
    assert "cannot check claim 'project_id' of issuer 'gl' (https://gitlab.com)" in error.message
    assert error.hint == ("Azure's exact federated credentials cannot check it: remove the claim or grant this "
                          "workload elsewhere")


def test_carried_claims_compile_and_the_fix_extends_the_issuers_own_template(spec):
    def carrying(keys: str) -> str:
        return f'issuer "carrying" {{\n  kind = "github_actions"\n  subject_claims = [{keys}]\n}}\n'

    workload = workload_hcl("w", [PINNED.format(issuer="carrying")], [AZURE_GRANT])
    every = carrying('"repo", "context", "job_workflow_ref", "repository_owner"')
    assert spec_errors(spec(BASE_HCL + every + workload)) == []
    [error] = spec_errors(spec(BASE_HCL + carrying('"context", "job_workflow_ref"') + workload))
    assert "claim 'repository_owner' of issuer 'carrying'" in error.message
    assert 'subject_claims = ["context", "job_workflow_ref", "repository_owner"]' in error.hint


def test_only_azure_grants_refuse_claims_beyond_the_subject(spec):
    gcp = ('gcp', 'prod', 'roles = ["roles/viewer"]\n    resource = "projects/acme-prod"')
    folder = spec(BASE_HCL + workload_hcl("w", [PINNED.format(issuer="github")], [gcp]))
    assert [e for e in spec_errors(folder) if "azure" in e.message] == []


def test_the_spec_example_compiles_to_one_credential_with_the_workflow_in_its_subject():
    module = compiled_files(ROOT / "examples" / "spec-reference")["main.tf.json"]
    [identity] = [key for key, body in resources(module, "azurerm_user_assigned_identity").items()
                  if body["tags"]["wiam-workload"] == "payments-blob-sync"]
    parent = "${azurerm_user_assigned_identity." + identity + ".id}"
    credentials = [c for c in resources(module, "azurerm_federated_identity_credential").values()
                   if c["user_assigned_identity_id"] == parent]
    assert [(c["issuer"], c["subject"], c["audience"]) for c in credentials] == [(
        GITHUB, "repo:acme/payments:ref:refs/heads/main:job_workflow_ref:"
                "acme/shared-workflows/.github/workflows/sync.yml@refs/heads/main", [AUDIENCE])]


def _templated_spec(keys: list[str], value: str) -> str:
    """A spec whose one identity pins job_workflow_ref = value, carried in the subject by `keys`."""
    return json.dumps({
        "issuer": {"gh": {"kind": "github_actions", "subject_claims": keys}},
        "target": {"azure": {"prod": TARGET}},
        "workload": {"w": {"identity": [{"issuer": "gh", "repository": "acme/payments", "ref": "refs/heads/main",
                                         "claims": {"job_workflow_ref": value}}],
                           "grant": {"azure": {"prod": {"roles": ["Reader"]}}}}}})


def test_the_600_character_subject_limit_counts_the_subject_as_github_sends_it(spec):
    prefix = len("repo:acme/payments:job_workflow_ref:")
    colons = 150  # 150 characters as written, 450 as %3A: only the sent form is over the limit
    for extra, errors in ((0, 0), (1, 1)):
        value = ":" * colons + "a" * (600 - prefix - 3 * colons + extra)
        folder = spec({"main.wiam.json": _templated_spec(["repo", "job_workflow_ref"], value)})
        found = [e for e in spec_errors(folder) if "characters; Azure allows 600" in e.message]
        assert len(found) == errors
        assert all(e.message.startswith(f"the subject is {600 + extra} characters") for e in found)


# Claim keys of GitHub tokens that no identity field sets, and hostile characters for their values.
KEYS = ["job_workflow_ref", "repository_owner", "actor", "workflow", "runner_environment", "event_name",
        "repository_visibility", "enterprise"]
# Specs refuse controls and invisible characters (validate.INVISIBLE_CATEGORIES); every other one may come.
HOSTILE = st.text(st.sampled_from(list(':"\'\\${}%@/ é😀'))
                  | st.characters(blacklist_categories=("Cs", "Cc", "Cf", "Zl", "Zp")), min_size=1, max_size=30)
CONTEXTS = st.sampled_from([{"ref": "refs/heads/main"}, {"ref": "refs/tags/v1"}, {"environment": "prod"},
                            {"pull_request": True}])


def _as_github_sends(keys: list[str], repository: str, context: dict, claims: dict[str, str]) -> str:
    """GitHub's customised subject (github/docs, "Customizing the subject claims"), written here apart
    from wiam's: `key:value` per key, `:` in a value as %3A, repo and context as in the default subject."""
    trigger = (f"ref:{context['ref']}" if "ref" in context else
               f"environment:{context['environment']}" if "environment" in context else "pull_request")
    rendered = {"repo": f"repo:{repository}", "context": trigger}
    return ":".join(rendered.get(k) or f"{k}:{claims[k].replace(':', '%3A')}" for k in keys)


def _terraform_reads(text: str) -> str:
    """A Terraform JSON string as Terraform reads it: `$${` and `%%{` are the literals `${` and `%{`."""
    return re.sub(r"([$%])\1\{", r"\1{", text)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["repo", "context", *KEYS]), min_size=1, max_size=6, unique=True), CONTEXTS,
       st.lists(HOSTILE, min_size=len(KEYS), max_size=len(KEYS)))
def test_the_credential_subject_is_the_one_github_sends_and_simulate_accepts_only_it(keys, context, values):
    claims = {k: v for k, v in zip(KEYS, values) if k in keys}
    identity = {"issuer": "gh", "repository": "acme/payments", **context, **({"claims": claims} if claims else {})}
    spec = {"issuer": {"gh": {"kind": "github_actions", "subject_claims": keys}},
            "target": {"azure": {"prod": TARGET}},
            "workload": {"w": {"identity": [identity], "grant": {"azure": {"prod": {"roles": ["Reader"]}}}}}}
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "spec.wiam.json").write_text(json.dumps(spec), encoding="utf-8")
        module = compiled_files(Path(folder))["main.tf.json"]
        model = load_model(folder)
    expected = _as_github_sends(keys, "acme/payments", context, claims)
    [credential] = resources(module, "azurerm_federated_identity_credential").values()
    assert _terraform_reads(credential["subject"]) == expected
    token = {"iss": GITHUB, "aud": AUDIENCE, **claims}
    plans = plan_model(model)
    assert [v.workload for v in simulate(model, {**token, "sub": expected}, plans) if v.accepted] == ["w"]
    raw = expected.replace("%3A", ":")  # the values as written, which GitHub never sends
    for other in {expected[:-1], expected + ":", raw} - {expected}:
        assert not any(v.accepted for v in simulate(model, {**token, "sub": other}, plans))
