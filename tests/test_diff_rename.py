"""A workload renamed (and moved to another file) is a neutral diff, for every cloud and rule: findings
are matched by what they are, not by text naming principals derived from the workload's name."""

import re

from hypothesis import HealthCheck, given, settings, strategies as st

from chains import CHAINS_HCL
from support.specs import write_spec
from wiam.analysis import analyze
from wiam.compile import load_model
from wiam.diff import diff

HEADER = re.compile(r'^workload "([^"]+)" \{', re.M)
BLOCKS = re.split(r'\n(?=workload ")', CHAINS_HCL)
# Renaming a workload another grant names by its principal (wiam-NAME) changes that grant: not a rename.
RENAMEABLE = sorted(n for n in HEADER.findall(CHAINS_HCL) if f"wiam-{n}" not in CHAINS_HCL)


def _files(text_blocks: list[str], moved: str | None) -> dict[str, str]:
    kept = [b for b in text_blocks if not b.startswith(f'workload "{moved}"')]
    files = {"main.wiam.hcl": "\n".join(kept)}
    if moved is not None:
        files["moved.wiam.hcl"] = next(b for b in text_blocks if b.startswith(f'workload "{moved}"'))
    return files


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(old=st.sampled_from(RENAMEABLE), new=st.from_regex(r"[a-z][a-z0-9]{2,10}", fullmatch=True),
       move=st.booleans())
def test_a_rename_is_neutral_with_role_chains_impersonation_and_azure_identities(tmp_path_factory, old, new, move):
    if new in HEADER.findall(CHAINS_HCL):
        new += "x"
    root = tmp_path_factory.mktemp("rename")
    head_blocks = [b.replace(f'workload "{old}" {{', f'workload "{new}" {{', 1) for b in BLOCKS]
    base = write_spec(root / "base", {"main.wiam.hcl": CHAINS_HCL})
    head = write_spec(root / "head", _files(head_blocks, new if move else None))
    result = diff(str(base), str(head), incremental=False)
    assert result.renamed == {old: new}
    assert (result.classification, result.added, result.removed) == ("neutral", [], [])
    assert result.findings_introduced == [] and result.findings_fixed == []


def test_the_renames_reach_escalation_findings_in_every_cloud(tmp_path):
    """The property above is about WIAM001: its renameable workloads start or end chains in each cloud."""
    spec = write_spec(tmp_path / "spec", {"main.wiam.hcl": CHAINS_HCL})
    findings = [f for f in analyze(load_model(str(spec))) if f.rule == "WIAM001"]
    clouds = {n.partition(":")[0] for f in findings for n in f.related
              if f.workload in RENAMEABLE or n.rpartition(":")[2] in RENAMEABLE}
    assert clouds == {"aws", "gcp", "azure"}
