"""`wiam report`: the self-contained HTML page, checked as a file and in headless Chromium (Debian's
package, driven by Playwright) with the network cut off."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

from wiam.analysis import analyze, all_rules
from wiam.compile import load_model
from wiam.graph import build_graph
import wiam.report as report_module
from wiam.diagnostics import printable
from wiam.record import commit_log, spec_of
from wiam.report import FOLD_ABOVE, record_timeline, render, report_data, unpack
from wiam.store import open_store
from wiam.report.vendor import LIBRARIES, VENDOR, locked_version, sha256

from hostile_corpus import COMMIT_TEXT
from support.cli import run_wiam
from support.git import git
from support.paths import EXAMPLE_SPECS, EXAMPLES, ROOT
from test_history import History

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
HOSTILE = "</script><script>window.pwned=1</script><img src=x onerror=window.pwned=2> ${var.x} %{ if }"


def make_report(folder, out: Path, **env) -> Path:
    result = run_wiam("report", str(folder), "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    return out


def embedded(page_bytes: bytes) -> dict:
    packed = re.search(rb'<script type="application/octet-stream" id="wiam-data">([^<]*)</script>', page_bytes)
    return unpack(packed.group(1).decode())


def hostile_spec(tmp_path: Path) -> Path:
    folder = tmp_path / "hostile"
    shutil.copytree(EXAMPLES / "multi-cloud", folder)
    workloads = folder / "workloads.wiam.hcl"
    text = workloads.read_text()
    line = next(line for line in text.splitlines() if line.strip().startswith("description"))
    literal = HOSTILE.replace("${", "$${").replace("%{", "%%{")  # HCL's escapes for template syntax
    workloads.write_text(text.replace(line, f'  description = "{literal}"', 1))
    return folder


# ---- the file itself

def test_vendored_library_is_the_locked_one():
    versions = json.loads((VENDOR / "VERSIONS.json").read_text())
    assert set(versions) == set(LIBRARIES)
    for package, shipped in versions.items():
        assert shipped["version"] == locked_version(package)
        assert shipped["version"] == json.loads((ROOT / "package.json").read_text())["dependencies"][package]
        assert sha256(VENDOR / shipped["file"]) == shipped["sha256"], "the shipped file differs from the one vendored"
        assert f'"{shipped["version"]}"' in (VENDOR / shipped["file"]).read_text()


def test_page_is_self_contained_and_deterministic(tmp_path):
    epoch = {"SOURCE_DATE_EPOCH": "1767225600"}
    first = make_report(EXAMPLES / "multi-cloud", tmp_path / "a.html", **epoch).read_bytes()
    second = make_report(EXAMPLES / "multi-cloud", tmp_path / "b.html", **epoch).read_bytes()
    assert first == second
    html = first.decode()
    assert not re.search(r"<(script|img|iframe)[^>]*\bsrc=|<link\b", html), "nothing may load from outside the file"
    assert "default-src 'none'" in html  # and the browser is told to refuse any load that slipped in
    assert embedded(first)["meta"]["generated"] == "2026-01-01T00:00:00+00:00"


def test_data_matches_graph_and_analysis():
    model = load_model(str(EXAMPLES / "multi-cloud"))
    access = build_graph(model)
    findings = analyze(model, access)
    data = report_data(access, findings, all_rules(), {"spec": "x", "revision": {"commit": None, "why": "test"},
                                                       "generated": "now", "wiam": "0"})
    assert [n["id"] for n in data["nodes"]] == list(access.graph.nodes)
    edges = {(data["nodes"][s]["id"], data["nodes"][t]["id"], relation) for s, t, relation, *_ in data["edges"]}
    assert edges == set(access.graph.edges(keys=True))
    trust = [e[3]["trust"] for e in data["edges"] if e[2] == "federates"]
    assert trust and all(isinstance(t, dict) for t in trust)
    assert data["summary"]["workloads"] == len(model.workloads)
    assert sum(data["summary"]["principals"].values()) == len(access.nodes_of("principal"))
    assert len(data["findings"]) == len(findings)
    assert unpack(re.search(r'id="wiam-data">([^<]*)<', render(data).decode()).group(1)) == json.loads(json.dumps(data))


def test_hostile_text_stays_text_in_the_file(tmp_path):
    page = make_report(hostile_spec(tmp_path), tmp_path / "r.html").read_bytes()
    assert b"window.pwned" not in page  # only inside the packed data
    assert any(n.get("description") == HOSTILE for n in embedded(page)["nodes"])


def test_errors_and_usage(tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "main.wiam.hcl").write_text('workload "x" {\n  owner = \n}\n')
    result = run_wiam("report", str(broken), "--out", str(tmp_path / "r.html"))
    assert result.returncode == 1 and "main.wiam.hcl:" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "r.html").exists()
    assert run_wiam("report", str(EXAMPLES / "multi-cloud")).returncode == 2  # --out is required


# ---- in the browser

def _launch():
    if CHROMIUM is None:
        return None, "Debian's chromium is not installed"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None, "playwright is not installed"
    driver = sync_playwright().start()
    browser = driver.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"])
    return (driver, browser), None


@pytest.fixture(scope="module")
def browser():
    launched, why = _launch()
    if launched is None:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests must run in CI: {why} (.ci/run installs it)")
        pytest.skip(why)
    driver, chromium = launched
    yield chromium
    chromium.close()
    driver.stop()


class Page:
    """One report opened offline, with every console message, page error and request recorded."""

    def __init__(self, browser, path: Path, viewport: tuple[int, int] = (1400, 1000)):
        self.context = browser.new_context(offline=True, viewport={"width": viewport[0], "height": viewport[1]})
        self.requests, self.problems = [], []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("console", lambda m: m.type in ("error", "warning") and self.problems.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        self.page.goto(path.as_uri())
        self.page.wait_for_function("window.wiamReport !== undefined", timeout=60_000)

    def _route(self, route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            self.requests.append(route.request.url)
            route.abort()

    def js(self, expression: str):
        """Evaluate in the page, with `cy` bound to the report's cytoscape instance."""
        return self.page.evaluate(f"(() => {{ const cy = window.wiamReport.cy; return ({expression}); }})()")

    def shown(self) -> tuple[int, int]:
        return self.js("[window.wiamReport.view.nodes, window.wiamReport.view.edges]")

    def summary(self) -> dict:
        return self.js("Object.fromEntries([...document.querySelectorAll('[data-summary]')]"
                       ".map(e => [e.dataset.summary, Number(e.textContent)]))")

    def settle(self):
        self.page.wait_for_timeout(300)  # the search box waits 150 ms for typing to stop

    def close(self):
        self.context.close()


@pytest.fixture(scope="module")
def example_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("report") / "multi-cloud.html"
    return make_report(EXAMPLES / "multi-cloud", out)


@pytest.fixture
def opened(browser, example_report):
    page = Page(browser, example_report)
    yield page
    page.close()


def graph_json(folder: Path) -> nx.MultiDiGraph:
    return nx.node_link_graph(json.loads(run_wiam("graph", str(folder), "-f", "json").stdout), edges="edges")


def analysis_json(folder: Path) -> dict:
    return json.loads(run_wiam("analyze", str(folder), "-f", "json").stdout)


def test_summary_equals_the_analysis_and_the_graph(opened):
    folder = EXAMPLES / "multi-cloud"
    graph, analysis = graph_json(folder), analysis_json(folder)
    summary = opened.summary()
    for severity, count in analysis["summary"].items():
        assert summary[f"findings.{severity}"] == count
    types = [data["type"] for _, data in graph.nodes(data=True)]
    for kind in ("issuer", "subject", "workload", "target"):
        assert summary[f"{kind}s"] == types.count(kind)
    for kind in ("principal", "grant"):
        for cloud in ("aws", "gcp", "azure"):
            expected = sum(1 for _, d in graph.nodes(data=True) if d["type"] == kind and d.get("cloud") == cloud)
            assert summary[f"{kind}s.{cloud}"] == expected
    assert opened.problems == [] and opened.requests == []


def _cloud_scope(graph: nx.MultiDiGraph, cloud: str) -> set:
    """What the cloud filter should show, worked out from the exported graph: each workload with a
    principal in that cloud, its subjects and issuers, and its part of that cloud."""
    keep = set()
    for workload, data in graph.nodes(data=True):
        principals = [p for _, p, k in graph.out_edges(workload, keys=True) if k == "federates"]
        if data["type"] != "workload" or not any(graph.nodes[p]["cloud"] == cloud for p in principals):
            continue
        keep.add(workload)
        for subject, _, k in graph.in_edges(workload, keys=True):
            if k == "authenticates":
                keep |= {subject, *graph.predecessors(subject)}
        for principal in principals:
            below = {principal} | nx.descendants(graph.edge_subgraph(
                [e for e in graph.edges(keys=True) if e[2] in ("in", "holds", "allows", "on")]), principal) \
                if graph.out_degree(principal) else {principal}
            keep |= {n for n in below if graph.nodes[n].get("cloud") in (None, cloud)}
    return keep


def test_graph_draws_every_node_then_filters_and_searches(opened):
    graph = graph_json(EXAMPLES / "multi-cloud")
    assert opened.shown()[0] == graph.number_of_nodes()
    assert opened.js("cy.nodes().length") == graph.number_of_nodes()
    drawn_edges = {(e["source"], e["target"], e["relation"]) for e in opened.js("cy.edges().map(e => e.data())")}
    assert drawn_edges == set(graph.edges(keys=True))

    opened.page.select_option("#filter-cloud", "aws")
    drawn = set(opened.js("cy.nodes().map(n => n.id())"))
    assert drawn == _cloud_scope(graph, "aws")
    assert not any(graph.nodes[n].get("cloud") in ("gcp", "azure") for n in drawn)

    opened.page.click("#filters-reset")
    assert opened.shown()[0] == graph.number_of_nodes() and opened.page.input_value("#filter-cloud") == ""
    opened.page.fill("#search", "billing")
    opened.settle()
    drawn = set(opened.js("cy.nodes().map(n => n.id())"))
    assert "workload:billing-worker" in drawn and "workload:release-publisher" not in drawn
    matches = set(opened.js("cy.nodes('.match').map(n => n.id())"))
    assert matches == {n for n, d in graph.nodes(data=True) if "billing" in (n + d["label"]).lower()} & drawn
    assert opened.page.locator("#search-results button").count() == len(matches)
    assert "match" in opened.page.text_content("#graph-status")
    assert opened.problems == [] and opened.requests == []


def test_clicking_a_node_shows_its_details_and_paths(opened):
    box = opened.page.locator("#cy").bounding_box()
    position = opened.js("cy.getElementById('workload:billing-worker').renderedPosition()")
    opened.page.mouse.click(box["x"] + position["x"], box["y"] + position["y"])
    details = opened.page.locator("#details")
    assert details.locator("h3").text_content() == "billing-worker"
    text = details.text_content()
    assert "team-billing" in text and "Reached from" in text and "Reaches" in text
    line = next(n for n, t in enumerate((EXAMPLES / "multi-cloud" / "workloads.wiam.hcl").read_text().splitlines(), 1)
                if t.startswith('workload "billing-worker"'))
    assert f"defined at{EXAMPLES / 'multi-cloud' / 'workloads.wiam.hcl'}:{line}:1" in text
    assert "eks-prod -issues-> system:serviceaccount:billing:billing-worker -authenticates-> billing-worker" in text
    ARTIFACTS.mkdir(exist_ok=True)
    opened.page.screenshot(path=str(ARTIFACTS / "report-multi-cloud.png"))
    assert (ARTIFACTS / "report-multi-cloud.png").stat().st_size > 10_000
    assert opened.problems == []


def test_indirect_edges_are_distinct_dashed_lines_with_a_legend(browser, tmp_path):
    page = Page(browser, make_report(EXAMPLES / "cross-cloud-chain", tmp_path / "chain.html"))
    try:
        assert page.js("cy.edges(\"[relation = 'chains_to']\").length") > 0 and page.problems == []
        look = page.js("""Object.fromEntries(['chains_to', 'can_act_as', 'authenticates'].map((r) => {
          const e = cy.edges(`[relation = '${r}']`).first();
          return [r, e.length ? [e.style('line-style'), e.style('line-color'), e.style('line-dash-pattern')] : null];
        }))""")
        assert look["chains_to"][0] == "dashed" and look["authenticates"][0] == "solid"
        assert look["chains_to"][1] != look["authenticates"][1]
        assert look["can_act_as"] is None or look["can_act_as"][1:] != look["chains_to"][1:]
        # each entry's swatch is drawn as its edges are: the colour as the browser computes it, the dashes
        legend = page.js("""[...document.querySelectorAll('#graph-legend li')].map((li) => {
          const line = li.querySelector('line');
          return [li.textContent.split(':')[0], getComputedStyle(line).stroke, line.getAttribute('stroke-dasharray')];
        })""")
        assert [name for name, *_ in legend] == ["can act as", "chains to"]
        _, colour, dashes = legend[1]
        assert colour.replace(" ", "") == look["chains_to"][1].replace(" ", "")
        assert dashes.split() == [p.removesuffix("px") for p in look["chains_to"][2].split()]
    finally:
        page.close()


def test_findings_table_sorts_filters_and_links_to_workloads(opened):
    analysis = analysis_json(EXAMPLES / "multi-cloud")
    shown = [f for f in analysis["findings"] if not f["suppressed"]]
    rows = opened.page.locator("#findings-table tbody tr")
    assert rows.count() == len(shown)
    opened.page.click("#findings-table th button[data-key=place]")
    places = rows.locator("td:nth-child(5)").all_text_contents()
    def by_place(place):
        file, line, column = place.rsplit(":", 2)
        return file, int(line), int(column)
    assert places == sorted(places, key=by_place) and opened.page.get_attribute("#findings-table th:nth-child(5)", "aria-sort") == "ascending"
    opened.page.fill("#findings-filter", "WIAM007")
    assert rows.count() == sum(1 for f in shown if f["rule"] == "WIAM007")

    opened.page.fill("#findings-filter", "")
    finding = next(f for f in shown if f["workload"])
    opened.page.locator("#findings-table tbody a", has_text=finding["workload"]).first.click()
    opened.page.wait_for_selector(f"#workload-{finding['workload']}[open]")  # opened by the link's click handler
    workload = opened.page.locator(f"#workload-{finding['workload']}")
    text = workload.text_content()
    assert finding["message"] in text
    graph = graph_json(EXAMPLES / "multi-cloud")
    for _, principal, data in graph.out_edges(f"workload:{finding['workload']}", data=True):
        deployed = json.dumps(json.loads(data["trust"]), indent=2)  # the trust exactly as compiled
        assert deployed in workload.locator("pre").all_text_contents()
        assert graph.nodes[principal]["label"] in text
    assert opened.problems == []


def test_keyboard_reaches_search_results_and_details(opened):
    opened.page.focus("#search")
    opened.page.keyboard.type("release-publisher")
    opened.settle()
    opened.page.keyboard.press("Tab")
    focused = opened.js("document.activeElement.textContent")
    assert focused.startswith(("workload: release-publisher", "principal:", "grant:", "subject:"))
    opened.page.keyboard.press("Enter")
    assert opened.js("document.activeElement.id") == "details"
    assert opened.page.locator("#details h3").text_content() in focused


def _contrast(foreground: str, background: str) -> float:
    def luminance(colour):
        channels = [int(c) / 255 for c in re.findall(r"\d+", colour)[:3]]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    lighter, darker = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def test_text_contrast_is_readable(opened):
    pairs = opened.js("""[...document.querySelectorAll('.badge, body, .hint, a, th button, .card .name')].map(e => {
        let bg = e, colour = getComputedStyle(e).backgroundColor;
        while (colour === 'rgba(0, 0, 0, 0)' && bg.parentElement) { bg = bg.parentElement; colour = getComputedStyle(bg).backgroundColor; }
        return [e.className || e.tagName, getComputedStyle(e).color, colour === 'rgba(0, 0, 0, 0)' ? 'rgb(255, 255, 255)' : colour];
    })""")
    assert len(pairs) > 5
    for name, foreground, background in pairs:
        assert _contrast(foreground, background) >= 4.5, (name, foreground, background)


def test_hostile_text_is_shown_as_text(browser, tmp_path):
    page = Page(browser, make_report(hostile_spec(tmp_path), tmp_path / "r.html"))
    assert page.js("window.pwned === undefined")
    page.js("location.hash = '#workload-release-publisher'")
    page.page.wait_for_selector("#workload-release-publisher[open]")
    assert HOSTILE in page.page.locator("#workload-release-publisher").text_content()
    assert page.js("window.pwned === undefined") and page.problems == [] and page.requests == []
    page.close()


def test_large_organisation_opens_folded_and_expands(browser, tmp_path):
    spec = tmp_path / "org"
    subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), "--workloads", "1000", "--format", "hcl",
                    "--out", str(spec)], check=True, capture_output=True)
    page = Page(browser, make_report(spec, tmp_path / "r.html"))
    graph = graph_json(spec)
    folded_nodes, _ = page.shown()
    assert page.js("window.wiamReport.view.folded") and folded_nodes <= FOLD_ABOVE < graph.number_of_nodes()
    owners = {d.get("owner") or "(no owner)" for _, d in graph.nodes(data=True) if d["type"] == "workload"}
    workloads = [n for n, d in graph.nodes(data=True) if d["type"] == "workload"]
    groups = page.js("cy.nodes('[type = \"group\"]').map(n => n.data())")
    assert {g["name"] for g in groups if g["kind"] == "owner"} == owners
    assert sum(g["members"] for g in groups if g["kind"] == "owner") == len(workloads)
    owner = sorted(owners)[0]
    members = sorted(n for n, d in graph.nodes(data=True) if d["type"] == "workload" and d.get("owner") == owner)
    page.js(f"window.wiamReport.toggle('group:owner:{owner}')")
    drawn = set(page.js("cy.nodes().map(n => n.id())"))
    assert set(members) <= drawn and f"group:owner:{owner}" not in drawn
    principals = {p for w in members for _, p, k in graph.out_edges(w, keys=True) if k == "federates"}
    assert principals <= drawn
    assert page.problems == [] and page.requests == []
    page.close()
    folded = Page(browser, tmp_path / "r.html")  # opened afresh: the folded first view reads too
    assert_first_view_readable(folded, "large-organisation-folded")
    folded.close()


# ---- the first view: labels readable at the initial zoom, and a graph that fills the pane

READABLE_PX = 11  # the smallest label text on screen, in CSS pixels
FILL = 0.6  # the least share of the pane's width and of its height the graph covers
VIEWPORTS = {"wide": (1400, 1000), "tall": (820, 1180)}  # the tall one stacks the details under the graph
TWO_WORKLOADS = """
issuer:
  gitlab: { kind: gitlab_ci }
target:
  gcp:
    prod: { project_id: acme-prod, project_number: "123456789012" }
workload:
  deployer:
    owner: team-platform
    identity:
      - { issuer: gitlab, project_path: acme/platform/deployer, ref_type: branch, ref: main }
    grant:
      gcp:
        prod: { roles: ["roles/run.developer"] }
  loader:
    owner: team-data
    identity:
      - { issuer: gitlab, project_path: acme/data/etl, ref_type: tag, ref: v2.4.0 }
    grant:
      gcp:
        prod: { roles: ["roles/bigquery.dataEditor"], resource: projects/acme-prod/datasets/warehouse }
"""


def first_view(page: Page) -> dict:
    """What the graph pane shows before any interaction, read from cytoscape: the smallest label
    size on screen, the pane, the graph's rendered box, and the pairs of node labels that overlap."""
    return page.js("""(() => {
      const zoom = cy.zoom(), box = cy.elements().renderedBoundingBox();
      const labels = cy.nodes().map((n) => [n.id(), n.renderedBoundingBox({ includeNodes: false, includeLabels: true })]);
      const overlaps = [];
      labels.forEach(([a, p], i) => labels.slice(i + 1).forEach(([b, q]) => {
        if (Math.min(p.x2, q.x2) - Math.max(p.x1, q.x1) > 1 && Math.min(p.y2, q.y2) - Math.max(p.y1, q.y1) > 1) overlaps.push([a, b]);
      }));
      return { label_px: Math.min(...cy.nodes().map((n) => parseFloat(n.style("font-size")) * zoom)),
               pane: [cy.width(), cy.height()], box: [box.x1, box.y1, box.x2, box.y2], overlaps };
    })()""")


def assert_first_view_readable(page: Page, name: str) -> dict:
    ARTIFACTS.mkdir(exist_ok=True)
    page.page.locator("#cy").screenshot(path=str(ARTIFACTS / f"report-first-view-{name}.png"))
    view = first_view(page)
    (width, height), (x1, y1, x2, y2) = view["pane"], view["box"]
    shown = ((min(x2, width) - max(x1, 0)) / width, (min(y2, height) - max(y1, 0)) / height)
    assert view["label_px"] >= READABLE_PX, f"{name}: labels are {view['label_px']:.1f} px on screen"
    assert min(shown) >= FILL, f"{name}: the graph covers {shown[0]:.0%} of the pane's width and {shown[1]:.0%} of its height"
    assert view["overlaps"] == [], f"{name}: labels overlap"
    assert page.problems == [] and page.requests == []
    return view


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_first_view_of_two_workloads_is_readable_and_fills_the_pane(browser, tmp_path, viewport):
    spec = tmp_path / "two"
    spec.mkdir()
    (spec / "spec.wiam.yaml").write_text(TWO_WORKLOADS)
    page = Page(browser, make_report(spec, tmp_path / "r.html"), VIEWPORTS[viewport])
    view = assert_first_view_readable(page, f"two-workloads-{viewport}")
    x1, y1, x2, y2 = view["box"]
    assert 0 <= x1 and x2 <= view["pane"][0] and 0 <= y1 and y2 <= view["pane"][1]  # small enough to show whole
    page.close()


ISSUERS_ON_SCREEN = ("cy.nodes('[type = \"issuer\"]').map((n) => { const p = n.renderedPosition();"
                     " return p.x >= 0 && p.y >= 0 && p.x <= cy.width() && p.y <= cy.height(); })")


@pytest.mark.parametrize("example", [p.name for p in EXAMPLE_SPECS])
def test_first_view_of_each_example_is_readable(browser, tmp_path, example):
    page = Page(browser, make_report(EXAMPLES / example, tmp_path / "r.html"))
    view = assert_first_view_readable(page, example)
    x1, y1, x2, y2 = view["box"]
    if not (0 <= x1 and x2 <= view["pane"][0] and 0 <= y1 and y2 <= view["pane"][1]):
        # too wide to read whole: it starts at the issuers, every one of them on screen
        assert all(page.js(ISSUERS_ON_SCREEN)), f"{example}: neither whole nor read from the issuers"
    page.close()


@pytest.mark.parametrize("viewport", sorted(VIEWPORTS))
def test_first_view_of_a_few_hundred_nodes_reads_from_the_issuers(browser, tmp_path, viewport):
    spec = tmp_path / "org"
    subprocess.run([sys.executable, str(ROOT / "bench" / "generate.py"), "--workloads", "40", "--format", "yaml",
                    "--out", str(spec)], check=True, capture_output=True)
    page = Page(browser, make_report(spec, tmp_path / "r.html"), VIEWPORTS[viewport])
    assert 200 <= page.shown()[0] <= FOLD_ABOVE and not page.js("window.wiamReport.view.folded")
    assert_first_view_readable(page, f"few-hundred-{viewport}")
    # Too many to read whole: the view starts at the issuers, every one of them on screen.
    on_screen = page.js(ISSUERS_ON_SCREEN)
    assert on_screen and all(on_screen)
    page.js("document.getElementById('fit').click()")  # the whole graph is one click away
    assert page.js("cy.zoom()") < READABLE_PX / page.js("parseFloat(cy.nodes().first().style('font-size'))")
    page.close()


# ---- the record's timeline

def recorded_history(tmp_path: Path, monkeypatch, steps: int = 8):
    """A spec folder's generated git history (test_history's) whose commits carry the hostile corpus's
    messages and author names, and its record."""
    history = History(tmp_path / "repo", 21, monkeypatch)
    for number in range(steps):
        monkeypatch.setenv("GIT_AUTHOR_NAME", f"Mallory {COMMIT_TEXT[number % len(COMMIT_TEXT)]}")
        history.step()
        changed = history.workloads[sorted(history.workloads)[0]]  # a change to the spec, under the hostile message
        changed["actions"] = ["s3:PutObject"] if changed["actions"] == ["s3:GetObject"] else ["s3:GetObject"]
        history.commit("\n\n".join(COMMIT_TEXT))
    if history.broken:
        history.step()
    db = tmp_path / "record.sqlite"
    assert run_wiam("history", str(history.specs), "--db", str(db)).returncode == 0
    return history, db


def test_the_timeline_is_the_record_newest_first_bounded_and_the_page_deterministic(tmp_path, monkeypatch):
    history, db = recorded_history(tmp_path, monkeypatch)
    epoch = {"SOURCE_DATE_EPOCH": "1767225600"}
    pages = [run_wiam("report", str(history.specs), "--db", str(db), "--out", str(tmp_path / f"{n}.html"), env=epoch)
             for n in "ab"]
    assert all(p.returncode == 0 for p in pages), pages[0].stderr
    first = (tmp_path / "a.html").read_bytes()
    assert first == (tmp_path / "b.html").read_bytes() and b"window.pwned" not in first
    record = embedded(first)["record"]
    store = open_store(str(db))
    log = commit_log(store, spec_of(store, "%s:specs" % history.root.resolve()))
    assert [c["sha"] for c in record["commits"]] == [row["sha"] for row in reversed(log)] and record["earlier"] == 0
    assert record["head"] == git(history.root, "rev-parse", "HEAD").strip() and record["behind"] is None
    for shown, row in zip(record["commits"], reversed(log)):
        assert (len(shown["began"]), len(shown["ended"])) == (row["began"], row["ended"])
        assert shown["classification"] == (row["classification"] if row["valid"] else "invalid")
    # what authors wrote, its lines kept and every character a browser would not show as itself escaped
    assert [(c["author"], c["message"].split("\n")) for c in record["commits"]] == [
        (printable(r["author"]), [printable(line) for line in r["message"].split("\n")]) for r in reversed(log)]
    assert any(c["author"] == f"Mallory {printable(COMMIT_TEXT[1])}" for c in record["commits"])
    assert any(c["message"] == "\n\n".join(map(printable, COMMIT_TEXT)) for c in record["commits"])
    assert not re.search("[\x00-\x09\x0b-\x1f\u202a-\u202e\u2066-\u2069]", json.dumps(record["commits"], ensure_ascii=False))
    intervals = store.rows("SELECT count(*) FROM intervals")[0][0]
    assert sum(len(w["intervals"]) for w in record["workloads"]) == intervals > 0
    assert sum(len(c["began"]) for c in record["commits"]) == intervals  # every interval began at a recorded commit
    history.workloads[sorted(history.workloads)[0]]["actions"] = ["dynamodb:GetItem"]
    history.commit("a change the record has not seen")
    behind = run_wiam("report", str(history.specs), "--db", str(db), "--out", str(tmp_path / "c.html"))
    assert "changed after the record" in embedded((tmp_path / "c.html").read_bytes())["record"]["behind"], behind.stderr
    missing = run_wiam("report", str(history.specs), "--db", str(tmp_path / "none.sqlite"), "--out", str(tmp_path / "d.html"))
    assert missing.returncode == 2 and "no record there" in missing.stderr and not (tmp_path / "d.html").exists()


def test_the_timeline_shows_the_newest_commits_and_counts_the_earlier(tmp_path, monkeypatch):
    history, db = recorded_history(tmp_path, monkeypatch, steps=3)
    monkeypatch.setattr(report_module, "TIMELINE_COMMITS", 2)
    monkeypatch.setattr(report_module, "TIMELINE_ACCESS", 1)
    store = open_store(str(db))
    spec, = store.rows("SELECT id FROM specs")[0]
    log = commit_log(store, spec)
    found = record_timeline(store, spec, "head", None)
    assert [c["seq"] for c in found["commits"]] == [log[-1]["seq"], log[-2]["seq"]]
    assert found["earlier"] == len(log) - 2 and found["last_seq"] == log[-1]["seq"]
    for shown, row in zip(found["commits"], log[::-1]):
        assert len(shown["began"]) == min(1, row["began"]) and shown["began_more"] == max(0, row["began"] - 1)


def test_the_timeline_is_shown_as_text_in_the_browser(browser, tmp_path, monkeypatch):
    history, db = recorded_history(tmp_path, monkeypatch, steps=5)
    out = tmp_path / "r.html"
    assert run_wiam("report", str(history.specs), "--db", str(db), "--out", str(out)).returncode == 0
    record = embedded(out.read_bytes())["record"]
    page = Page(browser, out)
    rows = page.js("[...document.querySelectorAll('#timeline-commits tbody tr')].map(r => [...r.cells].map(c => c.textContent))")
    assert [row[1] for row in rows] == [c["sha"][:12] for c in record["commits"]]
    assert [row[2] for row in rows] == [c["author"] for c in record["commits"]]
    assert [row[3] for row in rows] == [c["message"].split("\n")[0] + c["message"].split("\n", 1)[1].strip()
                                        if "\n" in c["message"] else c["message"] for c in record["commits"]]
    assert any(COMMIT_TEXT[0] in row[3] for row in rows)  # the markup shown as text
    assert page.js("document.querySelectorAll('#timeline img, #timeline script, #timeline iframe').length") == 0
    page.page.locator("#timeline-workloads summary").first.click()
    page.page.wait_for_selector("#timeline-workloads details[open] .track .bar")  # drawn on the toggle event
    bars = page.js("document.querySelectorAll('#timeline-workloads details[open] .track .bar').length")
    assert bars == len(record["workloads"][0]["intervals"]) > 0
    assert page.js("window.pwned === undefined") and page.problems == [] and page.requests == []
    page.close()
    bare = make_report(EXAMPLES / "multi-cloud", tmp_path / "bare.html")
    page = Page(browser, bare)
    assert page.js("document.getElementById('timeline-status').textContent").startswith("No timeline: ")
    assert page.js("document.getElementById('timeline-body').hidden")
    page.close()


# ---- --rev: places in the revision, not in its temporary copy

def test_with_rev_findings_name_the_revision_and_sarif_the_repository_path(tmp_path, monkeypatch):
    history = History(tmp_path / "repo", 22, monkeypatch)
    then = git(history.root, "rev-parse", "HEAD").strip()
    history.step()
    history.commit("later")

    def run(*args):
        done = run_wiam(*args, "--rev", then, cwd=history.root)
        assert done.returncode in (0, 1) and "wiam-rev-" not in done.stdout, done.stderr
        return done.stdout
    found = json.loads(run("analyze", "specs", "-f", "json"))["findings"]
    assert found and all(f["file"].startswith(f"{then}:specs/") for f in found)
    for f in found:  # each place is a file of that revision
        assert git(history.root, "cat-file", "-t", f["file"], check=False).strip() == "blob"
    assert f"{then}:specs/" in run("analyze", "specs")
    sarif = json.loads(run("analyze", "specs", "-f", "sarif"))["runs"][0]
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["results"]}
    assert uris == {f["file"].split(":", 1)[1] for f in found} and sarif["properties"]["revision"] == then
    out = tmp_path / "r.html"
    run("report", "specs", "--out", out)
    data = embedded(out.read_bytes())
    assert {f["file"] for f in data["findings"]} == {f["file"] for f in found}
    assert data["meta"]["revision"] == {"commit": then, "dirty": False}
    assert "wiam-rev-" not in json.dumps(data)
