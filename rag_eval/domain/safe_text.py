"""Sample texts made safe for the files a person opens: markdown tables and spreadsheets.

The texts are the caller's (or the judge's), so anything in them could be markup: a `|` or
a newline would add table cells or rows, raw HTML would render in a markdown viewer, and a
cell starting with `=` is a formula to a spreadsheet (OWASP's CSV injection).
"""

from __future__ import annotations

import html
import re

_WHITESPACE = re.compile(r"\s+")
# What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection").
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def markdown_text(text: str) -> str:
    """Free text inside a markdown file: no raw HTML."""
    return html.escape(text, quote=False)


def markdown_cell(text: str) -> str:
    """One markdown table cell: one line, no raw HTML, no cell separator."""
    flat = _WHITESPACE.sub(" ", text).strip()
    return markdown_text(flat).replace("\\", "\\\\").replace("|", "\\|")


def spreadsheet_cell(text: str) -> str:
    """A CSV cell no spreadsheet runs as a formula: a leading quote marks it as text."""
    return f"'{text}" if text.startswith(_FORMULA_START) else text
