"""Parser edges that mutation testing showed unguarded: exact messages and line numbers, limits at their
boundary, where NUL bytes are looked for, and layouts the examples do not use (no blank lines, indentation)."""

from __future__ import annotations

from datetime import date

import pytest

from conftest import AS_OF
from scholar_catalog.db import parser
from scholar_catalog.db.parser import ProfileParseError, decode_profile_bytes, parse_profile, resolve_date

ENTRY = ["95.3LGApr 14, 2024", "Title One", "", "Ada Lovelace, Bo Chen", "", "An abstract."]
PROFILE = ["Ada Lovelace", "", "CL", "h-index3", "", "1 Paper", "", *ENTRY]


def parse(lines: list[str] | str, path: str | None = None) -> parser.Profile:
    return parse_profile(lines if isinstance(lines, str) else "\n".join(lines), as_of=AS_OF, path=path)


def failure(lines: list[str] | str | bytes) -> str:
    with pytest.raises(ProfileParseError) as err:
        if isinstance(lines, bytes):
            parse_profile(lines, as_of=AS_OF)
        else:
            parse(lines)
    return str(err.value)


def test_the_error_carries_reason_line_and_path() -> None:
    err = ProfileParseError("bad", line=3, path="p.txt")
    assert (err.args, err.reason, err.line, err.path, str(err)) == (("bad",), "bad", 3, "p.txt", "p.txt:3: bad")
    assert str(ProfileParseError("bad")) == "<profile>: bad"


# -- NUL bytes: looked for in the first and the last 64 KiB -----------------------------------------

BINARY = "<profile>: binary data (NUL bytes), not a text profile"


@pytest.mark.parametrize(
    "data",
    [b"\x00" + b"a" * 200_000, b"a" * 200_000 + b"\x00", b"a" * 100_000 + b"\x00" + b"a" * 65_535],
    ids=["at-the-start", "at-the-end", "first-byte-of-the-last-64k"],
)
def test_nul_bytes_near_either_end_mean_binary(data: bytes) -> None:
    with pytest.raises(ProfileParseError) as err:
        decode_profile_bytes(data)
    assert (str(err.value), err.value.line) == (BINARY, None)


@pytest.mark.parametrize(
    "data",
    [b"a" * 65_536 + b"\x00" + b"a" * 100_000, b"a" * 100_000 + b"\x00" + b"a" * 65_536],
    ids=["just-after-the-first-64k", "just-before-the-last-64k"],
)
def test_nul_bytes_in_the_middle_of_a_big_file_are_left_to_the_parser(data: bytes) -> None:
    assert decode_profile_bytes(data) == data.decode()
    assert failure(data) == BINARY  # the text check still refuses it


def test_nul_in_text_is_binary() -> None:
    assert failure("Ada\x00Lovelace") == BINARY


# -- dates ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("month", "day", "expected"),
    [(1, 1, date(2026, 1, 1)), (1, 31, date(2026, 1, 31)), (12, 31, date(2025, 12, 31)), (2, 29, date(2024, 2, 29))],
)
def test_yearless_dates_at_the_edges_of_the_range(month: int, day: int, expected: date) -> None:
    assert resolve_date(month, day, None, AS_OF) == expected


@pytest.mark.parametrize(("month", "day"), [(0, 1), (13, 1), (1, 0), (1, 32), (13, 32)])
def test_a_day_or_month_out_of_range_says_so(month: int, day: int) -> None:
    with pytest.raises(ValueError) as err:
        resolve_date(month, day, None, AS_OF)
    assert err.value.args == ("day or month out of range",)


@pytest.mark.parametrize(("month", "day"), [(2, 30), (4, 31), (11, 31)])
def test_a_date_no_calendar_has_says_so(month: int, day: int) -> None:
    with pytest.raises(ValueError) as err:
        resolve_date(month, day, None, AS_OF)
    assert err.value.args == ("no such calendar date",)


# -- numbers ----------------------------------------------------------------------------------------


def test_counts_up_to_2_to_the_53_are_data() -> None:
    profile = parse(["Ada Lovelace", "", f"h-index{2**53}", *PROFILE[4:]])
    assert profile.h_index == 2**53


def test_a_count_beyond_2_to_the_53_is_damage_on_its_line() -> None:
    assert failure(["Ada Lovelace", "", "CL", f"h-index{2**53 + 1}", *PROFILE[4:]]) == (
        "<profile>:4: number '9007199254740993' is implausibly large"
    )
    assert failure(["Ada Lovelace", "", "CL", "", f"{2**60} Papers", "", *ENTRY]) == (
        "<profile>:5: number '1152921504606846976' is implausibly large"
    )


# -- layout ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("blank", [1, 2, 3])
def test_blank_lines_before_the_name_are_skipped(blank: int) -> None:
    profile = parse([""] * blank + ["Ada Lovelace", "CL", "h-index3", "", "1 Paper", "", *ENTRY])
    assert (profile.name, profile.primary_category, profile.h_index) == ("Ada Lovelace", "CL", 3)
    assert profile.entries[0].line == blank + 7


def test_a_header_without_blank_lines() -> None:
    profile = parse(["Ada Lovelace", "CL", "h-index3", "7papers", "1 Paper", "", *ENTRY])
    assert (profile.primary_category, profile.h_index, profile.papers_declared) == ("CL", 3, 7)


def test_a_blank_line_inside_the_header() -> None:
    profile = parse(["Ada Lovelace", "CL", "", "h-index3", "", "", "1 Paper", "", *ENTRY])
    assert (profile.primary_category, profile.h_index, profile.papers_heading) == ("CL", 3, 1)


def test_trailing_and_leading_spaces_do_not_hide_an_entry() -> None:
    lines = ["Ada Lovelace  ", "", "CL ", "", "1 Paper ", "", "  95.3LGApr 14, 2024  ", "Title One  "]
    profile = parse([*lines, "", "  Ada Lovelace, Bo Chen", "", "  An abstract", "  on two lines."])
    entry = profile.entries[0]
    assert (entry.title, entry.authors, entry.abstract) == (
        "Title One",
        ["Ada Lovelace", "Bo Chen"],
        "An abstract on two lines.",
    )
    assert entry.score == 95.3 and entry.line == 7


def test_the_author_line_may_follow_the_title_directly() -> None:
    profile = parse(["Ada Lovelace", "", "1 Paper", "", "LGApr 14, 2024", "Title One", "Ada Lovelace", "", "Text."])
    assert profile.entries[0].authors == ["Ada Lovelace"] and profile.entries[0].abstract == "Text."


def test_a_meta_like_line_inside_an_abstract_is_text() -> None:
    profile = parse([*PROFILE[:-1], "Some text", "72CVMay 3", "more text."])
    assert [e.title for e in profile.entries] == ["Title One"]
    assert profile.entries[0].abstract == "Some text 72CVMay 3 more text."


def test_a_meta_line_right_after_the_name_is_a_header_error() -> None:
    assert failure(["Ada Lovelace", "95.3LGApr 14, 2024", "Title One", "", "Ada Lovelace"]) == (
        "<profile>:2: unrecognized header line '95.3LGApr 14, 2024'"
    )


def test_a_meta_line_without_a_title_in_the_header_is_a_header_error() -> None:
    assert failure(["Ada Lovelace", "", "95LGApr 14", "", "Title One", "", "Ada Lovelace"]) == (
        "<profile>:3: unrecognized header line '95LGApr 14'"
    )
    assert failure(["Ada Lovelace", "", "95LGApr 14"]) == "<profile>:3: unrecognized header line '95LGApr 14'"


def test_a_file_cut_after_a_title_names_the_entry() -> None:
    assert failure(["Ada Lovelace", "", "95LGApr 14", "Title One"]) == (
        "<profile>:4: entry 'Title One' has no author line (file truncated mid-entry?)"
    )
    assert failure([*PROFILE, "", "LGMay 1, 2024", "Title Two"]) == (
        "<profile>:16: entry 'Title Two' has no author line (file truncated mid-entry?)"
    )


@pytest.mark.parametrize("ending", ["", "\n", "\n\n"])
def test_a_file_cut_after_a_meta_line_names_it(ending: str) -> None:
    assert failure("\n".join([*PROFILE, "", "LGMay 1, 2024"]) + ending) == (
        "<profile>:15: entry starting 'LGMay 1, 2024' has no title (file truncated mid-entry?)"
    )
    # The first entry's title looks like a meta line itself: the file was cut after two meta lines.
    assert failure("\n".join(["Ada Lovelace", "", "95LGApr 14", "72CVMay 3"]) + ending) == (
        "<profile>:4: entry starting '72CVMay 3' has no title (file truncated mid-entry?)"
    )
    # Right after the heading, a lone meta line is not an entry at all.
    assert failure("\n".join(["Ada Lovelace", "", "1 Paper", "", "LGMay 1, 2024"]) + ending) == (
        "<profile>:5: expected a paper entry, found 'LGMay 1, 2024'"
    )


def test_a_header_without_entries_is_not_a_profile() -> None:
    assert failure(["Ada Lovelace", "CL", "h-index3"]) == (
        "<profile>:4: not a profile: no 'N Papers' heading and no paper entries"
    )
    assert failure(["Ada Lovelace", "", "CL", "", ""]) == (
        "<profile>:6: not a profile: no 'N Papers' heading and no paper entries"
    )


def test_a_heading_that_disagrees_points_at_the_last_entry() -> None:
    assert failure(["Ada Lovelace", "", "2 Papers", "", *ENTRY]) == (
        "<profile>:5: heading declares 2 papers but 1 entries were found (truncated or damaged file?)"
    )


def test_an_unexpected_exception_becomes_a_parse_error_with_the_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(data: object, as_of: object) -> None:
        raise IndexError("list index out of range")

    monkeypatch.setattr(parser, "_parse", broken)
    with pytest.raises(ProfileParseError) as err:
        parse_profile("x", as_of=AS_OF, path="p.txt")
    assert str(err.value) == "p.txt: unreadable profile (IndexError: list index out of range)"
    assert isinstance(err.value.__cause__, IndexError)


# -- quoting in messages --------------------------------------------------------------------------


def test_long_lines_are_cut_in_messages() -> None:
    sixty, long = "x" * 60, "y" * 61 + "z" * 40
    assert failure(["Ada Lovelace", "", sixty]) == f"<profile>:3: unrecognized header line '{sixty}'"
    assert failure(["Ada Lovelace", "", long]) == f"<profile>:3: unrecognized header line '{'y' * 59}…'"
