"""`wiam import` adopting what exists, against a moto server seeded with a hand-made GitHub role (inline
and attached policies), a wiam-managed one, one away from path / and a service's: the proposed spec
validates and compiles, its import blocks name exactly the hand-made roles by their documented import
ID, and each adopted role's compiled trust admits exactly the tokens its old trust admitted. Likewise
against the GCP and Azure fakes, where an Azure identity's federated credentials and role assignments
are imported too, so that nothing compiled duplicates one Azure would refuse."""

import copy
import json
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

import fake_azure
import fake_gcp
from live_aws import FAKE_ENVIRONMENT, moto_server, reset, session
from support.cli import run_wiam
from support.specs import BASE_HCL, spec_errors, workload_hcl, write_spec
from test_fuzz import as_terraform_reads
from trust_eval import aws_roles_accepting, azure_identities_accepting, gcp_principals_accepting
from wiam import registry
from wiam.compile import compile_model, load_model
from wiam.diagnostics import Report, SpecError, printable
from wiam.issuers import KINDS, identity_fields
from wiam.importing import Adopted, Proposal, find_adoptable, propose, write_proposal
from wiam.live import Adoptable, Trusted
from wiam.readers import read
from wiam.spec_edit import hcl_blocks
from wiam.planning import plan_model
from wiam.terraform import Module

ACCOUNT = "123456789012"
GITHUB = "token.actions.githubusercontent.com"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GITHUB}"
READER = f"arn:aws:iam::{ACCOUNT}:policy/reader"  # a customer managed policy: moto's server holds no AWS ones
SPEC = f'issuer "github" {{\n  kind = "github_actions"\n}}\n\ntarget "aws" "prod" {{\n  account_id = "{ACCOUNT}"\n}}\n'
# terraform-provider-aws website/docs/r/iam_role.html.markdown, "Import": the role name;
# iam_role_policy.html.markdown's: role_name:role_policy_name (IAM's names hold no ':').
ROLE_IMPORT_ID = re.compile(r"[A-Za-z0-9_+=,.@-]{1,64}")
POLICY_IMPORT_ID = re.compile(r"(?P<role>[A-Za-z0-9_+=,.@-]{1,64}):(?P<policy>[A-Za-z0-9_+=,.@-]{1,128})")
# GitHubDeploy's second inline policy, sorted after "deploy": the grant takes "deploy" over, and this stays.
LEGACY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]}
HOSTILE_DESCRIPTION = 'pwn" }\n}\nworkload "evil" {\t${file("/etc/passwd")} %{ if true } # x'
HOSTILE_SUBJECT = 'repo:o/r:ref:refs/heads/"} %{y} $x # x'  # ${ would be an IAM policy variable: not exact
UNSAYABLE_SUBJECT = "repo:o/r:ref:refs/heads/a\n}"  # a line break: no spec holds it, so it is left out


def trust(subjects, audience="sts.amazonaws.com", operator="StringEquals", extra=()):
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Federated": PROVIDER}, "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {operator: {f"{GITHUB}:aud": audience, f"{GITHUB}:sub": subjects}}}, *extra]}


OLD_TRUST = {
    "GitHubDeploy": trust(["repo:o/r:ref:refs/heads/main", "repo:o/r:environment:prod"]),
    "hostile": trust([HOSTILE_SUBJECT, UNSAYABLE_SUBJECT, "repo:o/r:pull_request"], extra=[
        {"Effect": "Allow", "Principal": {"Federated": PROVIDER}, "Action": "sts:AssumeRoleWithWebIdentity",
         "Condition": {"StringLike": {f"{GITHUB}:sub": "repo:o/*"}}}]),
}


@pytest.fixture(scope="module")
def endpoint():
    with moto_server() as url:
        reset(url)
        iam = session(url).client("iam")
        iam.create_open_id_connect_provider(Url=f"https://{GITHUB}", ClientIDList=["sts.amazonaws.com"],
                                            ThumbprintList=["0" * 40])
        iam.create_policy(PolicyName="reader", PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}))
        iam.create_role(RoleName="GitHubDeploy", AssumeRolePolicyDocument=json.dumps(OLD_TRUST["GitHubDeploy"]),
                        Description="Deploys o/r", MaxSessionDuration=7200)
        iam.put_role_policy(RoleName="GitHubDeploy", PolicyName="deploy", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"], "Resource": "arn:aws:s3:::b/*"},
                {"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}]}))
        iam.put_role_policy(RoleName="GitHubDeploy", PolicyName="legacy", PolicyDocument=json.dumps(LEGACY))
        iam.attach_role_policy(RoleName="GitHubDeploy", PolicyArn=READER)
        iam.create_role(RoleName="hostile", AssumeRolePolicyDocument=json.dumps(OLD_TRUST["hostile"]),
                        Description=HOSTILE_DESCRIPTION)
        iam.attach_role_policy(RoleName="hostile", PolicyArn=READER)
        iam.create_role(RoleName="wiam-managed", AssumeRolePolicyDocument=json.dumps(trust("repo:o/r:ref:refs/heads/x")),
                        Tags=[{"Key": "managed-by", "Value": "wiam"}])
        iam.create_role(RoleName="nested", Path="/ci/", AssumeRolePolicyDocument=json.dumps(trust("repo:o/n:ref:refs/heads/main")))
        iam.create_role(RoleName="ec2-service", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
        yield url


def wiam_import(spec, endpoint, *args):
    return run_wiam("import", spec, *args, env={**FAKE_ENVIRONMENT, "AWS_ENDPOINT_URL": endpoint})


def candidate_claims():
    """Tokens each old trust admits, and near misses: other refs, repositories and audiences."""
    subjects = ["repo:o/r:ref:refs/heads/main", "repo:o/r:environment:prod", "repo:o/r:pull_request",
                HOSTILE_SUBJECT, UNSAYABLE_SUBJECT, "repo:o/r:ref:refs/heads/dev", "repo:o/other:ref:refs/heads/main", "repo:o/r"]
    return [{"iss": f"https://{GITHUB}", "sub": s, "aud": a} for s in subjects for a in ("sts.amazonaws.com", "other")]


def old_accepts(role: str, claims: dict) -> bool:
    """The old trust, exact statements and subjects a spec can hold only: what the proposal leaves out
    (StringLike, a subject with a line break) it says in a comment."""
    if claims["sub"] == UNSAYABLE_SUBJECT:
        return False
    statements = [s for s in OLD_TRUST[role]["Statement"] if "StringEquals" in s["Condition"]]
    module = {"resource": {"aws_iam_role": {role: {"assume_role_policy": json.dumps({"Statement": statements})}}}}
    return bool(aws_roles_accepting(module, claims))


@pytest.fixture(scope="module")
def adopted(endpoint, tmp_path_factory):
    spec = write_spec(tmp_path_factory.mktemp("adopt"), {"main.wiam.hcl": SPEC})
    shown = wiam_import(spec, endpoint)
    assert sorted(p.name for p in spec.iterdir()) == ["main.wiam.hcl"]  # nothing written without --write
    written = wiam_import(spec, endpoint, "--write")
    return spec, shown, written


def test_the_hand_made_roles_are_proposed_and_the_others_are_not(adopted):
    spec, shown, _ = adopted
    assert shown.returncode == 0, shown.stderr
    assert re.search(r'\n    adopt += "GitHubDeploy"\n', shown.stdout) and re.search(r'\n    adopt += "hostile"\n', shown.stdout)
    assert "wiam-managed" not in shown.stdout and "ec2-service" not in shown.stdout
    assert "# not proposed: 'nested' on aws target 'prod': its path '/ci/' is not /" in shown.stdout
    assert "run again with --write" in shown.stdout


def test_the_proposal_is_written_as_its_own_file_and_compiles_with_import_blocks(adopted):
    spec, _, written = adopted
    assert written.returncode == 0, written.stderr
    assert (spec / "main.wiam.hcl").read_text().startswith(SPEC.split("target")[0])
    model = load_model(str(spec))
    assert model.targets[("aws", "prod")].settings["existing_oidc_providers"] == {"github": PROVIDER}
    grants = {w.name: g.settings for w in model.workloads.values() for g in w.grants}
    assert grants["GitHubDeploy"] == {
        "actions": ["s3:PutObject", "s3:DeleteObject"], "resources": ["arn:aws:s3:::b/*"],
        "managed_policies": [READER], "max_session_duration": 7200,
        "adopt_policy": "deploy", "adopt": "GitHubDeploy"}
    assert model.workloads["hostile"].description == HOSTILE_DESCRIPTION  # landed literally, not as HCL
    text = (spec / "adopted.wiam.hcl").read_text()
    assert "# left, not carried: inline policy 'deploy' statement" in text and "StringLike" in text
    assert "# left, not carried: subject {'subject': 'repo:o/r:ref:refs/heads/a\\n}'} (characters a spec refuses)" in text
    main = json.loads(compile_model(model)["main.tf.json"])
    assert "aws_iam_openid_connect_provider" not in main["resource"]
    imports = [block for block in main["import"] if block["to"].startswith("aws_iam_role.")]
    assert all(ROLE_IMPORT_ID.fullmatch(block["id"]) for block in imports)
    assert sorted(block["id"] for block in imports) == ["GitHubDeploy", "hostile"]
    roles = main["resource"]["aws_iam_role"]
    assert {roles[block["to"].split(".")[1]]["name"] for block in imports} == {"GitHubDeploy", "hostile"}


def test_the_adopted_role_s_first_inline_policy_is_taken_over_and_every_other_one_is_named(adopted, endpoint):
    spec, _, _ = adopted
    model = load_model(str(spec))
    grants = {w.name: g.settings for w in model.workloads.values() for g in w.grants}
    assert "adopt_policy" not in grants["hostile"]  # no inline policy: nothing to take over
    main = json.loads(compile_model(model)["main.tf.json"])
    roles, resources = main["resource"]["aws_iam_role"], main["resource"]
    (key,) = [k for k, body in roles.items() if body["name"] == "GitHubDeploy"]
    policies = [block for block in main["import"] if block["to"].startswith("aws_iam_role_policy.")]
    assert [block["to"] for block in policies] == [f"aws_iam_role_policy.{key}"]
    found = POLICY_IMPORT_ID.fullmatch(policies[0]["id"])
    assert (found["role"], found["policy"]) == ("GitHubDeploy", "deploy")
    assert resources["aws_iam_role_policy"][key]["name"] == "deploy"
    iam = session(endpoint).client("iam")
    assert sorted(iam.list_role_policies(RoleName=found["role"])["PolicyNames"]) == ["deploy", "legacy"]
    # The attachment the grant carries is created over the existing one (AttachRolePolicy is idempotent).
    attached = [b["policy_arn"] for b in resources["aws_iam_role_policy_attachment"].values()
                if b["role"] == "${aws_iam_role." + key + ".name}"]
    assert attached == [p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName="GitHubDeploy")[
        "AttachedPolicies"]] == [READER]
    text = (spec / "adopted.wiam.hcl").read_text()
    assert ("# left, not carried: inline policy 'legacy' stays on the role after apply: delete it (aws iam "
            "delete-role-policy --role-name GitHubDeploy --policy-name legacy) once the workload runs on wiam's") in text
    assert "inline policy 'deploy' stays" not in text and "detach-role-policy" not in text
    assert "# left, not carried: inline policy 'legacy' statement" in text  # what _grant notes, kept


POLICY_NAMES = st.one_of(st.from_regex(r"[A-Za-z0-9_+=,.@-]{1,12}", fullmatch=True), st.text(min_size=1, max_size=12))


@settings(max_examples=100, deadline=None)
@given(policies=st.lists(POLICY_NAMES, max_size=6, unique=True), actions=st.booleans(),
       attached=st.lists(st.integers(0, 99), max_size=25, unique=True), quota=st.integers(10, 20))
def test_every_inline_policy_and_attachment_is_taken_over_or_named_once(policies, actions, attached, quota):
    from wiam.providers.aws import live
    from wiam.schema import grant_pattern

    arns = sorted(f"arn:aws:iam::aws:policy/P{n}" for n in attached)
    grant = {"actions": ["s3:GetObject"]} if actions else {}
    grant |= {"managed_policies": arns} if arns else {}
    name = grant_pattern("wiam.providers.aws", "adopt_policy")
    notes = live._take_over("R", sorted(policies), name, grant, quota)
    sayable = sorted(p for p in policies if name.fullmatch(p))
    assert grant.get("adopt_policy") == (sayable[0] if actions and sayable else None)
    for policy in policies:  # each exactly once: taken over, or named with the command that deletes it
        named = [n for n in notes if n.startswith(f"inline policy {policy!r} stays on the role")]
        assert len(named) == (policy != grant.get("adopt_policy"))
    assert grant.get("managed_policies", []) == arns[:quota]
    assert [n.split()[2] for n in notes if n.startswith("managed policy")] == arns[quota:]


@pytest.mark.parametrize("role", sorted(OLD_TRUST))
def test_the_adopted_role_trusts_exactly_the_subjects_the_old_trust_did(adopted, role):
    spec, _, _ = adopted
    main = as_terraform_reads(json.loads(compile_model(load_model(str(spec)))["main.tf.json"]))  # as Terraform reads it
    (resource,) = [k for k, body in main["resource"]["aws_iam_role"].items() if body["name"] == role]
    for claims in candidate_claims():
        assert (resource in aws_roles_accepting(main, claims)) == old_accepts(role, claims), claims


def test_a_second_run_proposes_nothing_and_writes_no_second_file(adopted, endpoint):
    spec, _, _ = adopted
    again = wiam_import(spec, endpoint, "--write")
    assert again.returncode == 0, again.stderr
    assert "adopt  " not in again.stdout and "# not proposed: 'nested'" in again.stdout
    assert sorted(p.name for p in spec.iterdir()) == ["adopted.wiam.hcl", "main.wiam.hcl"]


# GCP and Azure, against the local fakes of their APIs, seeded by applying what a spec compiles to
# (so the seeded objects are exactly what Terraform would have made) and then made foreign: a service
# account ID without wiam's prefix, an identity without wiam's tag.
GCP_SEED = """
issuer "gh" {
  kind = "github_actions"
  audience = "https://github.com/o"
}
target "gcp" "seed" {
  project_id     = "acme-prod"
  project_number = "123456789012"
  pool_id        = "ci-pool"
}
target "azure" "seed" {
  tenant_id       = "00000000-0000-0000-0000-000000000000"
  subscription_id = "11111111-1111-1111-1111-111111111111"
  resource_group  = "workload-identities"
  location        = "eastus"
}
""" + workload_hcl("deployer", identities=[
    'issuer = "gh"\n    repository = "o/r"\n    ref = "refs/heads/main"',
    'issuer = "gh"\n    repository = "o/r"\n    environment = "prod"'], grants=[
    ("gcp", "seed", 'roles = ["roles/run.developer"]\n    adopt = "deployer"'),
    ("azure", "seed", 'roles = ["Reader"]\n    adopt = "deployer-id"')],
    extra=f'  description = {json.dumps(HOSTILE_DESCRIPTION).replace("${", "$${").replace("%{", "%%{")}\n') + \
    workload_hcl("managed", identities=['issuer = "gh"\n    repository = "o/m"\n    ref = "refs/heads/main"'],
                 grants=[("gcp", "seed", 'roles = ["roles/viewer"]'), ("azure", "seed", 'roles = ["Reader"]')])
# google_service_account docs, "Import": projects/{{project}}/serviceAccounts/{{email}};
# azurerm user_assigned_identity docs, "Import": the identity's resource ID; federated_identity_credential's:
# that ID and /federatedIdentityCredentials/NAME; role_assignment's: SCOPE/providers/Microsoft.Authorization/
# roleAssignments/GUID, for a scope of any kind.
GCP_IMPORT_ID = re.compile(r"projects/(?P<project>[a-z][a-z0-9-]{4,28}[a-z0-9])/serviceAccounts/"
                           r"(?P<id>[a-z][a-z0-9-]{4,28}[a-z0-9])@(?P=project)\.iam\.gserviceaccount\.com")
AZURE_IMPORT_ID = re.compile(r"/subscriptions/(?P<subscription>[0-9a-f-]{36})/resourceGroups/(?P<group>[^/]+)/providers/"
                             r"Microsoft\.ManagedIdentity/userAssignedIdentities/(?P<name>[A-Za-z0-9][A-Za-z0-9_-]{2,127})")
CREDENTIAL_IMPORT_ID = re.compile(AZURE_IMPORT_ID.pattern + r"/federatedIdentityCredentials/"
                                                            r"(?P<credential>[A-Za-z0-9][A-Za-z0-9_-]{2,119})")
ASSIGNMENT_IMPORT_ID = re.compile(r"(?P<scope>/subscriptions/[0-9a-f-]{36}(/[^/]+)*)/providers/Microsoft\.Authorization/"
                                  r"roleAssignments/(?P<guid>[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12})")
SUBSCRIPTION = "11111111-1111-1111-1111-111111111111"
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"  # Storage Blob Data Reader, assigned by hand elsewhere
ELSEWHERE = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/data"


@pytest.fixture(scope="module")
def seed_states(tmp_path_factory):
    """The seed's module, and the GCP and Azure fakes holding what applying it made; Azure's deployer-id
    then made foreign (no managed-by tag) and given a hand-made assignment at another scope."""
    seed = load_model(str(write_spec(tmp_path_factory.mktemp("seed"), {"main.wiam.hcl": GCP_SEED})))
    old = json.loads(compile_model(seed)["main.tf.json"])
    gcp_state, azure_state = fake_gcp.State(), fake_azure.State()
    for (cloud, _), plan in plan_model(seed).items():
        registry.get(cloud).emit(plan, module := Module())
        if cloud == "gcp":
            fake_gcp.apply(gcp_state, module.resources, plan.settings.project_id, plan.settings.project_number)
        else:
            fake_azure.apply(azure_state, module.resources, plan.settings.subscription_id)
    account = azure_state.subscription(SUBSCRIPTION)
    made = adopted_identity(azure_state)
    made["tags"] = {"team": "made by hand"}
    account["assignments"].append(fake_azure.assignment(SUBSCRIPTION, "5d2a8f61-0c1e-4b7a-9f3d-6e8b1a2c4d5f", ELSEWHERE,
                                                        BLOB_READER, made["properties"]["principalId"]))
    return old, gcp_state, azure_state


def adopted_identity(state) -> dict:
    return state.subscription(SUBSCRIPTION)["identities"][("workload-identities", "deployer-id")]


def existing_assignments(state) -> list[dict]:
    principal = adopted_identity(state)["properties"]["principalId"]
    return [a for a in state.subscription(SUBSCRIPTION)["assignments"] if a["properties"]["principalId"] == principal]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory, seed_states):
    old, gcp_state, azure_state = seed_states
    with fake_gcp.fake_gcp(gcp_state) as rest, fake_gcp.fake_iam_grpc(gcp_state) as grpc, \
            fake_azure.fake_azure(azure_state) as azure:
        connections = {"gcp": registry.get("gcp").live.connect(rest=rest, grpc=grpc),
                       "azure": registry.get("azure").live.connect(azure)}
        spec = write_spec(tmp_path_factory.mktemp("clouds"), {"main.wiam.hcl": BASE_HCL})
        model = load_model(str(spec))
        adopted = find_adoptable(model, ["gcp.prod", "azure.prod"], connections.get)
        proposal = propose(model, adopted)
        path = write_proposal(proposal, str(spec), False)
        yield old, adopted, proposal, path, load_model(str(spec)), (rest, grpc, azure)


def test_gcp_and_azure_propose_the_foreign_objects_only(seeded):
    _, adopted, proposal, path, model, _ = seeded
    assert {(a.cloud, f.name) for a in adopted for f in a.found} == {("gcp", "deployer"), ("azure", "deployer-id")}
    assert {(cloud, name) for cloud, _, name in proposal.workloads.values()} == {
        ("gcp", "deployer"), ("azure", "deployer-id")}
    assert path.endswith("adopted.wiam.hcl") and model.workloads
    settings = {g.cloud: g.settings for w in model.workloads.values() for g in w.grants}
    assert settings["gcp"] == {"roles": ["roles/run.developer"], "adopt": "deployer"}
    assert settings["azure"]["roles"] == ["acdd72a7-3385-48ef-bd42-f606fba81ae7"]  # Reader; Blob Reader is elsewhere
    assert settings["azure"]["adopt"] == "deployer-id"
    (described,) = {w.description for w in model.workloads.values() if w.description}
    assert described == HOSTILE_DESCRIPTION  # the service account's description, landed literally


def test_gcp_and_azure_import_blocks_name_the_seeded_objects_by_their_documented_ids(seeded):
    *_, model, _ = seeded
    main = json.loads(compile_model(model)["main.tf.json"])
    ids = {block["to"].split(".")[0]: block["id"] for block in main["import"]}
    gcp, azure = GCP_IMPORT_ID.fullmatch(ids["google_service_account"]), AZURE_IMPORT_ID.fullmatch(
        ids["azurerm_user_assigned_identity"])
    assert (gcp["project"], gcp["id"]) == ("acme-prod", "deployer")
    assert (azure["subscription"], azure["group"], azure["name"]) == (
        "11111111-1111-1111-1111-111111111111", "workload-identities", "deployer-id")
    assert sorted(block["to"].split(".")[0] for block in main["import"]) == [
        "azurerm_federated_identity_credential"] * 2 + ["azurerm_role_assignment", "azurerm_user_assigned_identity",
                                                         "google_service_account"]


def test_the_azure_proposal_adopts_the_identity_s_credentials_and_assignments_by_the_names_azure_holds(
        seeded, seed_states):
    _, adopted, proposal, _, model, _ = seeded
    state = seed_states[2]
    (grant,) = [g.settings for w in model.workloads.values() for g in w.grants if g.cloud == "azure"]
    credentials = adopted_identity(state)["credentials"].values()  # as the SDK lists them: `name` is the key
    assert grant["adopt_credentials"] == {c["name"]: c["properties"]["subject"] for c in credentials}
    here = [a for a in existing_assignments(state) if a["properties"]["scope"] != ELSEWHERE]
    assert grant["adopt_assignments"] == {fake_azure.role_guid(a["properties"]["roleDefinitionId"]): a["name"]
                                          for a in here} and len(here) == 1
    (found,) = [f for a in adopted if a.cloud == "azure" for f in a.found]
    assert found.left == (f"roles {[BLOB_READER]} at {ELSEWHERE}",)  # what is really not carried, and only that
    assert "remove these first" not in proposal.text
    assert f"# left, not carried: roles ['{BLOB_READER}'] at {ELSEWHERE}" in proposal.text


def test_the_azure_import_blocks_take_over_every_existing_object_and_nothing_compiled_duplicates_one(
        seeded, seed_states):
    *_, model, _ = seeded
    state = seed_states[2]
    main = json.loads(compile_model(model)["main.tf.json"])
    resources = main["resource"]
    (key,) = [k for k, body in resources["azurerm_user_assigned_identity"].items() if body["name"] == "deployer-id"]
    identity = adopted_identity(state)
    imports = {block["to"]: block["id"] for block in main["import"] if block["to"].startswith("azurerm_")}
    # ARM IDs compare without case (the fake, as ARM may, spells resourcegroups in lower case).
    assert sorted(i.lower() for i in imports.values()) == sorted(o["id"].lower() for o in [
        identity, *identity["credentials"].values(), *existing_assignments(state)] if ELSEWHERE not in o["id"])
    credentials = {f"azurerm_federated_identity_credential.{k}": body for k, body
                   in resources["azurerm_federated_identity_credential"].items()
                   if body["user_assigned_identity_id"] == "${azurerm_user_assigned_identity." + key + ".id}"}
    assignments = {f"azurerm_role_assignment.{k}": body for k, body in resources["azurerm_role_assignment"].items()
                   if body["principal_id"] == "${azurerm_user_assigned_identity." + key + ".principal_id}"}
    for address, body in credentials.items():
        found = CREDENTIAL_IMPORT_ID.fullmatch(imports[address])
        assert (found["name"], found["credential"]) == ("deployer-id", body["name"])
        existing = identity["credentials"][body["name"]]["properties"]
        assert (body["issuer"], body["subject"], body["audience"]) == (
            existing["issuer"], existing["subject"], existing["audiences"])
    for address, body in assignments.items():
        found = ASSIGNMENT_IMPORT_ID.fullmatch(imports[address])
        assert (found["scope"], found["guid"]) == (body["scope"], body["name"])
        (existing,) = [a for a in existing_assignments(state) if a["name"] == body["name"]]
        assert (existing["properties"]["scope"], fake_azure.role_guid(existing["properties"]["roleDefinitionId"])) == (
            body["scope"], fake_azure.role_guid(body.get("role_definition_id") or body["role_definition_name"]))
    # Every credential and assignment of the identity is imported: none is one Azure would refuse as a second.
    assert set(credentials) | set(assignments) <= set(imports)
    assert len(credentials) == len(identity["credentials"]) and len(assignments) == 1


def test_the_command_adopts_in_gcp_and_azure_through_their_endpoint_options(seeded, tmp_path):
    *_, model, (rest, grpc, azure) = seeded
    spec = write_spec(tmp_path, {"main.wiam.hcl": BASE_HCL})
    result = run_wiam("import", spec, "--target", "gcp.prod", "--target", "azure.prod", "--write", "--gcp-endpoint", rest,
                      "--gcp-grpc-endpoint", grpc, "--azure-endpoint", azure)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"written to {spec / 'adopted.wiam.hcl'}" in result.stdout
    assert compile_model(load_model(str(spec))) == compile_model(model)  # what the fixture proposed in-process


def gcp_and_azure_claims():
    subjects = ["repo:o/r:ref:refs/heads/main", "repo:o/r:environment:prod", "repo:o/m:ref:refs/heads/main",
                "repo:o/r:ref:refs/heads/dev", "repo:o/r:pull_request"]
    return [{"iss": "https://token.actions.githubusercontent.com", "sub": s, "aud": a}
            for s in subjects for a in ("https://github.com/o", "api://AzureADTokenExchange", "other")]


def test_gcp_and_azure_adopted_principals_trust_exactly_what_they_trusted(seeded):
    old, *_, model, _ = seeded
    new = json.loads(compile_model(model)["main.tf.json"])
    accounts = lambda module, claims: {a for a in gcp_principals_accepting(module, claims)  # noqa: E731
                                       if module["resource"]["google_service_account"][a]["account_id"] == "deployer"}
    identities = lambda module, claims: {i for i in azure_identities_accepting(module, claims)  # noqa: E731
                                         if module["resource"]["azurerm_user_assigned_identity"][i]["name"] == "deployer-id"}
    for claims in gcp_and_azure_claims():
        assert bool(accounts(new, claims)) == bool(accounts(old, claims)), claims
        assert bool(identities(new, claims)) == bool(identities(old, claims)), claims
    assert any(accounts(new, c) for c in gcp_and_azure_claims()) and any(identities(new, c) for c in gcp_and_azure_claims())


# The proposal's HCL, whatever the clouds hold: strings read back exactly, in labels and values, and
# nothing read from a cloud opens a block, a template or a comment.
CLOUD_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30).filter(lambda t: printable(t) == t)


@settings(max_examples=60, deadline=None)
@given(text=CLOUD_TEXT, number=st.integers(0, 10**6), flag=st.booleans())
def test_proposed_blocks_read_back_as_the_values_they_hold(text, number, flag):
    identity = {"issuer": text, "subject": text + "}", "seconds": number, "pull_request": flag}
    body = {"description": f'{text}" }}\n', "identity": [("identity", (), identity)] * 2,
            "grant": [("grant", ("aws", text), {"adopt": text, "resources": [text, "${x}"], "conditions": {text: {text: [text]}}})]}
    report = Report()
    document = read("adopted.wiam.hcl", "\n".join(hcl_blocks("workload", (text,), body)) + "\n", report)
    assert report.diagnostics == []
    assert document.data == {"workload": {text: {"description": body["description"], "identity": [identity] * 2,
                                                 "grant": {"aws": {text: body["grant"][0][2]}}}}}


def test_a_proposal_is_never_written_over_a_file_and_an_invalid_one_is_removed(tmp_path):
    spec = write_spec(tmp_path, {"main.wiam.hcl": SPEC, "adopted.wiam.hcl": "# mine\n"})
    invalid = Proposal('workload "w" {\n  grant "aws" "nowhere" {\n    adopt = "x"\n  }\n}\n', {"w": ("aws", "nowhere", "x")}, [])
    with pytest.raises(SpecError):
        write_proposal(invalid, str(spec), False)
    assert sorted(p.name for p in spec.iterdir()) == ["adopted.wiam.hcl", "main.wiam.hcl"]
    assert (spec / "adopted.wiam.hcl").read_text() == "# mine\n"


# The adopt setting, written by hand: validated against each cloud's name rules, unique where the
# cloud holds names unique, and never where no principal is made.
ADOPTING = {"aws": 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]\n    adopt = "{}"',
            "gcp": 'roles = ["roles/viewer"]\n    adopt = "{}"', "azure": 'roles = ["Reader"]\n    adopt = "{}"'}


@pytest.mark.parametrize("cloud, name", [("aws", "a" * 65), ("aws", "has space"), ("gcp", "Upper-case"),
                                         ("gcp", "short"), ("gcp", "ends-with-"), ("azure", "-lead"), ("azure", "ab")])
def test_an_adopted_name_outside_the_clouds_rules_is_an_error_at_its_line(tmp_path, cloud, name):
    text = BASE_HCL + workload_hcl("w", grants=[(cloud, "prod", ADOPTING[cloud].replace("{}", name))])
    (error,) = spec_errors(write_spec(tmp_path, {"main.wiam.hcl": text}))
    assert (error.pos.line, error.block) == (text[:text.index("adopt =")].count("\n") + 1, f'grant "{cloud}" "prod" in workload "w"')
    assert "adopt" in error.message and error.hint


@pytest.mark.parametrize("cloud, first, second", [("aws", "Deployer", "deployer"), ("gcp", "deployer", "deployer"),
                                                  ("azure", "Deployer-id", "deployer-id")])
def test_two_grants_adopting_one_object_are_refused(tmp_path, cloud, first, second):
    text = BASE_HCL + "".join(workload_hcl(w, grants=[(cloud, "prod", ADOPTING[cloud].replace("{}", name))])
                              for w, name in (("a", first), ("b", second)))
    (error,) = spec_errors(write_spec(tmp_path, {"main.wiam.hcl": text}))
    assert error.block == f'grant "{cloud}" "prod" in workload "b"' and "rename one of the two" in error.hint


def test_a_direct_gcp_grant_cannot_adopt(tmp_path):
    text = BASE_HCL + workload_hcl("w", grants=[("gcp", "prod", ADOPTING["gcp"].replace("{}", "deployer") + '\n    mode = "direct"')])
    (error,) = spec_errors(write_spec(tmp_path, {"main.wiam.hcl": text}))
    assert 'mode = "direct" makes no service account to adopt' in error.message and "remove adopt" in error.hint


def test_json_output_carries_the_proposal(endpoint, tmp_path):
    spec = write_spec(tmp_path, {"main.wiam.hcl": SPEC})
    result = wiam_import(spec, endpoint, "--format", "json")
    assert result.returncode == 0, result.stderr
    adopt = json.loads(result.stdout)["adopt"]
    assert adopt["workloads"] == {"GitHubDeploy": ["aws", "prod", "GitHubDeploy"], "hostile": ["aws", "prod", "hostile"]}
    assert adopt["file"] is None and adopt["unread"] == {} and 'adopt                = "GitHubDeploy"' in adopt["text"]


@settings(max_examples=20, deadline=None)
@given(names=st.lists(st.from_regex(r"[A-Za-z0-9_+=,.@-]{1,64}", fullmatch=True), min_size=1, max_size=4,
                      unique_by=str.lower))
def test_any_role_names_give_a_valid_spec_importing_exactly_them(names):
    """Whatever IAM role names the account holds: each gets a workload of a valid, distinct name, and
    the compiled module imports exactly those roles by name."""
    trusted = (Trusted(f"https://{GITHUB}", "github_actions", {"repository": "o/r", "ref": "refs/heads/main"},
                       "sts.amazonaws.com"),)
    found = [Adoptable(name, trusted, {"actions": ["s3:GetObject"], "resources": ["*"]}, "sts.amazonaws.com")
             for name in names]
    with tempfile.TemporaryDirectory() as root:
        spec = write_spec(Path(root), {"main.wiam.hcl": SPEC})
        model = load_model(str(spec))
        proposal = propose(model, [Adopted("aws", "prod", found)])
        assert sorted(cloud_name for _, _, cloud_name in proposal.workloads.values()) == sorted(names)
        write_proposal(proposal, str(spec), False)
        main = json.loads(compile_model(load_model(str(spec)))["main.tf.json"])
    assert sorted(block["id"] for block in main["import"]) == sorted(names)


PART = st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True)
LABEL_PATTERN = re.compile(r"[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?")  # a DNS label: namespaces, service accounts
LABEL = st.from_regex(LABEL_PATTERN, fullmatch=True)
SUBJECTS = st.one_of(  # (subject, the kind it reads as at GitHub's URL, elsewhere)
    st.builds(lambda o, r, b: (f"repo:{o}/{r}:ref:refs/heads/{b}", "github_actions", "generic_oidc"), PART, PART, PART),
    st.builds(lambda o, r, e: (f"repo:{o}/{r}:environment:{e}", "github_actions", "generic_oidc"), PART, PART, PART),
    st.builds(lambda n, a: (f"system:serviceaccount:{n}:{a}", "generic_oidc", "kubernetes"), *[LABEL] * 2),
    st.builds(lambda n, a: (f"system:serviceaccount:{n}:{a}", "generic_oidc", "generic_oidc"), PART.filter(
        lambda p: not LABEL_PATTERN.fullmatch(p)), PART),  # no namespace: no Kubernetes identity can say it
    st.builds(lambda o, b: (f"repo:{o}/x y:ref:refs/heads/{b}", "generic_oidc", "generic_oidc"), PART, PART),
    st.builds(lambda t: (t, None, None), st.text(max_size=40)))


@settings(max_examples=80, deadline=None)
@given(github=st.booleans(), case=SUBJECTS)
def test_a_trusted_subject_reads_as_fields_that_give_exactly_it(github, case):
    subject, at_github, elsewhere = case
    url = f"https://{GITHUB}" if github else "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC"
    kind, fields = identity_fields(url, subject)
    assert KINDS[kind].subject(fields) == subject
    expected = at_github if github else elsewhere
    assert kind == expected or expected is None


def test_an_object_whose_every_subject_a_spec_refuses_is_not_proposed(tmp_path):
    model = load_model(str(write_spec(tmp_path, {"main.wiam.hcl": SPEC})))
    unsayable = Trusted(f"https://{GITHUB}", "generic_oidc", {"subject": UNSAYABLE_SUBJECT}, "sts.amazonaws.com")
    proposal = propose(model, [Adopted("aws", "prod", [Adoptable("r", (unsayable,), {"managed_policies": [READER]},
                                                                 "sts.amazonaws.com")])])
    assert proposal.workloads == {} and proposal.issuers == []
    assert "# not proposed: 'r' on aws target 'prod': no subject a spec can hold" in proposal.text


def test_an_azure_assignment_under_a_condition_is_left_as_it_is_not_adopted_without_it(seed_states, tmp_path):
    """Read through the SDK from the fake: a grant holds no condition, so an assignment under one is left
    (adopting it would drop the condition, widening the role); an identity left with none is not proposed."""
    azure_state = copy.deepcopy(seed_states[2])
    made = adopted_identity(azure_state)
    scope = f"/subscriptions/{SUBSCRIPTION}"
    condition = "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'logs'"
    account = azure_state.subscription(SUBSCRIPTION)
    account["assignments"] = [a for a in account["assignments"] if a["properties"]["principalId"] !=
                              made["properties"]["principalId"]]
    account["assignments"].append(fake_azure.assignment(SUBSCRIPTION, "c0000000-0000-4000-8000-000000000002", scope,
                                                        BLOB_READER, made["properties"]["principalId"], condition=condition))
    model = load_model(str(write_spec(tmp_path, {"main.wiam.hcl": BASE_HCL})))
    with fake_azure.fake_azure(azure_state) as azure:
        (target,) = find_adoptable(model, ["azure.prod"], {"azure": registry.get("azure").live.connect(azure)}.get)
    (found,) = [f for f in target.found if f.name == "deployer-id"]
    assert found.grant is None and found.left[0] == "it holds no role assignment a grant can hold"
    assert any("c0000000-0000-4000-8000-000000000002" in entry and condition in entry for entry in found.left)
    proposal = propose(model, [target])
    assert not proposal.workloads
    assert "# not proposed: 'deployer-id' on azure target 'prod': it holds no role assignment a grant can hold" in proposal.text
