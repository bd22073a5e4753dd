"""Moving a GitHub workload to immutable subjects without an outage: the workload accepts its mutable
and its immutable identity for a window, every cloud accepts a token with either subject and refuses
near misses, and WIAM009 reports the window on the mutable identity until it is dropped."""

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings, strategies as st

from support.specs import BASE_HCL, compiled_files, workload_hcl, write_spec
from trust_eval import aws_roles_accepting, azure_identities_accepting, gcp_principals_accepting
from wiam.analysis import analyze
from wiam.compile import load_model

ISSUER = "https://token.actions.githubusercontent.com"
AUDIENCE = "wiam-migration"
GRANTS = [("aws", "prod", 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]'),
          ("gcp", "prod", 'roles = ["roles/storage.objectViewer"]'),
          ("azure", "prod", 'roles = ["Reader"]\n    scope = "/subscriptions/11111111-1111-1111-1111-111111111111"')]
ACCEPTING = {"aws": aws_roles_accepting, "gcp": gcp_principals_accepting, "azure": azure_identities_accepting}
# GitHub names: alphanumerics, `-`, `_` and `.` (never `@`, which is why the immutable form uses it).
NAMES = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,11}", fullmatch=True).filter(lambda n: n not in (".", ".."))
IDS = st.integers(1, 10**10).map(str)
TRIGGERS = st.sampled_from(['ref = "refs/heads/main"', 'ref = "refs/tags/v1.2.0"', 'environment = "production"'])


def _pair(repository: str, trigger: str, ids: tuple[str, str] | None, disabled: bool = False) -> list[str]:
    """The identities of a workload in its migration window: by name, and by ID (when `ids`)."""
    mutable = f'issuer = "github"\n    repository = "{repository}"\n    {trigger}'
    if disabled:
        mutable += '\n    disabled = true\n    reason = "dropping the mutable subject"'
    if ids is None:
        return [mutable]
    return [mutable, f'issuer = "github"\n    repository = "{repository}"\n    owner_id = "{ids[0]}"\n'
                     f'    repository_id = "{ids[1]}"\n    {trigger}']


def _spec(folder: Path, identities: list[str], environment: str = "prod") -> Path:
    base = BASE_HCL.replace('kind = "github_actions"', f'kind = "github_actions"\n  audience = "{AUDIENCE}"')
    return write_spec(folder, {"main.wiam.hcl": base + workload_hcl(
        "app", identities, GRANTS, extra=f'  environment = "{environment}"\n')})


def _token(subject: str) -> dict:
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": subject}


def _near_misses(owner: str, repo: str, ids: tuple[str, str], context: str):
    """Subjects one step from the accepted two: other IDs, IDs swapped or on one side, the hyphen
    form of GitHub's changelog, another case, another repository by the same name."""
    owner_id, repo_id = ids
    yield f"repo:{owner}@{owner_id}1/{repo}@{repo_id}:{context}"
    yield f"repo:{owner}@{owner_id}/{repo}@{repo_id}1:{context}"
    if owner_id != repo_id:
        yield f"repo:{owner}@{repo_id}/{repo}@{owner_id}:{context}"
    yield f"repo:{owner}@/{repo}@:{context}"
    yield f"repo:{owner}@{owner_id}/{repo}:{context}"
    yield f"repo:{owner}/{repo}@{repo_id}:{context}"
    yield f"repo:{owner}-{owner_id}/{repo}-{repo_id}:{context}"
    yield f"repo:{owner}@{owner_id}/{repo}@{repo_id}:{context}x"
    yield f"repo:{owner}/{repo}x:{context}"
    yield f"repo:{owner}x/{repo}:{context}"
    if owner.swapcase() != owner:
        yield f"repo:{owner.swapcase()}/{repo}:{context}"


@settings(max_examples=8, deadline=None)
@given(NAMES, NAMES, st.tuples(IDS, IDS), TRIGGERS)
def test_every_cloud_accepts_either_subject_in_the_window_and_refuses_near_misses(owner, repo, ids, trigger):
    context = trigger.replace(' = "', ":").rstrip('"')
    with tempfile.TemporaryDirectory() as tmp:
        module = compiled_files(_spec(Path(tmp), _pair(f"{owner}/{repo}", trigger, ids)))["main.tf.json"]
    accepted = [f"repo:{owner}/{repo}:{context}", f"repo:{owner}@{ids[0]}/{repo}@{ids[1]}:{context}"]
    for cloud, accepting in ACCEPTING.items():
        for subject in accepted:
            assert accepting(module, _token(subject)) == {"prod__app"}, (cloud, subject)
        for miss in _near_misses(owner, repo, ids, context):
            assert accepting(module, _token(miss)) == set(), (cloud, miss)


@settings(max_examples=6, deadline=None)
@given(NAMES, NAMES, st.tuples(IDS, IDS), TRIGGERS)
def test_dropping_the_mutable_identity_refuses_its_subject_everywhere(owner, repo, ids, trigger):
    context = trigger.replace(' = "', ":").rstrip('"')
    with tempfile.TemporaryDirectory() as tmp:
        module = compiled_files(_spec(Path(tmp), _pair(f"{owner}/{repo}", trigger, ids, disabled=True)))["main.tf.json"]
    for cloud, accepting in ACCEPTING.items():
        assert accepting(module, _token(f"repo:{owner}/{repo}:{context}")) == set(), cloud
        assert accepting(module, _token(f"repo:{owner}@{ids[0]}/{repo}@{ids[1]}:{context}")) == {"prod__app"}, cloud


def _findings(folder: Path, rule: str | None = None):
    found = analyze(load_model(str(folder)))
    return [f for f in found if rule is None or f.rule == rule]


def test_the_window_is_one_finding_on_the_mutable_identity_naming_workload_repository_and_when_to_drop(spec):
    folder = _spec(spec({}), _pair("acme/payments", 'ref = "refs/heads/main"', ("1234", "5678")))
    (finding,) = _findings(folder, "WIAM009")
    assert finding.block == 'identity #1 in workload "app"' and finding.workload == "app"
    assert "'acme/payments'" in finding.message
    assert "'repo:acme@1234/payments@5678:ref:refs/heads/main'" in finding.message
    assert "after a rename or transfer can obtain" in finding.message and "identity #2" in finding.message
    assert "drop this identity once the repository issues immutable subjects" in finding.message
    # The window is WIAM009's: neither the by-name rule nor the branch-only rule repeats it.
    assert {f.rule for f in _findings(folder)} & {"WIAM005", "WIAM008"} == set()


@given(TRIGGERS, TRIGGERS, st.booleans(), st.sampled_from(["prod", "dev"]))
@settings(max_examples=12, deadline=None)
def test_wiam009_only_while_both_forms_of_one_trigger_are_accepted(first, second, disabled, environment):
    """Twins differ in the IDs alone: another trigger is no twin, and a disabled mutable identity is
    no longer accepted; without a twin the by-name identity is WIAM005's, as before."""
    mutable = _pair("acme/app", first, None, disabled)
    immutable = _pair("acme/app", second, ("1", "2"))[1:]
    with tempfile.TemporaryDirectory() as tmp:
        found = _findings(_spec(Path(tmp), mutable + immutable, environment))
    window = [f for f in found if f.rule == "WIAM009"]
    by_name = [f for f in found if f.rule == "WIAM005"]
    if disabled:
        assert window == by_name == []
    elif first == second:
        assert [f.block for f in window] == ['identity #1 in workload "app"'] and by_name == []
    else:
        assert window == [] and [f.block for f in by_name] == ['identity #1 in workload "app"']


def test_the_window_in_the_language_reference_compiles_and_is_reported(spec):
    """docs/language.md's migration example is checked verbatim by test_language_doc; here its
    outcome: both subjects compiled for AWS, WIAM009 on the old one."""
    text = (Path(__file__).parent.parent / "docs" / "language.md").read_text(encoding="utf-8")
    section = text.split("## Moving to immutable GitHub subjects", 1)[1]
    example = section.split("```hcl\n", 1)[1].split("```", 1)[0]
    folder = spec(example)
    module = compiled_files(folder)["main.tf.json"]
    subjects = {json.dumps(role["assume_role_policy"]) for role in module["resource"]["aws_iam_role"].values()}
    both = ("repo:acme/payments:ref:refs/heads/main", "repo:acme@1234/payments@892416:ref:refs/heads/main")
    assert any(all(subject in policy for subject in both) for policy in subjects)
    assert [f.rule for f in _findings(folder, "WIAM009")] == ["WIAM009"]


def test_a_mutable_identity_is_told_the_ids_another_identity_of_its_repository_carries(spec):
    """WIAM005, not a second finding: the by-name identity of another workload is reported as before,
    and its message gives the IDs to copy into its immutable twin."""
    base = BASE_HCL + workload_hcl("new", _pair("acme/app", 'ref = "refs/tags/v1"', ("1234", "5678"))[1:])
    found = _findings(spec(base + workload_hcl("old", _pair("acme/app", 'ref = "refs/heads/main"', None))), "WIAM005")
    assert [(f.workload, f.message.split("; ")[1]) for f in found] == [
        ("old", 'its IDs are known: owner_id = "1234", repository_id = "5678"')]
    old = workload_hcl("old", _pair("acme/app", 'ref = "refs/heads/main"', None))
    alone = _findings(spec(BASE_HCL + old), "WIAM005")
    assert [f.workload for f in alone] == ["old"] and "IDs are known" not in alone[0].message
