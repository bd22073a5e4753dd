"""The command line contract: exit codes 0/1/2, every error printed, no traceback, JSON output."""

import json
import subprocess
import sys

from conftest import EXAMPLES, ROOT


def wiam(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "compiler.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_validate_ok_and_json_summary():
    result = wiam("validate", EXAMPLES / "multi-cloud", "--format", "json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["ok"] is True and payload["summary"] == {"files": 3, "issuers": 3, "targets": 3, "workloads": 2}


def test_spec_errors_exit_1_with_every_error_and_no_traceback(tmp_path):
    (tmp_path / "a.wiam.hcl").write_text('issuer "x" {\n  kind = "bogus"\n}\nissuer "y" {\n  kind = "kubernetes"\n  url = "ftp://x"\n}\n')
    result = wiam("validate", tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{tmp_path / 'a.wiam.hcl'}:2:10: error in issuer \"x\"" in result.stderr
    assert f"{tmp_path / 'a.wiam.hcl'}:6:9: error in issuer \"y\"" in result.stderr
    assert "fix:" in result.stderr and "2 errors" in result.stderr
    payload = json.loads(wiam("validate", tmp_path, "--format", "json").stdout)
    assert [(e["line"], e["column"]) for e in payload["errors"]] == [(2, 10), (6, 9)]


def test_usage_errors_exit_2(tmp_path):
    assert wiam("validate", tmp_path / "missing").returncode == 2
    assert wiam("compile", EXAMPLES / "multi-cloud").returncode == 2  # --out is required
    assert wiam("compile", EXAMPLES / "multi-cloud", "--out", tmp_path / "o", "--split", "account").returncode == 2
    assert wiam("nonsense").returncode == 2


def test_compile_writes_and_failed_compile_keeps_previous_output(tmp_path):
    out = tmp_path / "out"
    result = wiam("compile", EXAMPLES / "spec-reference", "--out", out, "--split", "target")
    assert result.returncode == 0, result.stderr
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.tf.json"))
    assert files == ["aws-prod/main.tf.json", "azure-prod/main.tf.json", "gcp-prod/main.tf.json"]
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.wiam.hcl").write_text('workload "w" {\n}\n')
    assert wiam("compile", broken, "--out", out).returncode == 1
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_compile_runs_from_any_folder(tmp_path):
    result = wiam("compile", EXAMPLES / "gitlab-gcp", "--out", tmp_path / "o", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "o" / "main.tf.json").read_text())["resource"]["google_service_account"]
