"""Exports people take away: a collaboration network (GraphML, GEXF, CSV) and papers (BibTeX, CSV, JSONL).

Plain functions like the tools: :func:`network_graph` and :func:`export_papers` read the catalog, the
``*_graphml`` / ``*_bibtex`` ... functions turn the result into text. The CLI (``scholar-catalog export``)
and the MCP resources ``catalog://author/{profile_id}/network.graphml`` and ``.../papers.bib`` call them.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal
from xml.sax.saxutils import escape, quoteattr

from scholar_catalog.db.catalog import Catalog, Connection
from scholar_catalog.db.normalize import normalize_title

from .common import ToolInputError, ambiguous_error, resolve_person
from .models import PaperSummary
from .papers import search_papers

MAX_NODES = 5000
MAX_PAPERS = 10_000
PAGE = 100

NetworkFormat = Literal["graphml", "gexf", "csv"]
PapersFormat = Literal["bibtex", "csv", "jsonl"]


@dataclass
class Node:
    id: str  # profile_id when the person owns a profile, else "name:" + their name (unique among them)
    name: str
    profile_id: str | None
    hops: int
    papers: int
    h_index: int | None = None
    citations: int | None = None
    primary_category: str | None = None


@dataclass
class Edge:
    source: str
    target: str
    paper_ids: list[int]

    @property
    def weight(self) -> int:
        return len(self.paper_ids)


@dataclass
class Network:
    center: Node
    nodes: list[Node]
    edges: list[Edge]
    note: str


_NODE_ROWS = """SELECT a.id, a.name, a.profile_id,
       (SELECT count(*) FROM paper_authors pa WHERE pa.author_id = a.id),
       pr.h_index, pr.citations, pr.primary_category
    FROM authors a LEFT JOIN profiles pr ON pr.id = a.profile_id
    WHERE a.id IN (SELECT value FROM json_each(?))"""

_NEIGHBOURS = """SELECT DISTINCT other.author_id FROM paper_authors mine
    JOIN paper_authors other ON other.paper_id = mine.paper_id AND other.author_id != mine.author_id
    WHERE mine.author_id IN (SELECT value FROM json_each(?))"""

_EDGES = """SELECT x.author_id, y.author_id, x.paper_id FROM paper_authors x
    JOIN paper_authors y ON y.paper_id = x.paper_id AND y.author_id > x.author_id
    WHERE x.author_id IN (SELECT value FROM json_each(?)) AND y.author_id IN (SELECT value FROM json_each(?))
    ORDER BY x.paper_id"""


def network_graph(catalog: Catalog, name: str = "", profile_id: str | None = None, depth: int = 1) -> Network:
    """A researcher's collaboration network: them, their coauthors (and theirs, at depth 2), shared papers.

    Nodes are people (namesakes stay apart: a profile owner is keyed by profile_id, a person known only
    from author lists by name); an edge joins two people who share papers, weighted by how many.
    """
    if depth not in (1, 2):
        raise ToolInputError(f"`depth` must be 1 or 2 (got {depth}).")
    if not (name or "").strip() and not profile_id:
        raise ToolInputError("Give a researcher's name or a profile_id.")
    with catalog.connection() as conn:
        person, _, others = resolve_person(catalog, conn, name or "", profile_id)
        if others:
            raise ambiguous_error(conn, person, others, "profile_id (--profile-id)")
        hops = {person.author_id: 0}
        frontier = [person.author_id]
        note = f"Collaboration network of {person.name}, {depth} hop(s)."
        for level in range(1, depth + 1):
            found = [r[0] for r in conn.execute(_NEIGHBOURS, [json.dumps(frontier)]) if r[0] not in hops]
            found.sort()
            if len(hops) + len(found) > MAX_NODES:
                found = found[: MAX_NODES - len(hops)]
                note += f" Capped at {MAX_NODES} people."
            hops.update(dict.fromkeys(found, level))
            frontier = found
        nodes = _nodes(conn, hops)
        ids = json.dumps(list(hops))
        pairs: dict[tuple[int, int], list[int]] = {}
        for left, right, paper_id in conn.execute(_EDGES, [ids, ids]):
            pairs.setdefault((left, right), []).append(paper_id)
    edges = [Edge(nodes[a].id, nodes[b].id, papers) for (a, b), papers in sorted(pairs.items())]
    ordered = sorted(nodes.values(), key=lambda n: (n.hops, -n.papers, n.name, n.id))
    return Network(center=nodes[person.author_id], nodes=ordered, edges=edges, note=note)


def _nodes(conn: Connection, hops: dict[int, int]) -> dict[int, Node]:
    out: dict[int, Node] = {}
    for author_id, name, profile_id, papers, h_index, citations, category in conn.execute(
        _NODE_ROWS, [json.dumps(list(hops))]
    ):
        out[author_id] = Node(
            id=profile_id or f"name:{name}",
            name=name,
            profile_id=profile_id,
            hops=hops[author_id],
            papers=papers,
            h_index=h_index,
            citations=citations,
            primary_category=category,
        )
    return out


# -- network formats ------------------------------------------------------------------

# (attribute, GraphML/GEXF type, how to read it off a node)
_NODE_ATTRIBUTES: list[tuple[str, str, Any]] = [
    ("name", "string", lambda n: n.name),
    ("profile_id", "string", lambda n: n.profile_id or ""),
    ("profile_owner", "boolean", lambda n: n.profile_id is not None),
    ("hops", "int", lambda n: n.hops),
    ("papers", "int", lambda n: n.papers),
    ("h_index", "int", lambda n: n.h_index),
    ("citations", "int", lambda n: n.citations),
    ("primary_category", "string", lambda n: n.primary_category or ""),
]


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def network_graphml(network: Network) -> str:
    """GraphML (undirected), as NetworkX, Gephi, Cytoscape and yEd read it."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
        'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">',
    ]
    for key, kind, _ in _NODE_ATTRIBUTES:
        out.append(f'  <key id="{key}" for="node" attr.name="{key}" attr.type="{kind}"/>')
    out.append('  <key id="weight" for="edge" attr.name="weight" attr.type="int"/>')
    out.append('  <key id="paper_ids" for="edge" attr.name="paper_ids" attr.type="string"/>')
    out.append(f'  <graph id={quoteattr(network.center.id)} edgedefault="undirected">')
    for node in network.nodes:
        out.append(f"    <node id={quoteattr(node.id)}>")
        for key, _, read in _NODE_ATTRIBUTES:
            value = read(node)
            if value is not None:
                out.append(f'      <data key="{key}">{escape(_plain(value))}</data>')
        out.append("    </node>")
    for edge in network.edges:
        out.append(f"    <edge source={quoteattr(edge.source)} target={quoteattr(edge.target)}>")
        out.append(f'      <data key="weight">{edge.weight}</data>')
        out.append(f'      <data key="paper_ids">{" ".join(map(str, edge.paper_ids))}</data>')
        out.append("    </edge>")
    out += ["  </graph>", "</graphml>", ""]
    return "\n".join(out)


def network_gexf(network: Network) -> str:
    """GEXF 1.3 (Gephi's own format), undirected, edge weights = shared papers."""
    kinds = {"string": "string", "boolean": "boolean", "int": "integer"}
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<gexf xmlns="http://gexf.net/1.3" version="1.3">',
        f"  <meta><creator>scholar-catalog</creator><description>{escape(network.note)}</description></meta>",
        '  <graph defaultedgetype="undirected" mode="static">',
        '    <attributes class="node">',
    ]
    for index, (key, kind, _) in enumerate(_NODE_ATTRIBUTES):
        out.append(f'      <attribute id="{index}" title="{key}" type="{kinds[kind]}"/>')
    out += ["    </attributes>", '    <attributes class="edge">']
    out += ['      <attribute id="0" title="paper_ids" type="string"/>', "    </attributes>", "    <nodes>"]
    for node in network.nodes:
        out.append(f"      <node id={quoteattr(node.id)} label={quoteattr(node.name)}><attvalues>")
        for index, (_, _, read) in enumerate(_NODE_ATTRIBUTES):
            value = read(node)
            if value is not None:
                out.append(f'        <attvalue for="{index}" value={quoteattr(_plain(value))}/>')
        out.append("      </attvalues></node>")
    out.append("    </nodes>")
    out.append("    <edges>")
    for number, edge in enumerate(network.edges):
        out.append(
            f'      <edge id="{number}" source={quoteattr(edge.source)} target={quoteattr(edge.target)} '
            f'weight="{edge.weight}"><attvalues>'
            f'<attvalue for="0" value="{" ".join(map(str, edge.paper_ids))}"/></attvalues></edge>'
        )
    out += ["    </edges>", "  </graph>", "</gexf>", ""]
    return "\n".join(out)


def network_csv(network: Network) -> str:
    """An edge list with a header (Gephi's and Cytoscape's spreadsheet import): one row per pair."""
    names = {node.id: node for node in network.nodes}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["source", "target", "weight", "paper_ids", "source_name", "target_name"])
    for edge in network.edges:
        writer.writerow(
            [
                edge.source,
                edge.target,
                edge.weight,
                " ".join(map(str, edge.paper_ids)),
                names[edge.source].name,
                names[edge.target].name,
            ]
        )
    return buffer.getvalue()


NETWORK_FORMATS = {"graphml": network_graphml, "gexf": network_gexf, "csv": network_csv}


# -- papers -----------------------------------------------------------------------------


def export_papers(catalog: Catalog, limit: int = MAX_PAPERS, **filters: Any) -> list[PaperSummary]:
    """Every paper ``search_papers`` finds with *filters* (all pages, at most *limit*), in its order.

    Unlike search_papers, nothing is returned in place of an empty result: an export of "the closest
    titles" would be a surprise.
    """
    if not 1 <= limit <= MAX_PAPERS:
        raise ToolInputError(f"`limit` must be between 1 and {MAX_PAPERS} (got {limit}).")
    papers: list[PaperSummary] = []
    cursor = None
    while len(papers) < limit:
        page = search_papers(catalog, limit=min(PAGE, limit - len(papers)), cursor=cursor, **filters)
        if page.fuzzy_fallback:
            raise ToolInputError("No paper contains all these words; nothing to export. Try other words.")
        papers += page.results
        cursor = page.next_cursor
        if not cursor:
            break
    return papers


_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "_": r"\_",
    "^": r"\^{}",
    "~": r"\~{}",
}
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_STOP = {"a", "an", "the", "on", "of", "in", "for", "and", "to", "with", "via", "from", "towards", "toward"}


def latex_escape(text: str) -> str:
    """Escape LaTeX's special characters so BibTeX and LaTeX print *text* as written."""
    return "".join(_LATEX_SPECIALS.get(ch, ch) for ch in text)


_TRANSLITERATE = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "ł": "l", "đ": "d", "þ": "th", "ı": "i"})


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.lower().translate(_TRANSLITERATE))
    return re.sub(r"[^a-z0-9]", "", folded.encode("ascii", "ignore").decode())


def bibtex_key(paper: PaperSummary) -> str:
    """``surname`` + year + first title word + a short hash of the normalized title: stable across runs.

    The key depends only on the paper's text (never on catalog row ids), so re-exporting after a
    rebuild gives the same keys; the hash keeps two similar papers apart.
    """
    surname = _ascii_word(paper.authors[0].split()[-1]) if paper.authors and paper.authors[0].split() else ""
    words = [w for w in (_ascii_word(w) for w in paper.title.split()) if w and w not in _STOP]
    digest = hashlib.sha1(normalize_title(paper.title).encode()).hexdigest()[:4]
    return f"{surname or 'anon'}{paper.date[:4]}{words[0] if words else 'paper'}_{digest}"


def papers_bibtex(papers: list[PaperSummary]) -> str:
    """BibTeX ``@misc`` entries (BibTeX and biber parse them); truncated author lists end in ``and others``."""
    entries = []
    for paper in papers:
        authors = [latex_escape(name) for name in paper.authors]
        if paper.authors_truncated:
            authors.append("others")
        fields = [
            ("title", "{" + latex_escape(paper.title) + "}"),
            ("author", " and ".join(authors)),
            ("year", paper.date[:4]),
        ]
        if len(paper.date) >= 7 and paper.date[5:7].isdigit():
            fields.append(("month", _MONTHS[int(paper.date[5:7]) - 1]))
        fields.append(("date", paper.date))
        note = f"Category {paper.category}" + ("; code available" if paper.has_code else "")
        fields.append(("note", latex_escape(note)))
        body = ",\n".join(f"  {key} = {value}" if key == "month" else f"  {key} = {{{value}}}" for key, value in fields)
        entries.append(f"@misc{{{bibtex_key(paper)},\n{body}\n}}\n")
    return "\n".join(entries)


_CSV_COLUMNS = ["paper_id", "title", "date", "category", "has_code", "score", "authors", "authors_truncated"]


def papers_csv(papers: list[PaperSummary]) -> str:
    """CSV with a header; authors joined by '; '."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_CSV_COLUMNS)
    for paper in papers:
        writer.writerow(
            [
                paper.paper_id,
                paper.title,
                paper.date,
                paper.category,
                "true" if paper.has_code else "false",
                "" if paper.score is None else paper.score,
                "; ".join(paper.authors),
                "true" if paper.authors_truncated else "false",
            ]
        )
    return buffer.getvalue()


def papers_jsonl(papers: list[PaperSummary]) -> str:
    """One JSON object per line (the search_papers summary of each paper)."""
    return "".join(_lines(papers))


def _lines(papers: list[PaperSummary]) -> Iterator[str]:
    for paper in papers:
        yield json.dumps(paper.model_dump(mode="json", exclude_none=True), ensure_ascii=False) + "\n"


PAPERS_FORMATS = {"bibtex": papers_bibtex, "csv": papers_csv, "jsonl": papers_jsonl}
