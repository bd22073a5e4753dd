"""The spec's JSON Schema (the core's part in `schemas/`, each cloud's from its provider) and
validation against it, with errors that point into the spec files."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources

from typing import TYPE_CHECKING

import fastjsonschema

from . import registry
from .diagnostics import Report
from .document import Document, describe

if TYPE_CHECKING:
    import jsonschema

CORE_FILE = "core.schema.json"  # issuers, workloads, identities: what no cloud owns
SCHEMA_FILE = "wiam.schema.json"  # the whole schema for editors, written by `python -m wiam.schema`


def packaged(package: str, name: str = "schema.json") -> dict:
    """A JSON document shipped in a package (a provider's part of the schema)."""
    return json.loads(resources.files(package).joinpath(name).read_text(encoding="utf-8"))


def grant_pattern(package: str, setting: str) -> re.Pattern:
    """The pattern a provider package's grant schema gives a string setting (adopt): what a spec takes."""
    return re.compile(packaged(package)["grant"]["properties"][setting]["pattern"])


def compose(core: dict, parts: list[tuple[str, dict]]) -> dict:
    """The whole schema: the core's, with each cloud's target and grant settings (and its own
    definitions) under that cloud's name; every cloud's grant also takes the core's grant fields
    (time windows and why)."""
    document = json.loads(json.dumps(core))  # a copy: the parts are cached
    targets = document["properties"]["target"]["properties"]
    grants = document["$defs"]["workload"]["properties"]["grant"]["properties"]
    definitions = document["$defs"]
    common = definitions.pop("grant_common")["properties"]
    for cloud, part in parts:
        if common.keys() & part["grant"]["properties"].keys():
            raise ValueError(f"the {cloud} schema redefines the core's grant fields")  # a provider bug
        part = {**part, "grant": {**part["grant"], "properties": {**part["grant"]["properties"], **common}}}
        targets[cloud] = {"type": "object", "propertyNames": {"$ref": "#/$defs/name"},
                          "additionalProperties": {"$ref": f"#/$defs/{cloud}_target"}}
        grants[cloud] = {"type": "object", "additionalProperties": {"$ref": f"#/$defs/{cloud}_grant"}}
        own = {f"{cloud}_target": part["target"], f"{cloud}_grant": part["grant"], **part.get("$defs", {})}
        clash = sorted(own.keys() & definitions.keys())
        if clash:
            raise ValueError(f"the {cloud} schema redefines {clash}")  # a provider bug, never user input
        definitions.update(own)
    return document


@lru_cache(maxsize=1)
def schema() -> dict:
    return compose(packaged("wiam.schemas", CORE_FILE), [(name, p.schema()) for name, p in registry.providers()])


def _python_patterns(node):
    """The schema with each pattern's final `$` as `\\Z`: patterns are ECMA-262, where `$` ends the
    text, but both validators search with Python's re, where it also matches before a final newline
    (an account ID "123456789012\\n" would pass)."""
    if isinstance(node, dict):
        return {key: value[:-1] + "\\Z" if key == "pattern" and isinstance(value, str) and re.search(r"(?<!\\)\$\Z", value)
                else _python_patterns(value) for key, value in node.items()}
    return [_python_patterns(item) for item in node] if isinstance(node, list) else node


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema  # only for specs with errors: most runs never need its import time

    return jsonschema.Draft202012Validator(_python_patterns(schema()))


@lru_cache(maxsize=1)
def _fast_validator():
    """The schema compiled to Python code: tens of times faster on valid specs, which most are. It
    takes draft 7, which holds every keyword the schema uses (tests check both agree)."""
    draft7 = {**_python_patterns(schema()), "$schema": "http://json-schema.org/draft-07/schema#"}
    return fastjsonschema.compile(draft7)


def is_valid(data: dict) -> bool:
    try:
        _fast_validator()(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def check(doc: Document, report: Report) -> None:
    if is_valid(doc.data):
        return
    for error in _validator().iter_errors(doc.data):  # slower, and it explains every error
        _report(doc, error, report)


def _attribute(path: tuple) -> str:
    return str(path[-1]) if path and isinstance(path[-1], str) else ""


def _report(doc: Document, error: jsonschema.ValidationError, report: Report) -> None:
    path = tuple(error.absolute_path)
    block = describe(path)
    hint = error.schema.get("x-hint", "") if isinstance(error.schema, dict) else ""
    name = _attribute(path)
    kind = error.validator
    if kind == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        for extra in sorted(set(error.instance) - set(allowed)):
            where = doc.where(path + (extra,), key=True)
            message = f"unknown attribute or block {extra!r}"
            fix = f"remove it, or use one of: {', '.join(allowed)}" if allowed else "remove it"
            if not path:
                fix = "top-level blocks are issuer, target, workload and settings"
            elif path == ("target",):
                message, fix = f"unknown cloud {extra!r}", f"a target's cloud is one of: {', '.join(registry.names())}"
            report.error(where, describe(path + (extra,)) if len(path) > 1 else block, message, fix)
        return
    if "propertyNames" in error.schema_path:
        bad = error.instance
        report.error(doc.where(path + (bad,), key=True), block, f"invalid name {bad!r}",
                     hint or schema()["$defs"]["name"]["x-hint"])
        return
    if kind == "required":
        missing = error.message.split("'")[1]
        report.error(doc.where(path, key=True), block, f"missing required attribute {missing!r}",
                     hint or f"add {missing} = ...")
        return
    pos = doc.where(path)
    shown = json.dumps(error.instance, ensure_ascii=False)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    subject = f"{name} = {shown}" if name else shown
    if kind == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        message = f"{subject}: expected {_article(expected)}{expected}"
        if expected == "string" and isinstance(error.instance, (int, float)) and not isinstance(error.instance, bool):
            hint = hint or "quote the value"
    elif kind == "enum":
        message = f"{subject} is not one of " + ", ".join(map(str, error.validator_value))
    elif kind == "const":
        message = f"{subject} is not allowed"
    elif kind in ("minItems", "minProperties"):
        message = f"{name or 'this'} must not be empty"
    elif kind in ("maxLength", "minLength"):
        message = f"{subject} is {len(error.instance)} characters; the {'most' if kind == 'maxLength' else 'least'} allowed is {error.validator_value}"
    elif kind in ("minimum", "maximum"):
        message = f"{subject} is {'below' if kind == 'minimum' else 'above'} {error.validator_value}"
    elif kind == "anyOf" and isinstance(error.instance, dict) and "x-hint" in error.schema:
        message = "incomplete block"
    else:
        message = f"invalid value {subject}"
    report.error(pos, block, message, hint or _default_hint(error, name or "it"))


def _default_hint(error: jsonschema.ValidationError, name: str) -> str:
    """The fix for a schema error whose schema holds no x-hint, from what the keyword asks."""
    kind, wanted = error.validator, error.validator_value
    if kind == "type":
        wanted = " or ".join(wanted) if isinstance(wanted, list) else wanted
        return f"write {name} as {_article(wanted)}{wanted}"
    if kind == "enum":
        return "use one of: " + ", ".join(map(str, wanted))
    if kind in ("minItems", "minProperties"):
        return f"list at least {wanted} entr{'y' if wanted == 1 else 'ies'}, or leave {name} out"
    if kind == "maxLength":
        return f"shorten it to at most {wanted} characters"
    if kind == "minLength":
        return f"write at least {wanted} character{'s' if wanted != 1 else ''}"
    if kind in ("minimum", "maximum"):
        return f"use a number {'of at least' if kind == 'minimum' else 'of at most'} {wanted}"
    if kind == "pattern":
        return f"write it to match {wanted}"
    return f"see the spec reference for the forms {name} takes"


def _article(noun: str) -> str:
    return "an " if noun[:1] in "aeiou" else "a "


def main() -> None:
    """Write the whole schema where editors find it: `python -m wiam.schema [FILE]`."""
    import sys

    from .terraform import write_file

    default = resources.files("wiam.schemas").joinpath(SCHEMA_FILE)
    write_file(sys.argv[1] if len(sys.argv) > 1 else str(default),
               (json.dumps(schema(), indent=2, ensure_ascii=False) + "\n").encode())


if __name__ == "__main__":
    main()
