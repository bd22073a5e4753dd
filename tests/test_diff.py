"""Least-privilege diffs: each kind of change gets its exact classification and access tuples."""

import json

import pytest
from hypothesis import given, settings, strategies as st

from markdown_it import MarkdownIt

from wiam.diagnostics import printable
from wiam.diff import COMMENT_MAX_CHARS, Access, Diff, _code, diff, to_markdown
from support.cli import run_wiam
from support.git import commit_all, init_repo
from support.paths import EXAMPLES
from support.specs import write_spec

BASE = (EXAMPLES / "spec-reference" / "main.wiam.hcl").read_text(encoding="utf-8")
GITHUB = "https://token.actions.githubusercontent.com"
EKS = "https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
MAIN = "repo:acme/payments:ref:refs/heads/main"
ORDERS = "system:serviceaccount:orders:orders-api"
BUCKET = "arn:aws:s3:::acme-payments-artifacts/*"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:orders"


def _payments(permission, resource=BUCKET, subject=MAIN, cloud="aws", workload="payments-deployer"):
    return Access(GITHUB, subject, cloud, "prod", workload, permission, resource, False)


def _orders(permission, workload="orders-api", issuer=EKS):
    return Access(issuer, ORDERS, "aws", "prod", workload, permission, QUEUE, False)


def _edit(old, new, text=BASE):
    assert old in text, old
    return text.replace(old, new)


NEW_BRANCH = '''  identity {
    issuer     = "github"
    repository = "acme/payments"
    ref        = "refs/heads/main"
  }
'''
CASES = {
    "nothing": (BASE, "neutral", [], []),
    "description only": (_edit("Deploys the payments service", "Ships the payments service"), "neutral", [], []),
    "new grant": (_edit('    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage"]',
                        '    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:SendMessage"]'),
                  "widening", [_orders("sqs:SendMessage")], []),
    "broader action": (_edit('["s3:GetObject", "s3:PutObject"]', '["s3:GetObject", "s3:PutObject", "s3:Delete*"]'),
                       "widening", [_payments("s3:Delete*")], []),
    "wildcard introduced": (_edit('["s3:GetObject", "s3:PutObject"]', '["s3:*"]'), "widening", [_payments("s3:*")],
                            [_payments("s3:GetObject"), _payments("s3:PutObject")]),
    "narrower action": (_edit('["s3:GetObject", "s3:PutObject"]', '["s3:GetObject"]'), "narrowing", [],
                        [_payments("s3:PutObject")]),
    "grant removed": (_edit('''  grant "aws" "prod" {
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage"]
    resources = ["arn:aws:sqs:us-east-1:123456789012:orders"]
  }
''', '''  grant "gcp" "prod" {
    roles    = ["roles/pubsub.subscriber"]
    resource = "projects/acme-prod/subscriptions/orders"
  }
'''), "widening", [Access(EKS, ORDERS, "gcp", "prod", "orders-api", "roles/pubsub.subscriber",
                          "projects/acme-prod/subscriptions/orders", False)],
        [_orders("sqs:ReceiveMessage"), _orders("sqs:DeleteMessage")]),
    "workload renamed": (_edit('workload "orders-api"', 'workload "orders-service"'), "neutral", [], []),
    "issuer URL changed": (_edit("EXAMPLED539D4633E53DE1B71EXAMPLE", "NEWCLUSTER0000000000000000000000"), "widening",
                           [_orders(p, issuer=EKS.replace("EXAMPLED539D4633E53DE1B71EXAMPLE",
                                                          "NEWCLUSTER0000000000000000000000"))
                            for p in ("sqs:DeleteMessage", "sqs:ReceiveMessage")],
                           [_orders("sqs:DeleteMessage"), _orders("sqs:ReceiveMessage")]),
}


def _run(tmp_path, head_text, base_text=BASE):
    base = write_spec(tmp_path / "base", {"main.wiam.hcl": base_text})
    head = write_spec(tmp_path / "head", {"main.wiam.hcl": head_text})
    return diff(str(base), str(head))


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_change_kind(tmp_path, case):
    head, classification, added, removed = CASES[case]
    result = _run(tmp_path, head)
    assert result.classification == classification
    assert result.added == sorted(added)
    assert result.removed == sorted(removed)


def test_new_subject_and_new_branch_widen_with_the_new_subject_named(tmp_path):
    head = _edit(NEW_BRANCH, NEW_BRANCH + NEW_BRANCH.replace("refs/heads/main", "refs/heads/develop"))
    result = _run(tmp_path, head)
    develop = "repo:acme/payments:ref:refs/heads/develop"
    assert result.classification == "widening"
    assert result.subjects_added == [f"{GITHUB} {develop}"]
    assert {a.subject for a in result.added} == {develop} and len(result.added) == 4  # 2 AWS actions, GCP, Azure
    assert [f.rule for f in result.findings_introduced] == ["WIAM002", "WIAM005", "WIAM008"]  # a feature branch on prod


def test_rename_is_reported_as_a_rename(tmp_path):
    result = _run(tmp_path, CASES["workload renamed"][0])
    assert result.renamed == {"orders-api": "orders-service"}
    assert result.added == [] and result.removed == [] and result.findings_introduced == []


def test_escalation_path_introduced_is_widening(tmp_path):
    head = _edit('    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage"]\n    resources = ["arn:aws:sqs:us-east-1:123456789012:orders"]',
                 '    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sts:AssumeRole"]\n'
                 '    resources = ["arn:aws:sqs:us-east-1:123456789012:orders", '
                 '"arn:aws:iam::123456789012:role/wiam-payments-deployer"]')
    result = _run(tmp_path, head)
    assert result.classification == "widening"
    assert [f.rule for f in result.escalations_added] == ["WIAM001"]
    indirect = {a for a in result.added if a.indirect}
    assert indirect and {a.workload for a in indirect} == {"payments-deployer"}
    assert {a.subject for a in indirect} == {ORDERS}


def test_disabling_is_narrowing(tmp_path):
    head = _edit('workload "orders-api" {\n', 'workload "orders-api" {\n  disabled = true\n  reason = "INC-7"\n')
    result = _run(tmp_path, head)
    assert result.classification == "narrowing"
    assert result.disabled == ["workload orders-api"]
    assert result.added == [] and {a.subject for a in result.removed} == {ORDERS}


def _two_commits(tmp_path, head_text: str):
    """A repository whose specs/main.wiam.hcl is BASE at HEAD~1 and head_text at HEAD."""
    repo = tmp_path / "repo"
    write_spec(repo / "specs", {"main.wiam.hcl": BASE})
    init_repo(repo)
    commit_all(repo, "base")
    (repo / "specs" / "main.wiam.hcl").write_text(head_text, encoding="utf-8")
    commit_all(repo, "change")
    return repo


def test_git_revisions_without_touching_the_working_tree(tmp_path):
    repo = _two_commits(tmp_path, CASES["wildcard introduced"][0])
    (repo / "specs" / "main.wiam.hcl").write_text(BASE.replace("s3:GetObject", "s3:GetObjectTagging"))  # uncommitted
    result = run_wiam("diff", "HEAD~1", "HEAD", "--path", "specs", "--format", "json", cwd=repo)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert (payload["base"], payload["head"], payload["classification"]) == ("HEAD~1:specs", "HEAD:specs", "widening")
    assert [a["permission"] for a in payload["added"]] == ["s3:*"]
    assert payload["findings"]["introduced"][0]["file"] == "HEAD:specs/main.wiam.hcl"
    assert (repo / "specs" / "main.wiam.hcl").read_text().count("GetObjectTagging") == 1  # working tree untouched
    working = run_wiam("diff", "HEAD:specs", "specs", "--format", "json", cwd=repo)  # a revision against a folder
    assert json.loads(working.stdout)["added"][0]["permission"] == "s3:GetObjectTagging"
    assert run_wiam("diff", "no-such-revision", "specs", cwd=repo).returncode == 2


def test_exit_codes_and_markdown(tmp_path):
    base = write_spec(tmp_path / "base", {"main.wiam.hcl": BASE})
    head = write_spec(tmp_path / "head", {"main.wiam.hcl": CASES["wildcard introduced"][0]})
    assert run_wiam("diff", base, head).returncode == 0
    assert run_wiam("diff", base, head, "--fail-on", "widening").returncode == 1
    assert run_wiam("diff", base, head, "--fail-on", "high").returncode == 1  # AWS101 is new and high
    assert run_wiam("diff", base, head, "--fail-on", "critical").returncode == 0
    assert run_wiam("diff", head, base, "--fail-on", "widening").returncode == 0  # the reverse narrows
    assert run_wiam("diff", base, head, "--fail-on", "wider").returncode == 2
    markdown = run_wiam("diff", base, head, "--format", "markdown").stdout
    first = markdown.splitlines()[0]
    assert first.startswith("### ") and "WIDENING" in first
    assert "<details><summary>Access removed (2)</summary>" in markdown
    assert " -> aws prod payments-deployer -> s3:PutObject on arn:aws:s3:::acme-payments-artifacts/*`\n" in markdown
    assert all(line.startswith("- `") for line in markdown.splitlines() if line.startswith("- "))  # code spans


def test_a_broken_side_reports_its_errors_at_their_place(tmp_path):
    repo = _two_commits(tmp_path, BASE.replace('actions   = ["s3:GetObject"', 'actions   = ["s3:GetObjekt"', 1))
    result = run_wiam("diff", "HEAD~1", "HEAD", "--path", "specs", cwd=repo)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    line = next(n for n, text in enumerate(BASE.splitlines(), 1) if 's3:GetObject"' in text and "actions" in text)
    assert f"HEAD:specs/main.wiam.hcl:{line}:" in result.stderr and "GetObjekt" in result.stderr


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_markdown_user_text_is_one_code_span_holding_it_exactly(text):
    (paragraph,) = [t for t in MarkdownIt().parse(f"- {_code(text)}") if t.type == "inline"]
    assert [t.type for t in paragraph.children] == ["code_inline"]
    assert paragraph.children[0].content == printable(text)


def test_a_markdown_comment_fits_in_one_pull_request_comment():
    many = [f"subject-{n} @octocat https://evil.example/{n}" for n in range(5000)]
    d = Diff("base", "head", "widening", [], [], [], {}, many, [], many, [], [], [], [], [], [])
    markdown = to_markdown(d)
    assert len(markdown) <= COMMENT_MAX_CHARS
    assert "more lines are left out to fit a comment" in markdown
    assert "- `subject-0 @octocat https://evil.example/0`" in markdown
