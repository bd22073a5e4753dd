"""AWS: what slicing's reach derives from settings alone agrees with the role ARNs the plan gives,
and with the graph's role chaining built from the plan."""

import json

from hypothesis import given, settings, strategies as st

from wiam.compile import load_model
from wiam.graph import build_graph
from wiam.planning import plan_model
from wiam.providers import aws

NAMES = st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,70}", fullmatch=True).map(lambda n: n[:64])
ACCOUNTS = st.from_regex(r"[0-9]{12}", fullmatch=True)


def _spec(partition: str, accounts: tuple[str, str], victim: str, resources: list[str]) -> dict:
    targets = {name: {"account_id": account, "partition": partition} for name, account in zip(("src", "dst"), accounts)}
    identity = [{"issuer": "github", "repository": "acme/app", "ref": "refs/heads/main"}]
    grant = {"actions": ["s3:GetObject"], "resources": [f"arn:{partition}:s3:::b"]}
    workloads = {victim: {"identity": identity, "grant": {"aws": {"dst": grant}}}}
    if resources:
        workloads["chain-" + victim[:50]] = {"identity": identity, "grant": {"aws": {"src": {
            "actions": ["sts:AssumeRole"], "resources": resources}}}}
    return {"issuer": {"github": {"kind": "github_actions"}}, "target": {"aws": targets}, "workload": workloads}


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(["aws", "aws-cn", "aws-us-gov"]), st.tuples(ACCOUNTS, ACCOUNTS).filter(lambda a: a[0] != a[1]),
       NAMES)
def test_reach_finds_the_account_of_every_planned_role(tmp_path_factory, partition, accounts, victim):
    folder = tmp_path_factory.mktemp("spec")
    (folder / "main.wiam.json").write_text(json.dumps(_spec(partition, accounts, victim, [])))
    arn = plan_model(load_model(str(folder)))[("aws", "dst")].principals[victim].attributes["arn"]

    spec = _spec(partition, accounts, victim, [arn])
    (folder / "main.wiam.json").write_text(json.dumps(spec))
    access = build_graph(load_model(str(folder)))
    chained = {v for _, v, k in access.graph.out_edges(f"aws:role:src:chain-{victim[:50]}", keys=True) if k == "can_act_as"}
    assert chained == {f"aws:role:dst:{victim}"}
    targets = spec["target"]["aws"]
    assert aws.reach({"actions": ["sts:AssumeRole"], "resources": [arn]}, targets["src"], targets) == {"dst"}
