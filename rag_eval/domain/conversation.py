"""A conversation to score: ragas' `MultiTurnSample` messages (docs/ARCHITECTURE.md, "API").

`user_input` is the list of messages as ragas names them: `human`, `ai` (with optional
`tool_calls` of `{name, args}`) and `tool` (what a tool returned). The rules are ragas' own
(a tool result follows the AI message that called the tool, or another result), checked
here so that a client hears which message is wrong, with its index, before any judge call.
Bounded like every other input: a job's texts must fit a worker's memory and time.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Limits of one conversation (documented in the README with the other input limits).
MAX_MESSAGES = 100
MAX_MESSAGE_CHARS = 20_000  # one message's content
MAX_CONVERSATION_CHARS = 100_000  # all its messages' contents together
MAX_TOOL_CALLS = 20  # in one AI message, and expected in one sample
MAX_TOOL_NAME_CHARS = 128
MAX_TOOL_ARGS_CHARS = 4_000  # a call's arguments, as JSON
MAX_TOPICS = 20
MAX_TOPIC_CHARS = 200

MessageType = Literal["human", "ai", "tool"]


class ToolCall(BaseModel):
    """One call of a tool: its name and its arguments (a JSON object), as ragas' ToolCall."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=MAX_TOOL_NAME_CHARS)
    args: dict[str, Any] = Field(default_factory=dict)

    @field_validator("args", mode="before")
    @classmethod
    def _args_object(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError(
                f'must be an object of arguments, e.g. {{"query": "..."}}; got '
                f"{type(value).__name__ if value is not None else 'null'}"
            )
        size = len(json.dumps(value, ensure_ascii=False, default=str))
        if size > MAX_TOOL_ARGS_CHARS:
            raise ValueError(
                f"the arguments take {size} characters as JSON; at most {MAX_TOOL_ARGS_CHARS}"
            )
        return value

    def label(self) -> str:
        """`search(query="refund policy")`: how the report and the evidence show a call."""
        args = ", ".join(
            f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in self.args.items()
        )
        return f"{self.name}({args})"


class Message(BaseModel):
    """One message of a conversation, in ragas' shape."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: MessageType
    content: str = Field(default="", max_length=MAX_MESSAGE_CHARS)
    tool_calls: list[ToolCall] | None = Field(default=None, max_length=MAX_TOOL_CALLS)

    @field_validator("content", mode="before")
    @classmethod
    def _content_text(cls, value: Any) -> Any:
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ValueError(f"must be text; got {type(value).__name__}")
        return value


def conversation_problems(messages: list[Message]) -> list[str]:
    """What is wrong with a conversation as a whole, each naming the message's index
    (user_input[i]); empty when ragas would take it."""
    if not messages:
        return ["an empty conversation: give at least one human message and the AI's reply"]
    problems: list[str] = []
    if not any(m.type == "human" for m in messages):
        problems.append("no human message: a conversation starts from what a person asked")
    total = sum(len(m.content) for m in messages)
    if total > MAX_CONVERSATION_CHARS:
        problems.append(
            f"the messages total {total} characters; at most {MAX_CONVERSATION_CHARS} "
            "a conversation"
        )
    for index, message in enumerate(messages):
        where = f"user_input[{index}]"
        if message.tool_calls and message.type != "ai":
            problems.append(f"{where}.tool_calls: only an ai message calls tools")
        if message.type == "human" and not message.content:
            problems.append(f"{where}.content: a human message says something; it is empty")
        if message.type == "ai" and not message.content and not message.tool_calls:
            problems.append(f"{where}: an ai message with neither content nor tool_calls")
        if message.type != "tool":
            continue
        before = messages[index - 1] if index else None
        if (
            before is None
            or before.type == "human"
            or (before.type == "ai" and not before.tool_calls)
        ):
            problems.append(
                f"{where}: a tool result with no tool call before it; it must follow the "
                "ai message whose tool_calls it answers (or another tool result)"
            )
    return problems


def first_human(messages: list[Message]) -> str:
    """What the person first asked: the conversation's `question` in tables and summaries."""
    return next((m.content for m in messages if m.type == "human" and m.content), "")


def last_ai(messages: list[Message]) -> str | None:
    """The AI's last words: the conversation's `answer` in tables and summaries."""
    return next((m.content for m in reversed(messages) if m.type == "ai" and m.content), None)


def called_tools(messages: list[Message]) -> list[ToolCall]:
    """Every tool call of the AI's messages, in order (what ragas compares)."""
    return [call for m in messages if m.type == "ai" for call in m.tool_calls or []]
