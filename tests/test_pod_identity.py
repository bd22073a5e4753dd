"""EKS Pod Identity (eks_pod_identity) in AWS: each identity's association and the role's trust, judged
as EKS and STS do (tests/trust_eval.py): exactly the named cluster, namespace and service account get
the role; a neighbouring one is refused, by the trust policy too where an association exists."""

import json
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from hypothesis import given, settings, strategies as st

from support.specs import AT, compiled_files, spec_errors, write_spec
from trust_eval import aws_roles_for_pod
from wiam.analysis import analyze
from wiam.compile import load_model
from wiam.planning import plan_model
from wiam.providers.aws import live
from wiam.simulate import simulate

ACCOUNT, REGION = "123456789012", "eu-west-1"
HEAD = f'''issuer "eks" {{
  kind = "eks_pod_identity"
}}
issuer "github" {{
  kind = "github_actions"
}}
target "aws" "prod" {{
  account_id = "{ACCOUNT}"
  region     = "{REGION}"
}}
'''
GRANT = '  grant "aws" "prod" {\n    actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]\n  }\n'


def arn(cluster, region=REGION, account=ACCOUNT):
    return f"arn:aws:eks:{region}:{account}:cluster/{cluster}"


def pod(cluster, namespace, account, extra=""):
    return (f'  identity {{\n    issuer = "eks"\n    cluster = "{cluster}"\n    namespace = "{namespace}"\n'
            f'    service_account = "{account}"\n{extra}  }}\n')


def spec(workloads: dict[str, list[str]]) -> str:
    return HEAD + "".join(f'workload "{name}" {{\n{"".join(ids)}{GRANT}}}\n' for name, ids in workloads.items())


def module(folder: Path) -> dict:
    return compiled_files(folder)["main.tf.json"]


NAME = st.from_regex(r"[a-z][a-z0-9]{0,5}", fullmatch=True)
TRIPLE = st.tuples(st.sampled_from(["prod", "prod-2", "staging"]), st.sampled_from(["orders", "payments", "ci"]), NAME)


@settings(max_examples=20, deadline=None)
@given(st.lists(TRIPLE, min_size=1, max_size=5, unique=True))
def test_exactly_the_named_service_account_gets_its_role(triples):
    workloads = {f"w{index}": [pod(*triple)] for index, triple in enumerate(triples)}
    with tempfile.TemporaryDirectory() as root:
        compiled = module(write_spec(Path(root), {"main.wiam.hcl": spec(workloads)}))
    owner = {triple: f"prod__w{index}" for index, triple in enumerate(triples)}
    for (cluster, namespace, account), role in owner.items():
        assert aws_roles_for_pod(compiled, arn(cluster), namespace, account) == {role}
        neighbours = [(arn(cluster + "x"), namespace, account), (arn(cluster, "us-east-1"), namespace, account),
                      (arn(cluster, account="210987654321"), namespace, account),
                      (arn(cluster), namespace + "x", account), (arn(cluster), namespace, account + "x"),
                      (arn(cluster), namespace, account[:-1] or "y")]
        for neighbour in neighbours:
            expected = {owner[k] for k in owner if (arn(k[0]), k[1], k[2]) == neighbour}
            assert aws_roles_for_pod(compiled, *neighbour) == expected, neighbour


def test_an_association_made_elsewhere_for_a_neighbour_is_refused_by_the_trust_policy(tmp_path):
    compiled = module(write_spec(tmp_path, {"main.wiam.hcl": spec({"api": [pod("prod", "orders", "api")]})}))
    (association,) = compiled["resource"]["aws_eks_pod_identity_association"].values()
    for field, other in (("namespace", "default"), ("service_account", "debug"), ("cluster_name", "sandbox")):
        rogue = dict(association, **{field: other})
        compiled["resource"]["aws_eks_pod_identity_association"]["rogue"] = rogue
        asked = {"cluster_name": "prod", "namespace": "orders", "service_account": "api", **{field: other}}
        assert aws_roles_for_pod(compiled, arn(asked["cluster_name"]), asked["namespace"],
                                 asked["service_account"]) == set(), field


def test_the_trust_policy_is_the_service_with_both_actions_and_no_oidc_provider(tmp_path):
    compiled = module(write_spec(tmp_path, {"main.wiam.hcl": spec({"api": [pod("prod", "orders", "api")]})}))
    assert "aws_iam_openid_connect_provider" not in compiled["resource"]
    (statement,) = json.loads(compiled["resource"]["aws_iam_role"]["prod__api"]["assume_role_policy"])["Statement"]
    assert statement["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert statement["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert statement["Condition"]["StringEquals"]["aws:RequestTag/eks-cluster-arn"] == arn("prod")
    (association,) = compiled["resource"]["aws_eks_pod_identity_association"].values()
    assert association["role_arn"] == "${aws_iam_role.prod__api.arn}"
    assert (association["cluster_name"], association["namespace"], association["service_account"]) == (
        "prod", "orders", "api")


def test_a_disabled_identity_loses_its_association_and_is_denied_by_trust(tmp_path):
    workloads = {"api": [pod("prod", "orders", "api"),
                         pod("prod", "orders", "old", '    disabled = true\n    reason = "INC-7"\n')]}
    compiled = module(write_spec(tmp_path, {"main.wiam.hcl": spec(workloads)}))
    associations = compiled["resource"]["aws_eks_pod_identity_association"].values()
    assert [a["service_account"] for a in associations] == ["api"]
    rogue = dict(next(iter(associations)), service_account="old")
    compiled["resource"]["aws_eks_pod_identity_association"]["rogue"] = rogue
    assert aws_roles_for_pod(compiled, arn("prod"), "orders", "old") == set()
    assert aws_roles_for_pod(compiled, arn("prod"), "orders", "api") == {"prod__api"}


def test_a_window_bounds_the_trust(tmp_path):
    window = '    not_before = "2026-11-01T00:00:00Z"\n    expires = "2027-01-01T00:00:00Z"\n    reason = "migration"\n'
    compiled = module(write_spec(tmp_path, {"main.wiam.hcl": spec({"api": [pod("prod", "orders", "api", window)]})}))
    assert aws_roles_for_pod(compiled, arn("prod"), "orders", "api", AT) == {"prod__api"}
    assert aws_roles_for_pod(compiled, arn("prod"), "orders", "api", datetime(2027, 1, 1, tzinfo=timezone.utc)) == set()


def test_a_mixed_workload_keeps_its_oidc_trust(tmp_path):
    github = '  identity {\n    issuer = "github"\n    repository = "acme/app"\n    ref = "refs/heads/main"\n  }\n'
    compiled = module(write_spec(tmp_path, {"main.wiam.hcl": spec({"api": [pod("prod", "orders", "api"), github]})}))
    statements = json.loads(compiled["resource"]["aws_iam_role"]["prod__api"]["assume_role_policy"])["Statement"]
    assert sorted(next(iter(s["Principal"])) for s in statements) == ["Federated", "Service"]
    assert len(compiled["resource"]["aws_iam_openid_connect_provider"]) == 1


def test_two_workloads_cannot_share_a_service_account(tmp_path):
    folder = write_spec(tmp_path, {"main.wiam.hcl": spec({"a": [pod("prod", "orders", "api")],
                                                          "b": [pod("prod", "orders", "api")]})})
    (error,) = spec_errors(folder)
    assert "EKS takes one Pod Identity association per service account" in error.message
    assert error.block == 'identity #1 in workload "b"' and error.hint == "give each workload its own Kubernetes service account"
    assert error.pos.line == HEAD.count("\n") + 14  # workload "b"'s identity block


def _session(cluster_arn, namespace, account):
    return {"iss": "pods.eks.amazonaws.com", "sub": f"system:serviceaccount:{namespace}:{account}",
            "eks-cluster-arn": cluster_arn, "kubernetes-namespace": namespace, "kubernetes-service-account": account}


def test_simulate_judges_the_session_tags_and_the_association(tmp_path):
    model = load_model(str(write_spec(tmp_path, {"main.wiam.hcl": spec({"api": [pod("prod", "orders", "api")]})})))
    plans = plan_model(model)
    (verdict,) = simulate(model, _session(arn("prod"), "orders", "api"), plans)
    assert verdict.accepted and verdict.principal == "wiam-api"
    (verdict,) = simulate(model, _session(arn("prod"), "default", "api"), plans)
    assert not verdict.accepted and {"kubernetes-namespace", "association"} <= {c.name for c in verdict.checks
                                                                                 if not c.passed}
    (verdict,) = simulate(model, _session(arn("prod", "us-east-1"), "orders", "api"), plans)
    assert [c.name for c in verdict.checks if not c.passed] == ["eks-cluster-arn", "association"]
    forged = dict(_session(arn("prod"), "orders", "api"), sub="system:serviceaccount:orders:other")
    (verdict,) = simulate(model, forged, plans)
    assert not verdict.accepted and "sub" in {c.name for c in verdict.checks if not c.passed}


SPEC_TRIPLES = [("prod", "orders", "api"), ("prod", "orders", "web"), ("prod-2", "ci", "api")]


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["prod", "prod-2", "prodx"]), st.sampled_from(["orders", "ci", "default"]),
       st.sampled_from(["api", "web", "apix"]), st.sampled_from([REGION, "us-east-1"]))
def test_simulate_agrees_with_the_evaluator(cluster, namespace, account, region):
    with tempfile.TemporaryDirectory() as root:
        folder = write_spec(Path(root), {"main.wiam.hcl": spec({f"w{i}": [pod(*t)] for i, t in enumerate(SPEC_TRIPLES)})})
        model = load_model(str(folder))
        compiled = module(folder)
    accepted = {f"prod__{v.workload}" for v in simulate(model, _session(arn(cluster, region), namespace, account))
                if v.accepted}
    assert accepted == aws_roles_for_pod(compiled, arn(cluster, region), namespace, account)


def test_a_disabled_issuer_refuses_its_service_accounts_only(tmp_path):
    text = spec({"api": [pod("prod", "orders", "api"),
                         pod("prod", "orders", "old").replace('issuer = "eks"', 'issuer = "old-eks"')]})
    text = text.replace('issuer "github"', 'issuer "old-eks" {\n  kind = "eks_pod_identity"\n  disabled = true\n'
                                           '  reason = "INC-8"\n}\nissuer "github"', 1)
    compiled = module(write_spec(tmp_path, {"main.wiam.hcl": text}))
    associations = compiled["resource"]["aws_eks_pod_identity_association"]
    assert [a["service_account"] for a in associations.values()] == ["api"]
    associations["rogue"] = dict(next(iter(associations.values())), service_account="old")
    assert aws_roles_for_pod(compiled, arn("prod"), "orders", "old") == set()
    assert aws_roles_for_pod(compiled, arn("prod"), "orders", "api") == {"prod__api"}


# Cross-account (cluster_target): the cluster is in SHARED's account, the role granted in prod's.
SHARED = "210987654321"
CROSS_HEAD = HEAD + f'target "aws" "shared-eks" {{\n  account_id = "{SHARED}"\n  region     = "{REGION}"\n}}\n'
CROSS = '    cluster_target = "shared-eks"\n'


def cross_spec(workloads: dict[str, list[str]]) -> str:
    return CROSS_HEAD + "".join(f'workload "{name}" {{\n{"".join(ids)}{GRANT}}}\n' for name, ids in workloads.items())


@settings(max_examples=15, deadline=None)
@given(st.lists(TRIPLE, min_size=1, max_size=4, unique=True),
       st.tuples(st.sampled_from(["prod", "prod-2", "staging"]), st.sampled_from(["orders", "payments", "ci"]), NAME,
                 st.sampled_from([SHARED, ACCOUNT])))
def test_a_pod_in_the_cluster_account_reaches_exactly_its_granted_role(triples, probe):
    workloads = {f"w{index}": [pod(*triple, CROSS)] for index, triple in enumerate(triples)}
    with tempfile.TemporaryDirectory() as root:
        folder = write_spec(Path(root), {"main.wiam.hcl": cross_spec(workloads)})
        compiled, model = module(folder), load_model(str(folder))
    owner = {(arn(c, account=SHARED), n, a): f"prod__w{index}" for index, (c, n, a) in enumerate(triples)}
    for (cluster_arn, namespace, account), role in owner.items():
        assert aws_roles_for_pod(compiled, cluster_arn, namespace, account) == {role}
    cluster, namespace, account, cluster_account = probe
    asked = (arn(cluster, account=cluster_account), namespace, account)
    expected = {owner[asked]} if asked in owner else set()
    assert aws_roles_for_pod(compiled, *asked) == expected  # the granted account's own cluster of that name too
    accepted = {f"prod__{v.workload}" for v in simulate(model, _session(*asked)) if v.target == "prod" and v.accepted}
    assert accepted == expected


def test_the_chain_role_and_association_are_in_the_cluster_account(tmp_path):
    compiled = module(write_spec(tmp_path, {"main.wiam.hcl": cross_spec({"api": [pod("main", "orders", "api", CROSS)]})}))
    (association,) = compiled["resource"]["aws_eks_pod_identity_association"].values()
    assert association["provider"] == "aws.shared-eks"
    assert association["target_role_arn"] == f"arn:aws:iam::{ACCOUNT}:role/wiam-api"
    chain = compiled["resource"]["aws_iam_role"][association["role_arn"].split(".")[1]]
    assert chain["provider"] == "aws.shared-eks"
    chain_arn = f"arn:aws:iam::{SHARED}:role/{chain['name']}"
    (granted,) = json.loads(compiled["resource"]["aws_iam_role"]["prod__api"]["assume_role_policy"])["Statement"]
    assert granted["Principal"] == {"AWS": chain_arn} and granted["Action"] == ["sts:AssumeRole", "sts:TagSession"]
    assert granted["Condition"] == {"StringEquals": {"aws:PrincipalArn": chain_arn}}
    (policy,) = [p for p in compiled["resource"]["aws_iam_role_policy"].values() if p["provider"] == "aws.shared-eks"]
    (allowed,) = json.loads(policy["policy"])["Statement"]
    assert allowed["Resource"] == association["target_role_arn"]
    model = load_model(str(tmp_path))
    (verdict,) = simulate(model, _session(arn("main", account=SHARED), "orders", "api"))
    assert verdict.accepted and verdict.principal == "wiam-api"
    (verdict,) = simulate(model, _session(arn("main"), "orders", "api"))  # the granted account's cluster "main"
    assert not verdict.accepted and {"eks-cluster-arn", "association"} <= {c.name for c in verdict.checks if not c.passed}
    # a rogue association of a neighbouring service account to the chain role is refused by its trust
    compiled["resource"]["aws_eks_pod_identity_association"]["rogue"] = dict(association, service_account="debug")
    assert aws_roles_for_pod(compiled, arn("main", account=SHARED), "orders", "debug") == set()


def test_a_disabled_cross_account_identity_has_no_chain_and_is_denied(tmp_path):
    off = CROSS + '    disabled = true\n    reason = "INC-9"\n'
    compiled = module(write_spec(tmp_path, {"main.wiam.hcl": cross_spec(
        {"api": [pod("main", "orders", "api", CROSS), pod("main", "orders", "old", off)]})}))
    assert [a["service_account"] for a in compiled["resource"]["aws_eks_pod_identity_association"].values()] == ["api"]
    statements = json.loads(compiled["resource"]["aws_iam_role"]["prod__api"]["assume_role_policy"])["Statement"]
    assert [s["Effect"] for s in statements] == ["Allow", "Deny"]


def test_split_modules_name_the_granted_role_by_its_literal_arn(tmp_path):
    files = compiled_files(write_spec(tmp_path, {"main.wiam.hcl": cross_spec({"api": [pod("main", "orders", "api", CROSS)]})}),
                           split=True)
    shared = next(m for name, m in files.items() if "shared-eks" in name and name.endswith("main.tf.json"))
    prod = next(m for name, m in files.items() if "shared-eks" not in name and name.endswith("main.tf.json")
                and "aws_iam_role" in m.get("resource", {}))
    (association,) = shared["resource"]["aws_eks_pod_identity_association"].values()
    assert association["target_role_arn"] == f"arn:aws:iam::{ACCOUNT}:role/wiam-api"
    assert "aws_eks_pod_identity_association" not in prod["resource"]
    assert "data" not in shared and "terraform_remote_state" not in json.dumps(shared)


def test_an_unknown_cluster_target_is_a_spec_error(tmp_path):
    folder = write_spec(tmp_path, {"main.wiam.hcl": cross_spec(
        {"api": [pod("main", "orders", "api", '    cluster_target = "nowhere"\n')]})})
    (error,) = spec_errors(folder)
    assert "cluster_target 'nowhere' is not an aws target of the spec" in error.message
    assert error.block == 'identity #1 in workload "api"' and "aws target whose account holds" in error.hint


def test_drift_expects_the_chain_role_and_its_association_in_the_cluster_account(tmp_path):
    model = load_model(str(write_spec(tmp_path, {"main.wiam.hcl": cross_spec(
        {"api": [pod("main", "orders", "api", CROSS)]})})))
    plans = plan_model(model)
    shared = {(o.kind, o.name): o.state for o in live.expected(plans[("aws", "shared-eks")])}
    association = shared[("pod_identity_association", "main/orders/api")]
    assert association["target_role_arn"] == f"arn:aws:iam::{ACCOUNT}:role/wiam-api"
    (chain,) = plans[("aws", "shared-eks")].chain_roles
    assert association["role_arn"] == chain.arn and ("role", chain.name) in shared
    assert all(o.kind != "pod_identity_association" for o in live.expected(plans[("aws", "prod")]))


def test_the_cluster_target_is_used(tmp_path):
    def unused(extra):
        text = cross_spec({"api": [pod("main", "orders", "api", extra)]})
        model = load_model(str(write_spec(tmp_path / str(len(extra)), {"main.wiam.hcl": text})))
        return [f.message for f in analyze(model) if f.rule == "WIAM006"]

    assert unused(CROSS) == []  # "shared-eks" holds no grant: it holds the chain role and association
    assert unused("") == ["no workload uses aws target 'shared-eks'"]


def test_a_cluster_of_another_account_is_another_subject(tmp_path):
    text = cross_spec({"local": [pod("main", "orders", "api")], "cross": [pod("main", "orders", "api", CROSS)]})
    model = load_model(str(write_spec(tmp_path, {"main.wiam.hcl": text})))
    assert [f for f in analyze(model) if f.rule == "WIAM003"] == []
    compiled = module(tmp_path)
    assert aws_roles_for_pod(compiled, arn("main"), "orders", "api") == {"prod__local"}
    assert aws_roles_for_pod(compiled, arn("main", account=SHARED), "orders", "api") == {"prod__cross"}
