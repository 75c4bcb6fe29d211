"""A job's judge load before it runs: requests, tokens, dollars and time, from the samples'
texts and each metric's `JudgeLoad` (rag_eval/metrics/spec.py).

Light: the API answers dry runs with it. Tokens are counted by OpenAI's rule of thumb
(about 4 characters a token; a CJK character is one), which is what the loads were
fitted to.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from rag_eval.domain.conversation import Message, ToolCall
from rag_eval.domain.sample import Sample
from rag_eval.metrics.spec import MetricSpec

_CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")


def approx_tokens(text: str | None) -> int:
    if not text:
        return 0
    cjk = len(_CJK.findall(text))
    return cjk + math.ceil((len(text) - cjk) / 4)


def _tokens_of(value: object) -> int:
    """A text's tokens; a sample's rubric counts its descriptions; a conversation its
    messages and tool calls, expected tool calls and topics each of theirs."""
    if isinstance(value, dict):
        return sum(approx_tokens(str(text)) for text in value.values())
    if isinstance(value, list):
        return sum(_item_tokens(item) for item in value)
    return approx_tokens(value if isinstance(value, str) else None)


def _item_tokens(item: object) -> int:
    """One message (its speaker, words and the calls it makes), tool call or topic, as
    ragas writes it into a prompt ("AI: ...", "  search: {'query': ...}")."""
    if isinstance(item, Message):
        calls = sum(_item_tokens(call) for call in item.tool_calls or [])
        return approx_tokens(f"{item.type}: {item.content}") + calls
    if isinstance(item, ToolCall):
        return approx_tokens(f"  {item.name}: {item.args}")
    return approx_tokens(str(item))


def text_tokens(spec: MetricSpec, sample: Sample) -> int:
    """Tokens of the sample's texts the metric's prompts carry: a metric that judges each
    context alone carries the other texts once per context."""
    contexts = sample.contexts or []
    context_tokens = sum(approx_tokens(c) for c in contexts)
    others = sum(_tokens_of(getattr(sample, name)) for name in spec.inputs if name != "contexts")
    if spec.chain_per_context:
        return len(contexts) * others + context_tokens
    return others + (context_tokens if "contexts" in spec.inputs else 0)


@dataclass
class Load:
    """Judge requests and tokens, summed."""

    calls: float = 0.0  # judge and embedding requests
    input_tokens: float = 0.0
    output_tokens: float = 0.0
    by_model: dict[str, list[float]] = field(default_factory=dict)  # model -> [in, out]

    def add(
        self, spec: MetricSpec, sample: Sample, judge: str, embeddings: str, embed: bool = True
    ) -> None:
        """One (sample, metric) pair judged by `judge`. embed=False leaves its embedding
        requests out: a jury's jurors share one embedding model, asked once per pair."""
        load = spec.load
        chats = load.calls + load.calls_per_context * len(sample.contexts or [])
        texts = text_tokens(spec, sample)
        tokens_in = chats * load.prompt_tokens + load.text_weight * texts
        tokens_out = chats * load.output_tokens + load.output_weight * texts
        embedding_calls = load.embedding_calls if embed else 0.0
        embedded = load.embedding_weight * texts if embed else 0.0
        self.calls += chats + embedding_calls
        self.input_tokens += tokens_in + embedded
        self.output_tokens += tokens_out
        if chats:
            share = self.by_model.setdefault(judge, [0.0, 0.0])
            share[0] += tokens_in
            share[1] += tokens_out
        if embedding_calls:
            self.by_model.setdefault(embeddings, [0.0, 0.0])[0] += embedded
