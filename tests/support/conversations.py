"""Two conversations of a support agent with a `search` tool, for the tests of what a
person sees of a conversation (the report, the label queue, `rag-eval review`): one that
makes the expected call, one that searches for the wrong thing and misses a call."""

from __future__ import annotations

from typing import Any

MATCHING: dict[str, Any] = {
    "sample_id": "refund-ok",
    "user_input": [
        {"type": "human", "content": "What is your refund policy?"},
        {
            "type": "ai",
            "content": "Let me look that up.",
            "tool_calls": [{"name": "search", "args": {"query": "refund policy"}}],
        },
        {"type": "tool", "content": "Refunds are accepted within 30 days."},
        {"type": "ai", "content": "You can return it within 30 days for a refund."},
    ],
    "reference_tool_calls": [{"name": "search", "args": {"query": "refund policy"}}],
    "reference": "The user learns that refunds are accepted within 30 days.",
}


def mismatching(asked: str) -> dict[str, Any]:
    """The agent asked `asked` searches for shipping times instead of the refund policy,
    and opens no ticket: its first expected call has another argument, its second is missing."""
    return {
        "sample_id": "refund-wrong",
        "user_input": [
            {"type": "human", "content": asked},
            {
                "type": "ai",
                "content": "",
                "tool_calls": [{"name": "search", "args": {"query": "shipping times"}}],
            },
            {"type": "tool", "content": "Parcels ship within 5 days."},
            {"type": "ai", "content": "Parcels ship within 5 days."},
        ],
        "reference_tool_calls": [
            {"name": "search", "args": {"query": "refund policy"}},
            {"name": "open_ticket", "args": {"topic": "refund"}},
        ],
        "reference_topics": ["refunds", "orders"],
        "reference": "A refund ticket is opened for the user.",
    }
