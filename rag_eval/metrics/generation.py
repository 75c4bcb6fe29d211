"""Metrics of the generator: is the answer grounded in its contexts, and on the question?"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from rag_eval.metrics.spec import JudgeLoad, MetricGuide, MetricSpec

if TYPE_CHECKING:
    from ragas.metrics.collections import AnswerRelevancy

GROUNDING_STEPS = (
    "Tell the generator to answer only from the provided contexts, and to say so when they "
    "do not contain the answer.",
    "Ask for a citation (chunk id) per sentence and drop sentences without one.",
    "Lower the generation temperature, or try a stronger generator model.",
    "Check that the contexts reach the model whole: a prompt template that truncates long "
    "contexts leaves the model guessing.",
)


@cache
def concurrent_answer_relevancy() -> type[AnswerRelevancy]:
    """ragas' AnswerRelevancy with its judge calls sent at once rather than one by one.

    ragas 0.4.3 awaits its `strictness` (3) question generations one after another, then
    embeds the user's question, then the generated questions: a chain of 5 judge calls,
    the longest of the default metrics, which bounds a small job's time. Here the generations
    go out together and the question is embedded in the same request as the generated
    ones: a chain of 2, one call fewer. Same prompts, same formula, same score.
    """
    import asyncio

    import numpy as np
    from ragas.metrics.collections import AnswerRelevancy
    from ragas.metrics.collections.answer_relevancy.util import (
        AnswerRelevanceInput,
        AnswerRelevanceOutput,
    )
    from ragas.metrics.result import MetricResult

    class ConcurrentAnswerRelevancy(AnswerRelevancy):
        # ragas 0.4.3 declares `ascore(**kwargs)` on its base classes, though each metric
        # (AnswerRelevancy among them) takes its own named inputs: this is its signature.
        async def ascore(self, user_input: str, response: str) -> MetricResult:  # type: ignore[override]
            if not user_input:
                raise ValueError("user_input cannot be empty")
            if not response:
                raise ValueError("response cannot be empty")
            prompt = self.prompt.to_string(AnswerRelevanceInput(response=response))
            failure = None
            # ragas 0.4.3's `agenerate` returns the model it is given, but its type variable
            # is malformed (`TypeVar("T")` named InstructorTypeVar) so mypy cannot tell.
            tasks: list[asyncio.Task[AnswerRelevanceOutput]]
            try:
                async with asyncio.TaskGroup() as group:  # one failure cancels the others
                    tasks = [
                        group.create_task(self.llm.agenerate(prompt, AnswerRelevanceOutput))
                        for _ in range(self.strictness)
                    ]
            except ExceptionGroup as failed:
                failure = failed.exceptions[0]
            if failure is not None:
                # The first failure itself, its causes intact, as ragas' loop raises it
                # (raised outside the except block, its __context__ is left as it was).
                raise failure
            generated = [task.result() for task in tasks if task.result().question]
            if not generated:
                return MetricResult(value=0.0)
            vectors = np.asarray(
                await self.embeddings.aembed_texts([user_input, *(g.question for g in generated)])
            )
            question, questions = vectors[:1], vectors[1:]
            cosine = (questions @ question.T).reshape(-1) / (
                np.linalg.norm(questions, axis=1) * np.linalg.norm(question, axis=1)
            )
            committal = not all(g.noncommittal for g in generated)
            return MetricResult(value=float(cosine.mean() * int(committal)))

    return ConcurrentAnswerRelevancy


FAITHFULNESS = MetricSpec(
    "faithfulness",
    "Faithfulness",
    ("question", "answer", "contexts"),
    needs_judge=True,
    needs_embeddings=False,
    description="Share of the answer's claims that the retrieved contexts support.",
    guide=MetricGuide(
        "generator",
        "Answers make claims the contexts do not support",
        "ragas faithfulness splits the answer into claims and checks each one against the "
        "retrieved contexts. A low score means the generator states things the contexts do "
        "not say: hallucinations, or knowledge from the model's own memory (true facts from "
        "outside the contexts count as unsupported too).",
        "answers stay within what the retrieved contexts say",
        GROUNDING_STEPS,
    ),
    chain=2,
    # Requests and tokens per sample (bench/estimate.py --fit).
    load=JudgeLoad(
        calls=2, prompt_tokens=869, text_weight=1.16, output_tokens=40, output_weight=0.56
    ),
)

ANSWER_RELEVANCY = MetricSpec(
    "answer_relevancy",
    "AnswerRelevancy",
    ("question", "answer"),
    needs_judge=True,
    needs_embeddings=True,
    description="How directly the answer addresses the question (no evasion, no drift).",
    guide=MetricGuide(
        "generator",
        "Answers drift from the question or dodge it",
        "ragas answer_relevancy has the judge write the questions the answer would answer and "
        "compares them with the real question by embeddings; noncommittal answers ('I don't "
        "know', 'it depends') score 0. A low score means off-topic, padded, partial or "
        "evasive answers: usually a prompt problem.",
        "answers address the question directly",
        (
            "Make the prompt ask for a direct answer to the question first, details after.",
            "Cut boilerplate, disclaimers and restated context from the answers.",
            "Answer in the language of the question: a cross-language answer lowers the "
            "embedding similarity.",
            "If answers are evasive because the contexts lacked the facts, fix retrieval "
            "(context_recall) rather than the prompt.",
        ),
    ),
    chain=2,  # 3 generations at once, then 1 embedding call (concurrent_answer_relevancy)
    custom_class=concurrent_answer_relevancy,
    # Requests and tokens per sample (bench/estimate.py --fit).
    load=JudgeLoad(
        calls=3,
        embedding_calls=1,
        embedding_weight=0.89,
        prompt_tokens=618,
        text_weight=2.99,
        output_tokens=20,
        output_weight=0.11,
    ),
)

SPECS = (FAITHFULNESS, ANSWER_RELEVANCY)
