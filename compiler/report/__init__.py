"""The audit report: one self-contained HTML file (styles, scripts and data inlined; nothing
fetched when opened) with a summary, the interactive access graph, the findings and every
workload's subjects, principals, permissions and trust conditions as deployed."""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path

from .. import windows
from ..analysis import SEVERITIES, Finding, Rule
from ..analysis.output import finding_json, summary
from ..access import AccessGraph
from ..model import Model

ASSETS = Path(__file__).resolve().parent / "assets"
# Above this many nodes the graph opens folded: workloads by owner, principals into their target,
# and above this many targets, targets into their cloud.
FOLD_ABOVE = 400
FOLD_TARGETS_ABOVE = 40


def generated_at() -> str:
    """Now, or SOURCE_DATE_EPOCH (reproducible builds) when set."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), timezone.utc) if epoch else datetime.now(timezone.utc)
    return moment.replace(microsecond=0).isoformat()


def counts(access: AccessGraph, findings: list[Finding]) -> dict:
    per_cloud: dict[str, dict[str, int]] = {"principals": {}, "grants": {}}
    totals = {"issuers": 0, "subjects": 0, "workloads": 0, "targets": 0}
    for _, data in access.graph.nodes(data=True):
        kind = data["type"]
        if f"{kind}s" in totals:
            totals[f"{kind}s"] += 1
        elif f"{kind}s" in per_cloud:
            bucket = per_cloud[f"{kind}s"]
            bucket[data["cloud"]] = bucket.get(data["cloud"], 0) + 1
    return {**totals, **{k: dict(sorted(v.items())) for k, v in per_cloud.items()}, "findings": summary(findings)}


def worst_severity(findings: list[Finding]) -> dict[str, str]:
    """Each workload's most severe unsuppressed finding."""
    worst: dict[str, str] = {}
    for finding in findings:
        if finding.workload and not finding.suppressed:
            current = worst.get(finding.workload)
            if current is None or SEVERITIES.index(finding.severity) > SEVERITIES.index(current):
                worst[finding.workload] = finding.severity
    return worst


def workload_windows(model: Model) -> dict[str, list[dict]]:
    """Each workload's time windows, its own, each identity's (within it) and each grant's (within it,
    closed ones too), and where the model's moment is in each; workloads without windows left out."""
    found = {}
    for name, workload in sorted(model.workloads.items()):
        rows = [("workload", workload.window)] if workload.window else []
        rows += [(f"identity #{i.index + 1}", i.window) for i in workload.identities if i.window]
        rows += [(f"grant {g.cloud} {g.target}", windows.narrowest(workload.window, g.window))
                 for g in sorted(workload.grants + workload.closed, key=lambda g: (g.cloud, g.target))
                 if workload.window or g.window]
        if rows:
            found[name] = [{"block": block, "window": windows.described(window), **windows.as_json(window),
                            "state": windows.state(window, model.at)} for block, window in rows]
    return found


def report_data(access: AccessGraph, findings: list[Finding], rules: dict[str, Rule], meta: dict,
                reviews: dict[str, str] | None = None, windows_of: dict[str, list[dict]] | None = None) -> dict:
    """Everything the page shows, as plain JSON: nodes with their attributes (workloads with their
    windows_of), edges as index pairs, findings and counts; `reviews`, each workload's review status,
    when the spec sets one."""
    worst = worst_severity(findings)
    windows_of = windows_of or {}
    index = {node: i for i, node in enumerate(access.graph.nodes)}
    nodes = []
    for node, data in access.graph.nodes(data=True):
        item = {"id": node, **data}
        if data["type"] == "workload" and data["label"] in worst:
            item["severity"] = worst[data["label"]]
        if data["type"] == "workload" and data["label"] in (reviews or {}):
            item["review"] = reviews[data["label"]]
        if data["type"] == "workload" and data["label"] in windows_of:
            item["windows"] = windows_of[data["label"]]
        nodes.append(item)
    edges = []
    for source, target, relation, data in access.graph.edges(keys=True, data=True):
        extra = {k: v for k, v in data.items() if k != "relation"}
        edges.append([index[source], index[target], relation, *([extra] if extra else [])])
    return {"meta": meta, "summary": counts(access, findings), "fold_above": FOLD_ABOVE,
            "fold_targets_above": FOLD_TARGETS_ABOVE, "severities": list(SEVERITIES),
            "nodes": nodes, "edges": edges,
            "findings": [finding_json(f, rules[f.rule]) for f in findings]}


def pack(data: dict) -> str:
    """The data as base64 of gzip (a tenth of the JSON's size; the page inflates it with the
    browser's DecompressionStream). Base64 holds no character HTML could read as markup, and a
    zero gzip mtime keeps the page byte-identical across runs."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return base64.b64encode(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)).decode("ascii")


def unpack(packed: str) -> dict:
    return json.loads(gzip.decompress(base64.b64decode(packed)))


def _inline_script(source: str) -> str:
    return source.replace("</script", "<\\/script")


def render(data: dict) -> bytes:
    """The HTML page, with its assets and data inlined."""
    template = (ASSETS / "report.html").read_text(encoding="utf-8")
    library = (ASSETS / "vendor" / "cytoscape.min.js").read_text(encoding="utf-8")
    parts = {
        "{{TITLE}}": f"wiam access report: {_html_text(data['meta']['spec'])}",
        "{{STYLE}}": (ASSETS / "report.css").read_text(encoding="utf-8"),
        "{{LIBRARY}}": _inline_script(library),
        "{{DATA}}": pack(data),
        "{{APP}}": _inline_script((ASSETS / "report.js").read_text(encoding="utf-8")),
    }
    # One pass over the template: text already inlined is never searched for placeholders again.
    page = re.sub(r"\{\{[A-Z]+\}\}", lambda match: parts[match[0]], template)
    return page.encode("utf-8")


def _html_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
