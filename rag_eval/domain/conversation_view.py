"""What a person reads of a conversation, in report.html and on the review page (the run
folder's label-samples.jsonl, `rag_eval.scoring.label_files`): its turns in order, each AI
turn with the tools it called and what they returned under them, and, when the sample says
which calls were expected, the expected calls beside the calls made with ragas' verdict on
each (`rag_eval.domain.tool_calls.pair_calls`: tool_call_accuracy's strict-order pairing).

Plain JSON for the pages' scripts, which set every text as text (`textContent`). Bounded
like the rest of a page: a message is cut to MAX_MESSAGE_CHARS and a conversation to
MAX_CHARS in all, the rest named as left out (request.json holds it whole).
"""

from __future__ import annotations

from typing import Any

from rag_eval.domain.conversation import Message, called_tools
from rag_eval.domain.sample import Sample
from rag_eval.domain.tool_calls import CallPair, pair_calls

MAX_MESSAGE_CHARS = 1_000
MAX_CHARS = 12_000
MAX_CALL_CHARS = 300  # a call as `name(arg=value, ...)`


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def conversation_view(sample: Sample) -> dict[str, Any] | None:
    """The conversation as the page draws it, or None for a single-turn sample."""
    if sample.user_input is None:
        return None
    turns, left_out = _turns(sample.user_input)
    view: dict[str, Any] = {"turns": turns, "left_out": left_out}
    if sample.reference_tool_calls is not None:
        pairs = pair_calls(called_tools(sample.user_input), sample.reference_tool_calls)
        view["calls"] = [_pair(pair) for pair in pairs]
    if sample.reference_topics:
        view["topics"] = list(sample.reference_topics)
    return view


def _pair(pair: CallPair) -> dict[str, Any]:
    """An expected call beside the call made, as `CallPair.describe` says it, cut."""
    described = pair.describe()
    for side in ("expected", "actual"):
        if described[side] is not None:
            described[side] = _cut(described[side], MAX_CALL_CHARS)
    return described


def _turns(messages: list[Message]) -> tuple[list[dict[str, Any]], int]:
    """Human and AI turns in order, a tool's result under the AI turn that called it (a
    tool message follows its call, or another result); and how many messages did not fit."""
    turns: list[dict[str, Any]] = []
    budget = MAX_CHARS
    for index, message in enumerate(messages):
        if budget <= 0:
            return turns, len(messages) - index
        text = _cut(message.content, min(MAX_MESSAGE_CHARS, budget))
        budget -= len(text)
        if message.type == "tool" and turns and turns[-1]["type"] == "ai":
            turns[-1]["results"].append(text)
            continue
        turn: dict[str, Any] = {"type": message.type, "content": text}
        if message.type == "ai":
            turn["calls"] = [_cut(c.label(), MAX_CALL_CHARS) for c in message.tool_calls or []]
            turn["results"] = []
        turns.append(turn)
    return turns, 0
