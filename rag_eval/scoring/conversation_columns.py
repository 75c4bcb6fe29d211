"""A conversation job's run folder: the cells scores.csv adds so that the file holds each
conversation whole, and the size summary.md shows beside a sample.

scores.csv keeps its columns (a conversation's question and answer are its first human
message and the AI's last words, its ground_truth the expected outcome) and adds, for a
conversation job only and only those any sample carries, `user_input`,
`reference_tool_calls` and `reference_topics` as JSON: read back, they give the sample's
own fields (`Sample.model_validate`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from rag_eval.domain.conversation import called_tools
from rag_eval.domain.safe_text import spreadsheet_cell
from rag_eval.domain.sample import Sample

CONVERSATION_COLUMNS = ("user_input", "reference_tool_calls", "reference_topics")


def conversation_columns(samples: Sequence[Sample]) -> tuple[str, ...]:
    """The conversation columns of the job's scores.csv: none for single-turn samples (a
    job holds one kind), else those at least one sample gives."""
    if not any(sample.is_conversation for sample in samples):
        return ()
    return tuple(
        name
        for name in CONVERSATION_COLUMNS
        if any(getattr(sample, name) is not None for sample in samples)
    )


def conversation_cells(sample: Sample, columns: Sequence[str]) -> dict[str, str]:
    """The sample's value of each column as JSON ("" where it gives none: an empty list of
    expected calls is `[]`, the agent should have called no tool), never a formula."""
    cells: dict[str, str] = {}
    for name in columns:
        value = getattr(sample, name)
        cells[name] = "" if value is None else spreadsheet_cell(_json(value))
    return cells


def _json(value: list[Any]) -> str:
    # Messages and calls as a client writes them (no `tool_calls: null`); topics as they are.
    plain = [
        item.model_dump(exclude_none=True) if isinstance(item, BaseModel) else item
        for item in value
    ]
    return json.dumps(plain, ensure_ascii=False)


def conversation_sizes(samples: Sequence[Sample], rows: int) -> tuple[list[str], list[list[str]]]:
    """summary.md's column of a conversation job, and its first `rows` cells: a header and
    one cell a row, or for single-turn samples neither (the row keeps its columns)."""
    if not any(sample.is_conversation for sample in samples):
        return [], [[] for _ in range(rows)]
    return ["conversation"], [[conversation_size(sample)] for sample in samples[:rows]]


def conversation_size(sample: Sample) -> str:
    """How long a conversation is, for a table's cell: "4 messages, 1 tool call"."""
    messages = sample.user_input or []
    calls = len(called_tools(messages))
    return f"{_count(len(messages), 'message')}, {_count(calls, 'tool call')}"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
