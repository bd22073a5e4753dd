"""Every error wiam reports points at the exact attribute (or, where none is written, the block), names
its block and says how to fix it: a corpus of bad specs, one per error message, run through the CLI;
and a check of the source that every place reporting an error passes a fix."""

import ast
import inspect
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from wiam.cli import app
from wiam.diagnostics import Report
from wiam.loader import load
from wiam.schema import is_valid
from support.paths import ROOT
from support.specs import BASE_HCL

GH = '    issuer = "github"\n    repository = "acme/app"\n    ref = "refs/heads/main"\n'
AWS = '  grant "aws" "prod" {\n    actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]\n  }\n'
GCP = '  grant "gcp" "prod" {\n    roles = ["roles/storage.objectViewer"]\n  }\n'
AZURE = '  grant "azure" "prod" {\n    roles = ["Reader"]\n  }\n'
W = 'workload "w"'


def workload(identities=(GH,), grants=AWS, extra="") -> str:
    body = "".join(f"  identity {{\n{identity}  }}\n" for identity in identities)
    return f'workload "w" {{\n{extra}{body}{grants}}}\n'


def aws(body: str) -> str:
    return workload(grants=f'  grant "aws" "prod" {{\n{body}  }}\n')


def github(ref: str) -> str:
    return f'    issuer = "github"\n    repository = "acme/app"\n    ref = "{ref}"\n'


DEV = 'target "aws" "dev" {\n  account_id = "210987654321"\n'
ISSUER_K = 'issuer "k" {\n  kind = "kubernetes"\n  url = "https://k.example"\n'
POLICIES = ", ".join(f'"arn:aws:iam::aws:policy/P{i}"' for i in range(11))
RESOURCES = ", ".join(f'"arn:aws:s3:::bucket-with-a-long-name-{i:04d}/some/prefix/*"' for i in range(250))
GENERIC = 'issuer "g" {\n  kind = "generic_oidc"\n  url = "https://ci.example"\n}\n'

# (id, the text after BASE_HCL in main.wiam.hcl or {file: text}, a part of the message,
#  (the text the error points at: its nth occurrence after BASE_HCL), the block named)
CASES = [
    ("slug-kind", 'issuer "gl" {\n  kind = "gitlab_ci"\n  enterprise_slug = "acme"\n}\n',
     "github_actions issuers only", ("enterprise_slug", 1), 'issuer "gl"'),
    ("slug-and-url", 'issuer "g2" {\n  kind = "github_actions"\n  url = "https://x.example"\n  enterprise_slug = "acme"\n}\n',
     "set url or enterprise_slug, not both", ("enterprise_slug", 1), 'issuer "g2"'),
    ("no-url", 'issuer "k" {\n  kind = "kubernetes"\n}\n', "needs a url", ('issuer "k"', 1), 'issuer "k"'),
    ("disabled-no-reason", ISSUER_K + "  disabled = true\n}\n", "disabled = true needs a reason", ("disabled", 1), 'issuer "k"'),
    ("reason-not-disabled", ISSUER_K + '  reason = "x"\n}\n', "reason applies to disabled = true", ("reason", 1), 'issuer "k"'),
    ("repeated-subject", workload((GH, GH)), "is already named by identity #1", ("identity {", 2), f"identity #2 in {W}"),
    ("no-target", workload(grants=AWS.replace('"prod"', '"dev"')), "no aws target named 'dev'",
     ('grant "aws" "dev"', 1), f'grant "aws" "dev" in {W}'),
    ("no-rule", workload(extra='  suppress "WIAM999" {\n    reason = "x"\n  }\n'), "no analysis rule 'WIAM999'",
     ('suppress "WIAM999"', 1), W),
    ("aws-service", aws('    actions = ["s3:GetObject", "zz9:Get"]\n    resources = ["*"]\n'),
     "unknown AWS service prefix 'zz9'", ('"zz9:Get"', 1), f'grant "aws" "prod" in {W}'),
    ("aws-action", aws('    actions = ["s3:GetObjekt"]\n    resources = ["*"]\n'), "'s3:GetObjekt'",
     ('"s3:GetObjekt"', 1), f'grant "aws" "prod" in {W}'),
    ("gcp-role", workload(grants=GCP.replace("storage.objectViewer", "storage.nope")), "is not a predefined GCP role",
     ('"roles/storage.nope"', 1), f'grant "gcp" "prod" in {W}'),
    ("azure-role", workload(grants=AZURE.replace("Reader", "Readerz")), "is not an Azure built-in role",
     ('"Readerz"', 1), f'grant "azure" "prod" in {W}'),
    ("custom", aws('    actions = ["s3:GetObject"]\n    custom = ["s3:Zed"]\n    resources = ["*"]\n'),
     "custom lists 's3:Zed'", ('"s3:Zed"', 1), f'grant "aws" "prod" in {W}'),
    ("no-issuer", workload((GH.replace('"github"', '"githb"'),)), "no issuer named 'githb'", ('"githb"', 1),
     f"identity #1 in {W}"),
    ("field-not-for-kind", workload((GH + '    namespace = "x"\n',)), "'namespace' does not apply",
     ("namespace", 1), f"identity #1 in {W}"),
    ("missing-field", workload(('    issuer = "github"\n    ref = "refs/heads/main"\n',)), "missing 'repository'",
     ("identity {", 1), f"identity #1 in {W}"),
    ("one-of", workload(('    issuer = "github"\n    repository = "acme/app"\n',)), "pins exactly one of",
     ("identity {", 1), f"identity #1 in {W}"),
    ("together", workload((GH + '    owner_id = "1"\n',)), "go together", ("owner_id", 1), f"identity #1 in {W}"),
    ("short-ref", workload((github("main"),)), "is not a full Git ref", ('"main"', 1), f"identity #1 in {W}"),
    ("gitlab-full-ref", 'issuer "gl" {\n  kind = "gitlab_ci"\n}\n' + workload(
        ('    issuer = "gl"\n    project_path = "a/b"\n    ref_type = "branch"\n    ref = "refs/heads/main"\n',)),
     "is a full Git ref", ('"refs/heads/main"', 1), f"identity #1 in {W}"),
    ("unknown-attribute", DEV + '  colour = "blue"\n}\n', "unknown attribute or block 'colour'", ("colour", 1),
     'target "aws" "dev"'),
    ("unknown-top-level", 'widget "x" {\n}\n', "unknown attribute or block 'widget'", ("widget", 1), "the spec"),
    ("unknown-cloud", 'target "oracle" "dev" {\n}\n', "unknown cloud 'oracle'", ('target "oracle"', 1), "target blocks"),
    ("invalid-name", 'issuer "9x" {\n  kind = "gitlab_ci"\n}\n', "invalid name '9x'", ('issuer "9x"', 1), "issuer blocks"),
    ("missing-attribute", 'target "aws" "dev" {\n  region = "us-east-1"\n}\n', "missing required attribute 'account_id'",
     ('target "aws" "dev"', 1), 'target "aws" "dev"'),
    ("type", 'target "aws" "dev" {\n  account_id = 123456789012\n}\n', "expected a string", ("123456789012", 1),
     'target "aws" "dev"'),
    ("enum", 'issuer "x" {\n  kind = "jenkins"\n}\n', "is not one of", ('"jenkins"', 1), 'issuer "x"'),
    ("const", workload((GH.replace('ref = "refs/heads/main"', "pull_request = false"),)), "pull_request = false is not allowed",
     ("false", 1), f"identity #1 in {W}"),
    ("min-items", aws("    actions = []\n    resources = []\n"), "actions must not be empty", ("[]", 1),
     f'grant "aws" "prod" in {W}'),
    ("max-length", 'issuer "x" {\n  kind = "gitlab_ci"\n  audience = "' + "a" * 256 + '"\n}\n',
     "the most allowed is 255", ('"aaaa', 1), 'issuer "x"'),
    ("min-length", workload(extra='  suppress "WIAM003" {\n    reason = ""\n  }\n'), "the least allowed is 1",
     ('""', 1), W),
    ("minimum", DEV + "  trust_policy_quota = 1500\n}\n", "is below 2048", ("1500", 1), 'target "aws" "dev"'),
    ("maximum", DEV + "  trust_policy_quota = 9999\n}\n", "is above 4096", ("9999", 1), 'target "aws" "dev"'),
    ("pattern", 'target "aws" "dev" {\n  account_id = "12345"\n}\n', 'account_id = "12345"', ('"12345"', 1),
     'target "aws" "dev"'),
    ("any-of-item", aws('    actions = ["s3:GetObject"]\n    resources = ["bucket"]\n'), '"bucket"', ('"bucket"', 1),
     f'grant "aws" "prod" in {W}'),
    ("one-of-duration", aws(AWS.split("{\n", 1)[1].rsplit("  }", 1)[0] + "    max_session_duration = true\n"),
     "max_session_duration = true", ("true", 1), f'grant "aws" "prod" in {W}'),
    ("incomplete-grant", aws('    resources = ["*"]\n'), "incomplete block", ('grant "aws" "prod"', 1),
     f'grant "aws" "prod" in {W}'),
    ("defined-twice", {"z.wiam.hcl": DEV + "}\n", "a.wiam.hcl": DEV + "}\n"}, "is defined twice",
     ("z.wiam.hcl", 'target "aws" "dev"', 1), 'target "aws" "dev"'),
    ("hcl-attribute-twice", 'issuer "x" {\n  kind = "gitlab_ci"\n  kind = "gitlab_ci"\n}\n', "attribute 'kind' is set twice",
     ("kind", 2), 'issuer "x"'),
    ("hcl-labels", 'issuer "a" "b" {\n  kind = "gitlab_ci"\n}\n', "takes one label", ('issuer "a" "b"', 1), 'issuer "a" "b"'),
    ("hcl-block-twice", 'issuer "x" {\n  kind = "gitlab_ci"\n}\nissuer "x" {\n  kind = "gitlab_ci"\n}\n',
     "is defined twice (first at", ('issuer "x"', 2), 'issuer "x"'),
    ("hcl-expression", 'issuer "x" {\n  kind = var.kind\n}\n', "is not allowed here", ("var.kind", 1), 'issuer "x"'),
    ("hcl-escape", 'issuer "x" {\n  kind = "gitlab\\q"\n}\n', "unknown escape sequence", ("gitlab\\q", 1), 'issuer "x"'),
    ("hcl-syntax", 'issuer "x" {\n  kind = = "gitlab_ci"\n}\n', "HCL syntax error", ("= \"gitlab_ci\"", 1), None),
    ("hcl-parentheses", 'issuer "x" {\n  kind = ("gitlab_ci")\n}\n', "parenthesized expressions", ('("gitlab_ci")', 1),
     'issuer "x"'),
    ("hcl-attribute-and-block", 'workload "w" {\n  identity = 1\n  identity {\n' + GH + "  }\n" + AWS + "}\n",
     "is both an attribute and a block", ("identity {", 1), "identity"),
    ("suppress-name", workload(extra='  suppress "nope" {\n    reason = "x"\n  }\n'), "invalid name 'nope'",
     ('suppress "nope"', 1), W),
    ("hcl-interpolation", 'issuer "x" {\n  kind = "a${b}"\n}\n', "template interpolation", ("${b}", 1), 'issuer "x"'),
    ("actions-need-resources", aws('    actions = ["s3:GetObject"]\n'), "actions need resources", ("actions", 1),
     f'grant "aws" "prod" in {W}'),
    ("condition-operator", aws('    actions = ["s3:GetObject"]\n    resources = ["*"]\n'
                               '    conditions = { StringEqualz = { "aws:x" = "y" } }\n'),
     "unknown IAM condition operator", ("StringEqualz", 1), f'grant "aws" "prod" in {W}'),
    ("partition", aws('    actions = ["s3:GetObject"]\n    resources = ["arn:aws-cn:s3:::b/*"]\n'),
     "is not in the target's partition", ('"arn:aws-cn', 1), f'grant "aws" "prod" in {W}'),
    ("managed-policies", aws(f"    managed_policies = [{POLICIES}]\n"), "11 managed policies", ("managed_policies", 1),
     f'grant "aws" "prod" in {W}'),
    ("session", aws('    actions = ["s3:GetObject"]\n    resources = ["*"]\n    max_session_duration = "13h"\n'),
     "outside 1 to 12 hours", ('"13h"', 1), f'grant "aws" "prod" in {W}'),
    ("description", workload(extra='  description = "\u65e5\u672c"\n'), "cannot be an IAM role description",
     ('"\u65e5\u672c"', 1), W),
    ("existing-issuer", DEV + '  existing_oidc_providers = {\n    "nope" = "arn:aws:iam::210987654321:oidc-provider/x"\n  }\n}\n',
     "no issuer named 'nope'", ('"nope"', 1), 'target "aws" "dev"'),
    ("existing-account", DEV + '  existing_oidc_providers = {\n    "github" = '
     '"arn:aws:iam::999999999999:oidc-provider/token.actions.githubusercontent.com"\n  }\n}\n'
     + workload(grants=AWS.replace('"prod"', '"dev"')), "is not in account 210987654321", ('"arn:aws:iam::999', 1),
     'target "aws" "dev"'),
    ("existing-provider", DEV + '  existing_oidc_providers = {\n    "github" = "arn:aws:iam::210987654321:oidc-provider/gitlab.com"\n'
     "  }\n}\n" + workload(grants=AWS.replace('"prod"', '"dev"')), "is not the provider of issuer 'github'",
     ('"arn:aws:iam::2109', 1), 'target "aws" "dev"'),
    ("audiences", GENERIC + workload([f'    issuer = "g"\n    subject = "s"\n    audience = "a{i}"\n' for i in range(101)]),
     "101 audiences for one AWS OIDC provider", ('issuer "g"', 1), 'issuer "g"'),
    ("oidc-providers", 'target "aws" "big" {\n  account_id = "210987654321"\n}\n' + "".join(
        f'issuer "g{i}" {{\n  kind = "generic_oidc"\n  url = "https://ci{i}.example"\n}}\n' for i in range(101))
     + workload([f'    issuer = "g{i}"\n    subject = "s"\n' for i in range(101)], AWS.replace('"prod"', '"big"')),
     "101 OIDC providers in one account", ('target "aws" "big"', 1), 'target "aws" "big"'),
    ("trust-policy", workload([github(f"refs/heads/branch-{i:03d}") for i in range(70)]),
     "the trust policy for target \"prod\"", (W, 1), W),
    ("inline-policy", aws(f'    actions = ["s3:GetObject"]\n    resources = [{RESOURCES}]\n'), "the inline policy is",
     ('grant "aws" "prod"', 1), f'grant "aws" "prod" in {W}'),
    ("gcp-resource", workload(grants='  grant "gcp" "prod" {\n    roles = ["roles/storage.objectViewer"]\n'
                                     '    resource = "foo"\n  }\n'),
     "unsupported or malformed resource 'foo'", ('"foo"', 1), f'grant "gcp" "prod" in {W}'),
    ("gcp-subject", workload((github("refs/heads/" + "a" * 150),), GCP), "GCP's google.subject holds at most",
     ("identity {", 1), f"identity #1 in {W}"),
    ("azure-credentials", workload([github(f"refs/heads/b{i}") for i in range(21)], AZURE),
     "21 subjects; an Azure managed identity", (W, 1), W),
    ("azure-issuer-url", 'issuer "ge" {\n  kind = "github_actions"\n  enterprise_slug = "' + "e" * 600 + '"\n}\n'
     + workload((GH.replace('"github"', '"ge"'),), AZURE), "the issuer URL is 644 characters", ('issuer "ge"', 1), 'issuer "ge"'),
    ("gcp-principals", workload([github(f"refs/heads/b{i}") for i in range(1501)],
                                '  grant "gcp" "prod" {\n    roles = ["roles/storage.objectViewer"]\n    mode = "direct"\n  }\n'),
     "would hold 1501 principals", ("main.wiam.hcl", 'target "gcp" "prod"', 1), 'target "gcp" "prod"'),
    ("azure-subject", workload((github("refs/heads/" + "a" * 600),), AZURE), "Azure allows 600",
     ("identity {", 1), f"identity #1 in {W}"),
]

DATA_CASES = [  # readers of YAML and JSON: positions, and no block yet (they read before blocks exist)
    ("yaml-syntax", "issuer:\n  x: [a, b\n", "YAML syntax error", (3, 1)),
    ("yaml-duplicate", "issuer:\n  x: {kind: gitlab_ci}\n  x: {kind: gitlab_ci}\n", "appears twice", (3, 3)),
    ("yaml-merge-key", "issuer:\n  <<: {x: 1}\n", "keys must be plain strings", (2, 3)),
    ("yaml-tag", "issuer: !custom x\n", "the YAML tag !custom is not supported", (1, 9)),
    ("yaml-top", "- a\n", "must hold one mapping at its top", (1, 1)),
    ("json-syntax", '{"issuer": }', "JSON syntax error", (1, 12)),
    ("json-duplicate", '{"issuer": {},\n "issuer": {}}', "appears twice", (2, 2)),
    ("json-top", "[1]", "must hold one mapping at its top", (1, 1)),
]

_DIAGNOSTIC = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<column>\d+): error(?: in (?P<block>.+?))?: (?P<message>.*)\n"
                         r"  fix: (?P<fix>.+)$", re.M)


def validate(folder: Path) -> list[dict]:
    """Every diagnostic `wiam validate` prints, parsed from its text; it must exit 1 without a traceback."""
    result = CliRunner().invoke(app, ["validate", str(folder)])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)  # no crash
    found = [m.groupdict() for m in _DIAGNOSTIC.finditer(result.stderr)]
    assert len(found) == int(re.search(r"^(\d+) errors?$", result.stderr, re.M).group(1)), result.stderr
    return found


def position(text: str, anchor: str, occurrence: int, after: int = 0) -> tuple[int, int]:
    """Line and column (1-based) of the nth occurrence of `anchor` in `text` past offset `after`."""
    at = after - 1
    for _ in range(occurrence):
        at = text.index(anchor, at + 1)
    line = text.count("\n", 0, at) + 1
    return line, at - (text.rfind("\n", 0, at) + 1) + 1


@pytest.mark.parametrize("extra, message, anchor, block", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_each_error_points_at_its_attribute_names_its_block_and_says_how_to_fix_it(tmp_path, extra, message, anchor, block):
    files = {"main.wiam.hcl": BASE_HCL + (extra if isinstance(extra, str) else "")}
    if isinstance(extra, dict):
        files.update(extra)
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    *named, text_part, occurrence = anchor
    file = named[0] if named else "main.wiam.hcl"
    after = 0 if named else len(BASE_HCL)  # a file named: from its start
    line, column = position(files[file], text_part, occurrence, after)
    matching = [d for d in validate(tmp_path) if message in d["message"]]
    assert matching, f"no error with {message!r}"
    diagnostic = matching[0]
    assert (diagnostic["file"], int(diagnostic["line"]), int(diagnostic["column"])) == (str(tmp_path / file), line, column)
    assert diagnostic["block"] == block and diagnostic["fix"].strip()


@pytest.mark.parametrize("text, message, where", [case[1:] for case in DATA_CASES], ids=[case[0] for case in DATA_CASES])
def test_reader_errors_point_at_their_place_and_say_how_to_fix_it(tmp_path, text, message, where):
    name = "main.wiam.json" if text.lstrip().startswith(("{", "[")) else "main.wiam.yaml"
    (tmp_path / name).write_text(text, encoding="utf-8")
    diagnostic, = [d for d in validate(tmp_path) if message in d["message"]]
    assert (int(diagnostic["line"]), int(diagnostic["column"])) == where and diagnostic["fix"].strip()


@pytest.mark.parametrize("field, value", [("account_id", "123456789012"), ("region", "eu-west-1")])
def test_a_value_with_a_final_newline_does_not_pass_a_pattern(tmp_path, field, value):
    body = {"account_id": "123456789012", field: value + "\n"}  # Python's $ matches before a final newline
    (tmp_path / "main.wiam.json").write_text(json.dumps({"target": {"aws": {"dev": body}}}))
    assert not is_valid(load(str(tmp_path), Report()).data)
    diagnostic, = validate(tmp_path)
    assert diagnostic["message"] == f"invalid value {field} = {json.dumps(value + chr(10))}"


def test_a_bad_rule_id_gets_the_rule_id_fix_not_the_name_one(tmp_path):
    (tmp_path / "main.wiam.hcl").write_text(BASE_HCL + workload(extra='  suppress "nope" {\n    reason = "x"\n  }\n'))
    diagnostic, = validate(tmp_path)
    assert diagnostic["fix"].startswith("a rule ID such as WIAM003")


def test_a_file_that_is_not_utf8_is_named_with_a_fix(tmp_path):
    (tmp_path / "main.wiam.hcl").write_bytes(b'issuer "x" {\n  kind = "\xff"\n}\n')
    diagnostic, = validate(tmp_path)
    assert diagnostic["message"].startswith("the file is not UTF-8 text") and diagnostic["fix"] == "save it as UTF-8"


# Statically: every call that reports an error passes a non-empty fix, so a new one cannot regress.

SOURCES = sorted((ROOT / "compiler").rglob("*.py")) + sorted((ROOT / "providers").rglob("*.py"))


def _error_calls():
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            receiver = ast.unparse(node.func.value)
            if (node.func.attr == "error" and receiver.endswith("report")) or (node.func.attr == "fail" and receiver == "self"):
                yield f"{path.relative_to(ROOT)}:{node.lineno}", node


def test_every_error_call_passes_a_fix():
    calls = list(_error_calls())
    assert len(calls) > 50  # the walk finds the call sites (readers, loader, schema, validation, providers)
    for where, call in calls:
        if any(isinstance(arg, ast.Starred) for arg in call.args):  # (message, fix) from a catalog
            assert len(call.args) == 3, where
            continue
        hints = [k.value for k in call.keywords if k.arg == "hint"] or call.args[3:4]
        assert hints, f"{where}: no fix passed"
        assert not (isinstance(hints[0], ast.Constant) and not str(hints[0].value).strip()), f"{where}: an empty fix"
    assert inspect.signature(Report.error).parameters["hint"].default is inspect.Parameter.empty
