"""Output properties: hostile strings land inert, output is deterministic across runs and
formats, and writes are atomic."""

import json

import pytest
import yaml

from wiam import terraform
from wiam.compile import compile_model, load_model
from wiam.loader import load
from wiam.diagnostics import Report
from support.cli import run_wiam
from support.paths import EXAMPLE_SPECS, EXAMPLES
from support.specs import BASE_HCL, all_strings, workload_hcl

HOSTILE = 'x ${file("/etc/passwd")} %{ if true }y%{ endif } "q" \\ back\nnew\tline'
SUBJECT = "job:" + HOSTILE.replace("\n", " ").replace("\t", " ")  # no control characters in a subject


def _live_templates(text: str) -> list[str]:
    """Template openings Terraform would evaluate: ${ or %{ not escaped by doubling."""
    found, i = [], 0
    while i < len(text) - 1:
        if text[i] in "$%" and text[i + 1] == text[i]:
            i += 2
            continue
        if text[i] in "$%" and text[i + 1] == "{":
            found.append(text[i:i + 40])
        i += 1
    return found


def test_hostile_strings_land_inert(spec):
    description = json.dumps(HOSTILE)  # an HCL string literal with the same escapes as JSON
    subject = json.dumps(SUBJECT)
    spec_text = BASE_HCL + 'issuer "oidc" {\n kind = "generic_oidc"\n url = "https://idp.example.com"\n}\n' + workload_hcl(
        identities=[f'issuer = "oidc"\n subject = {subject}'.replace("${", "$${").replace("%{", "%%{")],
        grants=[("gcp", "prod", 'roles = ["roles/viewer"]'), ("azure", "prod", 'roles = ["Reader"]')],
        extra=f"  description = {description}\n".replace("${", "$${").replace("%{", "%%{"))
    folder = spec({"main.wiam.hcl": spec_text})
    model = load_model(str(folder))
    assert model.workloads["app"].description == HOSTILE
    module = json.loads(compile_model(model)["main.tf.json"])
    expressions = []
    for text in all_strings(module):
        for opening in _live_templates(text):
            expressions.append(opening)
    # The only live templates are wiam's own references to resource attributes.
    assert expressions and all(e.startswith("${google_") or e.startswith("${azurerm_") for e in expressions), expressions
    account = module["resource"]["google_service_account"]["prod__app"]
    assert account["description"] == terraform.escape(HOSTILE)
    credential = next(iter(module["resource"]["azurerm_federated_identity_credential"].values()))
    assert credential["subject"] == terraform.escape(SUBJECT)
    provider = next(iter(module["resource"]["google_iam_workload_identity_pool_provider"].values()))
    from trust_eval import cel_admits
    unescaped = provider["attribute_condition"].replace("$${", "${").replace("%%{", "%{")
    assert cel_admits(unescaped, {"sub": SUBJECT})


def test_escape_doubles_only_template_openings():
    assert terraform.escape("a ${b} %{c} $ % {d} $$") == "a $${b} %%{c} $ % {d} $$"
    assert terraform.escape_tree({"k${": [terraform.ref("aws_iam_role.x.arn"), "${y}"]}) == {
        "k$${": ["${aws_iam_role.x.arn}", "$${y}"]}


def test_referenced_is_the_inverse_of_ref():
    assert terraform.referenced(terraform.ref("aws_iam_role.prod__api.id"), "aws_iam_role") == "prod__api"
    member = "serviceAccount:" + terraform.ref("google_service_account.prod__api.email")
    assert terraform.referenced(member, "google_service_account") == "prod__api"
    assert terraform.referenced(member, "aws_iam_role") is None
    assert terraform.referenced("wiam-api", "google_service_account") is None


def test_escape_tree_copies_only_what_changes():
    clean = {"a": ["x", {"b": "c{d"}], "n": 1, "t": ("y",)}
    assert terraform.escape_tree(clean) is clean  # a large module is not copied to be rendered
    hostile = {"keep": clean, "bad": ["${x}"]}
    escaped = terraform.escape_tree(hostile)
    assert escaped["keep"] is clean and escaped["bad"] == ["$${x}"]
    assert hostile["bad"] == ["${x}"]  # the input is never changed


def _as_json_and_yaml(folder, tmp_path):
    doc = load(str(folder), Report())
    json_dir, yaml_dir = tmp_path / "as-json", tmp_path / "as-yaml"
    json_dir.mkdir()
    yaml_dir.mkdir()
    (json_dir / "spec.wiam.json").write_text(json.dumps(doc.data, indent=2))
    (yaml_dir / "spec.wiam.yaml").write_text(yaml.safe_dump(doc.data, sort_keys=False, allow_unicode=True))
    for bundle in folder.glob("*.pem"):  # trust bundles, which the one spec file names beside it
        for other in (json_dir, yaml_dir):
            (other / bundle.name).write_bytes(bundle.read_bytes())
    return json_dir, yaml_dir


@pytest.mark.parametrize("example", [p.name for p in EXAMPLE_SPECS])
def test_same_spec_in_every_format_compiles_byte_identical(tmp_path, example):
    folder = EXAMPLES / example
    reference = compile_model(load_model(str(folder)), split=True)
    for other in _as_json_and_yaml(folder, tmp_path):
        assert compile_model(load_model(str(other)), split=True) == reference


def test_output_is_identical_across_processes_and_hash_seeds(tmp_path):
    outputs = []
    for seed in ("0", "1", "12345"):
        out = tmp_path / f"out{seed}"
        result = run_wiam("compile", EXAMPLES / "multi-cloud", "--out", out, env={"PYTHONHASHSEED": seed})
        assert result.returncode == 0, result.stderr
        outputs.append(tuple((out / name).read_bytes() for name in ("main.tf.json", "versions.tf", terraform.MANIFEST)))
    assert outputs[0] == outputs[1] == outputs[2]
    module, versions, manifest = outputs[0]
    assert module.endswith(b"\n") and json.loads(module)
    assert versions.startswith(b"# Generated by wiam") and b'"hashicorp/google"' in versions
    assert json.loads(manifest)["files"] == ["main.tf.json", "versions.tf"]


def test_write_tree_replaces_whole_and_keeps_foreign_files(tmp_path):
    out = tmp_path / "out"
    terraform.write_tree(str(out), {"a/main.tf.json": b"1", "b/main.tf.json": b"2"})
    (out / ".terraform").mkdir()
    (out / ".terraform" / "plugin").write_text("p")
    (out / "a" / "terraform.tfstate").write_text("state")
    terraform.write_tree(str(out), {"a/main.tf.json": b"3"})
    assert (out / "a" / "main.tf.json").read_bytes() == b"3"
    assert not (out / "b").exists()  # stale generated module removed
    assert (out / ".terraform" / "plugin").read_text() == "p"
    assert (out / "a" / "terraform.tfstate").read_text() == "state"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging folders left


def test_write_tree_failure_leaves_previous_output_untouched(tmp_path, monkeypatch):
    out = tmp_path / "out"
    terraform.write_tree(str(out), {"main.tf.json": b"old"})
    real_open = open
    calls = {"n": 0}

    def failing_open(path, mode="r", *args, **kwargs):
        if "w" in mode and str(path).endswith("second.tf.json"):
            raise OSError(28, "No space left on device")
        calls["n"] += 1
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr("builtins.open", failing_open)
    with pytest.raises(OSError):
        terraform.write_tree(str(out), {"main.tf.json": b"new", "second.tf.json": b"x"})
    monkeypatch.undo()
    assert (out / "main.tf.json").read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_versions_tf_is_byte_deterministic_and_refuses_what_would_need_escapes():
    google, aws = ("google", {"source": "hashicorp/google", "version": ">= 6.0"}), ("aws", {"version": "1", "source": "s"})
    assert terraform.versions_tf(dict([google, aws])) == terraform.versions_tf(dict([aws, google]))
    assert terraform.versions_tf({}).count(b"required_providers") == 0
    for text in ('a"b', "a\\b", "${x}", "%{x}", "a\nb"):
        with pytest.raises(ValueError):
            terraform.hcl_string(text)
