"""What a history walk carries from one commit to the next instead of rebuilding it: the slicing
index (updated by the changed workloads, it is the index of the next spec), and the decoded cache
entries of unchanged files (shared data, but each document's positions in its own file)."""

import copy
import random
import sys
from pathlib import Path

from hypothesis import given, settings, strategies as st

from wiam import record as record_module, slicing
from wiam.cache import remember_valid
from wiam.diagnostics import Report
from wiam.loader import load
from wiam.store import open_store
from support.git import commit_all, init_repo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import generate  # noqa: E402
import history as bench_history  # noqa: E402

ORG = generate.organisation(120, seed=3)


def _changed(old: dict, new: dict) -> set[str]:
    return {n for n in old.keys() | new.keys() if old.get(n) != new.get(n)}


def _edit(org: dict, op: str, name: str, other: str, number: int) -> None:
    work = org["workload"]
    body = work[name]
    cloud, per_target = next(iter(body["grant"].items()))
    if op == "widen":  # one action or role more, or one fewer
        key, added = bench_history.ADDED[cloud]
        grant = next(iter(per_target.values()))
        grant[key] = grant[key][:-1] if len(grant[key]) > 1 else [*grant[key], added]
    elif op == "drop":
        del work[name]
    elif op == "copy":
        work[f"svc-new-{number}"] = {**copy.deepcopy(body), "identity": copy.deepcopy(work[other]["identity"])}
    elif op == "rename":
        work[f"svc-renamed-{number}"] = work.pop(name)
    elif op == "move":  # its grant on another target of the same cloud
        targets = sorted(org["target"][cloud])
        here = next(iter(per_target))
        there = targets[(targets.index(here) + 1 + number) % len(targets)]
        if there not in per_target:
            per_target[there] = per_target.pop(here)
    elif op == "share":  # a subject of another workload's, which the two then share
        body["identity"].append(dict(work[other]["identity"][0]))


EDITS = st.lists(st.tuples(st.sampled_from(["widen", "drop", "copy", "rename", "move", "share"]),
                           st.integers(0, 119), st.integers(0, 119), st.integers(0, 5)), min_size=1, max_size=6)


@settings(max_examples=25, deadline=None)
@given(EDITS)
def test_the_carried_index_is_the_next_specs_index(edits):
    old = ORG
    new = copy.deepcopy(ORG)
    for op, first, second, number in edits:
        names = sorted(new["workload"])
        if len(names) > 2:
            _edit(new, op, names[first % len(names)], names[second % len(names)], number)
    changed = _changed(old["workload"], new["workload"])
    fresh = slicing.index(new, changed & new["workload"].keys())
    assert slicing.reindexed(slicing.index(old), changed, fresh) == slicing.index(new)


def test_a_cached_file_read_at_two_places_keeps_each_places_positions(tmp_path):
    text = 'issuer "github" {\n  kind = "github_actions"\n}\n'
    for place in ("one", "two"):
        (tmp_path / place).mkdir()
        (tmp_path / place / "a.wiam.hcl").write_text(text)
    docs = []
    for place in ("one", "one", "two"):  # the second read of one is a cache hit, as is the read of two
        report = Report()
        docs.append(load(str(tmp_path / place), report))
        assert not report.diagnostics
    assert docs[0].data == docs[1].data == docs[2].data
    where = [doc.where(("issuer", "github"), key=True) for doc in docs]
    assert [(w.file, w.line, w.column) for w in where] == [
        (str(tmp_path / place / "a.wiam.hcl"), 1, 1) for place in ("one", "one", "two")]


def test_a_walk_reads_each_commit_from_a_slice_with_the_heads_own_index(tmp_path, monkeypatch):
    repo = init_repo(tmp_path / "repo")
    specs = repo / "specs"
    org = generate.organisation(400, seed=3)  # 50 workloads a target: each slice under half of them
    generate.write(org, str(specs), "hcl")
    commit_all(repo, "the organisation")
    rng = random.Random(5)
    for n in range(4):
        bench_history.change_a_few(org, rng)
        generate.write(org, str(specs), "hcl")
        commit_all(repo, f"change {n}")
    seen = []

    def checked(base, head, *args, **kwargs):
        compared = compare(base, head, *args, **kwargs)
        loaded = kwargs["documents"].get(head.folder)
        seen.append((compared.whole, loaded.index if loaded else None,
                     slicing.index(loaded.document.data) if loaded else None))
        return compared

    compare = record_module.compare
    monkeypatch.setattr(record_module, "compare", checked)
    store = open_store(str(tmp_path / "record.sqlite"))
    try:
        outcome = record_module.record(str(specs), store, on_valid=remember_valid)
    finally:
        store.close()
    assert len(outcome.recorded) == 5 and not outcome.invalid
    assert [whole for whole, _, _ in seen] == [True, False, False, False, False]
    for _, carried, rebuilt in seen[1:]:
        assert carried == rebuilt
