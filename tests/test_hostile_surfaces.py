"""Hostile input through the surfaces of issues 20-22, by the real CLI: CI file names, certificates of a
trust bundle, commit records. Whatever a pull request puts there, the output is printable text (no
terminal escape, no bidi override) and the error names the place and a fix, never a traceback."""

import base64
import json
import os
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from support.certs import authority, pem, svid
from support.git import commit_all, init_repo
from support.specs import BASE_HCL, workload_hcl, write_spec
from wiam import bundles, store
from wiam.cli import app
from wiam.loader import UsageError

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


_SCHEMA_VALUE = st.one_of(st.none(), st.integers(-3, store.VERSION + 2), st.floats(allow_nan=False),
                          st.text(max_size=5), st.binary(max_size=5))


@settings(max_examples=40, deadline=None)
@given(versions=st.lists(_SCHEMA_VALUE, max_size=3))
def test_a_record_whose_schema_table_wiam_did_not_write_is_a_usage_error(versions):
    """A file another tool made, with a wiam_schema table of any rows and none of wiam's others:
    refused as no wiam record (or one of a newer wiam); opened only when it names this wiam's
    version, so no migration reads the missing tables; never a traceback."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "record.sqlite")
        with closing(sqlite3.connect(path)) as connection:
            connection.execute("CREATE TABLE wiam_schema (version)")
            connection.executemany("INSERT INTO wiam_schema VALUES (?)", [(v,) for v in versions])
            connection.commit()
        current = versions == [store.VERSION]
        try:
            store.open_store(path).close()
        except UsageError as error:
            assert not current and ("not a wiam record" in str(error) or "upgrade wiam" in str(error))
        else:
            assert current


def test_history_refuses_a_record_of_another_tool_with_exit_2(tmp_path):
    repo = init_repo(tmp_path / "repo")
    write_spec(repo / "spec", {"main.wiam.hcl": BASE_HCL})
    commit_all(repo, "spec")
    record = tmp_path / "other.sqlite"
    with closing(sqlite3.connect(record)) as connection:
        connection.execute("CREATE TABLE wiam_schema (version TEXT)")
        connection.execute("INSERT INTO wiam_schema VALUES ('x')")
        connection.commit()
    result = _invoke("history", str(repo / "spec"), "--db", str(record))
    assert result.exit_code == 2 and "it is not a wiam record" in result.output, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("url", ["postgresql://u:S3cretPW@[bad/db", "postgres://u:S3cretPW@%zz/db",
                                 "postgresql://u:S3cretPW@localhost/db?x=1"])
def test_a_postgresql_url_libpq_cannot_parse_is_refused_without_its_password(url):
    pytest.importorskip("psycopg")
    with pytest.raises(UsageError, match="cannot parse") as refused:
        store.open_store(url)
    assert "S3cret" not in str(refused.value) and "%zz" not in str(refused.value)


_CA_DER = authority("mesh root").certificate.public_bytes(serialization.Encoding.DER)


def _pem_of(der: bytes) -> bytes:
    return b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(der) + b"-----END CERTIFICATE-----\n"


@settings(max_examples=300, deadline=None)
@given(at=st.integers(0, len(_CA_DER) - 1), replacement=st.binary(min_size=1, max_size=4))
def test_a_certificate_corrupted_anywhere_is_a_bundle_error_never_a_crash(at, replacement):
    """A byte changed anywhere in a CA certificate's DER (names decode lazily, extensions too)."""
    der = _CA_DER[:at] + replacement + _CA_DER[at + len(replacement):]
    try:
        bundles.parse(_pem_of(der), "b.pem")
    except bundles.BundleError as error:
        assert error.line == 1 and error.fix


_CN = b"\x0c\x0cZZZZmeshZZZZ"  # a UTF8String of 12 characters: the CN of the subject (and of the issuer)
_VERSION_3 = b"\xa0\x03\x02\x01\x02"


@pytest.mark.parametrize("old, new", [(_CN, b"\x0c\x0c" + b"\xff\xfe" * 6),  # bytes no UTF-8 has
                                      (_CN, b"\x00\x0cZZZZmeshZZZZ"),  # a string of tag 0, of no ASN.1 type
                                      (_VERSION_3, b"\xa0\x03\x02\x01\x01")])  # X.509 v2, which none reads
def test_a_ca_that_does_not_decode_is_an_error_at_its_line(tmp_path, old, new):
    der = authority("ZZZZmeshZZZZ").certificate.public_bytes(serialization.Encoding.DER)
    assert old in der
    folder = _x509_spec(tmp_path / "spec", "mesh root")
    (folder / "bundles" / "mesh.pem").write_bytes(_pem_of(der.replace(old, new)))
    result = _invoke("validate", str(folder))
    assert result.exit_code == 1 and "mesh.pem:1:1:" in result.output and "fix:" in result.output, result.output
    assert "not a readable X.509 certificate" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("repository", ['acme/"app${x}', "acme", "", "acme/\x1b[31mapp", "acme/app\u202e"])
def test_a_repository_that_is_not_owner_name_is_a_usage_error(tmp_path, repository):
    """It lands in the draft's identities: refused before any draft is made, not as errors in a draft
    file that does not exist."""
    workflows = tmp_path / "repo" / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text(LOGIN)
    result = _invoke("discover", "--repo", str(tmp_path / "repo"), "--repository", repository)
    assert result.exit_code == 2 and "not OWNER/NAME" in result.output, result.output
    assert _printable(result.output) and "Traceback" not in result.output


def test_an_svid_of_an_unreadable_version_is_a_usage_error(tmp_path):
    ca = authority("mesh root")
    der = svid(ca, "spiffe://acme.example/api").public_bytes(serialization.Encoding.DER)
    claims = tmp_path / "claims.json"
    claims.write_text(json.dumps({"x5c": [_pem_of(der.replace(_VERSION_3, b"\xa0\x03\x02\x01\x01", 1)).decode()]}))
    result = _invoke("simulate", str(_x509_spec(tmp_path / "spec", "mesh root")), "--claims", str(claims))
    assert result.exit_code == 2 and "not a PEM certificate" in result.output and "Traceback" not in result.output
