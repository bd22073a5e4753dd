"""Access reviews: settings.review_every and review blocks; `wiam review` lists exactly the workloads
due (within 14 days) or overdue, with owner, access and the commits since the last review; and
`wiam review --approve` writes a review block into the workload's own file, formatting kept."""

import codecs
import difflib
import json
from datetime import date, timedelta

import pytest
from hypothesis import given, settings, strategies as st

from support.cli import run_wiam
from support.git import commit_all, init_repo
from support.specs import AT, AT_TEXT, BASE_HCL, spec_errors, workload_hcl, write_spec
from wiam.compile import load_model
from wiam.review import DUE_SOON, statuses

TODAY = AT.date()


def settings_hcl(every="90d", extra=""):
    return f'settings {{\n  review_every = "{every}"\n{extra}}}\n'


def reviewed(name, *days, owner="team-a"):
    reviews = "".join(f'  review {{\n    by = "alice"\n    on = "{day}"\n  }}\n' for day in days)
    return workload_hcl(name, extra=f'  owner = "{owner}"\n{reviews}')


def review_json(folder, *args):
    done = run_wiam("review", folder, "--format", "json", *args)
    assert done.returncode in (0, 1), done.stderr
    return done, json.loads(done.stdout)


@settings(max_examples=25, deadline=None)
@given(every=st.integers(1, 400), ages=st.lists(st.one_of(st.none(), st.integers(-30, 500)), min_size=1, max_size=6))
def test_exactly_the_due_and_overdue_are_listed(tmp_path_factory, every, ages):
    """A workload is overdue when never reviewed or when its interval has ended by today, due when it
    ends within 14 days, else fresh; a review dated after today is not counted."""
    folder = tmp_path_factory.mktemp("spec")
    days = [None if age is None else TODAY - timedelta(days=age) for age in ages]
    text = BASE_HCL + settings_hcl(f"{every}d") + "".join(
        reviewed(f"w{i}", *([] if day is None else [day.isoformat()])) for i, day in enumerate(days))
    write_spec(folder, {"main.wiam.hcl": text})
    found = {s.workload: s.state for s in statuses(load_model(str(folder), at=AT), timedelta(days=every), TODAY)}
    for i, day in enumerate(days):
        counted = day is not None and day <= TODAY
        ends = day + timedelta(days=every) if counted else None
        expected = ("overdue" if ends is None or TODAY >= ends else "due" if TODAY >= ends - DUE_SOON else "fresh")
        assert found[f"w{i}"] == expected, (day, every)


def test_the_latest_review_counts_whatever_its_place(spec):
    early, late = (TODAY - timedelta(days=100)).isoformat(), (TODAY - timedelta(days=10)).isoformat()
    for order in ((early, late), (late, early)):
        model = load_model(str(spec(BASE_HCL + settings_hcl() + reviewed("app", *order))), at=AT)
        (status,) = statuses(model, timedelta(days=90), TODAY)
        assert (status.state, status.last.on.isoformat()) == ("fresh", late)


def test_review_command_lists_due_overdue_and_never_reviewed_and_not_fresh(spec):
    folder = spec(BASE_HCL + settings_hcl()
                  + reviewed("fresh", (TODAY - timedelta(days=10)).isoformat())
                  + reviewed("due", (TODAY - timedelta(days=80)).isoformat(), owner="team-b")
                  + reviewed("overdue", (TODAY - timedelta(days=91)).isoformat())
                  + reviewed("never")
                  + reviewed("postponed", (TODAY + timedelta(days=300)).isoformat()))
    done, out = review_json(folder)
    states = {w["workload"]: w["state"] for w in out["workloads"]}
    assert states == {"due": "due", "overdue": "overdue", "never": "overdue", "postponed": "overdue"}
    assert done.returncode == 0 and out["at"] == AT_TEXT and out["review_every_days"] == 90
    due = next(w for w in out["workloads"] if w["workload"] == "due")
    assert due["owner"] == "team-b" and due["access"] == ["aws prod: s3:GetObject"]
    assert due["due"] == (TODAY + timedelta(days=10)).isoformat()
    postponed = next(w for w in out["workloads"] if w["workload"] == "postponed")
    assert postponed["last_review"] is None and len(postponed["not_counted"]) == 1
    text = run_wiam("review", folder)
    assert "NEVER" not in text.stdout and "OVERDUE never (owner team-a): never reviewed" in text.stdout
    assert "fresh" not in text.stdout.split()


@pytest.mark.parametrize("age, gate, code", [(80, None, 0), (80, "overdue", 0), (80, "due", 1), (95, "overdue", 1),
                                             (10, "due", 0)])
def test_fail_on_gates_on_the_state(spec, age, gate, code):
    folder = spec(BASE_HCL + settings_hcl() + reviewed("app", (TODAY - timedelta(days=age)).isoformat()))
    done = run_wiam("review", folder, *(["--fail-on", gate] if gate else []))
    assert done.returncode == code, done.stderr


def test_no_interval_is_a_usage_error(spec):
    done = run_wiam("review", spec(BASE_HCL + reviewed("app")))
    assert done.returncode == 2 and "review_every" in done.stderr


def test_changes_since_the_last_review_come_from_git(tmp_path, monkeypatch):
    """One git run serves every workload: each gets the commits to its own file since its own review."""
    repo = init_repo(tmp_path / "repo")
    specs = repo / "specs"
    specs.mkdir()
    (specs / "base.wiam.hcl").write_text(BASE_HCL + settings_hcl())
    reviews = {"a": TODAY - timedelta(days=120), "b": TODAY - timedelta(days=95)}
    for offset, touched, message in ((-130, "ab", "before the reviews"), (-100, "a", "widen a"),
                                     (-60, "ab", "widen both"), (-5, "a", "tweak a")):
        day = (TODAY + timedelta(days=offset)).isoformat()
        monkeypatch.setenv("GIT_COMMITTER_DATE", f"{day}T12:00:00Z")
        monkeypatch.setenv("GIT_AUTHOR_DATE", f"{day}T12:00:00Z")
        for name in touched:
            (specs / f"{name}.wiam.hcl").write_text(reviewed(name, reviews[name].isoformat()) + f"# {message}\n")
        commit_all(repo, message)
    _, out = review_json(specs)
    found = {w["workload"]: [c["subject"] for c in w["changes"]] for w in out["workloads"]}
    assert found == {"a": ["tweak a", "widen both", "widen a"], "b": ["widen both"]}
    assert out["changes_from"] == {"source": "git", "head": None, "why": "no record (wiam history writes one)"}
    assert run_wiam("review", specs).stdout.count("changed:") == 4


def _workload(name, lineage, actions, day):
    grant = ("aws", "prod", f'actions = {json.dumps(actions)}\n    resources = ["arn:aws:s3:::{lineage}/*"]')
    return workload_hcl(name, [f'issuer = "github"\n    repository = "acme/{lineage}"\n    ref = "refs/heads/main"'],
                        [grant], extra=f'  owner = "team-a"\n  review {{\n    by = "alice"\n    on = "{day}"\n  }}\n')


def test_changes_since_the_last_review_come_from_the_record_when_it_is_up_to_date(tmp_path, monkeypatch):
    """With a record that holds the folder's newest change, each workload gets the access its lineage
    (across a rename) began and ended since its review, with commit and author; a change the record
    has not seen yet sends review back to git log, saying why."""
    repo = init_repo(tmp_path / "repo")
    specs, db = repo / "specs", tmp_path / "record.sqlite"
    specs.mkdir()
    (specs / "base.wiam.hcl").write_text(BASE_HCL + settings_hcl())
    reviews = {"a": (TODAY - timedelta(days=120)).isoformat(), "b": (TODAY - timedelta(days=95)).isoformat()}
    names = {"a": "a", "b": "b"}
    actions = {"a": ["s3:GetObject"], "b": ["s3:GetObject"]}
    shas = {}
    for offset, change, message in ((-130, {}, "before the reviews"), (-100, {"a": ["s3:PutObject"]}, "widen a"),
                                    (-60, {"a": ["sqs:SendMessage"], "b": ["s3:PutObject"]}, "widen both"),
                                    (-30, {}, "rename b"), (-5, {"a": ["-s3:GetObject"]}, "narrow a")):
        day = (TODAY + timedelta(days=offset)).isoformat()
        for variable in ("GIT_COMMITTER_DATE", "GIT_AUTHOR_DATE"):
            monkeypatch.setenv(variable, f"{day}T12:00:00Z")
        monkeypatch.setenv("GIT_AUTHOR_NAME", f"Mallory {message} \x1b[31m")
        names["b"] = "bee" if message == "rename b" else names["b"]
        for lineage, added in change.items():
            kept = set(actions[lineage]) - {x[1:] for x in added if x.startswith("-")}
            actions[lineage] = sorted(kept | {x for x in added if not x.startswith("-")})
        for lineage in "ab":
            (specs / f"{lineage}.wiam.hcl").write_text(_workload(names[lineage], lineage, actions[lineage], reviews[lineage]))
        shas[message] = commit_all(repo, message)
    assert run_wiam("history", specs, "--db", db).returncode == 0
    done, out = review_json(specs, "--db", db)
    assert out["changes_from"] == {"source": "record", "head": shas["narrow a"], "why": None}
    found = {w["workload"]: [(c["event"], c["access"].split(" -> ")[-1], c["subject"], c["commit"]) for c in w["changes"]]
             for w in out["workloads"]}
    assert found == {"a": [("ended", "s3:GetObject on arn:aws:s3:::a/*", "narrow a", shas["narrow a"]),
                           ("began", "sqs:SendMessage on arn:aws:s3:::a/*", "widen both", shas["widen both"]),
                           ("began", "s3:PutObject on arn:aws:s3:::a/*", "widen a", shas["widen a"])],
                     "bee": [("began", "s3:PutObject on arn:aws:s3:::b/*", "widen both", shas["widen both"])]}
    change = out["workloads"][0]["changes"][0]
    assert change["author"] == "Mallory narrow a \x1b[31m" and change["day"].startswith((TODAY - timedelta(days=5)).isoformat())
    text = run_wiam("review", specs, "--db", db).stdout
    assert f"through {shas['narrow a'][:12]}" in text and "\x1b" not in text
    assert (f"  ended: {change['day']} {shas['narrow a'][:12]} Mallory narrow a \\x1b[31m: narrow a: "
            "repo:acme/a:ref:refs/heads/main -> aws prod -> s3:GetObject on arn:aws:s3:::a/*\n") in text
    assert text.count("  began: ") == 3 and text.count("  ended: ") == 1
    (specs / "a.wiam.hcl").write_text(_workload("a", "a", ["s3:GetObject"], reviews["a"]))
    commit_all(repo, "after the record")
    _, behind = review_json(specs, "--db", db)
    assert behind["changes_from"]["source"] == "git" and "changed after the record" in behind["changes_from"]["why"]
    assert [c["subject"] for c in behind["workloads"][0]["changes"]][0] == "after the record"
    assert run_wiam("review", specs, "--db", tmp_path / "none.sqlite").returncode == 2


def test_changes_are_unknown_outside_git(tmp_path):
    folder = write_spec(tmp_path / "plain", {"main.wiam.hcl": BASE_HCL + settings_hcl() + reviewed("app")})
    _, out = review_json(folder)
    assert out["workloads"][0]["changes"] is None


# The language: settings once, valid handles and intervals, real days.

def test_a_second_settings_block_names_both_places(spec):
    folder = spec({"a.wiam.hcl": BASE_HCL + settings_hcl(), "b.wiam.yaml": "settings:\n  - review_every: 30d\n"})
    (error,) = spec_errors(folder)
    assert "settings is defined twice" in error.message and "a.wiam.hcl:" in error.message
    assert error.pos.file.endswith("b.wiam.yaml") and "merge" in error.hint
    (again,) = spec_errors(spec(BASE_HCL + settings_hcl() + settings_hcl("30d")))
    assert again.pos.line == BASE_HCL.count("\n") + 4 and "main.wiam.hcl:" in again.message


@pytest.mark.parametrize("block, words", [
    (settings_hcl("90 days"), "review_every"),
    (settings_hcl("0d"), "review_every"),
    (settings_hcl("90d", '  owners = { "team-a" = "acme/payments" }\n'), "@org/team"),
    (settings_hcl("90d", '  owners = { "team-a" = "@acme/pay" }\n  members = { "@acme/other" = ["a@example.com"] }\n'),
     "no owner maps to"),
    (settings_hcl("90d", '  owners = { "team-a" = "@acme/pay\\n* @acme/everyone" }\n'), "@org/team"),  # a CODEOWNERS line
    (reviewed("app", "2026-02-30"), "no real day"),
    (reviewed("app", "02/12/2026"), "YYYY-MM-DD"),
])
def test_bad_settings_and_reviews_are_errors_with_a_fix(spec, block, words):
    errors = spec_errors(spec(BASE_HCL + block + ("" if "workload" in block else reviewed("app"))))
    assert errors and any(words in e.message or words in e.hint for e in errors), errors
    assert all(e.pos.line > 0 and e.hint for e in errors)


# --approve: the review block in the workload's own file, everything else as written.

APPROVED = {"by": "bob@example.com", "on": TODAY.isoformat()}

YAML_SPEC = """issuer:
  github:
    kind: github_actions
target:
  aws:
    prod:
      account_id: "123456789012"
settings:
  - review_every: 90d
workload:
  app:
    owner: team-a   # who owns it
    identity:
      - issuer: github
        repository: acme/app
        ref: refs/heads/main
    grant:
      aws:
        prod:
          actions: ["s3:GetObject"]
          resources: ["arn:aws:s3:::b/*"]
"""

JSON_SPEC = json.dumps({
    "issuer": {"github": {"kind": "github_actions"}}, "target": {"aws": {"prod": {"account_id": "123456789012"}}},
    "settings": [{"review_every": "90d"}],
    "workload": {"app": {"owner": "team-a", "review": [{"by": "alice", "on": "2026-01-02"}],
                         "identity": [{"issuer": "github", "repository": "acme/app", "ref": "refs/heads/main"}],
                         "grant": {"aws": {"prod": {"actions": ["s3:GetObject"], "resources": ["arn:aws:s3:::b/*"]}}}}}},
    indent=4) + "\n"


def _approve_keeps(tmp_path, name, raw: bytes):
    folder = tmp_path / "spec"
    folder.mkdir()
    (folder / name).write_bytes(raw)
    done = run_wiam("review", folder, "--approve", "app", "--by", APPROVED["by"])
    assert done.returncode == 0, done.stderr
    after = (folder / name).read_bytes()
    model = load_model(str(folder), at=AT)
    assert model.workloads["app"].reviews[0].by == APPROVED["by"]
    assert model.workloads["app"].reviews[0].on.isoformat() == APPROVED["on"]
    assert run_wiam("review", folder).stdout.startswith("no workload is due")
    return after


def _inserted(before: bytes, after: bytes) -> int:
    """How many lines `after` adds to `before`, which must be all it does (no line changed or removed)."""
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    codes = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    assert {code for code, *_ in codes} <= {"equal", "insert"}, codes
    return len(new) - len(old)


@pytest.mark.parametrize("bom, newline", [(False, "\n"), (True, "\r\n"), (True, "\n"), (False, "\r\n")])
def test_approve_in_hcl_keeps_bom_line_ends_and_every_other_line(tmp_path, bom, newline):
    text = BASE_HCL + settings_hcl() + "# the app\n" + reviewed("app", "2026-01-02")
    raw = (codecs.BOM_UTF8 if bom else b"") + text.replace("\n", newline).encode()
    after = _approve_keeps(tmp_path, "main.wiam.hcl", raw)
    assert after.startswith(codecs.BOM_UTF8) == bom
    assert after.count(b"\r\n") == (after.count(b"\n") if newline == "\r\n" else 0)
    assert _inserted(raw, after) == 4


@pytest.mark.parametrize("name, text, added", [
    ("main.wiam.yaml", YAML_SPEC, 2), ("main.wiam.json", JSON_SPEC, 1),
    ("main.wiam.yaml", YAML_SPEC.replace("    owner", "    review:\n      - by: a\n        on: '2026-01-02'\n    owner"), 1)])
def test_approve_in_yaml_and_json_adds_its_lines_and_keeps_the_rest(tmp_path, name, text, added):
    raw = text.replace("\n", "\r\n").encode()
    after = _approve_keeps(tmp_path, name, raw)
    assert after.count(b"\r\n") == after.count(b"\n")
    assert _inserted(raw, after) == added  # the item, and the key when it is new


def test_approve_writes_into_the_workloads_own_file(spec):
    folder = spec({"a.wiam.hcl": BASE_HCL + settings_hcl(), "b.wiam.hcl": reviewed("app")})
    before = (folder / "a.wiam.hcl").read_bytes()
    assert run_wiam("review", folder, "--approve", "app", "--by", "bob").returncode == 0
    assert (folder / "a.wiam.hcl").read_bytes() == before and b"review {" in (folder / "b.wiam.hcl").read_bytes()


@pytest.mark.parametrize("args, words", [
    (["--approve", "ap", "--by", "bob"], "did you mean 'app'"),
    (["--approve", "app"], "--by"),
    (["--approve", "app", "--by", "bob", "--on", (TODAY + timedelta(days=1)).isoformat()], "after the day"),
    (["--approve", "app", "--by", "bob", "--on", "2026-02-30"], "no day"),
    (["--approve", "app", "--by", "bob\u202e"], "visible"),
    (["--approve", "app", "--by", "x" * 129], "visible"),
    (["--by", "bob"], "--approve"),
])
def test_approve_refuses_bad_input_and_leaves_the_file(spec, args, words):
    folder = spec(BASE_HCL + settings_hcl() + reviewed("app"))
    before = (folder / "main.wiam.hcl").read_bytes()
    done = run_wiam("review", folder, *args)
    assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr
    assert (folder / "main.wiam.hcl").read_bytes() == before


def test_approve_refuses_a_one_line_block_and_says_what_to_add(spec):
    folder = spec(BASE_HCL + settings_hcl() + 'workload "app" { identity { issuer = "github"\n'
                  'repository = "acme/app"\nref = "refs/heads/main" }\n'
                  'grant "aws" "prod" {\nactions = ["s3:GetObject"]\nresources = ["arn:aws:s3:::b/*"]\n}\n}\n')
    before = (folder / "main.wiam.hcl").read_bytes()
    done = run_wiam("review", folder, "--approve", "app", "--by", "bob")
    assert done.returncode == 1 and "add by hand" in done.stderr and 'review { by = "bob"' in done.stderr
    assert (folder / "main.wiam.hcl").read_bytes() == before


def test_the_report_shows_each_workloads_review_status(spec, tmp_path):
    import re
    from wiam.report import unpack
    folder = spec(BASE_HCL + settings_hcl() + reviewed("fresh", (TODAY - timedelta(days=10)).isoformat())
                  + reviewed("never"))
    done = run_wiam("report", folder, "--out", tmp_path / "report.html")
    assert done.returncode == 0, done.stderr
    packed = re.search(rb'id="wiam-data">([^<]*)</script>', (tmp_path / "report.html").read_bytes()).group(1)
    shown = {n["label"]: n.get("review") for n in unpack(packed.decode())["nodes"] if n["type"] == "workload"}
    last, due = TODAY - timedelta(days=10), TODAY + timedelta(days=80)
    assert shown == {"fresh": f"fresh (last {last}, due {due})", "never": "overdue (never reviewed)"}
    repo = init_repo(tmp_path / "repo")  # with --rev, the review status is judged at the revision's own time
    (repo / "specs").mkdir()
    for file in folder.iterdir():
        (repo / "specs" / file.name).write_bytes(file.read_bytes())
    commit_all(repo, "the spec")
    then = run_wiam("report", repo / "specs", "--rev", "HEAD", "--out", tmp_path / "then.html")
    assert then.returncode == 0 and "Traceback" not in then.stderr, then.stderr
    packed = re.search(rb'id="wiam-data">([^<]*)</script>', (tmp_path / "then.html").read_bytes()).group(1)
    assert {n["label"]: n.get("review") for n in unpack(packed.decode())["nodes"] if n["type"] == "workload"}["never"] \
        == "overdue (never reviewed)"


def test_settings_written_as_a_yaml_mapping_says_how_to_write_it(spec):
    (error,) = spec_errors(spec({"main.wiam.hcl": BASE_HCL, "s.wiam.yaml": "settings:\n  review_every: 90d\n"}))
    assert error.pos.file.endswith("s.wiam.yaml") and "settings: [{review_every: 90d}]" in error.hint


VISIBLE = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Cf", "Zl", "Zp")), min_size=1, max_size=30)


@settings(max_examples=30, deadline=None)
@given(by=VISIBLE, fmt=st.sampled_from(["hcl", "yaml", "json"]))
def test_any_reviewer_name_lands_literally_in_every_format(by, fmt):
    """Quotes, backslashes, template openers (${, %{) and YAML indicators are escaped where they land:
    the edited file reads back as exactly the old spec plus the block (repeated_block_text refuses otherwise)."""
    from wiam.diagnostics import Report
    from wiam.readers import read
    from wiam.spec_edit import repeated_block_text
    text = {"hcl": BASE_HCL + reviewed("app", "2026-01-02"), "yaml": YAML_SPEC, "json": JSON_SPEC}[fmt]
    name = f"main.wiam.{fmt}"
    edited = repeated_block_text(name, text.encode(), ("workload", "app"), "review", {"by": by, "on": "2026-11-30"})
    report = Report()
    assert read(name, edited.decode(), report).data["workload"]["app"]["review"][0] == {"by": by, "on": "2026-11-30"}
    assert report.diagnostics == []


def test_an_interval_ending_past_the_last_day_is_fresh_not_a_traceback(tmp_path):
    folder = write_spec(tmp_path / "spec", {"main.wiam.hcl": BASE_HCL + settings_hcl("9999w")
                                            + reviewed("app", "9999-12-01")})
    done = run_wiam("review", folder, "--at", "9999-12-02T00:00:00Z", "--format", "json")
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    (listed,) = [s for s in statuses(load_model(str(folder), at=AT), timedelta(weeks=9999), date(9999, 12, 2))]
    assert (listed.state, listed.due) == ("fresh", date.max)
