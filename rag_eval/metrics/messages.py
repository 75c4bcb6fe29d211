"""A conversation's plain fields as ragas' message objects: its multi-turn metrics check
`isinstance(message, AIMessage)` and read `ToolCall`s, not dictionaries."""

from __future__ import annotations

from typing import Any


def ragas_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of a multi-turn metric's `ascore`, from a sample's plain
    values (`MetricSpec.arguments`): messages and tool calls as ragas' own classes."""
    from ragas.messages import AIMessage, HumanMessage, ToolCall, ToolMessage

    def call(raw: dict[str, Any]) -> ToolCall:
        return ToolCall(name=raw["name"], args=raw.get("args") or {})

    def message(raw: dict[str, Any]) -> HumanMessage | AIMessage | ToolMessage:
        if raw["type"] == "human":
            return HumanMessage(content=raw["content"])
        if raw["type"] == "tool":
            return ToolMessage(content=raw["content"])
        calls = raw.get("tool_calls")
        return AIMessage(
            content=raw["content"], tool_calls=None if calls is None else [call(c) for c in calls]
        )

    converted = dict(arguments)
    if "user_input" in converted:
        converted["user_input"] = [message(m) for m in converted["user_input"]]
    if converted.get("reference_tool_calls") is not None:
        converted["reference_tool_calls"] = [call(c) for c in converted["reference_tool_calls"]]
    return converted
