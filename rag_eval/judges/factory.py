"""The job's judge: the ragas LLM and embeddings on the providers its model names pick,
every request of theirs through the job's gate (cache, budget, ledger, concurrency)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rag_eval.domain.settings import Settings
from rag_eval.judges.gate import JudgeGate, witness
from rag_eval.judges.provider import split_model

if TYPE_CHECKING:  # ragas is imported with the provider's client, never by the API
    from ragas.embeddings.base import BaseRagasEmbedding
    from ragas.llms.base import InstructorBaseRagasLLM


def default_gate(settings: Settings) -> JudgeGate:
    """A gate with no cache and no budget: the ledger and the concurrency limit only."""
    return JudgeGate(
        prices=settings.model_prices,
        concurrency=settings.max_concurrency,
        adaptive=settings.adaptive_concurrency,
    )


@dataclass
class JudgeModels:
    """The ragas LLM and embeddings for one job; `gate.usage` holds the tokens they spent."""

    gate: JudgeGate
    llm: InstructorBaseRagasLLM | None = None
    embeddings: BaseRagasEmbedding | None = None
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def aclose(self) -> None:
        for close in self._closers:
            await close()


def build_judge(
    judge_model: str,
    embedding_model: str,
    settings: Settings,
    *,
    need_llm: bool,
    need_embeddings: bool,
    gate: JudgeGate | None = None,
) -> JudgeModels:
    """The job's models. One client per provider, shared by LLM and embeddings, so its
    connection limit caps everything the job sends to that provider."""
    models = JudgeModels(gate or default_gate(settings))
    wanted = {
        kind: split_model(model)
        for kind, model, needed in (
            ("llm", judge_model, need_llm),
            ("embeddings", embedding_model, need_embeddings),
        )
        if needed
    }
    for provider in dict.fromkeys(provider for provider, _ in wanted.values()):
        names = {kind: name for kind, (p, name) in wanted.items() if p == provider}
        llm: InstructorBaseRagasLLM | None
        embeddings: BaseRagasEmbedding | None
        if provider == "bedrock":
            from rag_eval.judges.bedrock import build_bedrock_models

            llm, embeddings = build_bedrock_models(
                names.get("llm"), names.get("embeddings"), settings, models.gate
            )
        else:
            from rag_eval.judges.openai_compatible import OpenAICompatible

            client = OpenAICompatible(settings, models.gate)
            models._closers.append(client.aclose)
            llm = client.llm(names["llm"]) if "llm" in names else None
            embeddings = client.embeddings(names["embeddings"]) if "embeddings" in names else None
        if llm is not None:
            witness(llm)
        models.llm = llm or models.llm
        models.embeddings = embeddings or models.embeddings
    return models
