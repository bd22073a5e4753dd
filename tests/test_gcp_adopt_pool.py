"""adopt_pool: a GCP target takes over the workload identity pool that exists already. Its compiled
module imports the pool by its documented ID beside every pool resource wiam emits for it, and
nothing changes without the setting; `wiam import` proposes it against the GCP fake for a pool made
by hand (not a soft-deleted one, not wiam's own), and drift reads an adopted pool as a wiam-made one."""

import json
import re

import pytest
from hypothesis import given, settings, strategies as st

import fake_gcp
from support.cli import run_wiam
from support.paths import EXAMPLE_SPECS
from support.specs import spec_errors, write_spec
from wiam import registry
from wiam.compile import compile_model, load_model
from wiam.drift import drift
from wiam.importing import find, to_text, write
from wiam.planning import plan_model
from wiam.terraform import Module

POOL = "google_iam_workload_identity_pool"
# terraform-provider-google website/docs/r/iam_workload_identity_pool.html.markdown, "Import": the
# first accepted format, by the project's ID as every other resource of the target names it.
POOL_IMPORT_ID = re.compile(r"projects/(?P<project>[a-z][a-z0-9-]{4,28}[a-z0-9])/locations/global/"
                            r"workloadIdentityPools/(?P<pool>[a-z0-9-]{4,32})")
GITHUB = 'issuer "github" {\n  kind = "github_actions"\n}\n'
GKE = 'issuer "gke" {\n  kind = "gke"\n}\n'


def target(name: str, project: str, pool: str | None = None, adopt: bool | None = None) -> str:
    lines = [f'  project_id     = "{project}"', '  project_number = "123456789012"']
    lines += [f'  pool_id        = "{pool}"'] if pool else []
    lines += [f"  adopt_pool     = {'true' if adopt else 'false'}"] if adopt is not None else []
    return f'target "gcp" "{name}" {{\n' + "\n".join(lines) + "\n}\n"


def workload(name: str, grants: list[tuple[str, str]], identity: str = 'issuer = "github"\n    repository = "acme/app"\n'
             '    ref = "refs/heads/main"') -> str:
    body = "".join(f'  grant "gcp" "{t}" {{\n    roles = ["roles/viewer"]\n{extra}  }}\n' for t, extra in grants)
    return f'workload "{name}" {{\n  identity {{\n    {identity}\n  }}\n{body}}}\n'


def imports(module: dict) -> list[dict]:
    return [i for i in module.get("import", []) if i["to"].startswith(POOL + ".")]


project_ids = st.from_regex(r"[a-z][a-z0-9-]{4,28}[a-z0-9]", fullmatch=True)
pool_ids = st.from_regex(r"[a-z0-9-]{4,32}", fullmatch=True).filter(lambda p: not p.startswith("gcp-"))


@settings(max_examples=25, deadline=None)
@given(project=project_ids, pool=pool_ids, direct=st.booleans())
def test_every_adopted_pool_is_imported_by_its_documented_id_beside_its_resource(tmp_path_factory, project, pool, direct):
    extra = '    mode  = "direct"\n' if direct else ""
    spec = write_spec(tmp_path_factory.mktemp("spec"), {"main.wiam.hcl": GITHUB + target("prod", project, pool, True)
                                                         + target("other", "acme-other") +
                                                         workload("app", [("prod", extra), ("other", "")])})
    files = {n: json.loads(c) for n, c in compile_model(load_model(str(spec)), split=True).items() if n.endswith(".json")}
    prod, other = files["gcp-prod/main.tf.json"], files["gcp-other/main.tf.json"]
    (block,) = imports(prod)
    (name,) = prod["resource"][POOL]
    match = POOL_IMPORT_ID.fullmatch(block["id"])
    assert (match["project"], match["pool"]) == (project, pool) == (
        prod["resource"][POOL][name]["project"], prod["resource"][POOL][name]["workload_identity_pool_id"])
    assert block["to"] == f"{POOL}.{name}" and block["provider"] == prod["resource"][POOL][name]["provider"]
    assert not imports(other) and POOL in other["resource"]  # the other target's pool is wiam's to create


def test_a_target_whose_identities_are_all_gke_emits_no_pool_and_imports_none(tmp_path):
    gke = 'issuer = "gke"\n    project_id = "acme-prod"\n    namespace = "apps"\n    service_account = "api"'
    spec = write_spec(tmp_path, {"main.wiam.hcl": GKE + target("prod", "acme-prod", adopt=True)
                                 + workload("api", [("prod", "")], gke)})
    module = json.loads(compile_model(load_model(str(spec)))["main.tf.json"])
    assert POOL not in module.get("resource", {}) and not imports(module)


@pytest.mark.parametrize("example", EXAMPLE_SPECS, ids=lambda p: p.name)
def test_every_example_compiles_byte_identical_with_adopt_pool_false_and_imports_each_pool_with_true(example):
    model = load_model(str(example))
    before = compile_model(model, split=True)
    gcp = [t for (cloud, _), t in model.targets.items() if cloud == "gcp"]
    for each in gcp:
        each.settings["adopt_pool"] = False
    assert compile_model(model, split=True) == before
    for each in gcp:
        each.settings["adopt_pool"] = True
    after = compile_model(model, split=True)
    for name, content in after.items():
        if not name.endswith(".json"):
            assert content == before[name]
            continue
        new, old = json.loads(content), json.loads(before[name])
        pools = {f"{POOL}.{n}" for n in new.get("resource", {}).get(POOL, {})}
        assert {i["to"] for i in imports(new)} == pools and not imports(old)
        assert {k: v for k, v in new.items() if k != "import"} == {k: v for k, v in old.items() if k != "import"}
        assert [i for i in new.get("import", []) if i["to"] not in pools] == old.get("import", [])


def test_adopt_pool_not_a_boolean_is_a_spec_error_with_its_fix(tmp_path):
    text = GITHUB + target("prod", "acme-prod").replace("}\n", '  adopt_pool     = "yes"\n}\n') + workload("app", [("prod", "")])
    spec = write_spec(tmp_path, {"main.wiam.hcl": text})
    (error,) = spec_errors(spec)
    line = text.splitlines().index('  adopt_pool     = "yes"') + 1
    assert (error.pos.line, error.block) == (line, 'target "gcp" "prod"')
    assert "expected a boolean" in error.message and error.hint == "adopt_pool is true or false, unquoted"


# wiam import against the GCP fake: the project holds a pool made by hand, with a provider of its own
# (of an ID wiam's providers do not take: GCP refuses a second provider of one ID in a pool).

HAND_PROVIDER = {"displayName": "GitHub", "description": "made by hand", "disabled": False,
                 "attributeMapping": {"google.subject": "assertion.sub"}, "attributeCondition": "true",
                 "oidc": {"issuerUri": "https://token.actions.githubusercontent.com"}}
SPEC = GITHUB + target("prod", "acme-prod", "ci-pool") + workload("app", [("prod", "")])


@pytest.fixture
def cloud():
    state = fake_gcp.State()
    state.project("acme-prod", "123456789012")
    with fake_gcp.fake_gcp(state) as rest, fake_gcp.fake_iam_grpc(state) as grpc:
        yield state, registry.get("gcp").live.connect(rest=rest, grpc=grpc), (rest, grpc)


def test_a_pool_made_by_hand_is_proposed_written_and_compiled_as_an_import(cloud, tmp_path):
    state, connection, _ = cloud
    fake_gcp.add_pool(state, "acme-prod", "ci-pool", providers={"hand-ci": HAND_PROVIDER})
    spec = write_spec(tmp_path, {"main.wiam.hcl": SPEC})
    model = load_model(str(spec))
    (found,) = find(model, ["gcp.prod"], lambda cloud: connection)
    assert (found.setting, found.added, found.error) == ("adopt_pool", True, None)
    assert to_text([found], model) == "gcp prod: adopt_pool = true\n  run again with --write to add them to the spec\n"
    write(model, [found], str(spec), False)
    edited = (spec / "main.wiam.hcl").read_text()
    assert edited == SPEC.replace('  project_id     = "acme-prod"\n', '  adopt_pool = true\n  project_id     = "acme-prod"\n')
    model = load_model(str(spec))
    (block,) = imports(json.loads(compile_model(model)["main.tf.json"]))
    assert block["id"] == "projects/acme-prod/locations/global/workloadIdentityPools/ci-pool"
    (again,) = find(model, ["gcp.prod"], lambda cloud: connection)
    assert again.added is False and to_text([again], model) == "gcp prod: nothing to import\n"


@pytest.mark.parametrize("made", ["deleted", "wiam's", "none", "other pool"])
def test_no_pool_to_adopt_is_proposed_for_a_deleted_pool_wiam_s_own_or_none(cloud, tmp_path, made):
    state, connection, _ = cloud
    model = load_model(str(write_spec(tmp_path, {"main.wiam.hcl": SPEC})))
    if made == "deleted":  # its ID cannot be reused until GCP purges it, about 30 days on
        fake_gcp.add_pool(state, "acme-prod", "ci-pool", "DELETED")
    elif made == "wiam's":
        for plan in plan_model(model).values():
            registry.get("gcp").emit(plan, module := Module())
            fake_gcp.apply(state, module.resources, "acme-prod", "123456789012")
    elif made == "other pool":
        fake_gcp.add_pool(state, "acme-prod", "wiam-pool")
    (found,) = find(model, None, lambda cloud: connection)
    assert (found.setting, found.added, found.error) == ("adopt_pool", False, None)


def test_a_spec_that_says_adopt_pool_is_not_read_and_an_unreadable_project_is_reported(cloud, tmp_path):
    state, connection, _ = cloud
    said = load_model(str(write_spec(tmp_path / "said", {"main.wiam.hcl": GITHUB + target("prod", "acme-prod", "ci-pool", False)
                                                         + workload("app", [("prod", "")])})))
    calls = len(state.calls)
    assert [(i.setting, i.added) for i in find(said, None, lambda cloud: connection)] == [("adopt_pool", False)]
    assert len(state.calls) == calls
    state.forbidden.add("acme-prod")
    (found,) = find(load_model(str(write_spec(tmp_path / "new", {"main.wiam.hcl": SPEC}))), None, lambda cloud: connection)
    assert found.setting is None and "403" in found.error


def test_the_command_writes_adopt_pool_through_the_endpoint_options(cloud, tmp_path):
    state, _, (rest, grpc) = cloud
    fake_gcp.add_pool(state, "acme-prod", "ci-pool")
    spec = write_spec(tmp_path, {"main.wiam.hcl": SPEC})
    result = run_wiam("import", spec, "--target", "gcp.prod", "--write", "--gcp-endpoint", rest, "--gcp-grpc-endpoint", grpc)
    assert result.returncode == 0, result.stderr
    assert "gcp prod: adopt_pool = true\n  written to " in result.stdout
    assert load_model(str(spec)).targets[("gcp", "prod")].settings["adopt_pool"] is True


def test_drift_reads_an_adopted_pool_as_a_wiam_made_one(cloud, tmp_path):
    """After apply an adopted pool holds wiam's display name and description (Terraform updates them
    in place) and its hand-made provider is extra, as one added by hand to wiam's own pool would be."""
    state, connection, _ = cloud
    results = {}
    for adopt in (True, False):
        state.projects.clear()
        state.project("acme-prod", "123456789012")
        if adopt:
            fake_gcp.add_pool(state, "acme-prod", "ci-pool", providers={"hand-ci": HAND_PROVIDER})
        model = load_model(str(write_spec(tmp_path / str(adopt), {"main.wiam.hcl": GITHUB + target(
            "prod", "acme-prod", "ci-pool", adopt) + workload("app", [("prod", "")])})))
        for plan in plan_model(model).values():
            registry.get("gcp").emit(plan, module := Module())
            fake_gcp.apply(state, module.resources, "acme-prod", "123456789012")
        if not adopt:
            pool = state.projects["acme-prod"]["pools"]["ci-pool"]
            pool["providers"]["hand-ci"] = {"name": f"{pool['name']}/providers/hand-ci", "state": "ACTIVE", **HAND_PROVIDER}
        (results[adopt],) = drift(model, {"gcp": connection})
    assert results[True].as_json() == results[False].as_json()
    assert [(o.kind, o.name) for o in results[True].extra] == [("pool_provider", "hand-ci")]
    assert not results[True].missing and not results[True].changed


@pytest.mark.parametrize("held", ["ACTIVE", "DELETED"])
def test_a_provider_id_the_pool_holds_and_wiam_plans_is_named_in_a_note(cloud, tmp_path, held):
    """wiam's provider for issuer github is github: GCP would refuse it beside the pool's own, or
    beside a deleted one whose ID it keeps; adopting is still proposed (the pool's ID is taken either way)."""
    state, connection, _ = cloud
    fake_gcp.add_pool(state, "acme-prod", "ci-pool", providers={"github": {**HAND_PROVIDER, "state": held},
                                                                 "hand-ci": HAND_PROVIDER})
    model = load_model(str(write_spec(tmp_path, {"main.wiam.hcl": SPEC})))
    (found,) = find(model, None, lambda cloud: connection)
    assert found.added is True and len(found.notes) == 1 and "provider github " in found.notes[0]
    assert f"  note: {found.notes[0]}\n" in to_text([found], model)
    assert found.as_json()["notes"] == list(found.notes)


def test_a_deleted_pool_is_not_proposed_and_the_note_says_why(cloud, tmp_path):
    state, connection, _ = cloud
    fake_gcp.add_pool(state, "acme-prod", "ci-pool", "DELETED")
    model = load_model(str(write_spec(tmp_path, {"main.wiam.hcl": SPEC})))
    (found,) = find(model, None, lambda cloud: connection)
    assert found.added is False and "30 days" in found.notes[0] and "undelete" in found.notes[0]
    assert to_text([found], model).startswith("gcp prod: nothing to import\n  note: pool ci-pool is deleted")
