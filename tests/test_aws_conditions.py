"""AWS conditional access: the claims an identity pins beyond its subject are StringEquals conditions of
its role's trust policy, read back from the emitted Terraform by an evaluator independent of wiam
(trust_eval); simulate agrees and names the claim that failed; a claim STS cannot check is an error."""

import json

from hypothesis import given, settings, strategies as st

from support.paths import EXAMPLES
from support.specs import BASE_HCL, compiled_files, spec_errors, workload_hcl, write_spec
from test_fuzz import as_terraform_reads
from trust_eval import aws_roles_accepting
from wiam.compile import load_model
from wiam.planning import plan_model
from wiam.providers.aws.live import canonical_policy
from wiam.providers.aws.plan import sts_claims
from wiam.simulate import simulate

GITHUB = "https://token.actions.githubusercontent.com"
FIELDS = {"repository": "acme/app"}  # and ref, the fields every identity here sets
# Claims STS checks on GitHub's tokens, but for those the identities pin as fields.
CHECKABLE = sorted(sts_claims(GITHUB) - {*FIELDS, "ref"})
HOSTILE = ["${", "%{", "$${", "%%{", "${$}", "${*}", '"', "'", "\\", "\\n", "}", "{", ":", "*", "?", "é", "日本",
           "\U0001f600", "Ω", " "]
values = st.lists(st.sampled_from(HOSTILE) | st.text("abcXYZ019/@._-", min_size=1, max_size=8),
                  min_size=1, max_size=4).map("".join)
conditions = st.dictionaries(st.sampled_from(CHECKABLE), values, max_size=3)


def _spec(workloads: list[list[tuple[dict, bool]]]) -> dict:
    """Workloads w0, w1, ... each with identities (claims, disabled); every subject is distinct."""
    spec_workloads = {}
    for w, identities in enumerate(workloads):
        blocks = []
        for i, (claims, disabled) in enumerate(identities):
            block = {"issuer": "github", **FIELDS, "ref": f"refs/heads/b{w}-{i}"}
            if claims:
                block["claims"] = claims
            if disabled:
                block.update(disabled=True, reason="revoked")
            blocks.append(block)
        spec_workloads[f"w{w}"] = {"identity": blocks, "grant": {"aws": {"prod": {
            "actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}}}}
    return {"issuer": {"github": {"kind": "github_actions"}},
            "target": {"aws": {"prod": {"account_id": "123456789012", "trust_policy_quota": 4096}}},
            "workload": spec_workloads}


def _token(w: int, i: int, claims: dict) -> dict:
    return {"iss": GITHUB, "aud": "sts.amazonaws.com", "sub": f"repo:acme/app:ref:refs/heads/b{w}-{i}", **claims}


def _wrong(claims: dict):
    """Tokens with exactly one pinned claim wrong or missing, and the claim."""
    for claim, value in claims.items():
        yield claim, {**claims, claim: value + "x"}
        yield claim, {**claims, claim: value.swapcase()} if value.swapcase() != value else {**claims, claim: "x" + value}
        yield claim, {k: v for k, v in claims.items() if k != claim}


def _aws_verdicts(model, token: dict) -> dict:
    return {v.workload: v for v in simulate(model, token) if v.cloud == "aws"}


identity = st.tuples(conditions, st.integers(0, 5).map(lambda n: n == 0))


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(identity, min_size=1, max_size=3), min_size=1, max_size=2))
def test_emitted_trust_admits_exactly_the_pinned_claims(tmp_path_factory, workloads):
    folder = write_spec(tmp_path_factory.mktemp("spec"), {"main.wiam.json": json.dumps(_spec(workloads))})
    module = as_terraform_reads(compiled_files(folder)["main.tf.json"])
    model = load_model(str(folder))
    for w, identities in enumerate(workloads):
        for i, (claims, disabled) in enumerate(identities):
            token = _token(w, i, claims)
            verdicts = _aws_verdicts(model, token)
            expected = set() if disabled else {f"prod__w{w}"}
            assert aws_roles_accepting(module, token) == expected
            assert {f"prod__{name}" for name, v in verdicts.items() if v.accepted} == expected
            for claim, wrong in _wrong(claims):
                token = _token(w, i, wrong)
                assert aws_roles_accepting(module, token) == set()
                verdict = _aws_verdicts(model, token)[f"w{w}"]
                assert not verdict.accepted
                if not disabled:
                    assert [c.name for c in verdict.checks if not c.passed] == [claim]


def test_identities_with_other_claims_get_their_own_statement_and_same_claims_share_one(tmp_path):
    pinned = {"job_workflow_ref": "acme/wf/.github/workflows/r.yml@refs/heads/main"}
    folder = write_spec(tmp_path, {"main.wiam.json": json.dumps(_spec([[(pinned, False), (pinned, False), ({}, False)]]))})
    trust = json.loads(as_terraform_reads(compiled_files(folder)["main.tf.json"])
                       ["resource"]["aws_iam_role"]["prod__w0"]["assume_role_policy"])
    equals = [s["Condition"]["StringEquals"] for s in trust["Statement"]]
    key = "token.actions.githubusercontent.com:"
    assert equals == [
        {key + "aud": "sts.amazonaws.com", key + "sub": "repo:acme/app:ref:refs/heads/b0-2"},
        {key + "aud": "sts.amazonaws.com",
         key + "sub": ["repo:acme/app:ref:refs/heads/b0-0", "repo:acme/app:ref:refs/heads/b0-1"],
         key + "job_workflow_ref": pinned["job_workflow_ref"]},
    ]


def test_drift_keeps_the_condition_keys(tmp_path):
    pinned = {"workflow": "Release", "actor_id": "42"}
    folder = write_spec(tmp_path, {"main.wiam.json": json.dumps(_spec([[(pinned, False)]]))})
    role = plan_model(load_model(str(folder)))[("aws", "prod")].roles[0]
    equals = canonical_policy(role.trust)["Statement"][0]["Condition"]["StringEquals"]
    assert equals["token.actions.githubusercontent.com:workflow"] == ["Release"]
    assert equals["token.actions.githubusercontent.com:actor_id"] == ["42"]


def test_claims_count_towards_the_trust_policy_limit(tmp_path):
    spec = _spec([[({claim: "w" * 700 for claim in ("actor", "job_workflow_ref", "workflow")}, False)]])
    assert spec_errors(write_spec(tmp_path / "raised", {"main.wiam.json": json.dumps(spec)})) == []
    del spec["target"]["aws"]["prod"]["trust_policy_quota"]
    [error] = spec_errors(write_spec(tmp_path / "default", {"main.wiam.json": json.dumps(spec)}))
    assert "trust policy" in error.message and "2048" in error.message


def _identity_hcl(issuer: str, fields: str, claims: str) -> str:
    return f'issuer = "{issuer}"\n    {fields}\n    claims = {{\n      {claims}\n    }}'


def test_a_claim_sts_cannot_check_is_an_error_at_the_claim_with_the_way_out(spec):
    hcl = BASE_HCL + workload_hcl(identities=[_identity_hcl(
        "github", 'repository = "acme/app"\n    ref = "refs/heads/main"', 'runner_environment = "github-hosted"')])
    [error] = spec_errors(spec(hcl))
    lines = hcl.splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "runner_environment" in text)
    assert (error.pos.line, error.pos.column) == (line, lines[line - 1].index("runner_environment") + 1)
    assert error.block == 'identity #1 in workload "app"'
    assert all(word in error.message for word in ("aws", '"prod"', "'runner_environment'", "'github'", GITHUB))
    assert "subject_claims on issuer 'github'" in error.hint
    assert ", ".join(sorted(sts_claims(GITHUB) - {"repository"})) in error.hint


def test_issuers_without_claim_keys_in_sts_refuse_every_claim(spec):
    issuers = ('issuer "lab" {\n  kind = "gitlab_ci"\n  url = "https://gitlab.example.com"\n}\n'
               'issuer "saas" {\n  kind = "gitlab_ci"\n}\n')
    identities = [_identity_hcl(name, 'project_path = "acme/app"\n    ref_type = "branch"\n    ref = "main"',
                                'project_id = "20"') for name in ("lab", "saas")]
    [error] = spec_errors(spec(BASE_HCL + issuers + workload_hcl(identities=identities)))
    assert "'lab'" in error.message and "'project_id'" in error.message
    assert error.block == 'identity #1 in workload "app"'
    assert "subject_claims" not in error.hint and "AWS checks only sub and aud" in error.hint


def test_sts_claims_follow_the_issuer_host_and_path():
    assert sts_claims("https://TOKEN.actions.githubusercontent.com/") == sts_claims(GITHUB)
    assert sts_claims(GITHUB + "/acme-enterprise") == sts_claims(GITHUB)
    assert sts_claims("https://token.actions.octo.ghe.com") == sts_claims(GITHUB)
    assert sts_claims("https://github.example.com/_services/token") == frozenset()
    assert sts_claims(GITHUB + "/a/b") == frozenset()
    assert "project_id" in sts_claims("https://gitlab.com")


def test_the_spec_example_pins_both_claims_in_its_role_trust():
    folder = EXAMPLES / "spec-reference"
    module = as_terraform_reads(compiled_files(folder)["main.tf.json"])
    role = next(name for name in module["resource"]["aws_iam_role"] if name.endswith("payments-release"))
    claims = {"job_workflow_ref": "acme/shared-workflows/.github/workflows/release.yml@refs/heads/main",
              "repository_id": "892416"}
    token = {"iss": GITHUB, "aud": "sts.amazonaws.com", "sub": "repo:acme/payments:ref:refs/heads/main", **claims}
    assert role in aws_roles_accepting(module, token)
    for claim, wrong in _wrong(claims):
        assert role not in aws_roles_accepting(module, {**token, **wrong} if claim in wrong else
                                                {k: v for k, v in token.items() if k != claim})
