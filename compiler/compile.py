"""From a spec folder to Terraform JSON files: the pipeline every command starts with."""

from __future__ import annotations

import gc
import os
from contextlib import contextmanager
from datetime import datetime
from typing import Callable

import yaml

from . import chains, code_host, registry, windows
from .diagnostics import Report
from .loader import load
from .model import Model
from .names import module_dir
from .plan import Plans
from .planning import plan_model
from .terraform import Module, render, versions_tf
from .validate import build_model


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector: specs become millions of small acyclic objects, and its
    passes over them cost a third of the load time of a large spec. Reference counting still frees."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_model(directory: str, recursive: bool = False, report: Report | None = None,
               on_file: Callable[[int, int], None] | None = None, at: datetime | None = None) -> Model:
    """Load, merge and validate a spec folder, then resolve its time windows at `at` (default:
    windows.current());
    raise SpecError with every problem found. Validity never depends on the time."""
    report = report or Report()
    with gc_paused():
        document = load(directory, report, recursive, on_file)
        model = build_model(document, report) if not report.diagnostics else Model(document=document)
    report.raise_if_any()
    return windows.resolve(model, at or windows.current(), report)


def load_planned(directory: str, recursive: bool = False, report: Report | None = None,
                 at: datetime | None = None) -> tuple[Model, Plans]:
    """load_model, then its plans, which check the cloud limits (part of validity): the model and its
    plans, or SpecError with every problem. Commands pass the plans on, so each target is planned once."""
    report = report or Report()
    model = load_model(directory, recursive, report, at=at)
    with gc_paused():
        return model, plan_model(model, report)


def load_valid_model(directory: str, recursive: bool = False, report: Report | None = None,
                     at: datetime | None = None) -> Model:
    """load_planned's model alone: the spec is valid, cloud limits included, or SpecError."""
    return load_planned(directory, recursive, report, at)[0]


MODULES_MANIFEST = "modules.json"
MAIN_FILE, VERSIONS_FILE = "main.tf.json", "versions.tf"


def compile_model(model: Model, split: bool = False, report: Report | None = None,
                  on_target: Callable[[int, int], None] | None = None) -> dict[str, bytes]:
    """Terraform files by relative path: `main.tf.json` and `versions.tf`, or with `split` one root
    module of both per target in `<cloud>-<target>/`, and `modules.json` listing them. Cloud limits are
    checked here; SpecError lists every breach. on_target(done, total) after each target (progress)."""
    report = report or Report()
    with gc_paused():
        modules = build_modules(_planned(model, report, on_target, split), split)
        sides = add_code_hosts(modules, model, split)
        return render_modules(modules, _manifest(model, sides) if split else None)


def _planned(model: Model, report: Report, on_target, split: bool) -> Plans:
    """The model's plans; with `split`, a trust naming another module's principal reads it (chains.read_across)."""
    plans = plan_model(model, report, on_target)
    if split:
        chains.read_across(model, plans)
    return plans


def compile_folder(directory: str, recursive: bool = False, split: bool = False, report: Report | None = None,
                   on_file: Callable[[int, int], None] | None = None,
                   on_target: Callable[[int, int], None] | None = None,
                   on_valid: Callable[[str], None] | None = None, at: datetime | None = None) -> dict[str, bytes]:
    """load_model, then compile_model, without keeping the spec while the output is rendered: the
    two never need to be in memory at once, which is what bounds a large spec's peak memory.
    on_valid(spec digest) once the spec compiled (the caller's cache marks it known valid)."""
    report = report or Report()
    model = load_model(directory, recursive, report, on_file, at)
    with gc_paused():
        modules = build_modules(_planned(model, report, on_target, split), split)
        sides = add_code_hosts(modules, model, split)
        manifest = _manifest(model, sides) if split else None
        digest = model.document.digest
        del model
        files = render_modules(modules, manifest)
    if on_valid:
        on_valid(digest)
    return files


def _manifest(model: Model, sides: list[code_host.OwnerSide]) -> dict:
    return {"generated_by": "wiam", "modules": [{
        "dir": module_dir(cloud, name), "cloud": cloud, "target": name,
        "workloads": sorted(w.name for w, _ in model.grants_on(target))}
        for (cloud, name), target in sorted(model.targets.items())] + [{
        "dir": side.dir, "code_host": side.host.provider[0], "owner": side.owner, "workloads": list(side.workloads)}
        for side in sides]}


def add_code_hosts(modules: dict[str, Module], model: Model, split: bool) -> list[code_host.OwnerSide]:
    """The code hosts' side (code_host.plan): with `split`, a root module per owner; else in the one
    module, a provider alias per owner when there are several. The sides added."""
    sides = code_host.plan(model)
    for side in sides:
        key = f"{side.dir}/{MAIN_FILE}" if split else MAIN_FILE
        code_host.emit(side, modules.setdefault(key, Module()), aliased=not split and len(sides) > 1)
    return sides


def render_modules(modules: dict[str, Module], manifest: dict | None) -> dict[str, bytes]:
    """Each module rendered, then let go of, so that one module's tree and bytes are held at a time;
    its terraform block goes to versions.tf beside it."""
    files: dict[str, bytes] = {}
    for key in sorted(modules):
        module = modules.pop(key)
        files[key] = render(module.to_json())
        files[key.removesuffix(MAIN_FILE) + VERSIONS_FILE] = versions_tf(module.required_providers)
    if manifest is not None:
        files[MODULES_MANIFEST] = render(manifest)
    return files


def build_modules(plans: Plans, split: bool) -> dict[str, Module]:
    """Every root module: each plan emitted, and each workload's outputs."""
    modules: dict[str, Module] = {}
    outputs: dict[str, dict[str, dict]] = {}
    for (cloud, name), plan in plans.items():
        key = f"{module_dir(cloud, name)}/{MAIN_FILE}" if split else MAIN_FILE
        module = modules.setdefault(key, Module())
        registry.get(cloud).emit(plan, module)
        chains.emit_lookups(plan, module)
        for workload, values in plan.outputs.items():
            merged = outputs.setdefault(key, {}).setdefault(workload, {})
            for output, value in values.items():
                merged[output if split else f"{cloud}_{name}_{output}"] = value
    if not modules:
        modules[MAIN_FILE] = Module()  # a spec with no targets yet compiles to an empty root module
    for key, per_workload in outputs.items():
        for workload, values in sorted(per_workload.items()):
            modules[key].output(workload, values, f"What workload {workload} needs to use its cloud identities")
    return modules


def atlantis_yaml(manifest: dict, out_from_root: str) -> bytes:
    """Atlantis repo config: one project per root module, planned when its files change."""
    prefix = "" if out_from_root == "." else out_from_root.replace(os.sep, "/") + "/"
    projects = [{"name": module["dir"], "dir": prefix + module["dir"],
                 "autoplan": {"enabled": True, "when_modified": ["*.tf.json", "*.tf"]}} for module in manifest["modules"]]
    document = {"version": 3, "parallel_plan": True, "parallel_apply": True, "projects": projects}
    return ("# Generated by wiam compile --split target; do not edit by hand.\n"
            + yaml.safe_dump(document, sort_keys=False)).encode()
