// Network view for coauthors, shared_coauthors and collaboration_path: people as nodes, shared papers as edges.
import { forceCollide, forceLink, forceManyBody, forceSimulation, forceX, forceY } from "d3-force";
import { add, put, callTool, figure, yearSpan, formatNumber, h, legend, s, startView, who } from "./common.js";

const MAX_NODES = 200;

// Namesakes are never merged: a profile owner is keyed by profile_id, a person known only from author
// lists by their folded name (the catalog keeps one such person per folded name).
const fold = (name) =>
  name.normalize("NFKD").replace(/\p{M}/gu, "").toLowerCase().replace(/\s+/g, " ").trim();
const keyOf = (person) => (person.profile_id ? `p:${person.profile_id}` : `n:${fold(person.name)}`);

class Graph {
  constructor() {
    this.nodes = new Map();
    this.edges = new Map();
    this.capped = 0;
  }

  node(person) {
    const key = keyOf(person);
    let node = this.nodes.get(key);
    if (!node) {
      if (this.nodes.size >= MAX_NODES) {
        this.capped++;
        return null;
      }
      node = { key, name: person.name, profile_id: person.profile_id || null, hl: false };
      this.nodes.set(key, node);
    }
    return node;
  }

  edge(a, b, papers, weight) {
    if (!a || !b || a === b) return null;
    const [x, y] = a.key < b.key ? [a, b] : [b, a];
    const key = `${x.key}|${y.key}`;
    let edge = this.edges.get(key);
    if (!edge) {
      edge = { key, source: x.key, target: y.key, papers: [], weight: 0, hl: false };
      this.edges.set(key, edge);
    }
    for (const paper of papers) {
      if (!edge.papers.some((p) => p.title === paper.title)) edge.papers.push(paper);
    }
    edge.weight = Math.max(edge.weight, weight ?? 0, edge.papers.length);
    return edge;
  }

  addCoauthors(result) {
    const center = this.node(result.author);
    for (const c of result.coauthors) {
      const other = this.node(c);
      this.edge(center, other, c.titles.map((title) => ({ title })), c.shared_papers);
    }
    return center;
  }
}

const person = (resolution) => ({ name: resolution.resolved_to, profile_id: resolution.profile_id });

function fromResult(result, graph) {
  if (result.coauthors && result.author) {
    const center = graph.addCoauthors(result);
    center.hl = true;
    const shown = result.coauthors.length;
    return {
      title: `${result.author.name}: coauthors`,
      subtitle: `${shown} of ${result.total} coauthor(s), most shared papers first`,
      note: result.note,
    };
  }
  if (result.shared && result.author_a) {
    const a = graph.node(person(result.author_a));
    const b = graph.node(person(result.author_b));
    a.hl = b.hl = true;
    a.slot = 0;
    b.slot = 1;
    for (const other of result.shared) {
      const node = graph.node(other);
      if (other.papers_with_a.length) graph.edge(a, node, other.papers_with_a);
      if (other.papers_with_b.length) graph.edge(b, node, other.papers_with_b);
    }
    if (result.direct.length) graph.edge(a, b, result.direct).hl = true;
    return {
      title: `${a.name} and ${b.name}`,
      subtitle: `${result.shared.length} shared coauthor(s)` + (result.direct.length ? `, ${result.direct.length} joint paper(s)` : ""),
      note: result.note,
    };
  }
  if (result.hops && result.author_a) {
    if (!result.found) {
      graph.node(person(result.author_a)).hl = true;
      graph.node(person(result.author_b)).hl = true;
    }
    result.hops.forEach((hop, i) => {
      const from = graph.node(hop.from);
      const to = graph.node(hop.to);
      from.hl = to.hl = true;
      from.slot ??= i;
      to.slot ??= i + 1;
      graph.edge(from, to, [hop.paper]).hl = true;
    });
    return {
      title: `${result.author_a.resolved_to} → ${result.author_b.resolved_to}`,
      subtitle: result.found ? `${result.length} hop(s)` : "No chain found",
      note: result.note,
    };
  }
  throw new Error("not a coauthors, shared_coauthors or collaboration_path result");
}

function render(result, app, root) {
  const graph = new Graph();
  const header = fromResult(result, graph);
  const svg = s("svg", { class: "graph", width: "100%", role: "img", "aria-label": header.title });
  const info = h("div", { class: "detail", id: "edge-info", hidden: true });
  const card = h("div", { id: "card", hidden: true });
  const status = h("div", { class: "note", id: "status" });
  add(root, 
    h("h1", {}, header.title),
    h("div", { class: "muted small" }, header.subtitle),
    legend([
      ["var(--accent)", "has a profile"],
      ["var(--listed)", "known from author lists"],
      ["var(--highlight)", result.hops ? "path" : result.shared ? "compared" : "selected", true],
    ]),
    svg,
    info,
    card,
    status,
    h("div", { class: "note" }, header.note),
  );
  const view = { app, graph, svg, info, card, status, selected: null, positions: new Map() };
  draw(view);
}

function layout(view, relayout) {
  const { graph, positions } = view;
  const nodes = [...graph.nodes.values()].map((n) => ({ ...n, ...(positions.get(n.key) || {}) }));
  const links = [...graph.edges.values()].map((e) => ({ ...e }));
  const n = nodes.length;
  // People with a slot (a path's chain, the two compared people) are pulled to their place left to right.
  const slots = Math.max(0, ...nodes.map((d) => (d.slot ?? -1) + 1));
  const spacing = slots > 2 ? 120 : 300;
  const slotX = (d) => (d.slot === undefined ? 0 : (d.slot - (slots - 1) / 2) * spacing);
  const simulation = forceSimulation(nodes)
    .force("link", forceLink(links).id((d) => d.key).distance(n > 80 ? 48 : n > 30 ? 60 : 110).strength(0.5))
    .force("charge", forceManyBody().strength(n > 80 ? -90 : n > 30 ? -160 : -420))
    .force("collide", forceCollide(n > 30 ? 12 : 22))
    .force("x", forceX(slotX).strength((d) => (d.slot === undefined ? 0.06 : 0.9)))
    .force("y", forceY(0).strength((d) => (d.slot === undefined ? 0.08 : 0.5)))
    .stop();
  const fresh = nodes.filter((d) => d.x === undefined).length;
  const ticks = fresh === n ? 320 : relayout ? 160 : 0;
  for (let i = 0; i < ticks; i++) simulation.tick();
  for (const d of nodes) positions.set(d.key, { x: d.x, y: d.y });
  return { nodes, links };
}

function draw(view, relayout = true) {
  const { graph, svg } = view;
  const { nodes, links } = layout(view, relayout);
  // Fit the layout into the view's width at most 1:1, so text stays its real size at any width.
  const width = Math.max(300, Math.round(svg.parentElement.clientWidth || 600));
  const maxHeight = Math.round(Math.min(560, Math.max(280, width * 0.8)));
  // Small graphs name everyone; larger ones name the highlighted, the selected and the best connected,
  // and the rest on hover (each node's title), so the names stay readable up to 200 people.
  const big = nodes.length > 30;
  const strength = new Map();
  for (const l of links) {
    for (const end of [l.source.key ?? l.source, l.target.key ?? l.target]) {
      strength.set(end, (strength.get(end) || 0) + l.weight);
    }
  }
  const named = new Set(
    big
      ? [...nodes].sort((a, b) => (strength.get(b.key) || 0) - (strength.get(a.key) || 0)).slice(0, 12).map((d) => d.key)
      : nodes.map((d) => d.key),
  );
  for (const d of nodes) if (d.hl || d.key === view.selected) named.add(d.key);
  const slotted = nodes.filter((d) => d.slot !== undefined).length;
  const padY = 26;
  const xs = nodes.map((d) => d.x);
  const ys = nodes.map((d) => d.y);
  const [cx, cy] = [(Math.min(...xs) + Math.max(...xs)) / 2, (Math.min(...ys) + Math.max(...ys)) / 2];
  const spanY = Math.max(1, Math.max(...ys) - Math.min(...ys));
  // The largest scale (at most 1) at which every node and its label (beside it, on the outer side) fits.
  let scale = Math.min(1, (maxHeight - 2 * padY) / spanY);
  for (const d of nodes) {
    const dx = d.x - cx;
    const text = named.has(d.key) ? textWidth(d.name, d.hl) + 16 : 10;
    const reach = d.slot !== undefined && slotted > 2 ? text / 2 : text;
    if (Math.abs(dx) > 1) scale = Math.min(scale, (width / 2 - 6 - reach) / Math.abs(dx));
  }
  scale = Math.max(scale, 0.05);
  const height = Math.round(Math.max(160, spanY * scale + 2 * padY));
  for (const d of nodes) {
    d.px = width / 2 + (d.x - cx) * scale;
    d.py = height / 2 + (d.y - cy) * scale;
    d.left = d.x - cx < -1;
  }
  if (big) dropCrowdedLabels(nodes, named, strength, view.selected);
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("height", height);
  svg.setAttribute("data-nodes", nodes.length);
  svg.setAttribute("data-edges", links.length);
  svg.replaceChildren();
  const byKey = new Map(nodes.map((d) => [d.key, d]));
  const edgeLayer = s("g", { class: "edges" });
  const nodeLayer = s("g", { class: "nodes" });
  const maxWeight = Math.max(1, ...links.map((l) => l.weight));
  for (const link of links) {
    const a = byKey.get(link.source.key ?? link.source);
    const b = byKey.get(link.target.key ?? link.target);
    const width = 1 + 3 * Math.sqrt(link.weight / maxWeight);
    const line = s("line", {
      class: link.hl ? "edge hl" : "edge",
      "data-key": link.key,
      "data-weight": link.weight,
      x1: a.px, y1: a.py, x2: b.px, y2: b.py,
      stroke: link.hl ? "var(--highlight)" : "var(--edge)",
      "stroke-width": link.hl ? width + 1.5 : width,
      "stroke-linecap": "round",
    });
    const hit = s("line", { x1: a.px, y1: a.py, x2: b.px, y2: b.py, stroke: "transparent", "stroke-width": 12, class: "edge-hit" });
    const show = () => showEdge(view, graph.edges.get(link.key), a, b);
    hit.addEventListener("mouseenter", show);
    hit.addEventListener("click", show);
    edgeLayer.append(s("g", {}, line, hit));
  }
  for (const d of nodes) {
    const owner = Boolean(d.profile_id);
    const r = (owner ? 8 : 5.5) * (big ? 0.75 : 1);
    const group = s("g", {
      class: "node" + (d.hl ? " hl" : "") + (owner ? " owner" : " listed"),
      "data-key": d.key,
      "data-name": d.name,
      "data-owner": owner ? "true" : "false",
      transform: `translate(${d.px.toFixed(1)},${d.py.toFixed(1)})`,
      tabindex: 0,
      role: "button",
      style: "cursor:pointer;pointer-events:bounding-box",
    });
    group.append(s("title", {}, owner ? `${d.name} (profile ${d.profile_id})` : `${d.name} (known from author lists)`));
    if (d.hl || view.selected === d.key) {
      group.append(s("circle", { r: r + 4, fill: "none", stroke: "var(--highlight)", "stroke-width": 2.5 }));
    }
    group.append(
      s("circle", {
        r,
        fill: owner ? "var(--accent)" : "var(--bg)",
        stroke: owner ? "var(--bg)" : "var(--listed)",
        "stroke-width": owner ? 1.5 : 2,
      }),
    );
    if (named.has(d.key)) {
      group.append(
        s("text", {
          ...(d.slot === undefined || slotted <= 2
            ? { x: d.left ? -(r + 5) : r + 5, y: 4, "text-anchor": d.left ? "end" : "start" }
            : { x: 0, y: d.slot % 2 ? r + 18 : -(r + 9), "text-anchor": "middle" }), "font-size": d.hl ? 13 : 11.5, "font-weight": d.hl ? 600 : 400,
          fill: "var(--text)", stroke: "var(--bg)", "stroke-width": 3, "paint-order": "stroke",
        }, d.name),
      );
    }
    group.addEventListener("click", () => select(view, d));
    group.addEventListener("keydown", (event) => event.key === "Enter" && select(view, d));
    nodeLayer.append(group);
  }
  svg.append(edgeLayer, nodeLayer);
  view.status.textContent = graph.capped ? `Showing ${MAX_NODES} people; ${graph.capped} more left out.` : "";
}

// In a big graph, a name that would overlap one already placed is left to the hover title; the
// highlighted and selected people are always named (placed first), then the best connected.
function dropCrowdedLabels(nodes, named, strength, selected) {
  const rank = (d) => (d.hl || d.key === selected ? 1e9 : strength.get(d.key) || 0);
  const placed = [];
  for (const d of [...nodes].filter((n) => named.has(n.key)).sort((a, b) => rank(b) - rank(a))) {
    const w = textWidth(d.name, d.hl) + 10;
    const box = d.left ? [d.px - w, d.px, d.py - 9, d.py + 7] : [d.px, d.px + w, d.py - 9, d.py + 7];
    const clash = placed.some((o) => box[0] < o[1] && o[0] < box[1] && box[2] < o[3] && o[2] < box[3]);
    if (clash && rank(d) < 1e9) named.delete(d.key);
    else placed.push(box);
  }
}

let measure = null;
function textWidth(text, bold) {
  measure ??= document.createElement("canvas").getContext("2d");
  measure.font = `${bold ? "600 13px" : "11.5px"} ${getComputedStyle(document.body).fontFamily}`;
  return measure.measureText(text).width;
}

function showEdge(view, edge, a, b) {
  const { info } = view;
  info.hidden = false;
  put(info, 
    h("b", {}, `${a.name} — ${b.name}`),
    h("span", { class: "muted" }, ` · ${edge.weight} shared paper(s)${edge.papers.length < edge.weight ? `, ${edge.papers.length} shown` : ""}`),
    h(
      "ul",
      { class: "plain small", id: "edge-papers" },
      edge.papers.map((p) => h("li", {}, p.title, p.date ? h("span", { class: "badge" }, p.date) : null)),
    ),
  );
}

async function select(view, node) {
  view.selected = node.key;
  const { card, app } = view;
  card.hidden = false;
  card.className = "detail";
  card.removeAttribute("data-name");
  put(card, h("span", { class: "muted" }, `Loading ${node.name}…`));
  draw(view, false);
  let author;
  try {
    author = await callTool(app, "get_author", { ...who(node), papers_limit: 3 });
  } catch (error) {
    put(card, h("span", { class: "error" }, error.message));
    return;
  }
  if (view.selected !== node.key) return;
  card.setAttribute("data-name", author.name);
  const expand = h("button", { class: "primary", id: "expand" }, "Expand: add their coauthors");
  expand.addEventListener("click", () => expandNode(view, node, expand));
  const years = yearSpan(author.years_active);
  put(card, 
    h("div", { class: "row" }, h("b", { style: "font-size:15px" }, author.name),
      h("span", { class: "muted small" }, author.profile_id ? `profile ${author.profile_id}` : "known from author lists")),
    author.candidates.length
      ? h("div", { class: "small" }, `${author.candidates.length} profiles share this name; pick one by profile id.`)
      : null,
    !node.profile_id && author.profile_id
      ? h("div", { class: "small muted" }, "This name also belongs to a profile: the card shows the profile, which may be a namesake.")
      : null,
    h("div", { class: "figures" },
      figure(formatNumber(author.papers_in_catalog), "papers here"),
      figure(formatNumber(author.h_index), "h-index"),
      figure(formatNumber(author.citations), "citations"),
      figure(years, "years")),
    h("ul", { class: "plain small", style: "margin-top:6px" },
      author.papers.map((p) => h("li", {}, p.title, h("span", { class: "badge" }, p.date)))),
    h("div", { class: "row", style: "margin-top:6px" }, expand),
  );
}

async function expandNode(view, node, button) {
  button.disabled = true;
  button.textContent = "Adding coauthors…";
  try {
    const result = await callTool(view.app, "coauthors", { ...who(node), limit: 100 });
    const before = view.graph.nodes.size;
    view.graph.addCoauthors(result);
    const added = view.graph.nodes.size - before;
    button.textContent = added ? `Added ${added} people` : "No one new";
    draw(view);
  } catch (error) {
    button.textContent = error.message.slice(0, 80);
  }
}

startView("network", render);
