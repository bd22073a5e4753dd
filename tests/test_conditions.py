"""Conditions beyond the subject, the core's part: `claims` and `subject_claims` are validated with
positions in every format, Identity.conditions holds exactly the claims every cloud must check, the
graph carries them, and `wiam diff` reports a loosened condition as widening."""

import json
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from support.cli import run_wiam
from support.paths import EXAMPLES
from support.specs import spec_errors, write_spec
from wiam.compile import load_model
from wiam.diagnostics import SpecError
from wiam.diff import condition_changes
from wiam.graph import build_graph

WORKFLOW = "acme/shared-workflows/.github/workflows/release.yml@refs/heads/main"
RELEASE_TOKEN = {"iss": "https://token.actions.githubusercontent.com", "sub": "repo:acme/payments:ref:refs/heads/main",
                 "job_workflow_ref": WORKFLOW, "repository_id": "892416"}  # payments-release's, in the SPEC example
GRANT = {"aws": {"prod": {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}}}


def _data(claims=None, issuer=None, identity=None) -> dict:
    """A spec with one workload "w" whose identity (of issuer "github" unless told) pins `claims`."""
    fields = identity or {"issuer": "github", "repository": "acme/app", "ref": "refs/heads/main"}
    return {
        "issuer": {"github": {"kind": "github_actions"}, "oidc": {"kind": "generic_oidc", "url": "https://idp.example"},
                   "k8s": {"kind": "kubernetes", "url": "https://k8s.example"}, **(issuer or {})},
        "target": {"aws": {"prod": {"account_id": "123456789012"}}},
        "workload": {"w": {"identity": [{**fields, **({"claims": claims} if claims is not None else {})}],
                           "grant": GRANT}},
    }


def _hcl_value(value) -> str:
    if isinstance(value, dict):
        return "{\n" + "".join(f"      {k} = {_hcl_value(v)}\n" for k, v in value.items()) + "    }"
    return json.dumps(value)


def _hcl(data: dict) -> str:
    """The spec as HCL, one attribute a line (map keys bare: the tests' claim names are identifiers)."""
    out = []
    for name, body in data["issuer"].items():
        out.append(f'issuer "{name}" {{\n' + "".join(f"  {k} = {_hcl_value(v)}\n" for k, v in body.items()) + "}\n")
    out.append('target "aws" "prod" {\n  account_id = "123456789012"\n}\n')
    for name, body in data["workload"].items():
        identities = "".join("  identity {\n" + "".join(f"    {k} = {_hcl_value(v)}\n" for k, v in i.items()) + "  }\n"
                             for i in body["identity"])
        out.append(f'workload "{name}" {{\n{identities}  grant "aws" "prod" {{\n'
                   '    actions   = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]\n  }\n}\n')
    return "\n".join(out)


FORMATS = {
    "hcl": _hcl,
    "yaml": lambda data: yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
    "json": lambda data: json.dumps(data, indent=2, ensure_ascii=False),
}


def _errors(tmp_path, data, fmt):
    text = FORMATS[fmt](data)
    folder = write_spec(tmp_path / fmt, {f"spec.wiam.{fmt}": text})
    return text, spec_errors(folder)


def _where(text: str, name: str, after: str = "claims") -> tuple[int, int]:
    """(line, column) of the key `name` written after the first `after` key: where its error points."""
    lines = text.splitlines()
    start = next(n for n, line in enumerate(lines) if after in line)
    for number, line in enumerate(lines[start:], start + 1):
        for quoted in (f'"{name}"', name):
            if f"{quoted} =" in line or f"{quoted}:" in line:
                return number, line.index(quoted) + 1
    raise AssertionError(f"{name} not in the text")


ERRORS = {  # claims, needle of the message, needle of the fix
    "unknown claim": ({"job_workflow_rf": WORKFLOW}, "tokens carry no claim 'job_workflow_rf'",
                      "did you mean 'job_workflow_ref'?"),
    "claim that is a field": ({"ref": "refs/heads/main"}, "'ref' is pinned twice", "remove it from claims"),
    "claim the subject pins": ({"repository": "acme/app"}, "pinned twice", "remove it from claims"),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("case", sorted(ERRORS))
def test_a_wrong_claim_is_an_error_at_its_key_with_a_fix(tmp_path, case, fmt):
    claims, message, fix = ERRORS[case]
    text, errors = _errors(tmp_path, _data(claims), fmt)
    (error,) = errors
    assert message in error.message and fix in error.hint
    assert error.block == 'identity #1 in workload "w"'
    assert (error.pos.file.endswith(f"spec.wiam.{fmt}"), error.pos.line, error.pos.column) == (
        True, *_where(text, next(iter(claims))))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_kind_whose_tokens_carry_no_claims_lists_none_to_pin(tmp_path, fmt):
    identity = {"issuer": "k8s", "namespace": "orders", "service_account": "api"}
    text, (error,) = _errors(tmp_path, _data({"team": "orders"}, identity=identity), fmt)
    assert "kubernetes tokens carry no claim 'team'" in error.message and "issuer 'k8s'" in error.message
    assert error.hint == "remove claims: a kubernetes identity pins its subject only"
    assert (error.pos.line, error.pos.column) == _where(text, "team")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_subject_claims_on_an_issuer_without_templates_is_an_error(tmp_path, fmt):
    issuer = {"k8s": {"kind": "kubernetes", "url": "https://k8s.example", "subject_claims": ["repo"]}}
    text, (error,) = _errors(tmp_path, _data(issuer=issuer), fmt)
    assert error.block == 'issuer "k8s"' and "github_actions, github_enterprise_server issuers only" in error.message
    assert error.hint == "remove it"
    assert (error.pos.line, error.pos.column) == _where(text, "subject_claims", after="k8s")


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_a_template_key_the_identity_gives_no_value_is_an_error_naming_it(tmp_path, fmt):
    issuer = {"gh": {"kind": "github_actions", "subject_claims": ["repo", "context", "actor"]}}
    identity = {"issuer": "gh", "repository": "acme/app", "ref": "refs/heads/main"}
    text, (error,) = _errors(tmp_path, _data({"job_workflow_ref": WORKFLOW}, issuer=issuer, identity=identity), fmt)
    assert "puts 'actor' in its subjects" in error.message and "issuer 'gh'" in error.message
    assert 'claims = { actor = "..." }' in error.hint
    lines = text.splitlines()  # the identity block: in HCL its `identity`, in YAML and JSON the list item
    opens = next(n for n, line in enumerate(lines) if "identity" in line) + (fmt != "hcl")
    assert (error.pos.line, error.pos.column) == (opens + 1, len(lines[opens]) - len(lines[opens].lstrip(" -")) + 1)


def _model(tmp_path, data, fmt="json"):
    folder = write_spec(tmp_path / fmt, {f"spec.wiam.{fmt}": FORMATS[fmt](data)})
    return load_model(str(folder))


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_carried_claims_are_in_the_subject_and_not_in_the_conditions(tmp_path, fmt):
    issuer = {"gh": {"kind": "github_actions", "subject_claims": ["repo", "context", "job_workflow_ref"]}}
    identity = {"issuer": "gh", "repository": "acme/app", "environment": "prod"}
    claims = {"job_workflow_ref": "acme/w/.github/workflows/a.yml@refs/tags/v1:x", "repository_id": "892416"}
    (identity,) = _model(tmp_path, _data(claims, issuer=issuer, identity=identity), fmt).workloads["w"].identities
    assert identity.subject == ("repo:acme/app:environment:prod:"
                                "job_workflow_ref:acme/w/.github/workflows/a.yml@refs/tags/v1%3Ax")
    assert identity.conditions == (("repository_id", "892416"),)


def test_the_spec_example_pins_the_spec_subject_and_checks_the_workflow_once():
    model = load_model(str(EXAMPLES / "spec-reference"))
    (sync,) = model.workloads["payments-blob-sync"].identities
    assert sync.subject == ("repo:acme/payments:ref:refs/heads/main:job_workflow_ref:"
                            "acme/shared-workflows/.github/workflows/sync.yml@refs/heads/main")
    assert sync.conditions == ()
    (release,) = model.workloads["payments-release"].identities
    assert release.subject == "repo:acme/payments:ref:refs/heads/main"
    assert release.conditions == (("job_workflow_ref", WORKFLOW), ("repository_id", "892416"))


CLAIM_NAME = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_./:-]{0,20}\Z")
HOSTILE = st.sampled_from(['"', "\\", "${x}", "%{if}", "'", "é", "☃", "\u202e", "\x00", "\n", ":", " ", "`", "<"])
VALUE = st.lists(st.one_of(HOSTILE, st.text(max_size=4)), max_size=6).map("".join)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claims=st.dictionaries(CLAIM_NAME, VALUE, min_size=1, max_size=3), fmt=st.sampled_from(["yaml", "json"]))
def test_any_claim_of_a_generic_issuer_is_kept_exactly_or_refused_at_its_place(claims, fmt):
    identity = {"issuer": "oidc", "subject": "job:nightly"}
    with tempfile.TemporaryDirectory() as tmp:
        text = FORMATS[fmt](_data(claims, identity=identity))
        folder = write_spec(Path(tmp), {f"spec.wiam.{fmt}": text})
        try:  # validation alone: AWS, the target here, checks no claim of a generic issuer (a plan error)
            (identity,) = load_model(str(folder)).workloads["w"].identities
        except SpecError as error:
            errors = error.diagnostics
        else:
            assert identity.conditions == tuple(sorted(claims.items()))
            assert identity.subject == "job:nightly"
            return
    for error in errors:  # an empty value, or a character no value may hold: refused where it is written
        assert error.pos.file.endswith(f"spec.wiam.{fmt}") and error.pos.line > 0 and error.hint
    assert any(value == "" or not value.isprintable() for value in claims.values())


@pytest.mark.parametrize("name", ["a b", "${x}", "9lives", "claim\"", "-x"])
def test_a_claim_name_outside_the_pattern_is_refused_at_its_key(tmp_path, name):
    text, (error,) = _errors(tmp_path, _data({name: "v"}, identity={"issuer": "oidc", "subject": "s"}), "json")
    assert error.pos.line == next(n for n, line in enumerate(text.splitlines(), 1) if json.dumps(name) in line)
    assert error.hint


def test_the_authenticates_edge_carries_the_conditions_only_when_there_are_any(tmp_path):
    model = load_model(str(EXAMPLES / "spec-reference"))
    graph = build_graph(model).graph
    edges = {(v, d.get("conditions") and tuple(d["conditions"].items()))
             for _, v, k, d in graph.edges(keys=True, data=True) if k == "authenticates"}
    assert ("workload:payments-release", (("job_workflow_ref", WORKFLOW), ("repository_id", "892416"))) in edges
    plain = [d for _, v, k, d in graph.edges(keys=True, data=True)
             if k == "authenticates" and v in ("workload:payments-deployer", "workload:payments-blob-sync")]
    assert len(plain) == 2 and all("conditions" not in d for d in plain)


# `wiam diff` on two spec folders: a condition removed or changed widens, one added narrows.
PINNED = {"job_workflow_ref": WORKFLOW, "repository_id": "892416"}
DIFFS = {
    "removed": (PINNED, {"repository_id": "892416"}, "widening", ["job_workflow_ref"], []),
    "all removed": (PINNED, None, "widening", ["job_workflow_ref", "repository_id"], []),
    "value changed": (PINNED, {**PINNED, "repository_id": "892417"}, "widening", ["repository_id"], []),
    "value case changed": (PINNED, {**PINNED, "job_workflow_ref": WORKFLOW.upper()}, "widening",
                           ["job_workflow_ref"], []),
    "added": ({"repository_id": "892416"}, PINNED, "narrowing", [], ["job_workflow_ref"]),
    "first added": (None, PINNED, "narrowing", [], ["job_workflow_ref", "repository_id"]),
    "same": (PINNED, dict(reversed(PINNED.items())), "neutral", [], []),
}


@pytest.mark.parametrize("case", sorted(DIFFS))
def test_diff_reports_condition_changes(tmp_path, case):
    before, after, classification, loosened, tightened = DIFFS[case]
    base = write_spec(tmp_path / "base", {"spec.wiam.hcl": _hcl(_data(before))})
    head = write_spec(tmp_path / "head", {"spec.wiam.hcl": _hcl(_data(after))})
    result = run_wiam("diff", base, head, "--format", "json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["classification"] == classification
    assert payload["added"] == [] and payload["removed"] == []  # the same access: only who may use it changed
    conditions = payload["conditions"]
    assert [line.split(": ", 1)[1].split(" = ")[0] for line in conditions["loosened"]] == loosened
    assert [line.split(": ", 1)[1].split(" = ")[0] for line in conditions["tightened"]] == tightened
    assert all(line.startswith("https://token.actions.githubusercontent.com repo:acme/app:ref:refs/heads/main"
                               " as workload w: ") for line in conditions["loosened"] + conditions["tightened"])
    failing = run_wiam("diff", base, head, "--fail-on", "widening")
    assert failing.returncode == (1 if classification == "widening" else 0)
    if loosened:
        assert "Widening (conditions removed or changed)" in failing.stdout


def test_diff_sees_a_condition_change_of_a_renamed_workload(tmp_path):
    base = write_spec(tmp_path / "base", {"spec.wiam.hcl": _hcl(_data(PINNED))})
    head_data = _data({"repository_id": "892416"})
    head_data["workload"] = {"w2": head_data["workload"]["w"]}
    head = write_spec(tmp_path / "head", {"spec.wiam.hcl": _hcl(head_data)})
    payload = json.loads(run_wiam("diff", base, head, "--format", "json").stdout)
    assert payload["classification"] == "widening"  # not a plain rename: its tokens changed


PINS = st.dictionaries(st.sampled_from(["job_workflow_ref", "repository_id", "actor", "environment"]),
                       st.sampled_from(["a", "A", "b", "a:b"]), max_size=4)


@settings(max_examples=100, deadline=None)
@given(before=PINS, after=PINS)
def test_condition_changes_loosen_exactly_where_a_base_claim_is_not_kept(before, after):
    key = ("w", "https://issuer.example sub")
    loosened, tightened = condition_changes({key: tuple(sorted(before.items()))},
                                            {("w2", key[1]): tuple(sorted(after.items()))}, {"w": "w2"})
    assert bool(loosened) == any(after.get(claim) != value for claim, value in before.items())
    assert len(loosened) == sum(after.get(claim) != value for claim, value in before.items())
    assert len(tightened) == len(after.keys() - before.keys())
    assert all(line.startswith("https://issuer.example sub as workload w2: ") for line in loosened + tightened)


# End to end through the clouds.

def test_every_cloud_checks_the_pinned_claims_of_the_spec_example():
    from support.specs import compiled_files, resources
    from trust_eval import gcp_principals_accepting

    module = compiled_files(EXAMPLES / "spec-reference")["main.tf.json"]
    trust = json.loads(resources(module, "aws_iam_role")["prod__payments-release"]["assume_role_policy"])
    equals = [s["Condition"]["StringEquals"] for s in trust["Statement"]]
    assert {"token.actions.githubusercontent.com:job_workflow_ref": WORKFLOW,
            "token.actions.githubusercontent.com:repository_id": "892416"}.items() <= equals[0].items()

    def gcp_accepting(token):  # through any of the pool's providers, each with its own default audience
        providers = resources(module, "google_iam_workload_identity_pool_provider").values()
        audiences = [f"//providers/{p['workload_identity_pool_provider_id']}" for p in providers]
        return set().union(*(gcp_principals_accepting(module, {**token, "aud": aud}) for aud in audiences))

    assert "prod__payments-release" in gcp_accepting(RELEASE_TOKEN)
    other = {**RELEASE_TOKEN, "job_workflow_ref": WORKFLOW.replace("release", "other")}
    assert "prod__payments-release" not in gcp_accepting(other)
    assert "prod__payments-deployer" in gcp_accepting(other)  # it pins no claim


def test_a_claim_azure_cannot_check_is_a_compile_error_naming_the_cloud_issuer_and_claim(tmp_path):
    data = _data({"job_workflow_ref": WORKFLOW})
    data["target"]["azure"] = {"prod": {"tenant_id": "00000000-0000-0000-0000-000000000000",
                                        "subscription_id": "11111111-1111-1111-1111-111111111111",
                                        "resource_group": "wi", "location": "eastus"}}
    data["workload"]["w"]["grant"] = {"azure": {"prod": {"roles": ["Storage Blob Data Reader"]}}}
    text, (error,) = _errors(tmp_path, data, "json")
    assert "azure" in error.message.lower() and "'github'" in error.message and "job_workflow_ref" in error.message
    assert "subject_claims" in error.hint
    assert (error.pos.line, error.pos.column) == _where(text, "job_workflow_ref")
