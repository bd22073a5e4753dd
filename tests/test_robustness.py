"""Bad input gets errors, never a crash: seeded single-character mutations of every example."""

import random

from wiam.compile import compile_model, load_model
from wiam.diagnostics import SpecError
from support.paths import EXAMPLES

MUTATIONS = ['"', "{", "}", "[", "]", "$", "%", "\\", "=", ",", ":", "\n", "x", "#", "-", " ", "1"]


def test_mutated_specs_fail_only_with_spec_errors(tmp_path):
    rng = random.Random(20261125)
    files = sorted(p for p in EXAMPLES.glob("*/*.wiam.*"))
    rejected = 0
    for trial in range(250):
        source = rng.choice(files)
        text = source.read_text()
        i = rng.randrange(len(text))
        roll = rng.random()
        if roll < 0.4:
            text = text[:i] + text[i + 1:]
        elif roll < 0.8:
            text = text[:i] + rng.choice(MUTATIONS) + text[i:]
        else:
            text = text[:i] + rng.choice(MUTATIONS) + text[i + 1:]
        folder = tmp_path / str(trial)
        folder.mkdir()
        (folder / source.name).write_text(text)
        try:
            compile_model(load_model(str(folder)))
        except SpecError as error:
            rejected += 1
            assert error.diagnostics and all(d.pos.line >= 0 and d.message for d in error.diagnostics)
    assert rejected > 100  # most mutations break the spec, and each break is reported as a spec error
