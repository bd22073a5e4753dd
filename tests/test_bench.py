"""The benchmark runs (a smoke run at 1,000 workloads: it works, its times are not judged here), and
the organisations it generates are valid, reproducible and the same in every format."""

import json
import subprocess
import sys
from pathlib import Path

from wiam.compile import compile_model, load_model
from support.paths import ROOT

sys.path.insert(0, str(ROOT / "bench"))
import generate  # noqa: E402


def test_generated_organisations_are_reproducible_and_format_independent(tmp_path):
    first, second = generate.organisation(150, seed=4), generate.organisation(150, seed=4)
    assert first == second and first != generate.organisation(150, seed=5)
    outputs = set()
    for fmt in ("hcl", "yaml", "json", "mixed"):
        generate.write(first, str(tmp_path / fmt), fmt)
        outputs.add(compile_model(load_model(str(tmp_path / fmt)))["main.tf.json"])
    assert len(outputs) == 1
    kinds = {body["kind"] for body in first["issuer"].values()}
    assert kinds == {"github_actions", "gitlab_ci", "kubernetes", "spiffe", "terraform_cloud", "generic_oidc"}


def test_benchmark_smoke_run_at_1000_workloads(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--sizes", "1000",
                             "--json", str(tmp_path / "rows.json")], capture_output=True, text=True, cwd=ROOT,
                            timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    [row] = json.loads(Path(tmp_path / "rows.json").read_text())
    assert row["size"] == 1000 and row["baseline"] > 0 and row["floor"] > 0
    assert set(row["stages"]) == {"load", "validate", "compile", "graph", "analyze", "write"}
    assert set(row["commands"]) == {"compile", "compile_warm", "validate", "diff", "compile_plain", "compile_conditions"}
    assert row["conditioned_identities"] == round(row["identities"] / 4)
    assert all(c["peak_bytes"] > 0 for c in row["commands"].values())
    assert "| 1,000 |" in result.stdout


def test_the_conditioned_organisation_is_the_same_one_with_claims_on_a_quarter_of_its_identities(tmp_path):
    document = generate.organisation(400, seed=3)
    before = json.dumps(document)
    conditioned, pinned = generate.with_conditions(document, 0.25, seed=3)
    assert json.dumps(document) == before and generate.with_conditions(document, 0.25, seed=3) == (conditioned, pinned)
    identities = [i for w in document["workload"].values() for i in w["identity"]]
    assert pinned == round(len(identities) / 4)
    generate.write(conditioned, str(tmp_path / "org"), "mixed")
    model = load_model(str(tmp_path / "org"))
    compile_model(model)  # every cloud checks the claims: a claim a cloud cannot check would fail here
    with_claims = [i for w in model.workloads.values() for i in w.identities if i.pinned]
    assert len(with_claims) == pinned
    assert all({k for k, _ in i.pinned} == {"job_workflow_ref", "repository_id"} for i in with_claims)
    # Beside the claims, the workloads are the same: names, grants, and each identity's fields.
    assert sorted(model.workloads) == sorted(document["workload"])
    for name, body in conditioned["workload"].items():
        original = document["workload"][name]
        assert body["grant"] == original["grant"]
        for item, was in zip(body["identity"], original["identity"]):
            assert {k: v for k, v in item.items() if k not in ("claims", "issuer")} == \
                {k: v for k, v in was.items() if k != "issuer"}
            assert item["issuer"] in (was["issuer"], was["issuer"] + "-pinned")
