"""ragas metrics with their judge calls sent at once rather than one after another: same
prompts, same formula, same score, a shorter critical path for a sample (`chain`).

Each is built on first use: ragas is imported only when a metric is built for scoring.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ragas.metrics.collections import AnswerRelevancy, NoiseSensitivity


async def together[T](*calls: Awaitable[T]) -> list[T]:
    """The calls' results in order, run at once; the first failure cancels the others and
    is raised itself, its causes intact, as ragas' sequential loop would raise it."""
    tasks: list[asyncio.Task[T]] = []
    failure = None
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_awaited(call)) for call in calls]
    except ExceptionGroup as failed:
        failure = failed.exceptions[0]
    if failure is not None:
        # Raised outside the except block, its __context__ is left as it was.
        raise failure
    return [task.result() for task in tasks]


async def _awaited[T](call: Awaitable[T]) -> T:
    return await call


@cache
def concurrent_answer_relevancy() -> type[AnswerRelevancy]:
    """ragas' AnswerRelevancy with its judge calls sent at once rather than one by one.

    ragas 0.4.3 awaits its `strictness` (3) question generations one after another, then
    embeds the user's question, then the generated questions: a chain of 5 judge calls,
    the longest of the default metrics, which bounds a small job's time. Here the generations
    go out together and the question is embedded in the same request as the generated
    ones: a chain of 2, one call fewer. Same prompts, same formula, same score.
    """
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
            # ragas 0.4.3's `agenerate` returns the model it is given, but its type variable
            # is malformed (`TypeVar("T")` named InstructorTypeVar) so mypy cannot tell.
            answers: list[AnswerRelevanceOutput] = await together(
                *(self.llm.agenerate(prompt, AnswerRelevanceOutput) for _ in range(self.strictness))
            )
            generated = [answer for answer in answers if answer.question]
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


@cache
def concurrent_noise_sensitivity() -> type[NoiseSensitivity]:
    """ragas' NoiseSensitivity with its judge calls sent at once rather than one by one.

    ragas 0.4.3 splits the reference and the answer into statements one after the other,
    then judges each set against each context in turn, then the answer's against the
    reference: 3 + 2 per context calls in a row, the longest chain of the registry (15 at
    6 contexts). Here the two splits go out together, then every verdict: a chain of 2.
    Same prompts, same matrices, same formula, same score.
    """
    import numpy as np
    from ragas.metrics.collections import NoiseSensitivity
    from ragas.metrics.result import MetricResult

    class ConcurrentNoiseSensitivity(NoiseSensitivity):
        # ragas 0.4.3 declares `ascore(**kwargs)` on its base classes, though each metric
        # takes its own named inputs: this is NoiseSensitivity's signature.
        async def ascore(  # type: ignore[override]
            self, user_input: str, response: str, reference: str, retrieved_contexts: list[str]
        ) -> MetricResult:
            for name, value in (
                ("reference", reference),
                ("user_input", user_input),
                ("response", response),
                ("retrieved_contexts", retrieved_contexts),
            ):
                if not value:  # ragas' own checks, in its order and words
                    raise ValueError(f"{name} is missing. Please add {name} to the test sample.")
            truth, answer = await together(
                self._decompose_answer_into_statements(reference, user_input),
                self._decompose_answer_into_statements(response, user_input),
            )
            judged: list[Any] = await together(
                *(
                    self._evaluate_statement_faithfulness(statements, context)
                    for context in retrieved_contexts
                    for statements in (truth, answer)
                ),
                self._evaluate_statement_faithfulness(answer, reference),
            )
            per_context, against_reference = judged[:-1], judged[-1]
            answers = {
                "retrieved2ground_truth": np.array(per_context[0::2]).T,
                "retrieved2answer": np.array(per_context[1::2]).T,
                "ground_truth2answer": np.array([np.array(against_reference)]),
            }
            matrices = {key: value.astype(bool) for key, value in answers.items()}
            return MetricResult(value=float(self._compute_score(matrices)))

    return ConcurrentNoiseSensitivity
