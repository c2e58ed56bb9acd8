// Trend view for topic_trends: papers per year (stacked: with / without code) or per category.
import { add, fillYears, h, legend, startView, yearBars } from "./common.js";

function render(result, app, root) {
  const what = result.query ? `“${result.query}”` : "All papers";
  const by = result.group_by === "category" ? "per category" : "per year";
  const hover = h("div", { class: "muted small", id: "bar-info" }, " ");
  const onHover = (b) => (hover.textContent = `${b.key}: ${b.papers} paper(s), ${b.with_code} with code`);
  const withCode = result.buckets.reduce((sum, b) => sum + b.with_code, 0);
  add(root, 
    h("h1", {}, `${what} ${by}`),
    h("div", { class: "muted small" }, `${result.total.toLocaleString("en-US")} paper(s), ${withCode.toLocaleString("en-US")} with code`),
    legend([
      ["var(--code)", "with code"],
      ["var(--nocode)", "without code"],
    ]),
    result.group_by === "category"
      ? categoryBars(result.buckets, onHover)
      : yearBars(withGaps(result.buckets), { width: root.clientWidth || 600, height: 190, onHover }),
    hover,
    result.note ? h("div", { class: "note" }, result.note) : null,
  );
}

// Years without papers show as gaps rather than disappearing.
function withGaps(buckets) {
  if (!buckets.every((b) => /^\d{4}$/.test(String(b.key)))) return buckets;
  return fillYears(new Map(buckets.map((b) => [Number(b.key), b])));
}

// One row per category, longest first: a bar is papers, its darker part those with code.
function categoryBars(buckets, onHover) {
  const max = Math.max(1, ...buckets.map((b) => b.papers));
  const rows = [...buckets].sort((a, b) => b.papers - a.papers);
  return h(
    "div",
    { class: "chart", "data-bars": rows.length },
    rows.map((b) => {
      const row = h(
        "div",
        { class: "bar row", "data-key": b.key, "data-papers": b.papers, "data-with-code": b.with_code, style: "flex-wrap:nowrap;margin:3px 0" },
        h("span", { style: "width:3.5em;flex:none", class: "small" }, b.key),
        h(
          "span",
          { style: `flex:none;display:flex;height:14px;width:${(78 * b.papers) / max}%;border-radius:3px;overflow:hidden` },
          h("span", { style: `background:var(--code);width:${(100 * b.with_code) / Math.max(1, b.papers)}%` }),
          h("span", { style: "background:var(--nocode);flex:1" }),
        ),
        h("span", { class: "small muted" }, b.papers.toLocaleString("en-US")),
      );
      row.addEventListener("mouseenter", () => onHover(b));
      return row;
    }),
  );
}

startView("trend", render);
