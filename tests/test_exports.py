"""Exports: networks read back by NetworkX's own GraphML/GEXF readers, papers by a BibTeX parser."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import anyio
import bibtexparser
import networkx as nx
import pytest
from click.testing import CliRunner

from conftest import EXAMPLES, build_catalog
from scholar_catalog.db.catalog import Catalog
from scholar_catalog.server.app import build_server
from scholar_catalog.server.cli import cli
from scholar_catalog.tools import coauthors, search_papers
from scholar_catalog.tools.common import ToolInputError
from scholar_catalog.tools.exports import (
    bibtex_key,
    export_papers,
    latex_escape,
    network_csv,
    network_gexf,
    network_graph,
    network_graphml,
    papers_bibtex,
    papers_csv,
    papers_jsonl,
)
from scholar_catalog.tools.models import PaperSummary

ZOE = "ex02_zoe-hartmann"


@pytest.fixture(scope="module")
def catalog(example_db: Path) -> Catalog:
    return Catalog(example_db)


def _key(name: str, profile_id: str | None) -> str:
    return profile_id or f"name:{name}"


def test_graphml_reads_back_in_networkx_with_the_coauthors_and_their_shared_papers(catalog: Catalog) -> None:
    graph = nx.read_graphml(io.StringIO(network_graphml(network_graph(catalog, profile_id=ZOE))))
    expected = coauthors(catalog, profile_id=ZOE, limit=100)
    assert set(graph.neighbors(ZOE)) == {_key(c.name, c.profile_id) for c in expected.coauthors}
    for person in expected.coauthors:
        assert graph.edges[ZOE, _key(person.name, person.profile_id)]["weight"] == person.shared_papers
    assert graph.nodes[ZOE]["name"] == "Zoë Hartmann"
    assert graph.nodes[ZOE]["profile_owner"] is True
    assert graph.nodes[ZOE]["hops"] == 0
    listed_only = [n for n, data in graph.nodes(data=True) if not data["profile_owner"]]
    assert listed_only and all(n.startswith("name:") for n in listed_only)


def test_edges_join_coauthors_to_each_other_and_name_the_papers(catalog: Catalog) -> None:
    network = network_graph(catalog, profile_id=ZOE)
    graph = nx.read_graphml(io.StringIO(network_graphml(network)))
    assert graph.number_of_edges() == len(network.edges) > len(list(graph.neighbors(ZOE)))
    for _, _, data in graph.edges(data=True):
        paper_ids = [int(p) for p in data["paper_ids"].split()]
        assert len(paper_ids) == data["weight"]


def test_gexf_reads_back_in_networkx_with_the_same_graph(catalog: Catalog) -> None:
    network = network_graph(catalog, profile_id=ZOE, depth=2)
    from_gexf = nx.read_gexf(io.StringIO(network_gexf(network)))
    from_graphml = nx.read_graphml(io.StringIO(network_graphml(network)))
    assert set(from_gexf.nodes) == set(from_graphml.nodes)
    assert {frozenset(e) for e in from_gexf.edges} == {frozenset(e) for e in from_graphml.edges}
    for a, b, data in from_graphml.edges(data=True):
        assert from_gexf.edges[a, b]["weight"] == data["weight"]
    assert from_gexf.nodes[ZOE]["label"] == "Zoë Hartmann"


def test_depth_two_adds_coauthors_of_coauthors(catalog: Catalog) -> None:
    one = network_graph(catalog, profile_id=ZOE, depth=1)
    two = network_graph(catalog, profile_id=ZOE, depth=2)
    assert {n.id for n in one.nodes} < {n.id for n in two.nodes}
    assert {n.hops for n in two.nodes} == {0, 1, 2}
    with pytest.raises(ToolInputError, match="depth"):
        network_graph(catalog, profile_id=ZOE, depth=3)


def test_namesakes_stay_two_people_and_an_ambiguous_name_asks_for_a_profile_id(catalog: Catalog) -> None:
    with pytest.raises(ToolInputError, match="profile_id"):
        network_graph(catalog, "Wei Zhang")
    for profile_id in ("ex05_wei-zhang-db", "ex09_wei-zhang-cv"):
        network = network_graph(catalog, profile_id=profile_id, depth=2)
        assert network.center.id == profile_id
        assert len([n for n in network.nodes if n.name == "Wei Zhang" and n.profile_id]) <= 2
        assert len({n.id for n in network.nodes}) == len(network.nodes)


def test_network_csv_is_an_edge_list_with_a_header(catalog: Catalog) -> None:
    network = network_graph(catalog, profile_id=ZOE)
    rows = list(csv.DictReader(io.StringIO(network_csv(network))))
    assert len(rows) == len(network.edges)
    assert set(rows[0]) == {"source", "target", "weight", "paper_ids", "source_name", "target_name"}
    assert all(int(r["weight"]) == len(r["paper_ids"].split()) for r in rows)


def _parse(text: str) -> bibtexparser.Library:
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks, [b.error for b in library.failed_blocks]
    return library


def test_bibtex_parses_with_one_entry_per_paper_and_truncated_lists_end_in_and_others(catalog: Catalog) -> None:
    papers = export_papers(catalog, query="retrieval")
    assert len(papers) == search_papers(catalog, query="retrieval").total > 10  # every page, not only the first
    library = _parse(papers_bibtex(papers))
    assert len(library.entries) == len(papers)
    assert len({e.key for e in library.entries}) == len(papers)
    for entry, paper in zip(library.entries, papers, strict=True):
        assert entry["title"] == "{" + latex_escape(paper.title) + "}"
        assert entry["year"] == paper.date[:4]
        assert entry["author"].endswith(" and others") == paper.authors_truncated
    assert any(p.authors_truncated for p in papers)


def test_bibtex_keys_are_stable_across_runs_and_rebuilds(catalog: Catalog, tmp_path: Path) -> None:
    first = [e.key for e in _parse(papers_bibtex(export_papers(catalog, sort="date"))).entries]
    files = sorted(EXAMPLES.glob("*.txt"), reverse=True)  # another ingest order: other row ids
    other = Catalog(build_catalog(tmp_path / "other.db", *files))
    again = [e.key for e in _parse(papers_bibtex(export_papers(other, sort="date"))).entries]
    assert sorted(first) == sorted(again)
    assert first == [e.key for e in _parse(papers_bibtex(export_papers(catalog, sort="date"))).entries]


def test_latex_specials_are_escaped_and_survive_a_parse() -> None:
    paper = PaperSummary(
        paper_id=1,
        title="50% of {cases} & $costs$ in C# under_score ~ ^ \\ Łódź",
        date="2024-03-05",
        category="CL",
        score=None,
        has_code=True,
        authors=["Ana Ruiz", "R&D Team"],
        authors_truncated=False,
    )
    entry = _parse(papers_bibtex([paper])).entries[0]
    assert entry["title"] == (r"{50\% of \{cases\} \& \$costs\$ in C\# under\_score \~{} \^{} \textbackslash{} Łódź}")
    assert entry["author"] == r"Ana Ruiz and R\&D Team"
    assert entry.key == bibtex_key(paper) == "ruiz202450_" + entry.key.rsplit("_", 1)[1]


def test_papers_csv_and_jsonl_carry_every_paper(catalog: Catalog) -> None:
    papers = export_papers(catalog, author="Zoë Hartmann")
    rows = list(csv.DictReader(io.StringIO(papers_csv(papers))))
    assert [int(r["paper_id"]) for r in rows] == [p.paper_id for p in papers]
    assert rows[0]["title"] == papers[0].title
    lines = papers_jsonl(papers).splitlines()
    assert [json.loads(line)["paper_id"] for line in lines] == [p.paper_id for p in papers]


def test_an_export_never_falls_back_to_closest_titles(catalog: Catalog) -> None:
    with pytest.raises(ToolInputError, match="nothing to export"):
        export_papers(catalog, query="Calibrated Abstension Retreival")


def test_cli_exports_to_stdout_and_to_a_file(example_db: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["export", "network", "Zoe Hartmann", "--format", "graphml", "--db", str(example_db)])
    assert result.exit_code == 0, result.output
    assert ZOE in nx.read_graphml(io.StringIO(result.stdout))
    target = tmp_path / "papers.bib"
    result = runner.invoke(
        cli,
        [
            "export",
            "papers",
            "--author",
            "Zoë Hartmann",
            "--year-from",
            "2024",
            "--format",
            "bibtex",
            "-o",
            str(target),
            "--db",
            str(example_db),
        ],
    )
    assert result.exit_code == 0, result.output
    years = {int(e["year"]) for e in _parse(target.read_text(encoding="utf-8")).entries}
    assert years and min(years) >= 2024


def test_cli_export_of_an_unknown_name_fails_with_the_closest_names(example_db: Path) -> None:
    result = CliRunner().invoke(cli, ["export", "network", "Zoe Hartman", "--format", "csv", "--db", str(example_db)])
    assert result.exit_code == 0  # a close typo still resolves
    result = CliRunner().invoke(cli, ["export", "network", "Qqq Xxxx", "--format", "csv", "--db", str(example_db)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: No author matches 'Qqq Xxxx'")


def test_exports_are_mcp_resources(example_db: Path) -> None:
    async def read(uri: str) -> tuple[str, str]:
        from mcp import Client

        async with Client(build_server(example_db)) as client:
            content = (await client.read_resource(uri)).contents[0]
            return content.mime_type or "", content.text  # type: ignore[union-attr]

    mime, text = anyio.run(read, f"catalog://author/{ZOE}/network.graphml")
    assert mime == "application/graphml+xml"
    assert ZOE in nx.read_graphml(io.StringIO(text))
    mime, text = anyio.run(read, f"catalog://author/{ZOE}/papers.bib")
    assert mime == "application/x-bibtex"
    assert len(_parse(text).entries) == search_papers(Catalog(example_db), author_profile_id=ZOE).total
