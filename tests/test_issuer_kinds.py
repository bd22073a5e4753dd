"""The issuer kinds github_enterprise_server and circleci, per cloud: the emitted Terraform, read
back by evaluators independent of wiam (trust_eval), accepts the right token and refuses near misses
(another project, organization, host, repository or claim), simulate agrees, and what a cloud
cannot check is a compile error with its place and a fix."""

import json
import re
import uuid

import pytest
from hypothesis import given, settings, strategies as st

from support.cli import run_wiam
from support.specs import compiled_files, spec_errors, write_spec
from test_fuzz import as_terraform_reads
from trust_eval import aws_roles_accepting, azure_identities_accepting, gcp_principals_accepting
from wiam.compile import load_model
from wiam.report import unpack
from wiam.simulate import simulate

PROJECT_CLAIM = "oidc.circleci.com/project-id"
VCS_REF = "oidc.circleci.com/vcs-ref"
TARGETS = {
    "aws": {"prod": {"account_id": "123456789012", "trust_policy_quota": 4096}},
    "gcp": {"prod": {"project_id": "acme-prod", "project_number": "123456789012"}},
    "azure": {"prod": {"tenant_id": "00000000-0000-0000-0000-000000000000",
                       "subscription_id": "11111111-1111-1111-1111-111111111111",
                       "resource_group": "workload-identities", "location": "eastus"}},
}
GRANTS = {"aws": {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]},
          "gcp": {"roles": ["roles/viewer"]},
          "azure": {"roles": ["Reader"], "scope": "/subscriptions/11111111-1111-1111-1111-111111111111"}}
# Each cloud's evaluator: the Terraform names (prod__WORKLOAD) of the principals accepting a token.
ACCEPTING = {"aws": aws_roles_accepting, "gcp": gcp_principals_accepting, "azure": azure_identities_accepting}

uuids = st.uuids().map(str)
HOSTILE = st.sampled_from(['"', "\\", "${x}", "%{y}", "$${z}", "é日本", "'", " && ", ":", "*"])
values = st.lists(HOSTILE | st.text("abcXYZ019/@._-", min_size=1, max_size=6), min_size=1, max_size=3).map("".join)


def _spec(tmp_path_factory, issuers: dict, workloads: dict[str, list[dict]], cloud: str):
    document = {"issuer": issuers, "target": {cloud: TARGETS[cloud]},
                "workload": {name: {"identity": identities, "grant": {cloud: {"prod": GRANTS[cloud]}}}
                             for name, identities in workloads.items()}}
    folder = write_spec(tmp_path_factory.mktemp("spec"), {"main.wiam.json": json.dumps(document)})
    return as_terraform_reads(compiled_files(folder)["main.tf.json"]), load_model(str(folder))


def _accepted(cloud: str, module: dict, model, token: dict) -> set[str]:
    """The workloads accepting the token, by the evaluator; simulate must say the same."""
    by_eval = ACCEPTING[cloud](module, token)
    by_simulate = {f"prod__{v.workload}" for v in simulate(model, token) if v.cloud == cloud and v.accepted}
    assert by_eval == by_simulate, (token, by_eval, by_simulate)
    return by_eval


# -- circleci ----------------------------------------------------------------------------------------

def _circleci_token(org: str, project: str, user: str, v2: bool, **claims) -> dict:
    sub = f"org/{org}/project/{project}/user/{user}"
    if v2:  # $CIRCLE_OIDC_TOKEN_V2
        sub += f"/vcs-origin/github.com/acme/app/vcs-ref/{claims.get(VCS_REF, 'refs/heads/main')}"
    return {"iss": f"https://oidc.circleci.com/org/{org}", "aud": org, "sub": sub, PROJECT_CLAIM: project, **claims}


@settings(max_examples=10, deadline=None)
@given(org=uuids, other_org=uuids, projects=st.lists(uuids, min_size=2, max_size=4, unique=True), user=uuids,
       v2=st.booleans(), cloud=st.sampled_from(["aws", "gcp"]), disabled=st.booleans())
def test_circleci_pins_the_project_by_claim_for_any_user(tmp_path_factory, org, other_org, projects, user, v2,
                                                          cloud, disabled):
    """Each workload trusts one project; the last project is in the spec disabled or not at all."""
    *granted, outsider = projects
    workloads = {f"w{n}": [{"issuer": "cci", "project_id": p}] for n, p in enumerate(granted)}
    if disabled:
        workloads["w0"].append({"issuer": "cci", "project_id": outsider, "disabled": True, "reason": "revoked"})
    module, model = _spec(tmp_path_factory, {"cci": {"kind": "circleci", "organization_id": org}}, workloads, cloud)
    for n, project in enumerate(granted):
        token = _circleci_token(org, project, user, v2)
        assert _accepted(cloud, module, model, token) == {f"prod__w{n}"}
        near_misses = [
            {**token, PROJECT_CLAIM: outsider},  # another project of the organization, whoever runs it
            {k: v for k, v in token.items() if k != PROJECT_CLAIM},  # the project only in sub
            {**token, "aud": "sts.amazonaws.com"},  # another audience
            {**token, PROJECT_CLAIM: project.upper()},  # exact, case-sensitive
        ]
        if other_org != org:  # the same project ID from another organization's issuer
            near_misses.append(_circleci_token(other_org, project, user, v2))
        for miss in near_misses:
            assert _accepted(cloud, module, model, miss) == set(), miss


@settings(max_examples=10, deadline=None)
@given(org=uuids, project=uuids, user=uuids, ref=values, audience=st.none() | st.sampled_from(["wiam", "custom-aud"]))
def test_circleci_claims_are_checked_by_gcp(tmp_path_factory, org, project, user, ref, audience):
    """A workload pinning the project and vcs-ref, beside one pinning the project alone: a token of the
    right project and ref reaches both, of another ref only the latter, in the pool each is its own
    principal."""
    issuer = {"kind": "circleci", "organization_id": org, **({"audience": audience} if audience else {})}
    workloads = {"pinned": [{"issuer": "cci", "project_id": project, "claims": {VCS_REF: ref}}],
                 "any-ref": [{"issuer": "cci", "project_id": project}]}
    module, model = _spec(tmp_path_factory, {"cci": issuer}, workloads, "gcp")
    token = {**_circleci_token(org, project, user, False, **{VCS_REF: ref}), "aud": audience or org}
    assert _accepted("gcp", module, model, token) == {"prod__pinned", "prod__any-ref"}
    assert _accepted("gcp", module, model, {**token, VCS_REF: ref + "x"}) == {"prod__any-ref"}
    assert _accepted("gcp", module, model, {k: v for k, v in token.items() if k != VCS_REF}) == {"prod__any-ref"}
    assert _accepted("gcp", module, model, {**token, "aud": "other"}) == set()
    providers = module["resource"]["google_iam_workload_identity_pool_provider"].values()
    assert {p["oidc"]["issuer_uri"] for p in providers} == {f"https://oidc.circleci.com/org/{org}"}
    assert all(p["oidc"]["allowed_audiences"] == [audience or org] for p in providers)
    assert all("assertion.sub" not in p["attribute_condition"] + p["attribute_mapping"]["google.subject"]
               for p in providers)  # the user who ran it is never pinned


@settings(max_examples=10, deadline=None)
@given(org=uuids, project=uuids, user=uuids, contexts=st.lists(uuids, min_size=2, max_size=4, unique=True),
       rerun=st.booleans())
def test_circleci_claims_that_are_no_string_match_as_their_type_on_gcp(tmp_path_factory, org, project, user,
                                                                       contexts, rerun):
    """ssh-rerun is a boolean ("false" pins SSH reruns out), context-ids a list (the pinned context
    must be among the job's)."""
    wanted, *others = contexts
    claims = {"oidc.circleci.com/ssh-rerun": str(rerun).lower(), "oidc.circleci.com/context-ids": wanted}
    module, model = _spec(tmp_path_factory, {"cci": {"kind": "circleci", "organization_id": org}},
                          {"w": [{"issuer": "cci", "project_id": project, "claims": claims}]}, "gcp")
    token = _circleci_token(org, project, user, False, **{"oidc.circleci.com/ssh-rerun": rerun,
                                                          "oidc.circleci.com/context-ids": others + [wanted]})
    assert _accepted("gcp", module, model, token) == {"prod__w"}
    for miss in ({**token, "oidc.circleci.com/ssh-rerun": not rerun},
                 {**token, "oidc.circleci.com/ssh-rerun": str(rerun).lower()},  # a string is not the boolean
                 {**token, "oidc.circleci.com/context-ids": others},
                 {**token, "oidc.circleci.com/context-ids": wanted},  # nor a string the list
                 {k: v for k, v in token.items() if k != "oidc.circleci.com/ssh-rerun"}):
        assert _accepted("gcp", module, model, miss) == set(), miss


def test_circleci_aws_trust_pins_the_project_key_and_no_sub(tmp_path_factory):
    org, project = str(uuid.UUID(int=1)), str(uuid.UUID(int=2))
    module, _ = _spec(tmp_path_factory, {"cci": {"kind": "circleci", "organization_id": org}},
                      {"w": [{"issuer": "cci", "project_id": project}]}, "aws")
    (role,) = module["resource"]["aws_iam_role"].values()
    (statement,) = json.loads(role["assume_role_policy"])["Statement"]
    host = f"oidc.circleci.com/org/{org}"
    assert statement["Principal"]["Federated"] == f"arn:aws:iam::123456789012:oidc-provider/{host}"
    assert statement["Condition"] == {"StringEquals": {f"{host}:aud": org, f"{host}:{PROJECT_CLAIM}": project}}
    (provider,) = module["resource"]["aws_iam_openid_connect_provider"].values()
    assert provider["url"] == f"https://{host}" and provider["client_id_list"] == [org]


@settings(max_examples=10, deadline=None)
@given(org=uuids, project=uuids)
def test_no_other_provider_of_the_pool_can_mint_a_circleci_principal(tmp_path_factory, org, project):
    """google.subject is "project:" + the project claim; a subject spelled so from another issuer
    of the same pool would be that principal too, so it is an error, not a shared binding."""
    issuers = {"cci": {"kind": "circleci", "organization_id": org},
               "idp": {"kind": "generic_oidc", "url": "https://idp.example.com"}}
    document = {"issuer": issuers, "target": {"gcp": TARGETS["gcp"]}, "workload": {
        "ci": {"identity": [{"issuer": "cci", "project_id": project}], "grant": {"gcp": {"prod": GRANTS["gcp"]}}},
        "spoof": {"identity": [{"issuer": "idp", "subject": f"project:{project}"}],
                  "grant": {"gcp": {"prod": GRANTS["gcp"]}}}}}
    folder = write_spec(tmp_path_factory.mktemp("spec"), {"main.wiam.json": json.dumps(document)})
    errors = spec_errors(folder)
    assert errors and all("GCP principals are per pool" in e.message for e in errors)
    assert any(f"project:{project}" in e.message for e in errors)


# -- github_enterprise_server ------------------------------------------------------------------------

hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,8}){1,2}", fullmatch=True)
repos = st.from_regex(r"[A-Za-z0-9_.-]{1,8}/[A-Za-z0-9_.-]{1,8}", fullmatch=True)
refs = st.from_regex(r"refs/(heads|tags)/[A-Za-z0-9_.-]{1,10}", fullmatch=True)


def _ghes_token(host: str, sub: str, aud: str, **claims) -> dict:
    return {"iss": f"https://{host}/_services/token", "sub": sub, "aud": aud, **claims}


AUDIENCE = {"aws": "sts.amazonaws.com", "azure": "api://AzureADTokenExchange"}


@settings(max_examples=10, deadline=None)
@given(host=hosts, other_host=hosts, repo=repos, ref=refs, cloud=st.sampled_from(["aws", "gcp", "azure"]))
def test_ghes_trusts_the_server_and_subject_as_github(tmp_path_factory, host, other_host, repo, ref, cloud):
    issuers = {"ghes": {"kind": "github_enterprise_server", "url": f"https://{host}/_services/token",
                        **({"audience": "wiam"} if cloud == "gcp" else {})}}
    module, model = _spec(tmp_path_factory, issuers, {
        "w": [{"issuer": "ghes", "repository": repo, "ref": ref}],
        "env": [{"issuer": "ghes", "repository": repo, "environment": "prod"}]}, cloud)
    aud = AUDIENCE.get(cloud, "wiam")
    token = _ghes_token(host, f"repo:{repo}:ref:{ref}", aud)
    assert _accepted(cloud, module, model, token) == {"prod__w"}
    assert _accepted(cloud, module, model, _ghes_token(host, f"repo:{repo}:environment:prod", aud)) == {"prod__env"}
    near_misses = [
        {**token, "iss": "https://token.actions.githubusercontent.com"},  # github.com, same subject
        {**token, "sub": f"repo:{repo}x:ref:{ref}"},
        {**token, "sub": f"repo:{repo}:ref:{ref}x"},
        {**token, "sub": f"repo:{repo}:pull_request"},
        {**token, "aud": aud + "x"},
    ]
    if other_host != host:
        near_misses.append({**token, "iss": f"https://{other_host}/_services/token"})
    for miss in near_misses:
        assert _accepted(cloud, module, model, miss) == set(), miss


@settings(max_examples=10, deadline=None)
@given(host=hosts, repo=repos, repository_id=st.from_regex(r"[1-9][0-9]{0,8}", fullmatch=True), workflow=values)
def test_ghes_claims_on_gcp_and_carried_by_the_subject_on_azure(tmp_path_factory, host, repo, repository_id, workflow):
    """GCP checks a GHES claim in CEL; Azure (and AWS) only through the subject: subject_claims."""
    url = f"https://{host}/_services/token"
    claims = {"repository_id": repository_id}
    module, model = _spec(tmp_path_factory, {"ghes": {"kind": "github_enterprise_server", "url": url}},
                          {"w": [{"issuer": "ghes", "repository": repo, "ref": "refs/heads/main", "claims": claims}]},
                          "gcp")
    name = module["resource"]["google_iam_workload_identity_pool_provider"]
    (pid,) = [p["workload_identity_pool_provider_id"] for p in name.values()]
    aud = f"//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/wiam-pool/providers/{pid}"
    token = _ghes_token(host, f"repo:{repo}:ref:refs/heads/main", aud, **claims)
    assert _accepted("gcp", module, model, token) == {"prod__w"}
    assert _accepted("gcp", module, model, {**token, "repository_id": repository_id + "0"}) == set()

    template = ["repo", "context", "job_workflow_ref"]
    issuers = {"ghes": {"kind": "github_enterprise_server", "url": url, "subject_claims": template}}
    for cloud in ("azure", "aws"):
        module, model = _spec(tmp_path_factory, issuers, {"w": [{"issuer": "ghes", "repository": repo,
                                                                 "ref": "refs/heads/main",
                                                                 "claims": {"job_workflow_ref": workflow}}]}, cloud)
        sub = f"repo:{repo}:ref:refs/heads/main:job_workflow_ref:" + workflow.replace(":", "%3A")
        token = _ghes_token(host, sub, AUDIENCE[cloud], job_workflow_ref=workflow)
        assert _accepted(cloud, module, model, token) == {"prod__w"}
        assert _accepted(cloud, module, model, {**token, "sub": sub + "x"}) == set()


# -- compile errors ----------------------------------------------------------------------------------

ORG, PROJECT = "0b4c8f6e-5d2a-4e1b-9c3f-7a6d5e4c3b2a", "5f1e2d3c-4b5a-4968-8776-655443322110"
CIRCLECI = f'issuer "cci" {{\n  kind            = "circleci"\n  organization_id = "{ORG}"\n}}\n'
TARGETS_HCL = '''target "aws" "prod" {
  account_id = "123456789012"
}
target "azure" "prod" {
  tenant_id       = "00000000-0000-0000-0000-000000000000"
  subscription_id = "11111111-1111-1111-1111-111111111111"
  resource_group  = "workload-identities"
  location        = "eastus"
}
'''


def _workload(identity: str, cloud: str) -> str:
    grant = {"aws": 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]', "azure": 'roles = ["Reader"]'}
    return f'workload "w" {{\n  identity {{\n{identity}  }}\n  grant "{cloud}" "prod" {{\n    {grant[cloud]}\n  }}\n}}\n'


def _ghes(url: str) -> str:
    return f'issuer "ghes" {{\n  kind = "github_enterprise_server"\n  url  = "{url}"\n}}\n'


GHES_IDENTITY = '    issuer     = "ghes"\n    repository = "acme/app"\n    ref        = "refs/heads/main"\n'
CIRCLECI_IDENTITY = f'    issuer     = "cci"\n    project_id = "{PROJECT}"\n'
CASES = {
    "azure-circleci": (CIRCLECI + _workload(CIRCLECI_IDENTITY, "azure"), "identity {",
                       ["azure", "circleci", "sub"], "aws, gcp"),
    "aws-circleci-claim": (CIRCLECI + _workload(CIRCLECI_IDENTITY + '    claims = {\n      "oidc.circleci.com/vcs-origin"'
                                                ' = "github.com/acme/app"\n    }\n', "aws"),
                           '"oidc.circleci.com/vcs-origin"', ["aws", "oidc.circleci.com/vcs-origin"], "remove it"),
    "aws-ghes-claim": (_ghes("https://ghe.acme.example/_services/token")
                       + _workload(GHES_IDENTITY + '    claims = {\n      repository_id = "42"\n    }\n', "aws"),
                       "repository_id =", ["aws", "repository_id", "ghes"], "subject_claims"),
    "ghes-url": (_ghes("https://ghe.acme.example/api/token") + _workload(GHES_IDENTITY, "aws"),
                 '"https://ghe.acme.example/api/token"', ["_services/token"],
                 'url = "https://ghe.acme.example/_services/token"'),
    "ghes-url-credentials": (_ghes("https://u:p@ghe.acme.example/_services/token") + _workload(GHES_IDENTITY, "aws"),
                             '"https://u:p@ghe.acme.example/_services/token"', ["invalid value"],
                             "with no credentials"),  # refused for every kind, by the schema
    "ghes-url-port": (_ghes("https://ghe.acme.example:99999/_services/token") + _workload(GHES_IDENTITY, "aws"),
                      '"https://ghe.acme.example:99999/_services/token"', ["_services/token"],
                      'url = "https://ghe.acme.example/_services/token"'),
    "ghes-immutable": (_ghes("https://ghe.acme.example/_services/token")
                       + _workload(GHES_IDENTITY + '    owner_id      = "1"\n    repository_id = "2"\n', "aws"),
                       "owner_id", ["owner_id", "github_enterprise_server"], "claims = { repository_id"),
    "aws-circleci-other-url": (CIRCLECI.replace("}", '  url             = "https://circleci.acme.example/org/x"\n}')
                               + _workload(CIRCLECI_IDENTITY, "aws"), "identity {",
                               ["aws", PROJECT_CLAIM], "remove url"),
    "circleci-ssh-rerun-not-boolean": (CIRCLECI + _workload(CIRCLECI_IDENTITY + '    claims = {\n      '
                                                            '"oidc.circleci.com/ssh-rerun" = "no"\n    }\n', "aws"),
                                       '"no"', ["boolean"], '"true" or "false"'),
    "circleci-no-organization": ('issuer "cci" {\n  kind = "circleci"\n}\n' + _workload(CIRCLECI_IDENTITY, "aws"),
                                 'issuer "cci"', ["organization_id"], "UUID"),
    "circleci-project-claim": (CIRCLECI + _workload(CIRCLECI_IDENTITY + f'    claims = {{\n      "{PROJECT_CLAIM}" = '
                                                    f'"{PROJECT}"\n    }}\n', "aws"),
                               f'"{PROJECT_CLAIM}" =', ["pinned by project_id"], "remove it from claims"),
}


def _position(text: str, needle: str) -> tuple[int, int]:
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number, line.index(needle.strip()) + 1
    raise AssertionError(needle)


@pytest.mark.parametrize("case", sorted(CASES))
def test_what_a_cloud_or_kind_cannot_take_is_a_compile_error_with_its_place_and_fix(tmp_path, case):
    text, needle, words, fix = CASES[case]
    spec = TARGETS_HCL + text
    folder = write_spec(tmp_path, {"main.wiam.hcl": spec})
    result = run_wiam("compile", folder, "--out", tmp_path / "out")
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert not (tmp_path / "out").exists()
    line, column = _position(spec, needle)
    match = re.search(rf"main\.wiam\.hcl:{line}:(\d+): error in ([^:]+): (.*)\n  fix: (.*)", result.stderr)
    assert match, (line, result.stderr)
    assert int(match[1]) == column, result.stderr
    assert all(word in match[3] for word in words), match[3]
    assert fix in match[4], match[4]


def test_ghes_subjects_are_githubs_and_refuse_the_enterprise_slug(tmp_path):
    spec = (TARGETS_HCL + 'issuer "ghes" {\n  kind            = "github_enterprise_server"\n'
            '  url             = "https://ghe.acme.example/_services/token"\n  enterprise_slug = "acme"\n}\n'
            + _workload('    issuer     = "ghes"\n    repository = "acme/app"\n    ref        = "main"\n', "aws"))
    errors = spec_errors(write_spec(tmp_path, {"main.wiam.hcl": spec}))
    messages = " | ".join(e.message for e in errors)
    assert "enterprise_slug applies to github_actions issuers only" in messages
    assert "'main' is not a full Git ref" in messages  # GitHub's ref rule


# -- every reader of an identity's subject ----------------------------------------------------------

def _circleci_spec(folder, project: str):
    document = {"issuer": {"cci": {"kind": "circleci", "organization_id": ORG}},
                "target": {"aws": TARGETS["aws"], "gcp": TARGETS["gcp"]},
                "workload": {"build": {"identity": [{"issuer": "cci", "project_id": project}],
                                       "grant": {"aws": {"prod": GRANTS["aws"]}, "gcp": {"prod": GRANTS["gcp"]}}}}}
    return write_spec(folder, {"main.wiam.json": json.dumps(document)})


def test_a_circleci_identity_is_named_by_its_project_in_graph_who_can_diff_and_report(tmp_path):
    base, head = _circleci_spec(tmp_path / "base", PROJECT), _circleci_spec(tmp_path / "head", ORG)
    who = run_wiam("who-can", base, "--action", "s3:GetObject")
    assert who.returncode == 0 and f"cci project:{PROJECT} (workload build)" in who.stdout, who.stderr
    graph = json.loads(run_wiam("graph", base, "--format", "json").stdout)
    subjects = [n for n in graph["nodes"] if n.get("type") == "subject"]
    assert [n["subject"] for n in subjects] == [f"project:{PROJECT}"]
    diff = run_wiam("diff", base, head, "--format", "json")
    assert diff.returncode == 0, diff.stderr
    changes = json.loads(diff.stdout)
    assert f"project:{ORG}" in json.dumps(changes["added"]) and f"project:{PROJECT}" in json.dumps(changes["removed"])
    report = run_wiam("report", base, "--out", tmp_path / "report.html")
    packed = re.search(r'id="wiam-data">([^<]+)<', (tmp_path / "report.html").read_text())[1]
    assert report.returncode == 0 and f"project:{PROJECT}" in json.dumps(unpack(packed.strip())), report.stderr
    assert run_wiam("analyze", base).returncode == 0
