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
from typing import Callable

from .. import windows
from ..analysis import SEVERITIES, Finding, Rule
from ..analysis.output import finding_json, summary
from ..access import AccessGraph
from ..diagnostics import printable
from ..model import Model
from ..record import commit_log
from ..review import access_text
from ..store import Store

ASSETS = Path(__file__).resolve().parent / "assets"
# Above this many nodes the graph opens folded: workloads by owner, principals into their target,
# and above this many targets, targets into their cloud.
FOLD_ABOVE = 400
FOLD_TARGETS_ABOVE = 40
# The record's timeline: the newest commits shown, the tuples listed per commit and side, the intervals per
# workload, and the characters of a commit message (a crafted one may be megabytes).
TIMELINE_COMMITS, TIMELINE_ACCESS, TIMELINE_INTERVALS, TIMELINE_MESSAGE = 200, 50, 100, 2000


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


def _name_at(names: list[tuple[int, str]], seq: int) -> str:
    """A lineage's name at a commit: the last it was given by then (names as (began, name), in order)."""
    return [name for began, name in names if began <= seq][-1]


def shown_message(message: str) -> str:
    """A commit message as the page shows it: its lines kept, every other character a browser would
    not show as itself escaped (a bidi override reorders the text around it), and cut short."""
    return "\n".join(printable(line) for line in message[:TIMELINE_MESSAGE].split("\n"))


def record_timeline(store: Store, spec: int, head: str, behind: str | None) -> dict:
    """The record for the page: its newest TIMELINE_COMMITS commits, newest first, each with the
    tuples it began and ended (TIMELINE_ACCESS of each shown), how many earlier commits there are,
    and per workload lineage (under its latest name) its intervals by commit seq (TIMELINE_INTERVALS
    shown). Every list is in a fixed order: the same record gives the same page."""
    names: dict[int, list[tuple[int, str]]] = {}
    for lineage, began, name in store.rows("SELECT lineage, began, name FROM workloads WHERE spec = ? "
                                           "ORDER BY lineage, began, id", (spec,)):
        names.setdefault(lineage, []).append((began, name))
    rows = store.rows(
        "SELECT t.lineage, t.subject, t.cloud, t.target, t.permission, t.resource, t.indirect, i.conditions, i.began, "
        "i.ended, b.date, e.date FROM intervals i JOIN tuples t ON t.spec = i.spec AND t.id = i.tuple "
        "JOIN commits b ON b.spec = i.spec AND b.seq = i.began LEFT JOIN commits e ON e.spec = i.spec AND e.seq = i.ended "
        "WHERE i.spec = ? ORDER BY t.lineage, i.began, i.id", (spec,))
    log = commit_log(store, spec)
    shown = log[::-1][:TIMELINE_COMMITS]
    events: dict[tuple[str, int], list[str]] = {}
    intervals: dict[int, list[dict]] = {}
    for lineage, *tuple_, began, ended, since, until in rows:
        text = access_text(*tuple_)
        events.setdefault(("began", began), []).append(f"{_name_at(names[lineage], began)}: {text}")
        if ended is not None:
            events.setdefault(("ended", ended), []).append(f"{_name_at(names[lineage], ended - 1)}: {text}")
        intervals.setdefault(lineage, []).append({"access": text, "began": began, "ended": ended, "from": since,
                                                  "until": until})
    commits = []
    for row in shown:
        began, ended = (sorted(events.get((kind, row["seq"]), [])) for kind in ("began", "ended"))
        commits.append({"seq": row["seq"], "sha": row["sha"], "date": row["date"], "author": printable(row["author"]),
                        "message": shown_message(row["message"]), "findings": row["findings"],
                        "classification": row["classification"] if row["valid"] else "invalid",
                        "began": began[:TIMELINE_ACCESS], "ended": ended[:TIMELINE_ACCESS],
                        "began_more": max(0, len(began) - TIMELINE_ACCESS), "ended_more": max(0, len(ended) - TIMELINE_ACCESS)})
    workloads = [{"name": names[lineage][-1][1], "names": [name for _, name in names[lineage]],
                  "intervals": found[:TIMELINE_INTERVALS], "more": max(0, len(found) - TIMELINE_INTERVALS)}
                 for lineage, found in intervals.items()]
    return {"head": head, "behind": behind, "last_seq": log[-1]["seq"] if log else 0, "commits": commits,
            "earlier": len(log) - len(shown),
            "workloads": sorted(workloads, key=lambda w: (w["name"], w["names"]))}


def report_data(access: AccessGraph, findings: list[Finding], rules: dict[str, Rule], meta: dict,
                reviews: dict[str, str] | None = None, windows_of: dict[str, list[dict]] | None = None,
                record: dict | str | None = None, named: Callable[[str], str] = str) -> dict:
    """Everything the page shows, as plain JSON: nodes with their attributes (workloads with their
    windows_of), edges as index pairs, findings and counts; `reviews`, each workload's review status,
    when the spec sets one; `record`, the record's timeline (record_timeline), or why there is none;
    `named`, how the places name a file (with --rev: in the revision, not its temporary copy)."""
    worst = worst_severity(findings)
    windows_of = windows_of or {}
    index = {node: i for i, node in enumerate(access.graph.nodes)}
    nodes = []
    for node, data in access.graph.nodes(data=True):
        item = {"id": node, **data, **({"file": named(data["file"])} if "file" in data else {})}
        if data["type"] == "workload" and data["label"] in worst:
            item["severity"] = worst[data["label"]]
        if data["type"] == "workload" and data["label"] in (reviews or {}):
            item["review"] = reviews[data["label"]]
        if data["type"] == "workload" and data["label"] in windows_of:
            item["windows"] = windows_of[data["label"]]
        nodes.append(item)
    edges = []
    for source, target, relation, data in access.graph.edges(keys=True, data=True):
        extra = {k: named(v) if k == "file" else v for k, v in data.items() if k != "relation"}
        edges.append([index[source], index[target], relation, *([extra] if extra else [])])
    return {"meta": meta, "summary": counts(access, findings), "fold_above": FOLD_ABOVE,
            "fold_targets_above": FOLD_TARGETS_ABOVE, "severities": list(SEVERITIES),
            "nodes": nodes, "edges": edges,
            "findings": [finding_json(f, rules[f.rule]) for f in findings],
            "record": record if isinstance(record, dict) else {"why": record or "no record was read"}}


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
