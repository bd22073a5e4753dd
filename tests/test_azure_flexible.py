"""Azure flexible federated credentials (preview, `flexible_credentials = true` on the target): an
identity whose claims its exact subject cannot carry gets one azapi_resource credential whose
claimsMatchingExpression Entra evaluates; trust_eval parses and evaluates it on its own, and simulate
agrees. Only Entra's documented issuers and claims; anything else is a compile error."""

import json
import re
import tempfile
from pathlib import Path

from hypothesis import given, settings, strategies as st

from fake_azure import State, apply, fake_azure
from support.cli import run_wiam
from support.specs import compiled_files, resources, spec_errors, write_spec
from trust_eval import azure_flexible_accepting, azure_identities_accepting, parse_claims_expression
from wiam import registry
from wiam.compile import load_model
from wiam.drift import drift
from wiam.graph import build_graph
from wiam.planning import plan_model
from wiam.providers.azure import live
from wiam.simulate import simulate
from wiam.terraform import Module

GITHUB = "https://token.actions.githubusercontent.com"
AUDIENCE = "api://AzureADTokenExchange"
FIC_TYPE = "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2025-01-31-preview"
SUBSCRIPTION = "11111111-1111-1111-1111-111111111111"
TARGET = {"tenant_id": "00000000-0000-0000-0000-000000000000", "subscription_id": SUBSCRIPTION,
          "resource_group": "ids", "location": "eastus"}
FLEXIBLE = {**TARGET, "flexible_credentials": True}
GRANT = {"azure": {"prod": {"roles": ["Reader"]}}}
ISSUERS = {"gh": {"kind": "github_actions"}, "gl": {"kind": "gitlab_ci"}, "tfc": {"kind": "terraform_cloud"},
           "gle": {"kind": "gitlab_ci", "url": "https://gitlab.example.ca"},
           "ghe": {"kind": "github_actions", "enterprise_slug": "acme"},
           "oidc": {"kind": "generic_oidc", "url": "https://idp.example"}}
WORKFLOW = "acme/wf/.github/workflows/release.yml@refs/heads/main"


def _spec(identities: list[dict], target: dict = FLEXIBLE) -> dict:
    return {"issuer": ISSUERS, "target": {"azure": {"prod": target}},
            "workload": {"w": {"identity": identities, "grant": GRANT}}}


def _github(branch: str = "main", **claims) -> dict:
    return {"issuer": "gh", "repository": "acme/app", "ref": f"refs/heads/{branch}",
            **({"claims": claims} if claims else {})}


def _compiled(spec: dict) -> tuple[dict, object]:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "spec.wiam.json").write_text(json.dumps(spec), encoding="utf-8")
        return compiled_files(Path(folder))["main.tf.json"], load_model(folder)


def _accepted(model, token: dict) -> list[str]:
    return [v.workload for v in simulate(model, token, plan_model(model)) if v.accepted]


# Values Entra compares and Terraform must not read as templates; a quote is refused (tested below).
PIECES = ["${", "%{", "}", "$${", "\\", '"', " and ", "eq", "*", "?", "é", "😀", ":", "a", "1"]
HOSTILE = st.lists(st.sampled_from(PIECES) | st.characters(blacklist_categories=("Cs", "Cc", "Cf", "Zl", "Zp"),
                                                           blacklist_characters="'"),
                   min_size=1, max_size=8).map("".join)
BRANCH = st.lists(st.sampled_from(["${", "%{", "}", "a", "1", "-", "é", "/x"]), min_size=1, max_size=6).map("".join)
IMMUTABLE = st.sampled_from([("repository_id",), ("repository_owner_id",), ("repository_id", "repository_owner_id")])


@settings(max_examples=30, deadline=None)
@given(BRANCH, IMMUTABLE, st.booleans(), st.lists(HOSTILE, min_size=3, max_size=3), st.data())
def test_the_expression_admits_the_right_token_and_refuses_any_single_wrong_claim(branch, ids, workflow, values,
                                                                                   data):
    names = (*ids, *(("job_workflow_ref",) if workflow else ()))
    claims = dict(zip(names, values))
    module, model = _compiled(_spec([_github(branch, **claims)]))
    assert resources(module, "azurerm_federated_identity_credential") == {}
    [credential] = resources(module, "azapi_resource").values()
    assert credential["type"] == FIC_TYPE and credential["provider"] == "azapi.prod"
    value = credential["body"]["properties"]["claimsMatchingExpression"]["value"]
    assert not re.search(r"(?<![$%])[$%]\{", value.replace("$${", "").replace("%%{", ""))  # no template starts
    terms = parse_claims_expression(value)
    assert terms[0][0] == "sub" and {n for n, _ in terms[1:]} == set(claims)  # sub first, each claim once
    token = {"iss": GITHUB, "aud": AUDIENCE, "sub": f"repo:acme/app:ref:refs/heads/{branch}", **claims,
             "repository": "acme/app"}  # a claim the credential does not pin changes nothing
    assert azure_flexible_accepting(module, token) == {"prod__w"}
    assert _accepted(model, token) == ["w"]
    wrong = data.draw(st.sampled_from(["sub", *claims]))
    changed = "edited" if wrong == "sub" else data.draw(st.sampled_from(["missing", "edited", "number"]))
    if changed == "missing":
        bad = {k: v for k, v in token.items() if k != wrong}
    else:
        bad = {**token, wrong: token[wrong] + "x" if changed == "edited" else 892416}
    assert azure_flexible_accepting(module, bad) == set()
    [verdict] = simulate(model, bad, plan_model(model))
    assert not verdict.accepted and [c.name for c in verdict.checks if not c.passed] == [wrong]


def test_gitlab_project_id_is_matched_and_its_mutable_subject_needs_it():
    identity = {"issuer": "gle", "project_path": "acme/app", "ref_type": "branch", "ref": "main",
                "claims": {"project_id": "42"}}
    module, model = _compiled(_spec([identity]))
    [credential] = resources(module, "azapi_resource").values()
    assert credential["body"]["properties"]["issuer"] == "https://gitlab.example.ca"
    sub = "project_path:acme/app:ref_type:branch:ref:main"
    assert parse_claims_expression(credential["body"]["properties"]["claimsMatchingExpression"]["value"]) == [
        ("sub", sub), ("project_id", "42")]
    token = {"iss": "https://gitlab.example.ca", "aud": AUDIENCE, "sub": sub, "project_id": "42"}
    assert _accepted(model, token) == ["w"] and not _accepted(model, {**token, "project_id": "43"})


def test_an_immutable_subjects_repository_id_satisfies_githubs_requirement():
    identity = {**_github(), "owner_id": "7", "repository_id": "892416", "claims": {"job_workflow_ref": WORKFLOW}}
    module, _ = _compiled(_spec([identity]))
    [credential] = resources(module, "azapi_resource").values()
    assert parse_claims_expression(credential["body"]["properties"]["claimsMatchingExpression"]["value"]) == [
        ("sub", "repo:acme@7/app@892416:ref:refs/heads/main"), ("job_workflow_ref", WORKFLOW),
        ("repository_id", "892416")]


def _errors(identity: dict) -> list:
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "spec.wiam.json").write_text(json.dumps(_spec([identity])), encoding="utf-8")
        return spec_errors(Path(folder))


def test_what_a_flexible_credential_cannot_check_stays_an_error_saying_what_it_could():
    [error] = _errors(_github(repository_id="1", actor="octocat"))
    assert error.message == ("azure target 'prod' cannot check claim 'actor' of issuer 'gh' "
                             f"({GITHUB}): a flexible credential for GitHub tokens checks only sub, "
                             "job_workflow_ref, repository_id, repository_owner_id")
    assert "subject_claims" in error.hint  # the exact credential's way out still holds
    required, unchecked = _errors({"issuer": "gl", "project_path": "a/b", "ref_type": "branch", "ref": "main",
                                   "claims": {"namespace_id": "9"}})
    assert unchecked.message.endswith("a flexible credential for GitLab tokens checks only sub, project_id")
    assert required.message.endswith("to match project_id besides sub")
    [error] = _errors({"issuer": "tfc", "organization": "o", "project": "p", "workspace": "w", "run_phase": "apply",
                       "claims": {"terraform_run_phase": "apply"}})
    assert error.message.endswith("a flexible credential for Terraform Cloud tokens checks only sub")
    for identity in ({**_github(repository_id="1"), "issuer": "ghe"},
                     {"issuer": "oidc", "subject": "s", "claims": {"repository_id": "1"}}):
        [error] = _errors(identity)
        assert "flexible credentials match only tokens of https://token.actions.githubusercontent.com" in error.message


def test_github_needs_an_immutable_id_and_no_value_may_hold_a_quote():
    [error] = _errors(_github(job_workflow_ref=WORKFLOW))
    assert error.message == (f"azure target 'prod' cannot write a flexible credential for issuer 'gh' ({GITHUB}): "
                             "Azure requires a flexible credential for GitHub tokens to match repository_id or "
                             "repository_owner_id besides sub")
    assert error.hint == 'pin repository_id = "<its numeric ID>" in claims'
    for identity, name in ((_github(repository_id="1'"), "repository_id"), (_github("it's", repository_id="1"), "sub"),
                           (_github(repository_id="1", job_workflow_ref="a' or claims['sub'] matches '*"),
                            "job_workflow_ref")):
        [error] = _errors(identity)
        assert f"the value of {name} holds a single quote" in error.message, identity
        assert error.hint.startswith("pin values without single quotes")


def test_the_compile_errors_exit_1_at_the_claim_with_a_fix_and_write_nothing(tmp_path):
    hcl = ('issuer "github" {\n  kind = "github_actions"\n}\n\n'
           'target "azure" "prod" {\n'
           + "".join(f'  {k} = "{v}"\n' for k, v in TARGET.items()) + "  flexible_credentials = true\n}\n\n"
           'workload "w" {\n  identity {\n    issuer     = "github"\n    repository = "acme/app"\n'
           '    ref        = "refs/heads/main"\n    claims = {\n      repository_id = "1\'2"\n'
           '      actor         = "octocat"\n    }\n  }\n  grant "azure" "prod" {\n    roles = ["Reader"]\n  }\n}\n')
    folder = write_spec(tmp_path / "spec", {"main.wiam.hcl": hcl})
    done = run_wiam("compile", folder, "--out", tmp_path / "out")
    report = done.stdout + done.stderr
    assert done.returncode == 1 and "Traceback" not in report
    lines = hcl.splitlines()
    for claim, why in (("repository_id", "holds a single quote"), ("actor", "checks only sub")):
        line = next(n for n, text in enumerate(lines, 1) if text.strip().startswith(claim))
        at = f"{folder / 'main.wiam.hcl'}:{line}:{lines[line - 1].index(claim) + 1}"
        assert any(entry.startswith(f"{at}: error in identity #1 in workload \"w\": ") and why in entry
                   for entry in report.splitlines()), report
    assert report.count("\n  fix: ") == 2
    assert not (tmp_path / "out").exists()


def test_without_the_opt_in_or_a_claim_needing_it_the_output_is_byte_identical(tmp_path):
    identities = [_github(), _github("dev"), {"issuer": "gl", "project_path": "a/b", "ref_type": "branch",
                                             "ref": "main"}]
    outputs = []
    for target in (TARGET, {**TARGET, "flexible_credentials": False}, FLEXIBLE):
        folder = write_spec(tmp_path / str(len(outputs)), {"spec.wiam.json": json.dumps(_spec(identities, target))})
        outputs.append(compiled_files(folder))
    assert outputs[0] == outputs[1] == outputs[2]
    assert "azapi" not in json.dumps(outputs[0])
    claimed = [_github(repository_id="1"), *identities[1:]]
    errors = spec_errors(write_spec(tmp_path / "exact", {"spec.wiam.json": json.dumps(_spec(claimed, TARGET))}))
    assert [e.message.split(": ")[-1] for e in errors] == [
        "its exact federated credentials compare issuer, subject and audience only"]  # today's error, unchanged


def test_credentials_of_one_identity_are_written_in_one_chain_across_azurerm_and_azapi():
    identities = [_github(f"b{n}", **({"repository_id": str(n)} if n % 2 else {})) for n in range(6)]
    module, model = _compiled(_spec(identities))
    written = {**{f"azurerm_federated_identity_credential.{k}": v
                  for k, v in resources(module, "azurerm_federated_identity_credential").items()},
               **{f"azapi_resource.{k}": v for k, v in resources(module, "azapi_resource").items()}}
    assert sum(a.startswith("azapi") for a in written) == 3 and len(written) == 6
    [first] = [a for a, body in written.items() if "depends_on" not in body]
    order, after = [first], {body["depends_on"][0]: a for a, body in written.items() if "depends_on" in body}
    while order[-1] in after:
        order.append(after[order[-1]])
    assert sorted(order) == sorted(written)  # one chain through every credential, none twice
    for n in range(6):  # each branch's token is accepted, by the kind of credential it got
        token = {"iss": GITHUB, "aud": AUDIENCE, "sub": f"repo:acme/app:ref:refs/heads/b{n}", "repository_id": str(n)}
        assert (azure_flexible_accepting(module, token) | azure_identities_accepting(module, token)) == {"prod__w"}
        assert _accepted(model, token) == ["w"]


def test_flexible_credentials_count_towards_the_twenty_per_identity(tmp_path):
    identities = [_github(f"b{n}", repository_id=str(n)) for n in range(21)]
    errors = spec_errors(write_spec(tmp_path, {"spec.wiam.json": json.dumps(_spec(identities))}))
    assert [e.message for e in errors] == [
        "21 subjects; an Azure managed identity takes at most 20 federated credentials"]


def test_the_graph_and_drift_know_the_flexible_credential(tmp_path):
    # Two exact credentials first: the fake pages by two, so the flexible one is on the GA-versioned second page.
    spec = _spec([_github(repository_id="892416", job_workflow_ref=WORKFLOW), _github("dev"), _github("rc")])
    model = load_model(str(write_spec(tmp_path, {"spec.wiam.json": json.dumps(spec)})))
    graph = build_graph(model)
    [trust] = [d["trust"] for _, _, d in graph.graph.edges(data=True) if d["relation"] == "federates"]
    dev, main, rc = trust["federated_credentials"]  # by subject
    assert main["claims"] == {"job_workflow_ref": WORKFLOW, "repository_id": "892416"}
    assert "claims" not in dev and "claims" not in rc
    state = State()
    [plan] = plan_model(model).values()
    registry.get("azure").emit(plan, module := Module())
    apply(state, module.resources, SUBSCRIPTION)
    with fake_azure(state) as endpoint:
        connection = live.connect(endpoint)
        [result] = drift(model, {"azure": connection})
        assert not result.drifted and result.unreadable is None
        [credentials] = [i["credentials"] for i in state.subscriptions[SUBSCRIPTION]["identities"].values()]
        assert "claimsMatchingExpression" in list(credentials.values())[2]["properties"]
        [loose] = [c for c in credentials.values() if "claimsMatchingExpression" in c["properties"]]
        expression = loose["properties"]["claimsMatchingExpression"]
        expected = expression["value"]
        expression["value"] = expected.split(" and ")[0] + " and claims['repository_id'] eq '892416'"
        [result] = drift(model, {"azure": connection})
    [(_, _, found)] = result.changed
    assert found == [{"field": "expression", "expected": expected, "actual": expression["value"]}]


def test_a_required_id_carried_in_the_subject_is_not_matched_again_and_the_fix_says_so():
    spec = _spec([{**_github(repository_id="1", job_workflow_ref=WORKFLOW), "issuer": "carrying"}])
    spec["issuer"] = {"carrying": {"kind": "github_actions", "subject_claims": ["repo", "context", "repository_id"]}}
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "spec.wiam.json").write_text(json.dumps(spec), encoding="utf-8")
        [error] = spec_errors(Path(folder))
    assert "to match repository_id or repository_owner_id besides sub" in error.message
    assert error.hint == 'pin repository_id = "<its numeric ID>" in claims, not one carried in the subject by subject_claims'
