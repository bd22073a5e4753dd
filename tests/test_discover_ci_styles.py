"""wiam discover --repo against CI files in the styles real repositories write (deploys to ECR, Cloud
Run, Terraform with azurerm, the Serverless Framework, GitLab pipelines with CI/CD variables and
child pipelines). Each fixture marks the line of every finding with `#@ <cloud>` (the column is the
value's), everything unmarked must not be reported, and each job's identities are listed exactly."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from wiam import ci_scan
from wiam.cli import app
from wiam.diagnostics import Report
from wiam.readers import read_yaml

runner = CliRunner()
KINDS = {"aws": "aws-access-key", "gcp": "gcp-service-account-key", "azure": "azure-client-secret"}

FILES = {
    # ECR push on main; a LocalStack test job and an OIDC job that must not be reported.
    ".github/workflows/ecr.yml": """
        name: build image
        on:
          push:
            branches: [main]
            paths: ["src/**", Dockerfile]
          pull_request:
        jobs:
          test:
            runs-on: ubuntu-latest
            services:
              localstack:
                image: localstack/localstack
            env:
              AWS_ACCESS_KEY_ID: test
              AWS_SECRET_ACCESS_KEY: test
              NODE_AUTH_TOKEN: ${{ secrets.NPM_TOKEN }}
            steps:
              - run: aws --endpoint-url http://localhost:4566 s3 mb s3://test
          push-image:
            if: github.event_name == 'push' && github.ref == 'refs/heads/main'
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@v4
              - name: Configure AWS credentials
                uses: aws-actions/configure-aws-credentials@v2
                with:
                  aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}
                  aws-secret-access-key: ${{ secrets.AWS_SECRET_ACCESS_KEY }}  #@ aws
                  aws-region: us-east-1
              - uses: aws-actions/amazon-ecr-login@v1
              - run: docker build -t "$REGISTRY/app:$GITHUB_SHA" . && docker push "$REGISTRY/app:$GITHUB_SHA"
          oidc:
            permissions:
              id-token: write
            runs-on: ubuntu-latest
            steps:
              - uses: aws-actions/configure-aws-credentials@v4
                with:
                  role-to-assume: ${{ secrets.DEPLOY_ROLE }}
                  aws-region: eu-west-1
              - uses: aws-actions/configure-aws-credentials@v4
                with:
                  aws-access-key-id: ${{ vars.AWS_KEY_ID }}
                  aws-secret-access-key: ${{ vars.AWS_SECRET }}
    """,
    # Terraform with azurerm: the workflow's env feeds both jobs; apply runs on pushes to main only.
    ".github/workflows/terraform.yml": """
        on:
          push:
            branches: [main]
          pull_request:
            branches: [main]
        env:
          ARM_CLIENT_ID: ${{ secrets.ARM_CLIENT_ID }}
          ARM_CLIENT_SECRET: ${{ secrets.ARM_CLIENT_SECRET }}  #@ azure
          ARM_SUBSCRIPTION_ID: ${{ secrets.ARM_SUBSCRIPTION_ID }}
          ARM_TENANT_ID: ${{ secrets.ARM_TENANT_ID }}
        jobs:
          plan:
            runs-on: ubuntu-latest
            steps:
              - uses: hashicorp/setup-terraform@v3
              - run: terraform init && terraform plan
          apply:
            needs: plan
            if: ${{ github.ref == 'refs/heads/main' && github.event_name == 'push' }}
            runs-on: ubuntu-latest
            steps:
              - run: terraform apply -auto-approve
    """,
    # Cloud Run from tags and releases, a glob: nothing exact to pin.
    ".github/workflows/cloudrun.yml": """
        on:
          push:
            tags: ["v*"]
          release:
            types: [published]
        jobs:
          deploy:
            if: startsWith(github.ref, 'refs/tags/')
            runs-on: ubuntu-latest
            steps:
              - id: auth
                uses: google-github-actions/auth@v1
                with:
                  credentials_json: '${{ secrets.GCP_SA_KEY }}'  #@ gcp
              - uses: google-github-actions/setup-gcloud@v1
              - run: gcloud run deploy app --image "gcr.io/$PROJECT/app:$GITHUB_REF_NAME" --region europe-west1
    """,
    # A manual or any-branch run narrowed by the job's if: to exact refs, az with a password, an
    # azure/login OIDC step (client-id from secrets is an ID, not a secret).
    ".github/workflows/azure.yml": """
        on:
          push:
            branches-ignore: [gh-pages]
          workflow_dispatch:
        jobs:
          release:
            if: github.ref_name == 'main' || github.ref == 'refs/heads/hotfix'
            runs-on: ubuntu-latest
            steps:
              - uses: Azure/login@v1
                with:
                  creds: ${{ secrets.AZURE_CREDENTIALS }}  #@ azure
          cli:
            if: github.ref == 'refs/heads/main' || github.event_name == 'workflow_dispatch'
            runs-on: ubuntu-latest
            steps:
              - run: |  #@ azure
                  az login --service-principal -u ${{ secrets.SP_ID }} -p "${{ secrets.SP_SECRET }}" --tenant ${{ secrets.TENANT }}
                  az webapp deploy --name app --src-path app.zip
          federated:
            runs-on: ubuntu-latest
            steps:
              - uses: azure/login@v2
                with:
                  client-id: ${{ secrets.AZURE_CLIENT_ID }}
                  tenant-id: ${{ secrets.AZURE_TENANT_ID }}
                  subscription-id: ${{ secrets.AZURE_SUBSCRIPTION_ID }}
    """,
    # The Serverless Framework, an environment chosen by an expression, a commented-out login, a
    # secret only masked, and one set into $GITHUB_ENV.
    ".github/workflows/serverless.yml": """
        on:
          push:
            branches: [main, staging]
        jobs:
          deploy:
            runs-on: ubuntu-latest
            environment: ${{ github.ref_name == 'main' && 'production' || 'staging' }}
            steps:
              - run: |
                  # aws configure set aws_secret_access_key ${{ secrets.OLD_AWS_SECRET }}
                  echo "::add-mask::${{ secrets.AWS_SECRET }}"
              - run: npx serverless config credentials --provider aws --key ${{ secrets.AWS_KEY }} --secret ${{ secrets.AWS_SECRET }}  #@ aws
          env-file:
            runs-on: ubuntu-latest
            environment:
              name: production
              url: https://example.com
            steps:
              - run: echo "GOOGLE_CREDENTIALS=${{ secrets.GCP_KEY }}" >> "$GITHUB_ENV"  #@ gcp
              - run: terraform apply -auto-approve
    """,
    # Nightly and merge-queue runs; pull_request_target runs forks' pull requests with secrets.
    ".github/workflows/nightly.yml": """
        on:
          schedule:
            - cron: "0 3 * * *"
          merge_group:
        jobs:
          backup:
            runs-on: ubuntu-latest
            steps:
              - run: gsutil -m rsync -r gs://data gs://backup
                env:
                  GOOGLE_APPLICATION_CREDENTIALS_JSON: ${{ secrets.GCP_BACKUP_KEY }}  #@ gcp
    """,
    ".github/workflows/label.yml": """
        on: pull_request_target
        jobs:
          preview:
            runs-on: ubuntu-latest
            steps:
              - uses: aws-actions/configure-aws-credentials@v4
                with:
                  aws-access-key-id: ${{ secrets.PREVIEW_KEY_ID }}
                  aws-secret-access-key: ${{ secrets.PREVIEW_SECRET }}  #@ aws
                  aws-region: us-east-1
    """,
    # A reusable workflow called with secrets: inherit, and composite actions inside composite actions.
    ".github/workflows/release.yml": """
        on:
          push:
            branches: [release]
        jobs:
          call:
            uses: ./.github/workflows/deploy-called.yml
            secrets: inherit
          composite:
            runs-on: ubuntu-latest
            steps:
              - uses: ./.github/actions/outer
                with:
                  key-secret: ${{ secrets.AWS_SECRET }}  #@ aws
                  region: eu-west-1
    """,
    ".github/workflows/deploy-called.yml": """
        on: workflow_call
        jobs:
          deploy:
            runs-on: ubuntu-latest
            env:
              AWS_ACCESS_KEY_ID: ${{ secrets.AWS_ACCESS_KEY_ID }}
              AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET_ACCESS_KEY }}  #@ aws
            steps:
              - run: aws s3 sync dist s3://site
    """,
    ".github/actions/outer/action.yml": """
        name: outer
        inputs:
          key-secret: {required: true}
          region: {required: true}
        runs:
          using: composite
          steps:
            - uses: ./.github/actions/inner
              with:
                secret: ${{ inputs.key-secret }}
    """,
    ".github/actions/inner/action.yml": """
        name: inner
        inputs:
          secret: {required: true}
        runs:
          using: composite
          steps:
            - uses: aws-actions/configure-aws-credentials@v4
              with:
                aws-access-key-id: AKIAEXAMPLE
                aws-secret-access-key: ${{ inputs.secret }}
                aws-region: eu-west-1
            - uses: ./.github/actions/inner
    """,
    # GitLab: keys in CI/CD settings named in scripts, LocalStack, a shell comment, two clouds in one
    # job, and a child pipeline.
    ".gitlab-ci.yml": """
        variables:
          AWS_DEFAULT_REGION: eu-west-1
        stages: [test, deploy]
        unit:
          stage: test
          image: python:3.12
          services: [localstack/localstack]
          variables:
            AWS_ACCESS_KEY_ID: "test"
            AWS_SECRET_ACCESS_KEY: "test"
          script:
            - aws --endpoint-url=http://localstack:4566 s3 ls
        s3-site:
          stage: deploy
          image: amazon/aws-cli
          script:
            - |
              # gcloud auth activate-service-account --key-file "$OLD_KEY"
              echo deploying
            - aws configure set aws_access_key_id $AWS_ACCESS_KEY_ID  #@ aws
            - aws s3 sync public s3://$BUCKET
          rules:
            - if: $CI_COMMIT_BRANCH == "main"
        both-clouds:
          stage: deploy
          script:
            - echo "$GCP_SERVICE_KEY" > /tmp/key.json
            - gcloud auth activate-service-account --key-file /tmp/key.json  #@ gcp
            - serverless deploy --stage prod  # keys from the project's CI/CD variables
            - export AWS_SECRET_ACCESS_KEY=$PROD_SECRET  #@ aws
          only:
            - main
        azure-child:
          stage: deploy
          trigger:
            include: ci/azure.yml
            strategy: depend
          rules:
            - if: $CI_COMMIT_TAG == "v1.0.0"
            - if: $CI_PIPELINE_SOURCE == "merge_request_event"
              when: never
    """,
    "ci/azure.yml": """
        azure-deploy:
          script:
            - az login --service-principal -u "$ARM_CLIENT_ID" -p "$ARM_CLIENT_SECRET" --tenant "$ARM_TENANT_ID"  #@ azure
          rules:
            - if: $CI_PIPELINE_SOURCE == "parent_pipeline"
    """,
}

# Each job's identities: refs (GitHub refs/..., GitLab branch:/tag:), pull requests, the environment.
IDENTITIES = {
    ("ecr.yml", "push-image"): (["refs/heads/main"], False, None),
    ("terraform.yml", "plan"): (["refs/heads/main"], True, None),
    ("terraform.yml", "apply"): (["refs/heads/main"], False, None),
    ("cloudrun.yml", "deploy"): ([], False, None),
    ("azure.yml", "release"): (["refs/heads/hotfix", "refs/heads/main", "refs/tags/main"], False, None),
    ("azure.yml", "cli"): (["refs/heads/main"], False, None),
    ("serverless.yml", "deploy"): ([], False, None),
    ("serverless.yml", "env-file"): ([], False, "production"),
    ("nightly.yml", "backup"): (["refs/heads/main"], False, None),
    ("label.yml", "preview"): ([], False, None),
    ("deploy-called.yml", "deploy"): (["refs/heads/release"], False, None),
    ("release.yml", "composite"): (["refs/heads/release"], False, None),
    (".gitlab-ci.yml", "s3-site"): (["branch:main"], False, None),
    (".gitlab-ci.yml", "both-clouds"): (["branch:main"], False, None),
    ("ci/azure.yml", "azure-deploy"): (["tag:v1.0.0"], False, None),
}
NOTES = {  # what each unpinned trigger must say
    ("cloudrun.yml", "deploy"): ["'v*'", "release"],
    ("azure.yml", "cli"): ["workflow_dispatch"],
    ("serverless.yml", "deploy"): ["an environment set by an expression"],
    ("nightly.yml", "backup"): ["merge_group"],
    ("label.yml", "preview"): ["pull_request_target"],
    ("ci/azure.yml", "azure-deploy"): ["a child pipeline of job 'azure-child'"],
}


def _repo(root: Path) -> Path:
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def _marked(root: Path) -> set[tuple[str, int, int, str]]:
    """(file, line, column, kind) of each `#@ cloud` line: the column is where the line's value starts."""
    marked = set()
    for name in FILES:
        for number, line in enumerate((root / name).read_text().splitlines(), 1):
            found = re.search(r"#@ (\w+)$", line)
            if found:
                lead = re.match(r"\s*(?:- )?(?:[\w.-]+:\s+)?", line)
                marked.add((name, number, lead.end() + 1, KINDS[found[1]]))
    return marked


@pytest.fixture(scope="module")
def output(tmp_path_factory) -> tuple[Path, dict]:
    root = _repo(tmp_path_factory.mktemp("styles"))
    result = runner.invoke(app, ["discover", "--repo", str(root), "--repository", "acme/app", "--format", "json"])
    assert result.exit_code == 1, result.output
    return root, json.loads(result.stdout)


def test_every_long_lived_login_is_found_at_its_place_and_none_invented(output):
    root, found = output
    reported = {(c["pos"]["file"], c["pos"]["line"], c["pos"]["column"], c["kind"]) for c in found["credentials"]}
    assert reported == _marked(root)


def test_identities_pin_exactly_the_triggers_each_job_runs_on(output):
    _, found = output
    jobs = {(job["file"].removeprefix(".github/workflows/"), job["job"]): job for job in found["jobs"]}
    assert set(jobs) == set(IDENTITIES)
    for key, (refs, pull_request, environment) in IDENTITIES.items():
        job = jobs[key]
        assert (job["refs"], job["pull_request"], job["environment"]) == (refs, pull_request, environment), key
        for said in NOTES.get(key, []):
            assert any(said in note for note in job["notes"]), (key, said, job["notes"])


def _parses(snippet: str) -> dict:
    report = Report()
    data = read_yaml("change.yml", snippet, report).data  # refuses a key given twice
    assert not report.diagnostics, (snippet, report.diagnostics)
    return data


def test_every_workflow_change_is_one_valid_yaml_mapping(output):
    _, found = output
    for job in found["jobs"]:
        change = _parses(job["change"])
        if job["file"].startswith(".github/"):
            assert change["permissions"]["id-token"] == "write"
        else:  # one ID token per cloud, each for its cloud's audience
            assert len(change["id_tokens"]) == len(job["clouds"]) == len({t["aud"] for t in change["id_tokens"].values()})
    both = next(job for job in found["jobs"] if job["job"] == "both-clouds")
    assert set(_parses(both["change"])["id_tokens"]) == {"WIAM_AWS_TOKEN", "WIAM_GCP_TOKEN"}


@pytest.mark.parametrize("condition, refs, pull_request", [
    ("github.ref == 'refs/heads/main'", ["refs/heads/main"], False),
    ("github.event_name == 'pull_request'", [], True),
    ("github.event_name != 'pull_request'", ["refs/heads/main", "refs/heads/dev"], False),
    ("!(github.ref != 'refs/heads/dev')", ["refs/heads/dev"], False),
    ("contains(github.event.head_commit.message, '[deploy]')", ["refs/heads/main", "refs/heads/dev"], True),
    ("github.ref == 'refs/heads/other'", [], False),  # never runs: push filters name main and dev only
    ("false", [], False),
    ("success() && github.ref_name == 'dev'", ["refs/heads/dev"], False),
    ("github.ref == 'refs/heads/main' ||", ["refs/heads/main", "refs/heads/dev"], True),  # not read: not narrowed
])
def test_a_jobs_if_narrows_its_triggers(condition, refs, pull_request):
    triggers = ci_scan.github_triggers({"push": {"branches": ["main", "dev"]}, "pull_request": None})
    job = ci_scan.Job("github", "w.yml", "work", ci_scan.Pos("w.yml", 1, 1))
    ci_scan._pin_github(job, triggers, None, "main", condition)
    assert (sorted(job.refs), job.pull_request) == (sorted(refs), pull_request)


# Realistic job shapes a login can be planted in: (lines before the step, the step's indentation).
SHAPES = [
    ("jobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n", "      "),
    ("jobs:\n  j:\n    if: github.ref == 'refs/heads/main'\n    runs-on: ${{ matrix.os }}\n    strategy:\n"
     "      matrix:\n        os: [ubuntu-latest, windows-latest]\n    steps:\n      - uses: actions/checkout@v4\n", "      "),
    ("jobs:\n  j:\n    environment:\n      name: staging\n    needs: [build]\n    steps:\n"
     "      - run: |\n          echo 'aws configure set aws_secret_access_key is documented'\n", "      "),
    ("jobs:\n  other:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ secrets.AWS_SECRET }}\n"
     "  j:\n    runs-on: ubuntu-latest\n    steps:\n", "      "),
]
PLANTS = {  # a login step, its finding's line within it
    "action": (["- uses: google-github-actions/auth@v2", "  with:", "    credentials_json: ${{ secrets.KEY }}"], 2),
    "env": (["- run: terraform apply", "  env:", "    ARM_CLIENT_SECRET: ${{ secrets.ARM }}"], 2),
    "script": (["- run: |", "    aws configure set aws_secret_access_key ${{ secrets.K }}"], 0),
    "export": (["- run: export AWS_ACCESS_KEY_ID=${{ secrets.K }}"], 0),
}


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(range(len(SHAPES))), st.sampled_from(sorted(PLANTS)), st.booleans())
def test_a_planted_login_is_found_once_at_its_line(tmp_path_factory, shape, plant, commented):
    head, indent = SHAPES[shape]
    step, offset = PLANTS[plant]
    before = "on:\n  push:\n    branches: [main]\n" + head
    lines = [indent + ("# " if commented else "") + line for line in step]
    root = tmp_path_factory.mktemp("plant")
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "w.yml").write_text(before + "\n".join(lines) + "\n", encoding="utf-8")
    found = ci_scan.scan(str(root)).found
    expected = [] if commented else [before.count("\n") + offset + 1]
    assert [c.pos.line for c in found] == expected


def test_a_calling_jobs_if_narrows_the_reusable_workflows_triggers(tmp_path):
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text(
        "on:\n  push:\n    branches: [main, dev]\n  workflow_dispatch:\njobs:\n  deploy:\n"
        "    if: github.ref == 'refs/heads/main'\n    uses: ./.github/workflows/deploy.yml\n    secrets: inherit\n"
        , encoding="utf-8")
    (workflows / "deploy.yml").write_text(
        "on: workflow_call\njobs:\n  run:\n    if: github.event_name == 'push'\n    runs-on: ubuntu-latest\n"
        "    env:\n      AWS_SECRET_ACCESS_KEY: ${{ secrets.AWS_SECRET }}\n    steps:\n      - run: aws s3 ls\n",
        encoding="utf-8")
    (job,) = ci_scan.scan(str(tmp_path)).jobs
    # Called on main only (dev is cut by the caller's if:), and not on dispatch runs (by its own).
    assert job.refs == ["refs/heads/main"] and not any("workflow_dispatch" in n for n in job.notes)


def _backtracking(pattern: str) -> re.Pattern:
    """GitHub's filter pattern as a regular expression, the obvious (exponential) way, for small cases."""
    regex = ""
    for token in re.findall(r"\*\*|\*|\[[^\]]+\]|.", pattern):
        regex += {"**": ".*", "*": "[^/]*", "?": "?", "+": "+"}.get(token, token if token[0] == "[" else re.escape(token))
    return re.compile(regex)


@settings(max_examples=150, deadline=None)
@given(st.from_regex(r"[ab/]?(?:[ab/]|\*\*?|\[ab\]|a[?+])*", fullmatch=True).filter(lambda p: len(p) < 9),
       st.text("ab/", max_size=8))
def test_push_filters_match_as_github_globs(pattern, ref):
    assert ci_scan._glob_match(ci_scan._glob_parts(pattern), ref) == bool(_backtracking(pattern).fullmatch(ref))


def test_hostile_conditions_and_patterns_do_not_narrow_or_hang():
    triggers = ci_scan.github_triggers({"push": {"branches": ["**a" * 300]}, "workflow_dispatch": None})
    job = ci_scan.Job("github", "w.yml", "j", ci_scan.Pos("w.yml", 1, 1))
    ci_scan._pin_github(job, triggers, None, "main", " && ".join(["github.ref == 'refs/heads/main'"] * 300))
    assert job.refs == [] and any("workflow_dispatch" in note for note in job.notes)  # too long: not narrowed
    ci_scan._pin_github(job, triggers, None, "main", "(" * 40 + "github.ref == 'refs/heads/main'" + ")" * 40)
    assert job.refs == []


def test_older_gitlab_top_level_before_script_and_secrets_named_as_inputs(tmp_path):
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".gitlab-ci.yml").write_text(
        "before_script:\n  - echo $SERVICE_ACCOUNT > /tmp/sa.json\n  - gcloud auth activate-service-account --key-file"
        " /tmp/sa.json\ndeploy_production:\n  environment: Production\n  only: [master]\n  script: [gcloud app deploy]\n"
        "deploy_staging:\n  only: [develop]\n  before_script: [echo own]\n  script: [gcloud app deploy]\n", encoding="utf-8")
    (tmp_path / ".github" / "workflows" / "site.yml").write_text(
        "on:\n  push:\n    branches: [main]\njobs:\n  site:\n    uses: acme/workflows/.github/workflows/s3.yml@v1\n"
        "    secrets:\n      aws-access-key-id: ${{ secrets.AWS_KEY_ID }}\n      aws-secret-access-key: ${{ secrets.AWS_SECRET }}\n"
        "  docs:\n    uses: acme/workflows/.github/workflows/docs.yml@v1\n    secrets:\n      token: ${{ secrets.DOCS_TOKEN }}\n",
        encoding="utf-8")
    scan = ci_scan.scan(str(tmp_path))
    where = {(c.pos.file, c.pos.line, c.pos.column, c.owner) for c in scan.found}
    # deploy_staging has a before_script of its own, so only deploy_production runs the global one
    assert where == {(".gitlab-ci.yml", 3, 5, "every job of the file"),
                     (".github/workflows/site.yml", 9, 30, "job 'site'")}
    assert {job.name: job.refs for job in scan.jobs} == {"deploy_production": ["branch:master"],
                                                         "site": ["refs/heads/main"]}
