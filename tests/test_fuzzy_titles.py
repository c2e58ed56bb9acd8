"""The misspelt-search fallback: candidate titles from title words one edit from the query's words, ranked.

Rankings are checked on every example title, typo'd as a person would (a letter swapped, dropped or
doubled), and the candidate words against a brute-force comparison with the whole title vocabulary.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from rapidfuzz.distance import OSA

from conftest import traced
from scholar_catalog.db.catalog import Catalog
from scholar_catalog.db.normalize import normalize_title
from scholar_catalog.tools import fuzzy_titles
from scholar_catalog.tools.papers import search_papers


@pytest.fixture(scope="module")
def catalog(example_db: Path) -> Iterator[Catalog]:
    catalog = Catalog(example_db)
    yield catalog
    catalog.close()


def slip(word: str, kind: int) -> str:
    """One keyboard slip inside *word* (never its first letter): swap, drop or double a letter."""
    i = len(word) // 2
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def all_titles(catalog: Catalog) -> dict[int, str]:
    with catalog.connection() as conn:
        return dict(conn.execute("SELECT id, title FROM papers").fetchall())


def typo_queries(catalog: Catalog, span: int | None) -> list[tuple[int, str]]:
    """(paper_id, query) for every example title: *span* consecutive words (None: the whole title) with a
    slip in its longest word, kept only when the slip leaves no exact match."""
    out = []
    for kind, (paper_id, title) in enumerate(sorted(all_titles(catalog).items())):
        words = re.findall(r"[\w-]+", title)
        picked = words if span is None else words[: span + 1][-span:]
        longest = max(range(len(picked)), key=lambda i: len(picked[i]))
        if len(picked[longest]) < 5:
            continue
        picked = [slip(w, kind % 3) if i == longest else w for i, w in enumerate(picked)]
        query = " ".join(picked)
        if not search_papers(catalog, query=query).fuzzy_fallback:
            continue  # the slip made other real words that some paper has
        out.append((paper_id, query))
    return out


def test_a_whole_title_with_one_typo_finds_that_paper_first(catalog: Catalog) -> None:
    cases = typo_queries(catalog, None)
    assert len(cases) > 50
    for paper_id, query in cases:
        result = search_papers(catalog, query=query)
        assert result.fuzzy_fallback, query
        assert result.results[0].paper_id == paper_id, (query, [r.title for r in result.results])


@pytest.mark.parametrize("span", [2, 3])
def test_a_few_title_words_with_one_typo_find_that_paper_first_when_only_it_has_them(
    catalog: Catalog, span: int
) -> None:
    raw = all_titles(catalog)
    titles = {paper_id: normalize_title(title) for paper_id, title in raw.items()}
    cases = typo_queries(catalog, span)
    assert len(cases) > 30
    firsts = 0
    for paper_id, query in cases:
        found = [r.paper_id for r in search_papers(catalog, query=query).results]
        assert paper_id in found, query
        words = re.findall(r"[\w-]+", raw[paper_id])
        original = normalize_title(" ".join(words[: span + 1][-span:]))
        if sum(original in t for t in titles.values()) == 1:
            assert found[0] == paper_id, (query, found)
            firsts += 1
    assert firsts > 20


def test_fuzzy_matches_respect_the_filters(catalog: Catalog) -> None:
    query = "Late-Interaction Retreival Under a Memroy Budgt"
    found = search_papers(catalog, query=query).results[0]
    assert found.title == "Late-Interaction Retrieval Under a Memory Budget"
    same = search_papers(catalog, query=query, category=found.category)
    assert same.fuzzy_fallback and same.results[0].paper_id == found.paper_id
    other = next(c for c in ("CL", "CV", "DB", "OS") if c != found.category)
    elsewhere = search_papers(catalog, query=query, category=other)
    assert all(r.category == other for r in elsewhere.results)
    assert found.paper_id not in [r.paper_id for r in elsewhere.results]


def test_a_word_two_typos_away_gives_no_candidates_from_it(catalog: Catalog) -> None:
    result = search_papers(catalog, query="Retrevail")  # two slips: not a candidate word
    assert result.results == [] and result.fuzzy_fallback is False


def test_variants_are_exactly_the_title_words_one_edit_away(catalog: Catalog) -> None:
    with catalog.connection():
        vocabulary = catalog.titles()
    words = sorted(vocabulary.words)
    rng = random.Random(11)
    for _ in range(300):
        word = list(rng.choice(words))
        i = rng.randrange(len(word))
        change = rng.randrange(4)
        if change == 0:
            word[i] = rng.choice("abcdefghijklmnopqrstuvwxyz0123456789")
        elif change == 1:
            del word[i]
        elif change == 2:
            word.insert(i, rng.choice("aeiourst"))
        elif i + 1 < len(word):
            word[i], word[i + 1] = word[i + 1], word[i]
        typed = "".join(word)
        if len(typed) < 4:
            continue
        assert set(vocabulary.variants(typed)) == {w for w in words if OSA.distance(typed, w) <= 1}, typed


@pytest.mark.parametrize("cap", [4, 300])
def test_candidates_are_the_newest_papers_with_the_words(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, cap: int
) -> None:
    monkeypatch.setattr(fuzzy_titles, "FUZZY_CANDIDATES", cap)
    with catalog.connection() as conn:
        titled = [
            r[0] for r in conn.execute("SELECT rowid FROM papers_fts WHERE papers_fts MATCH '{title} : retrieval'")
        ]
        assert 4 < len(titled) < 300
        newest = sorted(titled, reverse=True)
        with traced(conn) as statements:
            got = fuzzy_titles.title_candidates(conn, '{title} : ("retrieval")', None, "", [])
        assert [paper_id for paper_id, _ in got] == newest[:cap]
        rows = dict(conn.execute("SELECT id, title_norm FROM papers").fetchall())
        assert all(title == rows[paper_id] for paper_id, title in got)
        category = conn.execute("SELECT category FROM papers WHERE id = ?", [titled[0]]).fetchone()[0]
        in_category = [
            i for i in newest if conn.execute("SELECT category FROM papers WHERE id = ?", [i]).fetchone()[0] == category
        ]
        got = fuzzy_titles.title_candidates(conn, '{title} : ("retrieval")', None, " AND p.category = ?", [category])
        assert [paper_id for paper_id, _ in got] == in_category[:cap]
    # More matches than candidates: the full-text index walks them newest first and stops, with no sort
    # of every match; fewer: they are taken in the index's order (cheaper per match) and sorted.
    walks = [sql for sql in statements if sql.startswith("SELECT p.id") and "rowid DESC" in sql]
    if cap == 4:
        (walk,) = walks
        with catalog.connection() as conn:
            plan = conn.execute("EXPLAIN QUERY PLAN " + walk).fetchall()
        assert "papers_fts MATCH" in walk and not any("TEMP B-TREE" in row[3] for row in plan), plan
    else:
        assert walks == []
