"""wiam discover --repo: long-lived cloud logins in GitHub Actions and GitLab CI files, the triggers
each job's identities pin, the draft spec (it validates and compiles), --write, and hostile files."""

from __future__ import annotations

import json
import os
import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from wiam import ci_scan
from wiam.cli import app
from wiam.commands.discover import repository_of, validated
from wiam.compile import compile_folder
from wiam.ci_draft import draft, place

runner = CliRunner()


def _repo(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def _discover(*args: str) -> tuple[int, dict]:
    result = runner.invoke(app, ["discover", *args, "--format", "json"])
    return result.exit_code, json.loads(result.stdout) if result.stdout.strip() else {}


def _lines(output: dict) -> set[tuple[str, int]]:
    return {(c["pos"]["file"], c["pos"]["line"]) for c in output["credentials"]}


DEPLOY = """
name: deploy
on:
  push:
    branches: [main]
    tags: ["v1.0.0", "v2.*"]
  pull_request:
env:
  AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET }}
  AWS_ACCESS_KEY_ID: ${{ secrets.AWS_KEY }}
jobs:
  test:
    strategy:
      matrix:
        python: ["3.11", "3.12"]
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: aws-actions/configure-aws-credentials@v4
        with:
          role-to-assume: ${{ vars.ROLE }}
          aws-region: eu-west-1
  publish:
    runs-on: ubuntu-latest
    environment:
      name: staging
    env:
      GOOGLE_CREDENTIALS: ${{ vars.NOT_A_SECRET_PATH }}
    steps:
      - uses: google-github-actions/auth@v2
        with:
          credentials_json: ${{ secrets.GCP_KEY }}
      - uses: google-github-actions/auth@v2
        with:
          workload_identity_provider: ${{ vars.WIF }}
      - name: azure
        uses: Azure/login@v1
        with:
          creds: ${{ secrets.AZURE_CREDENTIALS }}
      - uses: azure/login@v2
        with:
          client-id: ${{ vars.AZURE_CLIENT_ID }}
          tenant-id: ${{ vars.AZURE_TENANT_ID }}
          subscription-id: ${{ vars.AZURE_SUBSCRIPTION_ID }}
      - run: az login --service-principal -u x -p "${{ secrets.SP_PASSWORD }}" --tenant t
      - run: az login --service-principal -u x --tenant t --federated-token "$TOKEN"
  call:
    uses: ./.github/workflows/reusable.yml
    secrets: inherit
  local:
    runs-on: ubuntu-latest
    steps:
      - uses: ./.github/actions/login
        with:
          key-id: ${{ secrets.AWS_KEY }}
          region: eu-west-1
"""

REUSABLE = """
on:
  workflow_call:
jobs:
  release:
    runs-on: ubuntu-latest
    steps:
      - env:
          ARM_CLIENT_SECRET: ${{ secrets.ARM_SECRET }}
        run: terraform apply
"""

COMPOSITE = """
name: login
inputs:
  key-id: {required: true}
  region: {required: true}
runs:
  using: composite
  steps:
    - uses: aws-actions/configure-aws-credentials@v4
      with:
        aws-access-key-id: ${{ inputs.key-id }}
        aws-region: ${{ inputs.region }}
"""


@pytest.fixture
def github(tmp_path):
    return _repo(tmp_path / "repo", {".github/workflows/deploy.yml": DEPLOY, ".github/workflows/reusable.yml": REUSABLE,
                                     ".github/actions/login/action.yml": COMPOSITE})


def test_github_styles_every_secret_login_found_and_none_invented(github):
    code, output = _discover("--repo", str(github), "--repository", "acme/app")
    assert code == 1
    workflow, reusable = ".github/workflows/deploy.yml", ".github/workflows/reusable.yml"
    # Workflow env (once, for every job), credentials_json, creds, the az password login, the composite
    # action fed a secret, the reusable workflow's step env; not vars, not role-to-assume, not OIDC logins.
    assert _lines(output) == {(workflow, 8), (workflow, 31), (workflow, 38), (workflow, 44), (workflow, 54),
                              (reusable, 8)}
    kinds = {(c["pos"]["line"], c["kind"]) for c in output["credentials"] if c["pos"]["file"] == workflow}
    assert kinds == {(8, "aws-access-key"), (31, "gcp-service-account-key"), (38, "azure-client-secret"),
                     (44, "azure-client-secret"), (54, "aws-access-key")}


def test_github_identities_pin_exactly_the_triggers(github):
    _, output = _discover("--repo", str(github), "--repository", "acme/app")
    jobs = {job["job"]: job for job in output["jobs"]}
    assert jobs["test"]["refs"] == ["refs/heads/main", "refs/tags/v1.0.0"] and jobs["test"]["pull_request"]
    assert any("'v2.*'" in note for note in jobs["test"]["notes"])  # a glob: said, not pinned
    assert jobs["publish"]["environment"] == "staging" and jobs["publish"]["refs"] == []
    assert jobs["release"]["refs"] == jobs["test"]["refs"]  # a reusable workflow runs on its caller's triggers
    assert "permissions:\n  id-token: write" in jobs["publish"]["change"]
    assert "workload_identity_provider" in jobs["publish"]["change"] and "client-id" in jobs["publish"]["change"]


def test_pull_requests_are_refused_for_production():
    triggers = ci_scan.github_triggers({"push": {"branches": ["main"]}, "pull_request": None})
    production = ci_scan.Job("github", "w.yml", "deploy-prod", ci_scan.Pos("w.yml", 1, 1), production=True)
    ci_scan._pin_github(production, triggers, None, "main")
    assert production.refs == ["refs/heads/main"] and not production.pull_request
    assert any("refused" in note for note in production.notes)
    only_pull_requests = ci_scan.Job("github", "w.yml", "deploy", ci_scan.Pos("w.yml", 1, 1), production=True)
    ci_scan._pin_github(only_pull_requests, ci_scan.github_triggers(["pull_request"]), "production", "main")
    assert only_pull_requests.environment is None and any("refused" in n for n in only_pull_requests.notes)
    assert ci_scan.is_production("production") and ci_scan.is_production("deploy-prd")
    assert not ci_scan.is_production("products") and not ci_scan.is_production("staging")


GITLAB = """
include:
  - local: ci/deploy.yml
  - project: other/templates
    file: base.yml
variables:
  AWS_ACCESS_KEY_ID: test
unit:
  script:
    - echo $AWS_ACCESS_KEY_ID
"""

GITLAB_DEPLOY = """
.keys:
  variables:
    ARM_CLIENT_SECRET: $AZURE_SP_SECRET
deploy:
  extends: .keys
  environment: production
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
    - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
    - if: $CI_COMMIT_TAG == "v3.0.0"
  script:
    - terraform apply
gcloud:
  only: [release, tags]
  script:
    - echo "$SA_KEY" > key.json
    - gcloud auth activate-service-account --key-file key.json
upload:
  script:
    - aws s3 cp dist s3://bucket --region "$AWS_DEFAULT_REGION" --profile "$AWS_SECRET_ACCESS_KEY"
"""


def test_gitlab_includes_templates_and_rules(tmp_path):
    repo = _repo(tmp_path / "repo", {".gitlab-ci.yml": GITLAB, "ci/deploy.yml": GITLAB_DEPLOY})
    code, output = _discover("--repo", str(repo), "--repository", "acme/platform/app")
    assert code == 1
    # The template's variable (for the job that extends it), gcloud's key file, a key variable in a
    # script; not the unit job's plain test key.
    assert _lines(output) == {("ci/deploy.yml", 3), ("ci/deploy.yml", 17), ("ci/deploy.yml", 20)}
    jobs = {job["job"]: job for job in output["jobs"]}
    assert jobs["deploy"]["refs"] == ["branch:main", "tag:v3.0.0"] and jobs["deploy"]["production"]
    assert any("merge request" in note for note in jobs["deploy"]["notes"])
    assert jobs["gcloud"]["refs"] == ["branch:release"] and any("'tags'" in n for n in jobs["gcloud"]["notes"])
    assert jobs["upload"]["refs"] == [] and "id_tokens:" in jobs["upload"]["change"]
    assert any("another project" in note for note in output["notes"])


# The property: workflows generated from trigger sets and login styles.

LOGINS = {  # style -> (the step's lines, whether it is a long-lived login)
    "aws-keys": (["uses: aws-actions/configure-aws-credentials@v4", "with:",
                  "  aws-access-key-id: ${{ secrets.AWS_KEY }}", "  aws-secret-access-key: ${{ secrets.AWS_SECRET }}"],
                 True),
    "aws-role": (["uses: aws-actions/configure-aws-credentials@v4", "with:", "  role-to-assume: ${{ vars.ROLE }}"],
                 False),
    "gcp-key": (["uses: google-github-actions/auth@v2", "with:", "  credentials_json: ${{ secrets.GCP }}"], True),
    "gcp-wif": (["uses: google-github-actions/auth@v2", "with:", "  workload_identity_provider: ${{ vars.WIF }}"],
                False),
    "azure-creds": (["uses: azure/login@v2", "with:", "  creds: ${{ secrets.AZURE_CREDENTIALS }}"], True),
    "azure-oidc": (["uses: azure/login@v2", "with:", "  client-id: ${{ vars.ID }}", "  tenant-id: ${{ vars.T }}"],
                   False),
    "env-keys": (["run: aws s3 ls", "env:", "  AWS_ACCESS_KEY_ID: ${{ secrets.K }}",
                  "  AWS_SECRET_ACCESS_KEY: ${{ secrets.S }}"], True),
    "env-vars": (["run: aws s3 ls", "env:", "  AWS_ACCESS_KEY_ID: ${{ vars.K }}"], False),
    "localstack": (["run: aws s3 ls", "env:", "  AWS_ACCESS_KEY_ID: test", "  AWS_SECRET_ACCESS_KEY: test"], False),
}
BRANCHES = st.lists(st.sampled_from(["main", "develop", "release/1.0", "feature/*"]), unique=True, max_size=3)
TAGS = st.lists(st.sampled_from(["v1.0.0", "v2.0.0", "v*"]), unique=True, max_size=2)


@st.composite
def workflows(draw):
    branches, tags, pull_request = draw(BRANCHES), draw(TAGS), draw(st.booleans())
    schedule, dispatch = draw(st.booleans()), draw(st.booleans())
    environment = draw(st.sampled_from([None, "staging", "production"]))
    job = draw(st.sampled_from(["work", "deploy-prod"]))
    styles = draw(st.lists(st.sampled_from(sorted(LOGINS)), min_size=1, max_size=4))
    lines = ["on:", "  push:"]
    lines += [f"    branches: {json.dumps(branches)}"] if branches else []
    lines += [f"    tags: {json.dumps(tags)}"] if tags or not branches else []
    lines += ["  pull_request:"] if pull_request else []
    lines += ["  schedule:", "    - cron: '0 4 * * *'"] if schedule else []
    lines += ["  workflow_dispatch:"] if dispatch else []
    lines += ["jobs:", f"  {job}:", "    runs-on: ubuntu-latest"]
    lines += [f"    environment: {environment}"] if environment else []
    lines += ["    steps:"]
    planted = set()
    for style in styles:
        step, secret = LOGINS[style]
        lines.append(f"      - {step[0]}")
        lines += [f"        {line}" for line in step[1:]]
        if secret:
            planted.add(len(lines))  # the login's last secret, the line its finding names
    triggers = dict(branches=branches, tags=tags, pull_request=pull_request, schedule=schedule, dispatch=dispatch)
    return "\n".join(lines) + "\n", triggers, environment, job, planted


@settings(max_examples=40, deadline=None)
@given(workflows())
def test_found_is_planted_and_identities_are_the_triggers(tmp_path_factory, generated):
    text, triggers, environment, name, planted = generated
    root = _repo(tmp_path_factory.mktemp("repo"), {".github/workflows/ci.yml": text})
    scan = ci_scan.scan(str(root), default_branch="trunk")
    assert {c.pos.line for c in scan.found} == planted
    if not planted:
        assert scan.jobs == []
        return
    (job,) = scan.jobs
    others = triggers["branches"] or triggers["tags"] or triggers["schedule"] or triggers["dispatch"]
    if (environment == "production" or name == "deploy-prod") and triggers["pull_request"] and not others:
        assert job.environment is None and job.refs == [] and any("refused" in note for note in job.notes)
        return
    if environment:
        assert job.environment == environment and job.refs == [] and not job.pull_request
        return
    exact = {f"refs/heads/{b}" for b in triggers["branches"] if "*" not in b}
    exact |= {f"refs/tags/{t}" for t in triggers["tags"] if "*" not in t}
    exact |= {"refs/heads/trunk"} if triggers["schedule"] else set()
    assert set(job.refs) == exact
    production = name == "deploy-prod"
    assert job.pull_request == (triggers["pull_request"] and not production)
    if triggers["pull_request"] and production:
        assert any("refused" in note for note in job.notes)
    unpinned = [p for p in triggers["branches"] + triggers["tags"] if "*" in p]
    unpinned += ["workflow_dispatch"] if triggers["dispatch"] else []
    assert all(any(repr(p) in note or p in note for note in job.notes) for p in unpinned)


def test_the_draft_validates_and_compiles(github, tmp_path):
    scan = ci_scan.scan(str(github))
    text = draft(scan.jobs, {"github": "acme/app", "gitlab": "acme/app"}, place(scan.jobs, None))
    validated(text, "discovered-app.wiam.hcl", None)
    spec = tmp_path / "spec"
    spec.mkdir()
    (spec / "discovered-app.wiam.hcl").write_text(text, encoding="utf-8")
    files = compile_folder(str(spec))
    assert files and 'ref        = "refs/tags/v1.0.0"' in text and 'environment = "staging"' in text
    # test, publish, local and the reusable workflow's release
    assert len(re.findall(r'^workload "', text, re.MULTILINE)) == 4


def test_write_adds_its_own_file_reusing_the_folders_blocks_and_never_overwrites(github, tmp_path):
    spec = tmp_path / "spec"
    spec.mkdir()
    own = ('issuer "gh" {\n  kind = "github_actions"\n}\n\ntarget "aws" "prod" {\n  account_id = "123456789012"\n}\n\n'
           'workload "app-deploy-test" {\n  owner = "t"\n  identity {\n    issuer     = "gh"\n    repository = "acme/app"\n'
           '    ref        = "refs/heads/main"\n  }\n  grant "aws" "prod" {\n    actions   = ["s3:GetObject"]\n'
           '    resources = ["arn:aws:s3:::b/*"]\n  }\n}\n')
    (spec / "main.wiam.hcl").write_text(own, encoding="utf-8")
    result = runner.invoke(app, ["discover", str(spec), "--repo", str(github), "--repository", "acme/app", "--write"])
    assert result.exit_code == 1, result.output
    written = (spec / "discovered-app.wiam.hcl").read_text(encoding="utf-8")
    assert 'issuer = "gh"' in written.replace("     ", " ") and 'grant "aws" "prod"' in written
    assert 'workload "app-deploy-test-2"' in written and 'issuer "github"' not in written
    assert (spec / "main.wiam.hcl").read_text(encoding="utf-8") == own
    again = runner.invoke(app, ["discover", str(spec), "--repo", str(github), "--repository", "acme/app", "--write"])
    assert again.exit_code == 2 and "never overwrites" in again.output
    assert (spec / "discovered-app.wiam.hcl").read_text(encoding="utf-8") == written
    assert sorted(os.listdir(spec)) == ["discovered-app.wiam.hcl", "main.wiam.hcl"]


def test_write_needs_a_repository_and_sarif_names_each_use(github, tmp_path):
    result = runner.invoke(app, ["discover", "--repo", str(github), "--format", "sarif"])
    assert result.exit_code == 1
    results = json.loads(result.stdout)["runs"][0]["results"]
    assert len(results) == 6 and {r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results} \
        == {8, 31, 38, 44, 54}
    assert runner.invoke(app, ["discover", "--repo", str(github), "--format", "xml"]).exit_code == 2
    assert runner.invoke(app, ["discover", "--repo", str(tmp_path / "missing")]).exit_code == 2


def test_repository_from_the_origin_remote(tmp_path):
    for url, expected in (("git@github.com:acme/app.git", "acme/app"),
                          ("https://gitlab.com/acme/platform/app.git", "acme/platform/app"),
                          ("https://token@github.com/acme/app", "acme/app"), ("not a url", None)):
        _repo(tmp_path, {".git/config": f'[core]\n\tbare = false\n[remote "origin"]\n\turl = {url}\n'})
        assert repository_of(str(tmp_path)) == expected


def test_no_login_exits_0(tmp_path):
    repo = _repo(tmp_path / "repo", {".github/workflows/ci.yml": "on: push\njobs:\n  a:\n    steps:\n      - run: make\n"})
    assert _discover("--repo", str(repo)) [0] == 0


# Hostile files


def test_hostile_names_are_escaped_in_the_draft(tmp_path):
    visible, invisible = 'x"${evil}%{y}\\', "prod\u202e"
    login = ("    steps:\n      - uses: google-github-actions/auth@v2\n        with:\n"
             "          credentials_json: ${{ secrets.K }}\n")
    workflow = (f"on:\n  push:\n    branches: [main]\njobs:\n  {json.dumps(visible + invisible)}:\n"
                f"    environment: {json.dumps(visible)}\n{login}"
                f"  hidden:\n    environment: {json.dumps(invisible)}\n{login}")
    repo = _repo(tmp_path / "repo", {".github/workflows/ci.yml": workflow})
    scan = ci_scan.scan(str(repo))
    assert len(scan.found) == 2
    text = draft(scan.jobs, {"github": "acme/app", "gitlab": "acme/app"}, place(scan.jobs, None))
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert 'environment = "x\\"$${evil}%%{y}\\\\"' in code and "\u202e" not in text
    assert len(re.findall(r'^workload "', text, re.MULTILINE)) == 1 and "invisible characters" in text
    validated(text, "d.wiam.hcl", None)


@pytest.mark.parametrize("content, message", [
    (b"on: push\njobs:\n  a: \xff\xfe\n", "not UTF-8"),
    (b"a: " + b"[" * 200 + b"]" * 200 + b"\n", "deeper than"),
    (b"on: [push\n", "YAML syntax error"),
])
def test_unreadable_files_are_errors_at_their_place(tmp_path, content, message):
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "bad.yml").write_bytes(content)
    result = runner.invoke(app, ["discover", "--repo", str(repo)])
    assert result.exit_code == 3 and "Traceback" not in result.output
    assert message in result.output and "bad.yml:" in result.output and "fix:" in result.output


def test_an_alias_bomb_stops_at_the_budget(tmp_path):
    """Nine levels of three aliases each would be 177,147 values: the walk stops at MAX_EXPANDED, and the
    file is an error at the alias where it stopped."""
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(9))
    repo = _repo(tmp_path / "repo", {".gitlab-ci.yml": bomb + "job:\n  script: [echo $AWS_SECRET_ACCESS_KEY]\n"})
    result = runner.invoke(app, ["discover", "--repo", str(repo)])
    assert result.exit_code == 3 and f"more than {ci_scan.MAX_EXPANDED:,} values" in result.output
    assert ".gitlab-ci.yml:" in result.output and "fix:" in result.output


def test_links_out_of_the_repository_are_not_followed(tmp_path):
    outside = tmp_path / "outside.yml"
    outside.write_text("on: push\njobs:\n  a:\n    env:\n      AWS_SECRET_ACCESS_KEY: ${{ secrets.X }}\n")
    repo = tmp_path / "repo"
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "linked.yml").symlink_to(outside)
    (repo / ".gitlab-ci.yml").symlink_to(outside)
    result = runner.invoke(app, ["discover", "--repo", str(repo)])
    assert result.exit_code == 3 and "outside" in result.output and "secrets.X" not in result.output


def test_a_huge_file_is_refused_unread(tmp_path):
    repo = _repo(tmp_path / "repo", {".gitlab-ci.yml": "a: " + "x" * (ci_scan.MAX_CI_BYTES + 1) + "\n"})
    result = runner.invoke(app, ["discover", "--repo", str(repo)])
    assert result.exit_code == 3 and "larger than" in result.output


def test_expressions_and_scripts_are_read_in_linear_time(tmp_path):
    """Patterns a hostile value repeats thousands of times (unclosed expressions, login words on one
    line) are read once each: the scan ends, and still finds the one real login at the end."""
    noise = "${{ " * 200_000 + "secrets.X " + "az login --service-principal " * 20_000
    workflow = ("on:\n  push:\n    branches: [main]\njobs:\n  a:\n    steps:\n      - run: " + json.dumps(noise) +
                "\n      - run: az login --service-principal -u x -p ${{ secrets.P }} --tenant t\n")
    repo = _repo(tmp_path / "repo", {".github/workflows/ci.yml": workflow})
    assert [c.pos.line for c in ci_scan.scan(str(repo)).found] == [8]


def test_third_party_actions_external_reusable_workflows_and_gitlab_exports(tmp_path):
    workflow = """
    on:
      repository_dispatch:
    jobs:
      sync:
        runs-on: ubuntu-latest
        steps:
          - uses: jakejarvis/s3-sync-action@v0.5.1
            with:
              AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET }}
          - uses: docker/login-action@v3
            with:
              password: ${{ secrets.DOCKER_PASSWORD }}
      shared:
        uses: acme/workflows/.github/workflows/deploy.yml@v1
        secrets:
          ARM_CLIENT_SECRET: ${{ secrets.ARM_SECRET }}
          token: ${{ secrets.TOKEN }}
    """
    gitlab = """
    deploy:
      variables:
        GOOGLE_APPLICATION_CREDENTIALS: $CI_PROJECT_DIR/.wiam-gcp.json
      script:
        - export AWS_SECRET_ACCESS_KEY=$PROD_SECRET
        - gcloud storage ls --credential-file-override="$GOOGLE_APPLICATION_CREDENTIALS"
      only: [main]
    """
    repo = _repo(tmp_path / "repo", {".github/workflows/sync.yml": workflow, ".gitlab-ci.yml": gitlab})
    scan = ci_scan.scan(str(repo))
    assert {(c.pos.file, c.pos.line, c.kind) for c in scan.found} == {
        (".github/workflows/sync.yml", 9, "aws-access-key"), (".github/workflows/sync.yml", 16, "azure-client-secret"),
        (".gitlab-ci.yml", 5, "aws-access-key")}
    jobs = {job.name: job for job in scan.jobs}
    assert jobs["sync"].refs == ["refs/heads/main"] and jobs["deploy"].refs == ["branch:main"]


WORDS = ["on", "push", "branches", "tags", "pull_request", "jobs", "steps", "uses", "with", "env", "environment",
         "name", "run", "secrets", "rules", "if", "only", "variables", "script", "extends", "include", "local",
         "default", "AWS_SECRET_ACCESS_KEY", "credentials_json", "creds", "./x", ".t", "workflow_call"]
VALUES = st.sampled_from(["${{ secrets.K }}", "$KEY", "main", "v*", "./.github/workflows/a.yml", "azure/login@v2",
                          "aws-actions/configure-aws-credentials@v4", "$CI_COMMIT_BRANCH == \"main\"", ".t", "ci.yml"])
TREES = st.recursive(st.one_of(VALUES, st.none(), st.booleans(), st.integers(-3, 3)),
                     lambda inner: st.one_of(st.lists(inner, max_size=3),
                                             st.dictionaries(st.sampled_from(WORDS), inner, max_size=4)),
                     max_leaves=25)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(WORDS), TREES, max_size=5), st.dictionaries(st.sampled_from(WORDS), TREES,
                                                                                   max_size=5))
def test_any_shape_of_file_is_scanned_without_error(tmp_path_factory, workflow, gitlab):
    """Hostile shapes (a list where a mapping belongs, numbers for names, includes of anything) never
    raise: each file is scanned as far as it makes sense, and a draft of whatever is found validates."""
    root = _repo(tmp_path_factory.mktemp("repo"), {".github/workflows/a.yml": json.dumps(workflow),
                                                   ".gitlab-ci.yml": json.dumps(gitlab), "ci.yml": json.dumps(gitlab)})
    scan = ci_scan.scan(str(root))
    assert all(c.pos.file in (".github/workflows/a.yml", ".gitlab-ci.yml", "ci.yml") for c in scan.found)
    if any(job.refs or job.environment or job.pull_request for job in scan.jobs):
        validated(draft(scan.jobs, {"github": "a/b", "gitlab": "a/b"}, place(scan.jobs, None)), "d.wiam.hcl", None)


def test_plan_shows_what_each_workload_compiles_to_and_drafts_of_two_repositories_coexist(github, tmp_path):
    other = _repo(tmp_path / "other", {".github/workflows/deploy.yml": DEPLOY, ".github/workflows/reusable.yml": REUSABLE,
                                       ".github/actions/login/action.yml": COMPOSITE,
                                       ".git/config": '[remote "origin"]\n\turl = git@github.com:acme/api.git\n'})
    _repo(github, {".git/config": '[remote "origin"]\n\turl = https://github.com/acme/app.git\n'})
    spec = tmp_path / "spec"
    spec.mkdir()
    code, output = _discover(str(spec), "--repo", str(github), "--repo", str(other), "--write", "--plan")
    assert code == 1 and sorted(os.listdir(spec)) == ["discovered-api.wiam.hcl", "discovered-app.wiam.hcl"]
    assert runner.invoke(app, ["validate", str(spec)]).exit_code == 0
    first, second = output["drafts"]
    assert 'issuer "github"' in first["text"] and 'issuer "github"' not in second["text"]  # the second reuses it
    planned = {(item["workload"], item["cloud"]): item for item in first["plan"]}
    assert set(planned) == {("app-deploy-test", "aws"), ("app-deploy-local", "aws"), ("app-deploy-publish", "gcp"),
                            ("app-deploy-publish", "aws"),
                            ("app-deploy-publish", "azure"), ("app-reusable-release", "azure")}
    assert "role_arn" in planned["app-deploy-test", "aws"]["outputs"]


def test_gitlab_anchors_and_merge_keys_are_followed_where_they_are_written(tmp_path):
    gitlab = """
    .aws: &aws
      AWS_ACCESS_KEY_ID: $PROD_KEY_ID
      AWS_SECRET_ACCESS_KEY: $PROD_SECRET
    .rules: &main
      - if: $CI_COMMIT_BRANCH == "main"
    deploy:
      variables:
        <<: *aws
        AWS_DEFAULT_REGION: eu-west-1
      rules: *main
      script: [terraform apply]
    test:
      variables:
        <<: *aws
        AWS_SECRET_ACCESS_KEY: test
        AWS_ACCESS_KEY_ID: test
      script: [make test]
    """
    repo = _repo(tmp_path / "repo", {".gitlab-ci.yml": gitlab})
    scan = ci_scan.scan(str(repo))
    # Found at the anchor, where the secret's use is written; the job that overrides both keys has none.
    assert [(c.pos.line, c.owner) for c in scan.found] == [(3, "job 'deploy'")]
    assert [(job.name, job.refs) for job in scan.jobs] == [("deploy", ["branch:main"])]


def test_a_place_several_jobs_reach_is_one_finding_naming_them(tmp_path):
    gitlab = """
    .keys: &keys
      ARM_CLIENT_SECRET: $SP_SECRET
    plan:
      variables: *keys
      script: [terraform plan]
    apply:
      variables: *keys
      script: [terraform apply]
    """
    scan = ci_scan.scan(str(_repo(tmp_path / "repo", {".gitlab-ci.yml": gitlab})))
    assert [(c.pos.line, c.owner) for c in scan.found] == [(2, "jobs 'apply', 'plan'")]
    assert sorted(job.name for job in scan.jobs) == ["apply", "plan"]


GITLAB_LOGINS = {  # style -> (the job's lines, whether it is a long-lived login)
    "variables": (["variables:", "  AWS_ACCESS_KEY_ID: $KEY_ID", "  AWS_SECRET_ACCESS_KEY: ${SECRET}",
                   "script:", "  - aws s3 ls"], True),
    "plain": (["variables:", "  AWS_ACCESS_KEY_ID: test", "  AWS_SECRET_ACCESS_KEY: test", "script:",
               "  - aws --endpoint-url http://localstack:4566 s3 ls"], False),
    "script": (["script:", "  - az login --service-principal -u $ID -p $AZ_SECRET --tenant $T"], True),
    "oidc": (["id_tokens:", "  TOKEN:", "    aud: api://AzureADTokenExchange", "script:",
              "  - az login --service-principal -u $ID --tenant $T --federated-token $TOKEN"], False),
}
RULES = {  # rule -> the ref it pins, if any
    '$CI_COMMIT_BRANCH == "main"': "branch:main",
    "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH": "branch:trunk",
    "$CI_COMMIT_TAG == 'v1.2.3'": "tag:v1.2.3",
    '$CI_PIPELINE_SOURCE == "merge_request_event"': None,
    "$CI_COMMIT_TAG =~ /^v/": None,
    "$CI_COMMIT_BRANCH": None,
}


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(sorted(GITLAB_LOGINS)), st.lists(st.sampled_from(sorted(RULES)), unique=True, max_size=4))
def test_gitlab_found_is_planted_and_identities_are_the_rules(tmp_path_factory, style, rules):
    lines, secret = GITLAB_LOGINS[style]
    job = ["deploy:", *(f"  {line}" for line in lines)]
    job += ["  rules:", *(f"    - if: {json.dumps(rule)}" for rule in rules)] if rules else []
    root = _repo(tmp_path_factory.mktemp("repo"), {".gitlab-ci.yml": "\n".join(job) + "\n"})
    scan = ci_scan.scan(str(root), default_branch="trunk")
    assert len(scan.found) == (1 if secret else 0)
    if secret:
        (found,) = scan.jobs
        assert found.refs == sorted(RULES[rule] for rule in rules if RULES[rule])
        assert all(any(rule in note for note in found.notes) for rule in rules
                   if RULES[rule] is None and "merge_request" not in rule)


def test_cloud_and_repo_modes_do_not_mix(github):
    result = runner.invoke(app, ["discover", "--repo", str(github), "--cloud", "aws"])
    assert result.exit_code == 2 and "--cloud" in result.output


def test_an_issuer_name_the_folder_uses_for_another_kind_is_not_taken(tmp_path):
    repo = _repo(tmp_path / "repo", {".gitlab-ci.yml": "deploy:\n  only: [main]\n  script: [echo $ARM_CLIENT_SECRET]\n"})
    spec = tmp_path / "spec"
    spec.mkdir()
    (spec / "main.wiam.hcl").write_text('issuer "gitlab" {\n  kind = "gitlab_ci"\n  url  = "https://gitlab.acme.dev"\n}\n',
                                        encoding="utf-8")
    result = runner.invoke(app, ["discover", str(spec), "--repo", str(repo), "--repository", "acme/app", "--write"])
    assert result.exit_code == 1, result.output
    assert 'issuer "gitlab-2"' in (spec / "discovered-app.wiam.hcl").read_text(encoding="utf-8")


def test_text_names_each_use_its_jobs_pins_and_workflow_change(github):
    result = runner.invoke(app, ["discover", "--repo", str(github), "--repository", "acme/app"])
    assert result.exit_code == 1
    out = result.stdout
    assert ".github/workflows/deploy.yml:31:29: a long-lived GCP service account key in job 'publish'" in out
    assert "job 'publish' pins environment 'staging'" in out
    assert "permissions:\n      id-token: write" in out and "role-to-assume: ${{ vars.WIAM_ROLE_ARN }}" in out
    assert '# draft spec discovered-app.wiam.hcl' in out
    sarif = json.loads(runner.invoke(app, ["discover", "--repo", str(github), "--format", "sarif"]).stdout)
    _, output = _discover("--repo", str(github))
    regions = {(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                r["locations"][0]["physicalLocation"]["region"]["startLine"],
                r["locations"][0]["physicalLocation"]["region"]["startColumn"]) for r in sarif["runs"][0]["results"]}
    assert regions == {(c["pos"]["file"], c["pos"]["line"], c["pos"]["column"]) for c in output["credentials"]}


def test_gitlab_workflow_rules_pin_the_jobs_without_their_own(tmp_path):
    gitlab = """
    workflow:
      rules:
        - if: $CI_COMMIT_BRANCH == "main"
        - if: $CI_COMMIT_TAG == "v1.0.0"
    deploy:
      script: [echo "$AWS_SECRET_ACCESS_KEY"]
    release:
      only: [stable]
      script: [echo "$AWS_SECRET_ACCESS_KEY"]
    """
    scan = ci_scan.scan(str(_repo(tmp_path / "repo", {".gitlab-ci.yml": gitlab})))
    assert {job.name: job.refs for job in scan.jobs} == {"deploy": ["branch:main", "tag:v1.0.0"],
                                                         "release": ["branch:stable"]}


def test_a_gitlab_file_with_a_spec_header_keeps_its_lines(tmp_path):
    included = """
    spec:
      inputs:
        stage:
          default: deploy
    ---
    deploy:
      stage: $[[ inputs.stage ]]
      only: [main]
      variables:
        ARM_CLIENT_SECRET: $SP_SECRET
    """
    repo = _repo(tmp_path / "repo", {".gitlab-ci.yml": "include: ci/deploy.yml\n", "ci/deploy.yml": included})
    assert [(c.pos.file, c.pos.line) for c in ci_scan.scan(str(repo)).found] == [("ci/deploy.yml", 10)]
