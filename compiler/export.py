"""The access graph in the formats auditors' tools read: node-link JSON, GraphML, GEXF, DOT,
Mermaid, a Cypher script and a CSV pair for Neo4j. Every format carries the same nodes, edges
and attributes; lists and maps become JSON text, since GraphML, GEXF and Neo4j take scalars only."""

from __future__ import annotations

import csv
import io
import json
import re

import networkx as nx

CYPHER_BATCH = 500
LABELS = {"issuer": "Issuer", "subject": "Subject", "workload": "Workload", "target": "Target",
          "principal": "Principal", "grant": "Grant", "action": "Action", "role": "Role", "resource": "Resource"}


def _scalar(value):
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return value


def _same(text: str) -> str:
    return text


def flatten(graph: nx.MultiDiGraph, clean=_same) -> nx.MultiDiGraph:
    """A copy whose attribute values are all strings, numbers or booleans; `clean` rewrites every
    string (node IDs, edge keys, attribute names and values) for a format that cannot hold some text."""
    def value(v):
        v = _scalar(v)
        return clean(v) if isinstance(v, str) else v

    flat = nx.MultiDiGraph()
    for node, data in graph.nodes(data=True):
        flat.add_node(clean(node), **{clean(k): value(v) for k, v in data.items() if v is not None})
    for source, target, key, data in graph.edges(keys=True, data=True):
        flat.add_edge(clean(source), clean(target), key=clean(key),
                      **{clean(k): value(v) for k, v in data.items() if v is not None})
    return flat


_LINE_SEPARATORS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\x85": "\\u0085"})


def _json_line(value) -> str:
    """JSON text on one line for line-based readers (JSON leaves U+2028, U+2029 and NEL raw)."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False).translate(_LINE_SEPARATORS)


def to_json(graph: nx.MultiDiGraph) -> bytes:
    data = nx.node_link_data(flatten(graph), edges="edges")
    return (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>'
_NOT_XML = re.compile("[\x00-\x08\x0b-\x1f\ufffe\uffff]")  # and CR, which XML readers turn into LF


def xml_text(text: str) -> str:
    """XML 1.0 cannot hold these characters at all, not even as references: each is written as the
    text \\uXXXX, so that the document stays well-formed for every XML reader."""
    return _NOT_XML.sub(lambda found: f"\\u{ord(found[0]):04x}", text)


def to_graphml(graph: nx.MultiDiGraph) -> bytes:
    lines = nx.generate_graphml(flatten(graph, xml_text), encoding="utf-8", prettyprint=True)
    return "\n".join([XML_DECLARATION, *lines]).encode() + b"\n"


def to_gexf(graph: nx.MultiDiGraph) -> bytes:
    lines = nx.generate_gexf(flatten(graph, xml_text), encoding="utf-8", prettyprint=True)
    return "\n".join([XML_DECLARATION, *lines]).encode() + b"\n"


def _dot_string(text) -> str:
    # A JSON string literal is a DOT quoted string too, with control characters escaped (a raw NUL
    # would cut Graphviz's C strings short).
    return json.dumps(str(text), ensure_ascii=False)


def _dot_attributes(data: dict) -> str:
    return ", ".join(f"{_dot_string(k)}={_dot_string(v)}" for k, v in sorted(data.items()))


def to_dot(graph: nx.MultiDiGraph) -> bytes:
    lines = ["digraph wiam {", "  rankdir=LR;", "  node [shape=box];"]
    for node, data in flatten(graph).nodes(data=True):
        lines.append(f"  {_dot_string(node)} [{_dot_attributes(data)}];")
    for source, target, key, data in flatten(graph).edges(keys=True, data=True):
        lines.append(f"  {_dot_string(source)} -> {_dot_string(target)} [key={_dot_string(key)}, "
                     f"{_dot_attributes({**data, 'label': data['relation']})}];")
    return ("\n".join(lines) + "\n}\n").encode()


def _mermaid_text(text: str) -> str:
    # Mermaid labels are quoted; quotes, the characters Mermaid reads as markup and control
    # characters (a line break would end the statement) become entities.
    return "".join({'"': "#quot;", "#": "#35;", "<": "#lt;", ">": "#gt;"}.get(c) or (
        f"#{ord(c)};" if ord(c) < 0x20 or ord(c) == 0x7f or c in "\u2028\u2029\x85" else c) for c in text)


def to_mermaid(graph: nx.MultiDiGraph) -> bytes:
    """A flowchart for viewing; each node's and edge's attributes ride along as `%%` comments."""
    flat = flatten(graph)
    ids = {node: f"n{index}" for index, node in enumerate(flat.nodes)}
    lines = ["flowchart LR"]
    for node, data in flat.nodes(data=True):
        lines.append(f'  {ids[node]}["{_mermaid_text(data["label"])}"]:::{data["type"]}')
        lines.append(f"  %% node {ids[node]} {_json_line({'id': node, **data})}")
    for source, target, key, data in flat.edges(keys=True, data=True):
        lines.append(f"  {ids[source]} -->|{_mermaid_text(data['relation'])}| {ids[target]}")
        lines.append(f"  %% edge {ids[source]} {ids[target]} "
                     f"{_json_line({'key': key, **data})}")
    for node_type in sorted({data["type"] for _, data in flat.nodes(data=True)}):
        lines.append(f"  classDef {node_type} stroke-width:1px")
    return ("\n".join(lines) + "\n").encode()


def _cypher_value(value) -> str:
    # Maps with backticked keys; JSON string, number and boolean literals are valid Cypher literals.
    if isinstance(value, dict):
        return "{" + ", ".join(f"`{k.replace('`', '``')}`: {_cypher_value(v)}" for k, v in sorted(value.items())) + "}"
    return _json_line(value)


def to_cypher(graph: nx.MultiDiGraph) -> bytes:
    """A script for cypher-shell (`cypher-shell -f graph.cypher`): idempotent MERGEs in batches."""
    flat = flatten(graph)
    lines = [f"// wiam access graph: {flat.number_of_nodes()} nodes, {flat.number_of_edges()} relationships",
             "CREATE CONSTRAINT wiam_node_id IF NOT EXISTS FOR (n:WiamNode) REQUIRE n.id IS UNIQUE;"]
    by_label: dict[str, list[str]] = {}
    for node, data in flat.nodes(data=True):
        by_label.setdefault(LABELS[data["type"]], []).append(_cypher_value({"id": node, "props": data}))
    for label, rows in sorted(by_label.items()):
        for start in range(0, len(rows), CYPHER_BATCH):
            lines.append("UNWIND [" + ", ".join(rows[start:start + CYPHER_BATCH]) + "] AS row "
                         f"MERGE (n:WiamNode {{id: row.id}}) SET n:{label}, n += row.props;")
    by_type: dict[str, list[str]] = {}
    for source, target, key, data in flat.edges(keys=True, data=True):
        by_type.setdefault(data["relation"].upper(), []).append(
            _cypher_value({"source": source, "target": target, "props": data}))
    for rel_type, rows in sorted(by_type.items()):
        for start in range(0, len(rows), CYPHER_BATCH):
            lines.append("UNWIND [" + ", ".join(rows[start:start + CYPHER_BATCH]) + "] AS row "
                         "MATCH (a:WiamNode {id: row.source}), (b:WiamNode {id: row.target}) "
                         f"MERGE (a)-[r:{rel_type}]->(b) SET r += row.props;")
    return ("\n".join(lines) + "\n").encode()


def _column_type(values) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return ":boolean"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return ":long"
    return ""


def _csv(header: list[str], rows: list[list]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # RFC 4180 rows end in CRLF; then a field holding a CR is quoted too
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else str(v).lower() if isinstance(v, bool) else v for v in row])
    return buffer.getvalue().encode()


def to_csv(graph: nx.MultiDiGraph) -> dict[str, bytes]:
    """nodes.csv and relationships.csv in the header format of `neo4j-admin database import`."""
    flat = flatten(graph)
    nodes = list(flat.nodes(data=True))
    node_keys = sorted({k for _, data in nodes for k in data})
    node_header = ["id:ID", ":LABEL"] + [k + _column_type([d.get(k) for _, d in nodes]) for k in node_keys]
    node_rows = [[node, f"WiamNode;{LABELS[data['type']]}"] + [data.get(k) for k in node_keys] for node, data in nodes]
    edges = list(flat.edges(keys=True, data=True))
    edge_keys = sorted({k for *_, data in edges for k in data})
    edge_header = [":START_ID", ":END_ID", ":TYPE"] + [k + _column_type([d.get(k) for *_, d in edges])
                                                      for k in edge_keys]
    edge_rows = [[s, t, data["relation"].upper()] + [data.get(k) for k in edge_keys] for s, t, _, data in edges]
    return {"nodes.csv": _csv(node_header, node_rows), "relationships.csv": _csv(edge_header, edge_rows)}
