"""The pre-commit hooks and the GitHub Action run the same commands as here, on a real git repository
with an origin, the way a pull request build sees it."""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from support.git import commit_all, git, init_repo
from support.paths import EXAMPLES, ROOT
from support.specs import write_spec

BASE = (EXAMPLES / "spec-reference" / "main.wiam.hcl").read_text(encoding="utf-8")
ENV = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


def _hooks():
    return {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}


def test_pre_commit_hooks_run_their_entries(tmp_path):
    hooks = _hooks()
    assert set(hooks) == {"wiam-validate", "wiam-analyze"}
    clean = EXAMPLES / "aks-azure"
    risky = write_spec(tmp_path / "risky", {"main.wiam.hcl": BASE.replace('["s3:GetObject", "s3:PutObject"]', '["*"]')})
    broken = write_spec(tmp_path / "broken", {"main.wiam.hcl": BASE.replace('kind = "github_actions"', 'kind = "gh"')})
    for hook in hooks.values():
        assert hook["language"] == "python" and hook["pass_filenames"] is False
        assert re.search(hook["files"], "specs/main.wiam.yaml") and not re.search(hook["files"], "main.tf.json")

    def run(hook, folder):
        command = hook["entry"].split() + hook.get("args", []) + [str(folder)]
        return subprocess.run(command, capture_output=True, text=True, env=ENV).returncode

    assert [run(hooks["wiam-validate"], f) for f in (clean, risky, broken)] == [0, 0, 1]
    assert [run(hooks["wiam-analyze"], f) for f in (clean, risky, broken)] == [0, 1, 1]


def _action_steps():
    steps = yaml.safe_load((ROOT / "action.yml").read_text())["runs"]["steps"]
    return {step["id"]: step for step in steps if "id" in step and "run" in step}


def _run_step(step, repo, env):
    return subprocess.run(["bash", "-e", "-c", step["run"]], cwd=repo, capture_output=True, text=True,
                          env={**ENV, **env})


def test_action_steps_on_a_pull_request(tmp_path):
    origin = tmp_path / "origin.git"
    repo = tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", origin)
    write_spec(repo / "specs", {"main.wiam.hcl": BASE})
    init_repo(repo)
    commit_all(repo, "base")
    git(repo, "remote", "add", "origin", origin)
    git(repo, "push", "-q", "origin", "main")
    git(repo, "checkout", "-qb", "feature")
    (repo / "specs" / "main.wiam.hcl").write_text(BASE.replace('["s3:GetObject", "s3:PutObject"]', '["s3:*"]'))
    commit_all(repo, "widen")
    git(repo, "update-ref", "-d", "refs/remotes/origin/main")  # the action fetches the base itself

    steps = _action_steps()
    assert set(steps) >= {"install", "validate", "analyze", "diff", "gate"}
    outputs = tmp_path / "github_output"
    env = {"SPEC_PATH": "specs", "BASE_REF": "main", "GITHUB_OUTPUT": str(outputs), "FAIL_ON": "critical",
           "DIFF_FAIL_ON": "none"}
    for name in ("validate", "analyze", "diff"):
        result = _run_step(steps[name], repo, env)
        assert result.returncode == 0, (name, result.stderr)
    assert outputs.read_text().strip() == "classification=widening"
    markdown = (repo / "wiam-diff.md").read_text()
    assert markdown.startswith("### ") and "WIDENING" in markdown.splitlines()[0]
    assert '"version": "2.1.0"' in (repo / "wiam.sarif").read_text()
    assert _run_step(steps["gate"], repo, env).returncode == 0  # no critical finding, diff not gated
    assert _run_step(steps["gate"], repo, {**env, "FAIL_ON": "high"}).returncode == 1  # s3:* is high
    assert _run_step(steps["gate"], repo, {**env, "DIFF_FAIL_ON": "widening"}).returncode == 1
