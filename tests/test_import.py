"""`wiam import` against a moto server: the account's own OIDC providers go into the spec's
existing_oidc_providers, written in the spec's own format, and the compiled output reuses them."""

import json
import os

import pytest

from wiam.compile import compile_model, load_model
from support.cli import run_wiam
from support.paths import EXAMPLES
from support.specs import write_spec
from live_aws import FAKE_ENVIRONMENT, moto_server, reset, session

MOTO_ACCOUNT = "123456789012"
GITHUB = "https://token.actions.githubusercontent.com"


@pytest.fixture(scope="module")
def endpoint():
    with moto_server() as url:
        reset(url)  # moto's state lives in the process, shared with other test modules' servers
        iam = session(url).client("iam")
        iam.create_open_id_connect_provider(Url=GITHUB, ClientIDList=["sts.amazonaws.com"], ThumbprintList=["0" * 40])
        iam.create_open_id_connect_provider(Url="https://gitlab.example.com", ClientIDList=["x"], ThumbprintList=["0" * 40])
        iam.create_open_id_connect_provider(  # wiam's own: never imported
            Url="https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE", ClientIDList=["sts.amazonaws.com"],
            ThumbprintList=["0" * 40], Tags=[{"Key": "managed-by", "Value": "wiam"}])
        yield url


def wiam_import(spec, endpoint, *args):
    return run_wiam("import", spec, *args, env={**FAKE_ENVIRONMENT, "AWS_ENDPOINT_URL": endpoint})


def provider_arn(url: str) -> str:
    return f"arn:aws:iam::{MOTO_ACCOUNT}:oidc-provider/{url.split('://')[1]}"


def test_hcl_spec_gets_the_block_and_compiles_without_a_second_provider(endpoint, tmp_path):
    text = (EXAMPLES / "github-actions-aws" / "main.wiam.hcl").read_text().replace("210987654321", MOTO_ACCOUNT)
    spec = write_spec(tmp_path, {"main.wiam.hcl": text})
    shown = wiam_import(spec, endpoint, "--target", "prod")
    assert shown.returncode == 0, shown.stderr
    assert f"aws prod: issuer github -> {provider_arn(GITHUB)}" in shown.stdout and "--write" in shown.stdout
    assert (spec / "main.wiam.hcl").read_text() == text  # nothing written without --write

    written = wiam_import(spec, endpoint, "--target", "prod", "--write")
    assert written.returncode == 0, written.stderr
    edited = (spec / "main.wiam.hcl").read_text()
    assert edited.startswith(text.split('target "aws" "prod" {')[0])  # the rest of the file is as written
    assert f'    "github" = "{provider_arn(GITHUB)}"' in edited
    model = load_model(str(spec))
    assert model.targets[("aws", "prod")].settings["existing_oidc_providers"] == {"github": provider_arn(GITHUB)}
    compiled = json.loads(compile_model(model, split=True)["aws-prod/main.tf.json"])
    assert "aws_iam_openid_connect_provider" not in compiled["resource"]
    trust = json.loads(next(iter(compiled["resource"]["aws_iam_role"].values()))["assume_role_policy"])
    assert trust["Statement"][0]["Principal"]["Federated"] == provider_arn(GITHUB)

    again = wiam_import(spec, endpoint, "--target", "prod", "--write")
    assert again.returncode == 0 and "aws prod: nothing to import" in again.stdout
    assert (spec / "main.wiam.hcl").read_text() == edited


def test_yaml_flow_mapping_and_json_output(endpoint, tmp_path):
    source = (EXAMPLES / "spec-reference-yaml" / "spec.wiam.yaml").read_text()
    assert 'prod: { account_id: "123456789012" }' in source  # a one-line flow mapping
    spec = write_spec(tmp_path, {"spec.wiam.yaml": source})
    result = wiam_import(spec, endpoint, "--write", "--format", "json")
    assert result.returncode == 0, result.stderr
    report, = json.loads(result.stdout)["targets"]
    assert report["added"] == {"github": provider_arn(GITHUB)} and report["file"].endswith("spec.wiam.yaml")
    edited = (spec / "spec.wiam.yaml").read_text()
    assert edited.replace(f'existing_oidc_providers: {{ "github": "{provider_arn(GITHUB)}" }}, ', "") == source
    assert load_model(str(spec)).targets[("aws", "prod")].settings["existing_oidc_providers"] == {
        "github": provider_arn(GITHUB)}


def test_wrong_account_is_reported(endpoint, tmp_path):
    spec = write_spec(tmp_path, {"main.wiam.hcl": (EXAMPLES / "github-actions-aws" / "main.wiam.hcl").read_text()})
    result = wiam_import(spec, endpoint, "--target", "staging")
    assert result.returncode == 1
    assert f"aws staging: not read: the credentials are for account {MOTO_ACCOUNT}, not 109876543210" in result.stdout
    assert wiam_import(spec, endpoint, "--target", "nope").returncode == 2


def test_crlf_json_with_a_bom_keeps_both_and_its_mode(endpoint, tmp_path):
    source = (EXAMPLES / "github-actions-aws" / "main.wiam.hcl").read_text().replace("210987654321", MOTO_ACCOUNT)
    document = json.loads(json.dumps(load_model(str(write_spec(tmp_path / "hcl", {"main.wiam.hcl": source}))).document.data))
    raw = b"\xef\xbb\xbf" + json.dumps(document, indent=2).replace("\n", "\r\n").encode() + b"\r\n"
    spec = tmp_path / "json"
    spec.mkdir()
    (spec / "main.wiam.json").write_bytes(raw)
    os.chmod(spec / "main.wiam.json", 0o600)
    result = wiam_import(spec, endpoint, "--target", "prod", "--write")
    assert result.returncode == 0, result.stderr
    edited = (spec / "main.wiam.json").read_bytes()
    assert edited.startswith(b"\xef\xbb\xbf") and edited.count(b"\n") == edited.count(b"\r\n") == raw.count(b"\r\n") + 3
    assert os.stat(spec / "main.wiam.json").st_mode & 0o777 == 0o600
    assert load_model(str(spec)).targets[("aws", "prod")].settings["existing_oidc_providers"] == {
        "github": provider_arn(GITHUB)}


def test_an_edit_it_cannot_make_says_what_to_add_by_hand_and_writes_nothing(endpoint, tmp_path):
    source = (EXAMPLES / "github-actions-aws" / "main.wiam.hcl").read_text().replace("210987654321", MOTO_ACCOUNT)
    source = source.replace('target "aws" "prod" {\n', 'target "aws" "prod" { # payments\n')
    spec = write_spec(tmp_path, {"main.wiam.hcl": source})
    result = wiam_import(spec, endpoint, "--target", "prod", "--write")
    line = source[:source.index('target "aws" "prod"')].count("\n") + 1
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (f'{spec / "main.wiam.hcl"}:{line}: add by hand in target "aws" "prod": '
            f'existing_oidc_providers = {{ "github" = "{provider_arn(GITHUB)}" }}') in result.stdout
    assert (spec / "main.wiam.hcl").read_text() == source
    assert sorted(os.listdir(spec)) == ["main.wiam.hcl"]
