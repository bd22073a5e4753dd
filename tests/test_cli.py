"""The command line contract: exit codes 0/1/2, every error printed, no traceback, JSON output."""

import json

from support.cli import run_wiam
from support.paths import EXAMPLES


def test_validate_ok_and_json_summary():
    result = run_wiam("validate", EXAMPLES / "multi-cloud", "--format", "json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["ok"] is True and payload["summary"] == {"files": 3, "issuers": 3, "targets": 3, "workloads": 2}


def test_spec_errors_exit_1_with_every_error_and_no_traceback(tmp_path):
    (tmp_path / "a.wiam.hcl").write_text('issuer "x" {\n  kind = "bogus"\n}\nissuer "y" {\n  kind = "kubernetes"\n  url = "ftp://x"\n}\n')
    result = run_wiam("validate", tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{tmp_path / 'a.wiam.hcl'}:2:10: error in issuer \"x\"" in result.stderr
    assert f"{tmp_path / 'a.wiam.hcl'}:6:9: error in issuer \"y\"" in result.stderr
    assert "fix:" in result.stderr and "2 errors" in result.stderr
    payload = json.loads(run_wiam("validate", tmp_path, "--format", "json").stdout)
    assert [(e["line"], e["column"]) for e in payload["errors"]] == [(2, 10), (6, 9)]


def test_usage_errors_exit_2(tmp_path):
    assert run_wiam("validate", tmp_path / "missing").returncode == 2
    assert run_wiam("compile", EXAMPLES / "multi-cloud").returncode == 2  # --out is required
    assert run_wiam("compile", EXAMPLES / "multi-cloud", "--out", tmp_path / "o", "--split", "account").returncode == 2
    assert run_wiam("nonsense").returncode == 2


def test_compile_writes_and_failed_compile_keeps_previous_output(tmp_path):
    out = tmp_path / "out"
    result = run_wiam("compile", EXAMPLES / "spec-reference", "--out", out, "--split", "target")
    assert result.returncode == 0, result.stderr
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.tf.json"))
    assert files == ["aws-prod/main.tf.json", "azure-prod/main.tf.json", "gcp-prod/main.tf.json"]
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.wiam.hcl").write_text('workload "w" {\n}\n')
    assert run_wiam("compile", broken, "--out", out).returncode == 1
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_compile_runs_from_any_folder(tmp_path):
    result = run_wiam("compile", EXAMPLES / "gitlab-gcp", "--out", tmp_path / "o", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "o" / "main.tf.json").read_text())["resource"]["google_service_account"]


def test_graph_exports_to_stdout_and_files(tmp_path):
    printed = run_wiam("graph", EXAMPLES / "spec-reference", "--format", "json")
    assert printed.returncode == 0, printed.stderr
    data = json.loads(printed.stdout)
    assert len(data["nodes"]) == 46 and {n["type"] for n in data["nodes"]} >= {"subject", "principal", "grant"}
    out = tmp_path / "graph.graphml"
    assert run_wiam("graph", EXAMPLES / "spec-reference", "--format", "graphml", "--out", out).returncode == 0
    assert out.read_text(encoding="utf-8").startswith("<?xml")
    assert run_wiam("graph", EXAMPLES / "spec-reference", "--format", "csv").returncode == 2  # needs --out
    assert run_wiam("graph", EXAMPLES / "spec-reference", "--format", "csv", "--out", tmp_path / "neo4j").returncode == 0
    assert sorted(p.name for p in (tmp_path / "neo4j").iterdir() if not p.name.startswith(".")) == [
        "nodes.csv", "relationships.csv"]
    assert run_wiam("graph", EXAMPLES / "spec-reference", "--format", "png").returncode == 2


def test_who_can_text_and_json():
    text = run_wiam("who-can", EXAMPLES / "spec-reference", "--action", "sqs:DeleteMessage",
                "--resource", "arn:aws:sqs:us-east-1:123456789012:orders")
    assert text.returncode == 0, text.stderr
    assert "system:serviceaccount:orders:orders-api (workload orders-api), directly:" in text.stdout
    payload = json.loads(run_wiam("who-can", EXAMPLES / "spec-reference", "--role", "roles/storage.objectViewer",
                              "--format", "json").stdout)
    assert [(a["workload"], a["cloud"], a["direct"]) for a in payload["answers"]] == [
        ("payments-deployer", "gcp", True)]
    assert payload["answers"][0]["path"][0] == "subject:github:repo:acme/payments:ref:refs/heads/main"
    nobody = run_wiam("who-can", EXAMPLES / "spec-reference", "--action", "s3:DeleteBucket")
    assert nobody.returncode == 0 and "no subject reaches it" in nobody.stdout
    assert run_wiam("who-can", EXAMPLES / "spec-reference").returncode == 2
    assert run_wiam("who-can", EXAMPLES / "spec-reference", "--action", "a:b", "--role", "r").returncode == 2


def test_analyze_writes_sarif_atomically_and_rules_lists_every_rule(tmp_path):
    out = tmp_path / "wiam.sarif"
    result = run_wiam("analyze", EXAMPLES / "terraform-cloud", "--format", "sarif", "--out", out)
    assert result.returncode == 0, result.stderr
    sarif = json.loads(out.read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["tool"]["driver"]["name"] == "wiam"
    assert [p.name for p in tmp_path.iterdir()] == ["wiam.sarif"]  # no temporary file left behind
    listed = run_wiam("rules", "--format", "json")
    assert {r["id"] for r in json.loads(listed.stdout)} >= {"WIAM001", "AWS101", "GCP101", "AZ101"}


def test_analyze_on_a_broken_spec_exits_1_with_errors(tmp_path):
    (tmp_path / "a.wiam.hcl").write_text('issuer "x" {\n  kind = "bogus"\n}\n')
    result = run_wiam("analyze", tmp_path, "--format", "sarif")
    assert result.returncode == 1 and json.loads(result.stdout)["errors"][0]["line"] == 2


def test_split_writes_a_module_manifest_and_an_atlantis_config(tmp_path):
    import yaml

    out = tmp_path / "repo" / "infra" / "wiam"
    atlantis = tmp_path / "repo" / "atlantis.yaml"
    result = run_wiam("compile", EXAMPLES / "multi-cloud", "--out", out, "--split", "target", "--atlantis", atlantis)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "modules.json").read_text())
    assert [m["dir"] for m in manifest["modules"]] == ["aws-prod", "azure-prod", "gcp-prod"]
    assert all((out / m["dir"] / "main.tf.json").is_file() for m in manifest["modules"])
    config = yaml.safe_load(atlantis.read_text())
    assert config["version"] == 3 and config["parallel_plan"] is True
    assert [p["dir"] for p in config["projects"]] == ["infra/wiam/aws-prod", "infra/wiam/azure-prod", "infra/wiam/gcp-prod"]
    assert run_wiam("compile", EXAMPLES / "multi-cloud", "--out", out, "--atlantis", atlantis).returncode == 2  # no --split


def test_no_progress_bars_when_not_a_terminal(tmp_path):
    result = run_wiam("compile", EXAMPLES / "multi-cloud", "--out", tmp_path / "o")
    assert result.returncode == 0 and result.stderr == ""  # quiet in CI and pipes
