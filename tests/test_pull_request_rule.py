"""WIAM010: a subject any pull request's job obtains, on a production or write workload, is a finding
unless a job_workflow_ref pins a reusable workflow of another repository; WIAM002 keeps the feature
branches, so no identity gets both. The compiled trust shows the findings are real: a pull request's
token is accepted where WIAM010 says it is."""

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings, strategies as st

from support.specs import compiled_files, write_spec
from trust_eval import gcp_principals_accepting
from wiam.analysis import analyze
from wiam.compile import load_model

ISSUER = "https://token.actions.githubusercontent.com"
READ, WRITE = "roles/storage.objectViewer", "roles/storage.objectCreator"
OWNERS = st.from_regex(r"[a-z][a-z0-9-]{0,4}", fullmatch=True)  # short: GCP subjects hold 127 bytes
TRIGGERS = st.sampled_from([{"pull_request": True}, {"ref": "refs/heads/main"}, {"ref": "refs/heads/feature"},
                            {"environment": "production"}])
# GitHub's include_claim_keys: the default, with the workflow, and two that carry no trigger.
TEMPLATES = st.sampled_from([(), ("repo", "context"), ("repo", "context", "job_workflow_ref"),
                             ("repo", "job_workflow_ref"), ("repo",)])
EVENTS = st.sampled_from([None, "pull_request", "pull_request_target", "push"])


@st.composite
def identities(draw):
    """A GitHub identity: its repository, trigger, issuer template, job_workflow_ref pin (none, its own
    repository in any case, another repository) and event_name pin."""
    owner, repo = draw(OWNERS), draw(OWNERS)
    template = draw(TEMPLATES)
    pin = draw(st.sampled_from(["own", "other"] if "job_workflow_ref" in template else [None, "own", "other"]))
    own = draw(st.sampled_from([f"{owner}/{repo}", f"{owner.upper()}/{repo}", f"{owner}/{repo.upper()}"]))
    pinned_repo = {"own": own, "other": f"{owner}/{repo}-w", None: None}[pin]
    claims = {}
    if pinned_repo:
        claims["job_workflow_ref"] = f"{pinned_repo}/.github/workflows/d.yml@refs/heads/main"
    event = draw(EVENTS)
    if event:
        claims["event_name"] = event
    fields = {"issuer": "github", "repository": f"{owner}/{repo}", **draw(TRIGGERS)}
    return template, {**fields, **({"claims": claims} if claims else {})}


def _spec(folder: Path, template: tuple, identity: dict, environment: str, role: str) -> Path:
    issuer = {"kind": "github_actions", "audience": "wiam", **({"subject_claims": list(template)} if template else {})}
    document = {"issuer": {"github": issuer},
                "target": {"gcp": {"prod": {"project_id": "acme-prod", "project_number": "123456789012"}}},
                "workload": {"app": {"environment": environment, "identity": [identity],
                                     "grant": {"gcp": {"prod": {"roles": [role]}}}}}}
    return write_spec(folder, {"main.wiam.json": json.dumps(document)})


def _expected(template: tuple, identity: dict, privileged: bool) -> bool:
    """The rule as the issue states it, from the generated parts."""
    keys, claims = template or ("repo", "context"), identity.get("claims", {})
    if "event_name" in claims:
        obtains = claims["event_name"] in ("pull_request", "pull_request_target")
    elif "context" in keys:
        obtains = identity.get("pull_request") is True
    else:
        obtains = not {"ref", "environment"} & set(keys)
    pinned = claims.get("job_workflow_ref", "").split("/.github/")[0]
    foreign = bool(pinned) and pinned.lower() != identity["repository"].lower()
    return obtains and privileged and not foreign


def _pull_request_token(subject: str, identity: dict) -> dict:
    """The token of a pull request's job that calls the identity's pinned workflow (if any)."""
    claims = identity.get("claims", {})
    return {"iss": ISSUER, "aud": "wiam", "sub": subject, "event_name": "pull_request", "ref": "refs/pull/7/merge",
            **({"job_workflow_ref": claims["job_workflow_ref"]} if "job_workflow_ref" in claims else {})}


@settings(max_examples=40, deadline=None)
@given(identities(), st.sampled_from(["prod", "dev"]), st.sampled_from([READ, WRITE]))
def test_wiam010_fires_exactly_on_privileged_subjects_pull_requests_obtain_without_a_foreign_pin(
        generated, environment, role):
    template, identity = generated
    with tempfile.TemporaryDirectory() as tmp:
        folder = _spec(Path(tmp), template, identity, environment, role)
        model = load_model(str(folder))
        found = analyze(model)
        module = compiled_files(folder)["main.tf.json"]
    rules = {f.rule for f in found}
    fires = _expected(template, identity, environment == "prod" or role == WRITE)
    assert ("WIAM010" in rules) == fires, (template, identity, environment, role)
    assert not {"WIAM002", "WIAM010"} <= rules  # one rule per trigger: no finding said twice
    if fires:
        (finding,) = [f for f in found if f.rule == "WIAM010"]
        assert finding.block == 'identity #1 in workload "app"' and "any pull request's job" in finding.message
        if "job_workflow_ref" in identity.get("claims", {}):
            assert "a pull request can change" in finding.message
        # Real: where the token carries only what a pull request's job has, GCP accepts it.
        if "event_name" not in identity.get("claims", {}) or identity["claims"]["event_name"] == "pull_request":
            subject = model.workloads["app"].identities[0].subject
            assert gcp_principals_accepting(module, _pull_request_token(subject, identity)) == {"prod__app"}


def test_a_pull_request_subject_on_a_read_only_dev_workload_is_no_finding():
    identity = {"issuer": "github", "repository": "acme/app", "pull_request": True}
    with tempfile.TemporaryDirectory() as tmp:
        found = analyze(load_model(str(_spec(Path(tmp), (), identity, "dev", READ))))
    assert "WIAM010" not in {f.rule for f in found}


def test_a_foreign_workflow_pin_refuses_the_pull_requests_own_workflow():
    """What makes the pin count: a pull request's job running a workflow of its own repository gets
    a token whose job_workflow_ref differs, and the cloud refuses it."""
    pinned = "acme/shared/.github/workflows/d.yml@refs/heads/main"
    identity = {"issuer": "github", "repository": "acme/app", "pull_request": True,
                "claims": {"job_workflow_ref": pinned}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = _spec(Path(tmp), (), identity, "prod", WRITE)
        found = analyze(load_model(str(folder)))
        module = compiled_files(folder)["main.tf.json"]
    assert "WIAM010" not in {f.rule for f in found}
    token = _pull_request_token("repo:acme/app:pull_request", identity)
    assert gcp_principals_accepting(module, token) == {"prod__app"}
    own = dict(token, job_workflow_ref="acme/app/.github/workflows/deploy.yml@refs/pull/7/merge")
    assert gcp_principals_accepting(module, own) == set()
