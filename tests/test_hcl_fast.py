"""The fast HCL path (tree-sitter-hcl) reads exactly what python-hcl2 reads: the same values, the same
positions, on every example, on a generated organisation and on hostile literals."""

import sys
from pathlib import Path

import pytest

from wiam.diagnostics import Report
from wiam.readers import hcl_fast
from wiam.readers.hcl import read_hcl_reference
from support.paths import EXAMPLES

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import generate  # noqa: E402

pytestmark = pytest.mark.skipif(not hcl_fast.available(), reason="tree-sitter-hcl has no wheel here")


def _same(path: str, text: str, may_decline: bool = False) -> None:
    report = Report()
    reference = read_hcl_reference(path, text, report)
    assert not report.diagnostics
    try:
        fast = hcl_fast.read(path, text)
    except hcl_fast.NotPlain:
        assert may_decline  # then read_hcl falls back to the reference reader: the same result, slower
        return
    assert fast.data == reference.data
    assert fast.positions == reference.positions
    assert fast.key_positions == reference.key_positions


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*/*.wiam.hcl")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_examples_read_the_same(path):
    _same(str(path), path.read_text(encoding="utf-8"))


def test_a_generated_organisation_reads_the_same():
    text = generate.to_hcl(generate.organisation(300, seed=7))
    _same("org.wiam.hcl", text)


HOSTILE = [
    r'"a\"b"', r'"tab\there"', r'"\u00e9\U0001F600"', '"$${not} %%{live}"', '"$$${x}"', r'"back\\slash"',
    '"caf\u00e9 \u6f22\u5b57"', '""', '"${}"'.replace("${", "$${"), '"a$b%c{d}"', r'"\\$${x}"',
]


@pytest.mark.parametrize("literal", HOSTILE)
def test_hostile_literals_read_the_same(literal):
    text = f'workload "w" {{\n  description = {literal}\n  tags = [{literal}, 1, 2.5, true, null]\n' \
           f'  map = {{ "k é" = {literal}, plain = "x" }}\n}}\n'
    _same("x.wiam.hcl", text, may_decline=literal == '"$$${x}"')  # tree-sitter reads a live ${x} there


def test_heredocs_and_unicode_columns_read_the_same():
    text = ('issuer "é" {\n  description = <<-EOT\n    indented\n      more $${x}\n    EOT\n'
            '  kind = "généric"   \n  note = <<EOF\nplain\nEOF\n}\nx = { "ü" = ["é", "ß"] }\n')
    _same("u.wiam.hcl", text)


@pytest.mark.parametrize("text", [
    'a = "${var.x}"\n', "a = var.x\n", "a = foo(1)\n", "a = (1)\n", "a = -1\n", "a = 1e3\n", 'a = "x"\na = "y"\n',
    'issuer "a" "b" {\n}\n', 'a = "\\q"\n', "a = <<EOF\n${x}\nEOF\n", "a = {\n", 'a = "unterminated\n',
])
def test_anything_else_goes_to_the_full_reader(text):
    with pytest.raises(hcl_fast.NotPlain):
        hcl_fast.read("x.wiam.hcl", text)
