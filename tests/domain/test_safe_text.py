"""Hostile sample texts cannot add table cells or rows, render HTML, or run as formulas."""

from __future__ import annotations

import pytest

from rag_eval.domain.safe_text import markdown_cell, markdown_text, spreadsheet_cell


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("plain", "plain"),
        ("a | b", "a \\| b"),
        ("row\n| injected | row |", "row \\| injected \\| row \\|"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
        ("back\\slash|", "back\\\\slash\\|"),
        ("  spaced\r\n\tout  ", "spaced out"),
    ],
)
def test_a_markdown_cell_is_one_plain_line(text: str, cell: str) -> None:
    assert markdown_cell(text) == cell


def test_free_markdown_text_keeps_its_lines_but_no_html() -> None:
    assert markdown_text("1. <b>Fix</b> retrieval\n2. & more") == (
        "1. &lt;b&gt;Fix&lt;/b&gt; retrieval\n2. &amp; more"
    )


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_a_spreadsheet_cell_never_starts_a_formula(start: str) -> None:
    assert spreadsheet_cell(f'{start}HYPERLINK("http://example.invalid")').startswith("'")


def test_ordinary_cells_are_left_as_they_are() -> None:
    assert spreadsheet_cell("In 1889.") == "In 1889."
    assert spreadsheet_cell("") == ""
