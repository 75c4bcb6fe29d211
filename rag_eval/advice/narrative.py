"""The advice's entry point: the rule-based diagnosis always, plus a short narrative by the
judge LLM when one is given. Nothing here may fail the job."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from rag_eval.advice.diagnosis import diagnose
from rag_eval.advice.findings import AdviceNarrative, Diagnosis
from rag_eval.advice.render import render_advice
from rag_eval.domain.request import ScoreRequest
from rag_eval.domain.results import ScoreRun
from rag_eval.judges.failures import failure_reason

logger = logging.getLogger(__name__)

NARRATIVE_TIMEOUT_SECONDS = 60.0


async def write_narrative(llm: Any, diagnosis: Diagnosis) -> str:
    """A short narrative by the judge LLM (a ragas `InstructorBaseRagasLLM`), as markdown."""
    reply = await llm.agenerate(_narrative_prompt(diagnosis), response_model=AdviceNarrative)
    if not isinstance(reply, AdviceNarrative):
        raise TypeError(f"expected AdviceNarrative, got {type(reply).__name__}")
    summary = reply.summary.strip()
    if not summary:
        raise ValueError("the narrative summary is empty")
    # The summary states the run's condition: its numbers must be the run's. (The actions
    # may well name numbers of their own: "raise top-k to 10".)
    invented = invented_numbers(summary, _narrative_prompt(diagnosis))
    if invented:
        raise InventedNumbers(f"it states numbers the run does not have: {', '.join(invented)}")
    actions = [a.strip() for a in reply.actions if a.strip()]
    return "\n".join([summary, "", *(f"{i}. {a}" for i, a in enumerate(actions, start=1))])


class InventedNumbers(ValueError):
    """The judge's narrative states a number the run does not have."""


_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?![\w.]*\w)")


def invented_numbers(narrative: str, facts: str) -> list[str]:
    """The numbers of a narrative that are not among the facts it was given: each must be one
    of theirs, as written or rounded (a share may be a percentage); small counts (under 10:
    "3 samples") pass."""
    given = [float(n.replace(",", "")) for n in _NUMBER.findall(facts)]
    invented = []
    for text in _NUMBER.findall(narrative):
        value = float(text.replace(",", ""))
        decimals = len(text.split(".", 1)[1]) if "." in text else 0
        if decimals == 0 and value < 10:
            continue
        if not any(
            round(fact, decimals) == value or round(fact * 100, decimals) == value for fact in given
        ):
            invented.append(text)
    return invented


def _narrative_prompt(diagnosis: Diagnosis) -> str:
    facts = diagnosis.model_dump(
        include={
            "verdict",
            "means",
            "scales",
            "weighted_score",
            "coverage",
            "findings",
            "strengths",
        },
        exclude={"findings": {"__all__": {"next_steps"}}},
    )
    facts["metrics_not_scored"] = {u.metric: u.reason for u in diagnosis.unscored}
    return (
        "You advise the team that runs a retrieval-augmented generation (RAG) system. Below "
        "is a rule-based diagnosis of its ragas evaluation: metric means, each on its "
        "metric's scale (`scales`: low, high, and whether higher is better; a metric not "
        "listed is 0 to 1, higher better), a weighted score in [0, 1] (1 the best), findings "
        "with the component at fault and the worst samples. Write for an engineer:\n"
        "- summary: 2-4 plain sentences on the state of the system and the main bottleneck;\n"
        "- actions: at most 5 concrete actions, most important first, one sentence each.\n"
        "Use only the facts given; do not invent metrics, numbers or samples.\n\n"
        f"Diagnosis (JSON):\n{json.dumps(facts, ensure_ascii=False)}"
    )


async def advise(
    run: ScoreRun,
    request: ScoreRequest,
    llm: Any = None,
    *,
    narrative_timeout: float = NARRATIVE_TIMEOUT_SECONDS,
    diagnosis: Diagnosis | None = None,
) -> str:
    """The advice markdown; an LLM narrative is added when `llm` is given and it works.
    `diagnosis`: the run's, when the caller has it already (the report shows it too)."""
    try:
        diagnosis = diagnosis or diagnose(run, request)
    except Exception as exc:  # advice must never fail the job
        logger.exception("advice diagnosis failed")
        return (
            "# Optimization advice\n\n"
            f"The advice could not be produced ({type(exc).__name__}); the scores are in "
            "scores.csv and summary.md.\n"
        )
    if llm is None:
        return render_advice(diagnosis)
    try:
        narrative = await asyncio.wait_for(write_narrative(llm, diagnosis), narrative_timeout)
    except Exception as exc:  # the rule-based advice stands without the narrative
        return render_advice(diagnosis, narrative_note=_left_out(exc))
    return render_advice(diagnosis, narrative)


def _left_out(exc: Exception) -> str:
    """Why the narrative is missing, logged and as the advice's note."""
    if failure_reason(exc) == "budget_exhausted":
        # The budget refusing one more judge call is the budget working, not a fault.
        logger.info("advice narrative left out: the job's judge budget was spent")
        return (
            "The judge's narrative was left out: the job's judge budget was spent before it; "
            "the rule-based advice below is complete."
        )
    error = " ".join(f"{type(exc).__name__}: {exc}".split())[:300]  # one line
    logger.warning(
        "advice narrative failed (%s); the advice has its rule-based findings only",
        error,
        extra={"error": error},
    )
    if isinstance(exc, InventedNumbers):
        return (
            f"The judge's narrative was left out: {exc}; the rule-based advice below is complete."
        )
    return (
        f"The narrative could not be written ({type(exc).__name__}); "
        "the rule-based advice below is complete."
    )
