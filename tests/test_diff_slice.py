"""The incremental diff (read from the slice of workloads a change can affect) equals the full diff,
on an organisation with role chaining, impersonation, identity takeover, shared subjects, a lone
issuer and a lone target, for changes that reach each of them; and it gives way where it must."""

import copy
import sys
from pathlib import Path

import pytest

from wiam import diff as diff_module, slicing, windows
from wiam.cache import remember_valid
from wiam.compile import load_valid_model
from wiam.diagnostics import SpecError
from wiam.diff import Source, _sliced_diff, diff, to_text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import generate  # noqa: E402
from support.git import commit_all, init_repo  # noqa: E402

SUBSCRIPTION_0 = "/subscriptions/00000000-1111-1111-1111-111111111111"


def _base() -> dict:
    """200 workloads, 50 a target: svc-000000 to 049 on each cloud's first target, and so on."""
    org = generate.organisation(200, seed=11)
    work = org["workload"]

    def grant(name, cloud, target, body):
        work[name]["grant"].setdefault(cloud, {})[target] = body
    # a chain across three accounts: svc-000003 assumes roles in acct-1, svc-000060 (acct-1) in acct-2
    grant("svc-000003", "aws", "acct-0", {"actions": ["sts:AssumeRole"],
                                          "resources": ["arn:aws:iam::100000000001:role/wiam-*"]})
    grant("svc-000060", "aws", "acct-1", {"actions": ["sts:AssumeRole"],
                                          "resources": ["arn:aws:iam::100000000002:role/wiam-svc-0001*"]})
    grant("svc-000004", "gcp", "proj-0", {"roles": ["roles/iam.serviceAccountTokenCreator"]})  # project-wide
    grant("svc-000005", "azure", "sub-0", {"roles": ["Managed Identity Contributor"],
                                           "scope": f"{SUBSCRIPTION_0}/resourceGroups/workload-identities"})
    work["svc-000006"]["identity"].append(dict(work["svc-000190"]["identity"][0]))  # shared across targets
    org["issuer"]["lonely"] = {"kind": "generic_oidc", "url": "https://lonely.example"}
    work["svc-000017"]["identity"].append({"issuer": "lonely", "subject": "batch"})
    work["svc-000170"]["identity"].append({"issuer": "lonely", "subject": "batch-170"})
    org["target"]["aws"]["acct-solo"] = {"account_id": "999999999999"}
    grant("svc-000019", "aws", "acct-solo", {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::solo/*"]})
    return org


def _on(org: dict, cloud: str, target: str) -> list[str]:
    return sorted(n for n, w in org["workload"].items() if target in w["grant"].get(cloud, {}))


def _add_role(org):
    name = next(n for n in _on(org, "gcp", "proj-0") if n != "svc-000004")
    org["workload"][name]["grant"]["gcp"]["proj-0"]["roles"].append("roles/viewer")


def _remove_assumable(org):
    del org["workload"][next(n for n in _on(org, "aws", "acct-1") if n != "svc-000060")]


def _change_chain_end(org):
    name = next(n for n in _on(org, "aws", "acct-2") if n.startswith("svc-0001"))
    org["workload"][name]["grant"]["aws"]["acct-2"]["actions"].append("s3:GetObjectVersion")


def _add_workload(org):
    org["workload"]["svc-new"] = {**copy.deepcopy(org["workload"]["svc-000010"]),
                                  "identity": [{"issuer": "keycloak", "subject": "new-one", "audience": "x"}]}


def _rename(org):
    org["workload"]["svc-renamed"] = org["workload"].pop("svc-000011")


def _share(org):
    org["workload"]["svc-000012"]["identity"].append(dict(org["workload"]["svc-000185"]["identity"][0]))


def _unshare(org):
    org["workload"]["svc-000006"]["identity"].pop()


def _pass_role_everywhere(org):
    org["workload"]["svc-000014"]["grant"].setdefault("aws", {})["acct-0"] = {
        "actions": ["iam:PassRole", "lambda:CreateFunction"], "resources": ["*"]}


def _retarget_chain(org):
    org["workload"]["svc-000003"]["grant"]["aws"]["acct-0"]["resources"] = ["arn:aws:iam::100000000002:role/wiam-*"]


def _disable(org):
    org["workload"]["svc-000015"].update(disabled=True, reason="INC-1")


def _disable_takeover_target(org):
    name = next(n for n in _on(org, "azure", "sub-0") if n != "svc-000005")
    org["workload"][name].update(disabled=True, reason="INC-2")


def _drop_lonely_issuer(org):
    org["workload"]["svc-000017"]["identity"].pop()  # svc-000170 still names it


def _lonely_issuer_unused(org):
    org["workload"]["svc-000017"]["identity"].pop()
    org["workload"]["svc-000170"]["identity"].pop()


def _second_lonely_user(org):
    org["workload"]["svc-000018"]["identity"].append({"issuer": "lonely", "subject": "batch-2"})


def _drop_solo_target(org):
    del org["workload"]["svc-000019"]["grant"]["aws"]["acct-solo"]


def _bench_change(org):
    name = next(n for n, w in sorted(org["workload"].items()) if "gcp" in w["grant"])
    grant = next(iter(org["workload"][name]["grant"]["gcp"].values()))
    grant["roles"].insert(0, "roles/viewer")


def _nothing(org):
    pass


CHANGES = [_add_role, _remove_assumable, _change_chain_end, _add_workload, _rename, _share, _unshare,
           _pass_role_everywhere, _retarget_chain, _disable, _disable_takeover_target, _drop_lonely_issuer,
           _lonely_issuer_unused, _second_lonely_user, _drop_solo_target, _bench_change, _nothing]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    folder = tmp_path_factory.mktemp("base") / "spec"
    generate.write(_base(), str(folder), "mixed")
    return folder


@pytest.fixture
def marked_base(base, tmp_path, monkeypatch):
    monkeypatch.setenv("WIAM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WIAM_CACHE", "1")
    monkeypatch.setattr("wiam.diff.SLICE_AT_MOST", 1.0)  # a small organisation: check slices of any size
    remember_valid(load_valid_model(str(base)).document.digest)  # as the commands do: the base is known valid
    return base


def _head(tmp_path, change) -> Path:
    org = _base()
    change(org)
    folder = tmp_path / "head"
    generate.write(org, str(folder), "mixed")
    return folder


def _sliced(base: Path, head: Path):
    return _sliced_diff(Source(str(base), str(base), None), Source(str(head), str(head), None), False)


@pytest.mark.parametrize("change", CHANGES, ids=lambda c: c.__name__.strip("_"))
def test_the_slice_gives_the_full_diff(change, marked_base, tmp_path):
    head = _head(tmp_path, change)
    sliced = _sliced(marked_base, head)
    assert sliced is not None, "the change should be read from a slice"
    full = diff(str(marked_base), str(head), incremental=False)
    assert sliced.as_json() == full.as_json()
    if change is not _nothing:
        assert sliced.as_json() != diff(str(marked_base), str(marked_base), incremental=False).as_json()


@pytest.mark.parametrize("change", [_add_role, _rename, _share, _disable, _bench_change],
                         ids=lambda c: c.__name__.strip("_"))
def test_a_diff_of_two_revisions_reads_the_slice_once_its_base_is_known_valid(change, tmp_path, monkeypatch):
    """`wiam diff HEAD~1 HEAD`: the first run reads both commits whole and marks them valid; the next
    reads the slice, and says byte for byte what the whole read says."""
    monkeypatch.setenv("WIAM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WIAM_CACHE", "1")
    monkeypatch.setattr("wiam.diff.SLICE_AT_MOST", 1.0)
    repo = init_repo(tmp_path / "repo")
    generate.write(_base(), str(repo / "spec"), "mixed")
    commit_all(repo, "base")
    org = _base()
    change(org)
    generate.write(org, str(repo / "spec"), "mixed")
    commit_all(repo, "head")
    monkeypatch.chdir(repo)
    sliced = []
    sliced_sides = diff_module._sliced_sides
    monkeypatch.setattr(diff_module, "_sliced_sides", lambda *args: sliced.append(found := sliced_sides(*args)) or found)
    at = windows.current()
    runs = [diff("HEAD~1", "HEAD", "spec", on_valid=remember_valid, at=at) for _ in range(2)]
    whole = diff("HEAD~1", "HEAD", "spec", incremental=False, at=at)
    assert [found is not None for found in sliced] == [False, True]
    assert whole.base == "HEAD~1:spec" and whole.head == "HEAD:spec"
    for run in runs:
        assert run.as_json() == whole.as_json() and to_text(run) == to_text(whole)


def test_slices_are_small_and_hold_what_they_must(base):
    org = _base()
    old = slicing.index(org)
    head = _base()
    _add_role(head)
    changed = {n for n in org["workload"] if org["workload"][n] != head["workload"][n]}
    chosen = slicing.affected([old, slicing.index(head)], changed)
    assert "svc-000004" in chosen  # it can impersonate the changed workload's service account
    assert set(_on(org, "gcp", "proj-0")) <= chosen  # the changed target's every workload
    assert len(chosen) < len(org["workload"]) / 2


def test_it_gives_way_where_a_slice_cannot_answer(marked_base, tmp_path, monkeypatch):
    def read(head):
        return _sliced(marked_base, head)

    org = _base()
    org["issuer"]["another"] = {"kind": "generic_oidc", "url": "https://another.example"}
    generate.write(org, str(tmp_path / "issuer"), "mixed")
    assert read(tmp_path / "issuer") is None  # beyond workloads

    org = _base()
    org["workload"]["svc-000020"]["grant"]["aws"] = {"acct-missing": {"actions": ["s3:GetObject"], "resources": ["*"]}}
    generate.write(org, str(tmp_path / "broken"), "mixed")
    assert read(tmp_path / "broken") is None
    with pytest.raises(SpecError) as error:
        diff(str(marked_base), str(tmp_path / "broken"))
    assert "acct-missing" in error.value.diagnostics[0].message

    head = _head(tmp_path, _add_role)
    monkeypatch.setenv("WIAM_CACHE_DIR", str(tmp_path / "other-cache"))  # the base is not known valid there
    assert read(head) is None
    assert (diff(str(marked_base), str(head), on_valid=remember_valid).as_json()
            == diff(str(marked_base), str(head), incremental=False).as_json())
    assert read(head) is not None  # the full diff marked the base valid


def test_reach_holds_every_edge_the_graph_draws(tmp_path):
    """providers' reach is a superset of link_principals: every can_act_as edge ends in a target the
    grant's reach names (here on the chains above and on every example)."""
    from wiam.compile import load_model
    from wiam.graph import build_graph
    from support.paths import EXAMPLE_SPECS
    from wiam import registry

    generate.write(_base(), str(tmp_path / "org"), "mixed")
    edges = {}
    for folder in [tmp_path / "org", *EXAMPLE_SPECS]:
        model = load_model(str(folder))
        access = build_graph(model)
        for holder, other in access.only("can_act_as").edges():
            grant = access.graph.nodes[access.graph[holder][other]["can_act_as"]["via"]]
            cloud, target = grant["cloud"], grant["target"]
            settings = model.workloads[grant["workload"]].grants
            settings = next(g.settings for g in settings if (g.cloud, g.target) == (cloud, target))
            targets = {name: t.settings for (c, name), t in model.targets.items() if c == cloud}
            assert access.graph.nodes[other]["target"] in registry.get(cloud).reach(settings, targets[target], targets)
            edges[cloud] = edges.get(cloud, 0) + 1
    assert set(edges) == {"aws", "gcp", "azure"} and sum(edges.values()) > 100
