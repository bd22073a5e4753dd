"""From a spec folder to Terraform JSON files: the pipeline every command starts with."""

from __future__ import annotations

import gc
from contextlib import contextmanager

from providers import PROVIDERS

from .diagnostics import Report
from .loader import load
from .model import Model
from .terraform import Module, render
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


def load_model(directory: str, recursive: bool = False, report: Report | None = None) -> Model:
    """Load, merge and validate a spec folder; raise SpecError with every problem found."""
    report = report or Report()
    with gc_paused():
        document = load(directory, report, recursive)
        model = build_model(document, report) if not report.diagnostics else Model(document=document)
    report.raise_if_any()
    return model


def compile_model(model: Model, split: bool = False, report: Report | None = None) -> dict[str, bytes]:
    """Terraform JSON files by relative path: `main.tf.json`, or `<cloud>-<target>/main.tf.json`
    per target with `split`. Cloud limits are checked here; SpecError lists every breach."""
    report = report or Report()
    with gc_paused():
        return _compile(model, split, report)


def _compile(model: Model, split: bool, report: Report) -> dict[str, bytes]:
    modules: dict[str, Module] = {}
    outputs: dict[str, dict[str, dict]] = {}
    for cloud, provider in sorted(PROVIDERS.items()):
        for target in model.targets_of(cloud):
            key = f"{cloud}-{target.name}/main.tf.json" if split else "main.tf.json"
            module = modules.setdefault(key, Module())
            for workload, values in provider.compile_target(model, target, module, report).items():
                merged = outputs.setdefault(key, {}).setdefault(workload, {})
                for name, value in values.items():
                    merged[name if split else f"{cloud}_{target.name}_{name}"] = value
    report.raise_if_any()
    if not modules:
        modules["main.tf.json"] = Module()  # a spec with no targets yet compiles to an empty root module
    for key, per_workload in outputs.items():
        for workload, values in sorted(per_workload.items()):
            modules[key].output(workload, values, f"What workload {workload} needs to use its cloud identities")
    return {key: render(module.to_json()) for key, module in sorted(modules.items())}
