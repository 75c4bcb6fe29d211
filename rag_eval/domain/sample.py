"""One sample to score: its texts, as a client sends them (docs/ARCHITECTURE.md, "API")."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from rag_eval.domain.contexts import (
    MAX_CONTEXT_CHARS_TOTAL,
    MAX_CONTEXTS,
    Contexts,
    split_contexts,
)
from rag_eval.domain.conversation import (
    MAX_MESSAGES,
    MAX_TOOL_CALLS,
    MAX_TOPIC_CHARS,
    MAX_TOPICS,
    Message,
    ToolCall,
    conversation_problems,
    first_human,
    last_ai,
)

# Input limits: large enough for real RAG contexts, small enough that one job fits
# a worker's memory and time budget. Documented in the README.
MAX_QUESTION_CHARS = 8_000
MAX_TEXT_CHARS = 20_000  # answer, ground truth, one context
MAX_RUBRIC_CHARS = 1_000  # one score's description in a sample's rubric
# A sample's own rubric (instance_specific_rubrics): ragas' keys, one per score.
RUBRIC_KEYS = tuple(f"score{score}_description" for score in range(1, 6))
# A sample's metadata (a topic, a language, a customer): the slices its results are
# reported by (rag_eval/domain/segments.py). Short labels, not texts: each value becomes a
# segment of its key, so a key's distinct values over a job are bounded there too.
MAX_METADATA_KEYS = 10
MAX_METADATA_KEY_CHARS = 40
MAX_METADATA_VALUE_CHARS = 100
METADATA_KEY_PATTERN = r"^[A-Za-z0-9_.\-]+$"
_METADATA_KEY = re.compile(METADATA_KEY_PATTERN)


class Sample(BaseModel):
    """One question / contexts / answer / reference to score, or one conversation
    (`user_input` messages, ragas' MultiTurnSample): a job holds one kind."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    sample_id: str | None = Field(default=None, max_length=128)
    question: str = Field(min_length=1, max_length=MAX_QUESTION_CHARS)
    answer: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    contexts: Contexts = Field(default=None, max_length=MAX_CONTEXTS)
    ground_truth: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)
    # What each score from 1 to 5 means for this sample (instance_specific_rubrics).
    rubrics: dict[str, str] | None = Field(
        default=None,
        json_schema_extra={
            "propertyNames": {"enum": list(RUBRIC_KEYS)},
            "additionalProperties": {"type": "string", "maxLength": MAX_RUBRIC_CHARS},
        },
    )

    # A conversation (rag_eval/domain/conversation.py): its messages, and what the agent
    # should have done. Its `question` and `answer` are its first human message and the
    # AI's last words (what tables show); its `ground_truth` is ragas' `reference`.
    user_input: list[Message] | None = Field(default=None, max_length=MAX_MESSAGES)
    reference_tool_calls: list[ToolCall] | None = Field(default=None, max_length=MAX_TOOL_CALLS)
    reference_topics: (
        list[Annotated[str, StringConstraints(min_length=1, max_length=MAX_TOPIC_CHARS)]] | None
    ) = Field(default=None, max_length=MAX_TOPICS)

    # Labels to report the results by, never sent to the judge (no metric reads them).
    metadata: dict[str, str] | None = Field(
        default=None,
        max_length=MAX_METADATA_KEYS,
        description="labels the job's results are reported by, per key and value (a topic, "
        "a language, a customer): strings, never sent to the judge",
        json_schema_extra={
            "propertyNames": {
                "pattern": METADATA_KEY_PATTERN,
                "minLength": 1,
                "maxLength": MAX_METADATA_KEY_CHARS,
            },
            "additionalProperties": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_METADATA_VALUE_CHARS,
            },
        },
    )

    @model_validator(mode="before")
    @classmethod
    def _conversation_form(cls, data: Any) -> Any:
        """ragas' names for a conversation: `user_input` messages (a dataset file's
        `user_input` column arrives as `question`: a list there is a conversation), and
        `reference` for the outcome expected. Its question and answer are read from it."""
        if not isinstance(data, dict):
            return data
        if isinstance(data.get("question"), list) and "user_input" not in data:
            data = {("user_input" if k == "question" else k): v for k, v in data.items()}
        if not isinstance(data.get("user_input"), list):
            return data
        data = dict(data)
        if "reference" in data and "ground_truth" not in data:
            data["ground_truth"] = data.pop("reference")
        texts = [m.get("content") if isinstance(m, dict) else None for m in data["user_input"]]
        kinds = [m.get("type") if isinstance(m, dict) else None for m in data["user_input"]]
        human = next(
            (
                t.strip()
                for t, k in zip(texts, kinds, strict=True)
                if k == "human" and isinstance(t, str) and t.strip()
            ),
            "(no human message)",
        )
        data.setdefault("question", human[:MAX_QUESTION_CHARS])
        reply = next(
            (
                t.strip()
                for t, k in zip(reversed(texts), reversed(kinds), strict=True)
                if k == "ai" and isinstance(t, str) and t.strip()
            ),
            None,
        )
        if reply is not None:
            data.setdefault("answer", reply[:MAX_TEXT_CHARS])
        return data

    @field_validator("user_input", mode="before")
    @classmethod
    def _messages_not_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            raise ValueError(
                "a conversation's messages (a list, ragas' MultiTurnSample); for one "
                "question write question (did you mean question?)"
            )
        return value

    @field_validator("user_input")
    @classmethod
    def _conversation_rules(cls, value: list[Message] | None) -> list[Message] | None:
        if value is None:
            return None
        problems = conversation_problems(value)
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Sample:
        """A conversation carries its texts in its messages: a question, answer or
        contexts of its own would be scored by no metric and shown wrongly."""
        if self.user_input is None:
            extra = [
                name
                for name in ("reference_tool_calls", "reference_topics")
                if getattr(self, name) is not None
            ]
            if extra:
                raise ValueError(
                    f"{extra[0]}: belongs to a conversation; give user_input as a list of "
                    "messages (ragas' MultiTurnSample), or leave it out"
                )
            return self
        if self.contexts:
            raise ValueError(
                "contexts: a conversation carries what its tools returned as tool messages "
                "in user_input; leave contexts out"
            )
        if self.question != first_human(self.user_input)[:MAX_QUESTION_CHARS]:
            raise ValueError(
                "question: a conversation's question is its first human message; leave question out"
            )
        reply = last_ai(self.user_input)
        if self.answer != (reply[:MAX_TEXT_CHARS] if reply is not None else None):
            raise ValueError(
                "answer: a conversation's answer is the ai's last message; leave answer out"
            )
        return self

    @property
    def is_conversation(self) -> bool:
        return self.user_input is not None

    @field_validator("contexts", mode="before")
    @classmethod
    def _contexts_from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return split_contexts(value)
        return value

    @field_validator("contexts")
    @classmethod
    def _contexts_sizes(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for index, context in enumerate(value):
            if len(context) > MAX_TEXT_CHARS:
                raise ValueError(
                    f"context {index} has {len(context)} characters; "
                    f"at most {MAX_TEXT_CHARS} are allowed per context"
                )
        total = sum(len(c) for c in value)
        if total > MAX_CONTEXT_CHARS_TOTAL:
            raise ValueError(
                f"contexts total {total} characters; at most {MAX_CONTEXT_CHARS_TOTAL} "
                "are allowed per sample"
            )
        return [c for c in value if c.strip()] or None

    @field_validator("rubrics", mode="before")
    @classmethod
    def _rubrics_from_text(cls, value: Any) -> Any:
        """A CSV cell holds the rubric as JSON text."""
        if isinstance(value, str):
            if not value.strip():
                return None
            try:
                return json.loads(value)
            except ValueError:
                raise ValueError(
                    'must be a JSON object, e.g. {"score1_description": "...", ...}'
                ) from None
        return value

    @field_validator("rubrics")
    @classmethod
    def _rubric_scores(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is None:
            return None
        unknown = [key for key in value if key not in RUBRIC_KEYS]
        if unknown:
            raise ValueError(
                f"unknown key(s): {', '.join(unknown)}; allowed: {', '.join(RUBRIC_KEYS)}"
            )
        missing = [key for key in RUBRIC_KEYS if not str(value.get(key, "")).strip()]
        if missing:
            raise ValueError(f"describe every score from 1 to 5; missing: {', '.join(missing)}")
        long = [key for key, text in value.items() if len(text) > MAX_RUBRIC_CHARS]
        if long:
            raise ValueError(
                f"{long[0]} has {len(value[long[0]])} characters; at most {MAX_RUBRIC_CHARS}"
            )
        return {key: value[key].strip() for key in RUBRIC_KEYS}

    @field_validator("metadata", mode="before")
    @classmethod
    def _metadata_checked(cls, value: Any) -> Any:
        """Checked before pydantic's own checks, so that each error says the limit, and a
        number is refused rather than turned into text the client did not write."""
        if isinstance(value, str):  # a CSV cell holds it as JSON text
            if not value.strip():
                return None
            try:
                value = json.loads(value)
            except ValueError:
                raise ValueError('must be a JSON object, e.g. {"topic": "billing"}') from None
        if value is None:
            return None
        if not isinstance(value, dict):
            raise ValueError('must be an object of labels, e.g. {"topic": "billing"}')
        if len(value) > MAX_METADATA_KEYS:
            raise ValueError(f"{len(value)} keys; at most {MAX_METADATA_KEYS} keys a sample")
        checked: dict[str, str] = {}
        for key, raw in value.items():
            if not 1 <= len(key) <= MAX_METADATA_KEY_CHARS or not _METADATA_KEY.fullmatch(key):
                raise ValueError(
                    f"key {key[: MAX_METADATA_KEY_CHARS + 10]!r}: a key is 1 to "
                    f"{MAX_METADATA_KEY_CHARS} characters of letters, digits, _ . -"
                )
            if isinstance(raw, dict | list):
                raise ValueError(f"{key}: metadata values are strings, not objects or lists")
            if not isinstance(raw, str):
                shown = json.dumps(raw)[:20]
                raise ValueError(f'{key}: metadata values are strings: write "{shown}" for {shown}')
            text = raw.strip()
            if not 1 <= len(text) <= MAX_METADATA_VALUE_CHARS:
                raise ValueError(
                    f"{key}: the value has {len(text)} characters; a value is 1 to "
                    f"{MAX_METADATA_VALUE_CHARS}"
                )
            checked[key] = text
        return checked or None

    def has(self, field_name: str) -> bool:
        """Whether the sample carries a non-empty value for a metric input (expected tool
        calls may be none: the agent should have called no tool)."""
        if field_name == "reference_tool_calls":
            return self.reference_tool_calls is not None
        return bool(getattr(self, field_name))

    def missing_inputs(self, inputs: tuple[str, ...]) -> list[str]:
        """The inputs the sample lacks, by the names its kind is written with (a
        conversation's expected outcome is ragas' `reference`)."""
        missing = [name for name in inputs if not self.has(name)]
        if self.is_conversation:
            return ["reference" if name == "ground_truth" else name for name in missing]
        return missing
