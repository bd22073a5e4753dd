"""wiam grant and wiam prune: a time-bound grant written into its workload's own file, seen by
`wiam diff` as the only change (a widening), and taken out again once its window closed, leaving the
file byte for byte as it was; refusals leave every file as it is."""

import codecs
import json
import re
from datetime import timedelta

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wiam import jit, windows
from wiam.compile import load_model
from wiam.diagnostics import Report
from wiam.readers import read
from wiam.spec_edit import add_block_text, remove_blocks, remove_text
from support.cli import run_wiam
from support.git import commit_all, git, init_repo
from support.specs import AT, AT_TEXT, BASE_HCL, workload_hcl

ENDS = "2026-12-01T23:00:00Z"  # AT_TEXT + 2h
ROLE, PROJECT = "roles/storage.objectViewer", "projects/acme-prod"
GRANT = ["app", "--cloud", "gcp", "--target", "prod", "--roles", ROLE, "--resource", PROJECT, "--for", "2h",
         "--reason", "restore after INC-7", "--ticket", "INC-7", "--at", AT_TEXT]
BASE = {"issuer": {"github": {"kind": "github_actions"}},
        "target": {"aws": {"prod": {"account_id": "123456789012"}},
                   "gcp": {"prod": {"project_id": "acme-prod", "project_number": "123456789012"}}}}
APP = {"owner": "team-a", "identity": [{"issuer": "github", "repository": "acme/app", "ref": "refs/heads/main"}],
       "grant": {"aws": {"prod": {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}}}}


def spec_text(fmt: str) -> str:
    """The same spec, a comment above its workload where the format has comments."""
    if fmt == "hcl":
        return BASE_HCL + "\n# the app's deploys\n" + workload_hcl()
    data = {**BASE, "workload": {"app": APP}}
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    return "# the app's deploys\n" + yaml.safe_dump(data, sort_keys=False)


def grant_json(folder, *extra):
    return run_wiam("grant", *GRANT, *extra, "--format", "json", folder)


@pytest.mark.parametrize("fmt", ["hcl", "yaml", "json"])
def test_grant_is_the_only_change_a_widening_with_its_window_and_prune_takes_it_back(tmp_path, fmt):
    repo = init_repo(tmp_path / "repo")
    spec = repo / f"main.wiam.{fmt}"
    spec.write_text(spec_text(fmt))
    original = spec.read_bytes()
    commit_all(repo, "spec")

    granted = run_wiam("grant", *GRANT, "--format", "json", ".", cwd=repo)
    assert granted.returncode == 0, granted.stderr
    shown = json.loads(granted.stdout)
    assert shown["grant"]["window"] == {"not_before": AT_TEXT, "expires": ENDS}
    assert shown["grant"]["file"].endswith(spec.name) and shown["diff"]["classification"] == "widening"
    assert run_wiam("validate", ".", cwd=repo).returncode == 0
    assert git(repo, "diff", "--numstat").split()[1:] == ["0", spec.name]  # lines added, none removed or moved

    diffed = run_wiam("diff", "HEAD", ".", "--format", "json", cwd=repo)
    assert diffed.returncode == 0, diffed.stderr
    change = json.loads(diffed.stdout)
    assert change["classification"] == "widening" and change["removed"] == []
    assert [(a["cloud"], a["target"], a["workload"], a["permission"], a["resource"]) for a in change["added"]] == [
        ("gcp", "prod", "app", ROLE, PROJECT)]
    assert change["widened"] == change["added"]
    text = run_wiam("grant", *GRANT, ".", cwd=repo)  # a second grant on the target is refused
    assert text.returncode == 2 and "fix:" in text.stderr

    early = run_wiam("prune", ".", "--at", "2026-12-01T22:59:59Z", cwd=repo)
    assert early.stdout == "nothing to prune at 2026-12-01T22:59:59Z\n" and spec.read_bytes() != original
    pruned = run_wiam("prune", ".", "--at", ENDS, cwd=repo)
    assert pruned.returncode == 0, pruned.stderr
    assert pruned.stdout.startswith('removed grant "gcp" "prod" in workload "app"') and ENDS in pruned.stdout
    assert spec.read_bytes() == original
    assert git(repo, "status", "--porcelain") == ""


def test_grant_text_shows_the_window_reason_and_the_diff(spec):
    folder = spec(BASE_HCL + workload_hcl())
    done = run_wiam("grant", *GRANT, folder)
    assert done.returncode == 0, done.stderr
    assert f"window: from {AT_TEXT} until {ENDS}; reason: restore after INC-7; ticket INC-7" in done.stdout
    assert "WIDENING: 1 access added, 0 removed, 1 widening" in done.stdout
    assert f"gcp prod app -> {ROLE} on {PROJECT}" in done.stdout


@pytest.mark.parametrize("change, code, said", [
    (["--for", "8d"], 2, "at most 7d"),
    (["--for", "0m"], 2, "more than nothing"),
    (["--for", "2 hours"], 2, "30m, 2h, 1h30m or 1d"),
    (["--scope", "/subscriptions/x"], 2, "--scope does not apply to gcp grants"),
    (["--target", "staging"], 2, "no gcp target 'staging'"),
    (["--reason", " "], 2, "--reason"),
    (["--roles", "storage.objectViewer"], 1, "/main.wiam.hcl:"),  # the edited spec would not validate
])
def test_refusals_write_nothing(spec, change, code, said):
    folder = spec(BASE_HCL + workload_hcl())
    before = (folder / "main.wiam.hcl").read_bytes()
    args = list(GRANT)
    if change[0] in args:
        args[args.index(change[0]) + 1] = change[1]
    else:
        args += change
    done = run_wiam("grant", *args, folder)
    assert done.returncode == code and said in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "wiam-edit-" not in done.stderr  # places in the real file, not the copy
    assert (folder / "main.wiam.hcl").read_bytes() == before


def test_an_existing_grant_on_the_target_is_refused_with_a_fix(spec):
    folder = spec(BASE_HCL + workload_hcl())
    before = (folder / "main.wiam.hcl").read_bytes()
    done = run_wiam("grant", "app", "--cloud", "aws", "--target", "prod", "--actions", "s3:PutObject",
                    "--resources", "arn:aws:s3:::b/*", "--for", "1h", "--reason", "r", folder)
    assert done.returncode == 2
    assert "already has a grant on aws target 'prod'" in done.stderr and "fix: edit that grant by hand" in done.stderr
    assert (folder / "main.wiam.hcl").read_bytes() == before


def test_a_new_grant_goes_last_in_its_workload_after_a_blank_line(spec):
    text = BASE_HCL + workload_hcl().replace('workload "app" {', 'workload "app" { # ours')
    folder = spec(text)
    done = run_wiam("grant", *GRANT, folder)
    assert done.returncode == 0, done.stderr
    after = (folder / "main.wiam.hcl").read_text()
    closing = text.rindex("}")
    assert after.startswith(text[:closing]) and after.endswith("}\n")
    added = after[closing:-2]
    assert added.startswith('\n  grant "gcp" "prod" {\n') and added.endswith("  }\n")


def test_a_layout_it_cannot_edit_gets_the_block_to_add_by_hand(spec):
    text = BASE_HCL + workload_hcl().replace('workload "app" {', 'workload "app" { # ours')
    folder = spec(text[:text.rindex("}")] + "} # end of app\n")
    before = (folder / "main.wiam.hcl").read_bytes()
    done = run_wiam("grant", *GRANT, folder)
    assert done.returncode == 1
    assert "add by hand in workload \"app\":" in done.stderr and 'grant "gcp" "prod" {' in done.stderr
    assert f'expires    = "{ENDS}"' in done.stderr
    assert (folder / "main.wiam.hcl").read_bytes() == before


def test_prune_removes_closed_identities_and_grants_and_a_workload_left_without_any(spec):
    keep = workload_hcl("keep")
    app = workload_hcl("app", identities=['issuer = "github"\n    repository = "acme/app"\n    ref = "refs/heads/main"',
                                          'issuer = "github"\n    repository = "acme/old"\n    ref = "refs/heads/main"\n'
                                          '    expires = "2026-12-01T20:00:00Z"'],
                       grants=[("aws", "prod", 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]'),
                               ("gcp", "prod", f'roles = ["{ROLE}"]\n    resource = "{PROJECT}"\n'
                                               '    expires = "2026-12-01T20:30:00Z"')])
    gone = workload_hcl("gone", grants=[("aws", "prod", 'actions = ["s3:GetObject"]\n    resources = ["*"]\n'
                                                        '    expires = "2026-12-01T20:00:00Z"\n    reason = "done"')])
    over = workload_hcl("over", extra='  expires = "2026-12-01T19:00:00Z"\n  reason  = "done"\n')
    text = BASE_HCL + "# kept\n" + keep + "\n# the app\n" + app + "\n# gone soon\n" + gone + over
    folder = spec(text)
    dry = run_wiam("prune", folder, "--dry-run", "--format", "json")
    assert dry.returncode == 0, dry.stderr
    removed = json.loads(dry.stdout)["removed"]
    assert [r["block"] for r in removed] == ['grant "gcp" "prod" in workload "app"', 'identity #2 in workload "app"',
                                             'workload "gone"', 'workload "over"']
    assert "a workload needs one" in removed[2]["why"] and (folder / "main.wiam.hcl").read_text() == text
    assert removed[3]["why"] == "its window closed at 2026-12-01T19:00:00Z"
    done = run_wiam("prune", folder)
    assert done.returncode == 0, done.stderr
    left = (folder / "main.wiam.hcl").read_text()
    assert left == (BASE_HCL + "# kept\n" + keep + "\n# the app\n"
                    + workload_hcl("app", grants=[("aws", "prod", 'actions = ["s3:GetObject"]\n'
                                                                  '    resources = ["arn:aws:s3:::b/*"]')])
                    + "\n# gone soon\n")
    assert run_wiam("prune", folder).stdout == f"nothing to prune at {AT_TEXT}\n"


# Grant then prune, over file styles: the file comes back byte for byte.

def styled(fmt: str, unit: str, flow: bool) -> str:
    if fmt == "hcl":
        text = spec_text("hcl")
        return re.sub(r"^( +)", lambda m: unit * (len(m.group(1)) // 2), text, flags=re.M)
    data = {**BASE, "workload": {"app": APP}}
    if fmt == "json":
        return json.dumps(data, indent=None if flow else len(unit) if unit != "\t" else "\t") + "\n"
    return "# the app's deploys\n" + yaml.safe_dump(data, sort_keys=False, indent=max(len(unit), 2),
                                                     default_flow_style=True if flow else False, width=10 ** 6)


def loaded(file: str, raw: bytes) -> dict:
    report = Report()
    data = read(file, raw.decode("utf-8-sig").replace("\r\n", "\n"), report).data
    assert not report.diagnostics, report.diagnostics
    return data


REASONS = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fmt=st.sampled_from(["hcl", "yaml", "json"]), unit=st.sampled_from(["  ", "    ", "\t"]),
       flow=st.booleans(), crlf=st.booleans(), bom=st.booleans(), reason=REASONS,
       where=st.sampled_from([("gcp", "prod"), ("aws", "other")]))
def test_grant_then_prune_gives_back_the_file(fmt, unit, flow, crlf, bom, reason, where):
    unit = " " * len(unit) if fmt == "yaml" and unit == "\t" else unit  # YAML indents with spaces only
    text = styled(fmt, unit, flow)
    raw = (codecs.BOM_UTF8 if bom else b"") + (text.replace("\n", "\r\n") if crlf else text).encode()
    file = f"main.wiam.{fmt}"
    body = {"roles": [ROLE], "not_before": AT_TEXT, "expires": ENDS, "reason": reason}
    path = ("workload", "app", "grant", *where)
    edited = add_block_text(file, raw, ("workload", "app"), "grant", where, body)  # every one of these styles
    data = loaded(file, edited)
    assert data["workload"]["app"]["grant"][where[0]][where[1]] == body
    assert data["workload"]["app"]["grant"]["aws"]["prod"] == APP["grant"]["aws"]["prod"]
    assert edited.startswith(codecs.BOM_UTF8) == bom and (b"\r\n" in edited) == crlf
    assert remove_text(file, edited, [path]) == raw


@given(days=st.integers(0, 7), hours=st.integers(0, 30), minutes=st.integers(0, 120))
@settings(max_examples=60, deadline=None)
def test_durations_read_as_written_and_are_bounded(days, hours, minutes):
    text = (f"{days}d" if days else "") + (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    length = timedelta(days=days, hours=hours, minutes=minutes)
    if 0 < length.total_seconds() and length <= jit.MAX_FOR:
        assert jit.duration(text) == length
    else:
        with pytest.raises(ValueError):
            jit.duration(text)


@pytest.mark.parametrize("fmt", ["yaml", "json"])
@pytest.mark.parametrize("flow", [False, True])
@pytest.mark.parametrize("index", [0, 1])
def test_an_identity_goes_from_its_list_and_the_rest_stays(fmt, flow, index):
    second = {"issuer": "github", "repository": "acme/old", "ref": "refs/heads/main", "expires": "2026-12-01T20:00:00Z"}
    app = {**APP, "identity": [*APP["identity"], second]}
    data = {**BASE, "workload": {"app": app}}
    text = (json.dumps(data, indent=None if flow else 2) if fmt == "json"
            else yaml.safe_dump(data, sort_keys=False, default_flow_style=flow, width=10 ** 6))
    file = f"main.wiam.{fmt}"
    left = remove_text(file, text.encode(), [("workload", "app", "identity", index)])
    assert loaded(file, left)["workload"]["app"]["identity"] == [app["identity"][1 - index]]
    assert loaded(file, left)["workload"]["app"]["grant"] == APP["grant"]


@pytest.mark.parametrize("file, text, path, left", [
    # a block scalar's lines carry no position of their own: the first guess at the block's end is short
    ("main.wiam.yaml", "workload:\n  app:\n    grant:\n      gcp:\n        prod:\n          reason: |\n            line one\n"
     "            line two\n      aws:\n        prod:\n          actions: [\"s3:GetObject\"]\n  # next\n",
     ("workload", "app", "grant", "gcp"),
     "workload:\n  app:\n    grant:\n      aws:\n        prod:\n          actions: [\"s3:GetObject\"]\n  # next\n"),
    # braces inside a heredoc do not count
    ("main.wiam.hcl", 'workload "app" {\n  grant "gcp" "prod" {\n    reason = <<-EOT\n      {{ not HCL\n      EOT\n  }\n'
     '  # stays\n  grant "aws" "prod" {\n    actions = ["s3:GetObject"]\n  }\n}\n',
     ("workload", "app", "grant", "gcp", "prod"),
     'workload "app" {\n  # stays\n  grant "aws" "prod" {\n    actions = ["s3:GetObject"]\n  }\n}\n'),
])
def test_blocks_whose_end_is_hard_to_see_are_removed_whole(file, text, path, left):
    assert remove_text(file, text.encode(), [path]).decode() == left


def test_prune_leaves_what_it_cannot_remove_safely_to_the_user(spec):
    gcp = {"prod": {"roles": [ROLE], "resource": PROJECT, "expires": "2026-12-01T20:00:00Z"}}
    flow = "{aws: " + json.dumps(APP["grant"]["aws"]) + ",\n      gcp: " + json.dumps(gcp) + "}"
    text = yaml.safe_dump({**BASE, "workload": {"app": {**APP, "grant": "GRANTS"}}}, sort_keys=False)
    text = text.replace("GRANTS", flow)  # a flow mapping over two lines, the closed grant on the second
    assert run_wiam("validate", spec({"main.wiam.yaml": text})).returncode == 0
    folder = spec({"main.wiam.yaml": text})
    done = run_wiam("prune", folder)
    assert done.returncode == 1, done.stderr
    assert "remove by hand: grant \"gcp\" \"prod\" in workload \"app\"" in done.stderr
    assert (folder / "main.wiam.yaml").read_text() == text


def test_grant_and_prune_in_a_spec_read_recursively(spec):
    folder = spec({"base.wiam.hcl": BASE_HCL, "teams/app/app.wiam.hcl": workload_hcl()})
    before = (folder / "teams/app/app.wiam.hcl").read_bytes()
    done = run_wiam("grant", *GRANT, "--recursive", folder)
    assert done.returncode == 0, done.stderr
    assert "teams/app/app.wiam.hcl" in done.stdout and (folder / "base.wiam.hcl").read_text() == BASE_HCL
    assert run_wiam("prune", "--recursive", "--at", ENDS, folder).returncode == 0
    assert (folder / "teams/app/app.wiam.hcl").read_bytes() == before


HOURS = st.one_of(st.none(), st.integers(-5, 5).filter(bool))  # an expiry this many hours from AT, or none
GRANT_BODIES = {"aws": 'actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/*"]',
                "gcp": f'roles = ["{ROLE}"]\n    resource = "{PROJECT}"', "azure": 'roles = ["Reader"]'}


def _expiry(hours):
    return "" if hours is None else f'\n    expires = "{windows.text(AT + timedelta(hours=hours))}"'


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(identities=st.lists(HOURS, min_size=1, max_size=3), grants=st.lists(HOURS, min_size=1, max_size=3))
def test_prune_takes_exactly_the_closed_blocks(tmp_path_factory, identities, grants):
    clouds = ["aws", "gcp", "azure"][:len(grants)]
    app = workload_hcl("app", identities=[f'issuer = "github"\n    repository = "acme/r{i}"\n    ref = "refs/heads/main"'
                                          + _expiry(hours) for i, hours in enumerate(identities)],
                       grants=[(cloud, "prod", GRANT_BODIES[cloud] + _expiry(hours)) for cloud, hours in zip(clouds, grants)])
    folder = tmp_path_factory.mktemp("spec")
    app = app.replace("  }\n  ", "  }\n\n  ")  # blocks set apart by blank lines, as people write them
    (folder / "main.wiam.hcl").write_text(BASE_HCL + workload_hcl("keep") + "\n" + app)
    model = load_model(str(folder), at=AT)
    found = {removal.path for removal in jit.closed_blocks(model, AT)}
    shut_identities = [i for i, hours in enumerate(identities) if hours is not None and hours <= 0]
    shut_grants = [cloud for cloud, hours in zip(clouds, grants) if hours is not None and hours <= 0]
    if len(shut_identities) == len(identities) or len(shut_grants) == len(grants):
        assert found == {("workload", "app")}
    else:
        assert found == {("workload", "app", "identity", i) for i in shut_identities} | {
            ("workload", "app", "grant", cloud, "prod") for cloud in shut_grants}
    edited = remove_blocks(model, sorted(found))
    for content in edited.values():  # no blank line left where a block was
        assert b"\n\n\n" not in content and not content.endswith(b"\n\n") and b"{\n\n" not in content
    after = jit.validated(str(folder), False, edited, AT)
    assert "keep" in after.workloads and not jit.closed_blocks(after, AT)
    if ("workload", "app") not in found:
        assert len(after.workloads["app"].identities) == len(identities) - len(shut_identities)
        assert len(after.workloads["app"].grants) == len(grants) - len(shut_grants)


def test_files_written_before_one_that_cannot_be_are_put_back(tmp_path, monkeypatch):
    first, second = tmp_path / "a.wiam.hcl", tmp_path / "b.wiam.hcl"
    first.write_bytes(b"first\n")
    second.write_bytes(b"second\n")
    real = jit.write_in_place

    def failing_on_second(file, content, folder):
        if file == str(second):
            raise jit.EditError(f"{file}: not written: disk full")  # what a full disk or a lost mount gives
        real(file, content, folder)

    monkeypatch.setattr(jit, "write_in_place", failing_on_second)
    with pytest.raises(jit.EditError):
        jit.write_all({str(first): b"edited\n", str(second): b"edited\n"}, str(tmp_path))
    assert first.read_bytes() == b"first\n" and second.read_bytes() == b"second\n"
