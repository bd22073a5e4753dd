"""Claims pinned beyond the subject, on GCP: the emitted attribute_condition checks each exactly (in a
real CEL engine), simulate says which claim failed, and workloads sharing a subject with other claims
(or none) map to other principals, so neither acts as the other."""

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings, strategies as st

from support.paths import EXAMPLES
from support.specs import compiled_files, spec_errors, write_spec
from test_fuzz import as_terraform_reads, assert_inert
from trust_eval import cel_admits, gcp_principals_accepting
from wiam.compile import load_model
from wiam.providers.gcp.plan import ATTRIBUTE_CONDITION_MAX, claim_access, subject_condition
from wiam.simulate import simulate

ISSUER = "https://idp.example.com"
HOSTILE = st.sampled_from(['"', "\\", '\\"] || true || ["', "${x}", "%{y}", "$${z}", "\u00e9\u6f22", "'", " && "])
PLAIN = st.text(st.characters(exclude_categories=("Cc", "Cf", "Cs", "Zl", "Zp")), min_size=1, max_size=8)
VALUES = st.lists(st.one_of(HOSTILE, PLAIN), min_size=1, max_size=4).map("".join)
# Names as the schema allows them: CEL identifiers, reserved words, and names that are no identifier.
NAMES = st.one_of(st.sampled_from(["job_workflow_ref", "in", "true", "namespace", "oidc.circleci.com/project-id",
                                   "a:b", "x-y", "_"]),
                  st.from_regex(r"[A-Za-z_][A-Za-z0-9_./:-]{0,12}", fullmatch=True))
SUBJECTS = st.lists(st.one_of(HOSTILE, PLAIN), min_size=1, max_size=3).map("".join)
CONDITIONS = st.dictionaries(NAMES.filter(lambda n: n not in ("sub", "aud", "iss")), VALUES, min_size=1, max_size=3)


def _identity(subject: str, claims: dict | None = None) -> dict:
    return {"issuer": "idp", "subject": subject, **({"claims": claims} if claims else {})}


def _spec(folder: Path, workloads: dict[str, list[dict]]) -> Path:
    document = {
        "issuer": {"idp": {"kind": "generic_oidc", "url": ISSUER, "audience": "wiam"}},
        "target": {"gcp": {"prod": {"project_id": "acme-prod", "project_number": "123456789012"}}},
        "workload": {name: {"identity": identities, "grant": {"gcp": {"prod": {"roles": ["roles/viewer"]}}}}
                     for name, identities in workloads.items()}}
    return write_spec(folder, {"main.wiam.json": json.dumps(document)})


def _providers(module: dict) -> list[dict]:
    return list(module["resource"]["google_iam_workload_identity_pool_provider"].values())


def _token(subject: str, claims: dict) -> dict:
    return {"iss": ISSUER, "aud": "wiam", "sub": subject, **claims}


def _misses(claims: dict):
    """Every token that gets exactly one claim wrong or leaves it out."""
    for name, value in claims.items():
        for wrong in (value + "x", value[:-1], value.swapcase(), " " + value):
            if wrong != value:
                yield name, {**claims, name: wrong}
        yield name, {k: v for k, v in claims.items() if k != name}


@settings(max_examples=25, deadline=None)
@given(CONDITIONS, SUBJECTS)
def test_the_emitted_condition_admits_the_pinned_claims_and_refuses_any_wrong_or_missing_one(claims, subject):
    with tempfile.TemporaryDirectory() as tmp:
        folder = _spec(Path(tmp), {"w": [_identity(subject, claims)]})
        files = compiled_files(folder)
        assert_inert({name: json.dumps(body).encode() for name, body in files.items() if name.endswith(".json")})
        module = as_terraform_reads(files["main.tf.json"])
        model = load_model(str(folder))
    [provider] = _providers(module)
    condition = provider["attribute_condition"]
    assert len(condition) <= ATTRIBUTE_CONDITION_MAX
    assert cel_admits(condition, _token(subject, claims))
    assert gcp_principals_accepting(module, _token(subject, claims)) == {"prod__w"}
    [verdict] = simulate(model, _token(subject, claims))
    assert verdict.accepted and verdict.workload == "w"
    assert not cel_admits(condition, _token(subject + "x", claims))
    for name, token in _misses(claims):
        assert not cel_admits(condition, _token(subject, token)), (name, token)
        assert gcp_principals_accepting(module, _token(subject, token)) == set()
        [verdict] = simulate(model, _token(subject, token))
        assert not verdict.accepted
        [reason] = verdict.reasons
        assert reason.startswith(f"{name}: "), reason  # names the claim


def test_claims_that_are_no_cel_identifier_are_map_keys():
    assert claim_access("job_workflow_ref") == "assertion.job_workflow_ref"
    assert claim_access("oidc.circleci.com/project-id") == 'assertion["oidc.circleci.com/project-id"]'
    assert claim_access("in") == 'assertion["in"]'  # a CEL reserved word
    condition = subject_condition([("s", (("oidc.circleci.com/project-id", 'p"1'),))])
    assert condition == 'assertion.sub == "s" && assertion["oidc.circleci.com/project-id"] == "p\\"1"'
    assert cel_admits(condition, {"sub": "s", "oidc.circleci.com/project-id": 'p"1'})


def test_terms_with_claims_are_parenthesised_only_among_others():
    with_claims = ("a", (("ref", "main"),))
    assert subject_condition([with_claims]) == 'assertion.sub == "a" && assertion.ref == "main"'
    both = subject_condition([with_claims, ("b", (("ref", "main"),))])
    assert both == ('(assertion.sub == "a" && assertion.ref == "main") || '
                    '(assertion.sub == "b" && assertion.ref == "main")')
    assert cel_admits(both, {"sub": "b", "ref": "main"}) and not cel_admits(both, {"sub": "b", "ref": "dev"})


def _reached(module, subject, claims):
    return gcp_principals_accepting(module, _token(subject, claims))


def test_workloads_sharing_a_subject_with_other_claims_or_none_stay_apart(tmp_path):
    release, sync = {"workflow": "release.yml"}, {"workflow": "sync.yml"}
    folder = _spec(tmp_path, {"plain": [_identity("svc")], "release": [_identity("svc", release)],
                              "sync": [_identity("svc", sync)]})
    assert spec_errors(folder) == []
    module = as_terraform_reads(compiled_files(folder)["main.tf.json"])
    assert _reached(module, "svc", {}) == {"prod__plain"}  # the bare subject never becomes release's principal
    assert _reached(module, "svc", {"workflow": "other.yml"}) == {"prod__plain"}
    # A token with the claims is also any token of the subject, which plain trusts as written.
    assert _reached(module, "svc", release) == {"prod__plain", "prod__release"}
    assert _reached(module, "svc", sync) == {"prod__plain", "prod__sync"}
    members = {b["member"].rsplit("/subject/", 1)[1]
               for b in module["resource"]["google_service_account_iam_member"].values()}
    assert len(members) == 3 and "svc" in members
    model = load_model(str(folder))
    accepted = {v.workload for v in simulate(model, _token("svc", {"workflow": "other.yml"})) if v.accepted}
    assert accepted == {"plain"}


def test_the_same_claims_share_one_principal(tmp_path):
    claims = {"workflow": "release.yml"}
    folder = _spec(tmp_path, {"a": [_identity("svc", claims)], "b": [_identity("svc", claims)]})
    assert spec_errors(folder) == []
    module = as_terraform_reads(compiled_files(folder)["main.tf.json"])
    assert _reached(module, "svc", claims) == {"prod__a", "prod__b"}
    assert len(_providers(module)) == 1


def test_a_subject_spelling_another_ones_claims_principal_is_refused(tmp_path):
    claims = {"workflow": "release.yml"}
    first = _spec(tmp_path / "probe", {"w": [_identity("svc", claims)]})
    mapped = as_terraform_reads(compiled_files(first)["main.tf.json"])["resource"]["google_service_account_iam_member"]
    [member] = [b["member"].rsplit("/subject/", 1)[1] for b in mapped.values()]
    folder = _spec(tmp_path / "both", {"release": [_identity("svc", claims)], "mimic": [_identity(member)]})
    [error] = spec_errors(folder)
    text = error.render()
    assert 'workload "release"' in text and "'mimic'" in text and "per pool" in text and "fix: " in text
    assert "workflow = 'release.yml'" in error.message and "separate pools" in error.hint
    assert error.pos.line > 0


def test_many_claimed_subjects_split_within_the_limit_and_each_is_admitted_once(tmp_path):
    claims = {"job_workflow_ref": "w" * 300}
    folder = _spec(tmp_path, {f"w{n}": [_identity(f"svc-{n}", claims)] for n in range(30)})
    module = as_terraform_reads(compiled_files(folder)["main.tf.json"])
    providers = _providers(module)
    assert len(providers) > 1 and all(len(p["attribute_condition"]) <= ATTRIBUTE_CONDITION_MAX for p in providers)
    for n in range(30):
        token = _token(f"svc-{n}", claims)
        assert sum(cel_admits(p["attribute_condition"], token) for p in providers) == 1
        assert _reached(module, f"svc-{n}", claims) == {f"prod__w{n}"}


def test_a_condition_longer_than_gcp_allows_is_an_error(tmp_path):
    claims = {f"c{n}": "v" * 1000 for n in range(5)}
    [error] = spec_errors(_spec(tmp_path, {"w": [_identity("svc", claims)]}))
    assert "4096" in error.message and "attribute condition" in error.message and "claims" in error.hint
    assert error.pos.file.endswith("main.wiam.json") and error.pos.line > 0


def test_the_trust_in_the_graph_shows_the_claims_only_where_some_are(tmp_path):
    from wiam.planning import plan_model

    folder = _spec(tmp_path, {"plain": [_identity("one")], "release": [_identity("svc", {"workflow": "r.yml"})]})
    plans = plan_model(load_model(str(folder))).values()
    principals = {name: p for plan in plans for name, p in plan.principals.items()}
    assert "conditions" not in principals["plain"].trust
    assert principals["release"].trust["conditions"] == [{"subject": "svc", "claims": {"workflow": "r.yml"}}]


def test_the_spec_example_checks_both_claims_of_payments_release_on_gcp():
    folder = EXAMPLES / "spec-reference"
    module = as_terraform_reads(compiled_files(folder)["main.tf.json"])
    model = load_model(str(folder))
    release = model.workloads["payments-release"].identities[0]
    claims = dict(release.conditions)
    assert set(claims) == {"job_workflow_ref", "repository_id"}
    [provider] = [p for p in _providers(module) if "assertion.job_workflow_ref" in p["attribute_condition"]]
    assert provider["attribute_condition"] == (
        f'assertion.sub == "{release.subject}" && assertion.job_workflow_ref == "{claims["job_workflow_ref"]}" '
        f'&& assertion.repository_id == "{claims["repository_id"]}"')
    base = {"iss": release.issuer.url, "sub": release.subject,
            "aud": f"//iam.googleapis.com/projects/1/locations/global/workloadIdentityPools/p/providers/"
                   f"{provider['workload_identity_pool_provider_id']}"}
    assert "prod__payments-release" in gcp_principals_accepting(module, {**base, **claims})
    for _, wrong in _misses(claims):
        assert "prod__payments-release" not in gcp_principals_accepting(module, {**base, **wrong})
