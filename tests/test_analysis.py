"""Analysis rules: exact findings on planted specs, none on a clean one, suppression, SARIF, --fail-on."""

import gzip
import json
import random
from collections import Counter
from pathlib import Path

import jsonschema
import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from cloudsplaining.shared.constants import PRIVILEGE_ESCALATION_METHODS

from chains import CHAINS_HCL
from wiam.analysis import Finding, all_rules, analyze, at_or_above, output
from wiam.diagnostics import Pos
from wiam.analysis.rules import reachable
from wiam.suggest import LISTED
from wiam.analysis.output import rules_markdown, to_sarif
from wiam.compile import compile_model, load_model
from support.cli import run_wiam
from support.paths import ROOT
from support.specs import spec_errors

TARGETS = {
    "aws": 'target "aws" "prod" {\n  account_id = "123456789012"\n}\n',
    "gcp": 'target "gcp" "prod" {\n  project_id = "acme-prod"\n  project_number = "123456789012"\n}\n',
    "azure": ('target "azure" "prod" {\n  tenant_id = "00000000-0000-0000-0000-000000000000"\n'
              '  subscription_id = "11111111-1111-1111-1111-111111111111"\n  resource_group = "ids"\n'
              '  location = "eastus"\n}\n'),
}
# Random bytes as printable ASCII: text that gzip cannot shrink much, like hostile messages.
PRINTABLE = bytes(0x21 + b % 94 for b in range(256))
PINNED = ('issuer = "github"\n    repository = "acme/app"\n    owner_id = "100"\n    repository_id = "200"\n'
          '    ref = "refs/heads/main"')


def planted(cloud: str, grant: str, identity: str = PINNED, environment: str = "prod", extra: str = "") -> str:
    return ('issuer "github" {\n  kind = "github_actions"\n}\n' + TARGETS[cloud] +
            f'workload "app" {{\n  environment = "{environment}"\n{extra}  identity {{\n    {identity}\n  }}\n'
            f'  grant "{cloud}" "prod" {{\n    {grant}\n  }}\n}}\n')


def findings_of(folder):
    model = load_model(str(folder))
    compile_model(model)  # planted specs are valid specs: they compile
    # no windows here: every privileged production grant is standing access (WIAM020, see test_jit_commands)
    return [f for f in analyze(model) if f.rule != "WIAM020"]


def rule_ids(folder) -> list[str]:
    return sorted(f.rule for f in findings_of(folder))


CASES = [
    ("aws", 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]', []),
    ("aws", 'actions = ["s3:*"]\n    resources = ["arn:aws:s3:::b/*"]', ["AWS101"]),
    ("aws", 'actions = ["*"]\n    resources = ["arn:aws:s3:::b/*"]', ["AWS101", "AWS104"]),
    ("aws", 'actions = ["s3:PutObject"]\n    resources = ["*"]', ["AWS102"]),
    ("aws", 'actions = ["s3:ListAllMyBuckets"]\n    resources = ["*"]', []),  # takes only "*": not a finding
    ("aws", 'managed_policies = ["arn:aws:iam::aws:policy/AdministratorAccess"]', ["AWS103"]),
    ("aws", 'actions = ["iam:CreatePolicyVersion"]\n    resources = ["arn:aws:iam::123456789012:policy/p"]', ["AWS104"]),
    ("aws", 'actions = ["iam:AttachRolePolicy"]\n    resources = ["arn:aws:iam::123456789012:role/r"]', ["AWS104"]),
    ("aws", 'actions = ["iam:PutRolePolicy"]\n    resources = ["arn:aws:iam::123456789012:role/r"]', ["AWS104"]),
    ("aws", 'actions = ["sts:AssumeRole"]\n    resources = ["*"]', ["AWS102", "AWS104", "AWS105"]),
    ("aws", 'actions = ["secretsmanager:GetSecretValue"]\n    resources = ["*"]', ["AWS105"]),
    ("aws", 'actions = ["sqs:ReceiveMessage", "s3:ListAllMyBuckets"]\n    resources = ["*"]', ["AWS106"]),
    ("aws", 'actions = ["secretsmanager:GetSecretValue"]\n    resources = ["arn:aws:secretsmanager:eu-west-1:'
            '123456789012:secret:db"]', []),
    ("aws", 'actions = ["glue:UpdateDevEndpoint"]\n    resources = ["arn:aws:glue:eu-west-1:123456789012:devEndpoint/d"]',
     ["AWS104"]),
    ("aws", 'actions = ["sts:AssumeRole"]\n    resources = ["arn:aws:iam::123456789012:role/r"]', []),
    ("aws", 'actions = ["iam:PassRole", "ec2:RunInstances"]\n    resources = ["arn:aws:iam::123456789012:role/r"]',
     ["AWS104"]),
    ("aws", 'actions = ["iam:PassRole"]\n    resources = ["arn:aws:iam::123456789012:role/r"]', []),
    ("aws", 'actions = ["iam:PassRole"]\n    resources = ["*"]', ["AWS102", "AWS104"]),
    # policy variables (`$${` is HCL's `${`): the caller's request names the resource, the principal's tags do not
    ("aws", 'actions = ["sts:AssumeRole"]\n    resources = ["arn:aws:iam::123456789012:role/$${aws:UserAgent}"]',
     ["AWS107"]),
    ("aws", 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/$${ aws:requesttag/x , \'y\'}/*"]', ["AWS107"]),
    ("aws", 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/$${aws:PrincipalTag/team}/$${$}/'
            '$${token.actions.githubusercontent.com:sub}/$${aws:PrincipalAccount, \'x\'}"]', []),
    ("gcp", 'roles = ["roles/storage.objectViewer"]\n    resource = "projects/_/buckets/acme-bucket"', []),
    ("gcp", 'roles = ["roles/owner"]', ["GCP101"]),
    ("gcp", 'roles = ["roles/editor"]', ["GCP101"]),
    ("gcp", 'roles = ["roles/viewer"]', ["GCP104"]),
    ("gcp", 'roles = ["roles/logging.admin"]', ["GCP105"]),
    ("gcp", 'roles = ["roles/iam.serviceAccountTokenCreator"]', ["GCP102"]),
    ("gcp", 'roles = ["roles/resourcemanager.projectIamAdmin"]', ["GCP102"]),
    ("gcp", 'roles = ["roles/storage.objectViewer"]', ["GCP103"]),
    ("gcp", 'roles = ["roles/pubsub.publisher"]', ["GCP103"]),
    ("gcp", 'roles = ["roles/cloudsql.client"]', []),  # Cloud SQL has no resource-level bindings here
    ("azure", 'roles = ["Storage Blob Data Reader"]\n    scope = "/subscriptions/11111111-1111-1111-1111-111111111111'
              '/resourceGroups/data"', []),
    ("azure", 'roles = ["Owner"]\n    scope = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/d"',
     ["AZ101"]),
    ("azure", 'roles = ["Contributor"]\n    scope = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/d"',
     ["AZ101"]),
    ("azure", 'roles = ["User Access Administrator"]\n    scope = "/subscriptions/11111111-1111-1111-1111-111111111111'
              '/resourceGroups/d"', ["AZ101"]),
    ("azure", 'roles = ["Managed Identity Operator"]\n    scope = "/subscriptions/11111111-1111-1111-1111-111111111111'
              '/resourceGroups/d"', ["AZ102"]),
    ("azure", 'roles = ["Reader"]', ["AZ103"]),
]


@pytest.mark.parametrize("cloud,grant,expected", CASES)
def test_each_cloud_rule_fires_exactly_where_planted(spec, cloud, grant, expected):
    assert rule_ids(spec(planted(cloud, grant))) == expected


@pytest.mark.parametrize("method", sorted(PRIVILEGE_ESCALATION_METHODS))
def test_every_published_escalation_method_is_an_escalation_finding(spec, method):
    actions = ", ".join(f'"{action}"' for action in PRIVILEGE_ESCALATION_METHODS[method])
    assert "AWS104" in rule_ids(spec(planted("aws", f'actions = [{actions}]\n    resources = ["*"]')))


@pytest.mark.parametrize("identity,environment,expected", [
    ('issuer = "github"\n    repository = "acme/app"\n    pull_request = true', "prod", ["WIAM005", "WIAM010"]),
    ('issuer = "github"\n    repository = "acme/app"\n    owner_id = "1"\n    repository_id = "2"\n'
     '    ref = "refs/heads/feature-x"', "prod", ["WIAM002"]),
    ('issuer = "github"\n    repository = "acme/app"\n    owner_id = "1"\n    repository_id = "2"\n'
     '    ref = "refs/tags/v1"', "prod", []),
    ('issuer = "github"\n    repository = "acme/app"\n    owner_id = "1"\n    repository_id = "2"\n'
     '    environment = "staging"', "production", ["WIAM004"]),
    ('issuer = "github"\n    repository = "acme/app"\n    owner_id = "1"\n    repository_id = "2"\n'
     '    environment = "production"', "prod", []),
    ('issuer = "github"\n    repository = "acme/app"\n    ref = "refs/heads/main"', "prod", ["WIAM005", "WIAM008"]),
    ('issuer = "github"\n    repository = "acme/app"\n    ref = "refs/heads/main"', "dev", ["WIAM005"]),
    ('issuer = "github"\n    repository = "acme/app"\n    ref = "refs/heads/main"\n'
     '    claims = { job_workflow_ref = "acme/app/.github/workflows/d.yml@refs/heads/main" }', "prod", ["WIAM005"]),
    ('issuer = "github"\n    repository = "acme/app"\n    ref = "refs/heads/main"\n'
     '    claims = { repository_id = "200" }', "prod", ["WIAM005"]),
    ('issuer = "github"\n    repository = "acme/app"\n    ref = "refs/heads/main"\n'
     '    claims = { workflow = "deploy" }', "prod", ["WIAM005", "WIAM008"]),  # a workflow's name is not a pin
    ('issuer = "github"\n    repository = "acme/app"\n    ref = "refs/tags/v1"', "prod", ["WIAM005"]),
    ('issuer = "github"\n    repository = "acme/app"\n    environment = "prod"', "prod", ["WIAM005"]),
])
def test_subject_rules(spec, identity, environment, expected):
    grant = 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]'
    assert rule_ids(spec(planted("aws", grant, identity, environment))) == expected


def test_feature_branch_on_a_read_only_dev_workload_is_fine_but_not_with_write(spec):
    branch = ('issuer = "github"\n    repository = "acme/app"\n    owner_id = "1"\n    repository_id = "2"\n'
              '    ref = "refs/heads/feature-x"')
    read = 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]'
    write = 'actions = ["s3:PutObject"]\n    resources = ["arn:aws:s3:::b/*"]'
    assert rule_ids(spec(planted("aws", read, branch, "dev"))) == []
    found = findings_of(spec(planted("aws", write, branch, "dev")))
    assert [(f.rule, f.block) for f in found] == [("WIAM002", 'identity #1 in workload "app"')]
    assert "write access on aws prod" in found[0].message


def test_shared_subject_unused_target_and_issuer(spec):
    text = planted("aws", 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]')
    text += ('workload "other" {\n  environment = "prod"\n  identity {\n    ' + PINNED + '\n  }\n'
             '  grant "aws" "prod" {\n    actions = ["s3:ListBucket"]\n    resources = ["arn:aws:s3:::b"]\n  }\n}\n')
    text += TARGETS["gcp"] + 'issuer "gitlab" {\n  kind = "gitlab_ci"\n}\n'
    found = findings_of(spec(text))
    assert sorted((f.rule, f.workload) for f in found) == [("WIAM003", "app"), ("WIAM006", None), ("WIAM007", None)]
    [shared] = [f for f in found if f.rule == "WIAM003"]  # once per subject, not once per workload naming it
    assert "named by 2 workloads: 'app', 'other'" in shared.message and shared.related == ("app", "other")


def test_chains_spec_exact_findings(spec):
    found = findings_of(spec(CHAINS_HCL))
    got = sorted((f.rule, f.pos.line, f.workload or "") for f in found)
    escalations = [f for f in found if f.rule == "WIAM001"]
    paths = {(f.workload, node) for f in escalations for node in f.related}
    assert paths == {
        ("ci", "aws:role:prod:deployer"), ("ci", "aws:role:prod:admin"), ("deployer", "aws:role:prod:admin"),
        ("builder", "aws:role:prod:admin"),
        ("gcp-ci", "gcp:service_account:prod:gcp-deployer"), ("gcp-ci", "gcp:service_account:prod:gcp-data"),
        ("gcp-ci", "gcp:service_account:prod:pool-admin"),
        ("gcp-deployer", "gcp:service_account:prod:gcp-ci"), ("gcp-deployer", "gcp:service_account:prod:gcp-data"),
        ("gcp-deployer", "gcp:service_account:prod:pool-admin"),
        ("pool-admin", "gcp:service_account:prod:gcp-ci"), ("pool-admin", "gcp:service_account:prod:gcp-data"),
        ("pool-admin", "gcp:service_account:prod:gcp-deployer"),
        ("az-ops", "azure:identity:prod:az-app"),
        ("intern", "aws:role:prod:ci"), ("intern", "aws:role:prod:deployer"), ("intern", "aws:role:prod:admin"),
        ("bridge", "aws:role:prod:admin"), ("bridge", "gcp:service_account:prod:gcp-data"),
        ("gcp-ci", "gcp:service_account:prod:bridge"), ("gcp-deployer", "gcp:service_account:prod:bridge"),
        ("pool-admin", "gcp:service_account:prod:bridge"),
    }
    others = sorted((rule, workload) for rule, _, workload in got if rule != "WIAM001")
    assert others == [("AWS104", "builder"), ("AWS104", "deployer"), ("AZ102", "az-ops"), ("GCP102", "bridge"),
                      ("GCP102", "gcp-ci"),
                      ("GCP102", "gcp-deployer"), ("GCP102", "pool-admin"), ("WIAM007", "")]
    # One finding per principal that reaches others: bridge has two (AWS and GCP), the others one.
    assert sorted(f.workload for f in escalations) == sorted(
        ["ci", "deployer", "builder", "gcp-ci", "gcp-deployer", "pool-admin", "az-ops", "intern", "bridge", "bridge"])
    ci = next(f for f in escalations if f.workload == "ci")
    assert ci.related == ("aws:role:prod:deployer", "aws:role:prod:admin")  # nearest first
    assert ci.path == ("workload:ci", "aws:role:prod:ci", "aws:role:prod:deployer")
    assert "can act as 2 principals" in ci.message and "'wiam-admin' of workload 'admin' (2 hops)" in ci.message
    assert "sts:AssumeRole" in ci.message
    intern = next(f for f in escalations if f.workload == "intern")
    assert "'wiam-admin' of workload 'admin' (3 hops)" in intern.message


def _assume_anything_spec(n: int, subject: str | None = None) -> dict:
    """n workloads, each allowed sts:AssumeRole on "*": every one can act as every other (n*(n-1) paths);
    with `subject`, all of them also name that one subject."""
    return {"issuer": {"kc": {"kind": "generic_oidc", "url": "https://sso.example/realms/p"}},
            "target": {"aws": {"prod": {"account_id": "123456789012"}}},
            "workload": {f"w{i}": {"environment": "prod",
                                   "identity": [{"issuer": "kc", "subject": subject or f"s{i}", "audience": "a"}],
                                   "grant": {"aws": {"prod": {"actions": ["sts:AssumeRole"], "resources": ["*"]}}}}
                         for i in range(n)}}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(min_value=2, max_value=25), shared=st.booleans())
def test_escalation_and_shared_subject_findings_grow_linearly(spec, n, shared):
    folder = spec({"spec.wiam.json": json.dumps(_assume_anything_spec(n, "ci" if shared else None))})
    found = findings_of(folder)
    escalations = [f for f in found if f.rule == "WIAM001"]
    assert len(escalations) == n  # one per principal, not one per pair
    for finding in escalations:
        assert f"can act as {n - 1} principal" in finding.message
        assert len(finding.related) == min(n - 1, LISTED) and f"aws:role:prod:{finding.workload}" not in finding.related
        more = n - 1 - LISTED
        assert (f"and {more} more" in finding.message) == (more > 0)
    shares = [f for f in found if f.rule == "WIAM003"]
    assert len(shares) == (1 if shared else 0)
    if shared:
        assert f"named by {n} workloads" in shares[0].message
        assert list(shares[0].related) == sorted(f"w{i}" for i in range(n))[:LISTED]
    longest = max(len(f.message) for f in found)
    assert longest < 2000  # the lists are capped: a message does not grow with n


def test_untrusted_trigger_messages_do_not_list_every_grant(spec):
    targets = {f"acct{i:02d}": {"account_id": f"{i:012d}"} for i in range(15)}
    identities = [{"issuer": "github", "repository": "acme/app", "pull_request": True},
                  {"issuer": "github", "repository": "acme/app", "ref": "refs/heads/feature"}]
    data = {"issuer": {"github": {"kind": "github_actions"}}, "target": {"aws": targets},
            "workload": {"app": {"environment": "dev", "identity": identities, "grant": {"aws": {
                name: {"actions": ["s3:PutObject"], "resources": ["arn:aws:s3:::b/*"]} for name in targets}}}}}
    untrusted = [f for f in findings_of(spec({"spec.wiam.json": json.dumps(data)})) if f.rule in ("WIAM002", "WIAM010")]
    assert len(untrusted) == 2  # one per identity (the branch's, the pull request's), each naming 10 of 15 grants
    for finding in untrusted:
        assert "write access on aws acct00, aws acct01" in finding.message and "and 5 more" in finding.message
        assert "acct10" not in finding.message


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=40))
def test_reachable_sets_are_the_descendants_of_each_node(edges):
    view = nx.DiGraph()
    view.add_edges_from((f"n{a}", f"n{b}") for a, b in edges)
    bit, reach = reachable(view)
    for node in view:
        # a node reaches itself when a cycle through another node leads back (its own principal: ignored)
        back = any(nx.has_path(view, successor, node) for successor in view.succ[node] if successor != node)
        expected = nx.descendants(view, node) | ({node} if back else set())
        assert {other for other in view if reach[node] & bit[other]} == expected


def test_a_shared_subject_is_suppressed_only_when_every_workload_suppresses_it(spec):
    data = _assume_anything_spec(3, "ci")
    for name in ("w0", "w1"):
        data["workload"][name]["suppress"] = {"WIAM003": {"reason": "one job deploys both"}}
    [shared] = [f for f in findings_of(spec({"spec.wiam.json": json.dumps(data)})) if f.rule == "WIAM003"]
    assert shared.workload == "w2" and shared.suppressed is None
    data["workload"]["w2"]["suppress"] = {"WIAM003": {"reason": "one job deploys both"}}
    [shared] = [f for f in findings_of(spec({"spec.wiam.json": json.dumps(data)})) if f.rule == "WIAM003"]
    assert shared.workload == "w0" and shared.suppressed == "one job deploys both"


def test_a_clean_spec_has_no_findings(spec):
    grants = {
        "aws": 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]',
        "gcp": 'roles = ["roles/storage.objectViewer"]\n    resource = "projects/_/buckets/acme-bucket"',
        "azure": 'roles = ["Storage Blob Data Reader"]\n    scope = "/subscriptions/11111111-1111-1111-1111-111111111111'
                 '/resourceGroups/data"',
    }
    text = 'issuer "github" {\n  kind = "github_actions"\n}\n' + "".join(TARGETS.values())
    text += (f'workload "app" {{\n  environment = "prod"\n  identity {{\n    {PINNED}\n  }}\n' +
             "".join(f'  grant "{c}" "prod" {{\n    {g}\n  }}\n' for c, g in grants.items()) + "}\n")
    assert findings_of(spec(text)) == []


def test_suppression_keeps_the_finding_with_its_reason(spec):
    suppress = '  suppress "AWS101" {\n    reason = "legacy tool, removal tracked in OPS-12"\n  }\n'
    folder = spec(planted("aws", 'actions = ["s3:*"]\n    resources = ["arn:aws:s3:::b/*"]', extra=suppress))
    [finding] = findings_of(folder)
    assert finding.rule == "AWS101" and finding.suppressed == "legacy tool, removal tracked in OPS-12"
    assert at_or_above([finding], "low") == []


def test_suppression_in_yaml_points_into_the_yaml_file(spec):
    folder = spec({"spec.wiam.yaml": """
issuer:
  github: {kind: github_actions}
target:
  aws:
    prod: {account_id: "123456789012"}
workload:
  app:
    environment: dev
    suppress:
      AWS101: {reason: accepted for now}
      WIAM005: {reason: the repository predates immutable subjects}
    identity:
      - {issuer: github, repository: acme/app, ref: refs/heads/main}
    grant:
      aws:
        prod: {actions: ["s3:*"], resources: ["arn:aws:s3:::acme-bucket/*"]}
"""})
    found = findings_of(folder)
    assert [(f.rule, f.suppressed, f.pos.line) for f in found] == [
        ("WIAM005", "the repository predates immutable subjects", 14), ("WIAM008", None, 14),
        ("AWS101", "accepted for now", 17)]


@pytest.mark.parametrize("block,needle", [
    ('  suppress "AWS999" {\n    reason = "x"\n  }\n', "no analysis rule 'AWS999'"),
    ('  suppress "AWS101" {\n  }\n', "reason"),
    ('  suppress "AWS101" {\n    reason = " "\n  }\n', "reason"),
])
def test_bad_suppressions_are_spec_errors(spec, block, needle):
    text = planted("aws", 'actions = ["s3:*"]\n    resources = ["arn:aws:s3:::b/*"]', extra=block)
    errors = spec_errors(spec(text))
    assert len(errors) == 1 and needle in errors[0].message + errors[0].hint
    first = next(n for n, line in enumerate(text.splitlines(), 1) if "suppress" in line)
    assert first <= errors[0].pos.line <= first + 1  # the suppress block or its reason


def test_sarif_is_valid_and_points_at_spec_lines(spec):
    folder = spec(CHAINS_HCL + 'workload "x" {\n  suppress "AWS101" {\n    reason = "accepted"\n  }\n'
                  '  identity {\n    issuer = "eks"\n    namespace = "x"\n    service_account = "x"\n  }\n'
                  '  grant "aws" "prod" {\n    actions = ["s3:*"]\n    resources = ["arn:aws:s3:::x/*"]\n  }\n}\n')
    findings = findings_of(folder)
    sarif = to_sarif(findings, all_rules(), "0.1.0")
    schema = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    results = sarif["runs"][0]["results"]
    assert len(results) == len(findings)
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    for result, finding in zip(results, findings):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == finding.rule
        region = result["locations"][0]["physicalLocation"]["region"]
        assert (region["startLine"], region["startColumn"]) == (finding.pos.line, finding.pos.column)
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("main.wiam.hcl")
    suppressed = [r for r in results if "suppressions" in r]
    assert [s["suppressions"] for s in suppressed] == [[{"kind": "inSource", "justification": "accepted"}]]
    assert all(0 < float(r["properties"]["security-severity"]) <= 10 for r in rules)


def _many_findings(count: int, message) -> list[Finding]:
    """Synthetic findings of every severity, in place order, with message(i) as the text."""
    severities = ["low", "medium", "high", "critical"]
    return [Finding(["WIAM005", "WIAM003", "WIAM001", "AWS103"][i % 4], severities[i % 4], message(i),
                    Pos("main.wiam.hcl", i + 1, 1), f'workload "w{i}"', f"w{i}") for i in range(count)]


def _sarif_within_github_limits(sarif: dict) -> bytes:
    written = (json.dumps(sarif, indent=2, ensure_ascii=False) + "\n").encode()  # as `wiam analyze` writes it
    assert len(sarif["runs"][0]["results"]) <= 25_000
    assert len(gzip.compress(written)) < 10_000_000
    return written


def test_sarif_keeps_to_githubs_result_limit_most_severe_first():
    findings = _many_findings(30_000, lambda i: f"finding {i}")
    run = to_sarif(findings, all_rules(), "0.1.0")["runs"][0]
    _sarif_within_github_limits({"runs": [run]})
    results = run["results"]
    assert len(results) == 25_000
    levels = Counter(r["level"] for r in results)
    assert levels["error"] == 15_000 and levels["warning"] == 7_500 and levels["note"] == 2_500  # lows go first
    lines = [r["locations"][0]["physicalLocation"]["region"]["startLine"] for r in results]
    assert lines == sorted(lines)  # still in place order
    [note] = run["invocations"][0]["toolExecutionNotifications"]
    assert "wiam found 30000 findings" in note["message"]["text"] and "25000 most severe" in note["message"]["text"]


def test_sarif_of_long_incompressible_messages_stays_under_10_mb_gzipped():
    noise = random.Random(7)
    findings = _many_findings(3_000, lambda i: noise.randbytes(6_000).translate(PRINTABLE).decode())
    sarif = to_sarif(findings, all_rules(), "0.1.0")
    _sarif_within_github_limits(sarif)
    results = sarif["runs"][0]["results"]
    assert 0 < len(results) < len(findings) and "invocations" in sarif["runs"][0]
    assert all(len(r["message"]["text"]) < 4_100 for r in results)  # one long message is cut, not dropped


def test_truncated_sarif_validates_and_the_exit_code_counts_every_finding(spec, monkeypatch):
    monkeypatch.setattr(output, "SARIF_MAX_RESULTS", 3)
    findings = _many_findings(8, lambda i: f"finding {i}")
    sarif = to_sarif(findings, all_rules(), "0.1.0")
    schema = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft4Validator(schema).validate(sarif)
    assert [r["level"] for r in sarif["runs"][0]["results"]] == ["error", "error", "error"]
    # A real run: 30 workloads that all can act as one another give 30 WIAM001 findings and more
    # (AWS102, AWS104, AWS105 per workload): over a lowered cap, the file is cut but --fail-on counts them all.
    folder = spec({"spec.wiam.json": json.dumps(_assume_anything_spec(30))})
    out = folder / "out.sarif"
    done = run_wiam("analyze", folder, "--format", "sarif", "--out", out, "--fail-on", "high",
                    before="from wiam.analysis import output; output.SARIF_MAX_RESULTS = 5")
    assert done.returncode == 1, done.stderr
    written = json.loads(out.read_text())
    jsonschema.Draft4Validator(schema).validate(written)
    assert len(written["runs"][0]["results"]) == 5
    assert "note: wiam found" in done.stderr and "this SARIF file holds the 5 most severe" in done.stderr


def test_fail_on_sets_the_exit_code(spec):
    # one medium finding (staging: no standing production access)
    text = planted("aws", 'actions = ["s3:PutObject"]\n    resources = ["*"]', environment="staging")
    folder = spec(text)
    assert run_wiam("analyze", str(folder)).returncode == 0
    assert run_wiam("analyze", str(folder), "--fail-on", "high").returncode == 0
    medium = run_wiam("analyze", str(folder), "--fail-on", "medium")
    assert medium.returncode == 1 and "AWS102" in medium.stdout
    data = json.loads(run_wiam("analyze", str(folder), "--format", "json", "--fail-on", "low").stdout)
    assert data["summary"]["medium"] == 1 and data["findings"][0]["rule"] == "AWS102"
    resources_line = next(n for n, line in enumerate(text.splitlines(), 1) if "resources" in line)
    assert data["findings"][0]["fix"] and data["findings"][0]["line"] == resources_line
    bad = run_wiam("analyze", str(folder), "--fail-on", "severe")
    assert bad.returncode == 2


def test_the_rule_index_page_is_generated_from_the_rules():
    assert (ROOT / "docs" / "rules.md").read_text(encoding="utf-8") == rules_markdown(all_rules())
    for rule in all_rules().values():
        assert rule.title and rule.explanation and rule.fix and rule.severity in ("low", "medium", "high", "critical")


def test_a_branch_subject_carrying_the_workflow_is_pinned(spec):
    text = planted("aws", 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]',
                   'issuer = "gh"\n    repository = "acme/app"\n    ref = "refs/heads/main"\n'
                   '    claims = { job_workflow_ref = "acme/app/.github/workflows/d.yml@refs/heads/main" }')
    carried = text + ('issuer "gh" {\n  kind = "github_actions"\n'
                      '  subject_claims = ["repo", "context", "job_workflow_ref"]\n}\n')
    assert "WIAM008" not in rule_ids(spec(carried))
    plain = text + 'issuer "gh" {\n  kind = "github_actions"\n}\n'
    assert "WIAM008" not in rule_ids(spec(plain))
    unpinned = plain.replace("job_workflow_ref", "workflow")  # a name any workflow file can take
    (finding,) = [f for f in findings_of(spec(unpinned)) if f.rule == "WIAM008"]
    assert finding.block == 'identity #1 in workload "app"' and "branch 'main' alone" in finding.message
