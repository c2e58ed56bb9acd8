"""Name matching on its own (db/names.py) and the tools' name resolution (tools/common.py), called directly.

The example catalog's names are listed in ``examples/profiles/README.md``; the namesake catalog holds a
profile owner, Zoë Hartmann, and the same name listed on a paper she does not list (a different person).
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_ingest import NAMESAKE_PROFILES, profile, write

from conftest import build_catalog
from scholar_catalog.db import names as names_module
from scholar_catalog.db.catalog import Catalog
from scholar_catalog.db.connection import open_writable
from scholar_catalog.db.names import ACCEPT_SCORE, NameIndex, NameMatch, Person
from scholar_catalog.tools import shared_coauthors
from scholar_catalog.tools.common import (
    MAX_TEXT,
    ToolInputError,
    ambiguous_error,
    candidates,
    clean_text,
    resolve_person,
)

ZOE, WEI_DB, WEI_CV = "ex02_zoe-hartmann", "ex05_wei-zhang-db", "ex09_wei-zhang-cv"


@pytest.fixture(scope="module")
def examples(example_db: Path) -> Iterator[Catalog]:
    catalog = Catalog(example_db)
    yield catalog
    catalog.close()


@pytest.fixture(scope="module")
def namesakes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    folder = tmp_path_factory.mktemp("namesakes")
    for stem, text in NAMESAKE_PROFILES.items():
        write(folder / "in" / f"{stem}.txt", text)
    catalog = Catalog(build_catalog(folder / "catalog.db", folder / "in"))
    yield catalog
    catalog.close()


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Catalog]:
    path = tmp_path_factory.mktemp("empty") / "catalog.db"
    open_writable(path).conn.close()
    catalog = Catalog(path)
    yield catalog
    catalog.close()


def keys(matches: list[NameMatch]) -> list[str]:
    return [m.key for m in matches]


# -- the index -------------------------------------------------------------------------------


def test_the_index_holds_every_distinct_normalized_name_in_order(examples: Catalog) -> None:
    with examples.connection() as conn:
        expected = [r[0] for r in conn.execute("SELECT DISTINCT name_norm FROM authors ORDER BY 1")]
    index = examples.names()
    assert index.keys == expected and len(expected) == 59
    assert len(index) == 59


def test_an_exact_lookup_ignores_case_accents_and_punctuation(examples: Catalog) -> None:
    index = examples.names()
    with examples.connection() as conn:
        zoe_id = conn.execute("SELECT id FROM authors WHERE profile_id = ?", [ZOE]).fetchone()[0]
    match = index.exact("ZOË  hartmann!")
    assert match == NameMatch("zoe hartmann", 100.0, [Person(zoe_id, "Zoë Hartmann", ZOE)])
    assert match.display == "Zoë Hartmann"
    assert index.exact("...") is None
    assert index.exact("Nobody Here") is None


def test_people_sharing_a_name_are_listed_profiles_first(examples: Catalog, namesakes: Catalog) -> None:
    assert [p.profile_id for p in examples.names().people("wei zhang")] == [WEI_DB, WEI_CV]
    people = namesakes.names().people("zoe hartmann")
    assert [(p.name, p.profile_id) for p in people] == [("Zoë Hartmann", "zoe"), ("Zoe Hartmann", None)]
    assert examples.names().people("nobody") == []


def test_a_match_without_people_displays_its_key() -> None:
    assert NameMatch("some key", 90.0).display == "some key"
    assert NameMatch("some key", 90.0).people == []


@pytest.mark.parametrize(
    ("query", "best", "low", "high"),
    [
        ("Lukas Wrobel", "lukasz wrobel", 95, 97),  # a typo
        ("wrobel", "lukasz wrobel", 89, 91),  # a surname alone
        ("Zoe Hartman", "zoe hartmann", 95, 96.5),
        ("wei zang", "wei zhang", 93, 95),
        ("Henrik Solber", "henrik solberg", 96, 97),
    ],
)
def test_fuzzy_finds_typos_and_partial_names(examples: Catalog, query: str, best: str, low: float, high: float) -> None:
    hits = examples.names().fuzzy(query)
    assert hits[0].key == best
    assert low <= hits[0].score <= high
    assert hits[0].people == examples.names().people(best)


def test_fuzzy_results_are_best_first_then_alphabetical_and_bounded(examples: Catalog) -> None:
    index = examples.names()
    hits = index.fuzzy("ana", limit=6)
    assert keys(hits)[:2] == ["ana lucia goncalves", "hana kobayashi"]  # equal scores, alphabetical
    assert hits[0].score == hits[1].score == 90.0
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    assert len(index.fuzzy("ana", limit=1)) == 1
    assert all(h.score >= 50.0 for h in index.fuzzy("chen", limit=20))
    assert all(h.score >= 70.0 for h in index.fuzzy("chen", limit=20, cutoff=70.0))
    assert keys(index.fuzzy("chen", limit=20, cutoff=70.0)) == ["henrik solberg"]


def test_fuzzy_without_a_shared_token_scores_the_names_of_the_closest_tokens(examples: Catalog) -> None:
    # No token of "hnrik solbrg" is a name token: the names holding the tokens closest to its own are scored.
    hits = examples.names().fuzzy("hnrik solbrg")
    assert hits[0].key == "henrik solberg" and hits[0].score >= ACCEPT_SCORE
    assert examples.names().fuzzy("xyz qqq") == []


def test_the_closest_tokens_bring_their_names_until_the_budget_is_spent(monkeypatch: pytest.MonkeyPatch) -> None:
    index = _index_of(["anna a1", "anna a2", "anna a3", "hanna b1", "zed q"])
    index.keys  # noqa: B018 (builds the token map)
    monkeypatch.setattr(names_module, "FALLBACK_NAMES", 2)
    # "anna" is the token closest to "anne": its three names pass the budget, so "hanna" brings none.
    assert sorted(index._closest("anne")) == ["anna a1", "anna a2", "anna a3"]
    monkeypatch.setattr(names_module, "FALLBACK_NAMES", 10)
    assert "hanna b1" in index._closest("anne")


def test_a_run_together_name_is_found_through_its_parts(examples: Catalog) -> None:
    index = examples.names()
    assert "henrik solberg" in (index._candidates("henriksolberg") or [])
    for query in ("HenrikSolberg", "henrikSolbreg", "Henrk-solberg"):  # a missing space, and a typo beside it
        assert index.fuzzy(query)[0].key == "henrik solberg", query
    assert index.fuzzy("WeiZhang")[0].key == "wei zhang"


def test_a_part_of_two_letters_counts_only_when_the_rest_is_a_token_too() -> None:
    index = _index_of(["li wei", "li na", "al green"])
    index.keys  # noqa: B018 (builds the token map)
    assert index._parts("liwei") == {"li", "wei"}
    assert index._parts("alqzvx") == set()  # "al" is a token, but "qzvx" is neither one nor near one
    assert index.fuzzy("liwei")[0].key == "li wei"


def test_at_most_four_rests_are_looked_up_fuzzily_the_longest_ends_first(monkeypatch: pytest.MonkeyPatch) -> None:
    index = _index_of(["abc x", "abcd x", "abcde x", "abcdef x", "abcdefg x"])
    index.keys  # noqa: B018 (builds the token map)
    searched: list[str] = []
    monkeypatch.setattr(index, "_near", lambda rest: searched.append(rest) or [])
    assert index._parts("abcdefgzzzzz") == {"abcdefg", "abcdef", "abcde", "abcd"}
    assert searched == ["zzzzz", "gzzzzz", "fgzzzzz", "efgzzzzz"]


def test_a_long_query_is_cut_before_it_is_scored(examples: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    index = examples.names()
    seen: list[str] = []
    candidates_of = index._candidates
    monkeypatch.setattr(index, "_candidates", lambda key: seen.append(key) or candidates_of(key))
    hits = index.fuzzy("Henrik Solberg " + "zq" * 3000)
    assert len(seen[0]) == names_module.MAX_NAME_KEY and seen[0].startswith("henrik solberg zqzq")
    assert hits[0].key == "henrik solberg"


def test_short_tokens_are_matched_exactly_only(examples: Catalog) -> None:
    index = examples.names()
    index.keys  # noqa: B018 (builds the token map)
    assert index._candidates("ji") == [k for k in index.keys if "ji" in k.split()]
    assert index._candidates("jx") is None
    assert sorted(index._candidates("solbrg") or []) == ["henrik solberg"]  # within a typo
    assert sorted(index._candidates("solberg wei") or []) == ["henrik solberg", "jurgen weiss", "wei zhang"]


def test_fuzzy_of_nothing_is_nothing(examples: Catalog, empty: Catalog) -> None:
    assert examples.names().fuzzy("") == []
    assert examples.names().fuzzy("!!!") == []
    assert empty.names().fuzzy("Zoë") == []
    assert len(empty.names()) == 0


def test_completion_lists_names_starting_with_the_prefix(examples: Catalog) -> None:
    index = examples.names()
    assert index.complete("Wei") == ["wei zhang"]
    assert index.complete("ha") == ["hana kobayashi", "hannah okafor"]
    assert index.complete("ha", limit=1) == ["hana kobayashi"]
    assert index.complete("") == index.keys[:20]
    assert index.complete("zz") == []
    assert index.complete("Zoë H") == ["zoe hartmann"]


def test_the_index_reads_the_names_once(examples: Catalog) -> None:
    index = NameIndex(examples._conn)
    first = index.keys
    assert index.keys is first


# -- resolve_person ----------------------------------------------------------------------------


def resolve(catalog: Catalog, name: str, profile_id: str | None = None, argument: str = "name") -> tuple:
    with catalog.connection() as conn:
        person, resolution, others = resolve_person(catalog, conn, name, profile_id, argument)
    return person, resolution.model_dump(), others


def failure(catalog: Catalog, name: str, profile_id: str | None = None, argument: str = "name") -> str:
    with catalog.connection() as conn, pytest.raises(ToolInputError) as err:
        resolve_person(catalog, conn, name, profile_id, argument)
    return str(err.value)


def test_a_name_as_stored_is_an_exact_match(examples: Catalog) -> None:
    person, resolution, others = resolve(examples, "Zoë Hartmann")
    assert (person.name, person.profile_id, others) == ("Zoë Hartmann", ZOE, [])
    assert resolution == {
        "query": "Zoë Hartmann",
        "resolved_to": "Zoë Hartmann",
        "profile_id": ZOE,
        "match": "exact",
        "confidence": 1.0,
    }


def test_a_name_differing_in_case_or_accents_is_a_normalized_match(examples: Catalog) -> None:
    person, resolution, _ = resolve(examples, "  zoe HARTMANN ")
    assert person.profile_id == ZOE
    assert resolution["match"] == "normalized" and resolution["confidence"] == 1.0
    assert resolution["query"] == "zoe HARTMANN"


def test_namesake_profiles_come_back_as_others(examples: Catalog, namesakes: Catalog) -> None:
    person, resolution, others = resolve(examples, "Wei Zhang")
    assert person.profile_id == WEI_DB and resolution["match"] == "exact"
    assert [p.profile_id for p in others] == [WEI_CV]
    # A listed name that equals a profile owner's is not a second profile.
    person, _, others = resolve(namesakes, "Zoe Hartmann")
    assert (person.profile_id, others) == ("zoe", [])


def test_a_typo_is_a_fuzzy_match_with_its_confidence(examples: Catalog) -> None:
    person, resolution, others = resolve(examples, "Lukas Wrobel")
    assert person.profile_id == "ex01_lukasz-wrobel" and others == []
    assert resolution == {
        "query": "Lukas Wrobel",
        "resolved_to": "Łukasz Wróbel",
        "profile_id": "ex01_lukasz-wrobel",
        "match": "fuzzy",
        "confidence": 0.96,
    }
    person, resolution, others = resolve(examples, "wei zang")
    assert resolution["match"] == "fuzzy" and person.profile_id == WEI_DB
    assert [p.profile_id for p in others] == [WEI_CV]


def test_a_fuzzy_match_of_a_listed_name_has_no_profile(examples: Catalog) -> None:
    person, resolution, others = resolve(examples, "Nguyen Thi Lam")
    assert (person.name, person.profile_id, others) == ("Nguyễn Thị Lan", None, [])
    assert resolution["match"] == "fuzzy" and resolution["profile_id"] is None


def test_no_close_name_is_an_error_naming_the_closest(examples: Catalog) -> None:
    assert failure(examples, "Khattar", argument="author") == (
        "No author matches 'Khattar' closely enough for `author`. Closest names: 'Kateřina Nováková', "
        "'Ravi Shankar', 'Rohan Mehta', 'Zoë Hartmann', 'Priya Raghunathan'. Use search_authors to look names up."
    )
    assert failure(examples, "xyz qqq") == (
        "No author matches 'xyz qqq' closely enough for `name`. Use search_authors to look names up."
    )


def test_a_name_matching_two_people_equally_is_ambiguous(examples: Catalog) -> None:
    assert failure(examples, "tomas", argument="author_a") == (
        "'tomas' is ambiguous for `author_a`: 'Tomás Pereira', 'Tomasz Kowalczyk' match equally well. "
        "Call again with the full name (or a profile_id from search_authors)."
    )


def test_a_profile_id_resolves_to_its_owner(examples: Catalog) -> None:
    person, resolution, others = resolve(examples, "", f" {WEI_CV} ")
    assert (person.name, person.profile_id, others) == ("Wei Zhang", WEI_CV, [])
    assert resolution == {
        "query": WEI_CV,
        "resolved_to": "Wei Zhang",
        "profile_id": WEI_CV,
        "match": "profile_id",
        "confidence": 1.0,
    }
    _, resolution, _ = resolve(examples, "Wei", WEI_CV)
    assert resolution["query"] == "Wei" and resolution["match"] == "profile_id"


def test_an_unknown_profile_id_is_an_error_naming_close_ids(examples: Catalog) -> None:
    assert failure(examples, "", "ex02_zoe") == (
        "No profile with profile_id 'ex02_zoe'. Use search_authors to find profile ids; closest ids: "
        "'ex02_zoe-hartmann', 'ex04_jose-alvarez', 'ex05_wei-zhang-db'."
    )
    assert failure(examples, "", "qqqqqqq") == (
        "No profile with profile_id 'qqqqqqq'. Use search_authors to find profile ids."
    )


def test_resolving_in_an_empty_catalog_says_to_ingest(empty: Catalog) -> None:
    message = failure(empty, "Zoë Hartmann")
    assert message.startswith("The catalog is empty: no profiles have been ingested.")
    assert f"--db {empty.path}" in message
    assert failure(empty, "", "ex02").startswith("The catalog is empty")


def test_an_empty_name_is_refused_by_argument(examples: Catalog) -> None:
    assert failure(examples, " \x00 ", argument="author_b") == (
        "`author_b` is empty; give a name, e.g. 'Ada Lovelace'."
    )


def test_namesakes_are_described_so_a_model_can_choose(examples: Catalog) -> None:
    with examples.connection() as conn:
        person, _, others = resolve_person(examples, conn, "Wei Zhang", None)
        listed = Person(0, "Listed Only", None)
        described = candidates(conn, [listed, person, listed, *others])
        message = str(ambiguous_error(conn, person, others, "author_profile_id"))
    assert [(c.profile_id, c.primary_category, c.h_index, c.papers) for c in described] == [
        (WEI_DB, "DB", 41, 12),
        (WEI_CV, "CV", 9, 6),
    ]
    assert described[0].top_paper == "128-Bit Fingerprints Are Enough: Compact Sketches for Join Size Estimation"
    assert message == (
        "Several profiles are named 'Wei Zhang' and they are different people: "
        "profile_id='ex05_wei-zhang-db' (DB, h-index 41, e.g. '128-Bit Fingerprints Are Enough: Compact "
        "Sketches for Join Size Estimation'); profile_id='ex09_wei-zhang-cv' (CV, h-index 9, e.g. '3D Scene "
        "Graph Compression for Bandwidth-Limited Robot Teams'). Call again with `author_profile_id` set to the "
        "one you mean."
    )


# -- clean_text --------------------------------------------------------------------------------


def test_clean_text_strips_and_blanks_control_characters() -> None:
    assert clean_text("  a\x00b\tc\nd  ", "q") == "a b\tc d"
    assert clean_text("", "q") == ""
    assert clean_text("\x00", "q") == ""


def test_clean_text_bounds_the_length_by_what_is_left() -> None:
    assert clean_text("x" * MAX_TEXT, "q") == "x" * MAX_TEXT
    assert clean_text(" " * 10 + "x" * MAX_TEXT, "q") == "x" * MAX_TEXT
    with pytest.raises(ToolInputError) as err:
        clean_text("x" * (MAX_TEXT + 1), "query")
    assert str(err.value) == "`query` is 2,001 characters long; give at most 2000."
    assert clean_text(" " * (MAX_TEXT * 3) + "x", "q") == "x"  # long, but short once stripped
    with pytest.raises(ToolInputError) as err:
        clean_text(" " * (MAX_TEXT * 4 + 1), "name")
    assert str(err.value) == "`name` is 8,001 characters long; give at most 2000."
    assert clean_text(" " * (MAX_TEXT * 4), "q") == ""


def test_the_index_and_resolution_read_through_sqlite(tmp_path: Path) -> None:
    # A bare connection (no Catalog) answers the same: the index needs nothing but the authors table.
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE authors (id INTEGER PRIMARY KEY, name, name_norm, profile_id)")
    conn.executemany(
        "INSERT INTO authors (name, name_norm, profile_id) VALUES (?, ?, ?)",
        [("Ada Lovelace", "ada lovelace", "ada"), ("", "", None), ("Ada Lovelace", "ada lovelace", None)],
    )
    index = NameIndex(conn)
    assert index.keys == ["ada lovelace"]  # the empty key is left out
    assert [p.profile_id for p in index.people("ada lovelace")] == ["ada", None]
    assert keys(index.fuzzy("ada lovelac")) == ["ada lovelace"]


def test_fuzzy_gives_five_matches_unless_told(examples: Catalog) -> None:
    assert len(examples.names().fuzzy("chen")) == 5
    assert len(examples.names().fuzzy("chen", limit=7)) == 7


def test_every_name_sharing_a_token_is_a_candidate(examples: Catalog) -> None:
    index = examples.names()
    index.keys  # noqa: B018 (builds the token map)
    assert sorted(index._candidates("lucia") or []) == ["ana lucia goncalves", "lucia ortega"]
    # A short token does not stop the others from bringing their typo neighbours.
    short = " ".join("abcdefghijklmnopqrst")
    assert "henrik solberg" in (index._candidates(f"{short} solbrg") or [])


def _index_of(names: list[str]) -> NameIndex:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE authors (id INTEGER PRIMARY KEY, name, name_norm, profile_id)")
    conn.executemany("INSERT INTO authors (name, name_norm) VALUES (?, ?)", [(n, n) for n in names])
    return NameIndex(conn)


def test_a_token_brings_at_most_fifty_typo_neighbours() -> None:
    index = _index_of([f"smith{i:02d} q" for i in range(60)])
    assert len(index._candidates("smith") or []) == 50


def test_equal_scores_come_back_alphabetically_whatever_the_candidate_order() -> None:
    # Candidates are gathered in a set of row numbers: rows 1 and 8 come out as 8, 1.
    names = ["aa x", "ab foo", "ac x", "ad x", "ae x", "af x", "ag x", "ah x", "ai foo", "aj x"]
    index = _index_of(names)
    hits = index.fuzzy("foo")
    assert keys(hits) == ["ab foo", "ai foo"] and hits[0].score == hits[1].score


def test_a_limit_cutting_through_equal_scores_keeps_the_alphabetically_first() -> None:
    # The same rows 8, 1: the one best match asked for is the first of the two equal ones in the full answer.
    names = ["aa x", "ab foo", "ac x", "ad x", "ae x", "af x", "ag x", "ah x", "ai foo", "aj x"]
    index = _index_of(names)
    assert keys(index.fuzzy("foo", limit=1)) == ["ab foo"]
    assert keys(index.fuzzy("fooo", limit=1)) == ["ab foo"]  # through a typo neighbour too


def test_a_close_winner_is_not_ambiguous_and_its_confidence_has_three_digits(examples: Catalog) -> None:
    person, resolution, _ = resolve(examples, "Henrik Solber")  # also matches 'Erik Nystrom', far behind
    assert (person.profile_id, resolution["match"], resolution["confidence"]) == ("ex08_henrik-solberg", "fuzzy", 0.963)
    _, resolution, _ = resolve(examples, "Zoe Hartman")
    assert resolution["confidence"] == 0.957


def test_the_closest_names_are_at_most_five(examples: Catalog) -> None:
    assert failure(examples, "chen") == (
        "No author matches 'chen' closely enough for `name`. Closest names: 'Henrik Solberg', 'Chidi Eze', "
        "'Chloé Bénard', 'Marcus Lindgren', 'Mikkel Sørensen'. Use search_authors to look names up."
    )


def test_the_argument_is_named_name_unless_told(examples: Catalog) -> None:
    with examples.connection() as conn, pytest.raises(ToolInputError) as err:
        resolve_person(examples, conn, "xyz qqq", None)
    assert "for `name`." in str(err.value)


def test_a_profile_id_is_bounded_and_its_row_is_the_owner(examples: Catalog) -> None:
    assert failure(examples, "", "x" * (MAX_TEXT + 1)) == "`profile_id` is 2,001 characters long; give at most 2000."
    with examples.connection() as conn:
        owner_id = conn.execute("SELECT id FROM authors WHERE profile_id = ?", [WEI_CV]).fetchone()[0]
    person, _, _ = resolve(examples, "", WEI_CV)
    assert person.author_id == owner_id


def test_a_namesake_without_a_category_is_described_with_a_question_mark(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    folder = tmp_path_factory.mktemp("nocat")
    write(
        folder / "in" / "sam_a.txt",
        NAMESAKE_PROFILES["lena"].replace("Lena Ortiz", "Sam Lee").replace("\nLG\n", "\n", 1),
    )
    write(folder / "in" / "sam_b.txt", NAMESAKE_PROFILES["kofi"].replace("Kofi Mensah", "Sam Lee"))
    catalog = Catalog(build_catalog(folder / "catalog.db", folder / "in"))
    try:
        with catalog.connection() as conn:
            person, _, others = resolve_person(catalog, conn, "Sam Lee", None)
            message = str(ambiguous_error(conn, person, others, "author"))
    finally:
        catalog.close()
    assert message.startswith(
        "Several profiles are named 'Sam Lee' and they are different people: profile_id='sam_a' (?, h-index 3, "
    )
    assert "profile_id='sam_b' (LG, h-index 3, e.g. 'Tidepools')" in message


def test_shared_namesakes_with_equal_counts_list_the_profile_owner_first(tmp_path: Path) -> None:
    # Kim Lee the profile owner wrote one paper with each of Ann and Bo; another Kim Lee, known only from
    # author lists (and met first by ingest, so with the lower id), wrote one with each as well.
    write(tmp_path / "in" / "ann.txt", profile("Ann A", *[("LGJan 2, 2024", t, "Ann A, Kim Lee") for t in ANN]))
    write(tmp_path / "in" / "bo.txt", profile("Bo B", *[("LGJan 3, 2024", t, "Bo B, Kim Lee") for t in BO]))
    write(
        tmp_path / "in" / "kim.txt",
        profile("Kim Lee", ("LGJan 2, 2024", ANN[0], "Ann A, Kim Lee"), ("LGJan 3, 2024", BO[0], "Bo B, Kim Lee")),
    )
    catalog = Catalog(build_catalog(tmp_path / "c.db", tmp_path / "in"))
    result = shared_coauthors(catalog, profile_id_a="ann", profile_id_b="bo")
    assert [(s.name, s.profile_id, len(s.papers_with_a), len(s.papers_with_b)) for s in result.shared] == [
        ("Kim Lee", "kim", 1, 1),
        ("Kim Lee", None, 1, 1),
    ]
    assert shared_coauthors(catalog, profile_id_a="ann", profile_id_b="bo", limit=1).shared[0].profile_id == "kim"


ANN = ("Lantern Routing for Sparse Models", "Kite Sorting at Scale")
BO = ("Harbor Maps from Sparse Scans", "Quiet Graphs and Loud Nodes")
