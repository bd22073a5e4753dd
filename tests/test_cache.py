"""The parse cache is invisible: the same documents and output with it, without it, cold and warm."""

import pytest

from wiam import cache
from wiam.compile import compile_model, load_model
from wiam.diagnostics import SpecError
from support.paths import EXAMPLE_SPECS


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
