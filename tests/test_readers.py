"""Readers: values, HCL escapes, positions, and syntax errors in each format."""

import pytest

from wiam.diagnostics import Pos, Report
from wiam.loader import load
from support.specs import spec_errors


def _load(folder):
    report = Report()
    return load(str(folder), report), report


def test_hcl_strings_unescape_and_keep_literal_templates(spec):
    folder = spec('x = "a\\"b\\\\c\\n\\t\\u00e9 $${ref} %%{if}"\n')
    doc, report = _load(folder)
    assert report.diagnostics == []
    assert doc.data["x"] == 'a"b\\c\n\t\u00e9 ${ref} %{if}'


def test_hcl_heredoc_is_literal_text(spec):
    folder = spec('x = <<-EOT\n    line one\n      two $${x}\n    EOT\n')
    doc, report = _load(folder)
    assert report.diagnostics == []
    assert doc.data["x"] == "line one\n  two ${x}\n"


@pytest.mark.parametrize("source,column,what", [
    ('x = "a ${var.b} c"\n', 8, "interpolation"),
    ('x = "%{if true}y%{endif}"\n', 6, "interpolation"),
    ("x = var.region\n", 5, "reference"),
    ('x = upper("a")\n', 5, "function call"),
    ("x = 1 + 2\n", 5, "expression"),
])
def test_hcl_expressions_are_errors_at_their_position(spec, source, column, what):
    folder = spec(source)
    _, report = _load(folder)
    error = report.diagnostics[0]
    assert error.pos == Pos(str(folder / "main.wiam.hcl"), 1, column)
    assert what in error.message
    assert "$${" in error.hint


def test_hcl_positions_of_blocks_attributes_and_list_items(spec):
    folder = spec('workload "w" {\n  identity {\n    issuer = "gh"\n  }\n  grant "aws" "prod" {\n'
                  '    actions = ["a:B", "c:D"]\n  }\n}\n')
    doc, _ = _load(folder)
    name = str(folder / "main.wiam.hcl")
    assert doc.where(("workload", "w")) == Pos(name, 1, 1)
    assert doc.where(("workload", "w", "identity", 0)) == Pos(name, 2, 3)
    assert doc.where(("workload", "w", "identity", 0, "issuer"), key=True) == Pos(name, 3, 5)
    assert doc.where(("workload", "w", "identity", 0, "issuer")) == Pos(name, 3, 14)
    assert doc.where(("workload", "w", "grant", "aws", "prod", "actions", 1)) == Pos(name, 6, 23)


def test_yaml_and_json_positions(spec):
    folder = spec({"a.wiam.yaml": "workload:\n  w:\n    owner: x\n    identity:\n      - {issuer: gh}\n",
                   "b.wiam.json": '{\n  "issuer": {\n    "gh": {"kind": "github_actions"}\n  }\n}\n'})
    doc, report = _load(folder)
    assert report.diagnostics == []
    yaml_name, json_name = str(folder / "a.wiam.yaml"), str(folder / "b.wiam.json")
    assert doc.where(("workload", "w", "owner")) == Pos(yaml_name, 3, 12)
    assert doc.where(("workload", "w", "identity", 0, "issuer")) == Pos(yaml_name, 5, 18)
    assert doc.where(("issuer", "gh", "kind"), key=True) == Pos(json_name, 3, 12)
    assert doc.where(("issuer", "gh", "kind")) == Pos(json_name, 3, 20)


@pytest.mark.parametrize("files,line,column,message", [
    ({"a.wiam.hcl": 'issuer "x" {\n  kind = \n}\n'}, 2, 10, "HCL syntax error"),
    ({"a.wiam.hcl": 'issuer "x" {\n  kind = "a"\n'}, 3, 1, "HCL syntax error"),
    ({"a.wiam.yaml": "issuer:\n  x: [a, b\n"}, 3, 1, "YAML syntax error"),
    ({"a.wiam.json": '{"issuer": {"x": {"kind": "a",}}}'}, 1, 31, "JSON syntax error"),
    ({"a.wiam.json": '{"issuer": 1} extra'}, 1, 15, "extra text"),
    ({"a.wiam.yaml": "- a\n- b\n"}, 1, 1, "one mapping"),
])
def test_syntax_errors_name_file_line_and_column(spec, files, line, column, message):
    folder = spec(files)
    _, report = _load(folder)
    (error,) = report.diagnostics
    assert (error.pos.file, error.pos.line) == (str(folder / next(iter(files))), line)
    assert error.pos.column == column
    assert message in error.message


@pytest.mark.parametrize("files", [
    {"a.wiam.yaml": "issuer:\n  x: {kind: spiffe}\n  x: {kind: spiffe}\n"},
    {"a.wiam.json": '{"issuer": {"x": {"kind": "spiffe"}, "x": {"kind": "spiffe"}}}'},
    {"a.wiam.hcl": 'issuer "x" {\n  kind = "spiffe"\n}\nissuer "x" {\n  kind = "spiffe"\n}\n'},
    {"a.wiam.hcl": 'issuer "x" {\n  kind = "spiffe"\n  kind = "spiffe"\n}\n'},
])
def test_repeated_keys_and_blocks_in_one_file_are_errors(spec, files):
    _, report = _load(spec(files))
    assert len(report.diagnostics) == 1
    assert "twice" in report.diagnostics[0].message


def test_duplicate_block_across_files_names_both_places(spec):
    folder = spec({"a.wiam.hcl": 'target "aws" "prod" {\n  account_id = "123456789012"\n}\n',
                   "b.wiam.yaml": "target:\n  aws:\n    prod: {account_id: '210987654321'}\n"})
    (error,) = spec_errors(folder)
    assert error.pos == Pos(str(folder / "b.wiam.yaml"), 3, 5)
    assert f"{folder / 'a.wiam.hcl'}:1:1" in error.message
    assert error.block == 'target "aws" "prod"'


def test_files_merge_and_other_files_are_ignored(spec):
    folder = spec({"a.wiam.hcl": 'issuer "a" {\n  kind = "github_actions"\n}\n',
                   "b.wiam.yml": "issuer:\n  b: {kind: gitlab_ci}\n",
                   "notes.yaml": "not: [a spec",
                   "sub/c.wiam.json": '{"issuer": {"c": {"kind": "terraform_cloud"}}}'})
    doc, report = _load(folder)
    assert report.diagnostics == [] and sorted(doc.data["issuer"]) == ["a", "b"]
    report = Report()
    assert sorted(load(str(folder), report, recursive=True).data["issuer"]) == ["a", "b", "c"]


def test_wrong_label_count_is_explained(spec):
    (error,) = spec_errors(spec('target "aws" {\n  account_id = "123456789012"\n}\n'))
    assert "two labels" in error.message and error.pos.line == 1
