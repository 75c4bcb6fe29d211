"""How a sample's contexts may be written: a list of strings, or one string that holds them
(a JSON list, a Python list as ragas' CSV exports write it, or paragraphs)."""

from __future__ import annotations

import ast
import json
import re
from typing import Annotated

from pydantic import WithJsonSchema

MAX_CONTEXTS = 50
MAX_CONTEXT_CHARS_TOTAL = 200_000

# What the API's schema tells clients: a sample's validator splits a string as below.
Contexts = Annotated[
    list[str] | None,
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "array", "items": {"type": "string"}, "maxItems": MAX_CONTEXTS},
                {"type": "string"},
                {"type": "null"},
            ],
            "description": "a list of contexts, or one string holding a JSON list or "
            "paragraphs separated by blank lines",
        }
    ),
]


def split_contexts(value: str) -> list[str]:
    """A string of contexts: a JSON list, a Python list of strings (ragas' CSV exports
    write `['a', 'b']`), or paragraphs separated by blank lines."""
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        parsed = _string_list(text)
        if parsed is not None:
            return [item for item in parsed if item.strip()]
    return [part.strip() for part in re.split(r"\n\s*\n", text) if part.strip()]


def _string_list(text: str) -> list[str] | None:
    # literal_eval evaluates literals only, and Python's parser refuses deep nesting; a
    # client's string must not crash validation, whatever it holds.
    for parse in (json.loads, ast.literal_eval):
        try:
            parsed = parse(text)
        except (ValueError, SyntaxError, TypeError, RecursionError, MemoryError):
            continue
        if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
            return parsed
    return None
