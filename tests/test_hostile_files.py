"""Hostile files through the real CLI: what wiam reads (only regular files inside the spec folder),
what it prints (never a file's content, only short printable excerpts) and what `--out` does with
links, staging folders and files the user wrote."""

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support.cli import run_wiam
from support.git import commit_all, git, init_repo
from support.paths import EXAMPLES
from wiam.diagnostics import EXCERPT_CHARS, MESSAGE_CHARS, Pos, Report, excerpt, printable

CANARY = "WIAM_CANARY_7f3c1d_do_not_print"
SPEC = EXAMPLES / "github-actions-aws"
KILL_AT = """import os, signal
import wiam.terraform as terraform
original = {target}.{name}
def kill(*args, **kwargs):
    if {after}:
        original(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
{target}.{name} = kill
"""


def killed(target: str, name: str, after: bool, *args):
    """A run of the CLI that SIGKILLs itself when it reaches `target.name`, or once that returns."""
    return run_wiam(*args, before=KILL_AT.format(target=target, name=name, after=after), timeout=120)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (not following links) with its content, links as their target."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(folder))] = b"-> " + os.fsencode(os.readlink(path))
        elif path.is_file():
            found[str(path.relative_to(folder))] = path.read_bytes()
    return found


@pytest.fixture
def folder(tmp_path):
    spec = tmp_path / "spec"
    shutil.copytree(SPEC, spec)
    return spec


def outputs(folder: Path, env=None) -> list[subprocess.CompletedProcess]:
    """Every command and format that reads the spec and prints messages about it."""
    runs = [run_wiam("validate", folder, env=env), run_wiam("validate", folder, "--format", "json", env=env)]
    runs += [run_wiam("analyze", folder, "--format", fmt, env=env) for fmt in ("text", "json", "sarif")]
    runs += [run_wiam("diff", SPEC, folder, "--format", fmt, env=env) for fmt in ("text", "markdown", "json")]
    runs += [run_wiam("graph", folder, env=env)]
    return runs


def assert_refused(runs, name: str, secret: str = CANARY) -> None:
    for result in runs:
        assert result.returncode == 2, (result.args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert secret not in result.stdout + result.stderr
        assert name in result.stderr


# Reading

def test_a_link_to_a_file_outside_the_spec_folder_is_refused_and_never_printed(folder, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text(f'issuer "{CANARY}" {{\n  kind = {CANARY}\n}}\n')
    (folder / "leak.wiam.hcl").symlink_to(secret)
    assert_refused(outputs(folder), "leak.wiam.hcl")
    assert_refused([run_wiam("compile", folder, "--out", tmp_path / "out")], "leak.wiam.hcl")
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(not os.path.exists("/proc/self/environ"), reason="needs Linux /proc")
def test_a_link_to_proc_self_environ_never_shows_the_environment(folder):
    (folder / "env.wiam.yaml").symlink_to("/proc/self/environ")
    env = {"GITHUB_TOKEN": CANARY}
    assert_refused(outputs(folder, env), "env.wiam.yaml")


def test_a_fifo_in_the_spec_folder_is_refused_without_hanging(folder):
    os.mkfifo(folder / "pipe.wiam.hcl")
    assert_refused([run_wiam("validate", folder, timeout=60),
                    run_wiam("validate", folder / "pipe.wiam.hcl", timeout=60)], "pipe.wiam.hcl")


def test_a_socket_named_as_a_spec_file_is_refused(folder, monkeypatch):
    monkeypatch.chdir(folder)  # a short relative path: socket paths are limited to about 100 bytes
    with socket.socket(socket.AF_UNIX) as server:
        server.bind("sock.wiam.hcl")
        assert_refused([run_wiam("validate", folder)], "sock.wiam.hcl")


def test_a_link_to_a_device_and_a_folder_named_as_a_spec_file_are_refused(folder, tmp_path):
    (folder / "null.wiam.hcl").symlink_to("/dev/null")
    assert_refused([run_wiam("validate", folder)], "null.wiam.hcl")
    (folder / "null.wiam.hcl").unlink()
    (folder / "nested.wiam.hcl").mkdir()
    assert_refused([run_wiam("validate", folder), run_wiam("validate", folder, "--recursive")], "nested.wiam.hcl")


def test_a_file_over_the_size_limit_is_refused_unread(folder):
    with open(folder / "huge.wiam.hcl", "wb") as handle:
        handle.truncate(10 * 1024 * 1024 + 1)  # sparse: nothing is written to disk
    result = run_wiam("validate", folder)
    assert_refused([result], "huge.wiam.hcl")
    assert "10 MiB" in result.stderr


def test_a_link_to_a_file_inside_the_spec_folder_is_read(folder):
    (folder / "main.wiam.hcl").rename(folder / "shared.txt")
    (folder / "main.wiam.hcl").symlink_to("shared.txt")
    result = run_wiam("validate", folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: 1 files")


def test_a_file_name_with_control_characters_is_refused_and_printed_escaped(folder):
    name = "a\x1b[2J\u202e.wiam.hcl"
    shutil.copy(folder / "main.wiam.hcl", folder / name)
    result = run_wiam("validate", folder)
    assert_refused([result], "a\\x1b[2J\\u202e.wiam.hcl")
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr


def test_diff_of_a_git_revision_follows_no_link_out_of_the_spec_folder(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(SPEC, repo / "specs")
    secret = tmp_path / "secret.txt"
    secret.write_text(CANARY)
    init_repo(repo)
    commit_all(repo, "base")
    (repo / "specs" / "alias.wiam.yaml").symlink_to("../README.md")
    (repo / "README.md").write_text(CANARY)
    commit_all(repo, "a link to the repository, outside the spec folder")
    (repo / "specs" / "alias.wiam.yaml").unlink()
    (repo / "specs" / "alias.wiam.yaml").symlink_to(secret)
    commit_all(repo, "a link out of the repository")
    runs = [run_wiam("diff", rev, "HEAD", "--path", "specs", "--format", fmt, cwd=repo)
            for rev in ("HEAD~1", "HEAD~2") for fmt in ("text", "markdown")]
    runs += [run_wiam("diff", "HEAD~2", "HEAD~1", "--path", "specs", cwd=repo)]
    assert_refused(runs, "specs/alias.wiam.yaml")


def test_diff_of_a_git_revision_reads_a_link_to_a_file_inside_the_spec_folder(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(SPEC, repo / "specs")
    (repo / "specs" / "main.wiam.hcl").rename(repo / "specs" / "spec.txt")
    (repo / "specs" / "main.wiam.hcl").symlink_to("spec.txt")
    init_repo(repo)
    commit_all(repo, "a link inside the spec folder")
    result = run_wiam("diff", "HEAD", "specs", "--path", "specs", "--format", "json", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["classification"] == "neutral"


# What messages show

@settings(max_examples=200, deadline=None)
@given(st.text(), st.integers(min_value=1, max_value=200))
def test_an_excerpt_is_printable_bounded_and_keeps_short_printable_text(text, limit):
    shown = excerpt(text, limit)
    assert shown.isprintable() and len(shown) <= limit + 1
    assert printable(printable(text)) == printable(text)
    if text.isprintable() and len(text) <= limit:
        assert shown == text


@settings(max_examples=100, deadline=None)
@given(st.text(min_size=1))
def test_every_diagnostic_is_printable_and_bounded(text):
    report = Report()
    report.error(Pos("main.wiam.hcl", 1, 1), f'workload "{text}"', f"invalid name {text!r} {text}", f"rename {text}")
    diagnostic = report.diagnostics[0]
    for part in (diagnostic.block, diagnostic.message, diagnostic.hint):
        assert part.isprintable() and len(part) <= MESSAGE_CHARS + 1
    assert diagnostic.render().count("\n") == 1  # the message line and the fix line: nothing injected


HOSTILE = "\u202e\x1b[2J\u200b"
HIDDEN = "\u202e\x1b\u200b"  # what of HOSTILE must never be shown raw
LONG_LINE = "A" * 5000


@pytest.mark.parametrize("name, text", [
    ("a.wiam.hcl", f'issuer "g" {{\n  kind = "github"\n}}\n"{LONG_LINE}{HOSTILE}" = 1\n'),
    ("a.wiam.hcl", f'{LONG_LINE}{HOSTILE} = 1\n'),
    ("a.wiam.yaml", f'issuer:\n  g:\n    kind: github\n"{LONG_LINE}{HOSTILE}": 1\n"{LONG_LINE}{HOSTILE}": 2\n'),
    ("a.wiam.yaml", f"issuer: [{LONG_LINE}{HOSTILE}\n"),
    ("a.wiam.json", json.dumps({LONG_LINE + HOSTILE: 1})[:-1] + f', "{LONG_LINE}{HOSTILE}": 2}}'),
    ("a.wiam.json", '{"issuer": ' + LONG_LINE + HOSTILE + "}"),
    ("a.wiam.hcl", f'workload "w{HOSTILE}{LONG_LINE}" {{\n  description = "{LONG_LINE}{HOSTILE}"\n}}\n'),
], ids=["hcl-token", "hcl-character", "yaml-key", "yaml-syntax", "json-key", "json-syntax", "validation"])
def test_syntax_and_validation_errors_quote_only_a_short_printable_excerpt(tmp_path, name, text):
    (tmp_path / name).write_text(text, encoding="utf-8")
    for fmt in ("text", "json"):
        result = run_wiam("validate", tmp_path, "--format", fmt)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        shown = result.stdout + result.stderr
        assert LONG_LINE[:EXCERPT_CHARS * 2 + MESSAGE_CHARS] not in shown
        assert not any(c in shown for c in HIDDEN)
        assert max(map(len, shown.splitlines())) < 2 * MESSAGE_CHARS
        if fmt == "json":
            assert all(set(e) >= {"file", "line", "column", "message", "hint"} for e in json.loads(result.stdout)["errors"])


def test_user_text_in_findings_is_escaped_in_sarif_json_text_and_the_markdown_diff(tmp_path):
    spec = tmp_path / "spec"
    shutil.copytree(EXAMPLES / "terraform-cloud", spec)
    main = spec / "main.wiam.hcl"
    text = main.read_text()
    assert "the region condition bounds it" in text
    main.write_text(text.replace("the region condition bounds it", "bounded @octocat\\n### fake heading"))
    runs = [run_wiam("analyze", spec, "--format", fmt) for fmt in ("text", "json", "sarif")]
    runs += [run_wiam("diff", EXAMPLES / "terraform-cloud", spec, "--format", fmt) for fmt in ("markdown", "json")]
    for result in runs:
        assert result.returncode == 0, result.stderr
        assert not any(c in result.stdout for c in HIDDEN), result.args
    sarif = json.loads(runs[2].stdout)
    reasons = [s["justification"] for r in sarif["runs"][0]["results"] for s in r.get("suppressions", [])]
    (reason,) = [r for r in reasons if "bounded" in r]
    assert reason.endswith("; bounded @octocat\\n### fake heading")


def test_hidden_characters_in_a_subject_are_refused_and_visible_markup_stays_inert(tmp_path):
    spec = tmp_path / "spec"
    shutil.copytree(EXAMPLES / "generic-oidc", spec)
    main = next(spec.glob("*.wiam.hcl"))
    text = main.read_text()
    assert '"8c2f7e3a-51d4-4c6b-9f0e-2b7a6d1e4c90"' in text
    main.write_text(text.replace('"8c2f7e3a-51d4-4c6b-9f0e-2b7a6d1e4c90"', '"8c2f\\u202e\\u001b[2J\\n### fake"'))
    for command in (("validate", spec), ("diff", EXAMPLES / "generic-oidc", spec, "--format", "markdown"),
                    ("who-can", spec, "--action", "s3:GetObject")):
        result = run_wiam(*command)
        shown = result.stdout + result.stderr  # errors go to stdout as JSON for machine formats
        assert result.returncode == 1 and "(U+202E), a control or invisible character" in shown, shown
        assert not any(c in result.stdout + result.stderr for c in HIDDEN)
    subject = "8c2f `@octocat` ### https://evil.example/x"
    main.write_text(text.replace('"8c2f7e3a-51d4-4c6b-9f0e-2b7a6d1e4c90"', json.dumps(subject)))
    result = run_wiam("diff", EXAMPLES / "generic-oidc", spec, "--format", "markdown")
    assert result.returncode == 0, result.stderr
    assert any(line.startswith("- ``") and subject in line for line in result.stdout.splitlines()), result.stdout
    # user text only inside code spans: no heading, mention or link is read there
    assert all(line.startswith(("### 🔺", "<details>", "</details>", "**", "- `", "`")) or not line
               for line in result.stdout.splitlines()), result.stdout
    for query in (("who-can", spec, "--action", "s3:GetObject"), ("blast-radius", spec, "--subject", subject)):
        result = run_wiam(*query)
        assert result.returncode == 0, result.stderr
        assert subject in result.stdout


# Writing --out

def test_out_given_as_a_link_is_written_through_and_what_it_points_at_stays(folder, tmp_path):
    real = tmp_path / "real"
    real.mkdir()
    (real / "terraform.tfstate").write_text("state")
    (tmp_path / "out").symlink_to(real)
    result = run_wiam("compile", folder, "--out", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    assert os.readlink(tmp_path / "out") == str(real)
    assert (real / "terraform.tfstate").read_text() == "state"
    assert (real / "main.tf.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "real", "spec"]  # no staging folder left


@pytest.mark.parametrize("where", ["spec", "spec/sub", "parent", "self"])
def test_out_overlapping_the_spec_folder_is_refused_and_nothing_moves(folder, tmp_path, where):
    link = tmp_path / "out"
    target = {"spec": folder, "spec/sub": folder / "sub", "parent": tmp_path, "self": folder}[where]
    (folder / "sub").mkdir()
    (folder / "sub" / "terraform.tfstate").write_text("state")
    link.symlink_to(target)
    before = tree(folder)
    out = folder if where == "self" else link
    for flags in ([], ["--recursive"]):  # a link into the spec folder is refused, read recursively or not
        result = run_wiam("compile", folder, "--out", out, *flags)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "overlaps the spec folder" in result.stderr and "Traceback" not in result.stderr
    assert tree(folder) == before
    assert not [p for p in tmp_path.rglob(".*wiam-new-*")]


def test_out_in_a_subfolder_of_the_spec_is_written_unless_the_spec_is_read_recursively(folder):
    assert run_wiam("compile", folder, "--out", folder / "out").returncode == 0
    assert (folder / "out" / "main.tf.json").is_file()
    result = run_wiam("compile", folder, "--out", folder / "out", "--recursive")
    assert result.returncode == 2 and "overlaps the spec folder" in result.stderr


def test_a_failed_swap_removes_its_staging_folder(folder, tmp_path):
    (tmp_path / "out").write_text("a file, not a folder")
    result = run_wiam("compile", folder, "--out", tmp_path / "out")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (tmp_path / "out").read_text() == "a file, not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "spec"]


def test_a_run_killed_while_writing_leaves_staging_the_next_run_removes(folder, tmp_path):
    out = tmp_path / "out"
    assert run_wiam("compile", folder, "--out", out).returncode == 0
    (out / "terraform.tfstate").write_text("state")
    mine = tmp_path / ".out.wiam-new-mine"  # looks like staging, but wiam did not make it
    mine.mkdir()
    (mine / "notes.txt").write_text("mine")
    assert killed("os", "fsync", False, "compile", folder, "--out", out).returncode == -9
    before_swap = set(tmp_path.glob(".out.wiam-new-*")) - {mine}
    assert len(before_swap) == 1
    assert killed("terraform", "_exchange", True, "compile", folder, "--out", out).returncode == -9
    after_swap = set(tmp_path.glob(".out.wiam-new-*")) - {mine}
    assert len(after_swap) == 1 and not after_swap & before_swap  # the second run removed the first's
    assert not (out / "terraform.tfstate").exists()  # still in the folder swapped out
    assert next(iter(after_swap)).joinpath("terraform.tfstate").read_text() == "state"
    result = run_wiam("compile", folder, "--out", out)
    assert result.returncode == 0, result.stderr
    assert (out / "terraform.tfstate").read_text() == "state"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.wiam-new-mine", "out", "spec"]
    assert (mine / "notes.txt").read_text() == "mine"


def test_out_file_never_lands_on_a_spec_file_or_a_folder(folder, tmp_path):
    before = tree(folder)
    (tmp_path / "report.wiam.hcl").symlink_to(folder / "main.wiam.hcl")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "keep.txt").write_text("keep")
    runs = [run_wiam("analyze", folder, "--format", "sarif", "--out", folder / "main.wiam.hcl"),
            run_wiam("analyze", folder, "--out", tmp_path / "report.wiam.hcl"),
            run_wiam("graph", folder, "--out", tmp_path / "report.wiam.hcl"),
            run_wiam("report", folder, "--out", tmp_path / "folder")]
    for result in runs:
        assert result.returncode == 2, (result.args, result.stderr)
        assert "Traceback" not in result.stderr
    assert tree(folder) == before
    assert (tmp_path / "folder" / "keep.txt").read_text() == "keep"
    assert not [p for p in tmp_path.rglob(".*") if p.name != ".git"]


def test_out_file_through_a_link_outside_the_spec_is_written_through(folder, tmp_path):
    (tmp_path / "results").mkdir()
    (tmp_path / "wiam.sarif").symlink_to(tmp_path / "results" / "wiam.sarif")
    result = run_wiam("analyze", folder, "--format", "sarif", "--out", tmp_path / "wiam.sarif")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "wiam.sarif").is_symlink()
    assert json.loads((tmp_path / "results" / "wiam.sarif").read_text())["version"] == "2.1.0"


def test_a_kill_switch_reason_is_escaped_in_analyze_text_and_json(tmp_path):
    spec = tmp_path / "spec"
    shutil.copytree(EXAMPLES / "generic-oidc", spec)
    main = next(spec.glob("*.wiam.hcl"))
    text = main.read_text()
    assert text.count('workload "nightly-report" {\n') == 1
    # A reason may hold line breaks: one must not start a GitHub workflow command (::error ...) in the log.
    main.write_text(text.replace('workload "nightly-report" {\n', 'workload "nightly-report" {\n  disabled = true\n'
                                 '  reason = "INC-1\\n::error title=Approved::wiam says safe"\n'))
    for fmt in ("text", "json"):
        result = run_wiam("analyze", spec, "--format", fmt)
        assert result.returncode == 0, result.stderr
        assert "INC-1\\n::error title=Approved" in result.stdout.replace("\\\\", "\\")
        assert not any(line.lstrip().startswith("::") for line in result.stdout.splitlines())


def test_a_user_file_whose_name_a_generated_file_takes_is_kept_and_named(tmp_path):
    out = tmp_path / "out"
    assert run_wiam("compile", EXAMPLES / "multi-cloud", "--out", out).returncode == 0
    (out / "aws-prod").write_text("mine")  # --split target then writes aws-prod/main.tf.json
    for _ in range(2):  # and a later run leaves it where it is too
        result = run_wiam("compile", EXAMPLES / "multi-cloud", "--out", out, "--split", "target")
        assert result.returncode == 0, result.stderr
        kept = [p / "aws-prod" for p in tmp_path.glob(".out.wiam-new-*")]
        assert len(kept) == 1 and kept[0].read_text() == "mine"
        assert f"note: {kept[0]} is not carried into {out}" in result.stderr
    assert (out / "aws-prod" / "main.tf.json").is_file()


def test_a_long_value_is_cut_to_an_excerpt_and_the_words_around_it_stay(folder):
    main = folder / "main.wiam.hcl"
    text = main.read_text()
    assert text.count('"refs/heads/main"') == 1
    main.write_text(text.replace('"refs/heads/main"', f'"{LONG_LINE}"'))
    result = run_wiam("validate", folder)
    assert result.returncode == 1, result.stderr
    assert f"ref '{'A' * EXCERPT_CHARS}…' is not a full Git ref" in result.stderr


def test_simulate_claims_from_a_fifo_or_not_utf8_are_usage_errors(folder, tmp_path):
    os.mkfifo(tmp_path / "claims.json")
    (tmp_path / "latin1.json").write_bytes(b'{"iss": "\xe9"}')
    for name in ("claims.json", "latin1.json"):
        result = run_wiam("simulate", folder, "--claims", tmp_path / name, timeout=60)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert name in result.stderr


def test_emoji_codes_in_user_text_stay_text(folder):
    main = folder / "main.wiam.hcl"
    text = main.read_text()
    assert text.count("resources = [\n") >= 1
    main.write_text(text.replace("resources = [\n", 'resources = [\n      "arn:aws-cn:s3:::x:x:",\n', 1))
    result = run_wiam("validate", folder)
    assert result.returncode == 1
    assert "arn:aws-cn:s3:::x:x:" in result.stderr and "\u274c" not in result.stderr


def test_git_never_obeys_a_repository_committed_in_the_spec_folder(tmp_path):
    # A pull request commits a bare repository's files into the spec folder: git must not read its
    # config, whose fsmonitor would run a command in `wiam analyze` (git blame) and `wiam report` (git status).
    repo, marker = tmp_path / "repo", tmp_path / "ran"
    specs = repo / "specs"
    (specs / "objects" / "info").mkdir(parents=True)
    (specs / "refs" / "heads").mkdir(parents=True)
    (specs / "refs" / "heads" / ".keep").write_text("")
    text = (EXAMPLES / "github-actions-aws" / "main.wiam.hcl").read_text()
    (specs / "main.wiam.hcl").write_text(text.replace('  identity {\n', '  identity {\n    disabled = true\n'
                                                      '    reason   = "INC-1"\n', 1))
    (specs / "config").write_text(f'[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tworktree = ..\n'
                                  f'\tfsmonitor = "touch {marker}; false"\n')
    init_repo(repo)
    head = commit_all(repo, "one")
    (specs / "objects" / "info" / "alternates").write_text("../../.git/objects\n")
    (specs / "HEAD").write_text(head + "\n")
    commit_all(repo, "two")
    git(specs, "status", check=False)
    assert marker.exists()  # plain git obeys it
    marker.unlink()
    for args in (["analyze", specs], ["analyze", specs, "--format", "sarif"], ["report", specs, "--out", tmp_path / "r.html"]):
        result = run_wiam(*args)
        assert result.returncode in (0, 1) and "Traceback" not in result.stderr, result.stderr
    assert not marker.exists()


def test_atlantis_file_never_lands_on_a_spec_file_and_nothing_is_written_first(tmp_path):
    spec = tmp_path / "spec"
    shutil.copytree(EXAMPLES / "multi-cloud", spec)
    before = tree(spec)
    for atlantis in (spec / "workloads.wiam.hcl", spec):
        result = run_wiam("compile", spec, "--out", tmp_path / "out", "--split", "target", "--atlantis", atlantis)
        assert result.returncode == 2 and "--atlantis" in result.stderr, result.stderr
        assert not (tmp_path / "out").exists()
    assert tree(spec) == before
