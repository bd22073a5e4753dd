"""A merged document keeps each file's outline positions only (decoded when first asked for) and
reads the rest again on demand: every position it gives is the one the file's own parse gives, with
the cache on, off, cold and warm."""

import sys
from pathlib import Path

import pytest

from wiam.diagnostics import Report
from wiam.document import outline_length
from wiam.loader import load, spec_files
from wiam.readers import read
from support.paths import EXAMPLE_SPECS
from support.specs import write_spec

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import generate  # noqa: E402


def _organisation(tmp_path) -> Path:
    folder = tmp_path / "org"
    generate.write(generate.organisation(300, seed=5), str(folder), "mixed")
    return folder


def _check_every_position(folder: Path) -> int:
    merged = load(str(folder), Report())
    checked = 0
    for path in spec_files(str(folder)):
        own = read(path, Path(path).read_text(encoding="utf-8"), Report())
        for table in (own.positions, own.key_positions):
            for where in table:
                if len(where) < 2:
                    continue  # ("workload",) and the like: the first file that has one names it
                assert merged.where(where) == own.where(where), where
                assert merged.where(where, key=True) == own.where(where, key=True), where
                checked += 1
    return checked


@pytest.mark.parametrize("cache", ["1", "0"])
def test_every_position_of_the_examples_and_an_organisation(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("WIAM_CACHE", cache)
    monkeypatch.setenv("WIAM_CACHE_DIR", str(tmp_path / "cache"))
    folders = [*EXAMPLE_SPECS, _organisation(tmp_path)]
    for _ in range(2):  # cold, then warm
        assert sum(_check_every_position(folder) for folder in folders) > 10_000


@pytest.mark.parametrize("cache", ["1", "0"])
def test_merged_positions_are_the_outline_only(cache, tmp_path, monkeypatch):
    monkeypatch.setenv("WIAM_CACHE", cache)
    monkeypatch.setenv("WIAM_CACHE_DIR", str(tmp_path / "cache"))
    folder = _organisation(tmp_path)
    for _ in range(2):  # cold, then warm
        merged = load(str(folder), Report())
        outlines = [outline.settle() for outline in merged.outlines.values()]
        assert all(outline_length(p) == len(p) for o in outlines for table in (o.positions, o.key_positions)
                   for p in table)
        full = sum(len(read(p, Path(p).read_text(encoding="utf-8"), Report()).positions) for p in spec_files(str(folder)))
        assert sum(len(o.positions) for o in outlines) < full / 2


def test_a_cache_hit_decodes_positions_only_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("WIAM_CACHE_DIR", str(tmp_path / "cache"))
    folder = _organisation(tmp_path)
    load(str(folder), Report())
    merged = load(str(folder), Report())
    assert all(outline.deferred for outline in merged.outlines.values())
    name = sorted(merged.data["workload"])[150]
    assert merged.where(("workload", name)).line > 0
    assert sum(outline.deferred is None for outline in merged.outlines.values()) == 1


def test_a_file_changed_since_loading_gives_its_block_not_a_wrong_line(tmp_path):
    folder = write_spec(tmp_path / "spec", {"a.wiam.hcl": 'workload "api" {\n  owner = "team"\n}\n'})
    merged = load(str(folder), Report())
    (folder / "a.wiam.hcl").write_text('\n\nworkload "api" {\n  owner = "team"\n}\n', encoding="utf-8")
    assert merged.where(("workload", "api", "owner")) == merged.where(("workload", "api"))
    assert merged.where(("workload", "api", "owner")).line == 1


@pytest.mark.parametrize("cache", ["1", "0"])
def test_findings_point_where_one_by_one_lookups_point(cache, tmp_path, monkeypatch):
    """analyze asks for its findings' positions in a batch (each file read once): the same positions
    as asking one at a time."""
    from wiam.analysis import analyze
    from wiam.compile import load_model
    from wiam.document import Document, MergedDocument

    monkeypatch.setenv("WIAM_CACHE", cache)
    monkeypatch.setenv("WIAM_CACHE_DIR", str(tmp_path / "cache"))
    folders = [*EXAMPLE_SPECS, _organisation(tmp_path)]
    batched = [analyze(load_model(str(folder))) for folder in folders]
    monkeypatch.setattr(MergedDocument, "batch", Document.batch)
    one_by_one = [analyze(load_model(str(folder))) for folder in folders]
    assert batched == one_by_one
    organisation = load_model(str(folders[-1]))
    inside = [f for f in batched[-1] if f.workload and f.pos.line > organisation.where(("workload", f.workload)).line]
    assert len(inside) > 10  # findings point inside their workload's block, at an attribute
