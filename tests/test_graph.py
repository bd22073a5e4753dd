"""The access graph: exact nodes and edges for the SPEC example, and planted escalation chains."""

import pytest

from chains import ACCOUNT, CHAINS_HCL, SA
from wiam.compile import load_model
from wiam.graph import build_graph, reachable
from wiam.query import who_can
from support.paths import EXAMPLES

SPEC_SUBJECT = "subject:github:repo:acme/payments:ref:refs/heads/main"


def _graph(folder):
    return build_graph(load_model(str(folder)))


def _chain_edges(access) -> dict[tuple[str, str], str]:
    return {(u, v): data["permission"] for u, v, k, data in access.graph.edges(keys=True, data=True)
            if k == "can_act_as"}


@pytest.fixture(scope="module")
def chains(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chains")
    (folder / "main.wiam.hcl").write_text(CHAINS_HCL, encoding="utf-8")
    return _graph(folder)


def test_spec_example_graph_has_exactly_the_expected_nodes():
    access = _graph(EXAMPLES / "spec-reference")
    by_type = {}
    for node, data in access.graph.nodes(data=True):
        by_type.setdefault(data["type"], set()).add(node)
    assert by_type == {
        "issuer": {"issuer:github", "issuer:eks-prod", "issuer:github-workflows"},
        "subject": {SPEC_SUBJECT, "subject:eks-prod:system:serviceaccount:orders:orders-api",
                    "subject:github:repo:acme/orders:environment:production",
                    "subject:github-workflows:repo:acme/payments:ref:refs/heads/main:job_workflow_ref:"
                    "acme/shared-workflows/.github/workflows/sync.yml@refs/heads/main"},
        "workload": {"workload:payments-deployer", "workload:orders-api", "workload:payments-release",
                     "workload:payments-blob-sync", "workload:orders-db-restore"},
        "target": {"target:aws:prod", "target:gcp:prod", "target:azure:prod"},
        "principal": {"aws:role:prod:payments-deployer", "aws:role:prod:orders-api",
                      "gcp:service_account:prod:payments-deployer", "azure:identity:prod:payments-deployer",
                      "aws:role:prod:payments-release", "gcp:service_account:prod:payments-release",
                      "azure:identity:prod:payments-blob-sync", "aws:role:prod:orders-db-restore"},
        "grant": {"grant:aws:prod:payments-deployer", "grant:aws:prod:orders-api",
                  "grant:gcp:prod:payments-deployer", "grant:azure:prod:payments-deployer",
                  "grant:aws:prod:payments-release", "grant:gcp:prod:payments-release",
                  "grant:azure:prod:payments-blob-sync", "grant:aws:prod:orders-db-restore"},
        "action": {"aws:action:s3:GetObject", "aws:action:s3:PutObject", "aws:action:sqs:ReceiveMessage",
                   "aws:action:sqs:DeleteMessage", "aws:action:rds:RestoreDBInstanceToPointInTime"},
        "role": {"gcp:role:roles/storage.objectViewer", "azure:role:Storage Blob Data Reader",
                 "gcp:role:roles/storage.objectCreator", "azure:role:Storage Blob Data Contributor"},
        "resource": {"aws:resource:arn:aws:s3:::acme-payments-artifacts/*",
                     "aws:resource:arn:aws:s3:::acme-payments-artifacts/releases/*",
                     "aws:resource:arn:aws:sqs:us-east-1:123456789012:orders",
                     "aws:resource:arn:aws:rds:us-east-1:123456789012:db:orders",
                     "gcp:resource:projects/_/buckets/acme-payments-artifacts",
                     "azure:scope:/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/payments"},
    }
    assert not _chain_edges(access)


def test_trust_edges_carry_the_deployed_conditions():
    access = _graph(EXAMPLES / "spec-reference")
    aws = access.graph.edges["workload:payments-deployer", "aws:role:prod:payments-deployer", "federates"]["trust"]
    condition = aws["Statement"][0]["Condition"]["StringEquals"]
    assert condition == {"token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
                         "token.actions.githubusercontent.com:sub": "repo:acme/payments:ref:refs/heads/main"}
    gcp = access.graph.edges["workload:payments-deployer", "gcp:service_account:prod:payments-deployer",
                             "federates"]["trust"]
    assert gcp["members"] == ["principal://iam.googleapis.com/projects/123456789012/locations/global/"
                              "workloadIdentityPools/wiam-pool/subject/repo:acme/payments:ref:refs/heads/main"]
    azure = access.graph.edges["workload:payments-deployer", "azure:identity:prod:payments-deployer",
                               "federates"]["trust"]
    assert azure == {"federated_credentials": [{
        "issuer": "https://token.actions.githubusercontent.com", "subject": "repo:acme/payments:ref:refs/heads/main",
        "audience": "api://AzureADTokenExchange"}]}
    assert access.graph.nodes["aws:role:prod:payments-deployer"]["arn"] == \
        "arn:aws:iam::123456789012:role/wiam-payments-deployer"


def test_a_subject_reaches_only_its_own_workloads_access():
    access = _graph(EXAMPLES / "spec-reference")
    reached = set(reachable(access, SPEC_SUBJECT))
    assert "aws:role:prod:payments-deployer" in reached
    assert "aws:action:s3:PutObject" in reached
    assert not any("orders" in node for node in reached)


def test_planted_chains_give_exactly_these_indirect_edges(chains):
    gcp_principals = {n for n, d in chains.graph.nodes(data=True) if d["type"] == "principal" and d["cloud"] == "gcp"}
    expected = {
        ("aws:role:prod:ci", "aws:role:prod:deployer"): "sts:AssumeRole",
        ("aws:role:prod:deployer", "aws:role:prod:admin"): "iam:UpdateAssumeRolePolicy",
        ("aws:role:prod:builder", "aws:role:prod:admin"): "iam:PassRole",
        ("aws:role:prod:intern", "aws:role:prod:ci"): "sts:AssumeRole",
        ("aws:role:prod:bridge", "aws:role:prod:admin"): "sts:AssumeRole",
        ("gcp:service_account:prod:bridge", "gcp:service_account:prod:gcp-data"): "iam.serviceAccounts.getAccessToken",
        ("gcp:service_account:prod:gcp-deployer", "gcp:service_account:prod:bridge"): "iam.serviceAccounts.actAs",
        ("gcp:service_account:prod:gcp-ci", "gcp:service_account:prod:gcp-deployer"): "iam.serviceAccounts.getAccessToken",
        ("gcp:service_account:prod:gcp-deployer", "gcp:service_account:prod:gcp-data"): "iam.serviceAccounts.actAs",
        ("gcp:service_account:prod:gcp-deployer", "gcp:service_account:prod:gcp-ci"): "iam.serviceAccounts.actAs",
        ("gcp:service_account:prod:gcp-deployer", "gcp:service_account:prod:pool-admin"): "iam.serviceAccounts.actAs",
        ("azure:identity:prod:az-ops", "azure:identity:prod:az-app"):
            "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
    }
    expected.update({("gcp:service_account:prod:pool-admin", other): "iam.googleapis.com/workloadIdentityPoolProviders.update"
                     for other in gcp_principals - {"gcp:service_account:prod:pool-admin"}})
    assert _chain_edges(chains) == expected


def test_one_subject_opens_chains_in_two_clouds(chains):
    reached = set(reachable(chains, "subject:eks:system:serviceaccount:bridge:bridge"))
    assert {"aws:role:prod:admin", "gcp:service_account:prod:gcp-data", "aws:action:s3:DeleteBucket",
            "gcp:role:roles/storage.objectAdmin"} <= reached
    assert "aws:role:prod:ci" not in reached and "gcp:service_account:prod:gcp-ci" not in reached


def test_chains_do_not_jump_between_clouds_or_backwards(chains):
    reached = set(reachable(chains, "workload:ci"))
    assert {"aws:role:prod:deployer", "aws:role:prod:admin", "aws:action:s3:DeleteBucket"} <= reached
    assert not any(n.startswith(("gcp:", "azure:")) for n in reached)  # other workloads' clouds stay apart
    assert "aws:role:prod:ci" not in set(reachable(chains, "workload:admin"))


def test_who_can_follows_two_and_three_hop_chains(chains):
    answers = who_can(chains, action="s3:DeleteBucket", resource="arn:aws:s3:::acme-data")
    got = {(a.workload, a.hops): [chains.graph.nodes[n]["label"] for n in a.path] for a in answers}
    assert got == {
        ("admin", 0): ["system:serviceaccount:admin:admin", "admin", "wiam-admin", "aws prod grant of admin",
                       "s3:DeleteBucket"],
        ("builder", 1): ["system:serviceaccount:build:builder", "builder", "wiam-builder", "wiam-admin",
                         "aws prod grant of admin", "s3:DeleteBucket"],
        ("deployer", 1): ["system:serviceaccount:deploy:deployer", "deployer", "wiam-deployer", "wiam-admin",
                          "aws prod grant of admin", "s3:DeleteBucket"],
        ("ci", 2): ["system:serviceaccount:ci:runner", "ci", "wiam-ci", "wiam-deployer", "wiam-admin",
                    "aws prod grant of admin", "s3:DeleteBucket"],
        ("intern", 3): ["system:serviceaccount:dev:intern", "intern", "wiam-intern", "wiam-ci", "wiam-deployer",
                        "wiam-admin", "aws prod grant of admin", "s3:DeleteBucket"],
        ("bridge", 1): ["system:serviceaccount:bridge:bridge", "bridge", "wiam-bridge", "wiam-admin",
                        "aws prod grant of admin", "s3:DeleteBucket"],
    }
    assert who_can(chains, action="s3:DeleteBucket", resource="arn:aws:s3:::other-bucket") == []
    assert who_can(chains, action="s3:PutObject", resource="arn:aws:s3:::acme-data") == []


def test_who_can_on_gcp_and_azure(chains):
    gcp = who_can(chains, action="storage.objects.delete", resource="projects/_/buckets/acme-data/objects/x")
    assert sorted((a.workload, a.hops) for a in gcp) == [
        ("bridge", 1), ("gcp-ci", 2), ("gcp-data", 0), ("gcp-deployer", 1), ("pool-admin", 1)]
    assert who_can(chains, action="storage.objects.delete", resource="projects/_/buckets/other") == []
    by_role = who_can(chains, role="Storage Blob Data Reader")
    assert sorted((a.workload, a.hops) for a in by_role) == [("az-app", 0), ("az-ops", 1)]
    data_read = who_can(chains, action="Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
                        resource="/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/data/"
                                 "providers/Microsoft.Storage/storageAccounts/acme")
    assert sorted(a.workload for a in data_read) == ["az-app", "az-ops"]


def test_who_can_by_role_names_the_role_in_the_path(chains):
    answers = who_can(chains, role="roles/iam.serviceAccountTokenCreator")
    assert {a.path[-1] for a in answers} == {"gcp:role:roles/iam.serviceAccountTokenCreator"}
    assert sorted((a.workload, a.grant, a.hops) for a in answers) == [
        ("bridge", "grant:gcp:prod:bridge", 0),
        ("gcp-ci", "grant:gcp:prod:bridge", 2),
        ("gcp-ci", "grant:gcp:prod:gcp-ci", 0),
        ("gcp-deployer", "grant:gcp:prod:bridge", 1),
        ("gcp-deployer", "grant:gcp:prod:gcp-ci", 1),
        ("pool-admin", "grant:gcp:prod:bridge", 1),
        ("pool-admin", "grant:gcp:prod:gcp-ci", 1),
    ]
    assert chains.graph.nodes["gcp:service_account:prod:gcp-deployer"]["email"] == SA.format("gcp-deployer")
    assert chains.graph.nodes["aws:role:prod:admin"]["arn"] == f"arn:aws:iam::{ACCOUNT}:role/wiam-admin"


def _radius(access, **start):
    from wiam.query import blast_radius, starting_points

    reached = blast_radius(access, starting_points(access, **start))
    return {(r.node, r.hops): r for r in reached}


def test_blast_radius_of_a_workload_follows_its_chains(chains):
    radius = _radius(chains, workload="intern")
    assert {key for key, r in radius.items() if not r.severity} == {
        ("aws:role:prod:intern", 0), ("aws:role:prod:ci", 1), ("aws:role:prod:deployer", 2), ("aws:role:prod:admin", 3)}
    assert {(chains.graph.nodes[n]["label"], hops, r.severity) for (n, hops), r in radius.items() if r.severity} == {
        ("sts:AssumeRole", 0, "high"), ("sts:AssumeRole", 1, "high"),
        ("iam:UpdateAssumeRolePolicy", 2, "critical"), ("s3:DeleteBucket", 3, "high")}
    deepest = radius[("aws:action:s3:DeleteBucket", 3)]
    assert deepest.path == ("workload:intern", "aws:role:prod:intern", "aws:role:prod:ci", "aws:role:prod:deployer",
                            "aws:role:prod:admin", "grant:aws:prod:admin", "aws:action:s3:DeleteBucket")
    assert deepest.resources == ("arn:aws:s3:::acme-data",)


def test_blast_radius_of_a_subject_an_issuer_and_a_repository(chains):
    by_subject = _radius(chains, subject="system:serviceaccount:bridge:bridge")
    principals = {n for (n, _), r in by_subject.items() if not r.severity}
    assert principals == {"aws:role:prod:bridge", "aws:role:prod:admin", "gcp:service_account:prod:bridge",
                          "gcp:service_account:prod:gcp-data"}
    everything = {n for n, d in chains.graph.nodes(data=True) if d["type"] == "principal"}
    assert {n for (n, _), r in _radius(chains, issuer="eks").items() if not r.severity} == everything
    assert _radius(chains, issuer="github") == {}  # an issuer no identity uses reaches nothing
    assert _radius(chains, subject="system:serviceaccount:nobody:none") == {}
    spec_reference = _graph(EXAMPLES / "spec-reference")
    repository = _radius(spec_reference, repository="Acme/Payments")  # GitHub names ignore case
    assert {n for (n, _), r in repository.items() if not r.severity} == {
        "aws:role:prod:payments-deployer", "gcp:service_account:prod:payments-deployer",
        "azure:identity:prod:payments-deployer", "aws:role:prod:payments-release",
        "gcp:service_account:prod:payments-release", "azure:identity:prod:payments-blob-sync"}
    assert {r.severity for r in repository.values() if r.severity} == {"high", "medium"}


# IAM policy variables in AWS resources: `${key}` is the request's value there, so anything; the
# literal forms `${*}`, `${?}` and `${$}` are their characters.

import fnmatch  # noqa: E402
import json  # noqa: E402

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from wiam.providers.aws.graph import arn_matches, reach  # noqa: E402

PREFIX = f"arn:aws:iam::{ACCOUNT}:"
FRAGMENTS = ["role/", "wiam-", "a", "b", "/", ":", "-"]
VARIABLES = ["${aws:UserAgent}", "${aws:PrincipalTag/team, 'a''b}'}", "${ aws:SourceIp }"]
LITERALS = {"${*}": "*", "${?}": "?", "${$}": "$"}
VICTIMS = ["a", "ab", "b-a", "ba"]  # their roles are wiam-a, wiam-ab, ...


@st.composite
def variable_patterns(draw):
    """(a resource pattern with policy variables, the same with every variable given a value, and an ARN
    of what the latter matches)."""
    pattern, concrete, arn = [PREFIX], [PREFIX], [PREFIX]
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["text", "text", "*", "?", "variable", "literal"]))
        if kind == "text":
            text = draw(st.sampled_from(FRAGMENTS))
            pattern.append(text), concrete.append(text), arn.append(text)
        elif kind in "*?":
            fill = draw(st.text(alphabet="ab-/:*", min_size=kind == "?", max_size=1 if kind == "?" else 6))
            pattern.append(kind), concrete.append(kind), arn.append(fill)
        elif kind == "variable":
            value = "".join(draw(st.lists(st.sampled_from(FRAGMENTS), min_size=1, max_size=3)))
            pattern.append(draw(st.sampled_from(VARIABLES))), concrete.append(value), arn.append(value)
        else:
            form = draw(st.sampled_from(sorted(LITERALS)))
            pattern.append(form), concrete.append(form), arn.append(LITERALS[form])
    return "".join(pattern), "".join(concrete), "".join(arn)


@settings(max_examples=300, deadline=None)
@given(variable_patterns())
def test_a_variable_matches_whatever_its_value_would(patterns):
    pattern, concrete, arn = patterns
    assert arn_matches(concrete, arn)  # the generator's own check
    assert arn_matches(pattern, arn)
    targets = {name: {"account_id": account} for name, account in [("prod", ACCOUNT), ("other", "210987654321")]}
    opening = {"actions": ["sts:AssumeRole"]}
    assert reach(dict(opening, resources=[concrete]), targets["prod"], targets) <= \
        reach(dict(opening, resources=[pattern]), targets["prod"], targets)


def test_literal_variables_match_only_their_character():
    assert arn_matches("arn:aws:s3:::a${*}", "arn:aws:s3:::a*")
    assert not arn_matches("arn:aws:s3:::a${*}", "arn:aws:s3:::ab")
    assert not arn_matches("arn:aws:s3:::a${?}", "arn:aws:s3:::ab")
    assert arn_matches("arn:aws:s3:::a${$}{x}", "arn:aws:s3:::a${x}")
    assert not arn_matches("arn:aws:s3:::a${$}{x}", "arn:aws:s3:::ab")
    assert arn_matches("arn:aws:s3:::${aws:UserAgent}/*", "arn:aws:s3:::victim/secret")
    assert arn_matches("arn:aws:s3:::b/${x, 'it''s}'}/k", "arn:aws:s3:::b/any/thing/k")  # `}` quoted in the default
    assert arn_matches("arn:aws:s3:::b/${unclosed", "arn:aws:s3:::b/anything")


def _variable_spec(resource: str) -> str:
    def workload(name, subject, actions, resources):
        return {"environment": "prod", "identity": [{"issuer": "kc", "subject": subject}],
                "grant": {"aws": {"prod": {"actions": actions, "resources": resources}}}}
    workloads = {name: workload(name, f"victim-{name}", ["s3:GetObject"], ["arn:aws:s3:::data/*"]) for name in VICTIMS}
    workloads["low"] = workload("low", "low", ["sts:AssumeRole", "s3:GetObject"], [resource])
    return json.dumps({"issuer": {"kc": {"kind": "generic_oidc", "url": "https://sso.example/realms/p"}},
                       "target": {"aws": {"prod": {"account_id": ACCOUNT}}}, "workload": workloads})


def _reach_of_low(folder, resource: str, probes: list[str]) -> tuple[set, set]:
    (folder / "s.wiam.json").write_text(_variable_spec(resource), encoding="utf-8")
    access = _graph(folder)
    acts_as = {v for u, v in _chain_edges(access) if u == "aws:role:prod:low"}
    readable = {arn for arn in probes
                if any(a.workload == "low" for a in who_can(access, action="s3:GetObject", resource=arn))}
    return acts_as, readable


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(variable_patterns())
def test_the_graph_reach_of_a_variable_covers_every_value(tmp_path_factory, patterns):
    pattern, concrete, arn = patterns
    probes = [arn, *(f"{PREFIX}role/wiam-{name}" for name in VICTIMS)]
    folder = tmp_path_factory.mktemp("variables")
    with_variables = _reach_of_low(folder, pattern, probes)
    with_values = _reach_of_low(folder, concrete, probes)
    assert with_values[0] <= with_variables[0] and with_values[1] <= with_variables[1]
    assert arn in with_variables[1]


def test_a_request_chosen_role_name_reaches_every_role(tmp_path):
    acts_as, readable = _reach_of_low(tmp_path, PREFIX + "role/${aws:UserAgent}", [PREFIX + "role/x"])
    assert acts_as == {f"aws:role:prod:{name}" for name in VICTIMS}
    assert readable == {PREFIX + "role/x"}


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab*?", max_size=12), st.text(alphabet="ab", max_size=14))
def test_resource_wildcards_match_as_globs_do(pattern, arn):
    # fnmatch is an independent glob matcher; with no `[` in the pattern its `*` and `?` are IAM's
    assert arn_matches(pattern, arn) == fnmatch.fnmatchcase(arn, pattern)


def test_many_wildcards_match_in_linear_time():
    # `*a*a*...b` against a long run of `a`: a backtracking matcher takes exponential time here
    assert not arn_matches(PREFIX + "role/" + "*a" * 40 + "*b", PREFIX + "role/wiam-" + "a" * 60)
