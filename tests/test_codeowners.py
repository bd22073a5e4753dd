"""`wiam codeowners`: one rule per spec file naming its owners' teams; --out keeps the file's other
lines; --check reads the file as GitHub does (last match wins, gitignore patterns) and fails naming
the spec file whose rule is missing or wrong."""

import json

import pytest
from hypothesis import given, settings, strategies as st

from support.cli import run_wiam
from support.git import init_repo
from support.specs import BASE_HCL, workload_hcl, write_spec
from wiam.codeowners import BEGIN, END, Expected, merged, owning_rule, parse, problems

OWNERS = 'settings {\n  owners = { "team-a" = "@acme/a", "team-b" = "@acme/b" }\n}\n'


def owned(name, owner):
    return workload_hcl(name, extra=f'  owner = "{owner}"\n')


@pytest.fixture
def repo(tmp_path):
    root = init_repo(tmp_path / "repo")
    write_spec(root / "specs", {"base.wiam.hcl": BASE_HCL + OWNERS, "a.wiam.hcl": owned("pay", "team-a"),
                                "b.wiam.hcl": owned("ship", "team-b")})
    return root


def codeowners(root, *args):
    return run_wiam("codeowners", root / "specs", *args)


def test_the_rules_name_each_spec_file_from_the_repository_root(repo):
    done = codeowners(repo)
    assert done.returncode == 0, done.stderr
    rules = [line for line in done.stdout.splitlines() if not line.startswith("#")]
    assert rules == ["/specs/a.wiam.hcl @acme/a", "/specs/b.wiam.hcl @acme/b"]  # base holds no workload
    assert done.stderr == ""


def test_written_rules_pass_the_check_and_keep_the_other_lines(repo):
    (repo / "CODEOWNERS").write_text("# ours\r\n* @acme/everyone\r\n/docs/ @acme/docs\r\n")
    assert codeowners(repo, "--out", repo / "CODEOWNERS").returncode == 0
    text = (repo / "CODEOWNERS").read_bytes()
    assert text.startswith(b"# ours\r\n* @acme/everyone\r\n/docs/ @acme/docs\r\n\r\n" + BEGIN.encode() + b"\r\n")
    assert text.count(b"\n") == text.count(b"\r\n")
    assert codeowners(repo, "--check", repo / "CODEOWNERS").returncode == 0
    assert codeowners(repo, "--out", repo / "CODEOWNERS").returncode == 0  # again: the section is replaced
    assert (repo / "CODEOWNERS").read_bytes() == text


@pytest.mark.parametrize("edit, named", [
    (lambda t: t.replace("/specs/a.wiam.hcl @acme/a\n", ""), "a.wiam.hcl"),  # the rule removed: * wins
    (lambda t: t.replace("/specs/b.wiam.hcl @acme/b", "/specs/b.wiam.hcl @acme/a"), "b.wiam.hcl"),
    (lambda t: t + "/specs/ @acme/b\n", "a.wiam.hcl"),  # a later rule wins
    (lambda t: t + "*.hcl\n", "a.wiam.hcl"),  # a later rule with no owner: nobody's approval needed
    (lambda t: t.replace("@acme/a", "@acme/a @acme/b"), "a.wiam.hcl"),  # any listed team may approve
])
def test_a_missing_or_wrong_rule_fails_the_check_naming_the_file(repo, edit, named):
    assert codeowners(repo, "--out", repo / "CODEOWNERS").returncode == 0
    (repo / "CODEOWNERS").write_text(edit((repo / "CODEOWNERS").read_text()))
    done = codeowners(repo, "--check", repo / "CODEOWNERS")
    assert done.returncode == 1 and named in done.stdout, done.stdout + done.stderr
    assert all(line.startswith("specs/") or "/specs/" in line for line in done.stdout.splitlines())


def test_rules_of_the_users_own_that_say_the_same_pass(repo):
    (repo / "CODEOWNERS").write_text("* @acme/x\nspecs/a.* @ACME/A\n/specs/b.wiam.hcl @acme/b # ship\n")
    assert codeowners(repo, "--check", repo / "CODEOWNERS").returncode == 0


def test_lines_github_ignores_do_not_count(repo):
    (repo / "CODEOWNERS").write_text("/specs/a.wiam.hcl @acme/a\n/specs/b.wiam.hcl @acme/b\n!/specs/b.wiam.hcl\n"
                                     "/specs/[ab].wiam.hcl @acme/z\n")
    done = codeowners(repo, "--check", repo / "CODEOWNERS")
    assert done.returncode == 0 and "CODEOWNERS:3: GitHub ignores" in done.stderr and "CODEOWNERS:4:" in done.stderr


def test_a_pattern_git_cannot_read_is_ignored_not_a_traceback(repo):
    (repo / "CODEOWNERS").write_text("/specs/a.wiam.hcl @acme/a\n/specs/b.wiam.hcl @acme/b\n\\\t @acme/z\n")
    done = codeowners(repo, "--check", repo / "CODEOWNERS")
    assert done.returncode == 0, done.stderr
    assert "CODEOWNERS:3: GitHub ignores" in done.stderr and "Traceback" not in done.stderr


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab/*\\!#[] \t\r\n?.", max_size=12))
def test_any_codeowners_text_is_checked_without_an_exception(text):
    rules, ignored = parse(text)
    assert not {rule.line for rule in rules} & set(ignored)
    problems(rules, [Expected("f", "/a/b", ("@x",))])


def test_no_codeowners_file_fails_the_check(repo):
    done = codeowners(repo, "--check", repo / "CODEOWNERS")
    assert done.returncode == 1 and "a.wiam.hcl: no CODEOWNERS rule" in done.stdout


def test_a_file_of_several_owners_warns_and_lists_every_team(repo):
    (repo / "specs" / "b.wiam.hcl").write_text(owned("ship", "team-b") + owned("pay2", "team-a"))
    done = codeowners(repo, "--format", "json", "--check", repo / "CODEOWNERS")
    assert "several owners" in done.stderr and "split the file" in done.stderr
    assert "@acme/a @acme/b" in codeowners(repo).stdout


@pytest.mark.parametrize("workload, words", [(owned("x", "team-c"), "has no code-host team"),
                                             (workload_hcl("x"), "has no owner")])
def test_an_owner_without_a_team_is_an_error_with_a_fix(repo, workload, words):
    (repo / "specs" / "c.wiam.hcl").write_text(workload)
    done = codeowners(repo)
    assert done.returncode == 1 and words in done.stderr and "fix:" in done.stderr and "c.wiam.hcl:" in done.stderr


def test_a_spec_file_name_codeowners_cannot_match_literally_is_an_error(repo):
    (repo / "specs" / "a.wiam.hcl").rename(repo / "specs" / "a b.wiam.hcl")
    done = codeowners(repo)
    assert done.returncode == 1 and "literally" in done.stderr and "fix:" in done.stderr


def test_outside_git_paths_start_at_the_spec_folders_parent(tmp_path):
    write_spec(tmp_path / "plain" / "specs", {"a.wiam.hcl": BASE_HCL + OWNERS + owned("pay", "team-a")})
    done = run_wiam("codeowners", tmp_path / "plain" / "specs")
    assert "/specs/a.wiam.hcl @acme/a" in done.stdout.splitlines()


def test_out_refuses_a_spec_file_and_a_broken_section(repo):
    assert codeowners(repo, "--out", repo / "specs" / "x.wiam.hcl").returncode == 2
    (repo / "CODEOWNERS").write_text(f"{BEGIN}\n/x @y\n")
    done = codeowners(repo, "--out", repo / "CODEOWNERS")
    assert done.returncode == 2 and "broken" in done.stderr
    assert (repo / "CODEOWNERS").read_text() == f"{BEGIN}\n/x @y\n"
    assert codeowners(repo, "--out", repo / "CODEOWNERS", "--check", repo / "CODEOWNERS").returncode == 2


# The pure parts, over generated files.

paths = st.lists(st.from_regex(r"[a-z]{1,6}(/[a-z]{1,6}){0,2}\.wiam\.hcl", fullmatch=True), min_size=1, max_size=5,
                 unique=True)
teams = st.lists(st.sampled_from(["@o/a", "@o/b", "@o/c", "@u"]), min_size=1, max_size=2, unique=True)


@settings(max_examples=40, deadline=None)
@given(files=paths, data=st.data(), before=st.lists(st.sampled_from(["* @o/x", "/ @o/y", "*.hcl @o/z", "# c"])))
def test_the_merged_section_always_passes_and_leaves_other_lines(files, data, before):
    expected = [Expected(path, "/" + path, tuple(sorted(data.draw(teams)))) for path in files]
    existing = "".join(line + "\n" for line in before)
    text = merged(existing, expected)
    assert text.startswith(existing) and text.endswith(END + "\n")
    assert problems(parse(text)[0], expected) == []
    assert merged(text, expected) == text


@settings(max_examples=40, deadline=None)
@given(files=paths, data=st.data())
def test_dropping_any_one_rule_fails_that_file_alone(files, data):
    expected = [Expected(path, "/" + path, ("@o/a",)) for path in files]
    dropped = data.draw(st.sampled_from(files))
    text = "".join(line for line in merged("", expected).splitlines(keepends=True) if line != f"/{dropped} @o/a\n")
    assert [p.split(":")[0] for p in problems(parse(text)[0], expected)] == [dropped]


def test_the_last_matching_rule_wins():
    rules, _ = parse("* @a\n/specs/ @b\n/specs/x.wiam.hcl @c\n*.yaml @d\n")
    assert owning_rule(rules, "specs/x.wiam.hcl").owners == ("@c",)
    assert owning_rule(rules, "specs/y.wiam.hcl").owners == ("@b",)
    assert owning_rule(rules, "specs/y.wiam.yaml").owners == ("@d",)
    assert owning_rule(rules, "other/z.wiam.hcl").owners == ("@a",)


def test_json_check_output(repo):
    done = codeowners(repo, "--check", repo / "CODEOWNERS", "--format", "json")
    out = json.loads(done.stdout)
    assert done.returncode == 1 and not out["ok"] and len(out["problems"]) == 2


# wiam diff --format markdown: the owners a change widens, and an author outside the owning team.

MEMBERS = ('settings {\n  owners = { "team-a" = "@acme/a" }\n'
           '  members = { "@acme/a" = ["alice@example.com"] }\n}\n')
WIDER = ('actions = ["s3:GetObject", "s3:PutObject"]\n    resources = ["arn:aws:s3:::b/*"]')


def _widened_by(tmp_path, monkeypatch, author, settings_block=MEMBERS):
    from support.git import commit_all
    repo = init_repo(tmp_path / "diffrepo")
    write_spec(repo / "specs", {"base.wiam.hcl": BASE_HCL + settings_block, "a.wiam.hcl": owned("pay", "team-a")})
    commit_all(repo, "base")
    (repo / "specs" / "a.wiam.hcl").write_text(
        workload_hcl("pay", grants=[("aws", "prod", WIDER)], extra='  owner = "team-a"\n'))
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", author)
    commit_all(repo, "widen pay")
    done = run_wiam("diff", "HEAD~1", "HEAD", "--path", "specs", "--format", "markdown", cwd=repo)
    assert done.returncode == 0, done.stderr
    return done.stdout, repo


def test_markdown_names_the_owner_and_flags_an_author_outside_the_team(tmp_path, monkeypatch):
    out, repo = _widened_by(tmp_path, monkeypatch, "mallory@example.com")
    assert "**Owners whose workloads this widens**" in out
    assert "- `team-a` (`@acme/a`): `pay`; ⚠️ authored by `mallory@example.com`, who is not a member of `@acme/a`" in out
    data = json.loads(run_wiam("diff", "HEAD~1", "HEAD", "--path", "specs", "--format", "json", cwd=repo).stdout)
    assert data["owners_widened"] == [{"owner": "team-a", "team": "@acme/a", "workloads": ["pay"], "author": "outsider"}]


def test_a_member_author_is_not_flagged(tmp_path, monkeypatch):
    out, _ = _widened_by(tmp_path, monkeypatch, "Alice@Example.com")
    assert "a member of `@acme/a`" in out and "⚠️" not in out


def test_without_members_the_author_is_not_checked(tmp_path, monkeypatch):
    out, repo = _widened_by(tmp_path, monkeypatch, "mallory@example.com", OWNERS)
    assert "author not checked (settings members lists no one for `@acme/a`)" in out and "⚠️" not in out
    folders = run_wiam("diff", repo / "specs", repo / "specs", "--format", "markdown")
    assert "Owners whose" not in folders.stdout  # no widening, no owners


def test_a_hostile_author_email_stays_in_a_code_span(tmp_path, monkeypatch):
    out, _ = _widened_by(tmp_path, monkeypatch, "x`@acme/admins [link](https://e.example)`@e.example")
    line = next(line for line in out.splitlines() if "authored by" in line)
    assert "``x`@acme/admins [link](https://e.example)`@e.example``" in line
