/* The wiam report page: summary, access graph (cytoscape.js), findings and workloads, all from the
   JSON inlined in #wiam-data. User text only ever reaches the page through textContent. */
(function () {
  "use strict";

  // The data is gzip then base64 (a tenth of the size); browsers inflate it natively.
  async function readData() {
    const text = document.getElementById("wiam-data").textContent.trim();
    const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }

  readData().then(start).catch((error) => {
    document.getElementById("graph-status").textContent = `The report could not be read: ${error}`;
    console.error(error);
  });

  function start(data) {
    const SEVERITIES = data.severities;
    const nodes = data.nodes;
    const indexOf = new Map(nodes.map((node, i) => [node.id, i]));
    const outgoing = nodes.map(() => []);
    const incoming = nodes.map(() => []);
    data.edges.forEach((edge, k) => { outgoing[edge[0]].push(k); incoming[edge[1]].push(k); });
    const relation = (k) => data.edges[k][2];
    const edgeAttributes = (k) => data.edges[k][3] || {};
    const workloadIndices = nodes.map((n, i) => i).filter((i) => nodes[i].type === "workload")
      .sort((a, b) => nodes[a].label.localeCompare(nodes[b].label));
    const COLUMN = { issuer: 0, subject: 1, workload: 2, group: 2, principal: 3, target: 4, grant: 5, action: 6, role: 6, resource: 6 };
    const COLOUR = { issuer: "#6639ba", subject: "#8250df", workload: "#0969da", group: "#0969da", principal: "#1a7f37",
                     target: "#57606a", grant: "#9a6700", action: "#bc4c00", role: "#bc4c00", resource: "#6e7781" };
    const SEVERITY_COLOUR = { critical: "#8b0000", high: "#b42318", medium: "#9a6700", low: "#0b5a7a" };
    // The indirect edges, each its own dashed line: one table draws them and the legend under the graph.
    const EDGE_KINDS = {
      can_act_as: { colour: "#b42318", dash: [6, 3], label: "can act as: a permission of its grant reaches that principal" },
      chains_to: { colour: "#6639ba", dash: [2, 4], label: "chains to: its own cloud identity's token is that identity's subject" },
    };
    const HIDDEN_ATTRIBUTES = new Set(["id", "type", "label", "file", "line", "column"]);  // the place is shown as one

    function element(tag, attributes, ...children) {
      const node = document.createElement(tag);
      Object.entries(attributes || {}).forEach(([key, value]) => {
        if (value === undefined || value === null || value === false) return;
        if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
        else if (key === "text") node.textContent = value;
        else node.setAttribute(key, value === true ? "" : value);
      });
      children.flat().forEach((child) => {
        if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
      });
      return node;
    }
    const neighbours = (i, list, rel) => list[i].filter((k) => relation(k) === rel)
      .map((k) => (list === outgoing ? data.edges[k][1] : data.edges[k][0]));
    const show = (value) => (typeof value === "object" ? JSON.stringify(value) : String(value));
    const badge = (severity) => element("span", { class: `badge ${severity}`, text: severity });

    // ---- what belongs to a workload: its subjects, issuers, principals, targets, grants, permissions
    const memberCache = new Map();
    function members(w) {
      if (memberCache.has(w)) return memberCache.get(w);
      const found = new Set([w]);
      for (const subject of neighbours(w, incoming, "authenticates")) {
        found.add(subject);
        neighbours(subject, incoming, "issues").forEach((issuer) => found.add(issuer));
      }
      for (const principal of neighbours(w, outgoing, "federates")) {
        found.add(principal);
        neighbours(principal, outgoing, "in").forEach((target) => found.add(target));
        for (const grant of neighbours(principal, outgoing, "holds")) {
          found.add(grant);
          neighbours(grant, outgoing, "allows").forEach((p) => found.add(p));
          neighbours(grant, outgoing, "on").forEach((r) => found.add(r));
        }
      }
      const list = [...found];
      memberCache.set(w, list);
      return list;
    }

    // ---- filters and search decide which nodes are in view
    const state = { cloud: "", environment: "", owner: "", severity: "", search: "", expanded: new Set() };
    const matchesText = (i, query) => nodes[i].label.toLowerCase().includes(query) || nodes[i].id.toLowerCase().includes(query);
    const inCloud = (i) => !state.cloud || !nodes[i].cloud || nodes[i].cloud === state.cloud;

    function workloadInScope(w) {
      const node = nodes[w];
      if (state.environment && node.environment !== state.environment) return false;
      if (state.owner && node.owner !== state.owner) return false;
      if (state.severity && !(node.severity && SEVERITIES.indexOf(node.severity) >= SEVERITIES.indexOf(state.severity))) return false;
      if (state.cloud && !neighbours(w, outgoing, "federates").some((p) => nodes[p].cloud === state.cloud)) return false;
      return true;
    }

    function nodesInView() {
      const query = state.search.trim().toLowerCase();
      const filtered = state.cloud || state.environment || state.owner || state.severity;
      const matches = new Set();
      if (query) nodes.forEach((n, i) => { if (inCloud(i) && matchesText(i, query)) matches.add(i); });
      if (!filtered && !query) return { visible: new Set(nodes.keys()), matches };
      const visible = new Set();
      for (const w of workloadIndices) {
        if (!workloadInScope(w)) continue;
        const own = members(w).filter(inCloud);
        if (query && !own.some((i) => matches.has(i))) continue;
        own.forEach((i) => visible.add(i));
      }
      if (!filtered) matches.forEach((i) => visible.add(i)); // e.g. an issuer no workload uses yet
      for (const i of [...matches]) if (!visible.has(i)) matches.delete(i);
      return { visible, matches };
    }

    // ---- folding: above data.fold_above nodes, workloads fold into their owner and principals
    // into their target; expanding an owner or a target unfolds it.
    const ownerKey = (w) => `group:owner:${nodes[w].owner || "(no owner)"}`;
    const cloudKey = (t) => `group:cloud:${nodes[t].cloud}`;

    function representatives(visible) {
      const folded = visible.size > data.fold_above;
      const rep = new Map();
      if (!folded) { visible.forEach((i) => rep.set(i, i)); return { rep, folded }; }
      const single = (i) => rep.get(i) === i;
      const order = ["issuer", "target", "workload", "subject", "principal", "grant", "action", "role", "resource"];
      const byType = new Map(order.map((t) => [t, []]));
      visible.forEach((i) => byType.get(nodes[i].type).push(i));
      byType.get("issuer").forEach((i) => rep.set(i, i));
      // Hundreds of targets fold into their cloud too, until that cloud is expanded.
      const manyTargets = byType.get("target").length > data.fold_targets_above;
      byType.get("target").forEach((t) => rep.set(t, manyTargets && !state.expanded.has(cloudKey(t)) ? cloudKey(t) : t));
      byType.get("workload").forEach((w) => rep.set(w, state.expanded.has(ownerKey(w)) ? w : ownerKey(w)));
      byType.get("subject").forEach((s) => {
        const own = neighbours(s, outgoing, "authenticates").some((w) => visible.has(w) && single(w));
        rep.set(s, own ? s : neighbours(s, incoming, "issues")[0]);
      });
      byType.get("principal").forEach((p) => {
        const w = indexOf.get(`workload:${nodes[p].workload}`);
        const target = neighbours(p, outgoing, "in")[0];
        rep.set(p, (visible.has(w) && single(w)) || (single(target) && state.expanded.has(nodes[target].id)) ? p : rep.get(target));
      });
      byType.get("grant").forEach((g) => rep.set(g, neighbours(g, incoming, "holds").some(single) ? g : null));
      for (const type of ["action", "role", "resource"]) {
        byType.get(type).forEach((x) => {
          const held = incoming[x].some((k) => visible.has(data.edges[k][0]) && single(data.edges[k][0]));
          rep.set(x, held ? x : null);
        });
      }
      return { rep, folded };
    }

    function elementsFor(visible) {
      const { rep, folded } = representatives(visible);
      const groups = new Map();
      const shown = new Map();
      rep.forEach((r, i) => {
        if (r === null) return;
        if (typeof r === "string") {
          const kind = r.split(":")[1];
          const name = r.slice(`group:${kind}:`.length);
          const group = groups.get(r) || { id: r, kind, name, members: 0 };
          if (nodes[i].type === (kind === "owner" ? "workload" : "target")) group.members += 1;
          groups.set(r, group);
        } else if (!shown.has(r)) {
          const node = nodes[r];
          shown.set(r, { id: node.id, label: node.label, type: node.type, severity: node.severity || "", index: r });
        }
      });
      groups.forEach((group) => shown.set(group.id, {
        ...group, label: `${group.name} (${group.members} ${group.kind === "owner" ? "workloads" : "targets"})`,
        type: "group", severity: "", index: -1 }));
      const edges = new Map();
      visible.forEach((i) => {
        for (const k of outgoing[i]) {
          const j = data.edges[k][1];
          if (!visible.has(j)) continue;
          const a = rep.get(i), b = rep.get(j);
          if (a === null || b === null || a === b) continue;
          const source = typeof a === "string" ? a : nodes[a].id;
          const target = typeof b === "string" ? b : nodes[b].id;
          const id = `${source}\u0000${relation(k)}\u0000${target}`;
          const edge = edges.get(id) || { id, source, target, relation: relation(k), count: 0 };
          edge.count += 1;
          edges.set(id, edge);
        }
      });
      // Counts on folded edges help while they are few enough to read.
      const labelled = edges.size <= 300;
      edges.forEach((edge) => {
        edge.label = folded && edge.count > 1 ? `${edge.relation} ×${edge.count}` : edge.relation;
        edge.labelled = labelled;
      });
      return { nodes: [...shown.values()], edges: [...edges.values()], folded };
    }

    // ---- layout: layers by node type (issuers first), in the orientation and wrapping that fit
    // the pane best; labels sit under their node, wrapped, so a cell is narrow whatever the label.
    const FONT = 13;  // label size in model units: on screen it is FONT x zoom pixels
    const FAMILY = 'system-ui, -apple-system, "Segoe UI", sans-serif';
    const READABLE = 11.2;  // the smallest label the first view shows, in screen pixels
    const START_ZOOM_MAX = 1.6;  // a small graph is not blown up beyond this
    const PAD = 24;  // screen pixels around the graph
    const LABEL = { width: 140, line: Math.ceil(FONT * 1.2), chars: 60 };
    const CELL = { width: LABEL.width + 26, node: 18, gap: 12 };
    CELL.row = CELL.node + CELL.gap + LABEL.line;  // a cell with a one-line label
    const LAYER_GAP = 20;
    // Labels wrap after separators (a zero-width space marks where; cytoscape wraps there), and
    // inside long runs without one, so that names, ARNs and subjects break where they read well.
    const BREAK = "\u200b";
    const shortLabel = (label) => (label.length > LABEL.chars ? `${label.slice(0, LABEL.chars - 1)}…` : label)
      .replace(/([:/@._,-]+)/g, `$1${BREAK}`).replace(/[^\s:/@._,\u200b-]{16}(?=[^\s:/@._,\u200b-])/g, `$&${BREAK}`);
    const measure = document.createElement("canvas").getContext("2d");
    measure.font = `${FONT}px ${FAMILY}`;
    function lineCount(label) {  // the greedy wrapping cytoscape does at text-max-width
      let lines = 1, line = "";
      for (const word of shortLabel(label).match(/[^\s\u200b]+[\s\u200b]*/g) || []) {
        if (line && measure.measureText(line + word).width > LABEL.width) { lines += 1; line = word; } else line += word;
      }
      return lines;
    }
    const cellHeight = (label) => CELL.node + CELL.gap + LABEL.line * lineCount(label);

    // Within a layer, nodes sit near the nodes that point to them (the mean order of their sources).
    function layers(elements) {
      const byLayer = new Map();
      elements.nodes.forEach((n) => {
        const layer = n.type === "group" ? COLUMN[n.kind === "owner" ? "workload" : "target"] : COLUMN[n.type];
        if (!byLayer.has(layer)) byLayer.set(layer, []);
        byLayer.get(layer).push(n);
      });
      const order = new Map();
      const sources = new Map();
      elements.edges.forEach((e) => { if (!sources.has(e.target)) sources.set(e.target, []); sources.get(e.target).push(e.source); });
      return [...byLayer.keys()].sort((a, b) => a - b).map((layer) => {
        const weight = (n) => {
          const placed = (sources.get(n.id) || []).filter((s) => order.has(s));
          return placed.length ? placed.reduce((sum, s) => sum + order.get(s), 0) / placed.length : Infinity;
        };
        const list = byLayer.get(layer).map((n) => [weight(n), n])
          .sort((a, b) => a[0] - b[0] || a[1].label.localeCompare(b[1].label)).map(([, n]) => n);
        list.forEach((n, i) => order.set(n.id, i));
        return list.map((n) => ({ id: n.id, height: cellHeight(n.label) }));
      });
    }

    // One arrangement: layers across (left to right) or down (top to bottom), each wrapped into
    // lines of at most `capacity` cells, and the layers themselves wrapped into `bands` bands, as
    // text wraps (a band of layers, then the next below it, or beside it when layers go down).
    function arrange(layerList, across, capacity, bands, place) {
      const positions = {};
      const per = Math.ceil(layerList.length / bands);
      let flow = 0;  // the longest band, along the flow (x when across, y when down)
      let start = 0;  // where the band starts, across the flow
      for (let b = 0; b * per < layerList.length; b += 1) {
        let offset = 0;  // along the flow
        let breadth = 0;  // across the flow, within this band
        for (const cells of layerList.slice(b * per, (b + 1) * per)) {
          let extent = 0;
          const lines = Math.ceil(cells.length / capacity);
          for (let first = 0; first < cells.length; first += capacity) {
            const line = cells.slice(first, first + capacity);
            // Each further line of a layer is shifted a fraction of a cell, so that an edge into a
            // later line never runs straight through the nodes of an earlier one.
            const shift = (first / capacity / lines) * (across ? CELL.row : CELL.width / 2);
            let length = shift;
            if (across) {  // a line is a column of cells
              line.forEach((c) => { if (place) positions[c.id] = { x: offset + extent + CELL.width / 2, y: start + length + CELL.node / 2 }; length += c.height; });
              extent += CELL.width;
            } else {  // a line is a row of cells
              const height = Math.max(...line.map((c) => c.height));
              line.forEach((c, i) => { if (place) positions[c.id] = { x: start + shift + i * CELL.width + CELL.width / 2, y: offset + extent + CELL.node / 2 }; });
              length += line.length * CELL.width;
              extent += height;
            }
            breadth = Math.max(breadth, length);
          }
          offset += extent + LAYER_GAP;
        }
        flow = Math.max(flow, offset - LAYER_GAP);
        start += breadth + LAYER_GAP * 2;
      }
      const breadth = start - LAYER_GAP * 2;
      return { positions, width: across ? flow : breadth, height: across ? breadth : flow };
    }

    // The arrangement that shows the graph largest in this pane (up to START_ZOOM_MAX), then the
    // one with the fewest bands, then the one that fills the pane most. When none is readable whole,
    // layers go left to right, wrapped only to the pane's width, so that the first view (the top
    // left) reads from the issuers on.
    function layout(elements, pane) {
      const layerList = layers(elements);
      const longest = Math.max(1, ...layerList.map((cells) => cells.length));
      const capacities = [...new Set([...Array(longest).keys()].map((k) => Math.ceil(longest / (k + 1))))];
      let best = null;
      for (const across of [true, false]) {
        for (let bands = 1; bands <= Math.max(1, layerList.length); bands += 1) {
          for (const capacity of capacities) {
            const { width, height } = arrange(layerList, across, capacity, bands, false);
            const fit = Math.min((pane.width - 2 * PAD) / Math.max(width, 1), (pane.height - 2 * PAD) / Math.max(height, 1));
            const zoom = Math.min(fit, START_ZOOM_MAX);
            const fill = (width * zoom * height * zoom) / (pane.width * pane.height);
            const better = !best || zoom > best.zoom * 1.02 ||
              (zoom >= best.zoom / 1.02 && (bands < best.bands || (bands === best.bands && fill > best.fill)));
            if (better) best = { across, capacity, bands, zoom, fill };
          }
        }
      }
      if (best.zoom * FONT < READABLE) {  // only a part can be readable: layers left to right, as wide as the pane
        const room = (pane.width - 2 * PAD) / (READABLE / FONT);
        const fitting = capacities.filter((c) => arrange(layerList, true, c, 1, false).width <= room);
        Object.assign(best, { across: true, capacity: fitting.length ? Math.min(...fitting) : longest, bands: 1 });
      }
      return arrange(layerList, best.across, best.capacity, best.bands, true).positions;
    }

    // The first view: everything when its labels stay readable, else the start of the flow (the
    // issuers and what they reach) at the smallest readable zoom.
    function firstView() {
      const pane = { width: cy.width(), height: cy.height() };
      const box = cy.elements().boundingBox();
      if (!box.w && !box.h) return;
      const fit = Math.min((pane.width - 2 * PAD) / box.w, (pane.height - 2 * PAD) / box.h);
      const zoom = Math.min(START_ZOOM_MAX, Math.max(fit, READABLE / FONT));
      const pan = fit * FONT >= READABLE
        ? { x: pane.width / 2 - zoom * (box.x1 + box.w / 2), y: pane.height / 2 - zoom * (box.y1 + box.h / 2) }
        : { x: PAD - zoom * box.x1, y: PAD - zoom * box.y1 };
      cy.viewport({ zoom, pan });
    }

    const cy = cytoscape({
      container: document.getElementById("cy"),
      minZoom: 0.02,
      maxZoom: 4,
      textureOnViewport: nodes.length > 2000,
      hideEdgesOnViewport: nodes.length > 2000,
      style: [
        { selector: "node", style: {
          "label": (n) => shortLabel(n.data("label")), "font-size": FONT, "font-family": FAMILY, "color": "#1b1f24",
          "text-valign": "bottom", "text-halign": "center", "text-margin-y": 3, "text-wrap": "wrap",
          "text-max-width": LABEL.width, "line-height": 1.2,
          "text-background-color": "#fff", "text-background-opacity": 0.8, "text-background-padding": 1,
          "width": 14, "height": 14, "background-color": (n) => COLOUR[n.data("type")] } },
        { selector: "node[type = 'group']", style: { "shape": "round-rectangle", "width": 22, "height": 22 } },
        { selector: "node[type = 'target']", style: { "shape": "rectangle" } },
        { selector: "node[type = 'issuer']", style: { "shape": "diamond", "width": 18, "height": 18 } },
        { selector: "node[severity != '']", style: { "border-width": 3, "border-color": (n) => SEVERITY_COLOUR[n.data("severity")] } },
        { selector: "node.match", style: { "border-width": 4, "border-color": "#bf3989", "font-weight": "bold" } },
        { selector: "node:selected", style: { "overlay-color": "#0969da", "overlay-opacity": 0.25, "overlay-padding": 6 } },
        { selector: "edge", style: { "width": 1, "line-color": "#8c959f", "target-arrow-color": "#8c959f",
          "target-arrow-shape": "triangle", "curve-style": "bezier", "arrow-scale": 0.7 } },
        ...Object.entries(EDGE_KINDS).map(([name, kind]) => ({ selector: `edge[relation = '${name}']`, style: {
          "line-color": kind.colour, "target-arrow-color": kind.colour, "line-style": "dashed",
          "line-dash-pattern": kind.dash, "width": 2 } })),
        { selector: "edge[count > 1][?labelled]", style: { "label": "data(label)", "font-size": FONT - 1, "color": "#4a5360",
          "text-background-color": "#fff", "text-background-opacity": 1 } },
      ],
    });

    const SVG = "http://www.w3.org/2000/svg";
    for (const kind of Object.values(EDGE_KINDS)) {
      const swatch = document.createElementNS(SVG, "svg");
      swatch.setAttribute("width", "32");
      swatch.setAttribute("height", "8");
      swatch.setAttribute("aria-hidden", "true");
      const line = document.createElementNS(SVG, "line");
      Object.entries({ x1: 0, y1: 4, x2: 32, y2: 4, stroke: kind.colour, "stroke-width": 2,
                       "stroke-dasharray": kind.dash.join(" ") }).forEach(([key, value]) => line.setAttribute(key, value));
      swatch.append(line);
      document.getElementById("graph-legend").append(element("li", {}, swatch, kind.label));
    }

    const view = { nodes: 0, edges: 0, folded: false, matches: [] };

    function draw() {
      const { visible, matches } = nodesInView();
      const elements = elementsFor(visible);
      const positions = layout(elements, { width: cy.width(), height: cy.height() });
      cy.batch(() => {
        cy.elements().remove();
        cy.add(elements.nodes.map((n) => ({ group: "nodes", data: n, position: positions[n.id],
          classes: n.index >= 0 && matches.has(n.index) ? "match" : "" })));
        cy.add(elements.edges.map((e) => ({ group: "edges", data: e })));
      });
      firstView();
      Object.assign(view, { nodes: elements.nodes.length, edges: elements.edges.length, folded: elements.folded,
                            matches: [...matches] });
      const container = document.getElementById("cy");
      container.dataset.nodes = view.nodes;
      container.dataset.edges = view.edges;
      document.getElementById("graph-status").textContent =
        `Showing ${view.nodes} nodes and ${view.edges} edges of ${nodes.length} nodes` +
        (elements.folded ? " (folded: workloads by owner, principals into their target, many targets into their cloud;" +
          " open a group to expand it)" : "") +
        (state.search ? `; ${matches.size} match "${state.search}"` : "");
      renderSearchResults();
    }

    function renderSearchResults() {
      const box = document.getElementById("search-results");
      box.replaceChildren();
      if (!state.search) return;
      const first = view.matches.slice(0, 50);
      first.forEach((i) => box.append(element("button", { type: "button", onclick: () => select(i) },
        `${nodes[i].type}: ${nodes[i].label}`)));
      if (view.matches.length > first.length) box.append(element("span", { class: "hint", text: `and ${view.matches.length - first.length} more` }));
    }

    // ---- details and paths of one node
    function shortestPaths(start, list, stop, limit) {
      const parent = new Map([[start, null]]);
      const queue = [start];
      const found = [];
      while (queue.length && found.length < limit) {
        const i = queue.shift();
        for (const k of list[i]) {
          const j = list === outgoing ? data.edges[k][1] : data.edges[k][0];
          if (parent.has(j)) continue;
          parent.set(j, [i, k]);
          if (stop(j)) found.push(j);
          queue.push(j);
        }
      }
      return { found, parent };
    }

    function pathText(end, parent, forward) {
      const steps = [];
      for (let i = end; parent.get(i); i = parent.get(i)[0]) steps.push([parent.get(i)[0], parent.get(i)[1], i]);
      if (forward) steps.reverse();
      const parts = [forward ? nodes[steps[0][0]].label : nodes[steps[0][2]].label];
      for (const [from, k, to] of steps) parts.push(`-${relation(k)}-> ${forward ? nodes[to].label : nodes[from].label}`);
      return parts.join(" ");
    }

    function pathList(title, i, list, stop, forward) {
      const { found, parent } = shortestPaths(i, list, stop, 10);
      if (!found.length) return null;
      return [element("h4", { text: title }),
              element("ol", { class: "paths" }, found.map((j) => element("li", { text: pathText(j, parent, forward) })))];
    }

    function showDetails(item) {
      const panel = document.getElementById("details");
      panel.replaceChildren(element("h3", { id: "details-title", text: item.label }));
      if (item.type === "group") {
        panel.append(element("p", { text: item.kind === "owner" ? `${item.members} workloads owned by ${item.name}, folded into one node.`
                                                               : `${item.members} ${item.name} targets and their principals, folded into one node.` }),
          element("button", { type: "button", onclick: () => toggle(item.id) }, "Expand"));
        return;
      }
      const i = item.index;
      const node = nodes[i];
      const rows = Object.entries(node).filter(([key]) => !HIDDEN_ATTRIBUTES.has(key))
        .flatMap(([key, value]) => [element("dt", { text: key }), element("dd", { text: show(value) })]);
      if (node.file) rows.push(element("dt", { text: "defined at" }), element("dd", { text: `${node.file}:${node.line}:${node.column}` }));
      panel.append(element("p", { class: "hint", text: node.type }), element("dl", {}, rows));
      if (node.type === "workload") {
        panel.append(element("p", {}, element("a", { href: `#workload-${node.label}` }, "Open this workload")));
      }
      if (node.type === "target" && view.folded) {
        panel.append(element("button", { type: "button", onclick: () => toggle(node.id) },
          state.expanded.has(node.id) ? "Fold its principals" : "Expand its principals"));
      }
      if (node.type === "workload" && view.folded && state.expanded.has(ownerKey(i))) {
        panel.append(element("button", { type: "button", onclick: () => toggle(ownerKey(i)) }, "Fold its owner's workloads"));
      }
      if (node.type === "target" && view.folded && state.expanded.has(cloudKey(i))) {
        panel.append(element("button", { type: "button", onclick: () => toggle(cloudKey(i)) }, `Fold the ${node.cloud} targets`));
      }
      const reachedFrom = pathList("Reached from", i, incoming, (j) => nodes[j].type === "issuer", false);
      const reaches = pathList("Reaches", i, outgoing, (j) => ["principal", "action", "role", "resource"].includes(nodes[j].type), true);
      [reachedFrom, reaches].forEach((part) => { if (part) panel.append(...part); });
    }

    function select(i) {
      const item = cy.getElementById(nodes[i].id);
      cy.elements().unselect();
      if (item.nonempty()) {
        item.select();
        cy.animate({ center: { eles: item }, zoom: Math.max(cy.zoom(), READABLE / FONT) }, { duration: 200 });
        showDetails(item.data());
      } else {
        showDetails({ index: i, type: nodes[i].type, label: nodes[i].label });
      }
      document.getElementById("details").focus();
    }

    function toggle(key) {
      if (state.expanded.has(key)) state.expanded.delete(key); else state.expanded.add(key);
      draw();
      const item = cy.getElementById(key);
      if (item.nonempty()) showDetails(item.data());
    }

    cy.on("tap", "node", (event) => showDetails(event.target.data()));
    cy.on("dbltap", "node[type = 'group']", (event) => toggle(event.target.id()));

    // ---- controls
    function fillSelect(id, values, labelOf) {
      const select = document.getElementById(id);
      values.forEach((value) => select.append(element("option", { value, text: labelOf ? labelOf(value) : value })));
    }
    const distinct = (key) => [...new Set(workloadIndices.map((w) => nodes[w][key]).filter(Boolean))].sort();
    fillSelect("filter-cloud", [...new Set(nodes.filter((n) => n.type === "target").map((n) => n.cloud))].sort());
    fillSelect("filter-environment", distinct("environment"));
    fillSelect("filter-owner", distinct("owner"));
    fillSelect("filter-severity", [...SEVERITIES].reverse());
    fillSelect("findings-severity", [...SEVERITIES].reverse());

    let searchTimer = null;
    for (const key of ["cloud", "environment", "owner", "severity"]) {
      document.getElementById(`filter-${key}`).addEventListener("change", (event) => { state[key] = event.target.value; draw(); });
    }
    document.getElementById("search").addEventListener("input", (event) => {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(() => { state.search = event.target.value; draw(); }, 150);
    });
    document.getElementById("search").addEventListener("keydown", (event) => {
      if (event.key !== "Enter") return;
      clearTimeout(searchTimer);
      state.search = event.target.value;
      draw();
      const first = document.querySelector("#search-results button");
      if (first) first.focus();
    });
    document.getElementById("filters-reset").addEventListener("click", () => {
      document.getElementById("filters").reset();
      Object.assign(state, { cloud: "", environment: "", owner: "", severity: "", search: "" });
      state.expanded.clear();
      draw();
    });
    document.getElementById("fit").addEventListener("click", () => cy.fit(undefined, PAD));

    // ---- summary
    function renderSummary() {
      const s = data.summary;
      const meta = data.meta;
      const revision = meta.revision.commit
        ? `revision ${meta.revision.commit.slice(0, 12)}${meta.revision.dirty ? " with uncommitted changes" : ""}`
        : `revision unknown (${meta.revision.why})`;
      document.getElementById("meta").textContent = `Spec ${meta.spec}, ${revision}; made ${meta.generated} by wiam ${meta.wiam}` +
        (meta.at ? `; time windows at ${meta.at}` : "");
      const card = (name, key, value) => element("div", { class: "card" },
        element("span", { class: "value", "data-summary": key, text: value }), element("span", { class: "name", text: name }));
      const perCloud = (name, key, counts) => element("div", { class: "card" }, element("span", { class: "name", text: name }),
        element("table", {}, element("tbody", {}, Object.entries(counts).map(([cloud, count]) => element("tr", {},
          element("td", { text: cloud }), element("td", { "data-summary": `${key}.${cloud}`, text: count }))))));
      const findings = element("div", { class: "card" }, element("span", { class: "name", text: "findings" }),
        element("table", {}, element("tbody", {}, [...SEVERITIES].reverse().concat(["suppressed"]).map((severity) =>
          element("tr", {}, element("td", {}, severity === "suppressed" ? severity : badge(severity)),
            element("td", { "data-summary": `findings.${severity}`, text: s.findings[severity] }))))));
      document.getElementById("summary-cards").replaceChildren(
        card("issuers", "issuers", s.issuers), card("subjects", "subjects", s.subjects),
        card("workloads", "workloads", s.workloads), card("targets", "targets", s.targets),
        perCloud("principals", "principals", s.principals), perCloud("grants", "grants", s.grants), findings);
    }

    // ---- findings table
    const PAGE = 200;
    const findingState = { key: "severity", descending: true, limit: PAGE };
    const findingKeys = {
      severity: (f) => SEVERITIES.indexOf(f.severity), rule: (f) => f.rule, workload: (f) => f.workload || "",
      message: (f) => f.message, place: (f) => [f.file, String(f.line).padStart(9, "0"), String(f.column).padStart(9, "0")].join(":"),
    };

    function renderFindings() {
      const query = document.getElementById("findings-filter").value.trim().toLowerCase();
      const severity = document.getElementById("findings-severity").value;
      const suppressed = document.getElementById("findings-suppressed").checked;
      const key = findingKeys[findingState.key];
      const rows = data.findings
        .filter((f) => suppressed || !f.suppressed)
        .filter((f) => !severity || f.severity === severity)
        .filter((f) => !query || [f.rule, f.name, f.title, f.workload || "", f.message, f.block].join(" ").toLowerCase().includes(query))
        .sort((a, b) => {
          const x = key(a), y = key(b);
          const order = x < y ? -1 : x > y ? 1 : 0;
          return findingState.descending ? -order : order;
        });
      document.getElementById("findings-table").tBodies[0].replaceChildren(...rows.slice(0, findingState.limit).map((f) => element("tr", { class: f.suppressed ? "suppressed" : null },
        element("td", {}, badge(f.severity)),
        element("td", { title: f.title, text: `${f.rule} ${f.name}` }),
        element("td", {}, f.workload ? element("a", { href: `#workload-${f.workload}`, text: f.workload }) : f.block),
        element("td", { class: "message" }, f.message, f.suppressed ? ` (suppressed: ${f.suppressed.reason})` : null),
        element("td", { text: `${f.file}:${f.line}:${f.column}` }))));
      document.getElementById("findings-status").textContent = rows.length > findingState.limit
        ? `${findingState.limit} of ${rows.length} matching findings shown (${data.findings.length} in all)`
        : `${rows.length} of ${data.findings.length} findings shown`;
      document.getElementById("findings-more").hidden = rows.length <= findingState.limit;
      document.querySelectorAll("#findings-table th").forEach((th) => {
        const button = th.querySelector("button");
        th.setAttribute("aria-sort", button.dataset.key === findingState.key ? (findingState.descending ? "descending" : "ascending") : "none");
      });
    }
    document.querySelectorAll("#findings-table th button").forEach((button) => button.addEventListener("click", () => {
      const key = button.dataset.key;
      findingState.descending = findingState.key === key ? !findingState.descending : key === "severity";
      findingState.key = key;
      renderFindings();
    }));
    ["findings-filter", "findings-severity", "findings-suppressed"].forEach((id) =>
      document.getElementById(id).addEventListener("input", () => { findingState.limit = PAGE; renderFindings(); }));
    document.getElementById("findings-more").addEventListener("click", () => { findingState.limit += PAGE; renderFindings(); });

    // ---- workloads: rendered a page at a time, their details when opened
    let workloadLimit = PAGE;
    const findingsOf = new Map();
    data.findings.forEach((f) => { if (f.workload) { if (!findingsOf.has(f.workload)) findingsOf.set(f.workload, []); findingsOf.get(f.workload).push(f); } });

    function table(headings, rows) {
      return element("table", {}, element("thead", {}, element("tr", {}, headings.map((h) => element("th", { text: h })))),
        element("tbody", {}, rows.map((row) => element("tr", {}, row.map((cell) => element("td", {}, cell))))));
    }

    const WINDOW_STATE = { holds: "holds", pending: "not yet open", closed: "closed (no access)" };

    function workloadBody(w) {
      const node = nodes[w];
      const parts = [];
      if (node.description) parts.push(element("p", { text: node.description }));
      if (node.disabled) parts.push(element("p", { text: `Disabled by the kill switch: ${node.disabled}` }));
      if (node.windows) {
        parts.push(element("h4", { text: `Time windows at ${data.meta.at}` }),
          table(["block", "window", "at that moment"], node.windows.map((w) => [w.block, w.window, WINDOW_STATE[w.state]])));
      }
      const subjects = incoming[w].filter((k) => relation(k) === "authenticates").map((k) => {
        const subject = nodes[data.edges[k][0]];
        return [subject.issuer, subject.subject, edgeAttributes(k).audience || "", `${edgeAttributes(k).file}:${edgeAttributes(k).line}`];
      });
      parts.push(element("h4", { text: "Subjects" }), subjects.length ? table(["issuer", "subject", "audience", "place"], subjects)
        : element("p", { class: "hint", text: "No active subject: nothing can act as this workload." }));
      parts.push(element("h4", { text: "Cloud principals and their trust, as deployed" }));
      for (const k of outgoing[w].filter((k) => relation(k) === "federates")) {
        const p = data.edges[k][1];
        const principal = nodes[p];
        parts.push(element("p", {}, element("strong", { text: principal.label }),
          ` (${principal.cloud} ${principal.kind} in ${principal.target})`));
        parts.push(element("pre", { text: JSON.stringify(edgeAttributes(k).trust, null, 2) }));
        const grants = neighbours(p, outgoing, "holds").map((g) => {
          const grant = nodes[g];
          const permissions = neighbours(g, outgoing, "allows").map((x) => nodes[x].label);
          const resources = neighbours(g, outgoing, "on").map((x) => nodes[x].label);
          return [permissions.join(", "), resources.join(", ") || "(the whole target)", grant.access_level || ""];
        });
        if (grants.length) parts.push(table(["permissions", "resources", "access level"], grants));
        const acts = outgoing[p].filter((k2) => relation(k2) === "can_act_as").map((k2) => {
          const a = edgeAttributes(k2);
          return [nodes[data.edges[k2][1]].label, a.permission || "", a.technique || ""];
        });
        if (acts.length) parts.push(element("p", { text: "Can also act as:" }), table(["principal", "permission", "technique"], acts));
      }
      const own = findingsOf.get(node.label) || [];
      parts.push(element("h4", { text: "Findings" }), own.length ? element("ul", {}, own.map((f) => element("li", {},
        badge(f.severity), ` ${f.rule} ${f.message}`, f.suppressed ? ` (suppressed: ${f.suppressed.reason})` : null)))
        : element("p", { class: "hint", text: "None." }));
      return parts;
    }

    function workloadItem(w) {
      const node = nodes[w];
      const facts = [node.owner, node.environment, node.severity ? `worst finding ${node.severity}` : null,
        node.review ? `review ${node.review}` : null].filter(Boolean).join(", ");
      const item = element("details", { class: "workload", id: `workload-${node.label}` },
        element("summary", {}, node.label, " ", element("span", { class: "sub", text: facts })));
      item.addEventListener("toggle", () => {
        if (item.open && item.children.length === 1) item.append(...workloadBody(w));
      });
      return item;
    }

    function renderWorkloads() {
      const query = document.getElementById("workloads-filter").value.trim().toLowerCase();
      const matching = workloadIndices.filter((w) => !query ||
        [nodes[w].label, nodes[w].owner || "", nodes[w].environment || ""].join(" ").toLowerCase().includes(query));
      document.getElementById("workload-list").replaceChildren(...matching.slice(0, workloadLimit).map(workloadItem));
      document.getElementById("workloads-more").hidden = matching.length <= workloadLimit;
      document.getElementById("workloads-status").textContent = `${Math.min(matching.length, workloadLimit)} of ${matching.length} workloads shown`;
    }
    document.getElementById("workloads-filter").addEventListener("input", () => { workloadLimit = PAGE; renderWorkloads(); });
    document.getElementById("workloads-more").addEventListener("click", () => { workloadLimit += PAGE; renderWorkloads(); });

    function openWorkload(name) {
      const w = indexOf.get(`workload:${name}`);
      if (w === undefined) return;
      let item = document.getElementById(`workload-${name}`);
      if (!item) {
        item = workloadItem(w);
        document.getElementById("workload-list").prepend(item);
      }
      item.open = true;
      if (item.children.length === 1) item.append(...workloadBody(w));
      item.scrollIntoView({ block: "start" });
      item.querySelector("summary").focus();
    }
    function followHash() {
      const hash = decodeURIComponent(location.hash.slice(1));
      if (hash.startsWith("workload-")) openWorkload(hash.slice("workload-".length));
    }
    window.addEventListener("hashchange", followHash);

    // ---- the record's timeline: commits newest first, then each workload's intervals (rendered when opened)
    function accessList(label, shown, more) {
      if (!shown.length) return null;
      return element("div", {}, element("span", { class: "sub", text: label }),
        element("ul", {}, shown.map((a) => element("li", { text: a })), more ? element("li", { class: "hint", text: `and ${more} more` }) : null));
    }

    function accessCell(c) {  // folded: a commit may begin hundreds of tuples
      const began = c.began.length + c.began_more, ended = c.ended.length + c.ended_more;
      if (!began && !ended) return "none";
      return element("details", {}, element("summary", { text: `+${began} \u2212${ended}` }),
        accessList("began", c.began, c.began_more), accessList("ended", c.ended, c.ended_more));
    }

    function messageCell(message) {  // the subject line; the rest of the message when opened
      const [subject, ...rest] = message.split("\n");
      const body = rest.join("\n").trim();
      return body ? element("details", {}, element("summary", { text: subject }), element("div", { class: "body", text: body })) : subject;
    }

    function intervalItem(interval, last) {
      const end = interval.ended === null ? last + 1 : interval.ended;
      const bar = element("span", { class: interval.ended === null ? "bar open" : "bar" });
      bar.style.left = `${(100 * (interval.began - 1)) / last}%`;
      bar.style.width = `${(100 * (end - interval.began)) / last}%`;
      const until = interval.ended === null ? "still held" : `until ${interval.until}`;
      return element("li", {}, element("div", { text: interval.access }),
        element("div", { class: "sub", text: `from ${interval.from} ${until}` }), element("div", { class: "track" }, bar));
    }

    function renderTimeline() {
      const record = data.record;
      const status = document.getElementById("timeline-status");
      if (!record.commits) {
        status.textContent = `No timeline: ${record.why}.`;
        return;
      }
      status.textContent = `${record.commits.length + record.earlier} commits recorded, through ${record.head.slice(0, 12)}` +
        (record.behind ? `; ${record.behind}` : "") + ".";
      document.getElementById("timeline-body").hidden = false;
      document.getElementById("timeline-commits").tBodies[0].replaceChildren(...record.commits.map((c) => element("tr", {},
        element("td", { text: c.date }), element("td", { title: c.sha, text: c.sha.slice(0, 12) }),
        element("td", { text: c.author }), element("td", {}, messageCell(c.message)),
        element("td", {}, element("span", { class: `change ${c.classification}`, text: c.classification }),
          c.findings ? ` ${c.findings} new findings` : null),
        element("td", {}, accessCell(c)))));
      const earlier = document.getElementById("timeline-earlier");
      earlier.hidden = !record.earlier;
      earlier.textContent = `${record.earlier} earlier commits are in the record, not shown.`;
      document.getElementById("timeline-workloads").replaceChildren(...record.workloads.map((w) => {
        const names = w.names.length > 1 ? `, formerly ${w.names.slice(0, -1).join(", ")}` : "";
        const item = element("details", { class: "workload" }, element("summary", {}, w.name, " ",
          element("span", { class: "sub", text: `${w.intervals.length + w.more} intervals${names}` })));
        item.addEventListener("toggle", () => {
          if (item.open && item.children.length === 1) {
            item.append(element("ul", { class: "intervals" }, w.intervals.map((i) => intervalItem(i, record.last_seq))));
            if (w.more) item.append(element("p", { class: "hint", text: `and ${w.more} more intervals` }));
          }
        });
        return item;
      }));
    }

    renderSummary();
    renderFindings();
    renderWorkloads();
    renderTimeline();
    draw();
    followHash();
    window.wiamReport = { cy, state, view, draw, select, toggle };
  }
}());
