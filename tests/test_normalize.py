"""Tests for :mod:`scholar_catalog.db.normalize`: the keys that identify authors and deduplicate papers."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from scholar_catalog.db.normalize import fold, normalize_name, normalize_title


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Łukasz", "lukasz"),
        ("ŁUKASZ", "lukasz"),
        ("Zoë", "zoe"),
        ("José", "jose"),
        ("Søren", "soren"),
        ("Straße", "strasse"),
        ("Đorđe", "dorde"),
        ("Þórunn", "thorunn"),
        ("Æsir Œuvre", "aesir oeuvre"),
        ("Ærøskøbing", "aeroskobing"),
        ("İlkay", "ilkay"),
        ("ılık", "ilik"),
        ("陈明", "陈明"),
        ("Ольга", "ольга"),
        ("ΑΛΈΞΑΝΔΡΟΣ", "αλεξανδροσ"),  # casefold turns the final sigma into σ
        ("ＡＢＣ１", "abc1"),  # full-width forms
    ],
)
def test_fold(text: str, expected: str) -> None:
    assert fold(text) == expected


@pytest.mark.parametrize(
    "variants",
    [
        ["Zoë Hartmann", "ZOE  hartmann", "zoe hartmann", " Zoë\tHartmann ", "Zoe\u00a0Hartmann"],
        ["Jean-Luc Picard", "Jean Luc Picard", "jean–luc picard", "JEAN_LUC PICARD"],
        ["Łukasz Wrona", "Lukasz Wrona", "lukasz  WRONA"],
        ["O'Brien", "O’Brien", "O Brien", "o.brien"],
        ["J. R. R. Tolkien", "J R R Tolkien", "j.r.r. tolkien"],
        ["José García", "Jose Garcia", "JOSÉ GARCÍA", "Jose\u0301 Garci\u0301a"],  # composed and decomposed
    ],
)
def test_name_variants_share_a_key(variants: list[str]) -> None:
    keys = {normalize_name(v) for v in variants}
    assert len(keys) == 1, keys


def test_name_keys() -> None:
    assert normalize_name("Zoë Hartmann") == "zoe hartmann"
    assert normalize_name("Jean-Luc") == "jean luc"
    assert normalize_name("Łukasz") == "lukasz"
    assert normalize_name("陈明") == "陈明"
    assert normalize_name("陈 明") == "陈 明"
    assert normalize_name("  --  ") == ""
    assert normalize_name("") == ""


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Zoë Hartmann", "Zoe Hartman"),
        ("陈明", "陈鸣"),
        ("Jean Luc", "Jeanluc"),
        ("Ann Lee", "Anne Lee"),
    ],
)
def test_different_names_stay_different(a: str, b: str) -> None:
    assert normalize_name(a) != normalize_name(b)


def test_title_dedup_keys() -> None:
    assert normalize_title("LatentMoE: Toward Optimal…") == "latentmoe toward optimal"
    assert normalize_title("latentmoe toward optimal") == "latentmoe toward optimal"
    a = "Nemotron 3 Super: Open, Efficient Mixture-of-Experts Hybrid Mamba-Transformer Model for Agentic Reasoning"
    b = "NEMOTRON 3 SUPER — open efficient mixture of experts hybrid mamba transformer model for agentic reasoning."
    assert normalize_title(a) == normalize_title(b)
    assert normalize_title('"Attention Is Not Enough": Revisiting') == normalize_title(
        "Attention is not enough revisiting"
    )
    assert normalize_title("Rivers · Roads · Rails") == "rivers roads rails"
    assert normalize_title("Café-Grade Noise") == normalize_title("cafe grade noise")
    assert normalize_title("多模态 Retrieval") == "多模态 retrieval"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Nemotron 3 Super", "Nemotron 3 Nano"),
        ("NVIDIA Nemotron 3: Efficient and Open Intelligence", "NVIDIA Nemotron Nano 2"),
        ("3D Scene Graphs", "2D Scene Graphs"),
        ("Nemotron-H", "Nemotron H2"),
    ],
)
def test_different_titles_stay_different(a: str, b: str) -> None:
    assert normalize_title(a) != normalize_title(b)


def test_names_and_titles_share_one_rule() -> None:
    for text in ["Zoë Hartmann", "LatentMoE: Toward", "陈明", "Jean-Luc", "  a  b  "]:
        assert normalize_name(text) == normalize_title(text)


KEY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@settings(max_examples=300, deadline=None)
@given(KEY_TEXT)
def test_keys_are_tidy(text: str) -> None:
    key = normalize_name(text)
    assert key == key.strip()
    assert "  " not in key
    assert not any(ch.isspace() and ch != " " for ch in key)
    assert "_" not in key
    assert key == key.casefold()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=8), min_size=1, max_size=4))
def test_separators_and_ascii_case_do_not_matter(words: list[str]) -> None:
    spaced = " ".join(words)
    assert normalize_name(spaced) == normalize_name("  " + "-".join(words) + ". ")
    assert normalize_name(spaced) == normalize_name(", ".join(words))


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=30))
def test_ascii_case_does_not_matter(text: str) -> None:
    assert normalize_title(text.upper()) == normalize_title(text.lower()) == normalize_title(text)


@settings(max_examples=300, deadline=None)
@given(KEY_TEXT)
@example("\U0001d6a4")  # mathematical dotless i: decomposes to ı, which folds to i
@example("\u01ff")  # ø with an acute accent
def test_keys_are_idempotent(text: str) -> None:
    key = normalize_name(text)
    assert normalize_name(key) == key
    assert normalize_title(key) == key


def test_kana_voicing_marks_are_not_accents() -> None:
    assert normalize_name("ガクト") != normalize_name("カクト")
    assert normalize_name("ダイスケ") != normalize_name("タイスケ")


def test_indic_vowel_signs_do_not_split_words() -> None:
    assert " " not in normalize_name("हिन्दी")
    assert " " not in normalize_name("สมหญิง")


def test_a_mark_with_no_letter_before_it_is_dropped() -> None:
    # A vowel sign belongs to the letter before it; at the start of a name it belongs to nothing.
    assert normalize_name("\u093e") == ""
    assert normalize_name("\u093e\u0915") == "\u0915"
    assert normalize_name("\u0915\u093e") == "\u0915\u093e"
    assert normalize_name("- \u093e\u0915") == "\u0915"


def test_a_leading_accent_with_no_letter_is_dropped() -> None:
    assert fold("\u0301a") == "a"


def test_accents_are_dropped_below_armenian_only() -> None:
    # U+052F is the last letter of the foldable scripts (Cyrillic Supplement); from U+0530 on, marks stay.
    assert fold("\u052f\u0301") == "\u052f"
    assert fold("\u0530\u0301") == "\u0530\u0301"
