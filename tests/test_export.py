"""Every graph export reads back to the same nodes, edges and attributes."""

import csv
import io
import json
import re

import networkx as nx
import pytest

from chains import CHAINS_HCL
from wiam import export
from wiam.compile import load_model
from wiam.graph import build_graph
from support.paths import EXAMPLES



@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    folder = tmp_path_factory.mktemp("export")
    # Strings that break naive writers: quotes, backslashes, template syntax, non-ASCII, '<', '#', '`'.
    tricky = ('workload "tricky" {\n  description = "says \\"hi\\" \\\\ $${x} <b> #1 `x` café\\r\\n\\t"\n'
              '  identity {\n    issuer = "eks"\n    namespace = "odd"\n    service_account = "sa"\n  }\n'
              '  grant "aws" "prod" {\n    actions = ["s3:GetObject"]\n    resources = ["arn:aws:s3:::b/\\"q\\"*"]\n  }\n}\n')
    (folder / "main.wiam.hcl").write_text(CHAINS_HCL + tricky, encoding="utf-8")
    graph = build_graph(load_model(str(folder))).graph
    for _, data in graph.nodes(data=True):  # a control character, which validation keeps out of specs
        if "café" in data.get("description", ""):
            data["description"] += "\u0001"
    assert any("\u0001" in data.get("description", "") for _, data in graph.nodes(data=True))
    return graph


def _expected(graph, clean=lambda text: text):
    flat = export.flatten(graph, clean)
    nodes = {n: dict(d) for n, d in flat.nodes(data=True)}
    edges = {(u, v, k): dict(d) for u, v, k, d in flat.edges(keys=True, data=True)}
    return nodes, edges


def _as_read(graph):
    nodes = {str(n): dict(d) for n, d in graph.nodes(data=True)}
    edges = {(str(u), str(v), str(k)): dict(d) for u, v, k, d in graph.edges(keys=True, data=True)}
    return nodes, edges


def test_json_round_trip(graph):
    back = nx.node_link_graph(json.loads(export.to_json(graph)), edges="edges")
    assert _as_read(back) == _expected(graph)


def test_graphml_round_trip(graph):
    back = nx.read_graphml(io.BytesIO(export.to_graphml(graph)), force_multigraph=True)
    assert _as_read(back) == _expected(graph, export.xml_text)


def test_gexf_round_trip(graph):
    back = nx.read_gexf(io.BytesIO(export.to_gexf(graph)))
    expected_nodes, expected_edges = _expected(graph, export.xml_text)
    assert {str(n): dict(d) for n, d in back.nodes(data=True)} == expected_nodes
    # GEXF numbers its edges; the key is the relation, which every edge carries as an attribute.
    edges = {}
    for u, v, data in back.edges(data=True):
        data = {k: val for k, val in data.items() if k not in ("id", "key")}
        edges[(u, v, data["relation"])] = data
    assert edges == expected_edges


def test_dot_round_trip(graph):
    pydot = pytest.importorskip("pydot")
    [parsed] = pydot.graph_from_dot_data(export.to_dot(graph).decode())
    expected_nodes, expected_edges = _expected(graph)

    def unquote(text):
        return json.loads(text) if text.startswith('"') else text

    nodes = {unquote(n.get_name()): {unquote(k): unquote(v) for k, v in n.get_attributes().items()}
             for n in parsed.get_nodes() if unquote(n.get_name()) not in ("node", "graph", "edge")}
    assert set(nodes) == set(expected_nodes)
    for node, data in expected_nodes.items():
        assert nodes[node] == {k: str(v) for k, v in data.items()}
    edges = {}
    for edge in parsed.get_edges():
        attributes = {unquote(k): unquote(v) for k, v in edge.get_attributes().items()}
        key = attributes.pop("key")
        attributes.pop("label")
        edges[(unquote(edge.get_source()), unquote(edge.get_destination()), key)] = attributes
    assert edges == {e: {k: str(v) for k, v in d.items()} for e, d in expected_edges.items()}


def test_mermaid_carries_every_node_and_edge(graph):
    text = export.to_mermaid(graph).decode()
    assert text.startswith("flowchart LR\n")
    nodes = {}
    ids = {}
    for short, payload in re.findall(r"^  %% node (n\d+) (.*)$", text, re.M):
        data = json.loads(payload)
        ids[short] = data.pop("id")
        nodes[ids[short]] = data
    edges = {}
    for source, target, payload in re.findall(r"^  %% edge (n\d+) (n\d+) (.*)$", text, re.M):
        data = json.loads(payload)
        edges[(ids[source], ids[target], data.pop("key"))] = data
    assert (nodes, edges) == _expected(graph)
    shapes = re.findall(r'^  (n\d+)\["([^"]*)"\]:::(\w+)$', text, re.M)
    assert len(shapes) == len(nodes)  # labels hold no raw quote that would end them early
    assert len(re.findall(r"^  n\d+ -->\|\w+\| n\d+$", text, re.M)) == len(edges)


def _cypher_literal(text: str):
    # The script writes maps with backticked keys and JSON literals; turn keys into JSON strings
    # (a backtick inside a string literal is text).
    return json.loads(re.sub(r'"(?:[^"\\]|\\.)*"|`((?:[^`]|``)*)`:', lambda m: m.group(0) if m.group(1) is None
                             else json.dumps(m.group(1).replace("``", "`")) + ":", text))


def test_cypher_script_recreates_the_graph(graph):
    """No Neo4j server installs from the package registries here (not on PyPI, Debian or npm), so the
    script is parsed: every statement has the shape cypher-shell runs, and its rows rebuild the graph."""
    lines = export.to_cypher(graph).decode().splitlines()
    assert lines[0].startswith("// wiam access graph")
    assert lines[1] == "CREATE CONSTRAINT wiam_node_id IF NOT EXISTS FOR (n:WiamNode) REQUIRE n.id IS UNIQUE;"
    node_stmt = re.compile(r"^UNWIND (\[.*\]) AS row MERGE \(n:WiamNode \{id: row\.id\}\) SET n:(\w+), n \+= row\.props;$")
    edge_stmt = re.compile(r"^UNWIND (\[.*\]) AS row MATCH \(a:WiamNode \{id: row\.source\}\), "
                           r"\(b:WiamNode \{id: row\.target\}\) MERGE \(a\)-\[r:(\w+)\]->\(b\) SET r \+= row\.props;$")
    nodes, edges = {}, {}
    for line in lines[2:]:
        if match := node_stmt.match(line):
            for row in _cypher_literal(match.group(1)):
                assert export.LABELS[row["props"]["type"]] == match.group(2)
                nodes[row["id"]] = row["props"]
        else:
            match = edge_stmt.match(line)
            assert match, line[:200]
            for row in _cypher_literal(match.group(1)):
                assert row["props"]["relation"].upper() == match.group(2)
                edges[(row["source"], row["target"], row["props"]["relation"])] = row["props"]
    assert (nodes, edges) == _expected(graph)


def test_csv_pair_for_neo4j_admin_import(graph):
    files = export.to_csv(graph)
    node_rows = list(csv.reader(io.StringIO(files["nodes.csv"].decode())))
    edge_rows = list(csv.reader(io.StringIO(files["relationships.csv"].decode())))
    expected_nodes, expected_edges = _expected(graph)
    assert node_rows[0][:2] == ["id:ID", ":LABEL"] and edge_rows[0][:3] == [":START_ID", ":END_ID", ":TYPE"]
    assert "line:long" in node_rows[0]
    names = [h.split(":")[0] for h in node_rows[0][2:]]
    nodes = {row[0]: {k: v for k, v in zip(names, row[2:]) if v != ""} for row in node_rows[1:]}
    assert nodes == {n: {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in d.items()}
                     for n, d in expected_nodes.items()}
    assert len(edge_rows) - 1 == len(expected_edges)


def test_exports_are_deterministic():
    first = build_graph(load_model(str(EXAMPLES / "multi-cloud"))).graph
    second = build_graph(load_model(str(EXAMPLES / "multi-cloud"))).graph
    for fmt in ("json", "graphml", "gexf", "dot", "mermaid", "cypher"):
        assert getattr(export, f"to_{fmt}")(first) == getattr(export, f"to_{fmt}")(second), fmt
