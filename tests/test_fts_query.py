"""FTS5 escaping: what a user types is searched for as plain words, never run as FTS5 syntax.

A small catalog whose papers contain the operator words literally (``AND``, ``OR``, ``NOT``,
``NEAR``, ``title``, ``x``) shows the difference: escaped, ``x*`` finds the word ``x`` and not
``xylophone``, ``title:x`` finds the phrase "title x" and not every title with an x, and
``NOT x`` finds the paper that says "not x" instead of raising a syntax error.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ingest import profile, write

from conftest import build_catalog
from scholar_catalog.db.catalog import Catalog
from scholar_catalog.tools.papers import search_papers
from scholar_catalog.tools.search_plan import MAX_TERMS, fts_query

# Titles chosen so that each escaped query finds a known set, and the unescaped query another one.
PAPERS = {
    "and": "Cats AND Dogs",
    "or": "Retrieval OR Ranking",
    "dense": "Dense Retrieval",
    "not": "NOT x Marks the Spot",
    "x": "Why x Matters",
    "quote": 'The a"b Operator',
    "title": "Title x Ray Imaging",
    "xylophone": "Xylophone Acoustics",
    "near": "NEAR(a b) Queries",
    "apart": "Bridges a Long Way from b",
}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    folder = tmp_path_factory.mktemp("fts")
    entries = [(f"LGJan {day}, 2024", title, "Ines Quinn, Tomas Vey") for day, title in enumerate(PAPERS.values(), 1)]
    write(folder / "in" / "ines.txt", profile("Ines Quinn", *entries))
    handle = Catalog(build_catalog(folder / "catalog.db", folder / "in"))
    yield handle
    handle.close()


def found(catalog: Catalog, query: str) -> set[str]:
    result = search_papers(catalog, query=query, limit=100)
    assert not result.fuzzy_fallback, (query, result.note)
    return {paper.title for paper in result.results}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("AND", {"and"}),
        ("retrieval OR", {"or"}),
        ("NOT x", {"not"}),
        ('a"b', {"quote", "near"}),
        ("title:x", {"title"}),
        ("x*", {"not", "x", "title"}),
        ("NEAR(a b)", {"near"}),
        ("OR", {"or"}),
        ("NOT", {"not"}),
        ("NEAR", {"near"}),
        ("^title", {"title"}),
        ("-dense", {"dense"}),
        ("+cats", {"and"}),
        ('"x marks"', {"not"}),
        ('"x marks', {"not"}),
        ("a b", {"quote", "near", "apart"}),
    ],
)
def test_fts_operators_are_searched_as_the_words_they_are(catalog: Catalog, query: str, expected: set[str]) -> None:
    assert found(catalog, query) == {PAPERS[key] for key in expected}


def test_a_query_of_operators_and_no_words_lists_every_paper_and_says_so(catalog: Catalog) -> None:
    for query in ("(", ")", "*", '"', "^", ":", "-+"):
        result = search_papers(catalog, query=query, limit=100)
        assert result.query_used is None, query
        assert {paper.title for paper in result.results} == set(PAPERS.values()), query
        assert result.note == "The query has no words to search for; listing papers by the other filters."


@pytest.mark.parametrize(
    ("text", "query"),
    [
        ("retrieval", '"retrieval"'),
        ("  dense   retrieval ", '"dense" "retrieval"'),
        ("AND OR NOT", '"AND" "OR" "NOT"'),
        ("NEAR(a b)", '"NEAR a" "b"'),
        ("title:x", '"title x"'),
        ("x*", '"x"'),
        ("^x -y +z", '"x" "y" "z"'),
        ('a"b', '"a b"'),
        ('"dense retrieval" sparse', '"dense retrieval" "sparse"'),
        ('"dense retrieval', '"dense retrieval"'),
        ('sparse "dense, retrieval" late', '"sparse" "dense retrieval" "late"'),
        ('"" x', '"x"'),
        ('"*" (', ""),
        ("", ""),
        ("Zoë's café", '"Zoë s" "café"'),
        ("陈明", '"陈明"'),
        ("snake_case", '"snake case"'),
        ("_", ""),
        ("__init__", '"init"'),
    ],
)
def test_fts_query_quotes_every_word_and_phrase(text: str, query: str) -> None:
    assert fts_query(text) == query


def test_fts_query_keeps_at_most_max_terms_terms() -> None:
    words = [f"w{i}" for i in range(MAX_TERMS + 5)]
    assert fts_query(" ".join(words)) == " ".join(f'"{w}"' for w in words[:MAX_TERMS])
    assert fts_query(" ".join(words[: MAX_TERMS - 1])) == " ".join(f'"{w}"' for w in words[: MAX_TERMS - 1])
    # Terms without words do not count towards the limit.
    assert fts_query("* " * 40 + "last") == '"last"'


# -- fuzzing with FTS5 syntax -------------------------------------------------------------------

FTS_PIECES = [
    '"',
    "'",
    "(",
    ")",
    "*",
    "^",
    ":",
    "-",
    "+",
    ",",
    "{",
    "}",
    " ",
    " ",
    "AND",
    "OR",
    "NOT",
    "NEAR",
    "NEAR(",
    "title",
    "abstract",
    "author_search",
    "papers_fts",
    "x",
    "a",
    "b",
    "retrieval",
    "cats",
    "é",
    "0",
    "_",
    "\\",
    "\t",
]
fts_text = st.one_of(
    st.lists(st.sampled_from(FTS_PIECES), max_size=24).map("".join),
    st.text(alphabet=st.sampled_from('"()*^:-+,{} \\ANDORTxab'), max_size=30),
)
_PHRASE = re.compile(r'"[\w ]+"')


def _words(text: str) -> list[str]:
    # FTS5's unicode61 tokenizer, like this, splits words at underscores.
    return [w.casefold() for w in re.findall(r"[^\W_]+", text)]


@pytest.fixture(scope="module")
def paper_words(catalog: Catalog) -> dict[str, set[str]]:
    """Each paper's words (title, abstract, author names), by title: an oracle independent of FTS5."""
    conn = sqlite3.connect(catalog.path)
    try:
        rows = conn.execute("SELECT title, abstract, author_search FROM papers").fetchall()
    finally:
        conn.close()
    return {title: set(_words(f"{title} {abstract} {authors}")) for title, abstract, authors in rows}


def test_fts_syntax_never_reaches_fts5(catalog: Catalog, paper_words: dict[str, set[str]]) -> None:
    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(text=fts_text)
    def check(text: str) -> None:
        result = search_papers(catalog, query=text, limit=100)  # raises on an FTS5 syntax error
        wanted = _words(text)
        if not wanted:
            assert result.query_used is None
            assert len(result.results) == len(PAPERS)
            return
        assert result.query_used is not None
        phrases = _PHRASE.findall(result.query_used)
        assert " ".join(phrases) == result.query_used, result.query_used  # only quoted words, nothing else
        assert _words(result.query_used) == wanted[: len(_words(result.query_used))]
        if result.fuzzy_fallback:
            return
        for paper in result.results:  # every paper found has every word searched for
            assert set(_words(result.query_used)) <= paper_words[paper.title], (text, paper.title)

    check()
