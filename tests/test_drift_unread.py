"""`wiam drift` when it can read nothing: no credentials at all, or every endpoint closed. The run
must fail (exit 3) and say why per target, quickly, and never print a credential."""

import json
import os
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wiam.compile import load_model
from wiam.drift import selected
from wiam.live import redacted
from support.cli import run_wiam
from support.paths import EXAMPLES

SPEC = EXAMPLES / "multi-cloud"  # one target in each cloud
CREDENTIAL_VARIABLES = ("AWS_", "GOOGLE_", "CLOUDSDK_", "AZURE_", "IDENTITY_", "MSI_", "WIAM_", "GCE_")


def closed_port() -> int:
    """A loopback port nothing listens on: bound, then released."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def bare_environment(home) -> dict:
    """No credential of any cloud: a fresh HOME (no ~/.aws, gcloud or ~/.azure), no credential
    variables, and the metadata services (AWS, GCE, Azure IMDS) pointed at a closed port."""
    dead = f"127.0.0.1:{closed_port()}"
    kept = {k: v for k, v in os.environ.items() if not k.startswith(CREDENTIAL_VARIABLES)}
    return {**kept, "HOME": str(home), "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(home / "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws-credentials"),
            "CLOUDSDK_CONFIG": str(home / "gcloud"), "NO_GCE_CHECK": "true", "GCE_METADATA_HOST": dead,
            "GCE_METADATA_IP": dead, "AZURE_POD_IDENTITY_AUTHORITY_HOST": f"http://{dead}",
            "WIAM_CACHE_DIR": os.environ["WIAM_CACHE_DIR"]}


def run_drift(environment, *args):
    return run_wiam("drift", SPEC, "--format", "json", *args, env=environment, inherit_env=False, timeout=180)


def by_cloud(result) -> dict:
    return {t["cloud"]: t for t in json.loads(result.stdout)["targets"]}


def test_no_credentials_at_all_fails_and_says_so(tmp_path):
    result = run_drift(bare_environment(tmp_path))
    assert result.returncode == 3, result.stderr
    targets = by_cloud(result)
    assert set(targets) == {"aws", "gcp", "azure"}
    assert {cloud: t["unread_reason"] for cloud, t in targets.items()} == dict.fromkeys(targets, "no-credentials")
    assert all(not t["readable"] and t["unreadable"] for t in targets.values())
    assert json.loads(result.stdout)["unread"] is True
    assert result.stderr == ""  # the SDKs' own warnings stay out of CI logs


@pytest.mark.parametrize("setting", [{"AWS_PROFILE": "missing"}, {"AWS_DEFAULT_REGION": "not a region",
                                                                   "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
                                                                   "AWS_SECRET_ACCESS_KEY": "never-printed-secret"}])
def test_a_broken_aws_setup_fails_the_target_not_the_run(tmp_path, setting):
    result = run_drift({**bare_environment(tmp_path), **setting}, "--cloud", "aws")
    assert result.returncode == 3 and "Traceback" not in result.stderr, result.stderr
    (target,) = by_cloud(result).values()
    assert target["unread_reason"] == ("no-credentials" if "AWS_PROFILE" in setting else "error")
    assert "never-printed-secret" not in result.stdout + result.stderr


def test_every_endpoint_closed_fails_as_unreachable(tmp_path):
    dead = f"http://127.0.0.1:{closed_port()}"
    environment = {**bare_environment(tmp_path), "AWS_ENDPOINT_URL": dead, "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
                   "AWS_SECRET_ACCESS_KEY": "never-printed-secret"}
    result = run_drift(environment, "--gcp-endpoint", dead, "--gcp-grpc-endpoint", dead, "--azure-endpoint", dead)
    assert result.returncode == 3, result.stderr
    assert {cloud: t["unread_reason"] for cloud, t in by_cloud(result).items()} == dict.fromkeys(
        ["aws", "gcp", "azure"], "unreachable")
    assert "AKIAIOSFODNN7EXAMPLE" not in result.stdout + result.stderr
    assert "never-printed-secret" not in result.stdout + result.stderr
    excused = run_drift(environment, "--gcp-endpoint", dead, "--gcp-grpc-endpoint", dead, "--azure-endpoint", dead,
                        "--allow-unread", "--cloud", "gcp")
    assert excused.returncode == 0 and list(by_cloud(excused)) == ["gcp"]


def test_narrowing_to_an_unreadable_target_still_fails(tmp_path):
    text = run_drift(bare_environment(tmp_path), "--cloud", "azure", "--format", "text")
    assert text.returncode == 3
    assert text.stdout.startswith("azure prod: not read (no credentials): ")
    assert text.stdout.endswith("0 of 1 targets drifted, 1 not read\n")


def test_unknown_target_is_a_usage_error(tmp_path):
    result = run_drift(bare_environment(tmp_path), "--cloud", "gcp", "--target", "aws.prod")
    assert result.returncode == 2
    assert "no target named 'aws.prod' in gcp (targets: aws.prod, azure.prod, gcp.prod)" in result.stderr
    assert "Traceback" not in result.stderr


def test_selection_by_name_and_cloud():
    model = load_model(str(SPEC))
    assert selected(model) == [("aws", "prod"), ("azure", "prod"), ("gcp", "prod")]
    assert selected(model, names=["prod"]) == selected(model)  # a bare name is every cloud's target of that name
    assert selected(model, {"gcp"}, ["prod"]) == [("gcp", "prod")]
    assert selected(model, None, ["azure.prod", "azure.prod"]) == [("azure", "prod")]
    with pytest.raises(ValueError):
        selected(model, None, ["staging"])


KEY_ID = st.from_regex(r"(AKIA|ASIA)[A-Z0-9]{16}", fullmatch=True)
JWT = st.builds(lambda a, b, c: f"eyJ{a}.{b}.{c}", *[st.from_regex(r"[A-Za-z0-9_-]{4,40}", fullmatch=True)] * 3)
PROSE = st.text(st.sampled_from(list("abcdefghijklmnopqrstuvwxyz :/-_.,0123456789")), max_size=40)


@settings(max_examples=60, deadline=None)
@given(before=PROSE, secret=st.one_of(KEY_ID, JWT, st.builds("Bearer {}".format, KEY_ID | JWT)), after=PROSE)
def test_credentials_in_sdk_messages_are_redacted(before, secret, after):
    text = redacted(f"{before} {secret} {after}")
    assert secret not in text and "[redacted]" in text
    if redacted(before + " x") == before + " x":  # prose that itself looks like a credential is redacted too
        assert text.startswith(before)
