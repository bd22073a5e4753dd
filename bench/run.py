"""The benchmark: one run, one input per size, every time measured against baselines of the same run.

    python bench/run.py --sizes 1000 10000 100000 --out bench/results.md

For each size it generates the organisation (bench/generate.py) in HCL and in JSON, then times:
- the baseline: python-hcl2 parsing the HCL files, alone;
- the floor: json.loads of the JSON files plus json.dumps of the compiled output;
- wiam's stages in this process (load, validate, graph, analyze, compile, write);
- the commands as a user runs them (validate, compile, diff with one workload changed), each in a
  fresh process, with its peak memory;
- the cold compile of the same organisation with conditions (job_workflow_ref and repository_id
  pinned) on a quarter of its identities, as a ratio to the cold compile without them (the best of
  three of each, taken in turns).
Times are ratios to the baseline, so the table holds on a slower or faster machine.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import generate  # noqa: E402


STAGE_RUNS = 3  # each stage's best of three: a shared machine's noise only ever adds time
CONDITIONED = 0.25  # the fraction of identities that pin claims in the conditioned organisation
PAIRED_RUNS = 3  # cold compiles of each organisation behind the conditions ratio


def _timed(function, *args, runs: int = 1):
    """The fastest of `runs` calls, and the last call's result."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        result = function(*args)
        best = min(best, time.perf_counter() - start)
    return best, result


def baseline_seconds(folder: Path) -> float:
    import hcl2

    texts = [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.wiam.hcl"))]
    start = time.perf_counter()
    for text in texts:
        hcl2.loads(text)
    return time.perf_counter() - start


def floor_seconds(json_folder: Path, output: bytes) -> float:
    texts = [p.read_text(encoding="utf-8") for p in sorted(json_folder.glob("*.wiam.json"))]
    document = json.loads(output)
    start = time.perf_counter()
    for text in texts:
        json.loads(text)
    json.dumps(document, indent=2, sort_keys=True)
    return time.perf_counter() - start


def stage_seconds(folder: Path, out: Path) -> tuple[dict[str, float], bytes]:
    """Each stage as the commands chain them: compile plans every target (checking the cloud limits)
    and renders; the graph and the analysis read those plans."""
    from wiam.analysis import analyze
    from wiam.compile import build_modules, gc_paused, render_modules
    from wiam.diagnostics import Report
    from wiam.graph import build_graph
    from wiam.loader import load
    from wiam.planning import plan_model
    from wiam.terraform import write_tree
    from wiam.validate import build_model

    def compile_model(model):
        plans = plan_model(model, report)
        return plans, render_modules(build_modules(plans, False), None)

    report = Report()
    stages = {}
    with gc_paused():
        stages["load"], document = _timed(load, str(folder), Report(), runs=STAGE_RUNS)
        stages["validate"], model = _timed(build_model, document, report, runs=STAGE_RUNS)
        stages["compile"], (plans, files) = _timed(compile_model, model, runs=STAGE_RUNS)
        stages["graph"], access = _timed(build_graph, model, plans, runs=STAGE_RUNS)
        stages["analyze"], _ = _timed(analyze, model, access, runs=STAGE_RUNS)
        stages["write"], _ = _timed(write_tree, str(out), files, runs=STAGE_RUNS)
    if report.diagnostics:
        raise SystemExit(f"the generated organisation is not valid: {report.diagnostics[0].render()}")
    return stages, files["main.tf.json"]


# Linux carries a process's peak memory across fork and exec, so a command started from this
# (large) process would report at least this process's peak. A small launcher forks the command and
# reports its peak instead.
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "wiam", *sys.argv[1:]])
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss, file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def command(args: list[str], env: dict[str, str] | None = None, ok: tuple[int, ...] = (0, 1)) -> tuple[float, int]:
    """Wall time and peak memory (bytes) of one wiam command in a fresh process (`env` added to ours),
    which must exit with a code in `ok`."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", LAUNCHER, *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - start
    if result.returncode not in ok:
        raise SystemExit(f"wiam {' '.join(args)} failed: {result.stderr[-2000:]}")
    return seconds, int(result.stderr.split()[-1]) * 1024


def change_one_workload(folder: Path, changed: Path) -> None:
    shutil.copytree(folder, changed)
    first = sorted(changed.glob("*.wiam.hcl"))[1]  # the first file of workloads
    text = first.read_text(encoding="utf-8")
    first.write_text(text.replace('roles = ["', 'roles = ["roles/viewer", "', 1), encoding="utf-8")


def measure(size: int, seed: int, work: Path) -> dict:
    document = generate.organisation(size, seed)
    hcl, as_json = work / f"hcl-{size}", work / f"json-{size}"
    generate.write(document, str(hcl), "hcl")
    generate.write(document, str(as_json), "json")
    changed = work / f"changed-{size}"
    change_one_workload(hcl, changed)
    conditioned, pinned = generate.with_conditions(document, CONDITIONED, seed)
    with_claims = work / f"conditions-{size}"
    generate.write(conditioned, str(with_claims), "hcl")
    identities = sum(len(w["identity"]) for w in document["workload"].values())
    row: dict = {"size": size, "files": len(list(hcl.iterdir())), "identities": identities,
                 "conditioned_identities": pinned}
    row["baseline"] = baseline_seconds(hcl)
    os.environ["WIAM_CACHE"] = "0"  # the stages time real parsing
    row["stages"], output = stage_seconds(hcl, work / f"out-stages-{size}")
    os.environ["WIAM_CACHE"] = "1"
    os.environ["WIAM_CACHE_DIR"] = str(work / f"cache-{size}")  # starts empty: the first compile is cold
    row["floor"] = floor_seconds(as_json, output)
    row["commands"] = {}
    for name, args in (("compile", ["compile", str(hcl), "--out", str(work / f"out-{size}")]),
                       ("compile_warm", ["compile", str(hcl), "--out", str(work / f"out-{size}")]),
                       ("validate", ["validate", str(hcl)]),
                       ("diff", ["diff", str(hcl), str(changed), "--format", "json"])):
        seconds, memory = command(args)
        row["commands"][name] = {"seconds": seconds, "peak_bytes": memory}
    # The ratio of two single runs moves by a fifth on a busy machine: the best of three cold compiles
    # of each organisation, taken in turns, each with a cache of its own, empty.
    best = {"compile_plain": [], "compile_conditions": []}
    for turn in range(PAIRED_RUNS):
        for name, folder in (("compile_plain", hcl), ("compile_conditions", with_claims)):
            best[name].append(command(["compile", str(folder), "--out", str(work / f"out-{name}-{size}")],
                                      {"WIAM_CACHE_DIR": str(work / f"cache-{name}-{size}-{turn}")}))
    for name, runs in best.items():
        seconds, memory = min(runs)
        row["commands"][name] = {"seconds": seconds, "peak_bytes": memory}
    return row


def table(rows: list[dict]) -> str:
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [f"Measured {datetime.date.today().isoformat()} on {machine} by `python bench/run.py`.", "",
             "| workloads | files | python-hcl2 parse (baseline) | floor (json) | wiam compile (cold cache) "
             "| wiam compile (warm cache) | wiam validate (warm) | wiam diff (1 workload changed, warm) "
             "| diff / cold compile | conditions on 1/4 of identities / cold compile | peak memory (cold compile) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        base = row["baseline"]
        commands = row["commands"]

        def cell(seconds):
            return f"{seconds:.2f} s ({seconds / base:.3f}x)"
        lines.append(f"| {row['size']:,} | {row['files']} | {base:.2f} s (1x) | {cell(row['floor'])} | "
                     f"{cell(commands['compile']['seconds'])} | {cell(commands['compile_warm']['seconds'])} | "
                     f"{cell(commands['validate']['seconds'])} | {cell(commands['diff']['seconds'])} | "
                     f"{commands['diff']['seconds'] / commands['compile']['seconds']:.2f} | "
                     f"{commands['compile_conditions']['seconds'] / commands['compile_plain']['seconds']:.2f} | "
                     f"{commands['compile']['peak_bytes'] / 2**20:,.0f} MiB |")
    lines += ["", "Stages in process without the cache, each the best of three (seconds):", "",
              "| workloads | load | validate | compile | graph | analyze | write |", "|---|---|---|---|---|---|---|"]
    for row in rows:
        stages = row["stages"]
        lines.append(f"| {row['size']:,} | " + " | ".join(f"{stages[s]:.2f}" for s in
                                                         ("load", "validate", "compile", "graph", "analyze", "write"))
                     + " |")
    if len(rows) > 1:
        lines += ["", "Growth of `wiam compile` time: " + ", ".join(
            f"{a['size']:,} to {b['size']:,}: {b['commands']['compile']['seconds'] / a['commands']['compile']['seconds']:.1f}x"
            f" (workloads {b['size'] / a['size']:.0f}x)" for a, b in zip(rows, rows[1:]))]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description="Benchmark wiam against python-hcl2 and json on one input.")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", help="also write the markdown table here")
    parser.add_argument("--json", help="also write the raw measurements here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wiam-bench-") as work:
        rows = [measure(size, args.seed, Path(work)) for size in args.sizes]
    text = table(rows)
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
