"""Hostile input through the surfaces of issues 20-22, by the real CLI: CI file names, certificates of a
trust bundle, commit records. Whatever a pull request puts there, the output is printable text (no
terminal escape, no bidi override) and the error names the place and a fix, never a traceback."""

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support.certs import authority, pem, svid
from support.specs import BASE_HCL, workload_hcl, write_spec
from wiam.cli import app

runner = CliRunner()
HOSTILE = "ev\x1b[31m\u202e\x07\"${x}%{y}</script><b>\n"  # terminal escapes, bidi, HCL and HTML syntax
LOGIN = ("on:\n  push:\n    branches: [main]\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n"
         "      - uses: google-github-actions/auth@v2\n        with:\n          credentials_json: ${{ secrets.K }}\n")


def _printable(output: str) -> bool:
    return all(line.isprintable() for line in output.split("\n"))


def _invoke(*args: str):
    """The CLI with colour kept, so that click strips no escape sequence the command printed."""
    return runner.invoke(app, list(args), color=True)


@pytest.mark.parametrize("name", ["\x1b[31mevil\x07.yml", os.fsdecode(b"bad\xff.yml"), "deploy\u202elmy.yml"])
def test_a_ci_file_name_with_control_characters_is_an_error_that_prints_it_escaped(tmp_path, name):
    workflows = tmp_path / "repo" / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / name).write_text(LOGIN)
    (workflows / "ok.yml").write_text(LOGIN)
    outputs = {}
    for fmt in ("text", "json", "sarif"):  # SARIF's stdout holds findings only: the error is on stderr
        result = _invoke("discover", "--repo", str(tmp_path / "repo"), "--repository", "acme/app", "-f", fmt)
        assert result.exit_code == 3 and "Traceback" not in result.output, result.output
        assert _printable(result.output) and "control or invisible characters" in result.output
        outputs[fmt] = result.output
    assert "fix: rename the file" in outputs["sarif"] and "ok.yml:10:" in outputs["text"]  # the others are scanned


def _x509_spec(folder: Path, ca_name: str) -> Path:
    issuer = 'issuer "mesh" {\n  kind              = "spiffe_x509"\n  trust_bundle_file = "bundles/mesh.pem"\n}\n'
    grant = ("aws", "prod", 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]')
    write_spec(folder, {"main.wiam.hcl": BASE_HCL + issuer + workload_hcl(
        "api", identities=['issuer = "mesh"\n    spiffe_id = "spiffe://acme.example/api"'], grants=[grant])})
    (folder / "bundles").mkdir(exist_ok=True)
    (folder / "bundles" / "mesh.pem").write_text(authority(ca_name).pem)
    return folder


def test_simulate_prints_a_hostile_ca_subject_escaped(tmp_path):
    folder = _x509_spec(tmp_path / "spec", HOSTILE)
    claims = tmp_path / "claims.json"  # an SVID of another CA: the refusal names the anchor's subject
    claims.write_text(json.dumps({"x5c": [pem(svid(authority("other"), "spiffe://acme.example/api"))]}))
    result = _invoke("simulate", str(folder), "--claims", str(claims), "--at", "2026-06-01T00:00:00Z")
    assert result.exit_code == 0 and "does not build to an enabled trust anchor" in result.output, result.output
    assert "CN=ev\\x1b[31m\\u202e\\x07" in result.output and _printable(result.output)
