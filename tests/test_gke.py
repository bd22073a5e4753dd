"""GKE workloads (gke) in GCP: roles bound to the Kubernetes service account's principal in its project's
Google-managed pool, judged as IAM does (tests/trust_eval.py): exactly the named service account, or with
all_service_accounts its namespace, acts as the workload; a neighbouring namespace, service account or
project is refused. No pool or provider is created for them."""

import tempfile
from pathlib import Path

from hypothesis import given, settings, strategies as st

from support.specs import AT, compiled_files, spec_errors, write_spec
from trust_eval import gcp_principals_accepting, gcp_roles_usable, gke_members
from wiam.analysis import analyze
from wiam.compile import load_model
from wiam.planning import plan_model
from wiam.simulate import simulate

NUMBERS = {"acme-prod": "123456789012", "acme-clusters": "555555555555"}
HEAD = '''issuer "gke" {
  kind = "gke"
}
target "gcp" "prod" {
  project_id     = "acme-prod"
  project_number = "123456789012"
}
target "gcp" "clusters" {
  project_id     = "acme-clusters"
  project_number = "555555555555"
}
'''


def gke(project, namespace, account=None, extra=""):
    pin = f'service_account = "{account}"' if account else "all_service_accounts = true"
    return (f'  identity {{\n    issuer = "gke"\n    project_id = "{project}"\n    namespace = "{namespace}"\n'
            f'    {pin}\n{extra}  }}\n')


def grant(mode, resource="projects/_/buckets/acme-data"):
    return (f'  grant "gcp" "prod" {{\n    roles = ["roles/storage.objectViewer"]\n    resource = "{resource}"\n'
            f'    mode = "{mode}"\n  }}\n')


def spec(workloads) -> str:
    return HEAD + "".join(f'workload "{name}" {{\n{"".join(ids)}{grant(mode)}}}\n'
                          for name, (ids, mode) in workloads.items())


def token(project, namespace, account):
    return {"iss": f"https://container.googleapis.com/v1/projects/{project}/locations/europe-west1/clusters/c1",
            "sub": f"system:serviceaccount:{namespace}:{account}"}


def accepting(module, project, namespace, account):
    return gcp_principals_accepting(module, {}, AT, gke_members(token(project, namespace, account), NUMBERS))


def expected_principal(name, mode):
    return f"prod__{name}" if mode == "service_account" else f"direct:{name}"


TRIPLE = st.tuples(st.sampled_from(sorted(NUMBERS)), st.sampled_from(["orders", "ci"]),
                   st.from_regex(r"[a-z][a-z0-9]{0,4}", fullmatch=True))


@settings(max_examples=20, deadline=None)
@given(st.lists(TRIPLE, min_size=1, max_size=4, unique=True), st.lists(st.sampled_from(["direct", "service_account"]),
                                                                       min_size=4, max_size=4))
def test_exactly_the_named_service_account_acts_as_its_workload(triples, modes):
    workloads = {f"w{i}": ([gke(*t)], modes[i]) for i, t in enumerate(triples)}
    with tempfile.TemporaryDirectory() as root:
        module = compiled_files(write_spec(Path(root), {"main.wiam.hcl": spec(workloads)}))["main.tf.json"]
    assert "google_iam_workload_identity_pool" not in module["resource"]
    owner = {t: expected_principal(f"w{i}", modes[i]) for i, t in enumerate(triples)}
    for (project, namespace, account), principal in owner.items():
        assert accepting(module, project, namespace, account) == {principal}
        other_project = next(p for p in NUMBERS if p != project)
        for neighbour in [(other_project, namespace, account), (project, namespace + "x", account),
                          (project, namespace, account + "x"), (project, "default", account)]:
            assert accepting(module, *neighbour) == ({owner[neighbour]} if neighbour in owner else set()), neighbour
    for project, namespace, account in owner:  # the roles: the bucket's binding, directly or as the account
        usable = gcp_roles_usable(module, {}, AT, gke_members(token(project, namespace, account), NUMBERS))
        assert {kind for kind, _ in usable} == {"google_storage_bucket_iam_member"}


def test_all_service_accounts_binds_the_namespace_and_is_a_finding(tmp_path):
    folder = write_spec(tmp_path, {"main.wiam.hcl": spec({"batch": ([gke("acme-prod", "batch")], "direct")})})
    module = compiled_files(folder)["main.tf.json"]
    assert accepting(module, "acme-prod", "batch", "anything") == {"direct:batch"}
    assert accepting(module, "acme-prod", "batchx", "anything") == set()
    assert accepting(module, "acme-clusters", "batch", "anything") == set()
    (finding,) = [f for f in analyze(load_model(str(folder))) if f.rule == "GCP110"]
    assert finding.block == 'identity #1 in workload "batch"' and "namespace 'batch'" in finding.message
    assert finding.pos.line == HEAD.count("\n") + 6  # the all_service_accounts line


def test_a_cluster_project_no_target_names_is_an_error(tmp_path):
    folder = write_spec(tmp_path, {"main.wiam.hcl": spec({"api": ([gke("acme-other", "orders", "api")], "direct")})})
    (error,) = spec_errors(folder)
    assert "project 'acme-other' is no gcp target's" in error.message and 'project_id = "acme-other"' in error.hint
    assert error.pos.line == HEAD.count("\n") + 4


def test_a_disabled_gke_issuer_binds_nothing(tmp_path):
    text = spec({"api": ([gke("acme-prod", "orders", "api")], "direct")}).replace(
        'kind = "gke"\n', 'kind = "gke"\n  disabled = true\n  reason = "INC-9"\n', 1)
    module = compiled_files(write_spec(tmp_path, {"main.wiam.hcl": text}))["main.tf.json"]
    assert accepting(module, "acme-prod", "orders", "api") == set()


def test_simulate_judges_the_cluster_token(tmp_path):
    model = load_model(str(write_spec(tmp_path, {"main.wiam.hcl": spec(
        {"api": ([gke("acme-clusters", "orders", "api")], "service_account")})})))
    plans = plan_model(model)
    (verdict,) = simulate(model, token("acme-clusters", "orders", "api"), plans)
    assert verdict.accepted
    for neighbour in [("acme-prod", "orders", "api"), ("acme-clusters", "default", "api"),
                      ("acme-clusters", "orders", "web")]:
        (verdict,) = simulate(model, token(*neighbour), plans)
        assert [c.name for c in verdict.checks if not c.passed] == ["sub"], neighbour
    (verdict,) = simulate(model, dict(token("acme-clusters", "orders", "api"), iss="https://evil.example"), plans)
    assert not verdict.accepted and not verdict.checks[0].passed


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(sorted(NUMBERS) + ["acme-else"]), st.sampled_from(["orders", "ci", "batch"]),
       st.sampled_from(["api", "web"]))
def test_simulate_agrees_with_the_evaluator(project, namespace, account):
    workloads = {"a": ([gke("acme-prod", "orders", "api")], "direct"),
                 "b": ([gke("acme-clusters", "orders", "web")], "service_account"),
                 "c": ([gke("acme-prod", "batch")], "direct")}
    with tempfile.TemporaryDirectory() as root:
        folder = write_spec(Path(root), {"main.wiam.hcl": spec(workloads)})
        model = load_model(str(folder))
        module = compiled_files(folder)["main.tf.json"]
    accepted = {expected_principal(v.workload, workloads[v.workload][1])
                for v in simulate(model, token(project, namespace, account)) if v.accepted}
    members = gke_members(token(project, namespace, account), NUMBERS) if project in NUMBERS else set()
    assert accepted == gcp_principals_accepting(module, {}, AT, members)


def test_service_account_mode_binds_the_documented_member_and_refuses_a_namespace(tmp_path):
    module = compiled_files(write_spec(tmp_path / "ok", {"main.wiam.hcl": spec(
        {"api": ([gke("acme-clusters", "orders", "api")], "service_account")})}))["main.tf.json"]
    (binding,) = module["resource"]["google_service_account_iam_member"].values()
    assert (binding["role"], binding["member"]) == ("roles/iam.workloadIdentityUser",
                                                    "serviceAccount:acme-clusters.svc.id.goog[orders/api]")
    text = spec({"batch": ([gke("acme-prod", "batch")], "service_account")})
    (error,) = spec_errors(write_spec(tmp_path / "refused", {"main.wiam.hcl": text}))
    assert "cannot act as a service account" in error.message and error.hint.startswith('set mode = "direct"')
    assert error.pos.line == HEAD.count("\n") + 6



def test_a_target_that_gives_a_cluster_project_its_number_is_used(tmp_path):
    def unused(project):
        workloads = {"api": ([gke(project, "orders", "api")], "direct")}
        model = load_model(str(write_spec(tmp_path / project, {"main.wiam.hcl": spec(workloads)})))
        return [f.message for f in analyze(model) if f.rule == "WIAM006"]

    # "clusters" holds no grant: its project_number is what the cluster's pool is named by
    assert unused("acme-clusters") == []
    assert unused("acme-prod") == ["no workload uses gcp target 'clusters'"]
