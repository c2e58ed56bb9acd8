// Shared by the views: connecting to the host, theme, DOM helpers (text only, never innerHTML), charts.
import { App, applyDocumentTheme, applyHostFonts, applyHostStyleVariables } from "@modelcontextprotocol/ext-apps";

const SVG_NS = "http://www.w3.org/2000/svg";

export function h(tag, attrs = {}, ...children) {
  return build(document.createElement(tag), attrs, children);
}

export function s(tag, attrs = {}, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attrs, children);
}

const present = (children) => children.flat().filter((c) => c !== null && c !== undefined && c !== false);

// append / replaceChildren that skip null, undefined and false (the DOM would print them as text)
export const add = (parent, ...children) => parent.append(...present(children));
export const put = (parent, ...children) => parent.replaceChildren(...present(children));

function build(node, attrs, children) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function applyContext(context) {
  if (!context) return;
  if (context.theme) applyDocumentTheme(context.theme);
  if (context.styles?.variables) applyHostStyleVariables(context.styles.variables);
  if (context.styles?.css?.fonts) applyHostFonts(context.styles.css.fonts);
}

// Connect to the host; onResult(structuredContent, app) runs for each tool result the host sends.
export async function startView(name, onResult) {
  const root = document.getElementById("root");
  const app = new App({ name: `scholar-catalog ${name} view`, version: "1.0.0" }, {}, { autoResize: true });
  app.ontoolresult = (result) => {
    root.replaceChildren();
    if (result.isError || !result.structuredContent) {
      const text = (result.content || []).map((c) => c.text || "").join(" ");
      root.append(h("p", { class: "error" }, text || "The tool returned no structured result."));
      return;
    }
    try {
      onResult(result.structuredContent, app, root);
    } catch (error) {
      root.append(h("p", { class: "error" }, `Could not show this result: ${error.message}`));
    }
  };
  app.onhostcontextchanged = applyContext;
  root.append(h("p", { class: "muted" }, "Waiting for the result…"));
  await app.connect();
  applyContext(app.getHostContext());
  return app;
}

// Call a server tool through the host; the structured result, or an Error with the tool's message.
export async function callTool(app, name, args) {
  const result = await app.callServerTool({ name, arguments: args });
  if (result.isError || !result.structuredContent) {
    throw new Error((result.content || []).map((c) => c.text || "").join(" ") || `${name} failed`);
  }
  return result.structuredContent;
}

export function who(person) {
  return person.profile_id ? { profile_id: person.profile_id } : { name: person.name };
}

export const formatNumber = (n) => (n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"));

// [2019, 2026] -> "2019–26" (short enough for a figure box at 400 px)
export function yearSpan(range) {
  if (!range?.length) return "–";
  const [first, last] = range.map(String);
  if (first === last) return first;
  return first.slice(0, 2) === last.slice(0, 2) ? `${first}–${last.slice(2)}` : `${first}–${last}`;
}

export function figure(value, label) {
  return h("div", { class: "figure" }, h("b", {}, value), h("span", {}, label));
}

// Stacked bars per year: with code at the bottom, without above. buckets: [{key, papers, with_code}].
export function yearBars(buckets, { width = 600, height = 150, onHover } = {}) {
  const pad = { top: 10, right: 6, bottom: 22, left: 30 };
  const max = Math.max(1, ...buckets.map((b) => b.papers));
  const step = (width - pad.left - pad.right) / Math.max(1, buckets.length);
  const bar = Math.max(3, Math.min(28, step * 0.72));
  const y = (v) => pad.top + (height - pad.top - pad.bottom) * (1 - v / max);
  const chart = s("svg", {
    class: "chart",
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    style: "max-width:100%;height:auto;display:block",
    role: "img",
    "aria-label": "Papers per year, with and without code",
    "data-bars": buckets.length,
  });
  for (const tick of niceTicks(max)) {
    chart.append(
      s("line", { x1: pad.left, x2: width - pad.right, y1: y(tick), y2: y(tick), stroke: "var(--border)" }),
      s("text", { x: pad.left - 5, y: y(tick) + 4, "text-anchor": "end", "font-size": 10, fill: "var(--text-2)" }, tick),
    );
  }
  const labelEvery = Math.max(1, Math.ceil(buckets.length / Math.floor((width - pad.left) / 38)));
  buckets.forEach((b, i) => {
    const x = pad.left + i * step + (step - bar) / 2;
    const group = s("g", {
      class: "bar",
      "data-key": b.key,
      "data-papers": b.papers,
      "data-with-code": b.with_code,
    });
    group.append(
      s("title", {}, `${b.key}: ${b.papers} paper(s), ${b.with_code} with code`),
      s("rect", { x: pad.left + i * step, y: pad.top, width: step, height: height - pad.top - pad.bottom, fill: "transparent" }),
      s("rect", { class: "code", x, y: y(b.with_code), width: bar, height: y(0) - y(b.with_code), fill: "var(--code)", rx: 1.5 }),
      s("rect", { class: "nocode", x, y: y(b.papers), width: bar, height: y(b.with_code) - y(b.papers), fill: "var(--nocode)", rx: 1.5 }),
    );
    if (i % labelEvery === 0 || i === buckets.length - 1) {
      group.append(
        s("text", { x: x + bar / 2, y: height - 6, "text-anchor": "middle", "font-size": 10, fill: "var(--text-2)" }, String(b.key)),
      );
    }
    if (onHover) group.addEventListener("mouseenter", () => onHover(b));
    chart.append(group);
  });
  return chart;
}

function niceTicks(max) {
  const raw = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(raw || 1));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((m) => m >= raw) || magnitude;
  const ticks = [];
  for (let t = 0; t <= max; t += Math.max(1, step)) ticks.push(t);
  return ticks;
}

export function legend(items) {
  return h(
    "div",
    { class: "legend" },
    items.map(([color, label, ring]) =>
      h("span", {}, h("i", { style: ring ? `border:2px solid ${color}` : `background:${color}` }), label),
    ),
  );
}

// Every year from the first to the last, so gaps show as gaps.
export function fillYears(counts) {
  const years = [...counts.keys()].map(Number);
  if (!years.length) return [];
  const out = [];
  for (let year = Math.min(...years); year <= Math.max(...years); year++) {
    const c = counts.get(year) || { papers: 0, with_code: 0 };
    out.push({ key: year, papers: c.papers, with_code: c.with_code });
  }
  return out;
}
