"""The parse cache is invisible: the same documents and output with it, without it, cold and warm."""

import pytest

from wiam import cache
from wiam.compile import compile_model, load_model
from wiam.diagnostics import SpecError
from support.paths import EXAMPLE_SPECS
from support.specs import BASE_HCL, workload_hcl, write_spec


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("WIAM_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("WIAM_CACHE", "1")
    return tmp_path / "cache"


def _build(folder):
    model = load_model(str(folder))
    return model.document, compile_model(model)


@pytest.mark.parametrize("folder", EXAMPLE_SPECS, ids=lambda p: p.name)
def test_same_documents_and_output_cold_warm_and_off(folder, fresh_cache, monkeypatch):
    cold_doc, cold_out = _build(folder)
    assert any(fresh_cache.rglob("*.json"))
    warm_doc, warm_out = _build(folder)
    monkeypatch.setenv("WIAM_CACHE", "0")
    off_doc, off_out = _build(folder)
    paths = [path for outline in cold_doc.outlines.values() for path in outline.settle().key_positions]
    for doc in (warm_doc, off_doc):
        assert doc.data == cold_doc.data
        assert [doc.where(p, key=True) for p in paths] == [cold_doc.where(p, key=True) for p in paths]
    assert cold_out == warm_out == off_out


def test_a_hit_does_not_parse_and_a_change_misses(fresh_cache, spec, monkeypatch):
    folder = spec({"a.wiam.hcl": 'issuer "github" {\n  kind = "github_actions"\n}\n'})
    load_model(str(folder))
    class Parsed(Exception):
        pass

    def refuse(*args):
        raise Parsed
    monkeypatch.setattr("wiam.loader.read", refuse)
    assert load_model(str(folder)).issuers["github"].pos.line == 1  # a hit: the reader did not run
    (folder / "a.wiam.hcl").write_text('\nissuer "github" {\n  kind = "github_actions"\n}\n')
    with pytest.raises(Parsed):  # changed text: a miss, so the reader runs
        load_model(str(folder))


def test_files_with_errors_are_not_cached_and_broken_entries_are_ignored(fresh_cache, spec):
    folder = spec({"a.wiam.hcl": 'issuer "x" {\n  kind = \n}\n'})
    for _ in range(2):  # every run reports the error again
        with pytest.raises(SpecError):
            load_model(str(folder))
    assert not any(fresh_cache.rglob("*.json"))
    good = spec({"b.wiam.hcl": 'issuer "github" {\n  kind = "github_actions"\n}\n'})
    load_model(str(good))
    for entry in fresh_cache.rglob("*.json"):
        entry.write_bytes(b"not json")
    assert load_model(str(good)).issuers["github"].kind == "github_actions"
    assert cache.enabled()


@pytest.mark.parametrize("folder", EXAMPLE_SPECS, ids=lambda p: p.name)
def test_a_spec_digest_without_parsing_is_the_loaded_one(folder):
    """diff asks whether its base is known valid before it parses anything: by this digest."""
    from wiam.diagnostics import Report
    from wiam.loader import load, spec_digest

    assert spec_digest(str(folder)) == load(str(folder), Report()).digest != ""
    assert spec_digest(str(folder / "missing")) == ""


@pytest.mark.parametrize("cache_on", ["0", "1"])
@pytest.mark.parametrize("folder", EXAMPLE_SPECS, ids=lambda p: p.name)
def test_parsing_in_workers_is_invisible(folder, cache_on, fresh_cache, monkeypatch, tmp_path):
    """Files parsed by forked workers give what one process gives: data, every position, the
    positions kept for messages, and the errors, in order."""
    from wiam import loader
    from wiam.diagnostics import Report

    spec = tmp_path / "spec"
    spec.mkdir()
    for path in folder.iterdir():
        (spec / path.name).write_bytes(path.read_bytes())
    (spec / "zz-broken.wiam.hcl").write_text('issuer "x" {\n  kind = 3\n}\nworkload "y" {\n  owner = [\n')
    monkeypatch.setenv("WIAM_CACHE", cache_on)

    in_workers = []
    parse_in_parallel = loader._parse_in_parallel
    monkeypatch.setattr(loader, "_parse_in_parallel", lambda texts: in_workers.append(len(parsed := parse_in_parallel(texts)))
                        or parsed)
    monkeypatch.setattr(loader, "parallel_workers", lambda: 2)

    def loaded(threshold, cache_dir):
        monkeypatch.setattr(loader, "PARALLEL_BYTES", threshold)
        monkeypatch.setenv("WIAM_CACHE_DIR", str(tmp_path / cache_dir))  # cold each time
        report = Report()
        return loader.load(str(spec), report), report.diagnostics

    (serial, serial_errors), (parallel, parallel_errors) = loaded(1 << 40, "a"), loaded(0, "b")
    assert in_workers == [0, len(serial.files)]
    assert parallel.data == serial.data and parallel.digest == serial.digest
    assert parallel_errors == serial_errors and serial_errors
    for file, outline in serial.outlines.items():
        paths = outline.settle().key_positions
        assert [parallel.where(p, key=True) for p in paths] == [serial.where(p, key=True) for p in paths]
        assert parallel.reread(file) == serial.reread(file)


def test_a_file_merged_into_one_spec_is_unchanged_in_the_next(fresh_cache, tmp_path):
    """A cached document is shared by every spec that holds the file: merging another file's blocks
    into one spec must not write them into the next."""
    base = BASE_HCL + workload_hcl()
    extra = 'target "aws" "dev" {\n  account_id = "210987654321"\n}\n'
    with_extra = write_spec(tmp_path / "a", {"base.wiam.hcl": base, "extra.wiam.hcl": extra})
    alone = write_spec(tmp_path / "b", {"base.wiam.hcl": base})
    for _ in range(2):  # the first round parses and stores the entries, the second reads them back
        assert ("aws", "dev") in load_model(str(with_extra)).targets
        assert ("aws", "dev") not in load_model(str(alone)).targets


@pytest.mark.parametrize("folder", [f for f in EXAMPLE_SPECS if len(list(f.glob("*.wiam.*"))) > 1],
                         ids=lambda p: p.name)
def test_a_file_cached_while_the_workers_parse_is_read_from_the_cache(folder, fresh_cache, monkeypatch):
    """A diff loads both sides at once, so the other side's process can store a file between this
    side's look at the cache and its workers' parse: the load reads that entry, as if it had been
    there all along (a traceback here once made every cold revision diff of a large spec fail)."""
    from wiam import loader
    from wiam.diagnostics import Report

    warm = loader.load(str(folder), Report())  # every file is in the cache now
    monkeypatch.setattr(loader, "cached", lambda path, digest: False)  # but was not when looked at
    monkeypatch.setattr(loader, "parallel_workers", lambda: 2)
    monkeypatch.setattr(loader, "PARALLEL_BYTES", 0)
    report = Report()
    raced = loader.load(str(folder), report)
    assert not report.diagnostics
    assert raced.data == warm.data and raced.digest == warm.digest and len(warm.files) > 1
    for outline in warm.outlines.values():
        paths = outline.settle().key_positions
        assert [raced.where(p, key=True) for p in paths] == [warm.where(p, key=True) for p in paths]
