"""The document model holds exactly JSON's values, in every reader, with the cache on or off.

Every hostile case is a spec error at its position (through the CLI, no traceback), the same
cold, warm and without the cache; both HCL readers agree; JSON-domain values read the same from
HCL, YAML and JSON; out-of-domain numbers and escapes are refused where they are written; a cached
read is a fresh one; hostile input stays within little memory."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest import mock

import orjson
import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st
from typer.testing import CliRunner

from wiam.cache import read_cached
from wiam.cli import app
from wiam.loader import load
from wiam.diagnostics import Pos, Report
from wiam.readers import hcl_fast, read
from wiam.readers.domain import MAX_DEPTH, MAX_INTEGER
from wiam.readers.hcl import read_hcl, read_hcl_reference
from hostile_corpus import CASES, Case
from support.cli import run_wiam

BY_ID = {case.id: case for case in CASES}


def _validate(folder, env: dict) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["validate", str(folder)], env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def _folder(tmp_path, case: Case):
    folder = tmp_path / "spec"
    folder.mkdir(exist_ok=True)
    (folder / case.filename).write_text(case.text, encoding="utf-8")
    return folder


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_every_case_is_an_error_at_its_position_cold_warm_and_without_cache(case, tmp_path):
    folder = _folder(tmp_path, case)
    cache = {"WIAM_CACHE": "1", "WIAM_CACHE_DIR": str(tmp_path / "cache")}
    cold, warm = _validate(folder, cache), _validate(folder, cache)
    off = _validate(folder, {"WIAM_CACHE": "0", "WIAM_CACHE_DIR": str(tmp_path / "unused")})
    assert cold == warm == off
    code, output = cold
    assert code == 1
    where = f"{folder / case.filename}:{case.line}:{case.column}: error"
    lines = output.splitlines()
    at = [i for i, line in enumerate(lines) if line.startswith(where)]
    assert at, output[:2000]
    assert any(case.message in lines[i] and lines[i + 1].startswith("  fix: ") for i in at), output[:2000]
    assert "Traceback" not in output and "Error:" not in output
    assert max(map(len, lines)) < 400  # messages quote user text cut short


def test_deep_input_never_overflows_a_stack(tmp_path):
    """In a process of its own: libyaml's composer and the recursive readers once crashed it."""
    folder = tmp_path / "spec"
    folder.mkdir()
    for case in CASES:
        if case.name.startswith("deep-"):
            (folder / f"{case.name}-{case.filename}").write_text(case.text, encoding="utf-8")
    result = run_wiam("validate", folder, env={"WIAM_CACHE": "0", "PATH": ""}, inherit_env=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert output.count("nest deeper than 64 levels") == sum(c.name.startswith("deep-") for c in CASES)
    assert "Traceback" not in output


def _verdict(case: Case) -> list[str]:
    report = Report()
    read(case.filename, case.text, report)
    return [d.message for d in report.diagnostics]


@pytest.mark.parametrize("name", sorted({c.name for c in CASES if c.filename.endswith(".hcl")}
                                        & {c.name for c in CASES if c.filename.endswith(".json")}
                                        & {c.name for c in CASES if c.filename.endswith(".yaml")}
                                        - {"lone-surrogate"}))  # an escape of its own kind in each
def test_the_same_verdict_in_every_format(name):
    cases = [c for c in CASES if c.name == name]
    verdicts = [_verdict(c) for c in cases]
    assert all(v == verdicts[0] for v in verdicts) and len(verdicts[0]) == 1, verdicts


@pytest.mark.skipif(not hcl_fast.available(), reason="no tree-sitter wheel")
@pytest.mark.parametrize("case", [c for c in CASES if c.filename.endswith(".hcl") and c.name != "huge-file"],
                         ids=lambda c: c.id)
def test_both_hcl_readers_give_the_same_verdict_and_document(case):
    fast, reference = Report(), Report()
    fast_doc = read_hcl(case.filename, case.text, fast)
    reference_doc = read_hcl_reference(case.filename, case.text, reference)
    assert fast.diagnostics == reference.diagnostics != []
    assert fast_doc.data == reference_doc.data


def _nested(depth: int, fmt: str) -> str:
    """A list nested `depth` levels below the top mapping (whose key is level 1)."""
    inner = "[" * (depth - 1) + "1" + "]" * (depth - 1)
    return {"hcl": f"x = {inner}\n", "json": f'{{"x": {inner}}}', "yaml": f"x: {inner}\n"}[fmt]


@pytest.mark.parametrize("fmt", ["hcl", "json", "yaml"])
def test_the_depth_limit_is_exact(fmt):
    report = Report()
    doc = read(f"a.wiam.{fmt}", _nested(MAX_DEPTH, fmt), report)
    assert report.diagnostics == []
    value = doc.data["x"]
    for _ in range(MAX_DEPTH - 2):
        value = value[0]
    assert value == [1]
    assert "nest deeper" in _verdict(Case("", f"a.wiam.{fmt}", _nested(MAX_DEPTH + 1, fmt)))[0]


# Any JSON value, written in each format, reads as the same document (integral floats in range are
# integers in every format, so 1.0 and 1 are one value).

_SCALARS = (st.none() | st.booleans() | st.integers(-MAX_INTEGER, MAX_INTEGER)
            | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12)
_NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True).filter(lambda n: n not in ("true", "false", "null"))
_DOCUMENTS = st.dictionaries(_NAMES, _VALUES, max_size=4)


def _hcl_string(text: str) -> str:
    escaped = "".join({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(c)
                      or (f"\\u{ord(c):04x}" if ord(c) < 0x20 or ord(c) == 0x7F else c) for c in text)
    return '"' + escaped.replace("${", "$${").replace("%{", "%%{") + '"'


def _hcl(value) -> str:
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return _hcl_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_hcl(v) for v in value) + "]"
    return "{" + ", ".join(f"{_hcl_string(k)} = {_hcl(v)}" for k, v in value.items()) + "}"


def _normal(value):
    if isinstance(value, float) and value.is_integer() and abs(value) <= MAX_INTEGER:
        return int(value)
    if isinstance(value, list):
        return [_normal(v) for v in value]
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    return value


def _render(document: dict) -> dict[str, str]:
    return {"a.wiam.hcl": "".join(f"{name} = {_hcl(value)}\n" for name, value in document.items()),
            "a.wiam.json": json.dumps(document, ensure_ascii=False),
            "a.wiam.yaml": yaml.safe_dump(document, sort_keys=False, allow_unicode=False)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_DOCUMENTS)
def test_json_values_read_the_same_from_every_format(document):
    expected = orjson.dumps(_normal(document))  # tells 1 from 1.0 and from true
    for filename, text in _render(document).items():
        readers = [read] + ([read_hcl_reference] if filename.endswith(".hcl") else [])
        for reader in readers:
            report = Report()
            doc = reader(filename, text, report)
            assert report.diagnostics == [], (filename, text, report.diagnostics)
            assert orjson.dumps(doc.data) == expected, (filename, text)


_OUT_OF_RANGE = (st.integers(min_value=MAX_INTEGER + 1) | st.integers(max_value=-MAX_INTEGER - 1)).map(str)
_NOT_FINITE = st.sampled_from(["1.0e+400", "-2.5e+309", "9" * 400 + ".0"])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, MAX_INTEGER), max_size=5), st.integers(0, 5), _OUT_OF_RANGE | _NOT_FINITE,
       st.sampled_from(["hcl", "json", "yaml"]))
def test_an_out_of_domain_number_is_refused_where_it_is_written(numbers, index, literal, fmt):
    at = min(index, len(numbers))
    items = [str(n) for n in numbers[:at]] + [literal] + [str(n) for n in numbers[at:]]
    inner = "[" + ", ".join(items) + "]"
    text = {"hcl": f"ok = 1\nx = {inner}\n", "json": f'{{"ok": 1,\n "x": {inner}}}', "yaml": f"ok: 1\nx: {inner}\n"}[fmt]
    before = "[" + "".join(f"{item}, " for item in items[:at])  # the list up to the literal
    column = text.splitlines()[1].index(inner) + len(before) + 1
    report = Report()
    doc = read(f"a.wiam.{fmt}", text, report)
    assert [(d.pos, "outside" in d.message or "not finite" in d.message) for d in report.diagnostics] \
        == [(Pos(f"a.wiam.{fmt}", 2, column), True)]
    assert doc.data.get("x", [None])[at] is None  # the refused value is no value


@settings(max_examples=40, deadline=None)
@given(_DOCUMENTS, st.sampled_from(["a.wiam.hcl", "a.wiam.json", "a.wiam.yaml"]))
def test_a_cached_read_is_the_read(document, filename):
    text = _render(document)[filename]
    with tempfile.TemporaryDirectory() as folder:
        with mock.patch.dict(os.environ, {"WIAM_CACHE": "1", "WIAM_CACHE_DIR": folder}):
            cold = read_cached(filename, text, Report(), read)
            assert any(Path(folder).rglob("*.json"))
            warm = read_cached(filename, text, Report(), read)
        with mock.patch.dict(os.environ, {"WIAM_CACHE": "0"}):
            off = read_cached(filename, text, Report(), read)
    assert warm.deferred is not None  # a hit: its positions are decoded when first asked for
    assert orjson.dumps(cold.data) == orjson.dumps(warm.data) == orjson.dumps(off.data)
    assert cold.settle().positions == warm.settle().positions == off.settle().positions
    assert cold.key_positions == warm.key_positions == off.key_positions


def test_a_damaged_or_foreign_entry_is_parsed_again(tmp_path, monkeypatch):
    monkeypatch.setenv("WIAM_CACHE", "1")
    monkeypatch.setenv("WIAM_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / "a.wiam.yaml").write_text("issuer:\n  gh:\n    kind: github_actions\n")
    expected = load(str(folder), Report()).data
    entries = [p for p in (tmp_path / "cache").rglob("*.json") if not p.name.endswith(".positions.json")]
    assert entries
    for content in (b'{"data": [1], "outline": "[]"}', b'{"data": {}, "outline": 1}', b"[]", b"\xff"):
        for entry in entries:
            entry.write_bytes(content)
        report = Report()
        assert load(str(folder), report).data == expected and report.diagnostics == []


_BAD_CODES = st.integers(0xD800, 0xDFFF) | st.integers(0x110000, 0xFFFFFFFF)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet="abc é", max_size=4), max_size=4), st.integers(0, 4), _BAD_CODES,
       st.sampled_from(["hcl", "json"]))
def test_an_escape_of_no_character_is_refused_where_it_is_written(words, index, code, fmt):
    at = min(index, len(words))
    if fmt == "json" and code > 0xFFFF:
        code = 0xD800 + code % 0x800  # JSON escapes are four digits: a lone surrogate
    escape = f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    items = [json.dumps(w, ensure_ascii=False) for w in words]
    items.insert(at, f'"{escape}"')
    inner = "[" + ", ".join(items) + "]"
    text = f"x = {inner}\n" if fmt == "hcl" else f'{{"x": {inner}}}'
    column = text.index(inner) + len("[" + "".join(f"{item}, " for item in items[:at])) + 1
    report = Report()
    doc = read(f"a.wiam.{fmt}", text, report)
    assert [d.pos for d in report.diagnostics] == [Pos(f"a.wiam.{fmt}", 1, column + (fmt == "hcl"))]  # HCL: its text
    assert "surrogate" in report.diagnostics[0].message or "not a Unicode character" in report.diagnostics[0].message
    assert doc.data["x"][at] == ("" if fmt == "hcl" else None)  # never a string that is no Unicode text


_PEAK = """
import resource, sys
sys.path.insert(0, sys.argv[1])
from hostile_corpus import CASES
from wiam.diagnostics import Report
from wiam.readers import read
cases = [c for c in CASES if c.id in sys.argv[2:]] + [CASES[0]._replace(text='x = "' + "a" * 1_000_000 + '"\\n')]
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for case in cases:
    read(case.filename, case.text, Report())
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) // 1024)
"""


def test_alias_bombs_deep_nesting_and_huge_strings_take_little_memory():
    """Peak memory of a fresh process: the billion laughs once took gigabytes, a 1 MB HCL string ~200 MB."""
    wanted = ["billion-laughs-yaml", "recursive-alias-yaml", "deep-lists-json", "deep-lists-yaml", "deep-objects-json"]
    assert set(wanted) <= set(BY_ID)
    result = subprocess.run([sys.executable, "-c", _PEAK, str(Path(__file__).parent), *wanted],
                            capture_output=True, text=True, env={"WIAM_CACHE": "0", "PATH": ""})
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) < 32  # MB above what the process held before reading
