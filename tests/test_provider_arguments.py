"""Every resource and provider configuration wiam emits exists in the real provider schemas, as the
providers' docs pages list them (tests/data/provider_arguments.json, made as tests/data/README.md
says): a known type, only documented arguments, nested blocks and meta-arguments, every required
argument present, nested blocks likewise, and required_providers naming the documented sources."""

import json
import re
import sys
import tempfile
from pathlib import Path

import hcl2
import pytest
from hypothesis import given, settings
from packaging.specifiers import SpecifierSet

from support.markdown import doc_blocks
from support.paths import EXAMPLE_SPECS, EXAMPLES, LANGUAGE_MD, ROOT
from support.provider_docs import sections
from support.specs import BASE_HCL, compiled_files, workload_hcl, write_spec
from test_fuzz import RENDER, documents
from wiam.compile import compile_folder
from wiam.diagnostics import SpecError

ARGUMENTS = json.loads((ROOT / "tests" / "data" / "provider_arguments.json").read_text(encoding="utf-8"))
RESOURCES, PROVIDERS, DATA = ARGUMENTS["resources"], ARGUMENTS["providers"], ARGUMENTS["data_sources"]
META = ARGUMENTS["meta_arguments"]
sys.path.insert(0, str(ROOT / "bench"))
import generate  # noqa: E402  (bench/generate.py: the benchmark's organisations)

COMPLETE = [b for b in doc_blocks(LANGUAGE_MD.read_text(encoding="utf-8")) if not b.fragment]


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def block_problems(where: str, body: dict, schema: dict, meta=()) -> list[str]:
    """What in `body` the documented `schema` (required, optional, blocks, one_of...) does not allow."""
    blocks = schema.get("blocks", {})
    known = set(schema["required"]) | set(schema["optional"]) | set(blocks) | set(schema.get("deprecated", {}))
    problems = [f"{where}: {key!r} is no documented argument or block" for key in sorted(set(body) - known - set(meta))]
    problems += [f"{where}: required {key!r} is missing" for key in schema["required"]
                 + schema.get("required_blocks", []) if body.get(key) is None]  # null is unset to Terraform
    for group in schema.get("one_of", []) + schema.get("one_of_blocks", []):
        if sum(key in body for key in group) != 1:
            problems.append(f"{where}: exactly one of {group} must be set")
    for group in schema.get("at_most_one_of", []):
        if sum(key in body for key in group) > 1:
            problems.append(f"{where}: at most one of {group} may be set")
    for name in sorted(set(blocks) & set(body)):
        for index, nested in enumerate(_as_list(body[name])):
            if not isinstance(nested, dict):
                problems.append(f"{where}.{name}[{index}]: a block, written as an object, not {nested!r}")
                continue
            problems += block_problems(f"{where}.{name}[{index}]", nested, blocks[name])
    return problems


def required_providers(versions: str, setting: str = "source") -> dict[str, str]:
    """Local name to source (or version) in versions.tf (python-hcl2 keeps strings quoted, marks blocks __is_block__)."""
    return {name: json.loads(settings[setting]) for block in hcl2.loads(versions)["terraform"]
            for entry in block.get("required_providers", []) for name, settings in entry.items()
            if not name.startswith("__")}


def module_problems(main: dict, versions: str) -> list[str]:
    problems = []
    for kind, named in sorted(main.get("resource", {}).items()):
        if kind not in RESOURCES:
            problems.append(f"resource type {kind} is not in tests/data/provider_arguments.json: add its documented "
                            f"arguments (required, optional, nested blocks) from its provider's docs page, with the source")
            continue
        for name, body in sorted(named.items()):
            problems += block_problems(f"{kind}.{name}", body, RESOURCES[kind], META["resource"])
    for kind, named in sorted(main.get("data", {}).items()):
        if kind not in DATA:
            problems.append(f"data source {kind} is not in tests/data/provider_arguments.json: add its documented "
                            f"arguments from its provider's docs page (website/docs/d/), with the source")
            continue
        for name, body in sorted(named.items()):
            problems += block_problems(f"data.{kind}.{name}", body, DATA[kind], META["data"])
    for local, configs in sorted(main.get("provider", {}).items()):
        if local not in PROVIDERS:
            problems.append(f"provider {local} is not in tests/data/provider_arguments.json: add its documented arguments")
            continue
        for index, config in enumerate(configs):
            problems += block_problems(f"provider.{local}[{index}]", config, PROVIDERS[local], META["provider"])
    required = required_providers(versions)
    for local, source in sorted(required.items()):
        documented = PROVIDERS.get(local, {}).get("source")
        if source != documented:
            problems.append(f"required_providers.{local}: source {source!r}, documented {documented!r}")
    problems += import_problems(main)
    used = set(main.get("provider", {})) | {RESOURCES[kind]["provider"] for kind in main.get("resource", {})
                                            if kind in RESOURCES} | {DATA[kind]["provider"] for kind in main.get("data", {})
                                                                     if kind in DATA}
    problems += [f"provider {local} is used but not in required_providers" for local in sorted(used - set(required))]
    return problems


def import_problems(main: dict) -> list[str]:
    """Terraform's import block (language/block/import): `to` a resource of the module, a string `id`,
    and `provider` the configuration that resource names."""
    problems = []
    for index, block in enumerate(main.get("import", [])):
        where = f"import[{index}]"
        problems += [f"{where}: {key!r} is no import argument" for key in sorted(set(block) - {"to", "id", "provider"})]
        kind, _, name = block.get("to", "").partition(".")
        resource = main.get("resource", {}).get(kind, {}).get(name)
        if resource is None:
            problems.append(f"{where}: to {block.get('to')!r} is no resource of the module")
        elif block.get("provider") != resource.get("provider"):
            problems.append(f"{where}: provider {block.get('provider')!r}, the resource's is {resource.get('provider')!r}")
        if not isinstance(block.get("id"), str) or not block["id"]:
            problems.append(f"{where}: id must be a non-empty string")
    return problems


def output_problems(files: dict[str, bytes | dict | str]) -> list[str]:
    """Problems of every root module among compiled files, by folder."""
    def text(value):
        return value.decode() if isinstance(value, bytes) else value

    def parsed(value):
        return value if isinstance(value, dict) else json.loads(value)

    problems = []
    for path in sorted(p for p in files if p.endswith("main.tf.json")):
        folder = path[: -len("main.tf.json")]
        problems += [f"{folder or './'}: {p}" for p in
                     module_problems(parsed(files[path]), text(files[folder + "versions.tf"]))]
    return problems


def seen_types(files: dict, block: str = "resource") -> set[str]:
    return {kind for path, value in files.items() if path.endswith("main.tf.json")
            for kind in (value if isinstance(value, dict) else json.loads(value)).get(block, {})}


@pytest.mark.parametrize("split", [False, True], ids=["plain", "split"])
@pytest.mark.parametrize("example", EXAMPLE_SPECS, ids=lambda p: p.name)
def test_examples_emit_documented_arguments(example, split):
    files = compiled_files(example, split=split)
    assert files
    assert output_problems(files) == []


@pytest.mark.parametrize("block", COMPLETE, ids=lambda b: f"line{b.line}-{b.lang}")
def test_language_doc_examples_emit_documented_arguments(tmp_path, block):
    folder = write_spec(tmp_path / "spec", {f"spec.wiam.{block.lang}": block.text})
    for split in (False, True):
        assert output_problems(compiled_files(folder, split=split)) == []


# A spec reaching what the examples do not: every GCP resource kind (direct bindings too) and the
# GitHub side for two owners (aliased providers).
GCP_RESOURCES = ["projects/_/buckets/my-bucket", "projects/p1/topics/t", "projects/p1/subscriptions/s",
                 "projects/p1/secrets/s", "projects/p1/datasets/d_1", "projects/p1/locations/eu/repositories/r",
                 "projects/p1/locations/eu/keyRings/k/cryptoKeys/c",
                 "projects/p1/serviceAccounts/sa@p1.iam.gserviceaccount.com", "projects/other-project"]
MANAGED = 'issuer "managed" {\n  kind = "github_actions"\n  manage_subject_claims = true\n}\n'
REACH = BASE_HCL + MANAGED + "".join(
    workload_hcl(f"w{index}", identities=[f'issuer = "managed"\n    repository = "owner{index % 2}/app{index}"\n'
                                          f'    ref = "refs/heads/main"'],
                 grants=[("gcp", "prod", f'roles = ["roles/viewer"]\n    resource = "{name}"\n'
                                         f'    mode = "{("direct", "service_account")[index % 2]}"')])
    for index, name in enumerate(GCP_RESOURCES))


# Azure's flexible credentials (azapi): an identity pinned by a claim its subject cannot carry.
FLEXIBLE = json.dumps({
    "issuer": {"gh": {"kind": "github_actions"}},
    "target": {"azure": {"flex": {"tenant_id": "00000000-0000-0000-0000-000000000000", "location": "eastus",
                                  "subscription_id": "11111111-1111-1111-1111-111111111111",
                                  "resource_group": "ids", "flexible_credentials": True}}},
    "workload": {"w": {"identity": [{"issuer": "gh", "repository": "acme/app", "ref": "refs/heads/main",
                                     "claims": {"repository_id": "42"}}],
                       "grant": {"azure": {"flex": {"roles": ["Reader"]}}}}}})
# Time windows on grants of every cloud, on the GCP kinds whose bindings take conditions: what the clouds
# write for a window (conditions, PIM schedules) is checked like the rest.
WINDOW = '\n    reason = "change 42"\n    not_before = "2026-11-01T00:00:00Z"\n    expires = "2027-01-01T00:00:00Z"'
WINDOWED = [("gcp", f'roles = ["{role}"]\n    resource = "{name}"\n    mode = "{mode}"') for name, role in [
    ("projects/_/buckets/my-bucket", "roles/storage.objectViewer"), ("projects/p1/secrets/s", "roles/secretmanager.secretAccessor"),
    ("projects/p1/datasets/d_1", "roles/bigquery.dataViewer"), ("projects/other-project", "roles/pubsub.publisher"),
    ("projects/p1/serviceAccounts/sa@p1.iam.gserviceaccount.com", "roles/iam.serviceAccountTokenCreator")]
    for mode in ("direct", "service_account")] + [
    ("aws", 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]'), ("azure", 'roles = ["Reader"]')]
WINDOWS = BASE_HCL + "".join(workload_hcl(f"t{index}", grants=[(cloud, "prod", body + WINDOW)])
                             for index, (cloud, body) in enumerate(WINDOWED))
# Adopted principals of every cloud (and an AWS role's inline policy): their import blocks are checked too.
ADOPTED = BASE_HCL + workload_hcl("adopted", grants=[
    ("aws", "prod", 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]\n    adopt = "GitHubDeploy"\n'
                    '    adopt_policy = "deploy"'),
    ("gcp", "prod", 'roles = ["roles/viewer"]\n    adopt = "deployer"'),
    ("azure", "prod", 'roles = ["Reader"]\n    adopt = "deployer-id"\n'
                      '    adopt_credentials = { main = "repo:acme/app:ref:refs/heads/main" }\n'
                      '    adopt_assignments = { "Reader" = "0b8d9f1e-2c3a-4e5f-8a7b-1c2d3e4f5a6b" }')])
# The Kubernetes-native kinds: Pod Identity associations (one disabled, one windowed), GKE principals
# bound directly and through an account, namespace-wide too.
PODS = {"kind": "eks_pod_identity"}, {"kind": "gke"}
KUBERNETES = json.dumps({
    "issuer": {"pods": PODS[0], "gke": PODS[1]},
    "target": {"aws": {"prod": {"account_id": "123456789012", "region": "eu-west-1"}},
               "gcp": {"prod": {"project_id": "acme-prod", "project_number": "123456789012"}}},
    "workload": {
        "eks": {"identity": [{"issuer": "pods", "cluster": "c1", "namespace": "ns", "service_account": "a"},
                             {"issuer": "pods", "cluster": "c1", "namespace": "ns", "service_account": "b",
                              "disabled": True, "reason": "INC-1"},
                             {"issuer": "pods", "cluster": "c2", "namespace": "ns", "service_account": "a",
                              "not_before": "2026-11-01T00:00:00Z", "expires": "2027-01-01T00:00:00Z", "reason": "move"}],
                "grant": {"aws": {"prod": {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}}}},
        **{f"gke-{mode}": {"identity": [{"issuer": "gke", "project_id": "acme-prod", "namespace": mode.replace("_", "-"),
                                         "service_account": "a"}] + [{"issuer": "gke", "project_id": "acme-prod",
                                                                      "namespace": "all", "all_service_accounts": True}
                                                                     ] * (mode == "direct"),
                           "grant": {"gcp": {"prod": {"roles": ["roles/storage.objectViewer"], "mode": mode,
                                                      "resource": "projects/_/buckets/acme-b"}}}}
           for mode in ("direct", "service_account")}}})
# Chains: a managed identity named by a workload granted in gcp and aws (with --split, read by data source).
CHAINS = BASE_HCL + ('issuer "entra" {\n  kind = "azure_managed_identity"\n'
                     '  tenant_id = "00000000-0000-0000-0000-000000000000"\n  audience = "api://wiam-federation"\n}\n'
                     + workload_hcl("fn", grants=[("azure", "prod", 'roles = ["Reader"]')])
                     + workload_hcl("caller", identities=['issuer = "entra"\n    workload = "fn"'], grants=[
                         ("gcp", "prod", 'roles = ["roles/viewer"]'),
                         ("aws", "prod", 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]')]))
FIXED = {"chains": ({"main.wiam.hcl": CHAINS}, {"google_iam_workload_identity_pool_provider", "aws_iam_role"}),
         "kubernetes": ({"spec.wiam.json": KUBERNETES}, {"aws_eks_pod_identity_association",
                                                         "google_storage_bucket_iam_member"}),
         "reach": ({"main.wiam.hcl": REACH}, {"github_actions_repository_oidc_subject_claim_customization_template",
                                                "google_kms_crypto_key_iam_member"}),
         "flexible": ({"spec.wiam.json": FLEXIBLE}, {"azapi_resource"}),
         "adopted": ({"main.wiam.hcl": ADOPTED}, {"aws_iam_role", "aws_iam_role_policy", "google_service_account",
                                                  "azurerm_user_assigned_identity",
                                                  "azurerm_federated_identity_credential", "azurerm_role_assignment"}),
         "windows": ({"main.wiam.hcl": WINDOWS}, {"aws_iam_role_policy", "azurerm_role_assignment",
                                                  "google_storage_bucket_iam_member"})}


@pytest.mark.parametrize("split", [False, True], ids=["plain", "split"])
@pytest.mark.parametrize("name", sorted(FIXED))
def test_every_gcp_kind_the_github_side_and_azapi_emit_documented_arguments(tmp_path, name, split):
    spec, reached = FIXED[name]
    files = compiled_files(write_spec(tmp_path, spec), split=split)
    assert output_problems(files) == []
    assert reached <= seen_types(files)
    imported = sorted(block["to"].split(".")[0] for path, main in files.items() if path.endswith("main.tf.json")
                      for block in (main if isinstance(main, dict) else json.loads(main)).get("import", []))
    assert imported == (sorted(reached) if name == "adopted" else [])


def test_an_import_block_of_no_resource_or_another_provider_is_reported():
    main = {"resource": {"aws_iam_role": {"r": GOOD_ROLE}},
            "import": [{"to": "aws_iam_role.r", "id": "r", "provider": "aws.other"},
                       {"to": "aws_iam_role.s", "id": "", "provider": "aws.prod", "for_each": []}]}
    assert import_problems(main) == [
        "import[0]: provider 'aws.other', the resource's is 'aws.prod'",
        "import[1]: 'for_each' is no import argument", "import[1]: to 'aws_iam_role.s' is no resource of the module",
        "import[1]: id must be a non-empty string"]


def test_the_pinned_versions_admit_the_checked_pages(tmp_path):
    """Pages were read at releases the pins admit: a pin moved past them means reading the pages again."""
    pins = {}
    fixed = [write_spec(tmp_path / name, spec) for name, (spec, _) in FIXED.items()]
    for folder in [*EXAMPLE_SPECS, *fixed]:
        pins.update(required_providers(compiled_files(folder)["versions.tf"], "version"))
    assert set(pins) == set(PROVIDERS)
    for entry in [*RESOURCES.values(), *({"provider": k, "source": v["config_source"]} for k, v in PROVIDERS.items())]:
        checked = entry["source"].get("version")
        if checked and entry["provider"] in pins:  # aws: the search index's pages carry no release
            assert SpecifierSet(pins[entry["provider"]]).contains(checked.lstrip("v")), (entry, pins)


def test_a_benchmark_organisation_emits_documented_arguments(tmp_path):
    document, _ = generate.with_conditions(generate.organisation(60, seed=7), 0.25, seed=7)
    generate.write(document, str(tmp_path), "mixed")
    for split in (False, True):
        assert output_problems(compile_folder(str(tmp_path), split=split)) == []


def test_the_fixed_inputs_reach_every_recorded_type(tmp_path):
    """Examples, the language reference and the specs above emit every type the file records, so no
    record goes unchecked."""
    seen, read = set(), set()
    for example in EXAMPLE_SPECS:
        seen |= seen_types(compiled_files(example))
        read |= seen_types(compiled_files(example, split=True), "data")  # the chains' lookups
    for index, block in enumerate(COMPLETE):
        seen |= seen_types(compiled_files(write_spec(tmp_path / str(index), {f"s.wiam.{block.lang}": block.text})))
    for name, (spec, _) in FIXED.items():
        seen |= seen_types(compiled_files(write_spec(tmp_path / name, spec)))
        read |= seen_types(compiled_files(tmp_path / name, split=True), "data")
    assert set(RESOURCES) - seen == set() and set(DATA) - read == set()


@settings(max_examples=25, deadline=None)
@given(document=documents())
def test_generated_specs_emit_documented_arguments(document):
    with tempfile.TemporaryDirectory() as root:
        folder = write_spec(Path(root), {"main.wiam.json": RENDER["json"](document)})
        for split in (False, True):
            try:
                files = compile_folder(str(folder), split=split)
            except SpecError:
                return  # an invalid draw: no Terraform to check
            assert output_problems(files) == []


# The checker itself: a wrong body is caught, with a message saying what to do.
GOOD_ROLE = {"provider": "aws.prod", "assume_role_policy": "{}", "name": "r"}


def test_an_undocumented_argument_is_reported():
    assert block_problems("aws_iam_role.r", {**GOOD_ROLE, "thumbprint": "x"}, RESOURCES["aws_iam_role"],
                          META["resource"]) == ["aws_iam_role.r: 'thumbprint' is no documented argument or block"]


def test_a_missing_required_argument_is_reported_in_nested_blocks_too():
    pool = RESOURCES["google_iam_workload_identity_pool_provider"]
    body = {"workload_identity_pool_id": "p", "workload_identity_pool_provider_id": "q", "oidc": {"jwks_json": "{}"}}
    assert block_problems("p", body, pool) == ["p.oidc[0]: required 'issuer_uri' is missing"]
    assert block_problems("p", {**body, "oidc": {"issuer_uri": "u"}, "saml": {"idp_metadata_xml": "x"}}, pool) == [
        "p: exactly one of ['aws', 'oidc', 'saml', 'x509'] must be set"]


def test_pim_schedule_blocks_are_checked():
    pim = RESOURCES["azurerm_pim_active_role_assignment"]
    body = {"scope": "s", "role_definition_id": "r", "principal_id": "p", "justification": "j",
            "ticket": {"number": "1", "system": "wiam"},
            "schedule": {"start_date_time": "t", "expiration": {"end_date_time": "t", "duration_hours": 1}}}
    assert block_problems("a", body, pim) == [
        "a.schedule[0].expiration[0]: at most one of ['duration_days', 'duration_hours', 'end_date_time'] may be set"]


def test_an_unknown_resource_type_says_to_add_its_arguments():
    (problem,) = module_problems({"resource": {"aws_iam_user": {"u": {"name": "u"}}}}, "terraform {}\n")
    assert "aws_iam_user is not in tests/data/provider_arguments.json: add its documented arguments" in problem


def test_a_data_source_is_checked_like_a_resource():
    versions = 'terraform {\n  required_providers {\n    google = {\n      source = "hashicorp/google"\n    }\n  }\n}\n'
    data = {"google_service_account": {"a": {"provider": "google.prod", "unique_id": "1"}},
            "google_service_accounts": {"b": {}}}
    assert module_problems({"data": data}, versions) == [
        "data.google_service_account.a: 'unique_id' is no documented argument or block",
        "data.google_service_account.a: required 'account_id' is missing",
        "data source google_service_accounts is not in tests/data/provider_arguments.json: add its documented "
        "arguments from its provider's docs page (website/docs/d/), with the source"]
    (problem,) = module_problems({"data": {"azurerm_user_assigned_identity": {"c": {
        "name": "n", "resource_group_name": "g"}}}}, versions)
    assert problem == "provider azurerm is used but not in required_providers"


def test_an_undocumented_provider_source_is_reported():
    versions = 'terraform {\n  required_providers {\n    aws = {\n      source = "acme/aws"\n    }\n  }\n}\n'
    assert module_problems({"provider": {"aws": [{"alias": "prod", "region": "x"}]}}, versions) == [
        "required_providers.aws: source 'acme/aws', documented 'hashicorp/aws'"]


def test_every_recorded_type_names_its_provider_and_page():
    for kind, entry in [*RESOURCES.items(), *DATA.items()]:
        assert kind.startswith(entry["provider"] + "_") and entry["provider"] in PROVIDERS
        assert entry["source"]["repository"] == PROVIDERS[entry["provider"]]["repository"]
        assert re.fullmatch(r"[0-9a-f]{40}", entry["source"]["commit"]), kind
        assert entry["source"]["path"].endswith((".md", ".markdown")), kind


def test_no_deprecated_argument_is_emitted():
    files = compiled_files(EXAMPLES / "aks-azure")
    deprecated = [f"{kind}.{name}.{key}" for kind, named in files["main.tf.json"]["resource"].items()
                  for name, body in named.items() for key in RESOURCES[kind].get("deprecated", {}) if key in body]
    assert deprecated == []


# tests/support/provider_docs.py, which compared the file with the pages, reads both page formats.
LEGACY_PAGE = """## Argument Reference

* `member/members` - (Required) Identities.
* `policy_data` - (Required only by `google_x_iam_policy`) The policy.
* `workload_identity_pool_id` -
  (Required)
  The ID.
* `condition` - (Optional) A condition. Structure is [documented below](#nested_condition).

<a name="nested_condition"></a>The `condition` block supports:

* `title` - (Required) A title.

## Attributes Reference

* `etag` - (Computed) Not an argument.
"""
PLUGIN_PAGE = """## Schema

### Required

- `type` (String) The type.

### Optional

- `identity` (Block List) See below.

### Read-Only

- `id` (String) Not an argument.

<a id="nested--identity"></a>
### Nested Schema for `identity`

Required:

- `type` (String) Its type.
"""


def test_the_page_reader_reads_both_formats():
    assert sections(LEGACY_PAGE, "google_x_iam_member") == {
        "": {"member": "required", "workload_identity_pool_id": "required", "condition": "optional"},
        "nested_condition": {"title": "required"}}
    assert sections(PLUGIN_PAGE, "azapi_resource") == {
        "": {"type": "required", "identity": "optional"}, "nested.identity": {"type": "required"}}
