// Author view for get_author: figures, papers per year (with / without code), topics, coauthors, papers.
import { add, put, callTool, figure, yearSpan, fillYears, formatNumber, h, legend, startView, who, yearBars } from "./common.js";

const MAX_PAGES = 20; // papers per year are counted from at most 2,000 papers (search_papers pages of 100)

function render(result, app, root) {
  if (result.candidates?.length) {
    renderCandidates(result, app, root);
    return;
  }
  const resolution = result.resolution;
  const matched =
    resolution.match === "fuzzy" || resolution.match === "normalized"
      ? `matched “${resolution.query}” (${resolution.match}${resolution.match === "fuzzy" ? `, ${Math.round(resolution.confidence * 100)}%` : ""})`
      : null;
  const years = yearSpan(result.years_active);
  const chart = h("div", { id: "per-year" }, h("p", { class: "muted small" }, "Counting papers per year…"));
  const papers = h("ul", { class: "plain", id: "papers" });
  add(root, 
    h("h1", {}, result.name),
    h(
      "div",
      { class: "muted small" },
      [result.profile_id ? `profile ${result.profile_id}` : "known from author lists", result.primary_category, matched]
        .filter(Boolean)
        .join(" · "),
    ),
    h(
      "div",
      { class: "figures" },
      figure(formatNumber(result.papers_in_catalog), "papers here"),
      figure(formatNumber(result.h_index), "h-index"),
      figure(formatNumber(result.citations), "citations"),
      figure(years, "years active"),
      result.papers_declared !== null && result.papers_declared !== undefined
        ? figure(formatNumber(result.papers_declared), "papers stated")
        : null,
    ),
    h("h2", {}, "Papers per year"),
    chart,
    topics(result),
    result.top_coauthors.length ? h("h2", {}, "Top coauthors") : null,
    result.top_coauthors.length
      ? h(
          "div",
          { id: "coauthors" },
          result.top_coauthors.map((c) =>
            h("span", { class: "chip", title: c.titles.join("\n") }, `${c.name} · ${c.shared_papers}`),
          ),
        )
      : null,
    h("h2", {}, "Papers"),
    papers,
    result.note ? h("div", { class: "note" }, result.note) : null,
  );
  listPapers(app, papers, result.papers);
  perYear(app, result).then(
    (all) => {
      const counts = new Map();
      for (const p of all) {
        const year = Number(p.date.slice(0, 4));
        const c = counts.get(year) || { papers: 0, with_code: 0 };
        c.papers++;
        if (p.has_code) c.with_code++;
        counts.set(year, c);
      }
      const hover = h("div", { class: "muted small", id: "bar-info" }, " ");
      put(chart, 
        legend([
          ["var(--code)", "with code"],
          ["var(--nocode)", "without code"],
        ]),
        yearBars(fillYears(counts), {
          width: chart.clientWidth || 600,
          onHover: (b) => (hover.textContent = `${b.key}: ${b.papers} paper(s), ${b.with_code} with code`),
        }),
        hover,
      );
      if (all.length > result.papers.length) {
        const more = h("button", { id: "all-papers" }, `Show all ${all.length} papers`);
        more.addEventListener("click", () => {
          papers.replaceChildren();
          listPapers(app, papers, all);
        });
        papers.after(h("div", { class: "row", style: "margin-top:6px" }, more));
      }
    },
    (error) => put(chart, h("p", { class: "error small" }, error.message)),
  );
}

function topics(result) {
  if (!Array.isArray(result.topics) || !result.topics.length) return null;
  const max = Math.max(...result.topics.map((t) => t.weight || 0), 1e-9);
  return h(
    "div",
    { id: "topics" },
    h("h2", {}, "Topics"),
    result.topics.map((t) =>
      h("span", { class: "chip", style: `opacity:${0.55 + 0.45 * ((t.weight || 0) / max)}` }, t.term),
    ),
  );
}

// Every paper of the person (through the host: search_papers pages), unless the result already has all.
async function perYear(app, result) {
  if (result.papers.length >= result.papers_in_catalog) return result.papers;
  const filter = result.profile_id ? { author_profile_id: result.profile_id } : { author: result.name };
  const all = [];
  let cursor = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const found = await callTool(app, "search_papers", { ...filter, sort: "date", limit: 100, ...(cursor ? { cursor } : {}) });
    all.push(...found.results);
    cursor = found.next_cursor;
    if (!cursor) break;
  }
  return all;
}

function listPapers(app, list, papers) {
  for (const paper of papers) {
    const detail = h("div", { class: "detail", hidden: true });
    const title = h("span", { class: "paper-title", role: "button", tabindex: 0, "data-paper-id": paper.paper_id }, paper.title);
    const open = () => togglePaper(app, paper, detail);
    title.addEventListener("click", open);
    title.addEventListener("keydown", (event) => event.key === "Enter" && open());
    list.append(
      h(
        "li",
        {},
        title,
        h("div", { class: "small muted" },
          paper.date, " · ", paper.category,
          paper.has_code ? h("span", { class: "badge code" }, "code") : null,
          paper.score !== null && paper.score !== undefined ? h("span", { class: "badge" }, `score ${paper.score}`) : null),
        detail,
      ),
    );
  }
}

async function togglePaper(app, paper, detail) {
  if (!detail.hidden) {
    detail.hidden = true;
    return;
  }
  detail.hidden = false;
  if (detail.dataset.loaded) return;
  put(detail, h("span", { class: "muted" }, "Loading the full record…"));
  try {
    const full = await callTool(app, "get_paper", { paper_id: paper.paper_id });
    detail.dataset.loaded = "1";
    put(detail, 
      h("div", {}, h("b", {}, "Authors: "),
        full.authors.map((a, i) => [i ? ", " : "", a.profile_id ? h("b", {}, a.name) : a.name]),
        full.authors_truncated ? " et al." : ""),
      full.affiliations.length ? h("div", { class: "muted" }, full.affiliations.join("; ")) : null,
      full.abstract ? h("p", { style: "margin:6px 0" }, full.abstract) : null,
      h("div", { class: "muted small" }, `Listed in ${full.listed_in.length} profile(s): `,
        full.listed_in.map((l) => l.profile_name).join(", ")),
    );
  } catch (error) {
    put(detail, h("span", { class: "error" }, error.message));
  }
}

function renderCandidates(result, app, root) {
  add(root, 
    h("h1", {}, result.name),
    h("p", { class: "muted" }, result.note || "Several profiles share this name."),
    h(
      "ul",
      { class: "plain", id: "candidates" },
      result.candidates.map((c) => {
        const button = h("button", {}, "Show");
        button.addEventListener("click", async () => {
          button.disabled = true;
          const chosen = await callTool(app, "get_author", who(c));
          root.replaceChildren();
          render(chosen, app, root);
        });
        return h("li", { class: "row" }, h("b", {}, c.name),
          h("span", { class: "muted small" }, `${c.profile_id} · ${c.primary_category || "?"} · h-index ${c.h_index ?? "–"} · ${c.papers} papers`),
          button,
          c.top_paper ? h("div", { class: "small", style: "flex-basis:100%" }, c.top_paper) : null);
      }),
    ),
  );
}

startView("author", render);
