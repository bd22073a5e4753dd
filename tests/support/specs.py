"""Writing specs, compiling them in process, and reading what comes out."""

import json
import re
from pathlib import Path

from support.certs import authority

from wiam.compile import compile_model, load_model
from wiam.diagnostics import SpecError
from wiam.windows import parse

# The moment every test evaluates time windows at, unless it says otherwise: inside the window of
# the contract's break-glass example. conftest gives it to the CLI as WIAM_AT.
AT_TEXT = "2026-12-01T21:00:00Z"
AT = parse(AT_TEXT)

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


_BUNDLE = re.compile(r'trust_bundle_file"?\s*[=:]\s*"([^"]+)"')


def write_spec(folder: Path, files: dict[str, str]) -> Path:
    """The files written into `folder`; a trust bundle they name (relative to the folder) and do not
    hold gets a CA certificate of its own, so that examples of spiffe_x509 issuers stand alone."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    for bundle in {b for text in files.values() for b in _BUNDLE.findall(text)} - files.keys():
        if re.fullmatch(r"[\w-]+(/[\w-]+)*\.pem", bundle):  # a plain path below the folder, never a hostile one
            (folder / bundle).parent.mkdir(parents=True, exist_ok=True)
            (folder / bundle).write_text(authority("test CA").pem, encoding="ascii")
    return folder


def spec_errors(folder: Path, at=None) -> list:
    """Every diagnostic that validating and compiling the spec at `folder` reports (windows at `at`)."""
    try:
        compile_model(load_model(str(folder), at=at))
    except SpecError as error:
        return error.diagnostics
    return []


def compiled_files(folder: Path, split: bool = False, at=None) -> dict[str, dict | str]:
    """The files `wiam compile` would write for `folder` (windows at `at`, default $WIAM_AT), by name: JSON ones parsed,
    the others as text."""
    files = compile_model(load_model(str(folder), at=at), split=split)
    return {name: json.loads(content) if name.endswith(".json") else content.decode() for name, content in files.items()}


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
