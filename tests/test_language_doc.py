"""docs/language.md, the language reference, agrees with the schema and the issuer kinds, and
every example in it validates and compiles as written (fragments at least parse)."""

import json
import re

import pytest
from markdown_it import MarkdownIt

from support.markdown import doc_blocks
from support.paths import LANGUAGE_MD, ROOT
from support.specs import compiled_files, spec_errors, write_spec
from wiam.diagnostics import Report
from wiam import registry
from wiam.issuers import KINDS
from wiam.providers.gcp.plan import RESOURCE_KINDS, resource_binding
from wiam.readers import read

SCHEMA = json.loads((ROOT / "schemas" / "wiam.schema.json").read_text(encoding="utf-8"))
TEXT = LANGUAGE_MD.read_text(encoding="utf-8")
BLOCKS = doc_blocks(TEXT)
COMPLETE = [b for b in BLOCKS if not b.fragment]
FRAGMENTS = [b for b in BLOCKS if b.fragment]
FORMATS = {"hcl": "hcl", "yaml": "yaml", "json": "json"}


def _id(block) -> str:
    return f"line{block.line}-{block.lang}"


def _spec_folder(tmp_path, block):
    return write_spec(tmp_path / _id(block), {f"spec.wiam.{block.lang}": block.text})


def test_the_page_has_examples_of_every_format():
    assert {b.lang for b in COMPLETE} == set(FORMATS)
    assert len(COMPLETE) >= 8 and FRAGMENTS


@pytest.mark.parametrize("block", COMPLETE, ids=_id)
def test_complete_example_validates_and_compiles(tmp_path, block):
    folder = _spec_folder(tmp_path, block)
    assert spec_errors(folder) == []
    module = compiled_files(folder)["main.tf.json"]
    workloads = set(re.findall(r'^workload "([^"]+)"', block.text, re.M)) if block.lang == "hcl" else None
    if workloads:  # every workload of the example gets its output
        assert set(module["output"]) == workloads


@pytest.mark.parametrize("block", FRAGMENTS, ids=_id)
def test_fragment_parses(block):
    report = Report()
    read(f"fragment.wiam.{block.lang}", block.text, report)
    assert report.diagnostics == []


def test_examples_said_to_be_the_same_compile_byte_identically(tmp_path):
    pairs = [(COMPLETE[i - 1], b) for i, b in enumerate(COMPLETE) if b.same_as_previous]
    assert pairs, "the page shows one spec in two formats"
    for first, second in pairs:
        assert first.lang != second.lang
        assert compiled_files(_spec_folder(tmp_path, first)) == compiled_files(_spec_folder(tmp_path, second))


def test_escaping_example_lands_literally(tmp_path):
    (block,) = [b for b in COMPLETE if 'workload "templated"' in b.text]
    module = compiled_files(_spec_folder(tmp_path, block))["main.tf.json"]
    (role,) = module["resource"]["aws_iam_role"].values()
    assert role["description"] == "Publishes $${VERSION} artifacts (a literal dollar-brace)"  # Terraform reads ${
    trust = json.loads(role["assume_role_policy"])
    assert trust["Statement"][0]["Condition"]["StringEquals"][
        "token.actions.githubusercontent.com:sub"] == "repo:acme/app:ref:refs/heads/release-%%{n}"


def _object_schemas(node, pointer="#"):
    """(JSON pointer, schema) of every object schema that lists properties."""
    if isinstance(node, dict):
        if "properties" in node:
            yield pointer, node
        for key, value in node.items():
            yield from _object_schemas(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _object_schemas(value, f"{pointer}/{index}")


def _tables(marker: str) -> dict[str, list[list[str]]]:
    """The rows (cells without the header) of each table right after `<!-- MARKER: KEY -->`."""
    tables = {}
    for match in re.finditer(rf"<!-- {marker}(?:: (\S+))? -->\n((?:\|.*\|\n)+)", TEXT):
        rows = [[c.strip() for c in line.strip()[1:-1].split("|")] for line in match[2].splitlines()]
        assert match[1] not in tables, f"two tables for {match[1]}"
        tables[match[1]] = rows[2:]
    return tables


FIELD_TABLES = _tables("fields")
SCHEMA_OBJECTS = dict(_object_schemas(SCHEMA))


def test_every_schema_object_has_one_field_table_and_no_table_names_another():
    assert set(FIELD_TABLES) == set(SCHEMA_OBJECTS)


@pytest.mark.parametrize("pointer", sorted(SCHEMA_OBJECTS))
def test_field_table_lists_exactly_the_schema_fields(pointer):
    documented = [row[0].strip("`") for row in FIELD_TABLES.get(pointer, [])]
    assert len(documented) == len(set(documented)), "a field is documented twice"
    assert set(documented) == set(SCHEMA_OBJECTS[pointer]["properties"])


def _resolve(schema: dict) -> dict:
    while "$ref" in schema:
        target = SCHEMA
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _type_words(schema: dict) -> tuple[str, ...]:
    """How the type column may begin for this schema."""
    schema = _resolve(schema)
    if "enum" in schema:
        return ("one of " + ", ".join(f"`{v}`" for v in schema["enum"]),)
    if "const" in schema:
        return (f"`{json.dumps(schema['const'])}`",)
    if "oneOf" in schema:
        return ("number or string",)
    return {"string": ("string",), "boolean": ("bool",), "integer": ("number",), "number": ("number",),
            "array": ("list",), "object": ("map", "block", "blocks")}[schema["type"]]


@pytest.mark.parametrize("pointer", sorted(SCHEMA_OBJECTS))
def test_field_types_defaults_and_descriptions_agree_with_the_schema(pointer):
    schema = SCHEMA_OBJECTS[pointer]
    rows = {row[0].strip("`"): row for row in FIELD_TABLES.get(pointer, [])}
    for name, field in schema["properties"].items():
        _, kind, default, _, description = rows[name]
        assert kind.startswith(_type_words(field)), f"{name}: type {kind!r}"
        assert (default == "required") == (name in schema.get("required", ())), f"{name}: default {default!r}"
        if "description" in field:
            assert field["description"] in description, f"{name}: the schema says {field['description']!r}"


def _cell_names(cell: str) -> tuple[str, ...]:
    return tuple(re.findall(r"`([a-z_][a-z0-9_./-]*)`", cell))  # claim names hold . / -


def test_issuer_kind_table_matches_the_issuer_kinds():
    (rows,) = _tables("kinds").values()
    documented = {row[0].strip("`"): row for row in rows}
    assert set(documented) == set(KINDS) == set(SCHEMA["$defs"]["issuer"]["properties"]["kind"]["enum"])
    for name, kind in KINDS.items():
        _, url, required, one_of, optional, _ = documented[name]
        # kinds without a URL of their own show "none (what identifies them)"
        written = kind.default_url if kind.default_url and kind.default_url.startswith("https://") else None
        assert url.split(" (")[0] == (f"`{written}`" if written else "none")
        assert (_cell_names(required), _cell_names(one_of), _cell_names(optional)) == (
            kind.required, kind.one_of, kind.optional)


def test_the_per_kind_example_uses_every_issuer_kind_and_identity_field(tmp_path):
    (block,) = [b for b in COMPLETE if 'workload "k8s-api"' in b.text]
    kinds = set(re.findall(r'kind\s*=\s*"([a-z0-9_]+)"', block.text))
    accepted = {kind for _, provider in registry.providers() for kind in provider.KINDS}  # by some cloud
    assert kinds == accepted
    fields = set(re.findall(r"^\s+([a-z_]+)\s*=", block.text, re.M))
    not_per_kind = {"disabled", "reason", "not_before", "expires", "ticket"}  # every kind takes these
    assert {f for kind in accepted for f in KINDS[kind].fields} - not_per_kind <= fields


def test_gcp_resource_table_names_every_resource_kind_and_its_binding():
    (rows,) = _tables("gcp-resources").values()
    for _, example, terraform_type in rows:
        assert resource_binding(example.strip("`"))[0] == terraform_type.strip("`"), example
    assert sorted(row[2].strip("`") for row in rows) == sorted(k.terraform_type for k in RESOURCE_KINDS)


def test_the_page_names_the_terraform_resources_its_examples_compile_to_and_no_other(tmp_path):
    produced = set()
    for block in COMPLETE:
        produced |= set(compiled_files(_spec_folder(tmp_path, block))["main.tf.json"].get("resource", {}))
    named = set(re.findall(r"`((?:aws|google|azurerm|azapi)_[a-z_]+)`", TEXT)) - set(KINDS)  # aws_role is a kind
    bindings = {k.terraform_type for k in RESOURCE_KINDS}  # the GCP resource table's, checked above
    assert produced <= named <= produced | bindings


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_to_sections_of_the_page_resolve():
    tokens = MarkdownIt().parse(TEXT)
    anchors = {_slug(tokens[i + 1].content) for i, t in enumerate(tokens) if t.type == "heading_open"}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    links = set(re.findall(r"\]\(#([^)]+)\)", TEXT)) | set(re.findall(r"\]\(docs/language\.md#([^)]+)\)", readme))
    assert links and links <= anchors


def test_token_claims_table_matches_the_issuer_kinds():
    (rows,) = _tables("token-claims").values()
    documented = {row[0].strip("`"): row[1] for row in rows}
    assert set(documented) == set(KINDS)
    for name, kind in KINDS.items():
        cell = documented[name]
        if kind.claims is None:
            assert cell == "any claim", name
        else:
            assert set(_cell_names(cell)) == kind.claims and (kind.claims or cell == "none"), name
