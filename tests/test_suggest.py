"""Did-you-mean suggestions: near misses of every catalog's names still get the closest name."""

import json

from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rapidfuzz import fuzz

from support.specs import spec_errors
from wiam.providers.aws import catalog as aws_catalog
from wiam.providers.azure import catalog as azure_catalog
from wiam.providers.gcp import catalog as gcp_catalog
from wiam.suggest import MAX_LENGTH, closest

CATALOGS = {
    "gcp": sorted(gcp_catalog.roles()),
    "azure": sorted(azure_catalog._roles()),
    "aws": sorted(aws_catalog.expand("*")),
}


@st.composite
def near_misses(draw):
    """A catalogued name with one character replaced, dropped or doubled: a typo."""
    cloud = draw(st.sampled_from(sorted(CATALOGS)))
    name = draw(st.sampled_from(CATALOGS[cloud]))
    at = draw(st.integers(min_value=0, max_value=len(name) - 1))
    assume(name[at] != ":")  # an AWS action without its colon is a (long) service prefix, not a typo
    edit = draw(st.sampled_from(["replace", "drop", "double"]))
    typo = {"replace": name[:at] + ("x" if name[at] != "x" else "y") + name[at + 1:],
            "drop": name[:at] + name[at + 1:], "double": name[:at] + name[at] + name[at:]}[edit]
    return cloud, name, typo


def _problem(cloud: str, entry: str):
    return {"gcp": gcp_catalog.problem, "azure": azure_catalog.problem, "aws": aws_catalog.problem}[cloud](entry)


@settings(max_examples=60, deadline=None)
@given(near_misses())
def test_a_typo_of_a_catalogued_name_gets_a_suggestion_at_least_as_close(case):
    cloud, name, typo = case
    found = _problem(cloud, typo)
    if found is None:
        return  # the typo is itself a catalogued name (or, for AWS, a case variant IAM accepts)
    message, fix = found
    assert "did you mean " in fix, (typo, fix)
    suggested = fix.split("did you mean ", 1)[1].split("? ", 1)[0].strip("'")
    if cloud == "aws" and suggested.partition(":")[0].lower() != typo.partition(":")[0].lower():
        return  # the typo broke the service prefix: the suggestion is a prefix
    if cloud == "aws":  # actions are compared by name within their service, without case
        suggested, name, typo = (s.partition(":")[2].lower() for s in (suggested, name, typo))
    assert fuzz.ratio(typo, suggested) >= fuzz.ratio(typo, name)


def test_closest_breaks_ties_by_order_and_skips_hopeless_input():
    assert closest("roles/storage.objectViewr", ["roles/storage.objectViewer", "roles/storage.objectCreator"]) == \
        "roles/storage.objectViewer"
    assert closest("abc", ["abx", "aby"]) == "abx" and closest("abc", ["aby", "abx"]) == "aby"
    assert closest("completely different", ["roles/owner"]) is None
    assert closest("r" * (MAX_LENGTH + 1), ["r" * MAX_LENGTH]) is None


def test_unknown_names_in_a_large_spec_get_bounded_hints(spec):
    targets = {f"acct{i}": {"account_id": f"{i:012d}"} for i in range(30)}
    grants = {name: {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}
              for name in ["acct7x", "zzzzzzzz"]}
    data = {"issuer": {"github": {"kind": "github_actions"}}, "target": {"aws": targets},
            "workload": {"app": {"identity": [{"issuer": "gitub", "repository": "acme/app", "ref": "refs/heads/main"}],
                                 "grant": {"aws": grants}}}}
    errors = {e.message: e.hint for e in spec_errors(spec({"spec.wiam.json": json.dumps(data)}))}
    assert errors["no aws target named 'acct7x'"] == "did you mean 'acct7'?"
    assert errors["no issuer named 'gitub'"] == "did you mean 'github'?"
    far = errors["no aws target named 'zzzzzzzz'"]  # nothing close: the hint lists 10 targets, not all 30
    assert far == "aws targets are: " + ", ".join(sorted(targets)[:10]) + " and 20 more"
