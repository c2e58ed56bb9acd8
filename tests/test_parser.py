"""Tests for :mod:`scholar_catalog.db.parser`: the real seed profiles, one hand-written fixture per
format variation, year-less date resolution, damaged input, and hypothesis properties."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import AS_OF, SEEDS, requires_seeds
from scholar_catalog.db.parser import Profile, ProfileParseError, decode_profile_bytes, parse_profile, resolve_date

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "parser"
SEED_A = "000_67c3570f253eda13.txt"
SEED_B = "004_cc442b40650344ee.txt"
BOM = b"\xef\xbb\xbf"
HEADER_KEYS = ("name", "primary_category", "h_index", "papers_declared", "citations", "novelty", "ai_score")


def parse_fixture(name: str, *, as_of: date = AS_OF) -> Profile:
    path = FIXTURES / name
    return parse_profile(path.read_bytes(), as_of=as_of, path=str(path))


def parse_error(data: bytes | str, *, path: str = "some/dir/profile.txt", as_of: date = AS_OF) -> ProfileParseError:
    with pytest.raises(ProfileParseError) as info:
        parse_profile(data, as_of=as_of, path=path)
    return info.value


def header(profile: Profile) -> tuple:
    return tuple(getattr(profile, key) for key in (*HEADER_KEYS, "papers_heading"))


# --------------------------------------------------------------------------------------
# The real seeds
# --------------------------------------------------------------------------------------


@requires_seeds
@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        (SEED_A, ("Ritika Borkar", "CL", 57, 9, 193, 51, 57, 9)),
        (SEED_B, ("Abhinav Khattar", "CL", 57, 10, 306, 49, 58, 10)),
    ],
)
def test_seed_profile_fields(filename: str, expected: tuple) -> None:
    profile = parse_profile((SEEDS / filename).read_bytes(), as_of=AS_OF, path=filename)
    assert header(profile) == expected
    assert len(profile.entries) == expected[-1]


@requires_seeds
def test_seed_b_entry_titles_and_dates() -> None:
    profile = parse_profile((SEEDS / SEED_B).read_bytes(), as_of=AS_OF)
    got = [(e.line, e.title[:30], e.date, e.score) for e in profile.entries]
    assert got == [
        (12, "Nemotron-H: A Family of Accura", "2025-04-04", None),
        (19, "Nemotron 3 Super: Open, Effici", "2026-04-14", 95.1),
        (26, "NVIDIA Nemotron Nano 2: An Acc", "2025-08-20", None),
        (33, "LatentMoE: Toward Optimal Accu", "2026-01-26", None),
        (40, "Nemotron 3 Nano: Open, Efficie", "2025-12-23", None),
        (47, "NVIDIA Nemotron 3: Efficient a", "2025-12-24", None),
        (54, "Llama-Nemotron: Efficient Reas", "2025-05-02", None),
        (61, "Scalable Training of Mixture-o", "2026-03-08", None),
        (68, "Analysis on Image Set Visual Q", "2021-03-31", None),
        (75, "What sets Verified Users apart", "2019-03-12", None),
    ]


# (line, title, category, date, date_raw, score, has_code, authors, truncated, affiliations,
#  abstract's first words, abstract's last words, abstract length)
SEED_A_ENTRIES = [
    (
        12,
        "Nemotron 3 Super: Open, Efficient Mixture-of-Experts Hybrid Mamba-Transformer Model for Agentic Reasoning",
        "LG",
        "2026-04-14",
        "Apr 14",
        95.3,
        True,
        ["Aakshita Chandiramani", "Aaron Blakeman", "Abdullahi Olaoye"],
        True,
        ["amazon-science", "cmu"],
        "We describe the pre-training, post-training,",
        "are open-sourced on HuggingFace.",
        988,
    ),
    (
        19,
        "NVIDIA Nemotron Nano 2: An Accurate and Efficient Hybrid Mamba-Transformer Reasoning Model",
        "CL",
        "2025-08-20",
        "Aug 20, 2025",
        None,
        False,
        ["Aarti Basant", "Abhijit Khairnar", "Abhijit Paithankar"],
        True,
        ["nvidia"],
        "We introduce Nemotron-Nano-9B-v2, a hybrid",
        "datasets on Hugging Face.",
        1335,
    ),
    (
        26,
        "LatentMoE: Toward Optimal Accuracy per FLOP and Parameter in Mixture of Experts",
        "LG",
        "2026-01-26",
        "Jan 26",
        None,
        True,
        ["Venmugil Elango", "Nidhi Bhatia", "Roger Waleffe"],
        True,
        [],
        "Mixture of Experts (MoEs) have",
        "Nvidia et al. (arXiv:2512.20856).",
        1368,
    ),
    (
        33,
        "Nemotron 3 Nano: Open, Efficient Mixture-of-Experts Hybrid Mamba-Transformer Model for Agentic Reasoning",
        "CL",
        "2025-12-23",
        "Dec 23, 2025",
        None,
        False,
        ["Aaron Blakeman", "Aaron Grattafiori", "Aarti Basant"],
        True,
        ["nvidia"],
        "We present Nemotron 3 Nano",
        "checkpoints on Hugging Face.",
        896,
    ),
    (
        40,
        "NVIDIA Nemotron 3: Efficient and Open Intelligence",
        "CL",
        "2025-12-24",
        "Dec 24, 2025",
        None,
        False,
        ["Aaron Blakeman", "Aaron Grattafiori", "Aarti Basant"],
        True,
        ["nvidia"],
        "We introduce the Nemotron 3",
        "we hold redistribution rights.",
        1260,
    ),
    (
        47,
        "Beyond the Buzz: A Pragmatic Take on Inference Disaggregation",
        "DC",
        "2025-06-05",
        "Jun 5, 2025",
        None,
        True,
        ["Tiyasa Mitra", "Ritika Borkar", "Nidhi Bhatia"],
        True,
        [],
        "As inference scales to multi-node",
        "system throughput and interactivity.",
        970,
    ),
    (
        54,
        "Accelerating RL Post-Training Rollouts via System-Integrated Speculative Decoding",
        "LG",
        "2026-04-29",
        "Apr 29",
        88.1,
        False,
        ["Hayate Iso", "Tiyasa Mitra", "Sudipta Mondal"],
        True,
        [],
        "RL post-training of frontier language",
        "speedup at 235B scale.",
        1249,
    ),
    (
        61,
        "MLPerf Power: Benchmarking the Energy Efficiency of Machine Learning Systems from Microwatts to "
        "Megawatts for Sustainable AI",
        "AR",
        "2024-10-15",
        "Oct 15, 2024",
        None,
        False,
        ["Arya Tschand", "Arun Tejusve Raghunath Rajan", "Sachin Idgunji"],
        True,
        [],
        "Rapid adoption of machine learning",
        "benchmarking for ML systems.",
        1518,
    ),
    (
        68,
        "Helix Parallelism: Rethinking Sharding Strategies for Interactive Multi-Million-Token LLM Decoding",
        "DC",
        "2025-07-07",
        "Jul 7, 2025",
        None,
        False,
        ["Nidhi Bhatia", "Ankit More", "Ritika Borkar"],
        True,
        [],
        "As LLMs scale to multi-million-token",
        "inference with ultra-long-sequence practical.",
        1468,
    ),
]


@requires_seeds
@pytest.mark.parametrize("index", range(len(SEED_A_ENTRIES)))
def test_seed_a_every_field_of_every_entry(index: int) -> None:
    profile = parse_profile((SEEDS / SEED_A).read_bytes(), as_of=AS_OF, path=SEED_A)
    assert len(profile.entries) == len(SEED_A_ENTRIES)
    e = profile.entries[index]
    (line, title, category, iso, raw, score, code, authors, truncated, affiliations, first, last, length) = (
        SEED_A_ENTRIES[index]
    )
    assert (e.line, e.title, e.category, e.date, e.date_raw) == (line, title, category, iso, raw)
    assert e.score == score
    assert e.has_code is code
    assert e.authors == authors
    assert e.authors_truncated is truncated
    assert e.affiliations == affiliations
    assert e.abstract.startswith(first + " ")
    assert e.abstract.endswith(" " + last)
    assert len(e.abstract) == length
    assert "\n" not in e.abstract  # one paragraph in the source
    assert e.year == int(iso[:4])


@requires_seeds
def test_seed_entry_line_points_at_meta_line() -> None:
    text = (SEEDS / SEED_A).read_text(encoding="utf-8").split("\n")
    profile = parse_profile((SEEDS / SEED_A).read_bytes(), as_of=AS_OF)
    for e in profile.entries:
        assert e.category + e.date_raw in text[e.line - 1]
        assert text[e.line] == e.title


@requires_seeds
def test_seed_parses_identically_from_str_and_bytes() -> None:
    data = (SEEDS / SEED_B).read_bytes()
    assert parse_profile(data, as_of=AS_OF) == parse_profile(data.decode("utf-8"), as_of=AS_OF)


@requires_seeds
def test_seed_yearless_dates_follow_as_of() -> None:
    # Read in March 2026, 'Apr 14' and 'Apr 29' are from 2025, 'Jan 26' from 2026.
    profile = parse_profile((SEEDS / SEED_A).read_bytes(), as_of=date(2026, 3, 1))
    by_raw = {e.date_raw: e.date for e in profile.entries}
    assert by_raw["Apr 14"] == "2025-04-14"
    assert by_raw["Apr 29"] == "2025-04-29"
    assert by_raw["Jan 26"] == "2026-01-26"
    assert by_raw["Oct 15, 2024"] == "2024-10-15"


# --------------------------------------------------------------------------------------
# One hand-written fixture per variation
# --------------------------------------------------------------------------------------


def test_crlf_line_endings() -> None:
    raw = (FIXTURES / "crlf.txt").read_bytes()
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")  # guard: the fixture really is CRLF
    profile = parse_fixture("crlf.txt")
    assert header(profile) == ("Maren Okafor", "LG", 12, 2, 340, 61, 44, 2)
    first, second = profile.entries
    assert (first.line, first.title, first.score, first.has_code) == (
        12,
        "Sparse Lanterns: Routing Tokens by Lamplight",
        81.5,
        True,
    )
    assert first.authors == ["Maren Okafor", "Teodor Vasquez"] and first.authors_truncated
    assert first.affiliations == ["Harbor Institute"]
    assert first.abstract == "We route tokens through a lattice of sparse lanterns and measure the glow."
    assert (second.line, second.date, second.date_raw) == (19, "2026-11-02", "Nov 2")
    assert not any("\r" in s for e in profile.entries for s in [e.title, e.abstract, *e.authors, *e.affiliations])
    # Same result as the LF version of the text.
    assert parse_profile(raw.replace(b"\r\n", b"\n"), as_of=AS_OF) == profile
    # Old Mac CR-only line endings too.
    assert parse_profile(raw.replace(b"\r\n", b"\r"), as_of=AS_OF) == profile


def test_utf8_byte_order_mark() -> None:
    raw = (FIXTURES / "bom.txt").read_bytes()
    assert raw.startswith(BOM)
    profile = parse_fixture("bom.txt")
    assert profile.name == "Tomasz Wierzbicki"  # no '\ufeff' glued to the name
    assert header(profile) == ("Tomasz Wierzbicki", "DB", 9, 5, 77, 33, 41, 1)
    (entry,) = profile.entries
    assert entry.title == "Index Gardens: Growing B-Trees in Compost"
    assert entry.authors == ["Tomasz Wierzbicki", "Hana Kobayashi"]
    assert entry.affiliations == ["Orchard Data Lab"]
    # A decoded str that still carries the BOM parses the same.
    assert parse_profile(raw.decode("utf-8"), as_of=AS_OF) == profile
    assert parse_profile(raw[3:], as_of=AS_OF) == profile


def test_cp1252_file() -> None:
    raw = (FIXTURES / "cp1252.txt").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # guard: the fixture really is not UTF-8
    profile = parse_fixture("cp1252.txt")
    assert profile.name == "Zoë Fairweather"
    (entry,) = profile.entries
    assert entry.title == "The ‘Quiet’ Neuron: Café-Grade Noise in Spiking Networks"
    assert entry.authors == ["Zoë Fairweather", "José Andrade", "Søren Holm"]
    assert not entry.authors_truncated
    assert entry.affiliations == ["Universität Kiel", "École Polytechnique"]  # ' · ' is byte 0xB7 in cp1252
    assert entry.abstract == "We measure noise in spiking networks — a “quiet” neuron is rarer than assumed."
    assert (entry.score, entry.category, entry.date) == (64.2, "NE", "2024-06-09")


def test_latin1_fallback_for_bytes_undefined_in_cp1252() -> None:
    # 0x81 is undefined in cp1252: the decoder must fall back to latin-1, not fail.
    text = "Zoë Fairweather\n\nCVJan 2, 2024\nA Title\n\nZoë Fairweather\n"
    data = text.encode("latin-1").replace(b"A Title", b"A \x81Title")
    assert decode_profile_bytes(data) == text.replace("A Title", "A \x81Title")
    profile = parse_profile(data, as_of=AS_OF)
    assert profile.name == "Zoë Fairweather"
    assert profile.entries[0].authors == ["Zoë Fairweather"]


def test_decode_prefers_utf8() -> None:
    assert decode_profile_bytes("Zoë".encode()) == "Zoë"
    assert decode_profile_bytes(BOM + "Zoë".encode()) == "Zoë"
    assert decode_profile_bytes("Zoë".encode("cp1252")) == "Zoë"
    assert decode_profile_bytes("it’s".encode("cp1252")) == "it’s"


def test_thousands_separators() -> None:
    profile = parse_fixture("thousands.txt")
    assert header(profile) == ("Halvard Eriksen", "CL", 88, 1204, 5120, 12, 61, 1)


@pytest.mark.parametrize("written", ["5,120", "5.120", "5\u00a0120", "5\u202f120", "5 120", "5120"])
def test_thousands_separator_styles(written: str) -> None:
    text = f"Halvard Eriksen\n\n{written}citations\n\n1 Papers\n\nCLSep 1, 2022\nT\n\nHalvard Eriksen\n"
    assert parse_profile(text, as_of=AS_OF).citations == 5120


def test_large_counts_with_several_separators() -> None:
    text = "Halvard Eriksen\n\n1,234,567citations\n\n1,001 Papers\n\n"
    with pytest.raises(ProfileParseError, match="declares 1001 papers but 0 entries"):
        parse_profile(text, as_of=AS_OF)
    text = "Halvard Eriksen\n\n1,234,567citations\n\n0 Papers\n"
    assert parse_profile(text, as_of=AS_OF).citations == 1234567


def test_integer_scores() -> None:
    profile = parse_fixture("integer_scores.txt")
    got = [(e.score, e.category, e.date, e.date_raw, e.has_code) for e in profile.entries]
    assert got == [
        (72.0, "DB", "2026-02-11", "Feb 11", False),
        (100.0, "CV", "2024-03-03", "Mar 3, 2024", True),
        (7.0, "SE", "2023-01-05", "Jan 5, 2023", False),
    ]
    assert all(isinstance(e.score, float) for e in profile.entries)


def test_missing_header_fields() -> None:
    profile = parse_fixture("missing_header_fields.txt")
    assert header(profile) == ("Priya Natarajan", "RO", None, 4, 91, None, 50, 1)
    (entry,) = profile.entries
    assert entry.line == 10
    assert entry.title == "Grippers That Ask Before Grasping"


def test_no_header_at_all() -> None:
    profile = parse_fixture("minimal_header.txt")
    assert header(profile) == ("Oskar Lindgren", None, None, None, None, None, None, None)
    (entry,) = profile.entries
    assert (entry.line, entry.title, entry.date) == (3, "Counting Sheep From Orbit", "2020-10-10")
    assert entry.authors == ["Oskar Lindgren", "Fatima Zahra"]


def test_entry_without_abstract() -> None:
    profile = parse_fixture("no_abstract.txt")
    assert [e.abstract for e in profile.entries] == ["This one does have an abstract.", "", ""]
    assert [e.line for e in profile.entries] == [12, 19, 24]
    middle, last = profile.entries[1:]
    assert middle.authors == ["Beatrix Oyelaran", "Kwame Asante"]
    assert middle.affiliations == ["Savanna AI Lab"]
    assert last.title == "Another Paper Without Any Abstract"
    assert last.authors == ["Beatrix Oyelaran"] and last.has_code


def test_entry_without_affiliations() -> None:
    (entry,) = parse_fixture("no_affiliations.txt").entries
    assert entry.authors == ["Lucia Ferrante", "Marco Bellini", "Elena Conti"]
    assert entry.authors_truncated is True
    assert entry.affiliations == []
    assert entry.score == 66.6


def test_complete_author_list_without_et_al() -> None:
    (entry,) = parse_fixture("complete_authors.txt").entries
    assert entry.authors == ["Ada Brightwater", "Kofi Mensah", "Liang Wei"]
    assert entry.authors_truncated is False
    assert entry.affiliations == ["Fernhill University", "Northgate Labs"]


def test_single_author_paper() -> None:
    (entry,) = parse_fixture("single_author.txt").entries
    assert entry.authors == ["Ilse Verbeek"]
    assert entry.authors_truncated is False
    assert entry.affiliations == []
    assert entry.abstract == "A solo paper."


@pytest.mark.parametrize(
    ("line", "authors", "truncated", "affiliations"),
    [
        ("A B, C D et al. · X, Y", ["A B", "C D"], True, ["X", "Y"]),
        ("A B, C D, et al.", ["A B", "C D"], True, []),
        ("A B et al", ["A B"], True, []),
        ("A B · X", ["A B"], False, ["X"]),
        ("A B,  C D ,E F", ["A B", "C D", "E F"], False, []),
    ],
)
def test_author_line_shapes(line: str, authors: list[str], truncated: bool, affiliations: list[str]) -> None:
    text = f"Ann Example\n\nCVJan 2, 2024\nA Title\n\n{line}\n"
    (entry,) = parse_profile(text, as_of=AS_OF).entries
    assert (entry.authors, entry.authors_truncated, entry.affiliations) == (authors, truncated, affiliations)


def test_abstract_of_several_paragraphs() -> None:
    (entry,) = parse_fixture("multi_paragraph_abstract.txt").entries
    assert entry.abstract == (
        "First paragraph: we embed smells.\n\n"
        "Second paragraph starts here and continues on a wrapped line.\n\n"
        "Third paragraph: the end."
    )
    assert entry.abstract.split("\n\n")[1].startswith("Second")


def test_blank_lines_between_paragraphs_are_collapsed() -> None:
    text = "Ann Example\n\nCVJan 2, 2024\nA Title\n\n\n\nAnn Example\n\n\n\nOne.\n\n\n\nTwo.\n\n\n"
    (entry,) = parse_profile(text, as_of=AS_OF).entries
    assert entry.authors == ["Ann Example"]
    assert entry.abstract == "One.\n\nTwo."


def test_tricky_titles() -> None:
    profile = parse_fixture("tricky_titles.txt")
    assert [e.title for e in profile.entries] == [
        "Rivers · Roads · Rails: Multimodal Transit Forecasting",
        '"Attention Is Not Enough": Revisiting Recurrence in Tiny Models',
        "3D Scene Graphs for Household Robots",
        "It’s Not ‘Just’ Noise: 2048 Tokens of Static",
    ]
    first = profile.entries[0]
    assert first.authors == ["Noor Haddad", "Sami Koskinen"]  # the title's ' · ' is not an author separator
    assert first.affiliations == ["Delta Lab"]
    assert [e.line for e in profile.entries] == [12, 19, 26, 33]
    assert profile.entries[1].score == 88.8


def test_names_in_any_script() -> None:
    profile = parse_fixture("any_script.txt")
    assert profile.name == "陈明"
    (entry,) = profile.entries
    assert entry.title == "多模态 Retrieval für Ärzte: Łódź to Αθήνα"
    assert entry.authors == ["陈明", "Łukasz Wrona", "Zoë Lindqvist", "Ольга Смирнова", "Αλέξανδρος Παππάς"]
    assert entry.affiliations == ["清华大学", "Politechnika Łódzka"]
    assert entry.abstract == "A multilingual abstract — 中文 and Ελληνικά."


def test_header_lines_in_any_order_and_heading_singular() -> None:
    text = "Ann Example\n\nAI Score3\nNovelty4%\n1citations\nh-index2\nLG\n1 Paper\n\nCVJan 2, 2024\nT\n\nAnn Example\n"
    profile = parse_profile(text, as_of=AS_OF)
    assert header(profile) == ("Ann Example", "LG", 2, None, 1, 4, 3, 1)


# --------------------------------------------------------------------------------------
# Year-less dates
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("month", "day", "year", "as_of", "expected"),
    [
        (4, 14, None, AS_OF, date(2026, 4, 14)),
        (11, 24, None, AS_OF, date(2026, 11, 24)),  # the as_of day itself counts
        (11, 25, None, AS_OF, date(2025, 11, 25)),  # one day later is last year
        (12, 30, None, date(2026, 1, 5), date(2025, 12, 30)),
        (1, 5, None, date(2026, 1, 5), date(2026, 1, 5)),
        (4, 14, None, date(2026, 3, 1), date(2025, 4, 14)),
        (2, 29, None, AS_OF, date(2024, 2, 29)),
        (2, 29, None, date(2028, 2, 28), date(2024, 2, 29)),
        (2, 29, None, date(2028, 2, 29), date(2028, 2, 29)),
        (2, 29, None, date(2028, 3, 1), date(2028, 2, 29)),
        (2, 28, None, date(2028, 2, 29), date(2028, 2, 28)),
        (3, 31, 2021, AS_OF, date(2021, 3, 31)),
        (12, 31, 2030, AS_OF, date(2030, 12, 31)),  # an explicit year is kept even if after as_of
    ],
)
def test_resolve_date(month: int, day: int, year: int | None, as_of: date, expected: date) -> None:
    assert resolve_date(month, day, year, as_of) == expected


@pytest.mark.parametrize(
    ("month", "day", "year"), [(2, 30, None), (4, 31, None), (2, 29, 2025), (1, 0, None), (1, 32, None), (13, 1, None)]
)
def test_resolve_impossible_date(month: int, day: int, year: int | None) -> None:
    with pytest.raises(ValueError):
        resolve_date(month, day, year, AS_OF)


def yearless_profile(meta: str) -> str:
    return f"Ann Example\n\n1 Papers\n\n{meta}\nA Title\n\nAnn Example\n"


def test_yearless_date_in_a_profile_read_in_january() -> None:
    (entry,) = parse_profile(yearless_profile("CVDec 30"), as_of=date(2026, 1, 5)).entries
    assert (entry.date, entry.date_raw, entry.year) == ("2025-12-30", "Dec 30", 2025)


def test_feb_29_in_a_profile() -> None:
    (entry,) = parse_profile(yearless_profile("CVFeb 29"), as_of=AS_OF).entries
    assert (entry.date, entry.date_raw) == ("2024-02-29", "Feb 29")
    (entry,) = parse_profile(yearless_profile("CVFeb 29, 2024Code"), as_of=AS_OF).entries
    assert (entry.date, entry.date_raw, entry.has_code) == ("2024-02-29", "Feb 29, 2024", True)


@pytest.mark.parametrize("meta", ["CVFeb 30", "CVApr 31", "CVFeb 29, 2025", "CVJan 0", "88.0CVJun 31, 2024Code"])
def test_impossible_date_in_a_profile(meta: str) -> None:
    err = parse_error(yearless_profile(meta), path="p.txt")
    assert err.line == 5
    assert str(err).startswith("p.txt:5: impossible date")


# --------------------------------------------------------------------------------------
# Damaged and foreign input
# --------------------------------------------------------------------------------------


def test_heading_disagrees_with_entries() -> None:
    path = FIXTURES / "truncated_heading.txt"
    err = parse_error(path.read_bytes(), path=str(path))
    assert isinstance(err, ValueError)
    assert err.path == str(path)
    assert err.line == 19  # the last entry found
    assert err.reason == "heading declares 3 papers but 2 entries were found (truncated or damaged file?)"
    assert str(err) == f"{path}:19: {err.reason}"


def test_meta_line_followed_by_nothing_with_heading() -> None:
    path = FIXTURES / "truncated_meta.txt"
    err = parse_error(path.read_bytes(), path="truncated_meta.txt")
    assert str(err) == (
        "truncated_meta.txt:19: entry starting '77.0OSFeb 4, 2024Code' has no title (file truncated mid-entry?)"
    )


def test_meta_line_followed_by_nothing_without_heading() -> None:
    text = "Ann Example\n\nCVJan 2, 2024\nA Title\n\nAnn Example\n\nAn abstract.\n\n77.0OSFeb 4, 2024Code\n"
    err = parse_error(text, path="p.txt")
    assert err.line == 10


def test_meta_and_title_followed_by_nothing() -> None:
    text = "Ann Example\n\n2 Papers\n\nCVJan 2, 2024\nA Title\n\nAnn Example\n\nCVJan 3, 2024\nCut Here\n"
    err = parse_error(text, path="p.txt")
    assert err.line == 11
    assert str(err) == "p.txt:11: entry 'Cut Here' has no author line (file truncated mid-entry?)"


@pytest.mark.parametrize("data", [b"", b"\n\n  \n", "", "\ufeff", BOM, BOM + b"\r\n\r\n", " \t \n"])
def test_empty_file(data: bytes | str) -> None:
    err = parse_error(data, path="empty.txt")
    assert str(err) == "empty.txt:1: empty file: no researcher name"


def test_empty_fixture_file() -> None:
    err = parse_error((FIXTURES / "empty.txt").read_bytes(), path="empty.txt")
    assert err.reason == "empty file: no researcher name"


def test_binary_file() -> None:
    err = parse_error((FIXTURES / "binary.bin").read_bytes(), path="img.bin")
    assert "binary" in err.reason
    assert str(err).startswith("img.bin")


@pytest.mark.parametrize(
    "data",
    [
        b"Ann Example\n\x00\n",
        "Ann Example\n\nCVJan 2, 2024\nA\x00Title\n\nAnn\n",
        b"Ann Example\n" + b"x" * 70000 + b"\x00" + b"y" * 70000,  # NUL in the middle of a big file
        "Ann Example".encode("utf-16"),
    ],
)
def test_nul_bytes_anywhere(data: bytes | str) -> None:
    assert "binary" in parse_error(data).reason


def test_readme_is_not_a_profile() -> None:
    path = FIXTURES / "readme.txt"
    err = parse_error(path.read_bytes(), path="readme.txt")
    assert err.line == 3
    assert str(err) == "readme.txt:3: unrecognized header line 'This folder holds a few helper scripts.'"


def test_single_line_is_not_a_profile() -> None:
    err = parse_error("Just a name and nothing else\n", path="x.txt")
    assert err.reason == "not a profile: no 'N Papers' heading and no paper entries"
    assert str(err).startswith("x.txt:")


def test_unrecognized_header_line_names_its_line() -> None:
    err = parse_error((FIXTURES / "unrecognized_header.txt").read_bytes(), path="u.txt")
    assert err.line == 5
    assert str(err) == "u.txt:5: unrecognized header line 'Followers12'"


def test_duplicate_header_field_is_rejected() -> None:
    err = parse_error("Ann Example\n\nh-index3\nh-index4\n\n0 Papers\n", path="d.txt")
    assert (err.line, err.reason) == (4, "unrecognized header line 'h-index4'")


def test_first_line_that_is_a_meta_line_is_not_a_name() -> None:
    err = parse_error("\n\n95.3LGApr 14Code\nA Title\n\nSomeone\n", path="m.txt")
    assert (err.line, err.reason) == (3, "first line is not a researcher name")


def test_overlong_name_is_rejected() -> None:
    assert parse_error("N" * 301 + "\n\n0 Papers\n").reason == "first line is not a researcher name"
    assert parse_profile("N" * 300 + "\n\n0 Papers\n", as_of=AS_OF).name == "N" * 300


def test_entry_text_before_first_entry_is_rejected() -> None:
    text = "Ann Example\n\n1 Papers\nstray text\n\nCVJan 2, 2024\nA Title\n\nAnn Example\n"
    err = parse_error(text, path="s.txt")
    assert (err.line, err.reason) == (4, "expected a paper entry, found 'stray text'")


def test_empty_author_line_is_rejected() -> None:
    err = parse_error("Ann Example\n\nCVJan 2, 2024\nA Title\n\net al.\n", path="a.txt")
    assert err.line == 6
    assert "empty author line" in err.reason


def test_error_without_path() -> None:
    with pytest.raises(ProfileParseError) as info:
        parse_profile("", as_of=AS_OF)
    assert str(info.value) == "<profile>:1: empty file: no researcher name"
    assert info.value.path is None


# --------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------

META_LIKE_LINES = [
    "",
    "",
    "",
    "Ann Example",
    "LG",
    "h-index12",
    "2papers",
    "1,200citations",
    "Novelty5%",
    "AI Score9",
    "2 Papers",
    "99 Papers",
    "95.3LGApr 14Code",
    "CVFeb 29",
    "CVFeb 30",
    "CVDec 31, 2025",
    "72DBFeb 11",
    "A Title",
    "Ann Example, Bo Lin et al. · Lab",
    "et al.",
    " · ",
    "An abstract sentence.",
    "\ufeff",
    "\x00",
    "\r",
    "9" * 5000 + "citations",
]


def check_total(data: bytes | str) -> None:
    try:
        profile = parse_profile(data, as_of=AS_OF, path="prop.txt")
    except ProfileParseError as err:
        assert str(err).startswith("prop.txt")
        assert isinstance(err.reason, str) and err.reason
        return
    assert isinstance(profile, Profile)
    assert profile.name and profile.name == profile.name.strip()
    for entry in profile.entries:
        date.fromisoformat(entry.date)
        assert entry.authors


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_any_text_parses_or_raises_profile_parse_error(text: str) -> None:
    check_total(text)


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_any_bytes_parse_or_raise_profile_parse_error(data: bytes) -> None:
    check_total(data)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(META_LIKE_LINES), max_size=30), st.sampled_from(["\n", "\r\n", "\r"]))
def test_profile_like_lines_parse_or_raise_profile_parse_error(lines: list[str], eol: str) -> None:
    check_total(eol.join(lines))
    check_total(eol.join(lines).encode("utf-8"))


# -- round trip: render generated profiles into the format, parse them back ----------------

MONTH_ABBR = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
LETTERS = st.characters(categories=["Lu", "Ll", "Lo"], exclude_characters="\ufeff")
WORD = st.text(LETTERS, min_size=1, max_size=10)
PERSON = st.lists(WORD, min_size=1, max_size=3).map(" ".join).filter(lambda s: not s.endswith("et al"))
PRINTABLE = st.characters(
    categories=["L", "M", "N", "P", "S", "Zs"], exclude_characters="\ufeff\u00a0\u2007\u202f\u3000\u1680"
)
LINE_TEXT = st.text(PRINTABLE, min_size=1, max_size=60).map(str.strip).filter(bool)
AFFILIATION = st.text(st.characters(categories=["L", "N"]) | st.sampled_from(" -&"), min_size=1, max_size=20).map(
    str.strip
)
CATEGORY = st.text(st.characters(min_codepoint=ord("A"), max_codepoint=ord("Z")), min_size=2, max_size=2)


@dataclass
class GenEntry:
    category: str
    score_text: str | None
    when: date
    with_year: bool
    code: bool
    title: str
    authors: list[str]
    truncated: bool
    affiliations: list[str]
    paragraphs: list[str]


@st.composite
def gen_entry(draw: st.DrawFn, as_of: date) -> GenEntry:
    with_year = draw(st.booleans())
    if with_year:
        when = draw(st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31)))
    else:  # a year-less date means the latest such date not after as_of: any day of the past year
        when = as_of - timedelta(days=draw(st.integers(0, 364)))
    score_text = draw(
        st.none()
        | st.integers(0, 999).map(str)
        | st.tuples(st.integers(0, 999), st.integers(0, 9)).map(lambda t: f"{t[0]}.{t[1]}")
    )
    return GenEntry(
        category=draw(CATEGORY),
        score_text=score_text,
        when=when,
        with_year=with_year,
        code=draw(st.booleans()),
        title=draw(LINE_TEXT),
        authors=draw(st.lists(PERSON, min_size=1, max_size=5)),
        truncated=draw(st.booleans()),
        affiliations=draw(st.lists(AFFILIATION.filter(bool), max_size=3)),
        paragraphs=draw(st.lists(LINE_TEXT, max_size=3)),
    )


@st.composite
def gen_profile(draw: st.DrawFn) -> tuple[str, dict, list[GenEntry], bool, date, list[int]]:
    as_of = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2035, 12, 31)))
    fields = {
        "name": draw(PERSON),
        "primary_category": draw(st.none() | CATEGORY),
        **{
            key: draw(st.none() | st.integers(0, 10**7))
            for key in ("h_index", "papers_declared", "citations", "novelty", "ai_score")
        },
    }
    entries = draw(st.lists(gen_entry(as_of), min_size=1, max_size=4))
    with_heading = draw(st.booleans())
    commas = draw(st.booleans())
    order = draw(
        st.permutations(["primary_category", "h_index", "papers_declared", "citations", "novelty", "ai_score"])
    )
    eol = draw(st.sampled_from(["\n", "\r\n"]))

    def num(n: int) -> str:
        return f"{n:,}" if commas else str(n)

    templates = {
        "primary_category": "{}",
        "h_index": "h-index{}",
        "papers_declared": "{}papers",
        "citations": "{}citations",
        "novelty": "Novelty{}%",
        "ai_score": "AI Score{}",
    }
    lines = [fields["name"], ""]
    for key in order:
        if fields[key] is not None:
            value = fields[key] if key == "primary_category" else num(fields[key])
            lines.append(templates[key].format(value))
    lines.append("")
    if with_heading:
        lines += [f"{len(entries)} Papers", ""]
    lines_of_entries = []
    for e in entries:
        lines_of_entries.append(len(lines) + 1)
        month_day = f"{MONTH_ABBR[e.when.month - 1]} {e.when.day}"
        meta = (e.score_text or "") + e.category + month_day + (f", {e.when.year}" if e.with_year else "")
        meta += "Code" if e.code else ""
        author_line = ", ".join(e.authors) + (" et al." if e.truncated else "")
        if e.affiliations:
            author_line += " · " + ", ".join(e.affiliations)
        lines += [meta, e.title, "", author_line, ""]
        for paragraph in e.paragraphs:
            lines += [paragraph, ""]
    text = eol.join(lines)
    return text, fields, entries, with_heading, as_of, lines_of_entries


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gen_profile(), st.sampled_from(["str", "utf-8", "utf-8-sig"]))
def test_round_trip_of_generated_profiles(generated: tuple, encoding: str) -> None:
    text, fields, entries, with_heading, as_of, lines_of_entries = generated
    data: bytes | str = text if encoding == "str" else text.encode(encoding)
    profile = parse_profile(data, as_of=as_of, path="gen.txt")
    for key, value in fields.items():
        assert getattr(profile, key) == value, key
    assert profile.papers_heading == (len(entries) if with_heading else None)
    assert len(profile.entries) == len(entries)
    for got, want, line in zip(profile.entries, entries, lines_of_entries, strict=True):
        assert got.line == line
        assert got.title == want.title
        assert got.category == want.category
        assert got.date == want.when.isoformat()
        month_day = f"{MONTH_ABBR[want.when.month - 1]} {want.when.day}"
        assert got.date_raw == month_day + (f", {want.when.year}" if want.with_year else "")
        assert got.score == (float(want.score_text) if want.score_text is not None else None)
        assert got.has_code is want.code
        assert got.authors == want.authors
        assert got.authors_truncated is want.truncated
        assert got.affiliations == want.affiliations
        assert got.abstract == "\n\n".join(want.paragraphs)


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2100, 12, 31)), st.integers(1, 12), st.integers(1, 31))
def test_resolve_date_is_the_latest_match_not_after_as_of(as_of: date, month: int, day: int) -> None:
    try:
        got = resolve_date(month, day, None, as_of)
    except ValueError:
        assume(False)  # impossible month/day (Feb 30, Apr 31): covered above
        return
    assert (got.month, got.day) == (month, day)
    assert got <= as_of
    # No later occurrence of that month/day is still <= as_of.
    for year in range(got.year + 1, as_of.year + 1):
        try:
            later = date(year, month, day)
        except ValueError:
            continue
        assert later > as_of
