"""checkov reads wiam's output: it parses every file, scans the resources, and each failure it
reports is a finding of the wiam rule README.md's checkov table maps it to, on the same workload.

checkov runs from its own virtualenv (WIAM_CHECKOV, its executable; .ci/run creates .venv-checkov):
skipped when absent, a failure under CI=true."""

import json
import os
import re
import subprocess
import sys

import pytest

from wiam.analysis import analyze
from wiam.compile import compile_model, load_model
from wiam.terraform import write_tree
from support.paths import EXAMPLE_SPECS, ROOT
from support.specs import BASE_HCL, workload_hcl

sys.path.insert(0, str(ROOT / "bench"))
import generate  # noqa: E402

# What checkov's GitHub checks cannot read: GitHub's immutable subjects (repo:owner@ID/name@ID:...).
IMMUTABLE_GITHUB_SUBJECT = re.compile(r"repo:[^/:@]+@\d+/[^/:@]+@\d+:")
RULE_ID = re.compile(r"\b(?:AWS|GCP|AZ|WIAM)\d{3}\b")

# One risk per workload, so that a failure on a resource names the finding it must match.
PLANTED = {
    "a-star": ("aws", 'actions = ["*"]\n    resources = ["*"]'),
    "a-iam": ("aws", 'actions = ["iam:*"]\n    resources = ["*"]'),
    "a-admin": ("aws", 'managed_policies = ["arn:aws:iam::aws:policy/AdministratorAccess"]'),
    "a-iamfull": ("aws", 'managed_policies = ["arn:aws:iam::aws:policy/IAMFullAccess"]'),
    "a-pass": ("aws", 'actions = ["iam:PassRole", "ec2:RunInstances"]\n    resources = ["*"]'),
    "a-secret": ("aws", 'actions = ["secretsmanager:GetSecretValue", "ssm:GetParameter"]\n    resources = ["*"]'),
    "a-creds": ("aws", 'actions = ["redshift:GetClusterCredentials"]\n    resources = ["*"]'),
    "a-read": ("aws", 'actions = ["sqs:ReceiveMessage"]\n    resources = ["*"]'),
    "a-write": ("aws", 'actions = ["s3:PutObject"]\n    resources = ["*"]'),
    **{name: ("gcp", f'roles = ["{role}"]') for name, role in [
        ("g-viewer", "roles/viewer"), ("g-editor", "roles/editor"), ("g-owner", "roles/owner"),
        ("g-sauser", "roles/iam.serviceAccountUser"), ("g-token", "roles/iam.serviceAccountTokenCreator"),
        ("g-wiu", "roles/iam.workloadIdentityUser"), ("g-sadmin", "roles/storage.admin")]},
    "z-owner": ("azure", 'roles = ["Owner"]'),
}


def _planted_spec(folder):
    folder.mkdir()
    (folder / "targets.wiam.hcl").write_text(BASE_HCL)
    (folder / "risks.wiam.hcl").write_text("".join(
        workload_hcl(name, [f'issuer = "github"\n    repository = "acme/{name}"\n    ref = "refs/heads/main"'],
                     [(cloud, "prod", grant)]) for name, (cloud, grant) in PLANTED.items()))
    return folder


def mapping() -> dict[str, str]:
    """README's checkov table: check ID -> its wiam cell."""
    rows = {}
    for checks, cell in re.findall(r"^\| (CKV[^|]*?) \| [^|]* \| ([^|]*) \|$", (ROOT / "README.md").read_text(), re.M):
        for check in re.findall(r"CKV2?_[A-Z]+_\d+", checks):
            rows[check] = cell
    return rows


@pytest.fixture(scope="module")
def checkov():
    path = os.environ.get("WIAM_CHECKOV", "")
    if not (path and os.access(path, os.X_OK)):
        why = "checkov is not installed: set WIAM_CHECKOV to its executable (.ci/run creates .venv-checkov)"
        if os.environ.get("CI"):
            pytest.fail(f"checkov tests must run in CI: {why}")
        pytest.skip(why)
    return path


@pytest.fixture(scope="module")
def scanned(checkov, tmp_path_factory):
    """Examples (split: every module has its versions.tf), a generated organisation and the planted
    risks compiled into one folder, scanned by one checkov run: (specs by folder, modules, report)."""
    root = tmp_path_factory.mktemp("checkov")
    specs = {f"examples-{p.name}": p for p in EXAMPLE_SPECS}
    generate.write(generate.organisation(120, seed=3), str(root / "org-spec"), "mixed")
    specs["org"] = root / "org-spec"
    specs["planted"] = _planted_spec(root / "planted-spec")
    modules = {}
    for name, folder in specs.items():
        files = compile_model(load_model(str(folder), recursive=True), split=name.startswith("examples-"))
        write_tree(str(root / "out" / name), files)
        modules.update({f"{name}/{path}": json.loads(body) for path, body in files.items() if path.endswith(".tf.json")})
    result = subprocess.run([checkov, "-d", str(root / "out"), "--framework", "terraform_json", "terraform",
                             "-o", "json", "--skip-download"], capture_output=True, text=True, cwd=root)
    assert result.returncode in (0, 1), result.stderr[-2000:]
    reports = json.loads(result.stdout)
    reports = {r["check_type"]: r for r in (reports if isinstance(reports, list) else [reports])}
    return specs, modules, reports


def _results(report, kind):
    for check in report["results"][kind]:
        module = check["file_path"].lstrip("/").removesuffix("/main.tf.json")
        yield check["check_id"], module, check["resource"].removeprefix("resource.")


def _workload(spec_name: str, specs: dict, resource: str, models: dict) -> str | None:
    """The workload a compiled resource belongs to: its name is <target>__<workload>..."""
    model = models.setdefault(spec_name, load_model(str(specs[spec_name]), recursive=True))
    part = resource.split("__", 1)[-1]
    owners = [w for w in model.workloads if part == w or part.startswith(w + "_")]
    return max(owners, key=len) if owners else None


def test_checkov_parses_every_file_and_scans_the_trust(scanned):
    _, modules, reports = scanned
    assert all(report["summary"]["parsing_errors"] == 0 for report in reports.values())
    report = reports["terraform_json"]
    # Its resource_count is always 0 for Terraform JSON: count what the checks saw instead.
    seen = {(module, resource) for kind in ("passed_checks", "failed_checks") for _, module, resource in _results(report, kind)}
    for path, module in modules.items():
        folder = path.removesuffix("/main.tf.json")
        for kind in ("aws_iam_role", "aws_iam_role_policy", "google_iam_workload_identity_pool_provider",
                     "google_project_iam_member"):
            for name in module.get("resource", {}).get(kind, {}):
                assert (folder, name) in seen, (path, kind, name)
    assert len(seen) > 100


def test_every_check_checkov_runs_on_the_output_is_mapped(scanned):
    _, _, reports = scanned
    ran = {check for kind in ("passed_checks", "failed_checks") for check, _, _ in _results(reports["terraform_json"], kind)}
    table = mapping()
    assert ran and ran <= set(table), sorted(ran - set(table))
    from wiam.analysis import all_rules
    assert {rule for cell in table.values() for rule in RULE_ID.findall(cell)} <= set(all_rules())


def test_each_checkov_failure_is_the_mapped_wiam_finding(scanned):
    specs, modules, reports = scanned
    table, models, findings = mapping(), {}, {}
    failed = set()
    for check, module, resource in _results(reports["terraform_json"], "failed_checks"):
        spec_name = module.split("/")[0]
        failed.add((spec_name, check))
        workload = _workload(spec_name, specs, resource, models)
        if spec_name not in findings:
            findings[spec_name] = analyze(models[spec_name])
        rules = {f.rule for f in findings[spec_name] if f.workload == workload}
        expected = set(RULE_ID.findall(table[check]))
        if rules & expected:
            continue
        bodies = [r[resource] for r in modules[f"{module}/main.tf.json"]["resource"].values() if resource in r]
        body = json.dumps(bodies)
        # CKV_GCP_125 fails, with an exception of its own, any pool provider without an oidc block
        not_oidc = check == "CKV_GCP_125" and all("oidc" not in b for b in bodies)
        assert "false positive" in table[check] and (IMMUTABLE_GITHUB_SUBJECT.search(body) or not_oidc), (
            f"checkov {check} fails {module} {resource} (workload {workload}), but wiam reports only {sorted(rules)}")
    # The examples fail nothing but checkov's false positives; the planted risks fail what they plant.
    assert {check for spec, check in failed if spec.startswith("examples-")} <= {
        check for check, cell in table.items() if "false positive" in cell}
    assert {check for spec, check in failed if spec == "planted"} >= {
        "CKV_AWS_62", "CKV_AWS_63", "CKV2_AWS_40", "CKV_AWS_274", "CKV2_AWS_56",
        "CKV_GCP_117", "CKV_GCP_49", "CKV_GCP_41"}
