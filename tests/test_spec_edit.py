"""Adding map entries to a spec block in place, in each format, keeping the rest as written: line
ends, BOM, indentation and flow style; refusing, with the text to add by hand, what it cannot do."""

import codecs
import difflib
import json
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wiam.compile import load_model
from wiam.diagnostics import Report
from wiam.readers import read
from wiam.spec_edit import EditError, Refused, add_entries, edit_text, write_in_place
from support.specs import write_spec

GITHUB = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
GITLAB = "arn:aws:iam::123456789012:oidc-provider/gitlab.com"
TARGET = ("target", "aws", "prod")
KEY = "existing_oidc_providers"
WORKLOAD = {"owner": "t", "identity": [{"issuer": "github", "repository": "acme/app", "ref": "refs/heads/main"},
                                       {"issuer": "gitlab", "project_path": "acme/app", "ref_type": "branch", "ref": "main"}],
            "grant": {"aws": {"prod": {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}}}}


def edit(tmp_path, name, text, entries):
    spec = write_spec(tmp_path, {name: text, "workloads.wiam.json": json.dumps({"workload": {"app": WORKLOAD}})})
    model = load_model(str(spec))
    path, content = add_entries(model, TARGET, KEY, entries)
    (spec / name).write_bytes(content)
    return load_model(str(spec)).targets[("aws", "prod")].settings[KEY], content.decode()


ISSUERS_HCL = 'issuer "github" { kind = "github_actions" }\nissuer "gitlab" { kind = "gitlab_ci" }\n'
ISSUERS_YAML = "issuer:\n  github: { kind: github_actions }\n  gitlab: { kind: gitlab_ci }\n"


def changed_lines(old: bytes, new: bytes) -> list[tuple]:
    """The diff of old vs new as (operation, old lines, new lines), equal runs left out."""
    before, after = old.splitlines(keepends=True), new.splitlines(keepends=True)
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    return [(op, before[i1:i2], after[j1:j2]) for op, i1, i2, j1, j2 in matcher.get_opcodes() if op != "equal"]


def loaded(file: str, raw: bytes) -> dict:
    """The document as the loader reads the file: BOM dropped, universal newlines."""
    text = raw.decode("utf-8-sig").replace("\r\n", "\n").replace("\r", "\n")
    report = Report()
    data = read(file, text, report).data
    assert not report.diagnostics, report.diagnostics
    return data


def test_hcl_existing_map_gets_the_entry(tmp_path):
    text = ISSUERS_HCL + ('target "aws" "prod" {\n  account_id = "123456789012"  # ours\n'
                          f'  existing_oidc_providers = {{\n    "github" = "{GITHUB}"\n  }}\n}}\n')
    found, edited = edit(tmp_path, "main.wiam.hcl", text, {"gitlab": GITLAB})
    assert found == {"github": GITHUB, "gitlab": GITLAB}
    assert edited == text.replace("= {\n", f'= {{\n    "gitlab" = "{GITLAB}"\n')


def test_hcl_one_line_map_is_edited_on_its_line(tmp_path):
    text = ISSUERS_HCL + f'target "aws" "prod" {{\n  account_id = "123456789012"\n  existing_oidc_providers = {{ "github" = "{GITHUB}" }}\n}}\n'
    found, edited = edit(tmp_path, "main.wiam.hcl", text, {"gitlab": GITLAB})
    assert found == {"github": GITHUB, "gitlab": GITLAB}
    assert edited == text.replace('{ "github"', f'{{ "gitlab" = "{GITLAB}", "github"')


def test_yaml_block_style_with_and_without_the_map(tmp_path):
    text = ISSUERS_YAML + 'target:\n  aws:\n    prod:\n      # the payments account\n      account_id: "123456789012"\n'
    found, edited = edit(tmp_path / "a", "main.wiam.yaml", text, {"github": GITHUB})
    assert found == {"github": GITHUB}
    assert edited == text.replace('      account_id', f'      existing_oidc_providers:\n        "github": "{GITHUB}"\n      account_id')
    text = ISSUERS_YAML + f'target:\n  aws:\n    prod:\n      account_id: "123456789012"\n      existing_oidc_providers:\n        github: "{GITHUB}"\n'
    found, _ = edit(tmp_path / "b", "main.wiam.yaml", text, {"gitlab": GITLAB})
    assert found == {"github": GITHUB, "gitlab": GITLAB}


def test_yaml_flow_mapping_nested_on_one_line_gets_the_entry_in_its_own_braces(tmp_path):
    # main put the entry before the line's last brace: here, in the aws mapping instead of prod
    text = ISSUERS_YAML + 'target: { aws: { prod: { account_id: "123456789012" } } }\n'
    found, edited = edit(tmp_path, "main.wiam.yaml", text, {"github": GITHUB})
    assert found == {"github": GITHUB}
    assert edited == text.replace('{ account_id', f'{{ existing_oidc_providers: {{ "github": "{GITHUB}" }}, account_id')


def test_json_on_one_line_keeps_its_bom_and_its_line(tmp_path):
    document = {"issuer": {"github": {"kind": "github_actions"}, "gitlab": {"kind": "gitlab_ci"}},
                "target": {"aws": {"prod": {"account_id": "123456789012"}}}}
    text = "\ufeff" + json.dumps(document)
    found, edited = edit(tmp_path, "main.wiam.json", text, {"github": GITHUB})
    assert found == {"github": GITHUB}
    assert edited == text.replace('"prod": {', f'"prod": {{"existing_oidc_providers": {{"github": "{GITHUB}"}}, ')


def test_pretty_json_with_crlf_gets_crlf_lines_only_inserted(tmp_path):
    document = {"issuer": {"github": {"kind": "github_actions"}, "gitlab": {"kind": "gitlab_ci"}},
                "target": {"aws": {"prod": {"account_id": "123456789012"}}}}
    text = json.dumps(document, indent=4).replace("\n", "\r\n") + "\r\n"
    spec = write_spec(tmp_path, {"workloads.wiam.json": json.dumps({"workload": {"app": WORKLOAD}})})
    (spec / "main.wiam.json").write_bytes(text.encode())
    _, content = add_entries(load_model(str(spec)), TARGET, KEY, {"github": GITHUB})
    assert changed_lines(text.encode(), content) == [("insert", [], [
        b'                "existing_oidc_providers": {\r\n', f'                    "github": "{GITHUB}"\r\n'.encode(),
        b'                },\r\n'])]


@pytest.mark.parametrize("name, text, reason", [
    ("main.wiam.hcl", ISSUERS_HCL + 'target "aws" "prod" { account_id = "123456789012" }\n', "one line"),
    ("main.wiam.hcl", ISSUERS_HCL + 'target "aws" "prod" { # the payments account\n  account_id = "123456789012"\n}\n',
     "a comment"),
    ("main.wiam.yaml", ISSUERS_YAML + 'target:\n  aws:\n    prod: {\n      account_id: "123456789012"\n    }\n',
     "spans lines"),
])
def test_odd_layouts_are_left_to_the_user_with_the_text_and_place(tmp_path, name, text, reason):
    spec = write_spec(tmp_path, {name: text, "workloads.wiam.json": json.dumps({"workload": {"app": WORKLOAD}})})
    model = load_model(str(spec))
    with pytest.raises(EditError) as refused:
        add_entries(model, TARGET, KEY, {"github": GITHUB})
    line = model.where(TARGET, key=True).line
    assert str(refused.value).startswith(f"{spec / name}:{line}: add by hand in target \"aws\" \"prod\": ")
    hcl = name.endswith(".hcl")
    expected = (f'{KEY} = {{ "github" = "{GITHUB}" }}' if hcl else f'{KEY}: {{ "github": "{GITHUB}" }}')
    assert expected in str(refused.value) and reason in str(refused.value)
    assert (spec / name).read_text() == text


def test_a_heredoc_in_the_block_stays_as_written():
    # The edit is judged on the text alone: a heredoc's text ends with its line end, so no ARN is valid in one.
    text = ISSUERS_HCL + ('target "aws" "prod" {\n  account_id = "123456789012"\n  existing_oidc_providers = {\n'
                          f'    "github" = <<-EOT\n      {GITHUB}\n      EOT\n  }}\n}}\n')
    edited = edit_text("main.wiam.hcl", text.encode(), TARGET, KEY, {"gitlab": GITLAB}).decode()
    assert edited == text.replace("= {\n", f'= {{\n    "gitlab" = "{GITLAB}"\n')
    assert loaded("main.wiam.hcl", edited.encode())["target"]["aws"]["prod"][KEY] == {
        "github": GITHUB + "\n", "gitlab": GITLAB}


def test_a_file_that_no_longer_parses_is_refused():
    with pytest.raises(Refused, match="does not read as a spec"):
        edit_text("main.wiam.hcl", b'target "aws" "prod" {\n  account_id = \n', TARGET, KEY, {"github": GITHUB})


def test_strings_are_escaped_for_each_format():
    value = 'arn:${x}%{y}"\\\u2028\x85\U0001F600'
    for name, text in [("a.wiam.hcl", 'target "aws" "prod" {\n  account_id = "1"\n}\n'),
                       ("a.wiam.yaml", 'target:\n  aws:\n    prod:\n      account_id: "1"\n'),
                       ("a.wiam.json", '{"target": {"aws": {"prod": {"account_id": "1"}}}}\n')]:
        content = edit_text(name, text.encode(), TARGET, KEY, {"github": value})
        assert loaded(name, content)["target"]["aws"]["prod"][KEY] == {"github": value}


def test_write_keeps_the_mode_and_writes_through_links_inside_the_folder_only(tmp_path):
    spec, outside = tmp_path / "spec", tmp_path / "outside"
    spec.mkdir(), outside.mkdir()
    (spec / "real.wiam.hcl").write_bytes(b"old\n")
    os.chmod(spec / "real.wiam.hcl", 0o640)
    os.symlink(spec / "real.wiam.hcl", spec / "link.wiam.hcl")
    write_in_place(str(spec / "link.wiam.hcl"), b"new\n", str(spec))
    assert (spec / "real.wiam.hcl").read_bytes() == b"new\n" and os.path.islink(spec / "link.wiam.hcl")
    assert oct(os.stat(spec / "real.wiam.hcl").st_mode & 0o777) == oct(0o640)
    (outside / "theirs.wiam.hcl").write_bytes(b"theirs\n")
    os.symlink(outside / "theirs.wiam.hcl", spec / "out.wiam.hcl")
    with pytest.raises(EditError, match="outside the spec folder"):
        write_in_place(str(spec / "out.wiam.hcl"), b"new\n", str(spec))
    assert (outside / "theirs.wiam.hcl").read_bytes() == b"theirs\n"
    assert sorted(os.listdir(spec)) == ["link.wiam.hcl", "out.wiam.hcl", "real.wiam.hcl"]  # no temporary left


# The property: generated spec files in every format, line end, BOM, indentation and style.

def _q(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def _hcl(unit: str, flow: bool, existing: dict | None) -> str:
    lines = ['issuer "github" {', f'{unit}kind = "github_actions"', "}", 'target "aws" "prod" {',
             f'{unit}account_id = "123456789012"']
    if existing is not None:
        items = [f"{_q(k)} = {_q(v)}" for k, v in existing.items()]
        lines += ([f"{unit}{KEY} = {{ {', '.join(items)} }}"] if flow else
                  [f"{unit}{KEY} = {{", *(unit * 2 + item for item in items), f"{unit}}}"])
    return "\n".join(lines + ["}"]) + "\n"


def _yaml(unit: str, flow: bool, existing: dict | None) -> str:
    body = {"account_id": "123456789012", **({KEY: existing} if existing is not None else {})}
    if flow:
        return f"issuer:\n{unit}github: {{ kind: github_actions }}\ntarget:\n{unit}aws:\n{unit * 2}prod: {_q(body)}\n"
    lines = ["issuer:", f"{unit}github:", f"{unit * 2}kind: github_actions", "target:", f"{unit}aws:", f"{unit * 2}prod:",
             f'{unit * 3}account_id: "123456789012"']
    if existing is not None:
        lines += [f"{unit * 3}{KEY}: {{}}"] if not existing else [
            f"{unit * 3}{KEY}:", *(f"{unit * 4}{_q(k)}: {_q(v)}" for k, v in existing.items())]
    return "\n".join(lines) + "\n"


def _json(unit: str, flow: bool, existing: dict | None) -> str:
    body = {"account_id": "123456789012", **({KEY: existing} if existing is not None else {})}
    document = {"issuer": {"github": {"kind": "github_actions"}}, "target": {"aws": {"prod": body}}}
    return json.dumps(document) if flow else json.dumps(document, indent=unit)


RENDER = {"main.wiam.hcl": _hcl, "main.wiam.yaml": _yaml, "main.wiam.json": _json}
names = st.text(st.characters(categories=("Ll", "Nd")), min_size=1, max_size=8)
values = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)  # the editor escapes these
written = st.text(st.characters(categories=("L", "N", "P", "S", "Zs"), exclude_characters="\\\"$%"), max_size=30)


@st.composite
def spec_files(draw, hostile: bool):
    name = draw(st.sampled_from(sorted(RENDER)))
    unit = draw(st.sampled_from(["  ", "    "] + (["\t"] if not name.endswith(".yaml") else [])))
    existing = draw(st.none() | st.dictionaries(names, written, max_size=2))
    text = RENDER[name](unit, draw(st.booleans()), existing)
    lines = text.split("\n")
    if hostile:  # comments, blank lines and anchors where a layout allows them, or junk anywhere
        for _ in range(draw(st.integers(0, 3))):
            at = draw(st.integers(0, len(lines) - 1))
            junk = draw(st.sampled_from(["", "# note", "  # note {", "/* c */", "x: &a 1", "}", "{", "<<EOF"]))
            if draw(st.booleans()):
                lines.insert(at, junk)
            else:
                lines[at] += " " + junk
    ending = draw(st.sampled_from(["\n", "\r\n", "\r", "mixed"]))
    if ending == "mixed":
        text = "".join(line + ("\r\n" if i % 3 == 0 else "\n") for i, line in enumerate(lines[:-1])) + lines[-1]
    else:
        text = ending.join(lines)
    raw = (codecs.BOM_UTF8 if draw(st.booleans()) else b"") + text.encode()
    entries = draw(st.dictionaries(names, values, min_size=1, max_size=3).filter(lambda e: not set(e) & set(existing or {})))
    return name, raw, existing, entries


def check_edit(name: str, raw: bytes, entries: dict, content: bytes) -> None:
    """The edit's guarantees: the old document plus the entries; the BOM kept; old lines byte for byte,
    either only new ones inserted (with the file's line end) or the one line of a one-line map changed."""
    expected = loaded(name, raw)
    expected["target"]["aws"]["prod"].setdefault(KEY, {}).update(entries)
    assert loaded(name, content) == expected
    assert content.startswith(codecs.BOM_UTF8) == raw.startswith(codecs.BOM_UTF8)
    (op, old, new), = changed_lines(raw, content)
    ends = re.findall(rb"\r\n|\r|\n", raw)
    if op == "insert":  # all in one of the file's most common line ends (LF in a file without any)
        commons = {end for end in ends if ends.count(end) == max(map(ends.count, ends))} or {b"\n"}
        used = {line[len(line.rstrip(b"\r\n")):] for line in new}
        assert len(used) == 1 and used <= commons
    else:
        assert op == "replace" and len(old) == len(new) == 1
        assert old[0].rstrip(b"\r\n") != new[0].rstrip(b"\r\n") and old[0][len(old[0].rstrip(b"\r\n")):] == new[0][len(new[0].rstrip(b"\r\n")):]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec_files(hostile=False))
def test_ordinary_layouts_are_always_edited_keeping_every_line(case):
    name, raw, _, entries = case
    check_edit(name, raw, entries, edit_text(name, raw, TARGET, KEY, entries))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec_files(hostile=True))
def test_any_layout_is_edited_keeping_every_line_or_refused(case):
    name, raw, _, entries = case
    try:
        loaded(name, raw)
    except AssertionError:  # not a spec: always refused
        with pytest.raises(Refused, match="does not read as a spec"):
            edit_text(name, raw, TARGET, KEY, entries)
        return
    try:
        content = edit_text(name, raw, TARGET, KEY, entries)
    except Refused:
        return
    check_edit(name, raw, entries, content)


GCP_TARGET = ("target", "gcp", "prod")
GCP_HCL = 'target "gcp" "prod" {\n  project_id     = "acme-prod"\n  project_number = "123456789012"\n}\n'
GCP_YAML_BLOCK = 'target:\n  gcp:\n    prod:\n      project_id: acme-prod\n      project_number: "123456789012"\n'
GCP_YAML_FLOW = 'target:\n  gcp:\n    prod: { project_id: acme-prod, project_number: "123456789012" }\n'
GCP_JSON = json.dumps({"target": {"gcp": {"prod": {"project_id": "acme-prod", "project_number": "123456789012"}}}},
                      indent=2) + "\n"


@pytest.mark.parametrize("name, text, line", [
    ("main.wiam.hcl", GCP_HCL, "  adopt_pool = true"),
    ("main.wiam.yaml", GCP_YAML_BLOCK, "      adopt_pool: true"),
    ("main.wiam.yaml", GCP_YAML_FLOW, '    prod: { adopt_pool: true, project_id: acme-prod, project_number: "123456789012" }'),
    ("main.wiam.json", GCP_JSON, '        "adopt_pool": true,'),
])
def test_a_boolean_setting_is_added_as_one_attribute_keeping_every_line(tmp_path, name, text, line):
    spec = write_spec(tmp_path, {name: text})
    _, content = add_entries(load_model(str(spec)), GCP_TARGET, "adopt_pool", True)
    (spec / name).write_bytes(content)
    assert load_model(str(spec)).targets[("gcp", "prod")].settings["adopt_pool"] is True
    edited = content.decode().splitlines()
    assert line in edited
    assert [old for old in text.splitlines() if old not in edited] == ([] if "{ project_id" not in text else [
        '    prod: { project_id: acme-prod, project_number: "123456789012" }'])


def test_a_boolean_setting_already_set_is_left_to_the_user(tmp_path):
    spec = write_spec(tmp_path, {"main.wiam.hcl": GCP_HCL.replace("}\n", "  adopt_pool = false\n}\n")})
    with pytest.raises(EditError, match=r'main\.wiam\.hcl:4: add by hand in target "gcp" "prod": adopt_pool = true\n'
                                        r"  \(not written: adopt_pool is set already\)"):
        add_entries(load_model(str(spec)), GCP_TARGET, "adopt_pool", True)
