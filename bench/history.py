"""The record's speed, against baselines of the same run, on one generated organisation in git:

- a full `wiam history` over COMMITS commits that each change a few workloads, as a ratio to one
  cold `wiam compile` of the organisation (target: at most 20x);
- an incremental `wiam history` over 10 new commits, as a ratio to one warm `wiam diff` of one such
  commit (target: at most 2x).

Times are wall times; each command's CPU time (its processes' user and system time) is given too, as
the steadier measure on a machine others share.

    python bench/history.py --workloads 10000 --commits 200
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # noqa: E402
from run import command  # noqa: E402

CHANGED_PER_COMMIT = 3
NEW_COMMITS = 10
_GIT = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com", "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com"}


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, env={**os.environ, **_GIT})


ADDED = {"aws": ("actions", "sns:Publish"), "gcp": ("roles", "roles/viewer"), "azure": ("roles", "Reader")}


def change_a_few(document: dict, rng: random.Random) -> None:
    """A few workloads each narrow or widen their first grant by one action or role."""
    for name in rng.sample(sorted(document["workload"]), CHANGED_PER_COMMIT):
        cloud, per_target = next(iter(document["workload"][name]["grant"].items()))
        body = next(iter(per_target.values()))
        key, added = ADDED[cloud]
        body[key] = body[key][:-1] if len(body[key]) > 1 else [*body[key], added]


def commits(repo: Path, specs: Path, document: dict, rng: random.Random, count: int) -> None:
    for n in range(count):
        change_a_few(document, rng)
        generate.write(document, str(specs), "hcl")
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", f"change {n}")


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """The wall and CPU seconds of one wiam command (run's `command`)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds, _ = command(args, env, ok=(0,))  # exit 1 is a failure here: a spec error, or a traceback
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def measure(workloads: int, count: int, seed: int, work: Path) -> dict:
    rng = random.Random(seed)
    repo, specs = work / "repo", work / "repo" / "specs"
    document = generate.organisation(workloads, seed)
    generate.write(document, str(specs), "hcl")
    git(work, "init", "-q", "-b", "main", str(repo))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "the organisation")
    commits(repo, specs, document, rng, count)
    cold = {"WIAM_CACHE_DIR": str(work / "cache")}  # starts empty: the first compile is cold
    compile_seconds, compile_cpu = timed(["compile", str(specs), "--out", str(work / "out")], cold)
    full_seconds, full_cpu = timed(["history", str(specs), "--db", str(work / "full.sqlite")],
                                   {"WIAM_CACHE_DIR": str(work / "cache-history")})
    commits(repo, specs, document, rng, NEW_COMMITS)
    os.chdir(repo)  # diff reads REV:PATH relative to the working folder
    diff_args = ["diff", "HEAD~1", "HEAD", "--path", "specs", "--format", "json"]
    command(diff_args, cold, ok=(0,))  # warms the cache, and marks both sides valid, for the diff measured next
    diff_seconds, diff_cpu = timed(diff_args, cold)
    incremental_seconds, incremental_cpu = timed(["history", str(specs), "--db", str(work / "full.sqlite")],
                                                 {"WIAM_CACHE_DIR": str(work / "cache-history")})
    return {"workloads": workloads, "commits": count, "cold_compile": compile_seconds, "full_history": full_seconds,
            "full_ratio": full_seconds / compile_seconds, "warm_diff": diff_seconds,
            "incremental_history": incremental_seconds, "incremental_ratio": incremental_seconds / diff_seconds,
            "cpu": {"cold_compile": compile_cpu, "full_history": full_cpu, "full_ratio": full_cpu / compile_cpu,
                    "warm_diff": diff_cpu, "incremental_history": incremental_cpu,
                    "incremental_ratio": incremental_cpu / diff_cpu}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", type=int, default=10_000)
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wiam-bench-history-") as work:
        row = measure(args.workloads, args.commits, args.seed, Path(work))
    print(json.dumps(row, indent=2))
    print(f"full history: {row['full_ratio']:.1f}x one cold compile (target at most 20x); "
          f"10 new commits: {row['incremental_ratio']:.1f}x one warm diff (target at most 2x); in CPU time "
          f"{row['cpu']['full_ratio']:.1f}x and {row['cpu']['incremental_ratio']:.1f}x")


if __name__ == "__main__":
    main()
