"""The history's per-commit shortcuts give what the whole-state computations give."""

from dataclasses import replace

import pytest
from hypothesis import given, settings, strategies as st

from wiam.diff import Access, Loaded, _windowed, _windowed_either
from wiam.document import Document
from wiam.record import State, _key, _moved

NAMES = ["a", "b", "c", "d", "not_before"]


def _access(subject: str, workload: str, permission: str) -> Access:
    return Access("https://issuer", subject, "aws", "prod", workload, permission, "*", False)


@st.composite
def states(draw):
    """Two states whose lineages are each one-to-one, sharing some tuples and some lineages."""
    numbers = draw(st.permutations(range(1, 8)))
    old_names = draw(st.sets(st.sampled_from(NAMES), min_size=1))
    new_names = draw(st.sets(st.sampled_from(NAMES), min_size=1))
    old_lineage = {n: numbers[i] for i, n in enumerate(sorted(old_names))}
    kept = {n: old_lineage[n] for n in new_names & old_names if draw(st.booleans())}
    fresh = iter(sorted(set(range(1, 20)) - set(kept.values())))
    new_lineage = {n: kept.get(n) or next(fresh) for n in sorted(new_names)}

    def held(names):
        return draw(st.sets(st.tuples(st.builds(_access, st.sampled_from("xy"), st.sampled_from(sorted(names)),
                                                st.sampled_from(["s3:Get", "s3:Put"])), st.sampled_from(["", "{}"])),
                            max_size=8))
    old_held = held(old_names)
    new_held = held(new_names) | {h for h in old_held if h[0].workload in new_names and draw(st.booleans())}
    return State(old_held, old_lineage, 8), State(new_held, new_lineage, 20)


@settings(max_examples=150, deadline=None)
@given(states())
def test_the_moved_rows_differ_as_the_whole_states_do_whether_the_old_is_in_memory_or_in_the_record(pair):
    old, new = pair
    whole_before = {_key(h, old.lineage) for h in old.held}
    whole_after = {_key(h, new.lineage) for h in new.held}
    recorded = replace(old, held=None)  # as the record holds it: read back through OpenTuples
    for state in (old, recorded):
        before, after = _moved(state, new, lambda asked, subjects: old.held if asked is recorded and subjects is None
                               else pytest.fail("read the wrong state from the record"))
        assert before - after == whole_before - whole_after
        assert after - before == whole_after - whole_before


BODIES = st.sampled_from([{"grant": {}}, {"grant": {"aws": {"t": {"expires": "2030-01-01T00:00:00Z"}}}},
                          {"identity": [{"not_before": "2020-01-01T00:00:00Z"}]}, {"identity": [{"subject": "s"}]}])


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(NAMES + ["expires"]), BODIES),
       st.dictionaries(st.sampled_from(NAMES + ["expires"]), BODIES))
def test_windows_are_found_from_the_base_and_the_changed_workloads(old_workloads, new_workloads):
    changed = {n for n in old_workloads.keys() | new_workloads.keys() if old_workloads.get(n) != new_workloads.get(n)}
    old, new = (Loaded(Document({"workload": w})) for w in (old_workloads, new_workloads))
    assert _windowed_either(old, new, changed) == (_windowed(old_workloads) or _windowed(new_workloads))
