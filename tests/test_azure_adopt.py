"""An Azure grant adopting an identity adopts its federated credentials (adopt_credentials, name ->
subject) and role assignments (adopt_assignments, role -> GUID) too: the planned credential of that
subject and assignment of that role take those names, and each gets an import block with the ID the
azurerm docs give; every entry that names nothing the plan makes, or that cannot be imported, is an
error at its line. Nothing else of the output changes."""

import json
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from support.specs import compiled_files, spec_errors, write_spec
from wiam.compile import load_model
from wiam.diagnostics import Report
from wiam.planning import plan_model
from wiam.providers.azure.settings import credential_name

SUBSCRIPTION = "11111111-1111-1111-1111-111111111111"
IDENTITY_ID = (f"/subscriptions/{SUBSCRIPTION}/resourceGroups/ids/providers/Microsoft.ManagedIdentity/"
               "userAssignedIdentities/made-by-hand")
SCOPE = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/data"
GUID_A, GUID_B = "0b8d9f1e-2c3a-4e5f-8a7b-1c2d3e4f5a6b", "7e4c2a10-9b3d-4f6e-a1c8-5d2e0f9b8a7c"
MAIN, PROD = "repo:acme/app:ref:refs/heads/main", "repo:acme/app:environment:prod"

HEAD = '''issuer "gh" {
  kind = "github_actions"
}

issuer "ci" {
  kind = "generic_oidc"
  url  = "https://ci.example"
}

target "azure" "prod" {
  tenant_id       = "00000000-0000-0000-0000-000000000000"
  subscription_id = "11111111-1111-1111-1111-111111111111"
  resource_group  = "ids"
  location        = "eastus"
  TARGET_EXTRA
}
'''
IDENTITIES = '''
  identity {
    issuer     = "gh"
    repository = "acme/app"
    ref        = "refs/heads/main"
  }

  identity {
    issuer      = "gh"
    repository  = "acme/app"
    environment = "prod"
  }
'''


def hcl(grant: str, identities: str = IDENTITIES, target: str = "", workload: str = "") -> str:
    """A spec of one workload, `app`, whose grant on azure target prod holds `grant`'s lines."""
    lines = "".join(f"    {line}\n" for line in grant.strip().splitlines())
    return (HEAD.replace("TARGET_EXTRA", target) + f'\nworkload "app" {{\n{workload}{identities}\n'
            f'  grant "azure" "prod" {{\n    roles = ["Reader", "Storage Blob Data Reader"]\n    scope = "{SCOPE}"\n'
            f'{lines}  }}\n}}\n')


ADOPTING = f'''adopt = "made-by-hand"
adopt_credentials = {{ gh-main = "{MAIN}" }}
adopt_assignments = {{ "Reader" = "{GUID_A}" }}'''


def compiled(tmp_path: Path, text: str) -> dict:
    return compiled_files(write_spec(tmp_path, {"main.wiam.hcl": text}))["main.tf.json"]


def test_the_adopted_credential_and_assignment_take_their_names_and_are_imported_by_their_ids(tmp_path):
    main = compiled(tmp_path, hcl(ADOPTING))
    resources = main["resource"]
    imports = {block["to"]: block for block in main["import"]}
    credentials = resources["azurerm_federated_identity_credential"]
    (adopted,) = [k for k, body in credentials.items() if body["subject"] == MAIN]
    assert credentials[adopted]["name"] == "gh-main"
    assert imports[f"azurerm_federated_identity_credential.{adopted}"] == {
        "to": f"azurerm_federated_identity_credential.{adopted}", "provider": "azurerm.prod",
        "id": f"{IDENTITY_ID}/federatedIdentityCredentials/gh-main"}
    assignments = resources["azurerm_role_assignment"]
    (reader,) = [k for k, body in assignments.items() if body["role_definition_name"] == "Reader"]
    assert assignments[reader]["name"] == GUID_A and assignments[reader]["scope"] == SCOPE
    assert imports[f"azurerm_role_assignment.{reader}"]["id"] == (
        f"{SCOPE}/providers/Microsoft.Authorization/roleAssignments/{GUID_A}")
    # The other credential and assignment are wiam's own, made new: no import block names them.
    assert len(main["import"]) == 3 and imports["azurerm_user_assigned_identity.prod__app"]["id"] == IDENTITY_ID
    (other,) = set(credentials) - {adopted}
    assert credentials[other]["name"] == credential_name("gh", PROD, "api://AzureADTokenExchange")
    assert [block["to"] for block in main["import"]] == sorted(imports)  # a deterministic order


def test_adoption_changes_the_adopted_names_and_adds_import_blocks_and_nothing_else(tmp_path):
    plain = compiled(tmp_path / "plain", hcl('adopt = "made-by-hand"'))
    main = compiled(tmp_path / "adopting", hcl(ADOPTING))
    renamed = 0
    for kind, named in main["resource"].items():
        for key, body in named.items():
            if body.get("name") in ("gh-main", GUID_A):
                body["name"], renamed = plain["resource"][kind][key]["name"], renamed + 1
    assert renamed == 2
    assert {k: v for k, v in main.items() if k != "import"} == {k: v for k, v in plain.items() if k != "import"}
    assert [b for b in main["import"] if b["to"].startswith("azurerm_user_assigned_identity.")] == plain["import"]
    assert len(plain["import"]) == 1


def test_a_grant_adopting_nothing_has_wiam_s_own_names_and_no_import_block(tmp_path):
    main = compiled(tmp_path, hcl(""))
    assert "import" not in main
    names = [b["name"] for b in main["resource"]["azurerm_federated_identity_credential"].values()]
    assert sorted(names) == sorted(credential_name("gh", s, "api://AzureADTokenExchange") for s in (MAIN, PROD))


def _line_of(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


BLOCK = 'grant "azure" "prod" in workload "app"'
FLEXIBLE_IDENTITY = '''
  identity {
    issuer     = "gh"
    repository = "acme/app"
    ref        = "refs/heads/main"
    claims     = { repository_id = "1" }
  }
'''
ERRORS = {  # case -> (spec, the text at the error's line, words of the message, words of the fix)
    "credentials without adopt": (hcl(f'adopt_credentials = {{ gh-main = "{MAIN}" }}'), "adopt_credentials",
                                  "the grant adopts none", 'add adopt = "NAME"'),
    "assignments without adopt": (hcl(f'adopt_assignments = {{ "Reader" = "{GUID_A}" }}'), "adopt_assignments",
                                  "the grant adopts none", 'add adopt = "NAME"'),
    "a subject no identity has": (hcl(f'adopt = "made-by-hand"\nadopt_credentials = {{ gh-dev = "{MAIN}x" }}'),
                                  "gh-dev", "no identity of workload 'app' has the subject", repr(MAIN)),
    "two names for one subject": (hcl(f'adopt = "made-by-hand"\nadopt_credentials = {{\n  one = "{MAIN}"\n'
                                      f'  two = "{MAIN}"\n}}'), "two =", "'one' and 'two' both hold subject",
                                  "keep one of the two entries"),
    "a flexible credential": (hcl(f'adopt = "made-by-hand"\nadopt_credentials = {{ gh-main = "{MAIN}" }}',
                                  identities=FLEXIBLE_IDENTITY, target="flexible_credentials = true"),
                              "gh-main", "a flexible one", "remove the entry"),
    "a role the grant lacks": (hcl(f'adopt = "made-by-hand"\nadopt_assignments = {{ "Owner" = "{GUID_A}" }}'),
                               "Owner", "role 'Owner' of adopt_assignments is not among the grant's roles",
                               "'Reader', 'Storage Blob Data Reader'"),
    "one GUID for two roles": (hcl(f'adopt = "made-by-hand"\nadopt_assignments = {{\n  "Reader" = "{GUID_A}"\n'
                                   f'  "Storage Blob Data Reader" = "{GUID_A.upper()}"\n}}'), '"Storage Blob Data Reader" =',
                               "role assignment name", "differ"),
    "no GUID": (hcl('adopt = "made-by-hand"\nadopt_assignments = { "Reader" = "reader-1" }'), "reader-1",
                'invalid value Reader = "reader-1"', "a GUID"),
    "a short credential name": (hcl(f'adopt = "made-by-hand"\nadopt_credentials = {{ ab = "{MAIN}" }}'), "ab =",
                                "invalid name 'ab'", "3 to 120 letters, digits, hyphens and underscores"),
    "a long credential name": (hcl(f'adopt = "made-by-hand"\nadopt_credentials = {{ {"c" * 121} = "{MAIN}" }}'),
                               "c" * 121, "invalid name", "3 to 120"),
    "a PIM schedule": (hcl(f'adopt = "made-by-hand"\nadopt_assignments = {{ "Reader" = "{GUID_A}" }}\n'
                           'expires = "2030-01-01T00:00:00Z"\nreason = "migration"', target="pim = true"),
                       GUID_A, "is assigned as a PIM schedule", "remove the time window"),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_an_entry_that_names_nothing_the_plan_imports_is_an_error_at_its_line(tmp_path, case):
    text, at, message, fix = ERRORS[case]
    (error,) = spec_errors(write_spec(tmp_path, {"main.wiam.hcl": text}))
    assert (error.pos.line, error.block) == (_line_of(text, at), BLOCK), error
    assert message in error.message and fix in error.hint, error


def test_a_subject_under_two_issuers_is_refused_as_ambiguous(tmp_path):
    identities = IDENTITIES.replace('issuer      = "gh"\n    repository  = "acme/app"\n    environment = "prod"',
                                    f'issuer  = "ci"\n    subject = "{MAIN}"')
    text = hcl(f'adopt = "made-by-hand"\nadopt_credentials = {{ gh-main = "{MAIN}" }}', identities=identities)
    (error,) = spec_errors(write_spec(tmp_path, {"main.wiam.hcl": text}))
    assert (error.pos.line, error.block) == (_line_of(text, "gh-main"), BLOCK)
    assert "is held by identities #1 (issuer 'gh'), #2 (issuer 'ci')" in error.message
    assert "keep one of those identities" in error.hint


def test_two_grants_adopting_one_assignment_are_refused(tmp_path):
    text = hcl(f'adopt = "made-by-hand"\nadopt_assignments = {{ "Reader" = "{GUID_A}" }}')
    text += text[text.index('workload "app"'):].replace('workload "app"', 'workload "other"').replace(
        "made-by-hand", "made-by-hand-too").replace('repository = "acme/app"', 'repository = "acme/other"').replace(
        'repository  = "acme/app"', 'repository  = "acme/other"')
    (error,) = spec_errors(write_spec(tmp_path, {"main.wiam.hcl": text}))
    assert error.block == 'grant "azure" "prod" in workload "other"'
    assert f"role assignment name {GUID_A!r}" in error.message and "workload 'app'" in error.message


def test_a_disabled_identity_s_adopted_credential_gets_no_import_block_and_a_note(tmp_path):
    identities = IDENTITIES.replace('ref        = "refs/heads/main"\n',
                                    'ref        = "refs/heads/main"\n    disabled   = true\n    reason     = "leaked"\n')
    folder = write_spec(tmp_path, {"main.wiam.hcl": hcl(ADOPTING, identities=identities)})
    report = Report()
    plan_model(load_model(str(folder)), report)
    assert any("federated credential 'gh-main' not imported while its identity is disabled" in n for n in report.notes)
    main = compiled_files(folder)["main.tf.json"]
    assert not [b for b in main["import"] if b["to"].startswith("azurerm_federated_identity_credential")]
    assert "gh-main" not in json.dumps(main["resource"])


def test_drift_expects_the_adopted_names(tmp_path):
    from wiam.providers.azure import live

    plans = plan_model(load_model(str(write_spec(tmp_path, {"main.wiam.hcl": hcl(ADOPTING)}))))
    names = {(o.kind, o.name) for o in live.expected(plans[("azure", "prod")])}
    assert ("federated_credential", "made-by-hand/gh-main") in names and ("role_assignment", GUID_A) in names


# Whatever names and subjects: each adopted subject's credential is imported once, by its name.
NAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{2,119}", fullmatch=True)
SUBJECTS = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e, blacklist_characters='"\\$%{}'),
                   min_size=1, max_size=40)


@settings(max_examples=40, deadline=None)
@given(subjects=st.lists(SUBJECTS, min_size=1, max_size=5, unique=True), data=st.data())
def test_every_adopted_subject_gets_exactly_one_import_block_of_its_credential(subjects, data):
    adopted = data.draw(st.lists(st.sampled_from(subjects), unique=True))
    names = data.draw(st.lists(NAMES, min_size=len(adopted), max_size=len(adopted), unique_by=str.lower))
    spec = {"issuer": {"ci": {"kind": "generic_oidc", "url": "https://ci.example"}},
            "target": {"azure": {"prod": {"tenant_id": "00000000-0000-0000-0000-000000000000",
                                          "subscription_id": SUBSCRIPTION, "resource_group": "ids",
                                          "location": "eastus"}}},
            "workload": {"app": {"identity": [{"issuer": "ci", "subject": s} for s in subjects],
                                 "grant": {"azure": {"prod": {"roles": ["Reader"], "adopt": "made-by-hand",
                                                              **({"adopt_credentials": dict(zip(names, adopted))}
                                                                 if adopted else {})}}}}}}
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "spec.wiam.json").write_text(json.dumps(spec), encoding="utf-8")
        main = compiled_files(Path(folder))["main.tf.json"]
    credentials = main["resource"]["azurerm_federated_identity_credential"]
    by_subject = {body["subject"]: (f"azurerm_federated_identity_credential.{key}", body)
                  for key, body in credentials.items()}
    assert sorted(by_subject) == sorted(subjects)
    blocks = [b for b in main["import"] if b["to"].startswith("azurerm_federated_identity_credential.")]
    for name, subject in zip(names, adopted):
        address, body = by_subject[subject]
        assert body["name"] == name
        assert [b["id"] for b in blocks if b["to"] == address] == [f"{IDENTITY_ID}/federatedIdentityCredentials/{name}"]
    assert len(blocks) == len(adopted)
    for subject in set(subjects) - set(adopted):  # wiam's own names, made new
        assert by_subject[subject][1]["name"] == credential_name("ci", subject, "api://AzureADTokenExchange")
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{2,119}", body["name"]) for body in credentials.values())
