"""Token simulation agrees with the compiled Terraform: each named subject is accepted by exactly its
workload's principals, and a token that differs in one claim is refused with that claim as the reason."""

import base64
import json
import random
import re
import string

import pytest

from wiam.compile import compile_model, load_model
from wiam.simulate import nearest, read_claims, simulate
from wiam.windows import parse
from support.cli import run_wiam
from support.paths import EXAMPLE_SPECS, EXAMPLES
from support.specs import write_spec
from wiam.issuers import OIDC_KINDS
from wiam.loader import UsageError

TOKENS = EXAMPLES / "tokens"
FIXTURES = {
    "github_actions": ("spec-reference", {("aws", "prod", "payments-deployer")}),
    "kubernetes": ("spec-reference", {("aws", "prod", "orders-api")}),
    "aks": ("aks-azure", {("azure", "prod", "checkout-api")}),
    "gitlab_ci": ("gitlab-gcp", {("gcp", "data", "image-publisher")}),
    "spiffe": ("spiffe-mesh", {("aws", "mesh", "ledger"), ("gcp", "mesh", "ledger")}),
    "terraform_cloud": ("terraform-cloud", {("aws", "network", "network-plan")}),
    "generic_oidc": ("generic-oidc", {("aws", "analytics", "nightly-report"), ("gcp", "analytics", "nightly-report")}),
    "eks_pod_identity": ("eks-pod-identity", {("aws", "shop", "orders-worker")}),
    "gke": ("gke", {("gcp", "analytics", "reports-api")}),
    "gcp_service_account": ("gcp-service-account-to-aws-azure", {("aws", "analytics", "invoice-exporter"),
                                                                 ("azure", "reporting", "invoice-exporter")}),
    "azure_managed_identity": ("azure-identity-to-aws-gcp", {("aws", "ml", "feature-sync"), ("gcp", "ml", "feature-sync")}),
    "aws_role": ("aws-role-to-gcp", {("gcp", "warehouse", "orders-loader")}),
}
GCP_AUDIENCE = "//iam.googleapis.com/projects/{number}/locations/global/workloadIdentityPools/{pool}/providers/{provider}"


def _accepted(model, claims) -> set[tuple[str, str, str]]:
    return {(v.cloud, v.target, v.workload) for v in simulate(model, claims) if v.accepted}


def test_every_issuer_kind_has_a_fixture():
    kinds = {json.loads(p.read_text())["iss"] for p in TOKENS.glob("*.json")}
    assert len(kinds) == len(FIXTURES) == len(list(TOKENS.glob("*.json")))


@pytest.mark.parametrize("fixture", sorted(FIXTURES))
def test_token_fixtures_are_accepted_by_their_example(fixture):
    example, expected = FIXTURES[fixture]
    claims = read_claims(str(TOKENS / f"{fixture}.json"))
    assert _accepted(load_model(str(EXAMPLES / example)), claims) == expected


# the kinds whose workloads present OIDC tokens, which the examples' token checks cover
TOKEN_KINDS = OIDC_KINDS | {"gcp_service_account", "azure_managed_identity"}


def _tokens_for(model):
    """For each identity and each cloud it is granted in: the claims of a token that cloud should accept."""
    from wiam.providers.gcp.settings import POOL_DEFAULT_ID

    for workload in model.workloads.values():
        for identity in workload.active_identities:
            if identity.issuer.kind not in TOKEN_KINDS:
                continue  # no OIDC token (a pod's session tags, a certificate, a signed AWS request): its own tests
            for grant in workload.grants:
                target = model.targets[(grant.cloud, grant.target)]
                if grant.cloud == "gcp":
                    audience = identity.audience_for(None) or GCP_AUDIENCE.format(
                        number=target.settings["project_number"], pool=target.settings.get("pool_id", POOL_DEFAULT_ID),
                        provider=_gcp_provider_id(model, target, identity))
                else:
                    audience = identity.audience_for({"aws": "sts.amazonaws.com",
                                                      "azure": "api://AzureADTokenExchange"}[grant.cloud])
                # a Google service account's ID token carries its unique ID in azp too
                azp = {"azp": identity.subject} if identity.issuer.kind == "gcp_service_account" else {}
                yield workload, grant.cloud, {"iss": identity.issuer.url, "sub": identity.subject, "aud": audience,
                                              **azp, **dict(identity.conditions)}


def _gcp_provider_id(model, target, identity):
    from wiam.compile import compile_model
    from wiam.providers.gcp.simulate import condition_admits

    module = json.loads(compile_model(model)["main.tf.json"])
    claims = {"iss": identity.issuer.url, "sub": identity.subject, **dict(identity.conditions)}
    # The identity's own provider: one checking its claims, where there is one.
    return next(p["workload_identity_pool_provider_id"]
                for p in sorted(module["resource"]["google_iam_workload_identity_pool_provider"].values(),
                                key=lambda p: p["attribute_mapping"]["google.subject"] == "assertion.sub")
                if p["provider"] == f"google.{target.name}" and p.get("oidc", {}).get("issuer_uri") == identity.issuer.url
                and condition_admits(p["attribute_condition"], claims))


def _check_agreement(model):
    checked = 0
    for workload, cloud, claims in _tokens_for(model):
        expected = {(cloud, g.target, workload.name) for g in workload.grants if g.cloud == cloud}
        # Other workloads that name the same subject (and audience) are accepted too, by design.
        sharing = {(cloud, g.target, w.name) for w in model.workloads.values() for i in w.active_identities
                   for g in w.grants if g.cloud == cloud and i.issuer.url == claims["iss"] and i.subject == claims["sub"]}
        accepted = {a for a in _accepted(model, claims) if a[0] == cloud}
        assert expected <= accepted <= sharing, (claims, accepted)
        for claim, changed in (("sub", claims["sub"] + "-x"), ("iss", claims["iss"] + "/other"),
                               ("aud", claims["aud"] + "-x")):
            verdicts = simulate(model, dict(claims, **{claim: changed}))
            assert not [v for v in verdicts if v.accepted and v.cloud == cloud and v.workload == workload.name]
            reasons = [r for v in verdicts if v.workload == workload.name and v.cloud == cloud for r in v.reasons]
            assert any(r.startswith(claim + ":") for r in reasons), (claim, reasons)
        checked += 1
    return checked


@pytest.mark.parametrize("folder", EXAMPLE_SPECS, ids=lambda p: p.name)
def test_simulation_agrees_with_the_compiled_examples(folder):
    model = load_model(str(folder))
    # Examples without token identities (X.509-SVIDs, pods' sessions, AWS callers) are judged by their
    # kinds' own tests (test_x509.py simulates certificates of its own CAs): none is checked here.
    tokens = any(i.issuer.kind in TOKEN_KINDS for w in model.workloads.values() for i in w.active_identities)
    assert (_check_agreement(model) > 0) == tokens


ISSUERS = [
    ("gh", 'kind = "github_actions"', lambda r, n: f'repository = "acme/repo{n}"\n    ref = "refs/heads/{r.choice(["main", "release"])}"'),
    ("gl", 'kind = "gitlab_ci"', lambda r, n: f'project_path = "acme/grp/p{n}"\n    ref_type = "branch"\n    ref = "main"'),
    ("k8s", 'kind = "kubernetes"\n  url = "https://oidc.example.com/k8s"',
     lambda r, n: f'namespace = "ns{n}"\n    service_account = "sa{r.randrange(3)}"'),
    ("mesh", 'kind = "spiffe"\n  url = "https://spire.example.com"\n  audience = "mesh"',
     lambda r, n: f'spiffe_id = "spiffe://example.com/w{n}"'),
    ("tfc", 'kind = "terraform_cloud"', lambda r, n: f'organization = "acme"\n    project = "p"\n    workspace = "w{n}"\n'
                                                     f'    run_phase = "{r.choice(["plan", "apply"])}"'),
    ("idp", 'kind = "generic_oidc"\n  url = "https://idp.example.com"', lambda r, n: f'subject = "svc-{n}"\n    audience = "aud-{n % 2}"'),
]
TARGETS = ('target "aws" "a" {\n  account_id = "111111111111"\n}\n'
           'target "gcp" "g" {\n  project_id = "proj-g1"\n  project_number = "222222222222"\n}\n'
           'target "azure" "z" {\n  tenant_id = "00000000-0000-0000-0000-000000000000"\n'
           '  subscription_id = "11111111-1111-1111-1111-111111111111"\n  resource_group = "ids"\n  location = "eastus"\n}\n')
TARGET_NAMES = {"aws": "a", "gcp": "g", "azure": "z"}
GRANTS = {
    "aws": 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::bucket-{n}/*"]',
    "gcp": 'roles = ["roles/storage.objectViewer"]\n    resource = "projects/_/buckets/bucket-{n}"\n    mode = "{mode}"',
    "azure": 'roles = ["Reader"]\n    scope = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg{n}"',
}


def generated_spec(seed: int) -> str:
    rng = random.Random(seed)
    text = TARGETS + "".join(f'issuer "{name}" {{\n  {body}\n}}\n' for name, body, _ in ISSUERS)
    for n in range(rng.randrange(2, 6)):
        identities = []
        for k in range(rng.randrange(1, 4)):
            name, _, fields = rng.choice(ISSUERS)
            identities.append(f'  identity {{\n    issuer = "{name}"\n    {fields(rng, n * 10 + k)}\n  }}\n')
        clouds = rng.sample(sorted(GRANTS), rng.randrange(1, 4))
        grants = "".join(f'  grant "{c}" "{TARGET_NAMES[c]}" {{\n    {GRANTS[c].format(n=n, mode=rng.choice(["service_account", "direct"]))}\n  }}\n'
                         for c in clouds)
        text += f'workload "w{n}" {{\n' + "".join(dict.fromkeys(identities)) + grants + "}\n"
    return text


@pytest.mark.parametrize("seed", range(12))
def test_simulation_agrees_with_generated_specs(tmp_path, seed):
    folder = write_spec(tmp_path / "spec", {"main.wiam.hcl": generated_spec(seed)})
    assert _check_agreement(load_model(str(folder))) > 0


def test_nearest_candidates_name_the_claim_that_differs():
    # after the break-glass example's window: its subject would fail as few checks
    model = load_model(str(EXAMPLES / "spec-reference"), at=parse("2026-12-02T02:00:00Z"))
    claims = json.loads((TOKENS / "github_actions.json").read_text())
    claims["sub"] = "repo:acme/payments:ref:refs/heads/feature"
    verdicts = simulate(model, claims)
    assert not any(v.accepted for v in verdicts)
    closest = nearest(verdicts)[0]
    assert (closest.cloud, closest.workload) == ("aws", "payments-deployer")
    assert closest.reasons == ("sub: the token has 'repo:acme/payments:ref:refs/heads/feature', the role expects "
                               "'repo:acme/payments:ref:refs/heads/main'",)


def _jwt(claims: dict) -> str:
    def part(data):
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2lnbmF0dXJl"


def test_cli_reads_raw_jwts_and_checks_expectations():
    claims = json.loads((TOKENS / "kubernetes.json").read_text())
    result = run_wiam("simulate", EXAMPLES / "spec-reference", "--token", _jwt(claims), "--format", "json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [a["principal"] for a in payload["accepted"]] == ["wiam-orders-api"]
    assert {r["permission"] for r in payload["reaches"]} == {"sqs:ReceiveMessage", "sqs:DeleteMessage"}
    refused = run_wiam("simulate", EXAMPLES / "spec-reference", "--token", _jwt(dict(claims, sub="system:serviceaccount:x:y")),
                    "--expect", "refused")
    assert refused.returncode == 0 and "refused everywhere" in refused.stdout and "sub:" in refused.stdout
    assert run_wiam("simulate", EXAMPLES / "spec-reference", "--claims", TOKENS / "kubernetes.json",
                 "--expect", "refused").returncode == 1
    assert run_wiam("simulate", EXAMPLES / "spec-reference", "--token", "not-a-jwt").returncode == 2
    assert run_wiam("simulate", EXAMPLES / "spec-reference").returncode == 2


def test_bad_claims_are_usage_errors(tmp_path):
    (tmp_path / "bad.json").write_text('{"iss": 1}')
    for path in (tmp_path / "bad.json", tmp_path / "missing.json", tmp_path):
        with pytest.raises(UsageError):
            read_claims(str(path))


CLAIMS = {"iss": "https://idp.example.com", "sub": "s"}
BAD_CLAIMS_FILES = [
    (b'{"iss": "\xff", "sub": "s"}', "not UTF-8 (byte 9)"),
    (b"[" * 200_000, "nested deeper than 32 levels"),  # past the parser's recursion
    (b'{"iss": "i", "sub": "s", "x": ' + b"[" * 40 + b"]" * 40 + b"}", "nested deeper than 32 levels"),
    (b'{"iss": "i", "sub": "s", "n": NaN}', "NaN is not JSON"),
    (b'{"iss": "i", "sub": "\\ud800"}', "the unpaired surrogate \\ud800"),  # no UTF-8 text holds one
    (b'{"iss": "i", "sub": "s", "x": [{"\\udfff": 1}]}', "the unpaired surrogate \\udfff"),
    (b'{"iss": "i", "sub": "s", "n": -1e400}', "-1e400 is beyond what a JSON number can be"),
    (b'{"iss": "i", "sub": "s", "n": ' + b"9" * 5000 + b"}", "an integer has more digits than Python reads"),
    (json.dumps(CLAIMS).encode("utf-16"), "not UTF-8"),
    (b'\xef\xbb\xbf' + json.dumps(CLAIMS).encode(), "not JSON"),  # a byte-order mark
    *((json.dumps({**CLAIMS, "aud": aud}).encode(), "aud is a string or a list of strings")
      for aud in (5, True, {"api://AzureADTokenExchange": 1}, ["a", 1])),
]


@pytest.mark.parametrize("data,message", BAD_CLAIMS_FILES)
def test_malformed_claims_files_are_usage_errors_that_say_why(tmp_path, data, message):
    (tmp_path / "claims.json").write_bytes(data)
    with pytest.raises(UsageError, match=re.escape(message)):
        read_claims(str(tmp_path / "claims.json"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


HEADER = _b64(b'{"alg": "RS256"}')
BAD_TOKENS = [
    (f"{HEADER}.{_b64(json.dumps(CLAIMS).encode('utf-16-le'))}.c2ln", "payload:1:2: not JSON"),  # RFC 7519: UTF-8
    (f"{HEADER}.{_b64(json.dumps(CLAIMS).encode('utf-16'))}.c2ln", "payload: not UTF-8"),
    (f"{HEADER}.{_b64(b'[' * 50_000)}.c2ln", "payload: JSON nested deeper"),
    (f"{HEADER}.{_b64(json.dumps(CLAIMS).encode())}!.c2ln", "payload is not base64url"),  # not silently dropped
    (f"{HEADER}.{_b64(json.dumps(CLAIMS).encode())}==.c2ln", "payload is not base64url"),
    (f"{HEADER}.{base64.b64encode(bytes([0xfb, 0xff, 0xbf])).decode()}.c2ln", "payload is not base64url"),  # +/+/
    (f"{HEADER}.{_b64(json.dumps(CLAIMS).encode())}.x", "signature is not base64url"),  # no whole byte
    (f"{_b64(b'[]')}.{_b64(json.dumps(CLAIMS).encode())}.c2ln", "header is not a JSON object"),
    (f"{_b64(bytes([0xff]))}.{_b64(json.dumps(CLAIMS).encode())}.c2ln", "header: not UTF-8"),
]


@pytest.mark.parametrize("token,message", BAD_TOKENS)
def test_malformed_tokens_are_usage_errors_that_say_why(token, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        read_claims(token=token)


def test_the_cli_refuses_malformed_claims_with_exit_2_and_no_traceback(tmp_path):
    (tmp_path / "deep.json").write_bytes(b"[" * 200_000)
    for args in (("--claims", tmp_path / "deep.json"), ("--token", BAD_TOKENS[2][0])):
        result = run_wiam("simulate", EXAMPLES / "spec-reference", *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "nested deeper than 32 levels" in result.stderr


# Simulation judges the values the clouds hold, not the escaped Terraform text.

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from wiam.terraform import escape  # noqa: E402

TEMPLATE_TARGETS = {
    "aws": {"a": {"account_id": "111111111111"}},
    "gcp": {"g": {"project_id": "proj-g1", "project_number": "222222222222"}},
    "azure": {"z": {"tenant_id": "00000000-0000-0000-0000-000000000000",
                    "subscription_id": "11111111-1111-1111-1111-111111111111", "resource_group": "ids",
                    "location": "eastus"}},
}
TEMPLATE_GRANTS = {
    "aws": {"a": {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}},
    "gcp": {"g": {"roles": ["roles/viewer"]}},
    "azure": {"z": {"roles": ["Reader"]}},
}


def _spec_json(workloads: dict[str, list[tuple[str, str, str]]], issuers: dict[str, str]) -> str:
    """workloads: name -> [(issuer, subject, audience)], each granted in every cloud."""
    return json.dumps({
        "issuer": {name: {"kind": "generic_oidc", "url": url} for name, url in issuers.items()},
        "target": TEMPLATE_TARGETS,
        "workload": {name: {"identity": [{"issuer": i, "subject": s, "audience": a} for i, s, a in identities],
                            "grant": TEMPLATE_GRANTS} for name, identities in workloads.items()},
    })


IDP = {"idp": "https://idp.example.com"}


def _template_model(tmp, subject, audience="aud-${a}"):
    folder = write_spec(tmp, {"main.wiam.json": _spec_json({"w": [("idp", subject, audience)]}, IDP)})
    return load_model(str(folder))


def test_templates_in_subjects_are_judged_as_the_clouds_hold_them(tmp_path):
    subject, audience = "deploy-${env}-%{if x}", "aud-${a}"
    model = _template_model(tmp_path / "spec", subject, audience)
    rendered = compile_model(model)["main.tf.json"].decode()
    assert "deploy-$${env}-%%{if x}" in rendered and "${$}{env}" in rendered  # Terraform, then IAM, escaping
    claims = {"iss": IDP["idp"], "sub": subject, "aud": audience}
    assert _accepted(model, claims) == {("aws", "a", "w"), ("gcp", "g", "w"), ("azure", "z", "w")}
    for text in ("deploy-$${env}-%%{if x}", "deploy-${$}{env}-%{if x}"):  # the escaped texts are other subjects
        verdicts = simulate(model, dict(claims, sub=text))
        assert not any(v.accepted for v in verdicts)
        assert all(any(r.startswith("sub:") for r in v.reasons) for v in verdicts)
    assert not any(v.accepted for v in simulate(model, dict(claims, aud="aud-$${a}")))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.text(alphabet="a$%{}*?\\\"", min_size=1, max_size=12))
def test_any_subject_is_accepted_exactly(tmp_path_factory, subject):
    model = _template_model(tmp_path_factory.mktemp("spec"), subject, "aud")
    claims = {"iss": IDP["idp"], "sub": subject, "aud": "aud"}
    assert _accepted(model, claims) == {("aws", "a", "w"), ("gcp", "g", "w"), ("azure", "z", "w")}
    for other in {escape(subject), subject.replace("${", "${$}{"), subject + "*"} - {subject}:
        assert _accepted(model, dict(claims, sub=other)) == set(), other


# Nearest refusals: the principal whose subject matches exactly comes first.

def _crowded_spec(tmp):
    issuers = {"idp": "https://idp.example.com", "other": "https://other.example.com"}
    workloads = {f"near-{n}": [("idp", f"svc-target-{n}", "a0")] for n in range(8)}
    workloads["zz-exact"] = [("other", "svc-target", "a1")]  # last by name: ranking alone must lift it
    return write_spec(tmp, {"main.wiam.json": _spec_json(workloads, issuers)})


def test_nearest_lists_the_exact_subject_first_with_its_checks(tmp_path):
    model = load_model(str(_crowded_spec(tmp_path / "spec")))
    claims = {"iss": "https://idp.example.com", "sub": "svc-target", "aud": "a0"}
    verdicts = simulate(model, claims)
    assert not any(v.accepted for v in verdicts)
    closest = nearest(verdicts)
    assert {(v.cloud, v.workload) for v in closest[:3]} == {("aws", "zz-exact"), ("azure", "zz-exact"),
                                                            ("gcp", "zz-exact")}
    # GCP's closest path is the pool's own provider, whose condition lists other subjects: principals
    # are pool-scoped, so only the condition keeps this token from the exact subject's service account.
    failing = {"aws": {"iss", "aud"}, "azure": {"iss", "aud"}, "gcp": {"claims"}}
    for verdict in closest[:3]:
        assert "sub" in verdict.passed
        assert {c.name for c in verdict.checks if not c.passed} == failing[verdict.cloud]
    for verdict in closest[3:]:  # then the near ones, which pass issuer and audience
        assert verdict.workload.startswith("near-") and {"iss", "aud"} <= set(verdict.passed)
        assert [c.name for c in verdict.checks if not c.passed][0] in ("sub", "claims")


def test_cli_shows_passed_and_failed_checks(tmp_path):
    folder = _crowded_spec(tmp_path / "spec")
    (tmp_path / "claims.json").write_text(json.dumps({"iss": "https://idp.example.com", "sub": "svc-target", "aud": "a0"}))
    result = run_wiam("simulate", folder, "--claims", tmp_path / "claims.json", "--format", "json")
    assert result.returncode == 0, result.stderr
    first = next(v for v in json.loads(result.stdout)["nearest"] if v["cloud"] == "aws")
    assert first["workload"] == "zz-exact"
    assert {c["check"]: c["passed"] for c in first["checks"]} == {"iss": False, "aud": False, "sub": True,
                                                                  "enabled": True}
    assert first["reasons"][0].startswith("iss: ") and "sub" in first["passed"]
    text = run_wiam("simulate", folder, "--claims", tmp_path / "claims.json").stdout
    assert "aws a: wiam-zz-exact (workload zz-exact): passes sub, enabled; fails iss, aud" in text


# A token is read as the clouds read it: every well-formed JWT's claims come back as encoded, and a
# character outside the base64url alphabet anywhere in a part is refused, never skipped.

JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner,
                                                                                      max_size=3), max_leaves=8)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=4), st.text(min_size=1), st.text(min_size=1),
       st.data())
def test_tokens_round_trip_and_foreign_characters_are_refused(extra, iss, sub, data):
    claims = {**extra, "iss": iss, "sub": sub}
    token = _jwt(claims)
    assert read_claims(token=token) == claims
    where = data.draw(st.integers(0, len(token)))
    foreign = data.draw(st.characters(blacklist_characters="." + string.ascii_letters + string.digits + "-_"))
    with pytest.raises(UsageError):
        read_claims(token=token[:where] + foreign + token[where:])
