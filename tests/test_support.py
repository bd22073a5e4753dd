"""The tests' one vocabulary (tests/support): one CLI runner, one git helper, fixtures only in conftest,
and the helpers doing what they say."""

import ast
import json
import os
import subprocess
from pathlib import Path

import pytest

from support.cli import run_wiam
from support.git import commit_all, git, init_repo
from support.paths import ROOT

TESTS = ROOT / "tests"
SUPPORT = TESTS / "support"
GIT_NAMES = {"git", "_git"}


def _is_sys_executable(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "executable" and \
        isinstance(node.value, ast.Name) and node.value.id == "sys"


def _strings(nodes) -> list:
    return [n.value if isinstance(n, ast.Constant) else None for n in nodes]


def vocabulary_breaks(source: str) -> list[str]:
    """What in a test module's source bypasses tests/support, each with its line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, (ast.List, ast.Tuple)) and node.elts and _is_sys_executable(node.elts[0]):
            strings = _strings(node.elts)
            if any(strings[i:i + 2] == ["-m", "wiam"] for i in range(len(strings))):
                found.append(f"{line}: runs `python -m wiam` itself")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "from wiam.cli import main" in node.value:
            found.append(f"{line}: launches the CLI from code of its own")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in GIT_NAMES:
            found.append(f"{line}: defines {node.name}()")
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id in GIT_NAMES for t in node.targets):
            found.append(f"{line}: binds a git helper of its own")
        elif (isinstance(node, ast.ImportFrom) and node.module == "conftest") or \
                (isinstance(node, ast.Import) and any(a.name == "conftest" for a in node.names)):
            found.append(f"{line}: imports conftest")
    return found


def conftest_extras(source: str) -> list[str]:
    """Top-level definitions of a conftest that are neither fixtures nor pytest hooks."""
    def is_fixture(decorator):
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        return isinstance(target, ast.Attribute) and target.attr == "fixture"

    extras = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if not node.name.startswith("pytest_") and not any(map(is_fixture, node.decorator_list)):
                extras.append(node.name)
        elif isinstance(node, ast.ClassDef):
            extras.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            extras += [ast.unparse(t) for t in getattr(node, "targets", None) or [node.target]]
    return extras


def _modules():
    """Every Python file of tests/ but the vocabulary itself and this file, whose samples break it on purpose."""
    return sorted(p for p in TESTS.rglob("*.py") if SUPPORT not in p.parents and p != Path(__file__).resolve())


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(TESTS)))
def test_every_test_module_speaks_the_support_vocabulary(path):
    assert vocabulary_breaks(path.read_text(encoding="utf-8")) == [], path


def test_conftest_holds_only_fixtures_and_hooks():
    assert conftest_extras((TESTS / "conftest.py").read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("source,message", [
    ('subprocess.run([sys.executable, "-m", "wiam", "validate", d], capture_output=True)', "runs `python -m wiam`"),
    ('command = (sys.executable, "-m", "wiam")', "runs `python -m wiam`"),
    ('code = "import sys; from wiam.cli import main; main()"', "launches the CLI"),
    ("def _git(folder, *args):\n    pass", "defines _git()"),
    ("def test():\n    def git(*args):\n        pass", "defines git()"),
    ("git = lambda *args: None", "binds a git helper"),
    ("from conftest import ROOT", "imports conftest"),
    ("def test():\n    import conftest", "imports conftest"),
])
def test_the_checks_catch_each_way_round_the_vocabulary(source, message):
    [found] = vocabulary_breaks(source)
    assert message in found


def test_the_checks_leave_other_interpreters_and_other_commands_alone():
    # test_packaging runs the installed wheel's own python; helpers may run other programs.
    source = ('_run([str(installed.python), "-m", "wiam", "compile"])\n'
              'subprocess.run([sys.executable, str(ROOT / "bench" / "run.py")])\n'
              'from support.git import git\ngit(repo, "status")\n')
    assert vocabulary_breaks(source) == []


def test_conftest_check_names_what_is_not_a_fixture():
    source = ("import pytest\nROOT = 1\nDATA: str = 'x'\n@pytest.fixture\ndef spec():\n    pass\n"
              "@pytest.fixture(scope='session')\ndef big():\n    pass\n"
              "def pytest_configure(config):\n    pass\ndef write_spec():\n    pass\nclass Block:\n    pass\n")
    assert conftest_extras(source) == ["ROOT", "DATA", "write_spec", "Block"]


def test_run_wiam_adds_to_the_environment_or_replaces_it_and_runs_code_first(tmp_path):
    show = "import os, sys, json; print(json.dumps([os.getcwd(), dict(os.environ)]), file=sys.stderr)"
    added = run_wiam("rules", "--format", "json", env={"WIAM_SUPPORT_PROBE": "1"}, before=show)
    assert added.returncode == 0, added.stderr
    cwd, environment = json.loads(added.stderr)
    assert Path(cwd) == ROOT and environment["WIAM_SUPPORT_PROBE"] == "1" and environment["PATH"] == os.environ["PATH"]
    assert {rule["id"] for rule in json.loads(added.stdout)} >= {"AWS101"}  # the CLI ran after the code
    alone = run_wiam("rules", env={"WIAM_SUPPORT_PROBE": "2", "WIAM_CACHE": "0"}, inherit_env=False, cwd=tmp_path,
                     before=show)
    cwd, environment = json.loads(alone.stderr)
    assert Path(cwd) == tmp_path.resolve() and environment["WIAM_SUPPORT_PROBE"] == "2" and "PATH" not in environment


def test_run_wiam_passes_each_argument_as_one_string(tmp_path):
    folder = tmp_path / "a folder; with $(spaces)"
    result = run_wiam("validate", folder)
    assert result.returncode == 2 and "a folder; with $(spaces)" in result.stderr, result.stderr


def test_init_repo_and_commit_all_make_real_commits(tmp_path):
    repo = init_repo(tmp_path / "new" / "repo")
    (repo / "a.txt").write_text("one")
    first = commit_all(repo, "first")
    (repo / "a.txt").write_text("two")
    (repo / "b.txt").write_text("untracked until now")
    second = commit_all(repo, "second")
    assert git(repo, "rev-parse", "HEAD~1").strip() == first != second == git(repo, "rev-parse", "HEAD").strip()
    assert git(repo, "branch", "--show-current").strip() == "main"
    assert git(repo, "show", "-s", "--format=%an <%ae> %s", "HEAD") == "T <t@example.com> second\n"
    assert git(repo, "ls-tree", "--name-only", "HEAD").split() == ["a.txt", "b.txt"]
    assert git(repo, "status", "--porcelain") == ""
    with pytest.raises(subprocess.CalledProcessError):
        git(repo, "rev-parse", "no-such-revision")
    assert git(repo, "rev-parse", "--verify", "-q", "no-such-revision", check=False) == ""


def test_git_ignores_the_machines_git_config(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[commit]\n\tgpgsign = true\n[gpg]\n\tprogram = false\n[init]\n\tdefaultBranch = x\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    repo = init_repo(tmp_path / "repo")
    (repo / "a.txt").write_text("one")
    assert len(commit_all(repo, "unsigned")) == 40  # the config's signing program would fail the commit
    assert git(repo, "config", "--get", "commit.gpgsign", check=False) == ""
