"""manage_subject_claims: the GitHub side of subject templates. For generated specs, one template
resource per named repository, its keys the issuer's subject_claims in order (or GitHub's default), a
provider per owner, in one module or a module per owner; nothing without the opt-in; a repository
named through issuers of different templates refused with its position and a fix."""

import json
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from support.cli import run_wiam
from support.specs import compiled_files, spec_errors, workload_hcl, write_spec
from wiam.code_host import OwnerSide, Template, emit
from wiam.issuers import GITHUB_HOST
from wiam.terraform import Module, render

TEMPLATE = GITHUB_HOST.resource
# Arguments the integrations/github provider lists, checked in its source and docs:
# github/resource_github_actions_repository_oidc_subject_claim_customization_template.go (repository,
# use_default, include_claim_keys) and website/docs/index.html.markdown (the provider's owner). `provider`
# and `alias` are Terraform's meta-arguments.
TEMPLATE_ARGUMENTS = {"repository", "use_default", "include_claim_keys"}
PROVIDER_ARGUMENTS = {"owner"}
META = {"provider", "alias"}
CLAIM_KEYS = ["repo", "context", "job_workflow_ref", "actor", "repository_owner"]
GRANT = {"aws": {"prod": {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}}}

owners = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9-]{0,6}", fullmatch=True)
repositories = st.from_regex(r"[A-Za-z0-9_.-]{1,10}", fullmatch=True)
templates = st.one_of(st.just(()), st.permutations(CLAIM_KEYS).flatmap(
    lambda keys: st.integers(1, len(keys)).map(lambda n: tuple(keys[:n]))))


@st.composite
def specs(draw):
    """(spec data, {(owner, repo): issuer}, {issuer: template}): repositories distinct without case, each
    named through one issuer by one or two workloads, issuers each with their own template."""
    issuer_templates = draw(st.lists(templates, min_size=1, max_size=3))
    names = [f"gh{i}" for i in range(len(issuer_templates))]
    repos = draw(st.lists(st.tuples(owners, repositories), min_size=1, max_size=6,
                          unique_by=lambda r: (r[0].lower(), r[1].lower())))
    by_repo = {repo: draw(st.sampled_from(names)) for repo in repos}
    workloads = {}
    for index, ((owner, repo), issuer) in enumerate(by_repo.items()):
        keys = issuer_templates[names.index(issuer)]
        claims = {key: f"v-{key}" for key in keys if key not in ("repo", "context")}
        identity = {"issuer": issuer, "repository": f"{owner}/{repo}", "ref": "refs/heads/main",
                    **({"claims": claims} if claims else {})}
        for copy in range(draw(st.integers(1, 2))):
            workloads[f"w{index}-{copy}"] = {"identity": [identity], "grant": GRANT}
    issuers = {name: {"kind": "github_actions", "manage_subject_claims": True,
                      **({"subject_claims": list(keys)} if keys else {})}
               for name, keys in zip(names, issuer_templates)}
    data = {"issuer": issuers, "target": {"aws": {"prod": {"account_id": "123456789012"}}}, "workload": workloads}
    return data, by_repo, dict(zip(names, issuer_templates))


def _compile(data: dict, split: bool = False, order: int = 1) -> dict:
    """compile's files for `data`, written as JSON with its workloads in `order` (1 or -1)."""
    data = {**data, "workload": dict(list(data["workload"].items())[::order])}
    folder = write_spec(Path(tempfile.mkdtemp(prefix="wiam-ghside-")), {"spec.wiam.json": json.dumps(data)})
    return compiled_files(folder, split=split)


def _expected_body(repo: str, keys: tuple) -> dict:
    return {"repository": repo, "use_default": False, "include_claim_keys": list(keys)} if keys else \
        {"repository": repo, "use_default": True}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_one_template_per_named_repository_under_its_owners_provider(case):
    data, by_repo, issuer_templates = case
    module = _compile(data)["main.tf.json"]
    emitted = module["resource"][TEMPLATE]
    assert len(emitted) == len(by_repo)
    configs = module["provider"]["github"]
    owners_named = {owner.lower() for owner, _ in by_repo}
    assert sorted(c["owner"].lower() for c in configs) == sorted(owners_named)  # one configuration per owner
    several = len(owners_named) > 1
    owner_of_alias = {f"github.{c['alias']}": c["owner"] for c in configs} if several else {}
    assert all(("alias" in c) == several for c in configs)
    actual = {}
    for body in emitted.values():
        assert set(body) <= TEMPLATE_ARGUMENTS | META
        assert ("provider" in body) == several
        owner = owner_of_alias[body.pop("provider")] if several else configs[0]["owner"]
        actual[(owner.lower(), body["repository"])] = body
    expected = {(owner.lower(), repo): _expected_body(repo, issuer_templates[issuer])
                for (owner, repo), issuer in by_repo.items()}
    assert actual == expected
    assert all(set(c) <= PROVIDER_ARGUMENTS | META for c in configs)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_split_gives_each_owner_a_self_contained_module_and_a_manifest_entry(case):
    data, by_repo, issuer_templates = case
    files = _compile(data, split=True)
    manifest = {m["dir"]: m for m in files["modules.json"]["modules"] if "code_host" in m}
    assert len(manifest) == len({owner.lower() for owner, _ in by_repo})
    for directory, entry in manifest.items():
        module = files[f"{directory}/main.tf.json"]
        assert directory == f"github-{entry['owner']}"
        assert module["provider"] == {"github": [{"owner": entry["owner"]}]}  # its one owner: no alias
        assert 'source  = "integrations/github"' in files[f"{directory}/versions.tf"]
        repos = {body["repository"] for body in module["resource"][TEMPLATE].values()}
        assert repos == {repo for owner, repo in by_repo if owner.lower() == entry["owner"].lower()}
        assert set(module) == {"provider", "resource"}
    assert all(TEMPLATE not in files[name].get("resource", {}) for name in files
               if name.endswith("main.tf.json") and not name.startswith("github-"))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_the_opt_in_adds_the_github_side_and_nothing_else(case):
    data, _, _ = case
    managed = _compile(data)
    plain = _compile({**data, "issuer": {name: {k: v for k, v in body.items() if k != "manage_subject_claims"}
                                         for name, body in data["issuer"].items()}})
    assert "github" not in plain["versions.tf"] and TEMPLATE not in json.dumps(plain["main.tf.json"])
    module = managed["main.tf.json"]
    del module["provider"]["github"], module["resource"][TEMPLATE]
    assert module == plain["main.tf.json"]
    assert re.sub(r"\n    github = \{\n[^}]*\}", "", managed["versions.tf"]) == plain["versions.tf"]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs())
def test_output_does_not_depend_on_the_order_of_the_spec(case):
    data, _, _ = case
    assert _compile(data) == _compile(data, order=-1)
    assert _compile(data, split=True) == _compile(data, split=True, order=-1)


def _hcl(second_claims: str, manage: bool = True, second_extra: str = "", second_repo: str = "acme/app",
         sync_extra: str = "") -> str:
    return f'''issuer "github" {{
  kind = "github_actions"
  manage_subject_claims = {str(manage).lower()}
}}

issuer "workflows" {{
  kind = "github_actions"
  {second_claims}
{second_extra}}}

target "aws" "prod" {{
  account_id = "123456789012"
}}

workload "deploy" {{
  identity {{
    issuer     = "github"
    repository = "acme/app"
    ref        = "refs/heads/main"
  }}
  grant "aws" "prod" {{
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::b/*"]
  }}
}}

workload "sync" {{
  identity {{
    issuer     = "workflows"
    repository = "{second_repo}"
    ref        = "refs/heads/main"
    claims     = {{ job_workflow_ref = "acme/w/.github/workflows/s.yml@refs/heads/main" }}
{sync_extra}  }}
  grant "aws" "prod" {{
    actions   = ["s3:GetObject"]
    resources = ["arn:aws:s3:::b/*"]
  }}
}}
'''


CUSTOM = 'subject_claims = ["repo", "context", "job_workflow_ref"]'


def test_a_repository_with_two_templates_is_refused_naming_both_issuers_and_workloads(spec):
    folder = spec(_hcl(CUSTOM))
    result = run_wiam("validate", folder)
    assert result.returncode == 1
    first, fix = result.stderr.strip().splitlines()[:2]
    assert first.startswith(f"{folder / 'main.wiam.hcl'}:28:3: error in identity #1 in workload \"sync\"")
    for name in ("'github'", "'workflows'", "'deploy'", "'sync'", "acme/app", "main.wiam.hcl:16:3"):
        assert name in first
    assert fix.strip().startswith("fix: give both issuers the same subject_claims")
    diagnostics = json.loads(run_wiam("validate", folder, "--format", "json").stdout)["errors"]
    assert [(d["line"], d["column"]) for d in diagnostics] == [(28, 3)]


def test_the_same_repository_is_one_without_case_and_across_enterprise_urls(spec):
    assert spec_errors(spec(_hcl(CUSTOM, second_repo="ACME/App")))
    assert spec_errors(spec(_hcl(CUSTOM, second_extra='  enterprise_slug = "acme"\n')))


def test_issuers_of_one_template_or_one_disabled_share_a_repository(spec):
    same = spec(_hcl('subject_claims = ["repo", "context"]', second_extra=""))
    assert spec_errors(same) == []  # GitHub's default written out is the default
    disabled = spec(_hcl(CUSTOM, sync_extra='    disabled = true\n    reason = "INC-1"\n'))
    assert spec_errors(disabled) == []
    module = compiled_files(disabled)["main.tf.json"]
    assert list(module["resource"][TEMPLATE].values()) == [{"repository": "app", "use_default": True}]


def test_without_management_two_templates_are_a_note_not_an_error(spec):
    result = run_wiam("validate", spec(_hcl(CUSTOM, manage=False)))
    assert result.returncode == 0
    assert "note:" in result.stderr and "tokens reach one of them only" in result.stderr


def test_a_repository_only_disabled_identities_name_keeps_its_template(spec):
    folder = spec(_hcl(CUSTOM, manage=True, second_repo="acme/other",
                       second_extra='  manage_subject_claims = true\n',
                       sync_extra='    disabled = true\n    reason = "INC-1"\n'))
    emitted = compiled_files(folder)["main.tf.json"]["resource"][TEMPLATE]
    assert sorted(emitted.values(), key=lambda b: b["repository"]) == [
        {"repository": "app", "use_default": True},
        {"repository": "other", "use_default": False, "include_claim_keys": ["repo", "context", "job_workflow_ref"]}]


def test_manage_subject_claims_needs_a_github_issuer_at_githubs_url(spec):
    gitlab = spec('issuer "gl" {\n  kind = "gitlab_ci"\n  manage_subject_claims = true\n}\n')
    result = run_wiam("validate", gitlab)
    assert result.returncode == 1
    assert ":3:3: error in issuer \"gl\": manage_subject_claims applies to github_actions issuers only" in result.stderr
    ghes = spec('issuer "ghes" {\n  kind = "github_actions"\n  url = "https://ghes.example/_services/token"\n'
                '  manage_subject_claims = true\n}\n')
    result = run_wiam("validate", ghes)
    assert result.returncode == 1
    assert ":4:3: error in issuer \"ghes\": manage_subject_claims manages repositories on GitHub" in result.stderr
    assert "fix: remove url" in result.stderr


def test_repository_names_that_slug_alike_get_distinct_resources(spec):
    identities = "".join(workload_hcl(f"w{i}", identities=[f'issuer = "github"\n    repository = "acme/{name}"\n'
                                                              '    ref = "refs/heads/main"'])
                         for i, name in enumerate(["a.b", "a_b", "a-b", "A.B"]))
    folder = spec('issuer "github" {\n  kind = "github_actions"\n  manage_subject_claims = true\n}\n'
                  'target "aws" "prod" {\n  account_id = "123456789012"\n}\n' + identities)
    emitted = compiled_files(folder)["main.tf.json"]["resource"][TEMPLATE]
    assert sorted(b["repository"] for b in emitted.values()) == ["A.B", "a-b", "a_b"]  # a.b and A.B are one


def test_user_strings_are_escaped_where_they_land():
    """The schema keeps `$` and `{` out of owners and repositories; the emitter escapes regardless."""
    module = Module()
    side = OwnerSide(GITHUB_HOST, "o${x}", "owner_o", (Template("repo__o", "r%{y}", ("repo", "${z}")),), ("w",))
    emit(side, module, aliased=False)
    rendered = render(module.to_json()).decode()
    assert '"owner": "o$${x}"' in rendered and '"repository": "r%%{y}"' in rendered and '"$${z}"' in rendered


def test_a_hostile_repository_is_refused(spec):
    result = run_wiam("validate", spec(_hcl(CUSTOM, second_repo="acme/${file(\\\"/etc/passwd\\\")}")))
    assert result.returncode == 1 and "Traceback" not in result.stderr and "fix:" in result.stderr


def test_hcl_and_yaml_specs_compile_to_the_same_github_side(spec):
    hcl = spec({"main.wiam.hcl": 'issuer "ent" {\n  kind = "github_actions"\n  enterprise_slug = "acme"\n'
                                 '  subject_claims = ["repo", "context", "actor"]\n  manage_subject_claims = true\n}\n'
                                 'target "aws" "prod" {\n  account_id = "123456789012"\n}\n'
                                 'workload "w" {\n  identity {\n    issuer = "ent"\n    repository = "acme/app"\n'
                                 '    environment = "prod"\n    claims = { actor = "octocat" }\n  }\n'
                                 '  grant "aws" "prod" {\n    actions = ["s3:GetObject"]\n'
                                 '    resources = ["arn:aws:s3:::b/*"]\n  }\n}\n'})
    yaml_spec = spec({"main.wiam.yaml": """issuer:
  ent: {kind: github_actions, enterprise_slug: acme, subject_claims: [repo, context, actor], manage_subject_claims: true}
target:
  aws: {prod: {account_id: "123456789012"}}
workload:
  w:
    identity:
      - {issuer: ent, repository: acme/app, environment: prod, claims: {actor: octocat}}
    grant:
      aws: {prod: {actions: ["s3:GetObject"], resources: ["arn:aws:s3:::b/*"]}}
"""})
    files = compiled_files(hcl)
    assert files == compiled_files(yaml_spec)
    assert files["main.tf.json"]["resource"][TEMPLATE] == {"repo__acme__app": {
        "repository": "app", "use_default": False, "include_claim_keys": ["repo", "context", "actor"]}}
