"""Derived cloud object names (roles, service accounts, identities, pool providers, split folders) are
unique where the cloud or a file system compares them, or validation refuses the spec naming both owners."""

import json
import re
import tempfile
from pathlib import Path

from hypothesis import given, settings, strategies as st

from support.specs import compiled_files, resources, spec_errors, write_spec
from wiam.compile import load_model
from wiam.names import short_hash, slug
from wiam.providers import aws, azure, gcp
from wiam.providers.azure.settings import credential_name
from wiam.providers.gcp.settings import provider_id

NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*(_[A-Za-z0-9-]+)*")  # the schema's name pattern, at most 64
ISSUER = {"kc": {"kind": "generic_oidc", "url": "https://sso.example/realms/p"}}


def _aws(index: int) -> dict:
    return {"account_id": f"{index + 100000000000}"}


def _gcp(index: int, project: str = "") -> dict:
    return {"project_id": project or f"acme-project-{index}", "project_number": f"{index + 100000}",
            "pool_id": f"pool-{index}"}


def _azure(index: int) -> dict:
    return {"tenant_id": "00000000-0000-0000-0000-000000000000",
            "subscription_id": f"11111111-1111-1111-1111-{index:012d}", "resource_group": f"rg-{index}",
            "location": "eastus"}


GRANTS = {"aws": {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::pub/*"]},
          "gcp": {"roles": ["roles/viewer"]},
          "azure": {"roles": ["Reader"]}}


def _spec(targets: dict[str, dict[str, dict]], workloads: list[str], issuers: dict = ISSUER) -> dict:
    """Every workload granted on every target, each with its own subject."""
    issuer = next(iter(issuers))
    return {"issuer": issuers, "target": targets, "workload": {
        name: {"identity": [{"issuer": issuer, "subject": f"subject-{index}", "audience": "aud"}],
               "grant": {cloud: {t: GRANTS[cloud] for t in named} for cloud, named in targets.items()}}
        for index, name in enumerate(workloads)}}


def _write(folder: Path, spec: dict) -> Path:
    return write_spec(folder, {"s.wiam.json": json.dumps(spec, indent=1)})


ALL_CLOUDS = {"aws": {"prod": _aws(0)}, "gcp": {"prod": _gcp(0)}, "azure": {"prod": _azure(0)}}


def test_fitted_and_case_variants_of_one_workload_name_are_refused_per_cloud(tmp_path):
    """The review's reproduction: Deploy, deploy and the GCP fitted form of Deploy."""
    fitted = gcp.settings.service_account_id("Deploy").removeprefix("wiam-")  # Deploy is lower-cased, so hashed
    errors = spec_errors(_write(tmp_path, _spec(ALL_CLOUDS, ["Deploy", fitted, "deploy"])))
    by_cloud = {e.block.split('"')[1]: e for e in errors}
    assert len(errors) == 3 and set(by_cloud) == {"aws", "gcp", "azure"}
    assert f"service account ID 'wiam-{fitted}' of workload '{fitted}'" in by_cloud["gcp"].message
    assert "is also the service account ID of workload 'Deploy'" in by_cloud["gcp"].message
    for cloud, kind in (("aws", "IAM role name"), ("azure", "managed identity name")):
        assert f"{kind} 'wiam-deploy' of workload 'deploy'" in by_cloud[cloud].message
        assert f"equals 'wiam-Deploy', ignoring case, which is the {kind} of workload 'Deploy'" in by_cloud[cloud].message
        assert by_cloud[cloud].hint.endswith("differ in more than case")
    for error in errors:  # reported at the later grant, naming the earlier one's place
        assert re.search(r"\(at .*s\.wiam\.json:\d+:\d+\)", error.message)
        assert error.pos.line > 1 and error.block.startswith("grant ")


def test_a_name_equal_to_a_cut_and_hashed_role_name_is_refused(tmp_path):
    """collide2: a 60-character name is cut and hashed to 64; a 59-character name equals it as it is."""
    long = "a" + "b" * 59
    fitted = aws.settings.role_name(long).removeprefix("wiam-")
    assert len(aws.settings.role_name(fitted)) == 64 and NAME.fullmatch(fitted)
    errors = spec_errors(_write(tmp_path, _spec({"aws": {"prod": _aws(0)}}, [long, fitted])))
    assert len(errors) == 1 and f"workload {long!r}" in errors[0].message and f"workload {fitted!r}" in errors[0].message


def test_one_workload_on_two_pools_of_one_project_gets_one_service_account_id_twice(tmp_path):
    """Service account IDs are unique per project, which two targets with their own pools may share."""
    targets = {"gcp": {"blue": _gcp(1, "acme-shared"), "green": _gcp(2, "acme-shared")}}
    errors = spec_errors(_write(tmp_path, _spec(targets, ["deploy"])))
    assert len(errors) == 1
    assert "of workload 'deploy' on gcp target 'green' is also the service account ID of workload 'deploy' " \
           "on gcp target 'blue'" in errors[0].message and "project acme-shared" in errors[0].message


def test_split_folders_differing_only_in_case_are_refused(tmp_path):
    """splitcase: aws "prod" and aws "Prod" would share one folder on macOS or Windows."""
    targets = {"aws": {"prod": _aws(0), "Prod": _aws(1)}}
    errors = spec_errors(_write(tmp_path, _spec(targets, ["app"])))
    assert len(errors) == 1 and errors[0].block == 'target "aws" "Prod"'
    assert "folder name 'aws-Prod' of aws target 'Prod' equals 'aws-prod'" in errors[0].message


def test_provider_id_fallback_never_reuses_a_taken_id(tmp_path):
    """Issuers named like another issuer's fitted provider ID and like its fallback: each gets its own."""
    long = "c" * 40  # cut and hashed; the two taken IDs sort before it
    taken = provider_id(long, "", 0)
    fallback = provider_id(f"{long}-{short_hash(long, 'aud', '0')}", "", 0)
    issuers = {name: {"kind": "generic_oidc", "url": f"https://sso.example/{index}"}
               for index, name in enumerate([taken, fallback, long])}
    spec = _spec({"gcp": {"prod": _gcp(0)}}, [])
    spec["issuer"] = issuers
    spec["workload"] = {f"w{index}": {"identity": [{"issuer": name, "subject": f"s{index}", "audience": "aud"}],
                                      "grant": {"gcp": {"prod": GRANTS["gcp"]}}} for index, name in enumerate(issuers)}
    module = compiled_files(_write(tmp_path, spec))["main.tf.json"]
    ids = [p["workload_identity_pool_provider_id"]
           for p in resources(module, "google_iam_workload_identity_pool_provider").values()]
    assert len(ids) == len(set(ids)) == 3 and {taken, fallback} < set(ids)


# Names near one another: case variants, and names equal to another's fitted form in some cloud.
BASE = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,6}(_[A-Za-z0-9]{1,3})?", fullmatch=True)
VARIANTS = {
    "same": lambda n: n,
    "swapcase": str.swapcase,
    "gcp": lambda n: gcp.settings.service_account_id(n).removeprefix("wiam-"),
    "long": lambda n: (n + "-" + "b" * 64)[:64],
    "aws-cut": lambda n: aws.settings.role_name((n + "-" + "b" * 64)[:64]).removeprefix("wiam-"),
}


@st.composite
def name_sets(draw, max_size: int) -> list[str]:
    names = []
    for base in draw(st.lists(BASE, min_size=1, max_size=max_size)):
        for variant in draw(st.lists(st.sampled_from(sorted(VARIANTS)), min_size=1, max_size=3)):
            name = VARIANTS[variant](base)
            if NAME.fullmatch(name) and len(name) <= 64 and name not in names:
                names.append(name)
    return names


def _unique(values, fold: bool) -> bool:
    values = [v.lower() if fold else v for v in values]
    return len(values) == len(set(values))


@settings(max_examples=40, deadline=None)
@given(workloads=name_sets(3), aws_targets=name_sets(2), gcp_targets=name_sets(2), azure_targets=name_sets(1),
       one_project=st.booleans())
def test_derived_names_are_unique_as_each_cloud_compares_them_or_refused(workloads, aws_targets, gcp_targets,
                                                                       azure_targets, one_project):
    targets = {"aws": {t: _aws(i) for i, t in enumerate(aws_targets)},
               "gcp": {t: _gcp(i, "acme-shared" if one_project else "") for i, t in enumerate(gcp_targets)},
               "azure": {t: _azure(i) for i, t in enumerate(azure_targets)}}
    with tempfile.TemporaryDirectory() as folder:
        spec = _write(Path(folder), _spec(targets, workloads))
        errors = spec_errors(spec)
        if errors:  # nothing else is wrong with these specs
            assert all("cannot hold both" in e.message and e.hint.startswith("rename one of the two") for e in errors)
            return
        files = compiled_files(spec, split=True)
    folders = {path.split("/")[0] for path in files if "/" in path}
    assert _unique(folders, fold=True)
    roles, accounts, identities = {}, {}, {}
    for path, module in files.items():
        if not path.endswith("/main.tf.json"):
            continue
        roles[path] = [r["name"] for r in resources(module, "aws_iam_role").values()]
        for account in resources(module, "google_service_account").values():
            accounts.setdefault(account["project"], []).append(account["account_id"])
        for identity in resources(module, "azurerm_user_assigned_identity").values():
            identities.setdefault(identity["resource_group_name"].lower(), []).append(identity["name"])
    assert all(_unique(names, fold=True) for names in roles.values())  # one folder per AWS account here
    assert all(_unique(names, fold=False) for names in accounts.values())
    assert all(_unique(names, fold=True) for names in identities.values())
    assert sum(map(len, roles.values())) == len(workloads) * len(aws_targets)  # every object was made
    assert sum(map(len, accounts.values())) == len(workloads) * len(gcp_targets)


def test_crafted_short_hash_collisions_of_resource_names_stay_distinct(tmp_path):
    """Two custom roles with one slug and one 6-hex hash: each binding keeps its own address."""
    roles = ["roles/a.a.a.a_a_a_a.a_a.a_a.a_a.a.a.a.a", "roles/a.a.a_a.a.a.a.a.a_a_a.a_a_a_a.a.a"]  # found by search
    assert len({short_hash(r, length=6) for r in roles}) == 1 and len(set(map(slug, roles))) == 1
    spec = _spec({"gcp": {"prod": _gcp(0)}}, ["w"])
    spec["workload"]["w"]["grant"]["gcp"]["prod"] = {"roles": roles, "custom": roles}
    module = compiled_files(_write(tmp_path, spec))["main.tf.json"]
    assert sorted(b["role"] for b in resources(module, "google_project_iam_member").values()) == sorted(roles)


def test_azure_declares_each_federated_credential_name_per_identity(tmp_path):
    spec = _spec({"azure": {"prod": _azure(0)}}, ["w"])
    spec["workload"]["w"]["identity"].append({"issuer": "kc", "subject": "other", "audience": "aud"})
    model = load_model(str(_write(tmp_path, spec)))
    credentials = [n for n in azure.object_names(model, model.targets[("azure", "prod")])
                   if n.kind == "federated credential name"]
    assert sorted(n.value for n in credentials) == sorted(
        credential_name("kc", subject, "aud") for subject in ("subject-0", "other"))
    assert all(n.case_insensitive and n.scope[:2] == ("managed identity", "wiam-w") for n in credentials)
