"""The fast schema check (fastjsonschema) and the explaining one (jsonschema) agree on what is valid,
and the orjson writer gives the bytes of json.dumps."""

import copy
import json
import random

import pytest

from wiam.compile import load_model
from wiam.schema import _validator, is_valid
from wiam.terraform import render
from support.paths import EXAMPLE_SPECS

ODD_VALUES = [None, True, 0, -1, 1.5, "", "x", "*", "spiffe://a/$b", "arn:aws:s3:::b", [], ["x"], [1], {}, {"k": "v"}]


def _mutations(data: dict, rng: random.Random, count: int):
    paths = []

    def walk(value, path):
        paths.append(path)
        if isinstance(value, dict):
            for key, child in value.items():
                walk(child, path + (key,))
        elif isinstance(value, list):
            for index, child in enumerate(value):
                walk(child, path + (index,))
    walk(data, ())
    for _ in range(count):
        mutated = copy.deepcopy(data)
        path = rng.choice(paths[1:])
        parent = mutated
        for part in path[:-1]:
            parent = parent[part]
        action = rng.random()
        if action < 0.6:
            parent[path[-1]] = rng.choice(ODD_VALUES)
        elif action < 0.8 and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[rng.choice(["bogus", "disabled", "reason", "custom", "mode"])] = rng.choice(ODD_VALUES)
        yield mutated


@pytest.mark.parametrize("folder", EXAMPLE_SPECS, ids=lambda p: p.name)
def test_both_engines_agree(folder):
    data = load_model(str(folder)).document.data
    assert is_valid(data)
    rng = random.Random(folder.name)
    verdicts = []
    for mutated in _mutations(data, rng, 150):
        explained = not any(True for _ in _validator().iter_errors(mutated))
        assert is_valid(mutated) == explained, json.dumps(mutated)[:300]
        verdicts.append(explained)
    assert not all(verdicts)  # the mutations do reach invalid documents


def test_render_gives_the_bytes_of_json_dumps():
    rng = random.Random(3)
    alphabet = ["a", "é", "\u2028", "\x00", "\x1f", "\x7f", '"', "\\", "/", "${", "漢", "\U0001F600", " "]
    for _ in range(200):
        document = {"".join(rng.choices(alphabet, k=3)): [rng.choice([1, -7, 2.5, 0.1, 1e21, True, None,
                                                                      "".join(rng.choices(alphabet, k=5))])
                                                          for _ in range(3)] for _ in range(4)}
        expected = (json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()
        assert render(document) == expected
