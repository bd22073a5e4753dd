import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from markdown_it import MarkdownIt

from wiam.compile import compile_model, load_model
from wiam.diagnostics import SpecError

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("WIAM_CACHE_DIR", tempfile.mkdtemp(prefix="wiam-test-cache-"))  # never the user's cache
# Under CI every property test draws the same examples each run (a red CI is a real failure, never a
# rare draw); elsewhere they stay random, to keep finding new cases.
settings.register_profile("wiam-ci", derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
if os.environ.get("CI"):
    settings.load_profile("wiam-ci")
EXAMPLES = ROOT / "examples"
LANGUAGE_MD = ROOT / "docs" / "language.md"  # the language reference; its examples are tested
EXAMPLE_SPECS = sorted(p for p in EXAMPLES.iterdir() if p.is_dir() and any(p.glob("*.wiam.*")))


def write_spec(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def spec_errors(folder: Path) -> list:
    """Every diagnostic that validating and compiling the spec at `folder` reports."""
    try:
        compile_model(load_model(str(folder)))
    except SpecError as error:
        return error.diagnostics
    return []


def compile_folder(folder: Path, split: bool = False) -> dict[str, dict]:
    files = compile_model(load_model(str(folder)), split=split)
    return {name: json.loads(content) if name.endswith(".json") else content.decode() for name, content in files.items()}


@dataclass(frozen=True)
class DocBlock:
    """A fenced spec example of a Markdown page, with the marks the page gives it."""
    lang: str  # hcl, yaml or json
    text: str
    line: int  # where the fence opens, 1-based
    fragment: bool  # ```hcl fragment: a part of a spec, which must only parse
    contract: str | None  # <!-- contract: PATH -->: PATH holds this example verbatim
    same_as_previous: bool  # <!-- same output as the example above -->


def doc_blocks(markdown: str) -> list[DocBlock]:
    """The hcl, yaml and json examples of a Markdown page, in order."""
    blocks = []
    tokens = MarkdownIt().parse(markdown)
    for index, token in enumerate(tokens):
        lang, _, rest = token.info.partition(" ")
        if token.type != "fence" or lang not in ("hcl", "yaml", "json"):
            continue
        before = tokens[index - 1] if index else None  # a mark is the HTML comment right above the fence
        mark = before.content.strip() if before is not None and before.type == "html_block" else ""
        contract = re.fullmatch(r"<!-- contract: (\S+) -->", mark)
        blocks.append(DocBlock(lang, token.content, token.map[0] + 1, rest.strip() == "fragment",
                               contract[1] if contract else None,
                               mark == "<!-- same output as the example above -->"))
    return blocks


@pytest.fixture
def spec(tmp_path):
    """Write spec files into a fresh folder and return the folder."""
    counter = iter(range(1000))

    def make(files: dict[str, str] | str) -> Path:
        if isinstance(files, str):
            files = {"main.wiam.hcl": files}
        return write_spec(tmp_path / f"spec{next(counter)}", files)

    return make


BASE_HCL = '''
issuer "github" {
  kind = "github_actions"
}

target "aws" "prod" {
  account_id = "123456789012"
}

target "gcp" "prod" {
  project_id     = "acme-prod"
  project_number = "123456789012"
}

target "azure" "prod" {
  tenant_id       = "00000000-0000-0000-0000-000000000000"
  subscription_id = "11111111-1111-1111-1111-111111111111"
  resource_group  = "workload-identities"
  location        = "eastus"
}
'''


def workload_hcl(name="app", identities=None, grants=None, extra="") -> str:
    identities = identities if identities is not None else [
        'issuer = "github"\n    repository = "acme/app"\n    ref = "refs/heads/main"']
    grants = grants if grants is not None else [
        ('aws', 'prod', 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]')]
    body = "".join(f"  identity {{\n    {i}\n  }}\n" for i in identities)
    body += "".join(f'  grant "{c}" "{t}" {{\n    {g}\n  }}\n' for c, t, g in grants)
    return f'workload "{name}" {{\n{extra}{body}}}\n'


def resources(module: dict, kind: str) -> dict:
    return module.get("resource", {}).get(kind, {})


def all_strings(value):
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from all_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from all_strings(item)
